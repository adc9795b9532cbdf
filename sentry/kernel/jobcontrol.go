package kernel

import (
	"golang.org/x/sys/unix"
)

// Job control: group stop and continue.
//
// A stop signal whose action is the default (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU), when a
// thread dequeues it, starts a group stop: every thread of the group is marked to take
// part and interrupted; each parks in jobControlStop before it would return to
// application code, and the last one to park completes the stop and tells the parent
// (SIGCHLD with CLD_STOPPED, and a report for wait's WUNTRACED). SIGCONT, when it is
// generated (blocked or ignored alike), discards pending stop signals, cancels the stop,
// wakes the parked threads and tells the parent (CLD_CONTINUED, WCONTINUED). A stop
// signal discards a pending SIGCONT. A blocking syscall interrupted by a stop restarts
// after the continue when no handler ran, as in Linux (or fails with EINTR where Linux's
// fails too). SIGKILL ends a stopped process.

// groupJobControl is a thread group's job-control state, protected by ThreadGroup.mu.
type groupJobControl struct {
	// stopping: a group stop is in progress or complete, and threads must park.
	stopping bool
	// stopped: every thread has taken part (the process is stopped: state T).
	stopped bool
	// stopCount is the number of threads still to take part in the stop.
	stopCount int
	// stopSig is the signal that stopped the group.
	stopSig int
	// waitStop and waitCont are a stop and a continue that wait (WUNTRACED,
	// WCONTINUED) has yet to report.
	waitStop, waitCont bool
}

// taskJobControl is a task's job-control state, protected by ThreadGroup.mu.
type taskJobControl struct {
	// stopPending: the task has to take part in the group stop.
	stopPending bool
	// stopDequeued: the task dequeued a stop signal and is about to start a stop; a
	// SIGCONT generated meanwhile cancels it.
	stopDequeued bool
	// parked: the task waits in jobControlStop for the group to continue.
	parked bool
}

// stopSignals are the signals whose default action is to stop.
var stopSignals = SigBit(int(unix.SIGSTOP)) | SigBit(int(unix.SIGTSTP)) |
	SigBit(int(unix.SIGTTIN)) | SigBit(int(unix.SIGTTOU))

// jcNotice is a notification for the parent of a stopped or continued group, sent once
// the group's lock is released.
type jcNotice struct {
	code   int32 // cldStopped or cldContinued; 0: none
	status int32 // si_status: the stop signal, or SIGCONT
}

// send tells tg's parent: SIGCHLD (unless its action is SIG_IGN or has SA_NOCLDSTOP)
// and a wake-up of its waiters.
func (n jcNotice) send(tg *ThreadGroup) {
	if n.code == 0 {
		return
	}
	k := tg.k
	k.mu.Lock()
	parent := tg.parent
	k.mu.Unlock()
	if parent == nil {
		return
	}
	var uid uint32
	if l := tg.Leader(); l != nil {
		uid = uint32(l.Credentials().RealUID)
	}
	parent.mu.Lock()
	act := parent.handlers.Actions[unix.SIGCHLD-1]
	parent.mu.Unlock()
	if act.Handler != SIG_IGN && act.Flags&SA_NOCLDSTOP == 0 {
		parent.SendSignal(&SignalInfo{
			Signo: int32(unix.SIGCHLD), Code: n.code, PID: tg.pid, UID: uid, Status: n.status,
		})
	}
	parent.notifyChild()
}

// removeQueuedLocked drops the signals in set from a pending set and its queue.
func removeQueuedLocked(pending *SignalSet, queue *[]SignalInfo, set SignalSet) {
	if *pending&set == 0 {
		return
	}
	*pending &^= set
	q := (*queue)[:0]
	for _, info := range *queue {
		if set&SigBit(int(info.Signo)) == 0 {
			q = append(q, info)
		}
	}
	*queue = q
}

// jobControlOnSendLocked applies the effects a signal has when it is generated, before
// it is queued (or discarded as ignored): a stop signal discards a pending SIGCONT, and
// SIGCONT discards pending stop signals and continues a stopped group. tg.mu is held; the
// notice is for the parent.
func (tg *ThreadGroup) jobControlOnSendLocked(sig int) jcNotice {
	switch {
	case SigBit(sig)&stopSignals != 0:
		cont := SigBit(int(unix.SIGCONT))
		removeQueuedLocked(&tg.pending, &tg.queue, cont)
		for _, t := range tg.tasks {
			removeQueuedLocked(&t.pending, &t.queue, cont)
		}
	case sig == int(unix.SIGCONT):
		removeQueuedLocked(&tg.pending, &tg.queue, stopSignals)
		for _, t := range tg.tasks {
			removeQueuedLocked(&t.pending, &t.queue, stopSignals)
			t.jc.stopPending, t.jc.stopDequeued = false, false
			if t.jc.parked {
				t.wakeUp()
			}
		}
		var n jcNotice
		switch {
		case tg.jc.stopped:
			n = jcNotice{code: cldContinued, status: int32(unix.SIGCONT)}
		case tg.jc.stopping:
			// As Linux: a stop cut short counts as complete and then continued, and
			// since SIGCHLD does not queue, the parent hears only of the stop.
			n = jcNotice{code: cldStopped, status: int32(tg.jc.stopSig)}
		default:
			return jcNotice{}
		}
		tg.jc.stopping, tg.jc.stopped, tg.jc.stopCount = false, false, 0
		tg.jc.waitStop, tg.jc.waitCont = false, true
		return n
	}
	return jcNotice{}
}

