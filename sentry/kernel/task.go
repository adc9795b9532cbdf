package kernel

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/platform"
	"runsc.dev/sentry/kernel/auth"
	"runsc.dev/sentry/mm"
	"runsc.dev/sentry/vfs"
)

// Task is one application thread.
type Task struct {
	k   *Kernel
	tg  *ThreadGroup
	tid int32

	// Owned by the task goroutine.
	ac   arch.Context
	pctx platform.Context
	mm   *mm.MemoryManager
	fdt  *vfs.FDTable
	fs   *vfs.FSContext
	// fdtUsers counts the tasks sharing fdt (CLONE_FILES).
	fdtUsers *sharedCount

	creds atomic.Pointer[auth.Credentials]

	// Protected by tg.mu.
	sigMask  SignalSet
	pending  SignalSet
	queue    []SignalInfo
	altStack SignalStack
	// savedMask is restored after a handler runs following rt_sigsuspend (or when
	// no handler runs).
	savedMask     SignalSet
	haveSavedMask bool
	// jc is the task's part in job control (jobcontrol.go).
	jc taskJobControl

	// interruptPending is set by interrupt and cleared by the task goroutine.
	interruptPending atomic.Bool

	mu            sync.Mutex
	name          string
	clearChildTID uintptr
	robustList    uintptr
	robustLen     uint64
	// wake is signalled by interrupt to end a blocking wait.
	wake chan struct{}
	// vforkDone is closed when a vfork child execs or exits.
	vforkDone chan struct{}
	// execKilled: another thread's execve made this one exit.
	execKilled bool
	noNewPrivs bool

	// syscallNo is the syscall being handled, for Unsupported reports.
	syscallNo uintptr
	// pendingRestart is the ERESTART* errno of an interrupted syscall, resolved when
	// signals are next delivered (task goroutine only).
	pendingRestart unix.Errno
	// restartBlock continues a call that returned ERESTART_RESTARTBLOCK when
	// restart_syscall(2) runs (task goroutine only).
	restartBlock func(t *Task) (uintptr, error)

	// exiting is set by exit(2); protected by mu.
	exiting    bool
	exitStatus WaitStatus

	// staleFaultAddr is the address of an access-error fault retried after mm.Remap
	// (task goroutine only).
	staleFaultAddr uintptr

	// cpu is the task's CPU-time accounting (cputime.go).
	cpu taskCPU
	// sched is the task's nice value and CPU affinity (sched.go), protected by mu.
	sched schedAttrs
}

// Kernel is the task's kernel.
func (t *Task) Kernel() *Kernel { return t.k }

// ThreadGroup is the task's process.
func (t *Task) ThreadGroup() *ThreadGroup { return t.tg }

// ThreadID is the task's TID.
func (t *Task) ThreadID() int32 { return t.tid }

// ThreadGroupID is the task's PID.
func (t *Task) ThreadGroupID() int32 { return t.tg.pid }

// Credentials are the task's current credentials (never mutated: replaced).
func (t *Task) Credentials() *auth.Credentials { return t.creds.Load() }

// SetCredentials replaces the task's credentials. As Linux's commit_creds, a change of
// effective or filesystem IDs, or a gain of permitted capabilities, makes the process
// non-dumpable (suid_dumpable is 0) and clears its parent-death signal.
func (t *Task) SetCredentials(c *auth.Credentials) {
	old := t.creds.Swap(c)
	if old == nil {
		return
	}
	if old.EffectiveUID != c.EffectiveUID || old.EffectiveGID != c.EffectiveGID ||
		old.FSUID != c.FSUID || old.FSGID != c.FSGID || c.PermittedCaps&^old.PermittedCaps != 0 {
		t.tg.mu.Lock()
		t.tg.notDumpable = true
		t.tg.pdeathsig = 0
		t.tg.mu.Unlock()
	}
}

// FDTable is the task's file descriptor table.
func (t *Task) FDTable() *vfs.FDTable { return t.fdt }

// FSContext is the task's root, working directory and umask.
func (t *Task) FSContext() *vfs.FSContext { return t.fs }

// MemoryManager is the task's address space.
func (t *Task) MemoryManager() *mm.MemoryManager { return t.mm }

// Arch is the task's register state (valid while the task goroutine handles a trap).
func (t *Task) Arch() *arch.Context { return &t.ac }

// ExecutablePath is the absolute path of the program the task runs.
func (t *Task) ExecutablePath() string { return t.tg.Executable() }

// Name is the task's comm.
func (t *Task) Name() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.name
}

// SetName sets the comm (truncated to 15 bytes as Linux does).
func (t *Task) SetName(n string) {
	if len(n) > 15 {
		n = n[:15]
	}
	t.mu.Lock()
	t.name = n
	t.mu.Unlock()
}

