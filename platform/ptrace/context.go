package ptrace

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/platform"
)

// rebalanceInterval is how long a context keeps its tracer and stub thread pinned to one
// CPU before letting the host scheduler place them again (see context.pin).
const rebalanceInterval = 20 * time.Millisecond

// context implements platform.Context. Everything but interrupt and running is used only
// by the task goroutine, which the sentry keeps locked to one OS thread: the tracer.
type context struct {
	p *ptracePlatform

	// t is the task's stub thread in the address space it last ran in.
	t *stubThread
	// tracer is the OS thread of the task goroutine (0 until the first Switch).
	tracer int32

	// interrupt is set by Interrupt and cleared when Switch reports TrapInterrupted.
	interrupt atomic.Uint32
	// running is pid<<32|tid of the stub thread while Switch runs it, else 0.
	running atomic.Uint64

	// CPU pinning (see pin).
	cpu         int // the CPU the tracer and its stub thread are pinned to, or -1
	balancing   bool
	nextBalance int64
	origMask    unix.CPUSet
	haveMask    bool
	noPin       bool

	// fpBuf holds ac.FP padded to the kernel's XSAVE size when ac.FP is shorter.
	fpBuf []byte
}

func newContext(p *ptracePlatform) *context {
	return &context{p: p, cpu: -1}
}

// Switch implements platform.Context.Switch.
func (c *context) Switch(as platform.AddressSpace, ac *arch.Context) (platform.Trap, error) {
	a, ok := as.(*addressSpace)
	if !ok {
		return platform.Trap{}, fmt.Errorf("ptrace: Switch into a foreign address space %T", as)
	}
	if a.dead.Load() {
		// Never resume a thread of a stub that is being killed or released.
		return platform.Trap{}, fmt.Errorf("ptrace: Switch: %w", a.deadErr())
	}
	t := c.t
	if t == nil || t.as != a || t.dead {
		var err error
		if t, err = c.attach(a, ac); err != nil {
			return platform.Trap{}, err
		}
	}
	if ac.FPValid {
		if err := c.pushFP(t, ac.FP); err != nil {
			return platform.Trap{}, err
		}
		ac.FPValid = false
	}
	if c.interrupt.Load() != 0 {
		c.interrupt.Store(0)
		return platform.Trap{Kind: platform.TrapInterrupted}, nil
	}
	// The kernel's orig_rax is always -1 when the thread resumes, so that the kernel
	// never applies its own syscall-restart logic to registers the sentry chose.
	regs := ac.Regs
	regs.OrigRax = ^uint64(0)
	if !t.kregsValid || regs != t.kregs {
		t.kregs = regs
		if err := setRegs(t.tid, &t.kregs); err != nil {
			t.kregsValid = false
			return platform.Trap{}, c.threadErr(t, "PTRACE_SETREGS", err)
		}
		t.kregsValid = true
	}
	if !c.noPin {
		c.pin(t)
	}

	c.running.Store(uint64(a.pid)<<32 | uint64(uint32(t.tid)))
	if c.interrupt.Load() != 0 {
		// Interrupt may have seen running == 0 and sent nothing.
		c.running.Store(0)
		c.interrupt.Store(0)
		return platform.Trap{Kind: platform.TrapInterrupted}, nil
	}
	trap, err := c.run(t)
	c.running.Store(0)
	if err != nil {
		return platform.Trap{}, err
	}
	if c.balancing {
		c.settle(t)
	}
	if err := getRegs(t.tid, &ac.Regs); err != nil {
		t.kregsValid = false
		return platform.Trap{}, c.threadErr(t, "PTRACE_GETREGS", err)
	}
	t.kregs = ac.Regs
	return trap, nil
}

// run resumes t with PTRACE_SYSEMU until a stop that the sentry must see.
func (c *context) run(t *stubThread) (platform.Trap, error) {
	for {
		if err := ptraceReq(unix.PTRACE_SYSEMU, t.tid, 0, 0); err != nil {
			return platform.Trap{}, c.threadErr(t, "PTRACE_SYSEMU", err)
		}
		if _, err := wait4(t.tid, &t.status, 0); err != nil {
			return platform.Trap{}, c.threadErr(t, "wait4", err)
		}
		s := t.status
		if !wStopped(s) {
			t.dead = true
			t.kregsValid = false
			if t.as.removeThread(t) {
				t.as.fail(fmt.Errorf("stub thread %d %s", t.tid, describeExit(s)))
			}
			return platform.Trap{}, fmt.Errorf("ptrace: stub thread %d of stub %d %s: %w", t.tid, t.as.pid, describeExit(s), errStubDead)
		}
		if wSyscallStop(s) {
			return platform.Trap{Kind: platform.TrapSyscall}, nil
		}
		if wEvent(s) != 0 {
			continue // PTRACE_EVENT_STOP: a group stop or our own PTRACE_INTERRUPT
		}
		switch sig := wStopSig(s); sig {
		case int(interruptSignal):
			if c.interrupt.Swap(0) != 0 {
				return platform.Trap{Kind: platform.TrapInterrupted}, nil
			}
			// Stale: an Interrupt that already took effect. Suppress it.
		case int(unix.SIGSEGV), int(unix.SIGBUS), int(unix.SIGILL), int(unix.SIGFPE), int(unix.SIGTRAP):
			if err := getSiginfo(t.tid, &t.si); err != nil {
				return platform.Trap{}, c.threadErr(t, "PTRACE_GETSIGINFO", err)
			}
			if t.si.Code <= 0 {
				continue // sent by a process (kill, tgkill, sigqueue), not the thread's own fault
			}
			trap := platform.Trap{Kind: platform.TrapSignal, Signo: int32(sig), Code: t.si.Code, Addr: uintptr(t.si.Addr)}
			if sig == int(unix.SIGSEGV) || sig == int(unix.SIGBUS) {
				trap.Kind = platform.TrapFault
			}
			return trap, nil
		}
		// Anything else (a signal sent by someone else, a stop signal) is suppressed:
		// host signals are never delivered into a stub.
	}
}

