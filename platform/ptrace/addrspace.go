package ptrace

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/platform"
)

// addressSpace is one stub process. Its main thread (the "master" stub thread, pid == tid)
// is traced by the OS thread of the master goroutine, which forked it and serves requests
// that need a stub thread when the caller traces none: thread creation, and MapFile/Unmap
// from goroutines that are not the tracer of one of its threads.
type addressSpace struct {
	p   *ptracePlatform
	pid int32

	reqs chan *request
	quit chan struct{} // closed by Release
	done chan struct{} // closed when the master goroutine has reaped the stub and exited

	// dead is set once the stub is being killed or has died: no more injections.
	dead atomic.Bool

	// byTracer maps the tid of a tracer OS thread to a stopped stub thread of this
	// address space that it traces, for MapFile's fast path. It is an immutable map,
	// replaced under mu.
	byTracer atomic.Pointer[map[int32]*stubThread]

	releaseOnce sync.Once

	mu sync.Mutex
	// threads are the live task threads, by stub tid. Whoever removes a thread from it
	// (Context.Release, or the master at Release) reaps it.
	threads map[int32]*stubThread
	// spares are parked stub threads: untraced, asleep in pause(2) at the stub's park
	// point, ready to be seized by the next context that needs a thread here. Released
	// contexts park their threads (up to maxSpareThreads) instead of making them exit.
	// Nobody reaps them: untraced threads other than the leader are reaped by the kernel
	// when the stub dies.
	spares []int32
	// failure records why the stub was killed, for later errors.
	failure error
}

// maxSpareThreads bounds the parked threads an address space keeps for reuse.
const maxSpareThreads = 8

// addrNoRandomize is the personality flag ADDR_NO_RANDOMIZE.
const addrNoRandomize = 0x0040000

// request asks the master goroutine to inject a syscall into the stub's main thread.
type request struct {
	inj   injection
	reply chan result
}

type result struct {
	val uintptr
	err error
}

func newAddressSpace(p *ptracePlatform) (*addressSpace, error) {
	a := &addressSpace{
		p:       p,
		reqs:    make(chan *request),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		threads: map[int32]*stubThread{},
	}
	ready := make(chan error, 1)
	go a.master(ready)
	if err := <-ready; err != nil {
		<-a.done
		return nil, err
	}
	return a, nil
}

// master is the goroutine that owns the stub's main thread. It stays locked to its OS
// thread, which is the stub's parent and tracer, and exits at Release; the Go runtime then
// ends the OS thread (the stub, if somehow still alive, gets SIGKILL through both
// PR_SET_PDEATHSIG and PTRACE_O_EXITKILL).
func (a *addressSpace) master(ready chan<- error) {
	runtime.LockOSThread()
	defer close(a.done)
	var regs arch.Registers
	var status int32
	if err := a.start(&regs, &status); err != nil {
		a.dead.Store(true)
		if a.pid > 0 {
			unix.Kill(int(a.pid), unix.SIGKILL)
			a.reap()
		}
		ready <- err
		return
	}
	ready <- nil
	stubCPU := -1
	for {
		select {
		case r := <-a.reqs:
			// Keep the stub's main thread on this thread's CPU: each injection wakes it
			// and then us, and cross-CPU wake-ups are what costs most (see context.pin).
			if cpu := getcpu(); cpu >= 0 && cpu != stubCPU {
				var set unix.CPUSet
				set.Set(cpu)
				if unix.SchedSetaffinity(int(a.pid), &set) == nil {
					stubCPU = cpu
				}
			}
			r.reply <- a.serve(r, &regs, &status)
		case <-a.quit:
			a.dead.Store(true)
			unix.Kill(int(a.pid), unix.SIGKILL)
			a.reap()
			return
		}
	}
}