// SignalMask returns the blocked set.
func (t *Task) SignalMask() SignalSet {
	t.tg.mu.Lock()
	defer t.tg.mu.Unlock()
	return t.sigMask
}

// SetSignalMask sets the blocked set (SIGKILL and SIGSTOP are never blocked) and delivers
// what the change unblocked when the syscall returns.
func (t *Task) SetSignalMask(m SignalSet) {
	t.tg.mu.Lock()
	t.sigMask = m &^ Unblockable
	t.tg.mu.Unlock()
}

// SignalHandlers returns the action table; callers hold the lock given by WithSignalLock.
func (t *Task) WithSignalLock(f func(h *SignalHandlers, alt *SignalStack)) {
	t.tg.mu.Lock()
	defer t.tg.mu.Unlock()
	f(t.tg.handlers, &t.altStack)
}

// SetClearChildTID records set_tid_address's address.
func (t *Task) SetClearChildTID(a uintptr) {
	t.mu.Lock()
	t.clearChildTID = a
	t.mu.Unlock()
}

// SetRobustList records set_robust_list's head.
func (t *Task) SetRobustList(head uintptr, length uint64) {
	t.mu.Lock()
	t.robustList, t.robustLen = head, length
	t.mu.Unlock()
}

// RobustList returns the robust list head.
func (t *Task) RobustList() (uintptr, uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.robustList, t.robustLen
}

// CopyIn copies application memory at addr into dst.
func (t *Task) CopyIn(addr uintptr, dst []byte) (int, error) { return t.mm.CopyIn(addr, dst) }

// CopyOut copies src to application memory at addr.
func (t *Task) CopyOut(addr uintptr, src []byte) (int, error) { return t.mm.CopyOut(addr, src) }

// CopyInString reads a NUL-terminated string of at most maxLen bytes.
func (t *Task) CopyInString(addr uintptr, maxLen int) (string, error) {
	return t.mm.CopyInString(addr, maxLen)
}

// CopyOutUint64 and friends write scalars in the application's byte order.
func (t *Task) CopyOutUint64(addr uintptr, v uint64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	_, err := t.mm.CopyOut(addr, b[:])
	return err
}

// CopyOutUint32 writes a 32-bit value.
func (t *Task) CopyOutUint32(addr uintptr, v uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	_, err := t.mm.CopyOut(addr, b[:])
	return err
}

// CopyInUint64 reads a 64-bit value.
func (t *Task) CopyInUint64(addr uintptr) (uint64, error) {
	var b [8]byte
	if _, err := t.mm.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// Iovec is a struct iovec.
type Iovec struct {
	Base uintptr
	Len  uint64
}

// UIOMaxIov is the most iovecs one call takes.
const UIOMaxIov = 1024

// CopyInIovecs reads an array of n struct iovec.
func (t *Task) CopyInIovecs(addr uintptr, n int) ([]Iovec, error) {
	if n < 0 || n > UIOMaxIov {
		return nil, unix.EINVAL
	}
	if n == 0 {
		return nil, nil
	}
	buf := make([]byte, 16*n)
	if _, err := t.mm.CopyIn(addr, buf); err != nil {
		return nil, err
	}
	iovs := make([]Iovec, n)
	var total uint64
	for i := range iovs {
		iovs[i].Base = uintptr(binary.LittleEndian.Uint64(buf[16*i:]))
		iovs[i].Len = binary.LittleEndian.Uint64(buf[16*i+8:])
		if int64(iovs[i].Len) < 0 {
			return nil, unix.EINVAL
		}
		total += iovs[i].Len
		if int64(total) < 0 {
			return nil, unix.EINVAL
		}
	}
	return iovs, nil
}

// interrupt kicks the task out of application code (or a blocking wait) so that it
// notices pending signals or exit.
func (t *Task) interrupt() {
	t.interruptPending.Store(true)
	t.pctx.Interrupt()
	select {
	case t.wakeChan() <- struct{}{}:
	default:
	}
}

// Unsupported records that the current syscall was refused for a reason the user should
// see in --report (an unknown flag, ioctl or option).
func (t *Task) Unsupported(detail string) {
	t.k.unsupported.record(t.syscallNo, detail, t.k)
}

// ClearChildTID returns set_tid_address's address.
func (t *Task) ClearChildTID() uintptr {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.clearChildTID
}

// SetNoNewPrivs sets PR_SET_NO_NEW_PRIVS (it can never be cleared).
func (t *Task) SetNoNewPrivs() {
	t.mu.Lock()
	t.noNewPrivs = true
	t.mu.Unlock()
}

// NoNewPrivs returns PR_GET_NO_NEW_PRIVS.
func (t *Task) NoNewPrivs() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.noNewPrivs
}
