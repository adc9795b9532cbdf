package ptrace

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
)

// The master is one goroutine per platform, locked to its OS thread for the platform's
// life. That thread is the parent and the tracer of the template stub and of the main
// thread of every stub process, so that it can inject syscalls into any of them when no
// task thread can (see addressSpace.syscall) and clone new threads in them.
//
// New stub processes are not exec'd: the template, the only stub ever exec'd (once per
// platform), is made to clone itself at its fork point with stubForkFlags. The child has
// a copy of the template's address space (nothing but the stub page) and file table
// (nothing but the memory file), inherits its seccomp filter and no_new_privs, and is
// traced by the master thread from birth (CLONE_PTRACE, with PTRACE_O_EXITKILL carried
// over), so it is never untraced, and dies if the master thread (or the sentry) dies.
// The master then clones one spare thread in it, parked in the pause loop, so that the
// first context to switch into the address space only has to seize it.
//
// The master keeps poolSize such stubs ready (pool), refilling the pool whenever it is
// idle, so that NewAddressSpace normally costs a channel receive.

// poolSize is how many ready stub processes the master keeps.
const poolSize = 3

// stubProc is a new stub process: its main thread, stopped and traced by the master
// thread, and a spare thread parked in its pause loop (or 0).
type stubProc struct {
	pid   int32
	spare int32
}

type master struct {
	p *ptracePlatform

	reqs  chan *request
	pool  chan stubProc
	nudge chan struct{} // asks an idle master to refill the pool
	quit  chan struct{} // closed by close
	done  chan struct{} // closed when the master goroutine has exited

	// templatePid mirrors template, and tid is the master's OS thread, for tests.
	templatePid atomic.Int32
	tid         atomic.Int32

	// The rest belongs to the master goroutine.
	template int32 // pid of the template stub, or 0
	regs     arch.Registers
	status   int32
	refill   bool // refill the pool when idle (false after a failure, until a nudge)
}

type reqKind int

const (
	reqInject      reqKind = iota // run inj in the main thread of as
	reqNewStub                    // make a stub process now (the pool was empty)
	reqExitForTest                // end the master goroutine and its OS thread at once
)

// request asks the master goroutine for something.
type request struct {
	kind  reqKind
	as    *addressSpace
	inj   injection
	batch []injection // deferred injections to run first (see addressSpace.syscall)
	reply chan result
}

type result struct {
	val  uintptr
	stub stubProc
	err  error
}

func newMaster(p *ptracePlatform) *master {
	m := &master{
		p:      p,
		reqs:   make(chan *request),
		pool:   make(chan stubProc, poolSize),
		nudge:  make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		refill: true,
	}
	go m.run()
	return m
}

// run is the master goroutine. It never unlocks its OS thread: when it returns (close),
// the thread ends, and PTRACE_O_EXITKILL and PR_SET_PDEATHSIG kill whatever stub is left.
func (m *master) run() {
	runtime.LockOSThread()
	defer close(m.done)
	m.tid.Store(int32(unix.Gettid()))
	for {
		// Requests first; refill the pool when there are none.
		select {
		case r := <-m.reqs:
			if r.kind == reqExitForTest {
				return
			}
			r.reply <- m.serve(r)
			continue
		case <-m.quit:
			m.shutdown()
			return
		default:
		}
		if m.refill && len(m.pool) < cap(m.pool) {
			s, err := m.newStub()
			if err != nil {
				m.refill = false // until the next nudge: do not spin on a failure
				continue
			}
			m.pool <- s // only the master sends: this does not block
			continue
		}
		select {
		case r := <-m.reqs:
			if r.kind == reqExitForTest {
				return
			}
			r.reply <- m.serve(r)
		case <-m.nudge:
			m.refill = true
		case <-m.quit:
			m.shutdown()
			return
		}
	}
}

// call sends a request to the master goroutine and waits for its answer.
func (m *master) call(r *request) result {
	r.reply = make(chan result, 1)
	select {
	case m.reqs <- r:
	case <-m.done:
		return result{err: fmt.Errorf("ptrace platform closed: %w", errStubDead)}
	}
	return <-r.reply
}

