package kernel

import (
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

// Signal numbers and si_code values the kernel itself generates.
const (
	NumSignals = 64

	SI_USER    = 0
	SI_KERNEL  = 0x80
	SI_TKILL   = -6
	SI_QUEUE   = -1
	SI_TIMER   = -2
	SI_MESGQ   = -3
	SEGV_MAPER = 1
	SEGV_ACCER = 2
	BUS_ADRERR = 2

	SIG_DFL = 0
	SIG_IGN = 1
)

// SignalSet is a mask of signals: bit n-1 is signal n.
type SignalSet uint64

// SigBit returns the set holding only sig.
func SigBit(sig int) SignalSet { return 1 << uint(sig-1) }

// Unblockable is SIGKILL and SIGSTOP, which no mask can hold.
var Unblockable = SigBit(int(unix.SIGKILL)) | SigBit(int(unix.SIGSTOP))

// SignalInfo is a queued signal: the fields of siginfo_t the sentry fills.
type SignalInfo struct {
	Signo  int32
	Errno  int32
	Code   int32
	PID    int32
	UID    uint32
	Addr   uintptr // SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP
	Status int32   // SIGCHLD
	// Value is si_value (sigqueue, POSIX timers).
	Value uint64
	// TimerID and Overrun are si_timerid and si_overrun of a POSIX timer's signal.
	TimerID, Overrun int32
	// Raw, when set, is a siginfo_t the application gave (rt_sigqueueinfo): it is
	// delivered as given, with si_signo set to the signal.
	Raw *[128]byte
	// timer is the POSIX timer that queued this signal: while it is queued the timer
	// counts further expirations in Overrun instead of queueing another (timers.go).
	timer *PosixTimer
}

// SigAction is a struct sigaction as the application gave it (kernel layout).
type SigAction struct {
	Handler  uint64
	Flags    uint64
	Restorer uint64
	Mask     SignalSet
}

// Flags of SigAction.
const (
	SA_NOCLDSTOP = 0x1
	SA_NOCLDWAIT = 0x2
	SA_SIGINFO   = 0x4
	SA_RESTORER  = 0x04000000
	SA_ONSTACK   = 0x08000000
	SA_RESTART   = 0x10000000
	SA_NODEFER   = 0x40000000
	SA_RESETHAND = 0x80000000
)

// SignalStack is a sigaltstack.
type SignalStack struct {
	Addr  uint64
	Flags uint32
	Size  uint64
}

// Sigaltstack flags.
const (
	SS_ONSTACK    = 1
	SS_DISABLE    = 2
	SS_AUTODISARM = 1 << 31
	MINSIGSTKSZ   = 2048
)

type defaultAction int

const (
	actTerm defaultAction = iota
	actCore
	actIgnore
	actStop
	actCont
)

// defaultActionOf gives signal(7)'s default disposition.
func defaultActionOf(sig int) defaultAction {
	switch unix.Signal(sig) {
	case unix.SIGQUIT, unix.SIGILL, unix.SIGTRAP, unix.SIGABRT, unix.SIGBUS, unix.SIGFPE,
		unix.SIGSEGV, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGSYS:
		return actCore
	case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH:
		return actIgnore
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return actStop
	case unix.SIGCONT:
		return actCont
	}
	return actTerm
}

// SignalHandlers is the table of actions, shared by threads (and by CLONE_SIGHAND).
type SignalHandlers struct {
	Actions [NumSignals]SigAction
}

// Copy returns a copy (fork without CLONE_SIGHAND).
func (h *SignalHandlers) Copy() *SignalHandlers {
	n := *h
	return &n
}

// ResetForExec resets handled signals to the default, keeping ignored ones ignored.
func (h *SignalHandlers) ResetForExec() {
	for i := range h.Actions {
		a := &h.Actions[i]
		if a.Handler != SIG_IGN {
			*a = SigAction{}
		} else {
			a.Flags = 0
		}
	}
}

// ValidSignal reports whether sig is a signal number (1..64).
func ValidSignal(sig int) bool { return sig >= 1 && sig <= NumSignals }

// isIgnoredLocked reports whether sig would be discarded at generation: tg.mu held.
func (tg *ThreadGroup) isIgnoredLocked(sig int) bool {
	a := tg.handlers.Actions[sig-1]
	switch a.Handler {
	case SIG_IGN:
		return sig != int(unix.SIGKILL) && sig != int(unix.SIGSTOP)
	case SIG_DFL:
		// SIGCONT's default action is done when it is generated (jobcontrol.go).
		act := defaultActionOf(sig)
		return act == actIgnore || act == actCont
	}
	return false
}

// afterSend does, once tg.mu is released, what queueing a signal leaves to do: the
// job-control notice, and waking signalfd readers if the signal was queued.
func (tg *ThreadGroup) afterSend(jc jcNotice, queued bool) {
	jc.send(tg)
	if queued {
		tg.signalWaiters.Notify(vfs.ReadableEvents)
	}
}

// SendSignal queues a signal to the thread group and wakes a thread that can take it.
func (tg *ThreadGroup) SendSignal(info *SignalInfo) {
	var jc jcNotice
	queued := false
	defer func() { tg.afterSend(jc, queued) }() // after the unlock
	tg.mu.Lock()
	defer tg.mu.Unlock()
	sig := int(info.Signo)
	if tg.exiting {
		return
	}
	jc = tg.jobControlOnSendLocked(sig)
	if tg.isIgnoredLocked(sig) {
		// A blocked ignored signal is still queued: its action may change before unblocking.
		blockedByAll := true
		for _, t := range tg.tasks {
			if t.sigMask&SigBit(sig) == 0 {
				blockedByAll = false
			}
		}
		if !blockedByAll {
			return
		}
	}
	if tg.pending&SigBit(sig) != 0 && sig < 32 {
		return // standard signals do not queue twice
	}
	tg.pending |= SigBit(sig)
	tg.queue = append(tg.queue, *info)
	queued = true
	for _, t := range tg.tasks {
		if t.sigMask&SigBit(sig) == 0 || SigBit(sig)&Unblockable != 0 {
			t.interrupt()
			return
		}
	}
}

// SendSignal queues a signal to this thread only (tgkill, synchronous faults).
func (t *Task) SendSignal(info *SignalInfo) {
	tg := t.tg
	var jc jcNotice
	queued := false
	defer func() { tg.afterSend(jc, queued) }() // after the unlock
	tg.mu.Lock()
	defer tg.mu.Unlock()
	sig := int(info.Signo)
	if tg.exiting {
		return
	}
	jc = tg.jobControlOnSendLocked(sig)
	if tg.isIgnoredLocked(sig) && t.sigMask&SigBit(sig) == 0 {
		return
	}
	if t.pending&SigBit(sig) != 0 && sig < 32 {
		return
	}
	t.pending |= SigBit(sig)
	t.queue = append(t.queue, *info)
	queued = true
	t.interrupt()
}

// dequeueSignalLocked takes the lowest deliverable pending signal, thread-directed first.
func (t *Task) dequeueSignalLocked() (SignalInfo, bool) {
	for _, src := range []struct {
		set   *SignalSet
		queue *[]SignalInfo
	}{{&t.pending, &t.queue}, {&t.tg.pending, &t.tg.queue}} {
		deliverable := *src.set &^ (t.sigMask &^ Unblockable)
		if deliverable == 0 {
			continue
		}
		// As Linux's next_signal: a synchronous signal first, else the lowest number;
		// within one signal, the first queued.
		if d := deliverable & synchronousSignals; d != 0 {
			deliverable = d
		}
		deliverable &= -deliverable
		for i, info := range *src.queue {
			if deliverable&SigBit(int(info.Signo)) == 0 {
				continue
			}
			q := *src.queue
			*src.queue = append(q[:i:i], q[i+1:]...)
			still := false
			for _, o := range *src.queue {
				if o.Signo == info.Signo {
					still = true
				}
			}
			if !still {
				*src.set &^= SigBit(int(info.Signo))
			}
			if info.timer != nil {
				info.timer.dequeuedLocked(&info)
			}
			return info, true
		}
	}
	return SignalInfo{}, false
}

// synchronousSignals are the signals a fault raises, which Linux dequeues first.
var synchronousSignals = SigBit(int(unix.SIGSEGV)) | SigBit(int(unix.SIGBUS)) | SigBit(int(unix.SIGILL)) |
	SigBit(int(unix.SIGTRAP)) | SigBit(int(unix.SIGFPE)) | SigBit(int(unix.SIGSYS))

// forceSignal delivers a synchronous signal that the thread cannot block or ignore away:
// as Linux's force_sig, a blocked or ignored one is reset to the default action.
func (t *Task) forceSignal(info *SignalInfo) {
	tg := t.tg
	tg.mu.Lock()
	sig := int(info.Signo)
	a := &tg.handlers.Actions[sig-1]
	if t.sigMask&SigBit(sig) != 0 || a.Handler == SIG_IGN {
		*a = SigAction{}
		t.sigMask &^= SigBit(sig)
	}
	tg.mu.Unlock()
	t.SendSignal(info)
}

// deliverSignals acts on pending signals before the task returns to the application.
// It reports false when the task must stop running (its thread group is exiting).
func (t *Task) deliverSignals() bool {
	for {
		tg := t.tg
		tg.mu.Lock()
		if tg.exiting {
			tg.mu.Unlock()
			return false
		}
		if t.jc.stopPending {
			// Another thread stopped the group: stop with it.
			tg.mu.Unlock()
			if !t.jobControlStop() {
				return false
			}
			continue
		}
		info, ok := t.dequeueSignalLocked()
		if !ok {
			if t.haveSavedMask {
				t.sigMask, t.haveSavedMask = t.savedMask, false
			}
			tg.mu.Unlock()
			if t.pendingRestart != 0 {
				// No handler ran: the interrupted call simply restarts.
				t.restartSyscall()
			}
			return true
		}
		sig := int(info.Signo)
		act := tg.handlers.Actions[sig-1]
		if act.Handler == SIG_DFL && defaultActionOf(sig) == actStop {
			t.jc.stopDequeued = true
		}
		tg.mu.Unlock()
		switch {
		case sig == int(unix.SIGKILL):
			t.tg.exitGroup(SignaledStatus(sig, false))
			return false
		case act.Handler == SIG_IGN:
			continue
		case act.Handler == SIG_DFL:
			switch defaultActionOf(sig) {
			case actIgnore, actCont:
				continue
			case actStop:
				if !t.startGroupStop(sig) {
					return false
				}
				continue
			case actCore:
				t.logFatalSignal(&info)
				t.tg.exitGroup(SignaledStatus(sig, t.tg.wouldDumpCore()))
				return false
			default:
				t.tg.exitGroup(SignaledStatus(sig, false))
				return false
			}
		default:
			t.resolveRestart(&act)
			if err := t.setupSignalFrame(&info, &act); err != nil {
				// The frame cannot be written (bad stack): the thread dies of SIGSEGV.
				t.tg.exitGroup(SignaledStatus(int(unix.SIGSEGV), t.tg.wouldDumpCore()))
				return false
			}
		}
	}
}

// HandlesOrBlocks reports whether sig has a handler or is blocked by some thread: what a
// PID namespace's init must do to receive a signal from inside its namespace (SIGKILL and
// SIGSTOP included, which init never gets from its own namespace).
func (tg *ThreadGroup) HandlesOrBlocks(sig int) bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
		return false
	}
	if h := tg.handlers.Actions[sig-1].Handler; h != SIG_DFL && h != SIG_IGN {
		return true
	}
	for _, t := range tg.tasks {
		if t.sigMask&SigBit(sig) != 0 {
			return true
		}
	}
	return false
}

