package kernel

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
)

// SyscallFn handles one system call: it returns the result or a Linux errno.
type SyscallFn func(t *Task, args *arch.SyscallArguments) (uintptr, error)

// SyscallStatus says how completely a syscall is implemented.
type SyscallStatus int

// Statuses.
const (
	Unsupported SyscallStatus = iota
	Supported
	Partial
)

func (s SyscallStatus) String() string {
	switch s {
	case Supported:
		return "supported"
	case Partial:
		return "partial"
	}
	return "unsupported"
}

// MaxSyscalls bounds syscall numbers on x86-64 (the highest is below 512).
const MaxSyscalls = 512

// Syscall is one table entry.
type Syscall struct {
	Name   string
	Fn     SyscallFn
	Status SyscallStatus
	Note   string
	// Format says how strace prints the arguments (see strace.go).
	Format string
}

// SyscallTable maps syscall numbers to handlers.
type SyscallTable struct {
	Entries [MaxSyscalls]Syscall
}

// Lookup returns the entry of nr, or nil.
func (st *SyscallTable) Lookup(nr uintptr) *Syscall {
	if nr >= MaxSyscalls {
		return nil
	}
	return &st.Entries[nr]
}

// Kernel-internal errnos that never reach the application: a handler returns one to ask
// the task loop for a restart (after a signal handler, if SA_RESTART) or for no return
// value at all (rt_sigreturn restores every register).
const (
	ERESTARTSYS           = unix.Errno(512)
	ERESTARTNOINTR        = unix.Errno(513)
	ERESTARTNOHAND        = unix.Errno(514)
	ERESTART_RESTARTBLOCK = unix.Errno(516)
	EJUSTRETURN           = unix.Errno(1000)
)

// executeSyscall runs the handler for the syscall the task trapped on and stores the
// result in the return register.
func (t *Task) executeSyscall() {
	regs := &t.ac.Regs
	nr := regs.SyscallNo()
	args := regs.SyscallArgs()
	t.syscallNo = nr
	var e *Syscall
	if nr < MaxSyscalls {
		e = &t.k.table.Entries[nr]
	}
	if t.k.strace {
		t.straceEnter(nr, e, &args)
	}
	var ret uintptr
	var err error
	if e == nil || e.Fn == nil {
		t.k.unsupported.record(nr, "", t.k)
		err = unix.ENOSYS
	} else {
		ret, err = e.Fn(t, &args)
	}
	if err == EJUSTRETURN {
		if t.k.strace {
			t.straceExit(nr, e, &args, uintptr(regs.Rax), nil)
		}
		return
	}
	if err != nil {
		if isRestartErrno(err) {
			// Restarted, or turned into EINTR, when the task next delivers signals.
			t.pendingRestart = err.(unix.Errno)
		}
		errno, ok := err.(unix.Errno)
		if !ok {
			// A handler leaked a non-errno error: that is a sentry bug; the application
			// sees EIO rather than something invented.
			t.k.Logf("[%d] syscall %d returned non-errno error %v", t.tid, nr, err)
			errno = unix.EIO
		}
		ret = uintptr(-int64(errno))
		err = errno
	}
	regs.SetReturn(ret)
	if t.k.strace {
		t.straceExit(nr, e, &args, ret, err)
	}
}

// unsupportedCounts tallies refused syscalls for the debug log and --report.
type unsupportedCounts struct {
	mu     sync.Mutex
	counts map[unsupportedKey]int
}

type unsupportedKey struct {
	nr     uintptr
	detail string
}

func (u *unsupportedCounts) record(nr uintptr, detail string, k *Kernel) {
	u.mu.Lock()
	if u.counts == nil {
		u.counts = map[unsupportedKey]int{}
	}
	key := unsupportedKey{nr, detail}
	u.counts[key]++
	first := u.counts[key] == 1
	u.mu.Unlock()
	if first {
		k.Logf("unsupported syscall %s%s", k.syscallName(nr), detailSuffix(detail))
	}
}

func detailSuffix(d string) string {
	if d == "" {
		return ""
	}
	return ": " + d
}

func (k *Kernel) syscallName(nr uintptr) string {
	if nr < MaxSyscalls && k.table.Entries[nr].Name != "" {
		return fmt.Sprintf("%s(%d)", k.table.Entries[nr].Name, nr)
	}
	return fmt.Sprintf("syscall(%d)", nr)
}

// UnsupportedReport lists every refused call with its count, one per line, most frequent
// first; empty if there were none.
func (k *Kernel) UnsupportedReport() string {
	k.unsupported.mu.Lock()
	defer k.unsupported.mu.Unlock()
	type row struct {
		key unsupportedKey
		n   int
	}
	var rows []row
	for key, n := range k.unsupported.counts {
		rows = append(rows, row{key, n})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].n != rows[j].n {
			return rows[i].n > rows[j].n
		}
		return rows[i].key.nr < rows[j].key.nr
	})
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s%s: %d\n", k.syscallName(r.key.nr), detailSuffix(r.key.detail), r.n)
	}
	return b.String()
}

func isRestartErrno(err error) bool {
	switch err {
	case ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK:
		return true
	}
	return false
}

// restartSyscall makes the interrupted syscall run again when the task resumes.
func (t *Task) restartSyscall() {
	r := &t.ac.Regs
	r.Rip -= 2 // the syscall instruction is two bytes
	if t.pendingRestart == ERESTART_RESTARTBLOCK {
		r.Rax = unix.SYS_RESTART_SYSCALL
	} else {
		r.Rax = r.OrigRax
	}
	t.pendingRestart = 0
}

// resolveRestart decides, as a signal handler is about to run, whether the interrupted
// syscall restarts (SA_RESTART) or fails with EINTR.
func (t *Task) resolveRestart(act *SigAction) {
	if t.pendingRestart == 0 {
		return
	}
	switch {
	case t.pendingRestart == ERESTARTNOINTR,
		t.pendingRestart == ERESTARTSYS && act.Flags&SA_RESTART != 0:
		t.restartSyscall()
	default:
		eintr := -int64(unix.EINTR)
		t.ac.Regs.Rax = uint64(eintr)
		t.pendingRestart = 0
		t.restartBlock = nil
	}
}

// SetRestartBlock makes restart_syscall(2) run fn: a call returns ERESTART_RESTARTBLOCK
// after setting it, and if no signal handler runs before the task resumes, the task
// calls restart_syscall instead of repeating the call with its original arguments (a
// relative sleep continues to its first deadline).
func (t *Task) SetRestartBlock(fn func(t *Task) (uintptr, error)) { t.restartBlock = fn }

// TakeRestartBlock returns and clears the restart block (nil if none).
func (t *Task) TakeRestartBlock() func(t *Task) (uintptr, error) {
	fn := t.restartBlock
	t.restartBlock = nil
	return fn
}