func (m *master) serve(r *request) result {
	switch r.kind {
	case reqInject:
		a := r.as
		if a.dead.Load() {
			return result{err: a.deadErr()}
		}
		// Keep the stub's main thread on this thread's CPU: each injection wakes it and
		// then us, and cross-CPU wake-ups are what costs most (see context.pin).
		if cpu := getcpu(); cpu >= 0 && cpu != a.stubCPU {
			var set unix.CPUSet
			set.Set(cpu)
			if unix.SchedSetaffinity(int(a.pid), &set) == nil {
				a.stubCPU = cpu
			}
		}
		for i := range r.batch {
			v, err := inject(a.pid, &m.regs, &m.status, &r.batch[i])
			if err == nil {
				err = checkDeferred(&r.batch[i], v)
			}
			if err != nil {
				err = fmt.Errorf("ptrace: deferred injection in stub %d: %w", a.pid, err)
				a.fail(err)
				return result{err: err}
			}
		}
		v, err := inject(a.pid, &m.regs, &m.status, &r.inj)
		if err != nil {
			a.fail(err)
			return result{err: err}
		}
		return result{val: v}
	case reqNewStub:
		s, err := m.newStub()
		return result{stub: s, err: err}
	}
	return result{err: fmt.Errorf("ptrace: unknown master request %d", r.kind)}
}

// stub returns a new stub process: a ready one from the pool, or else one made now.
func (m *master) stub() (stubProc, error) {
	for {
		select {
		case s := <-m.pool:
			select {
			case m.nudge <- struct{}{}:
			default:
			}
			// A stub killed while in the pool has lost its spare thread (an untraced
			// thread is reaped as soon as it dies).
			if unix.Tgkill(int(s.pid), int(s.spare), 0) != nil {
				m.p.reap(s.pid, nil)
				continue
			}
			return s, nil
		default:
		}
		r := m.call(&request{kind: reqNewStub})
		return r.stub, r.err
	}
}

// newStub clones the template into a new stub process and gives it a spare thread. It
// runs on the master goroutine.
func (m *master) newStub() (stubProc, error) {
	l := &m.p.layout
	var r uintptr
	var err error
	for try := 0; try < 2; try++ {
		if m.template == 0 {
			if err := m.startTemplate(); err != nil {
				return stubProc{}, err
			}
		}
		inj := injection{site: l.fork, trapAt: l.forkTrap, nr: sysClone, args: [6]uintptr{stubForkFlags}}
		r, err = inject(m.template, &m.regs, &m.status, &inj)
		if err == nil {
			if err := errnoResult(r); err != nil {
				return stubProc{}, fmt.Errorf("ptrace: cloning the template stub: %w", err)
			}
			break
		}
		// The template is beyond reach (killed from outside?): start another.
		m.killTemplate()
	}
	if err != nil {
		return stubProc{}, fmt.Errorf("ptrace: cloning the template stub: %w", err)
	}
	s := stubProc{pid: int32(r)}
	// The child starts traced by this thread with a SIGSTOP pending (CLONE_PTRACE); the
	// first injection discards it.
	if _, err := wait4(s.pid, &m.status, 0); err != nil || !wStopped(m.status) {
		if err == nil {
			err = fmt.Errorf("%s: %w", describeExit(m.status), errStubDead)
		}
		unix.Kill(int(s.pid), unix.SIGKILL)
		m.p.reap(s.pid, nil)
		return stubProc{}, fmt.Errorf("ptrace: new stub %d: %w", s.pid, err)
	}
	inj := injection{site: l.clone, trapAt: l.cloneTrap, nr: sysClone, args: [6]uintptr{stubCloneFlags}}
	r, err = inject(s.pid, &m.regs, &m.status, &inj)
	if err == nil {
		err = errnoResult(r)
	}
	if err != nil {
		unix.Kill(int(s.pid), unix.SIGKILL)
		m.p.reap(s.pid, nil)
		return stubProc{}, fmt.Errorf("ptrace: creating a thread in new stub %d: %w", s.pid, err)
	}
	s.spare = int32(r)
	return s, nil
}