// threadErr wraps an error of a ptrace operation on t, saying what probably happened.
func (c *context) threadErr(t *stubThread, op string, err error) error {
	if !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ECHILD) {
		return fmt.Errorf("ptrace: %s on stub thread %d of stub %d: %w", op, t.tid, t.as.pid, err)
	}
	if tid := int32(unix.Gettid()); tid != t.tracer {
		return fmt.Errorf("ptrace: %s on stub thread %d: called from OS thread %d but its tracer is OS thread %d (the task goroutine must stay locked to its OS thread): %w", op, t.tid, tid, t.tracer, err)
	}
	// ESRCH from the tracer: the thread is not in a ptrace-stop, so it is dying (the
	// stub was killed). Collect its exit status, which comes as soon as it is a zombie.
	t.kregsValid = false
	for i := 0; i < 100; i++ {
		r, werr := wait4(t.tid, &t.status, unix.WNOHANG)
		if werr != nil || (r == t.tid && !wStopped(t.status)) {
			t.dead = true
			why := "is gone"
			if werr == nil {
				why = describeExit(t.status)
			}
			if t.as.removeThread(t) {
				t.as.fail(fmt.Errorf("stub thread %d %s", t.tid, why))
			}
			return fmt.Errorf("ptrace: stub thread %d of stub %d %s: %w", t.tid, t.as.pid, why, errStubDead)
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("ptrace: %s on stub thread %d of stub %d: %w", op, t.tid, t.as.pid, err)
}

// attach gives the context a stub thread in a, replacing the one it had elsewhere (after
// execve), and carrying the FP state over.
func (c *context) attach(a *addressSpace, ac *arch.Context) (*stubThread, error) {
	tid := int32(unix.Gettid())
	if c.tracer == 0 {
		c.tracer = tid
	} else if c.tracer != tid {
		return nil, fmt.Errorf("ptrace: Switch called from OS thread %d, but this context's tracer is OS thread %d (the task goroutine must stay locked to its OS thread)", tid, c.tracer)
	}
	if old := c.t; old != nil {
		if !ac.FPValid && !old.dead && !old.as.dead.Load() {
			if err := c.PullFP(ac); err != nil {
				return nil, err
			}
		}
		c.dropThread(old)
		c.t = nil
	}
	if !ac.FPValid {
		// A new context whose FP state the sentry did not supply starts from a fresh
		// one, not from whatever the stub thread held: a reused thread held another
		// task's.
		c.PullFP(ac) // with no thread, this yields the fresh state
	}
	cpu := -1
	if !c.noPin {
		if cpu = c.cpu; cpu < 0 {
			cpu = getcpu() // where settle is about to pin us both
		}
	}
	t, err := a.newThread(c.tracer, cpu)
	if err != nil {
		return nil, err
	}
	c.t = t
	return t, nil
}

// dropThread parks t for reuse (addressSpace.park) or else makes it exit, if the calling
// OS thread is its tracer; otherwise it stays, stopped, until its address space is
// released (or its tracer exits, which kills the stub through PTRACE_O_EXITKILL).
func (c *context) dropThread(t *stubThread) {
	if t.dead {
		return
	}
	a := t.as
	if int32(unix.Gettid()) != t.tracer {
		return
	}
	if !a.removeThread(t) {
		return // the master reaps it (the address space is being released)
	}
	t.dead = true
	if a.park(t) {
		return
	}
	inj := injection{site: a.p.layout.inject, trapAt: a.p.layout.inject + 3, nr: sysExit}
	if _, err := inject(t.tid, &t.scratch, &t.status, &inj); err != nil {
		// The stub is dying or dead (or the thread is beyond reach): make sure it is
		// gone, then reap the thread.
		if !errors.Is(err, errStubDead) {
			a.fail(fmt.Errorf("making stub thread %d exit: %w", t.tid, err))
		}
		reapThread(t.tid, &t.status)
	}
}

// pushFP loads fp into t's XSAVE area.
func (c *context) pushFP(t *stubThread, fp arch.FPState) error {
	size := int(c.p.fpSize.Load())
	buf := []byte(fp)
	if len(buf) < size {
		if len(c.fpBuf) < size {
			c.fpBuf = make([]byte, size)
		}
		buf = c.fpBuf[:size]
		n := copy(buf, fp)
		clear(buf[n:])
	} else {
		buf = buf[:size]
	}
	if len(buf) == 0 {
		return fmt.Errorf("ptrace: empty FP state")
	}
	if err := setXState(t.tid, buf); err != nil {
		return c.threadErr(t, "PTRACE_SETREGSET(NT_X86_XSTATE)", err)
	}
	return nil
}

// PullFP implements platform.Context.PullFP.
func (c *context) PullFP(ac *arch.Context) error {
	if ac.FPValid {
		return nil // ac.FP is already the current state (it has not been loaded yet)
	}
	t := c.t
	if t == nil || t.dead {
		// No thread ran yet: the state is a fresh thread's.
		if len(ac.FP) < arch.FPStateSize() {
			ac.FP = arch.NewFPState()
		} else {
			ac.FP.Reset()
		}
		ac.FPValid = true
		return nil
	}
	size := int(c.p.fpSize.Load())
	if len(ac.FP) < size {
		if cap(ac.FP) >= size {
			ac.FP = ac.FP[:size]
		} else {
			ac.FP = make(arch.FPState, size)
		}
	}
	n, err := getXState(t.tid, ac.FP[:size])
	if err != nil {
		return c.threadErr(t, "PTRACE_GETREGSET(NT_X86_XSTATE)", err)
	}
	clear(ac.FP[n:])
	ac.FPValid = true
	return nil
}

// Interrupt implements platform.Context.Interrupt.
func (c *context) Interrupt() {
	c.interrupt.Store(1)
	if r := c.running.Load(); r != 0 {
		unix.Tgkill(int(r>>32), int(uint32(r)), interruptSignal)
	}
}

// Release implements platform.Context.Release. It must be called on the task goroutine
// (the tracer): then the stub thread is parked for reuse or exits, and the OS thread
// traces nothing any more (a thread of a stub whose address space was released first is
// dying with it, and is the reaper's to collect) and gets its CPU affinity back, so that
// the task goroutine may unlock it for the Go runtime to reuse. Called elsewhere, it
// cannot touch the stub thread, which then lives until its address space is released.
func (c *context) Release() {
	if t := c.t; t != nil {
		c.dropThread(t)
		c.t = nil
	}
	if c.haveMask && int32(unix.Gettid()) == c.tracer {
		unix.SchedSetaffinity(0, &c.origMask)
		c.haveMask = false
	}
	c.cpu = -1
}

// pin keeps the tracer and its stub thread on one CPU. A ptrace round trip wakes the
// other side twice; when the two are on different CPUs each wake-up is a cross-CPU
// interrupt, which costs tens of microseconds in a nested VM, against a few for a plain
// context switch on one CPU. Left alone, the host scheduler tends to wake the tracer on
// whichever CPU is idle, i.e. away from the stub thread. So both are pinned to the CPU the
// tracer runs on; every rebalanceInterval the tracer is unpinned for one round trip, lets
// the scheduler place it, and both are pinned again where it lands (settle), so that load
// still spreads across CPUs.
func (c *context) pin(t *stubThread) {
	if c.cpu >= 0 {
		if now := nanotime(); now >= c.nextBalance {
			// Unpin the tracer for this round trip; settle pins again after it.
			if err := unix.SchedSetaffinity(0, &c.origMask); err != nil {
				c.noPin = true
				return
			}
			c.balancing = true
		}
		return
	}
	if !c.haveMask {
		if err := unix.SchedGetaffinity(0, &c.origMask); err != nil {
			c.noPin = true
			return
		}
		c.haveMask = true
	}
	c.settle(t)
}

// settle pins the tracer and t to the CPU the tracer runs on now.
func (c *context) settle(t *stubThread) {
	c.balancing = false
	c.nextBalance = nanotime() + int64(rebalanceInterval)
	cpu := getcpu()
	if cpu < 0 || !c.origMask.IsSet(cpu) {
		c.noPin = true
		return
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		c.noPin = true
		return
	}
	if cpu != c.cpu {
		c.cpu = cpu
		c.pinThread(t.tid, cpu)
	}
}

func (c *context) pinThread(tid int32, cpu int) {
	var set unix.CPUSet
	set.Set(cpu)
	unix.SchedSetaffinity(int(tid), &set)
}

var startTime = time.Now()

// nanotime is a monotonic clock in nanoseconds (vDSO, no allocation).
func nanotime() int64 { return int64(time.Since(startTime)) }
