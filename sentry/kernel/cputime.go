package kernel

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// CPU-time accounting.
//
// User time is the time a task spends in application code: the wall time across
// platform.Context.Switch, measured by the task goroutine (two monotonic clock reads per
// trap, both through the host's vDSO). It includes the platform's trap overhead, and time
// the host takes the CPU away while the application runs; with a pinned stub thread that
// is small. System time is exact: the host CPU time of the sentry thread that runs the
// task goroutine (it is locked to its thread for the task's life), read through the
// thread's CPU clock, which any thread of the sandbox process may read.
//
// A thread group adds up its live tasks, its exited tasks and, once they are reaped, its
// children (as Linux's signal_struct does with cutime/cstime).

// Usage is user and system CPU time.
type Usage struct {
	User, Sys time.Duration
}

// Add returns u + o.
func (u Usage) Add(o Usage) Usage { return Usage{u.User + o.User, u.Sys + o.Sys} }

// Total is user plus system time.
func (u Usage) Total() time.Duration { return u.User + u.Sys }

// taskCPU is a task's CPU accounting.
type taskCPU struct {
	// user is nanoseconds of application time; written by the task goroutine only.
	user atomic.Int64
	// running is when the current stretch in application code began (0: not in it), so
	// that CPU timers see user time grow while the application runs (timers.go). The
	// task goroutine clears it before adding the stretch to user.
	running atomic.Int64
	// hostTID is the host thread running the task goroutine (0 before it starts) and
	// sysBase that thread's CPU time when the task started on it.
	hostTID atomic.Int32
	sysBase int64
	// mu orders the final snapshot at exit with readers of the live thread clock: once
	// done, sysFinal is the system time and the host thread may serve other goroutines.
	mu       sync.Mutex
	done     bool
	sysFinal int64
}

// threadCPUClock is the clock ID of a host thread's CPU clock (MAKE_THREAD_CPUCLOCK with
// CPUCLOCK_SCHED): readable by any thread of the same host process.
func threadCPUClock(tid int32) int32 {
	const perThread, sched = 4, 2
	return int32(^uint32(tid)<<3) | perThread | sched
}

func hostThreadCPU(tid int32) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(threadCPUClock(tid), &ts); err != nil {
		return 0
	}
	return ts.Nano()
}

// startCPU binds the accounting to the calling (locked) host thread.
func (c *taskCPU) startCPU() {
	tid := int32(unix.Gettid())
	c.sysBase = hostThreadCPU(tid)
	c.hostTID.Store(tid)
}

// stopCPU takes the final system time, before the host thread is released.
func (c *taskCPU) stopCPU() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return
	}
	if tid := c.hostTID.Load(); tid != 0 {
		c.sysFinal = max(0, hostThreadCPU(tid)-c.sysBase)
	}
	c.done = true
}

func (c *taskCPU) usage() Usage {
	c.mu.Lock()
	sys := c.sysFinal
	if !c.done {
		if tid := c.hostTID.Load(); tid != 0 {
			sys = max(0, hostThreadCPU(tid)-c.sysBase)
		}
	}
	c.mu.Unlock()
	return Usage{User: time.Duration(c.user.Load()), Sys: time.Duration(sys)}
}

// liveUser is the task's user time at now (nanotime), counting the stretch in
// application code under way. A reader racing with the end of a stretch may miss it
// (never count it twice): CPU timers then fire a check later.
func (c *taskCPU) liveUser(now int64) int64 {
	u := c.user.Load()
	if s := c.running.Load(); s != 0 && now > s {
		u += now - s
	}
	return u
}

// groupCPU is a thread group's CPU accounting, protected by ThreadGroup.mu.
type groupCPU struct {
	// exited is what the group's exited tasks used; children what its reaped children
	// (and, through them, their reaped descendants) used.
	exited, children Usage
}

// CPUUsage is the task's own CPU time (RUSAGE_THREAD, CLOCK_THREAD_CPUTIME_ID).
func (t *Task) CPUUsage() Usage { return t.cpu.usage() }

// CPUTime is the task's user plus system time.
func (t *Task) CPUTime() time.Duration { return t.cpu.usage().Total() }

// CPUUsage is the CPU time of the group's tasks, live and exited (RUSAGE_SELF).
func (tg *ThreadGroup) CPUUsage() Usage {
	tg.mu.Lock()
	u := tg.cpu.exited
	tasks := append([]*Task(nil), tg.tasks...)
	tg.mu.Unlock()
	for _, t := range tasks {
		u = u.Add(t.cpu.usage())
	}
	return u
}

// ChildrenCPUUsage is the CPU time of the group's reaped children (RUSAGE_CHILDREN).
func (tg *ThreadGroup) ChildrenCPUUsage() Usage {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.cpu.children
}

// addExitedTask moves an exiting task's time into the group's total; tg.mu is held.
func (tg *ThreadGroup) addExitedTaskLocked(t *Task) {
	tg.cpu.exited = tg.cpu.exited.Add(t.cpu.usage())
}

// reapedUsage is what a reaped child adds to its parent's children total and what wait4
// reports for it: its own time and its reaped descendants'.
func (tg *ThreadGroup) reapedUsage() Usage {
	return tg.CPUUsage().Add(tg.ChildrenCPUUsage())
}

// addReapedChild adds a reaped child's usage to the group's children total.
func (tg *ThreadGroup) addReapedChild(u Usage) {
	tg.mu.Lock()
	tg.cpu.children = tg.cpu.children.Add(u)
	tg.mu.Unlock()
}