// PendingSignals returns the signals pending for the task (its own and its process's).
func (t *Task) PendingSignals() SignalSet {
	t.tg.mu.Lock()
	defer t.tg.mu.Unlock()
	return t.pending | t.tg.pending
}

// TakeSignal dequeues a pending signal in set (rt_sigtimedwait), waiting until the
// deadline (zero: forever; already passed: poll). It returns EAGAIN on timeout and
// EINTR when another signal interrupts the wait.
func (t *Task) TakeSignal(set SignalSet, deadline time.Time, poll bool) (SignalInfo, error) {
	tg := t.tg
	set &^= Unblockable
	for {
		tg.mu.Lock()
		// Take from the waited-for set as if everything else were blocked.
		saved := t.sigMask
		t.sigMask = ^set
		info, ok := t.dequeueSignalLocked()
		t.sigMask = saved
		tg.mu.Unlock()
		if ok {
			return info, nil
		}
		if poll {
			return SignalInfo{}, unix.EAGAIN
		}
		// Wait: the waited-for signals count as deliverable for the wake-up.
		tg.mu.Lock()
		t.sigMask &^= set
		tg.mu.Unlock()
		interrupted := t.BlockTimeout(deadline)
		tg.mu.Lock()
		t.sigMask = saved
		pend := (t.pending | tg.pending) & set
		tg.mu.Unlock()
		if pend != 0 {
			continue
		}
		if interrupted {
			return SignalInfo{}, ERESTARTNOHAND
		}
		return SignalInfo{}, unix.EAGAIN
	}
}