// startGroupStop runs when the task has dequeued sig, a stop signal with the default
// action: unless the signal is to be discarded, the thread group stops, this thread
// with it. It reports false when the task must stop running (it is exiting).
func (t *Task) startGroupStop(sig int) bool {
	tg := t.tg
	if sig != int(unix.SIGSTOP) && t.k.pgrpOrphaned(tg) {
		// POSIX: the terminal stop signals are discarded in an orphaned process
		// group, whose stopped processes nobody would continue.
		tg.mu.Lock()
		t.jc.stopDequeued = false
		tg.mu.Unlock()
		return true
	}
	tg.mu.Lock()
	if exiting := tg.exiting; exiting || !t.jc.stopDequeued {
		// Exiting, or a SIGCONT came since the signal was dequeued: no stop.
		tg.mu.Unlock()
		return !exiting
	}
	t.jc.stopDequeued = false
	var others []*Task
	if !tg.jc.stopping {
		tg.jc.stopping, tg.jc.stopped, tg.jc.stopSig, tg.jc.stopCount = true, false, sig, 0
		for _, o := range tg.tasks {
			o.jc.stopPending = true
			tg.jc.stopCount++
			if o != t {
				others = append(others, o)
			}
		}
	}
	tg.mu.Unlock()
	for _, o := range others {
		o.interrupt()
	}
	return t.jobControlStop()
}

// jobControlStop takes part in the group stop and parks the task until the group is
// continued. It reports false when the task must stop running instead: SIGKILL, a group
// exit, or another thread's execve.
func (t *Task) jobControlStop() bool {
	tg := t.tg
	wake := t.wakeChan()
	defer func() {
		tg.mu.Lock()
		t.jc.parked = false
		tg.mu.Unlock()
	}()
	for {
		tg.mu.Lock()
		if tg.exiting {
			tg.mu.Unlock()
			return false
		}
		if (t.pending|tg.pending)&SigBit(int(unix.SIGKILL)) != 0 {
			tg.mu.Unlock()
			tg.exitGroup(SignaledStatus(int(unix.SIGKILL), false))
			return false
		}
		if _, exiting := t.exitRequested(); exiting {
			tg.mu.Unlock()
			return false
		}
		n := t.takePartInStopLocked()
		if !tg.jc.stopping {
			tg.mu.Unlock()
			n.send(tg)
			return true
		}
		t.jc.parked = true
		tg.mu.Unlock()
		n.send(tg)
		<-wake
	}
}

// takePartInStopLocked counts the task in the group stop if it has yet to take part; the
// last one completes the stop. tg.mu is held.
func (t *Task) takePartInStopLocked() jcNotice {
	if !t.jc.stopPending {
		return jcNotice{}
	}
	t.jc.stopPending = false
	return t.tg.stopCountDownLocked()
}

// stopCountDownLocked counts one more thread in the group stop; the last one completes
// it. tg.mu is held.
func (tg *ThreadGroup) stopCountDownLocked() jcNotice {
	tg.jc.stopCount--
	if tg.jc.stopCount > 0 || !tg.jc.stopping || tg.jc.stopped {
		return jcNotice{}
	}
	tg.jc.stopped = true
	tg.jc.waitStop, tg.jc.waitCont = true, false
	return jcNotice{code: cldStopped, status: int32(tg.jc.stopSig)}
}

// jobControlTaskExitLocked runs as t leaves its thread group: a thread that had yet to
// take part in a group stop no longer holds it up. tg.mu is held.
func (tg *ThreadGroup) jobControlTaskExitLocked(t *Task) jcNotice {
	if !t.jc.stopPending || tg.exiting {
		return jcNotice{}
	}
	t.jc.stopPending = false
	return tg.stopCountDownLocked()
}

// jobControlNewTaskLocked runs as a thread joins its group (clone): during a group stop,
// it stops too. tg.mu is held.
func (tg *ThreadGroup) jobControlNewTaskLocked(t *Task) {
	if tg.jc.stopping && !tg.jc.stopped {
		t.jc.stopPending = true
		tg.jc.stopCount++
	}
}

// pgrpOrphaned reports whether tg's process group is orphaned: no member has a parent
// in another process group of the same session.
func (k *Kernel) pgrpOrphaned(tg *ThreadGroup) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	pgid, sid := tg.ProcessGroup()
	return k.pgrpOrphanedLocked(pgid, sid)
}

