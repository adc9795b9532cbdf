package kernel

import "time"

// wakeChan returns the task's wake-up channel, creating it on first use.
func (t *Task) wakeChan() chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.wake == nil {
		t.wake = make(chan struct{}, 1)
	}
	return t.wake
}

// Interrupted reports whether the task has a reason to abandon a blocking call: a
// deliverable signal is pending, its thread group is exiting, or it must take part in
// a group stop (a stopped task's syscall restarts when it is continued).
func (t *Task) Interrupted() bool {
	tg := t.tg
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.exiting || t.jc.stopPending {
		return true
	}
	blocked := t.sigMask &^ Unblockable
	return (t.pending|tg.pending)&^blocked != 0
}

// BlockTimeout sleeps until the deadline (a zero deadline means forever) or until
// the task is interrupted; it reports whether it was interrupted.
func (t *Task) BlockTimeout(deadline time.Time) (interrupted bool) {
	wake := t.wakeChan()
	var timer *time.Timer
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return t.Interrupted()
		}
		timer = time.NewTimer(d)
		defer timer.Stop()
		timeout = timer.C
	}
	for {
		if t.Interrupted() {
			return true
		}
		select {
		case <-wake:
		case <-timeout:
			return false
		}
	}
}

// Block waits on ch (closed or sent on by whatever the task waits for) until it fires,
// the deadline passes, or the task is interrupted. It returns ok when ch fired.
func (t *Task) Block(ch <-chan struct{}, deadline time.Time) (ok, interrupted bool) {
	wake := t.wakeChan()
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		timeout = timer.C
	}
	for {
		if t.Interrupted() {
			return false, true
		}
		select {
		case <-ch:
			return true, false
		case <-wake:
		case <-timeout:
			return false, false
		}
	}
}
