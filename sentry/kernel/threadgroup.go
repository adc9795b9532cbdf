package kernel

import (
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

// WaitStatus is a wait(2) status word.
type WaitStatus uint32

// ExitedStatus is the status of a process that called exit(code).
func ExitedStatus(code int) WaitStatus { return WaitStatus(code&0xff) << 8 }

// SignaledStatus is the status of a process killed by sig, with the core-dump bit.
func SignaledStatus(sig int, core bool) WaitStatus {
	s := WaitStatus(sig & 0x7f)
	if core {
		s |= 0x80
	}
	return s
}

// wouldDumpCore reports whether a core-dumping signal that kills the group sets the
// core-dump bit: as Linux, only for a dumpable process whose RLIMIT_CORE allows at least
// a page. (The sandbox writes no core file: the bit tells the parent what Linux would
// report with a core_pattern pipe.)
func (tg *ThreadGroup) wouldDumpCore() bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return !tg.notDumpable && tg.rlimits[unix.RLIMIT_CORE].Cur >= 4096
}

// Exited, ExitCode, Signaled, Signal decode a status.
func (w WaitStatus) Exited() bool   { return w&0x7f == 0 }
func (w WaitStatus) ExitCode() int  { return int(w>>8) & 0xff }
func (w WaitStatus) Signaled() bool { return w&0x7f != 0 && w&0x7f != 0x7f }
func (w WaitStatus) Signal() int    { return int(w & 0x7f) }

// ShellCode is how a shell reports the status: the exit code, or 128+signal.
func (w WaitStatus) ShellCode() int {
	if w.Signaled() {
		return 128 + w.Signal()
	}
	return w.ExitCode()
}

// Rlimit is one resource limit.
type Rlimit struct{ Cur, Max uint64 }

// RlimInfinity is RLIM_INFINITY.
const RlimInfinity = ^uint64(0)

// NumRlimits is RLIM_NLIMITS.
const NumRlimits = 16

// DefaultRlimits are a new container's limits, as Linux gives init.
func DefaultRlimits() [NumRlimits]Rlimit {
	var r [NumRlimits]Rlimit
	for i := range r {
		r[i] = Rlimit{RlimInfinity, RlimInfinity}
	}
	r[unix.RLIMIT_STACK] = Rlimit{8 << 20, RlimInfinity}
	r[unix.RLIMIT_CORE] = Rlimit{0, RlimInfinity}
	r[unix.RLIMIT_NOFILE] = Rlimit{1024, 1048576}
	r[unix.RLIMIT_MEMLOCK] = Rlimit{8 << 20, 8 << 20}
	r[unix.RLIMIT_NPROC] = Rlimit{63704, 63704}
	r[unix.RLIMIT_SIGPENDING] = Rlimit{63704, 63704}
	r[unix.RLIMIT_MSGQUEUE] = Rlimit{819200, 819200}
	r[13] = Rlimit{0, 0} // RLIMIT_NICE
	r[14] = Rlimit{0, 0} // RLIMIT_RTPRIO
	return r
}

// ThreadGroup is a process: its threads share a PID, signal handlers, limits, and an
// exit status.
type ThreadGroup struct {
	k   *Kernel
	pid int32

	mu       sync.Mutex
	tasks    []*Task
	leader   *Task
	handlers *SignalHandlers
	pending  SignalSet
	queue    []SignalInfo
	rlimits  [NumRlimits]Rlimit
	parent   *ThreadGroup
	pgid     int32
	sid      int32
	exe      string

	// signalWaiters are told (ReadableEvents) whenever a signal is queued to the group or
	// to one of its threads: the signalfds of the group wait on it. It is notified after
	// mu is released; with no signalfd it costs one atomic load per signal.
	signalWaiters vfs.WaitQueue

	exiting    bool
	exitStatus WaitStatus
	exited     chan struct{}
	// exitSignal is sent to the parent when the group exits (0: none).
	exitSignal int
	// jc is the group's job-control state (jobcontrol.go), protected by mu.
	jc groupJobControl

	// The task tree, protected by Kernel.mu: children, and zombie state once every
	// thread has exited (reaped by the parent's wait).
	children map[*ThreadGroup]struct{}
	zombie   bool
	// childCh is closed (and replaced) whenever a child changes state, waking waiters;
	// protected by mu.
	childCh chan struct{}
	// subreaper is PR_SET_CHILD_SUBREAPER, protected by Kernel.mu.
	subreaper bool
	// pdeathsig and notDumpable are prctl state, protected by mu.
	pdeathsig   int
	notDumpable bool
	// didExec is set by the first execve after fork (setpgid of the child is then
	// EACCES), protected by mu.
	didExec bool
	// oomScoreAdj is /proc/[pid]/oom_score_adj and oomScoreAdjMin the lowest value an
	// unprivileged write may set (the last privileged write's), protected by mu. The host
	// applies its own to the whole sandbox; these are what the application set and sees.
	oomScoreAdj, oomScoreAdjMin int32
	// cpu is the CPU time of exited tasks and reaped children, protected by mu.
	cpu groupCPU
	// timers are the process's interval and POSIX timers, and cpuTimers the armed
	// timers that count this process's (or its threads') CPU time (timers.go).
	timers    groupTimers
	cpuTimers cpuTimerSet
}

