package kernel

import (
	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel/auth"
)

// Scheduling attributes the sandbox keeps but does not enforce: the host schedules the
// platform's threads. Applications read back what they set (nice values, CPU affinity),
// and children inherit them, as on Linux.

// schedAttrs is a task's nice value and CPU affinity, protected by Task.mu.
type schedAttrs struct {
	nice int32
	// affinity is the CPU mask set by sched_setaffinity (bit c: CPU c); nil is every CPU.
	affinity []byte
}

// Nice returns the task's nice value (-20..19).
func (t *Task) Nice() int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sched.nice
}

// SetNice sets the task's nice value, clamped to -20..19.
func (t *Task) SetNice(n int32) {
	n = min(max(n, -20), 19)
	t.mu.Lock()
	t.sched.nice = n
	t.mu.Unlock()
}

// Affinity returns a copy of the task's CPU mask, nil for every CPU.
func (t *Task) Affinity() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.sched.affinity...)
}

// SetAffinity sets the task's CPU mask (nil: every CPU).
func (t *Task) SetAffinity(mask []byte) {
	t.mu.Lock()
	t.sched.affinity = append([]byte(nil), mask...)
	t.mu.Unlock()
}

// inheritSched gives a new task its creator's scheduling attributes.
func (t *Task) inheritSched(child *Task) {
	t.mu.Lock()
	child.sched = schedAttrs{nice: t.sched.nice, affinity: append([]byte(nil), t.sched.affinity...)}
	t.mu.Unlock()
}

// overProcessLimit reports whether a new task would exceed the caller's RLIMIT_NPROC:
// as on Linux it counts every task (threads included) of the caller's real UID, and
// root and holders of CAP_SYS_RESOURCE or CAP_SYS_ADMIN are not held to it.
func (t *Task) overProcessLimit() bool {
	limit := t.tg.Rlimit(unix.RLIMIT_NPROC).Cur
	k := t.k
	k.mu.Lock()
	n := len(k.tasks)
	k.mu.Unlock()
	if uint64(n) < limit {
		return false // cannot be reached even if every task were the caller's user's
	}
	c := t.Credentials()
	if c.RealUID == 0 || c.HasCapability(auth.CapSysResource) || c.HasCapability(auth.CapSysAdmin) {
		return false
	}
	count := uint64(0)
	k.mu.Lock()
	for _, o := range k.tasks {
		if o.Credentials().RealUID == c.RealUID {
			count++
		}
	}
	k.mu.Unlock()
	return count >= limit
}