// DequeueSignal takes a pending signal in set without waiting (signalfd's read): as
// TakeSignal, the thread's own signals first, then the process's. SIGKILL and SIGSTOP
// are never taken.
func (t *Task) DequeueSignal(set SignalSet) (SignalInfo, bool) {
	tg := t.tg
	set &^= Unblockable
	if set == 0 {
		return SignalInfo{}, false
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	saved := t.sigMask
	t.sigMask = ^set
	info, ok := t.dequeueSignalLocked()
	t.sigMask = saved
	return info, ok
}

// SignalWaiters is the queue told of every signal queued to the task's thread group or
// to one of its threads (signalfd waits on it).
func (t *Task) SignalWaiters() *vfs.WaitQueue { return &t.tg.signalWaiters }

// SigsuspendMask sets a temporary mask until a signal handler runs (rt_sigsuspend):
// the old mask is restored by the frame's uc_sigmask.
func (t *Task) SigsuspendMask(m SignalSet) SignalSet {
	t.tg.mu.Lock()
	defer t.tg.mu.Unlock()
	old := t.sigMask
	t.sigMask = m &^ Unblockable
	t.savedMask, t.haveSavedMask = old, true
	return old
}

// SiginfoBytes encodes a queued signal as siginfo_t.
func (info *SignalInfo) SiginfoBytes() [128]byte { return info.siginfoBytes() }

// logFatalSignal writes to the debug log why the task died, with its registers and
// mappings, so that a crash inside the sandbox can be diagnosed.
func (t *Task) logFatalSignal(info *SignalInfo) {
	r := &t.ac.Regs
	t.k.Logf("[%d] killed by signal %d (code %d, addr %#x) at rip %#x rsp %#x rax %#x rdi %#x rsi %#x rdx %#x",
		t.tid, info.Signo, info.Code, info.Addr, r.Rip, r.Rsp, r.Rax, r.Rdi, r.Rsi, r.Rdx)
	for _, v := range t.mm.VMAs() {
		t.k.Logf("[%d]   %#x-%#x %+v off %#x %s", t.tid, v.Start, v.End, v.Perms, v.Offset, v.Name)
	}
}

// SetSignalAction sets sig's action to act (unless act is nil) and returns the old one
// (rt_sigaction). An action that ignores sig discards it from the pending signals of the
// process and of each of its threads, as Linux's do_sigaction does.
func (t *Task) SetSignalAction(sig int, act *SigAction) SigAction {
	tg := t.tg
	tg.mu.Lock()
	defer tg.mu.Unlock()
	old := tg.handlers.Actions[sig-1]
	if act == nil {
		return old
	}
	tg.handlers.Actions[sig-1] = *act
	ignored := act.Handler == SIG_IGN
	if act.Handler == SIG_DFL {
		d := defaultActionOf(sig)
		ignored = d == actIgnore || d == actCont
	}
	if ignored {
		tg.pending = discardSignal(tg.pending, &tg.queue, sig)
		for _, o := range tg.tasks {
			o.pending = discardSignal(o.pending, &o.queue, sig)
		}
	}
	return old
}

// discardSignal removes every queued sig from queue and returns pending without it.
func discardSignal(pending SignalSet, queue *[]SignalInfo, sig int) SignalSet {
	if pending&SigBit(sig) == 0 {
		return pending
	}
	q := make([]SignalInfo, 0, len(*queue))
	for _, info := range *queue {
		if int(info.Signo) != sig {
			q = append(q, info)
		}
	}
	*queue = q
	return pending &^ SigBit(sig)
}
