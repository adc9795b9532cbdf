package ptrace

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/platform"
)

// addressSpace is one stub process. Its main thread (pid == tid) is traced by the
// platform's master thread (master.go), which serves the requests that need a stub thread
// when the caller traces none: thread creation when there is no spare, and MapFile/Unmap
// from goroutines that trace no thread of this address space.
type addressSpace struct {
	p   *ptracePlatform
	m   *master
	pid int32

	// dead is set once the stub is being killed or has died: no more injections.
	dead atomic.Bool
	// failure records why the stub was killed, for later errors (nil if it was released).
	failure atomic.Pointer[error]

	// byTracer maps the tid of a tracer OS thread to a stopped stub thread of this
	// address space that it traces, for MapFile's fast path. It is an immutable map,
	// replaced under mu.
	byTracer atomic.Pointer[map[int32]*stubThread]

	releaseOnce sync.Once

	// stubCPU is the CPU the main thread is pinned to; used by the master goroutine only.
	stubCPU int

	// mapped is what MapFile mapped and Unmap did not remove, for Protect.
	mapMu  sync.Mutex
	mapped rangeSet

	mu sync.Mutex
	// threads are the live task threads, by stub tid. Whoever removes a thread from it
	// (Context.Release, or Release) reaps it.
	threads map[int32]*stubThread
	// spares are parked stub threads: untraced, asleep in pause(2) at the stub's park
	// point, ready to be seized by the next context that needs a thread here. A new
	// address space comes with one; released contexts park their threads (up to
	// maxSpareThreads) instead of making them exit. Nobody reaps them: untraced threads
	// other than the leader are reaped by the kernel when the stub dies.
	spares []int32
	// pending are injections deferred while the address space has no task thread (see
	// syscall), in order; the first thread to attach runs them before anything else.
	// Whenever pending is not empty, threads is empty.
	pending []injection
}

var _ platform.Protector = (*addressSpace)(nil)

// maxPending bounds the deferred injections of an address space; past it they go to the
// master.
const maxPending = 64

// maxSpareThreads bounds the parked threads an address space keeps for reuse.
const maxSpareThreads = 8

// addrNoRandomize is the personality flag ADDR_NO_RANDOMIZE.
const addrNoRandomize = 0x0040000

func newAddressSpace(p *ptracePlatform) (*addressSpace, error) {
	m := p.master()
	s, err := m.stub()
	if err != nil {
		return nil, err
	}
	a := &addressSpace{
		p:       p,
		m:       m,
		pid:     s.pid,
		stubCPU: -1,
		threads: map[int32]*stubThread{},
	}
	if s.spare != 0 {
		a.spares = []int32{s.spare}
	}
	return a, nil
}

// call has the master inject a syscall into the stub's main thread.
func (a *addressSpace) call(inj injection) (uintptr, error) {
	r := a.m.call(&request{kind: reqInject, as: a, inj: inj})
	return r.val, r.err
}

// fail records why the stub is unusable and kills it. It takes no lock: the master calls
// it while a goroutine holding mu may be waiting for it.
func (a *addressSpace) fail(err error) {
	a.failure.CompareAndSwap(nil, &err)
	a.dead.Store(true)
	unix.Kill(int(a.pid), unix.SIGKILL)
}

// deadErr is the error for operations on a dead address space. It takes no lock.
func (a *addressSpace) deadErr() error {
	if f := a.failure.Load(); f != nil {
		return fmt.Errorf("address space (stub %d) is dead: %w", a.pid, *f)
	}
	return fmt.Errorf("address space (stub %d) released: %w", a.pid, errStubDead)
}

// Release kills the stub process and leaves it to the reaper. Once dead is set nothing is
// injected into the stub or resumed in it, and a thread that was not yet registered never
// will be (newThread checks dead under mu); so if no task thread is registered, no thread
// of the stub can run application code any more (spares only run the pause loop, the
// main thread only injected syscalls), and the SIGKILL, whose teardown of the stub costs
// the caller ~30 us, is left to the reaper too. (Memory the sentry freed before Release
// is normally out of the stub's reach anyway: freeing punches it out of the memory file,
// which unmaps it from every process.)
func (a *addressSpace) Release() {
	a.releaseOnce.Do(func() {
		a.dead.Store(true)
		a.mu.Lock()
		tids := make([]int32, 0, len(a.threads))
		for tid := range a.threads {
			tids = append(tids, tid)
		}
		a.threads = map[int32]*stubThread{}
		a.spares = nil
		a.pending = nil
		a.byTracer.Store(nil)
		a.mu.Unlock()
		if len(tids) == 0 {
			a.p.killAndReap(a.pid)
			return
		}
		unix.Kill(int(a.pid), unix.SIGKILL)
		a.p.reap(a.pid, tids)
	})
}