// startTemplate execs the template stub, waits for it to install its seccomp filter, and
// unmaps everything the host mapped in it except the stub page.
func (m *master) startTemplate() error {
	p := m.p
	regs, status := &m.regs, &m.status
	// With ADDR_NO_RANDOMIZE the host places the stub's stack and vDSO deterministically,
	// far from stubBase. personality is per thread and inherited by the child.
	old, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	if e != 0 {
		return fmt.Errorf("personality: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, old|addrNoRandomize, 0, 0); e != 0 {
		return fmt.Errorf("personality(ADDR_NO_RANDOMIZE): %w", e)
	}
	pid, err := syscall.ForkExec(p.stubPath, []string{"runsc-ptrace-stub"}, &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{uintptr(p.memFD)}, // the memory file is fd 0 in the stub
		Sys: &syscall.SysProcAttr{
			Ptrace:    true,
			Setsid:    true,
			Pdeathsig: syscall.SIGKILL,
		},
	})
	unix.RawSyscall(unix.SYS_PERSONALITY, old, 0, 0)
	if err != nil {
		return fmt.Errorf("starting stub %s: %w", p.stubPath, err)
	}
	m.template = int32(pid)
	m.templatePid.Store(m.template)
	if err := m.setUpTemplate(regs, status); err != nil {
		m.killTemplate()
		return err
	}
	return nil
}

func (m *master) setUpTemplate(regs *arch.Registers, status *int32) error {
	p, pid := m.p, m.template
	// The exec stop (PTRACE_TRACEME's SIGTRAP after execve).
	if _, err := wait4(pid, status, 0); err != nil {
		return fmt.Errorf("waiting for stub %d to exec: %w", pid, err)
	}
	if !wStopped(*status) || wStopSig(*status) != int(unix.SIGTRAP) {
		return fmt.Errorf("stub %d: expected its exec stop, got %s", pid, describeStatus(*status))
	}
	if err := ptraceReq(unix.PTRACE_SETOPTIONS, pid, 0, unix.PTRACE_O_EXITKILL|unix.PTRACE_O_TRACESYSGOOD); err != nil {
		return fmt.Errorf("PTRACE_SETOPTIONS on stub %d: %w", pid, err)
	}
	// Let it close its fds and install its filter, up to its "ready" int3.
	for {
		if err := ptraceReq(unix.PTRACE_CONT, pid, 0, 0); err != nil {
			return fmt.Errorf("PTRACE_CONT on stub %d: %w", pid, err)
		}
		if _, err := wait4(pid, status, 0); err != nil {
			return fmt.Errorf("waiting for stub %d: %w", pid, err)
		}
		if !wStopped(*status) {
			return fmt.Errorf("stub %d %s during set-up", pid, describeExit(*status))
		}
		sig := wStopSig(*status)
		if sig == int(unix.SIGTRAP) || sig == int(unix.SIGILL) {
			break
		}
	}
	if err := getRegs(pid, regs); err != nil {
		return fmt.Errorf("PTRACE_GETREGS on stub %d: %w", pid, err)
	}
	switch uintptr(regs.Rip) {
	case p.layout.ready + 1:
	case p.layout.fail:
		step := [...]string{"?", "close_range", "prctl(PR_SET_NO_NEW_PRIVS)", "seccomp(SECCOMP_SET_MODE_FILTER)"}
		s := step[0]
		if regs.Rbx < uint64(len(step)) {
			s = step[regs.Rbx]
		}
		return fmt.Errorf("stub %d set-up failed: %s: %w", pid, s, errnoResult(uintptr(regs.Rax)))
	default:
		return fmt.Errorf("stub %d stopped at unexpected rip %#x during set-up (%s)", pid, regs.Rip, describeStatus(*status))
	}
	if p.fpSize.Load() == 0 {
		buf := make([]byte, 1<<16)
		n, err := getXState(pid, buf)
		if err != nil {
			return fmt.Errorf("PTRACE_GETREGSET(NT_X86_XSTATE) on stub %d: %w", pid, err)
		}
		p.fpSize.CompareAndSwap(0, int64(n))
	}
	// Leave only the stub page.
	for _, r := range [][2]uintptr{{0, stubBase}, {stubBase + pageSize, taskSize - stubBase - pageSize}} {
		inj := injection{site: p.layout.inject, trapAt: p.layout.inject + 3, nr: sysMunmap, args: [6]uintptr{r[0], r[1]}}
		v, err := inject(pid, regs, status, &inj)
		if err == nil {
			err = errnoResult(v)
		}
		if err != nil {
			return fmt.Errorf("stub %d: unmapping [%#x, %#x): %w", pid, r[0], r[0]+r[1], err)
		}
	}
	// Its clones start on this thread's CPU (see context.pin).
	if cpu := getcpu(); cpu >= 0 {
		var set unix.CPUSet
		set.Set(cpu)
		unix.SchedSetaffinity(int(pid), &set)
	}
	return nil
}