// PID is the thread group's ID.
func (tg *ThreadGroup) PID() int32 { return tg.pid }

// Leader is the thread group leader.
func (tg *ThreadGroup) Leader() *Task {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.leader
}

// Executable is the path of the program the thread group runs.
func (tg *ThreadGroup) Executable() string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.exe
}

// Rlimit returns one limit.
func (tg *ThreadGroup) Rlimit(r int) Rlimit {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.rlimits[r]
}

// SetRlimit sets one limit; raising the hard limit needs CAP_SYS_RESOURCE.
func (tg *ThreadGroup) SetRlimit(r int, l Rlimit, privileged bool) error {
	if l.Cur > l.Max {
		return unix.EINVAL
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if l.Max > tg.rlimits[r].Max && !privileged {
		return unix.EPERM
	}
	if r == unix.RLIMIT_NOFILE && l.Max > 1048576 {
		return unix.EPERM // fs.nr_open
	}
	tg.rlimits[r] = l
	if r == unix.RLIMIT_NOFILE {
		// The fd table enforces it (EMFILE).
		for _, t := range tg.tasks {
			t.fdt.SetLimit(l.Cur)
		}
	}
	if r == unix.RLIMIT_STACK {
		// The address space bounds stack growth by it (mm/stack.go).
		for _, t := range tg.tasks {
			t.mm.SetStackLimit(l.Cur)
		}
	}
	return nil
}

// exitGroup makes every thread of the group exit with status (exit_group, fatal signal).
// The first call sets the status.
func (tg *ThreadGroup) exitGroup(status WaitStatus) {
	tg.mu.Lock()
	if !tg.exiting {
		tg.exiting = true
		tg.exitStatus = status
	}
	tasks := append([]*Task(nil), tg.tasks...)
	tg.mu.Unlock()
	for _, t := range tasks {
		t.interrupt()
	}
}

// ParentPID is the parent's PID, or 0 for the container's init.
func (tg *ThreadGroup) ParentPID() int32 {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.parent == nil {
		return 0
	}
	return tg.parent.pid
}

// NumTasks is the number of threads.
func (tg *ThreadGroup) NumTasks() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return len(tg.tasks)
}

// SetParentDeathSignal sets PR_SET_PDEATHSIG.
func (tg *ThreadGroup) SetParentDeathSignal(sig int) {
	tg.mu.Lock()
	tg.pdeathsig = sig
	tg.mu.Unlock()
}

// ParentDeathSignal returns PR_GET_PDEATHSIG.
func (tg *ThreadGroup) ParentDeathSignal() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.pdeathsig
}

// SetDumpable sets PR_SET_DUMPABLE.
func (tg *ThreadGroup) SetDumpable(d bool) {
	tg.mu.Lock()
	tg.notDumpable = !d
	tg.mu.Unlock()
}

// Dumpable returns PR_GET_DUMPABLE.
func (tg *ThreadGroup) Dumpable() bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return !tg.notDumpable
}

// OOMScoreAdj returns the process's oom_score_adj.
func (tg *ThreadGroup) OOMScoreAdj() int32 {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.oomScoreAdj
}

// SetOOMScoreAdj sets oom_score_adj as a write to /proc/[pid]/oom_score_adj does:
// EINVAL outside -1000..1000; lowering it below the last privileged setting needs
// privileged (CAP_SYS_RESOURCE), else EACCES.
func (tg *ThreadGroup) SetOOMScoreAdj(v int32, privileged bool) error {
	if v < -1000 || v > 1000 {
		return unix.EINVAL
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if v < tg.oomScoreAdjMin && !privileged {
		return unix.EACCES
	}
	tg.oomScoreAdj = v
	if privileged {
		tg.oomScoreAdjMin = v
	}
	return nil
}