// newThread gives the calling OS thread, whose tid is tracer, a stub thread that it
// traces: a parked spare if there is one, or else a new thread that the master clones at
// the stub's clone point. Either way the thread sleeps untraced in the stub's pause loop
// until the caller seizes and interrupts it. If cpu >= 0 the thread is pinned to it
// first, so that the interrupt does not wake it on another CPU (see context.pin).
func (a *addressSpace) newThread(tracer int32, cpu int) (*stubThread, error) {
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
	if cpu >= 0 {
		var set unix.CPUSet
		set.Set(cpu)
		unix.SchedSetaffinity(int(tid), &set)
	}
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
	if a.dead.Load() {
		a.mu.Unlock()
		// Release may have snapshotted the threads already: reap it ourselves.
		unix.Tgkill(int(a.pid), int(tid), unix.SIGKILL)
		reapThread(tid, &t.status)
		return nil, a.deadErr()
	}
	// Deferred injections run before the thread is registered, under mu, so that nothing
	// injected later overtakes them and no application code runs before them.
	var err error
	for i := range a.pending {
		inj := &a.pending[i]
		var r uintptr
		if r, err = inject(tid, &t.scratch, &t.status, inj); err == nil {
			err = checkDeferred(inj, r)
		}
		if err != nil {
			break
		}
	}
	a.pending = nil
	if err == nil {
		a.threads[tid] = t
		a.updateTracersLocked()
	}
	a.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("ptrace: deferred injection in stub %d: %w", a.pid, err)
		a.fail(err)
		unix.Tgkill(int(a.pid), int(tid), unix.SIGKILL)
		reapThread(tid, &t.status)
		return nil, err
	}
	return t, nil
}

// deferredResult is what a deferred injection returns at once: what it must return when
// it runs (checkDeferred).
func deferredResult(inj *injection) uintptr {
	if inj.nr == sysMmap {
		return inj.args[0] // MAP_FIXED
	}
	return 0
}

// checkDeferred reports an error if a deferred injection returned r, not what
// deferredResult promised.
func checkDeferred(inj *injection, r uintptr) error {
	if err := errnoResult(r); err != nil {
		return fmt.Errorf("syscall %d: %w", inj.nr, err)
	}
	if want := deferredResult(inj); r != want {
		return fmt.Errorf("syscall %d returned %#x, want %#x", inj.nr, r, want)
	}
	return nil
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
	// No task thread at all (a new address space that the exec loader or a fork's
	// CLONE_CHILD_SETTID fills before its first thread runs, or one whose threads all
	// left): nothing runs in the stub, so the call can wait for the first thread to
	// attach (newThread), which saves a round trip through the master now. Its failure,
	// unlikely for calls the sentry checked, then kills the stub.
	a.mu.Lock()
	if len(a.threads) == 0 && !a.dead.Load() {
		if len(a.pending) < maxPending {
			a.pending = append(a.pending, inj)
			a.mu.Unlock()
			return deferredResult(&inj), nil
		}
		// Too many: the master runs them all, then this one, in order; mu stays held so
		// that nothing overtakes them (the master takes no lock of ours).
		r := a.m.call(&request{kind: reqInject, as: a, batch: a.pending, inj: inj})
		a.pending = nil
		a.mu.Unlock()
		return r.val, r.err
	}
	a.mu.Unlock()
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
	a.mapMu.Lock()
	a.mapped.add(addr, addr+uintptr(length))
	a.mapMu.Unlock()
	return nil
}

// userRange page-aligns [addr, addr+length) outward and clips it to the user range.
func userRange(addr, length uintptr) (start, end uintptr, ok bool) {
	end = addr + length
	if end < addr {
		end = maxUserAddress
	}
	start = addr &^ (pageSize - 1)
	end = (end + pageSize - 1) &^ (pageSize - 1)
	start = max(start, minUserAddress)
	end = min(end, maxUserAddress)
	return start, end, start < end
}

// Unmap implements platform.AddressSpace.Unmap. A failure to unmap would leave the
// application with access to memory the sentry may hand to someone else, so it kills the
// stub (later Switches fail).
func (a *addressSpace) Unmap(addr, length uintptr) {
	addr, end, ok := userRange(addr, length)
	if !ok {
		return
	}
	a.mapMu.Lock()
	a.mapped.remove(addr, end)
	a.mapMu.Unlock()
	r, err := a.syscall(sysMunmap, addr, end-addr)
	if err == nil {
		err = errnoResult(r)
	}
	if err != nil && !a.dead.Load() {
		a.fail(fmt.Errorf("munmap [%#x, %#x): %w", addr, end, err))
	}
}

// Protect implements platform.Protector: it changes the permissions of the mapped parts
// of [addr, addr+length) in place, with one mprotect per run of mapped pages (mprotect
// itself stops at the first hole). The sentry uses it to take write access away from a
// parent's private pages at fork, which then keeps read access to them instead of
// faulting every one back in. Should an mprotect fail, the range is unmapped instead:
// access only shrinks either way.
func (a *addressSpace) Protect(addr, length uintptr, perms platform.Access) error {
	addr, end, ok := userRange(addr, length)
	if !ok {
		return nil
	}
	a.mapMu.Lock()
	runs := a.mapped.intersect(addr, end, nil)
	a.mapMu.Unlock()
	for _, r := range runs {
		v, err := a.syscall(sysMprotect, r.start, r.end-r.start, uintptr(perms.Prot()))
		if err != nil {
			return fmt.Errorf("ptrace: mprotect [%#x, %#x): %w", r.start, r.end, err)
		}
		if errnoResult(v) != nil {
			a.Unmap(addr, end-addr)
			break
		}
	}
	if a.dead.Load() {
		return a.deadErr()
	}
	return nil
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