// start execs the stub, waits for it to install its seccomp filter, and unmaps everything
// the host mapped in it except the stub page.
func (a *addressSpace) start(regs *arch.Registers, status *int32) error {
	p := a.p
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
	a.pid = int32(pid)
	// The exec stop (PTRACE_TRACEME's SIGTRAP after execve).
	if _, err := wait4(a.pid, status, 0); err != nil {
		return fmt.Errorf("waiting for stub %d to exec: %w", pid, err)
	}
	if !wStopped(*status) || wStopSig(*status) != int(unix.SIGTRAP) {
		return fmt.Errorf("stub %d: expected its exec stop, got %s", pid, describeStatus(*status))
	}
	if err := ptraceReq(unix.PTRACE_SETOPTIONS, a.pid, 0, unix.PTRACE_O_EXITKILL|unix.PTRACE_O_TRACESYSGOOD); err != nil {
		return fmt.Errorf("PTRACE_SETOPTIONS on stub %d: %w", pid, err)
	}
	// Let it close its fds and install its filter, up to its "ready" int3.
	for {
		if err := ptraceReq(unix.PTRACE_CONT, a.pid, 0, 0); err != nil {
			return fmt.Errorf("PTRACE_CONT on stub %d: %w", pid, err)
		}
		if _, err := wait4(a.pid, status, 0); err != nil {
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
	if err := getRegs(a.pid, regs); err != nil {
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
		n, err := getXState(a.pid, buf)
		if err != nil {
			return fmt.Errorf("PTRACE_GETREGSET(NT_X86_XSTATE) on stub %d: %w", pid, err)
		}
		p.fpSize.CompareAndSwap(0, int64(n))
	}
	// Leave only the stub page.
	for _, r := range [][2]uintptr{{0, stubBase}, {stubBase + pageSize, taskSize - stubBase - pageSize}} {
		if _, err := a.injectMaster(regs, status, sysMunmap, r[0], r[1]); err != nil {
			return fmt.Errorf("stub %d: unmapping [%#x, %#x): %w", pid, r[0], r[0]+r[1], err)
		}
	}
	return nil
}

// injectMaster runs a syscall in the master stub thread (on the master goroutine).
func (a *addressSpace) injectMaster(regs *arch.Registers, status *int32, nr uintptr, args ...uintptr) (uintptr, error) {
	inj := injection{site: a.p.layout.inject, trapAt: a.p.layout.inject + 3, nr: nr}
	copy(inj.args[:], args)
	r, err := inject(a.pid, regs, status, &inj)
	if err != nil {
		return 0, err
	}
	return r, errnoResult(r)
}

// serve runs one request on the master goroutine.
func (a *addressSpace) serve(r *request, regs *arch.Registers, status *int32) result {
	if a.dead.Load() {
		return result{err: a.deadErr()}
	}
	v, err := inject(a.pid, regs, status, &r.inj)
	if err != nil {
		a.fail(err)
		return result{err: err}
	}
	return result{val: v}
}

// call sends a request to the master goroutine and waits for its answer.
func (a *addressSpace) call(inj injection) (uintptr, error) {
	r := &request{inj: inj, reply: make(chan result, 1)}
	select {
	case a.reqs <- r:
	case <-a.done:
		return 0, a.deadErr()
	}
	res := <-r.reply
	return res.val, res.err
}

// fail records why the stub is unusable and kills it.
func (a *addressSpace) fail(err error) {
	a.mu.Lock()
	if a.failure == nil {
		a.failure = err
	}
	a.mu.Unlock()
	a.dead.Store(true)
	unix.Kill(int(a.pid), unix.SIGKILL)
}

func (a *addressSpace) deadErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failure != nil {
		return fmt.Errorf("address space (stub %d) is dead: %w", a.pid, a.failure)
	}
	return fmt.Errorf("address space (stub %d) released: %w", a.pid, errStubDead)
}

// reap collects the task threads still registered and then the stub's main thread, after
// the stub was sent SIGKILL. Any thread of the sentry may wait for a tracee of another
// thread of the sentry, so the master can reap threads traced by task OS threads.
func (a *addressSpace) reap() {
	a.mu.Lock()
	ts := a.threads
	a.threads = map[int32]*stubThread{}
	a.byTracer.Store(nil)
	a.mu.Unlock()
	var status int32
	for tid := range ts {
		reapThread(tid, &status)
	}
	reapThread(a.pid, &status)
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

// Release kills the stub process, reaps it and ends the master goroutine.
func (a *addressSpace) Release() {
	a.releaseOnce.Do(func() {
		a.dead.Store(true)
		close(a.quit)
		<-a.done
	})
}

// newThread gives the calling OS thread, whose tid is tracer, a stub thread that it
// traces: a parked spare if there is one, or else a new thread that the master clones at
// the stub's clone point. Either way the thread sleeps untraced in the stub's pause loop
// until the caller seizes and interrupts it.
func (a *addressSpace) newThread(tracer int32) (*stubThread, error) {
	var tid int32
	a.mu.Lock()
	if n := len(a.spares); n > 0 {
		tid = a.spares[n-1]
		a.spares = a.spares[:n-1]
	}
	a.mu.Unlock()
	if tid == 0 {
		l := &a.p.layout
		r, err := a.call(injection{site: l.clone, trapAt: l.cloneTrap, nr: sysClone, args: [6]uintptr{stubCloneFlags}})
		if err != nil {
			return nil, fmt.Errorf("creating a stub thread: %w", err)
		}
		if err := errnoResult(r); err != nil {
			return nil, fmt.Errorf("creating a stub thread: clone: %w", err)
		}
		tid = int32(r)
	}
	// EXITKILL: if this OS thread ever exits while the stub thread lives, the stub dies
	// rather than running application code untraced (see Context.Release).
	if err := ptraceReq(unix.PTRACE_SEIZE, tid, 0, unix.PTRACE_O_TRACESYSGOOD|unix.PTRACE_O_EXITKILL); err != nil {
		err = fmt.Errorf("PTRACE_SEIZE of new stub thread %d: %w", tid, err)
		a.fail(err)
		return nil, err
	}
	t := &stubThread{as: a, tid: tid, tracer: tracer}
	if err := ptraceReq(unix.PTRACE_INTERRUPT, tid, 0, 0); err != nil {
		err = fmt.Errorf("PTRACE_INTERRUPT of new stub thread %d: %w", tid, err)
		a.fail(err)
		reapThread(tid, &t.status)
		return nil, err
	}
	// Any stop will do: the stop reported may also be a stray signal's.
	if _, err := wait4(tid, &t.status, 0); err != nil || !wStopped(t.status) {
		if err == nil {
			err = fmt.Errorf("new stub thread %d %s: %w", tid, describeExit(t.status), errStubDead)
		}
		a.fail(err)
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dead.Load() {
		// Release may have snapshotted the threads already: reap it ourselves.
		unix.Tgkill(int(a.pid), int(tid), unix.SIGKILL)
		reapThread(tid, &t.status)
		return nil, a.deadErrLocked()
	}
	a.threads[tid] = t
	a.updateTracersLocked()
	return t, nil
}

func (a *addressSpace) deadErrLocked() error {
	if a.failure != nil {
		return fmt.Errorf("address space (stub %d) is dead: %w", a.pid, a.failure)
	}
	return fmt.Errorf("address space (stub %d) released: %w", a.pid, errStubDead)
}

// park makes t, a stopped thread that the calling OS thread traces and that was just
// unregistered, a spare: it points the thread at the stub's pause loop and detaches it.
// It reports false, leaving t traced and stopped, if t cannot be parked.
func (a *addressSpace) park(t *stubThread) bool {
	if a.dead.Load() {
		return false
	}
	a.mu.Lock()
	full := len(a.spares) >= maxSpareThreads
	a.mu.Unlock()
	if full {
		return false
	}
	// The thread runs nothing but "mov eax, SYS_pause; syscall; jmp" until it is seized
	// again: it touches no memory, so no register but rip matters. orig_rax -1 keeps the
	// kernel from restarting whatever syscall it stopped in.
	t.scratch = arch.Registers{
		Rip:     uint64(a.p.layout.child),
		OrigRax: ^uint64(0),
		Cs:      arch.UserCS,
		Ss:      arch.UserDS,
		Eflags:  arch.InitEflags,
	}
	if setRegs(t.tid, &t.scratch) != nil {
		return false
	}
	if ptraceReq(unix.PTRACE_DETACH, t.tid, 0, 0) != nil {
		return false
	}
	a.mu.Lock()
	if !a.dead.Load() {
		a.spares = append(a.spares, t.tid)
	}
	a.mu.Unlock()
	return true
}

// removeThread unregisters t; it reports whether t was registered (and so whether the
// caller must reap it).
func (a *addressSpace) removeThread(t *stubThread) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.threads[t.tid] != t {
		return false
	}
	delete(a.threads, t.tid)
	a.updateTracersLocked()
	return true
}

func (a *addressSpace) updateTracersLocked() {
	m := make(map[int32]*stubThread, len(a.threads))
	for _, t := range a.threads {
		m[t.tracer] = t
	}
	a.byTracer.Store(&m)
}

// syscall runs a host syscall in the stub: directly in a stub thread that the calling OS
// thread traces (it is stopped, since its tracer is here), or else through the master.
func (a *addressSpace) syscall(nr uintptr, args ...uintptr) (uintptr, error) {
	if a.dead.Load() {
		return 0, a.deadErr()
	}
	inj := injection{site: a.p.layout.inject, trapAt: a.p.layout.inject + 3, nr: nr}
	copy(inj.args[:], args)
	if m := a.byTracer.Load(); m != nil && len(*m) > 0 {
		if t := (*m)[int32(unix.Gettid())]; t != nil && !t.dead {
			t.kregsValid = false
			r, err := inject(t.tid, &t.scratch, &t.status, &inj)
			if err != nil {
				if errors.Is(err, errStubDead) {
					t.dead = true
				}
				a.fail(err)
				return 0, err
			}
			return r, nil
		}
	}
	return a.call(inj)
}

// MapFile implements platform.AddressSpace.MapFile by injecting
// mmap(addr, length, prot, MAP_SHARED|MAP_FIXED, 0, offset) into the stub.
func (a *addressSpace) MapFile(addr uintptr, fd int, offset, length uint64, perms platform.Access) error {
	if fd != a.p.memFD {
		return fmt.Errorf("ptrace: MapFile of fd %d: only the memory file (fd %d) can be mapped", fd, a.p.memFD)
	}
	if addr%pageSize != 0 || offset%pageSize != 0 {
		return fmt.Errorf("ptrace: MapFile(%#x, offset %#x): address and offset must be page-aligned", addr, offset)
	}
	if length == 0 {
		return fmt.Errorf("ptrace: MapFile(%#x): zero length", addr)
	}
	length = (length + pageSize - 1) &^ (pageSize - 1)
	if addr < minUserAddress || addr >= maxUserAddress || length > uint64(maxUserAddress-addr) {
		return fmt.Errorf("ptrace: MapFile [%#x, %#x): outside the user range [%#x, %#x)", addr, uint64(addr)+length, uintptr(minUserAddress), uintptr(maxUserAddress))
	}
	if offset+length < offset {
		return fmt.Errorf("ptrace: MapFile(%#x): file range overflows", addr)
	}
	r, err := a.syscall(sysMmap, addr, uintptr(length), uintptr(perms.Prot()), unix.MAP_SHARED|unix.MAP_FIXED, 0, uintptr(offset))
	if err != nil {
		return fmt.Errorf("ptrace: MapFile [%#x, %#x): %w", addr, uint64(addr)+length, err)
	}
	if err := errnoResult(r); err != nil {
		return fmt.Errorf("ptrace: mmap [%#x, %#x) in stub %d: %w", addr, uint64(addr)+length, a.pid, err)
	}
	if r != addr {
		err := fmt.Errorf("ptrace: mmap in stub %d returned %#x, not the fixed address %#x", a.pid, r, addr)
		a.fail(err)
		return err
	}
	return nil
}

// Unmap implements platform.AddressSpace.Unmap. A failure to unmap would leave the
// application with access to memory the sentry may hand to someone else, so it kills the
// stub (later Switches fail).
func (a *addressSpace) Unmap(addr, length uintptr) {
	end := addr + length
	if end < addr {
		end = maxUserAddress
	}
	addr &^= pageSize - 1
	end = (end + pageSize - 1) &^ (pageSize - 1)
	if addr < minUserAddress {
		addr = minUserAddress
	}
	if end > maxUserAddress {
		end = maxUserAddress
	}
	if addr >= end {
		return
	}
	r, err := a.syscall(sysMunmap, addr, end-addr)
	if err == nil {
		err = errnoResult(r)
	}
	if err != nil && !a.dead.Load() {
		a.fail(fmt.Errorf("munmap [%#x, %#x): %w", addr, end, err))
	}
}

// describeStatus describes any wait status.
func describeStatus(s int32) string {
	if wStopped(s) {
		if wEvent(s) != 0 {
			return fmt.Sprintf("ptrace event %d stop", wEvent(s))
		}
		return fmt.Sprintf("stop by signal %v", syscall.Signal(wStopSig(s)))
	}
	return describeExit(s)
}
