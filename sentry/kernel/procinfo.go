package kernel

import "time"

// What /proc (sentry/fs/proc) reads of tasks and thread groups beyond the accessors the
// syscalls use. Every accessor takes the lock that guards what it reads.

// Tasks returns the group's live threads, leader first.
func (tg *ThreadGroup) Tasks() []*Task {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]*Task(nil), tg.tasks...)
}

// IsZombie reports whether every thread of the group has exited and the group waits
// for its parent to reap it.
func (tg *ThreadGroup) IsZombie() bool {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	return tg.zombie
}

// ExitSignal is the signal the parent gets when the group exits (0: none).
func (tg *ThreadGroup) ExitSignal() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.exitSignal
}

// SignalDispositions returns the signals the group ignores and those it catches, as
// /proc/PID/status's SigIgn and SigCgt show them.
func (tg *ThreadGroup) SignalDispositions() (ignored, caught SignalSet) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.handlers == nil {
		return 0, 0
	}
	for i, a := range tg.handlers.Actions {
		switch a.Handler {
		case SIG_DFL:
		case SIG_IGN:
			ignored |= SigBit(i + 1)
		default:
			caught |= SigBit(i + 1)
		}
	}
	return ignored, caught
}

// GroupPendingSignals returns the signals pending for the whole group (ShdPnd).
func (tg *ThreadGroup) GroupPendingSignals() SignalSet {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.pending
}

// ThreadPendingSignals returns the signals pending for t alone (SigPnd).
func (t *Task) ThreadPendingSignals() SignalSet {
	t.tg.mu.Lock()
	defer t.tg.mu.Unlock()
	return t.pending
}

// NumTasks returns how many tasks the kernel runs (for /proc/loadavg and /proc/stat).
func (k *Kernel) NumTasks() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.tasks)
}

// LastPID returns the most recently allocated PID (/proc/loadavg).
func (k *Kernel) LastPID() int32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.nextPID - 1
}

// Uptime is how long the kernel has run.
func (k *Kernel) Uptime() time.Duration { return time.Since(k.boot) }

// PIDMax is the largest PID plus one (/proc/sys/kernel/pid_max).
func (k *Kernel) PIDMax() int32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pidMax
}