func (m *master) killTemplate() {
	if m.template != 0 {
		unix.Kill(int(m.template), unix.SIGKILL)
		m.p.reap(m.template, nil)
		m.template = 0
		m.templatePid.Store(0)
	}
}

// shutdown kills the template and the pooled stubs (close).
func (m *master) shutdown() {
	m.killTemplate()
	for {
		select {
		case s := <-m.pool:
			unix.Kill(int(s.pid), unix.SIGKILL)
			m.p.reap(s.pid, nil)
		default:
			return
		}
	}
}

// reapThread waits until thread tid (killed) is gone.
func reapThread(tid int32, status *int32) {
	for {
		if _, err := wait4(tid, status, 0); err != nil {
			return // ECHILD: already reaped, or detached and autoreaped
		}
		if !wStopped(*status) {
			return
		}
	}
}

// reapStub collects the given task threads and then the main thread of a stub process that
// was sent SIGKILL. Any thread of the sentry may wait for a child or tracee of another of
// its threads. The main thread is reported only once the others are gone.
func reapStub(pid int32, tids []int32) {
	var status int32
	for _, tid := range tids {
		reapThread(tid, &status)
	}
	reapThread(pid, &status)
}

// reapJob is a stub process for the reaper: its main thread and the task threads that
// were registered when it was killed; kill says the reaper is to send the SIGKILL.
type reapJob struct {
	pid  int32
	tids []int32
	kill bool
}

// reapQueue bounds the stubs waiting for the reaper; past it, reap waits.
const reapQueue = 256

// reap collects a killed stub process (see reapStub) in the background: the reaper
// goroutine waits for its threads to die. The caller need not wait: a stub sent SIGKILL
// never returns to user mode.
func (p *ptracePlatform) reap(pid int32, tids []int32) {
	p.queueReap(reapJob{pid: pid, tids: tids})
}

// killAndReap has the reaper kill stub process pid, and then collect it. It is for stubs
// in which no thread can run application code any more (see addressSpace.Release), whose
// teardown then need not delay the caller.
func (p *ptracePlatform) killAndReap(pid int32) {
	p.queueReap(reapJob{pid: pid, kill: true})
}

func (p *ptracePlatform) queueReap(j reapJob) {
	p.reapMu.Lock()
	if p.reapq == nil && !p.reapClosed {
		p.reapq = make(chan reapJob, reapQueue)
		p.reaperDone = make(chan struct{})
		go func() {
			defer close(p.reaperDone)
			for j := range p.reapq {
				j.run()
			}
		}()
	}
	queued := false
	if !p.reapClosed {
		select {
		case p.reapq <- j:
			queued = true
		default:
		}
	}
	p.reapMu.Unlock()
	if !queued {
		j.run()
	}
}

func (j *reapJob) run() {
	if j.kill {
		unix.Kill(int(j.pid), unix.SIGKILL)
	}
	reapStub(j.pid, j.tids)
}

// stopReaper makes the reaper finish its queue and exit, for close.
func (p *ptracePlatform) stopReaper() {
	p.reapMu.Lock()
	q := p.reapq
	if p.reapClosed {
		q = nil
	}
	p.reapClosed = true
	p.reapMu.Unlock()
	if q != nil {
		close(q)
		<-p.reaperDone
	}
}

// close stops the master and kills the template and the pooled stubs. Address spaces still
// in use die with the master thread (PTRACE_O_EXITKILL). For tests.
func (m *master) close() {
	select {
	case <-m.quit:
	default:
		close(m.quit)
	}
	<-m.done
}