// ProcessGroupOrphaned reports whether tg's process group is orphaned (POSIX): no member
// has a parent in another process group of the same session. The terminal stop signals
// are not sent to such a group: its stopped processes would stay stopped.
func (tg *ThreadGroup) ProcessGroupOrphaned() bool { return tg.k.pgrpOrphaned(tg) }

// pgrpOrphanedLocked is pgrpOrphaned for a group and session; k.mu is held. Members that
// have exited (zombies) do not count.
func (k *Kernel) pgrpOrphanedLocked(pgid, sid int32) bool {
	for _, g := range k.groups {
		if g.zombie || g.parent == nil {
			continue
		}
		if pg, _ := g.ProcessGroup(); pg != pgid {
			continue
		}
		ppg, psid := g.parent.ProcessGroup()
		if ppg != pgid && psid == sid {
			return false
		}
	}
	return true
}

// pgrpHasStoppedLocked reports whether a member of process group pgid is stopped; k.mu
// is held.
func (k *Kernel) pgrpHasStoppedLocked(pgid int32) bool {
	for _, g := range k.groups {
		if g.zombie {
			continue
		}
		g.mu.Lock()
		stopped := g.pgid == pgid && g.jc.stopped
		g.mu.Unlock()
		if stopped {
			return true
		}
	}
	return false
}

// orphanedByExitLocked runs as tg exits, after its children went to their new parent
// and tg became a zombie: the process groups that tg's exit orphans and that have a
// stopped member, which must get SIGHUP and SIGCONT. They are tg's own group, if tg was
// its link to the session outside it, and its children's groups, if tg was theirs.
// k.mu is held.
func (tg *ThreadGroup) orphanedByExitLocked(parent *ThreadGroup, children []*ThreadGroup) []int32 {
	k := tg.k
	pgid, sid := tg.ProcessGroup()
	var out []int32
	check := func(pg int32) {
		for _, o := range out {
			if o == pg {
				return
			}
		}
		if k.pgrpOrphanedLocked(pg, sid) && k.pgrpHasStoppedLocked(pg) {
			out = append(out, pg)
		}
	}
	if parent != nil {
		if ppg, psid := parent.ProcessGroup(); ppg != pgid && psid == sid {
			check(pgid)
		}
	}
	for _, c := range children {
		if c.zombie {
			continue
		}
		if cpg, csid := c.ProcessGroup(); cpg != pgid && csid == sid {
			check(cpg)
		}
	}
	return out
}

// hangUpOrphaned sends SIGHUP and then SIGCONT to every member of the process groups
// (those orphanedByExitLocked found).
func (k *Kernel) hangUpOrphaned(pgids []int32) {
	for _, pg := range pgids {
		members := k.ProcessGroupMembers(pg)
		for _, sig := range []unix.Signal{unix.SIGHUP, unix.SIGCONT} {
			for _, g := range members {
				g.SendSignal(&SignalInfo{Signo: int32(sig), Code: SI_KERNEL})
			}
		}
	}
}

// wakeUp ends the task's wait for a continue (it is parked: out of application code).
func (t *Task) wakeUp() {
	select {
	case t.wakeChan() <- struct{}{}:
	default:
	}
}

// JobStopped reports whether the task is stopped by job control (state T in /proc).
func (t *Task) JobStopped() bool {
	t.tg.mu.Lock()
	defer t.tg.mu.Unlock()
	return t.jc.parked && t.tg.jc.stopping
}

// waitJobControl reports c's stop or continue to a wait that asks for it (and consumes
// the report unless NoWait); nil if there is none. k.mu is held.
func (o *WaitOptions) waitJobControl(c *ThreadGroup) *WaitResult {
	if c.zombie || (!o.Stopped && !o.Continued) {
		return nil
	}
	c.mu.Lock()
	var r *WaitResult
	switch {
	case o.Stopped && c.jc.waitStop && c.jc.stopped:
		r = &WaitResult{PID: c.pid, Status: StoppedStatus(c.jc.stopSig), Code: cldStopped}
		if !o.NoWait {
			c.jc.waitStop = false
		}
	case o.Continued && c.jc.waitCont:
		r = &WaitResult{PID: c.pid, Status: ContinuedStatus, Code: cldContinued}
		if !o.NoWait {
			c.jc.waitCont = false
		}
	}
	leader := c.leader
	c.mu.Unlock()
	if r != nil && leader != nil {
		r.UID = uint32(leader.Credentials().RealUID)
	}
	return r
}

// StoppedStatus is the wait status of a child stopped by sig.
func StoppedStatus(sig int) WaitStatus { return WaitStatus(sig&0xff)<<8 | 0x7f }

// ContinuedStatus is the wait status of a continued child.
const ContinuedStatus WaitStatus = 0xffff

// SiStatus is waitid's si_status for the result: the exit code, or the signal that
// killed, stopped or continued the child.
func (r *WaitResult) SiStatus() int32 {
	switch r.Code {
	case cldStopped:
		return int32(r.Status>>8) & 0xff
	case cldContinued:
		return int32(unix.SIGCONT)
	case cldExited:
		return int32(r.Status.ExitCode())
	}
	return int32(r.Status.Signal())
}
