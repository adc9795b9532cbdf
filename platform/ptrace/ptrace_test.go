package ptrace

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/platform"
)

func mustSwitch(t testing.TB, c platform.Context, as platform.AddressSpace, ac *arch.Context) platform.Trap {
	t.Helper()
	trap, err := c.Switch(as, ac)
	if err != nil {
		t.Fatalf("Switch: %v", err)
	}
	return trap
}

func wantSyscall(t testing.TB, trap platform.Trap, ac *arch.Context, nr uint64) {
	t.Helper()
	if trap.Kind != platform.TrapSyscall || ac.Regs.OrigRax != nr {
		t.Fatalf("got trap %+v orig_rax %d rip %#x, want syscall %d", trap, int64(ac.Regs.OrigRax), ac.Regs.Rip, nr)
	}
}

func TestRegistered(t *testing.T) {
	found := false
	for _, n := range platform.Names() {
		found = found || n == "ptrace"
	}
	if !found {
		t.Fatalf("ptrace not registered: %v", platform.Names())
	}
}

func TestSyscallAndSharedMemory(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as := h.newAS()
	c := h.newContext()
	defer c.Release()

	prog := code{}.movEAX(39).syscall().movRBX(dataAddr).storeRAXAtRBX().movEAX(102).syscall().jmpSelf()
	h.setCode(0, prog)
	ac := &arch.Context{Regs: regsAt(codeAddr)}
	trap := mustSwitch(t, c, as, ac)
	wantSyscall(t, trap, ac, 39)
	if ac.Regs.Rip != codeAddr+7 {
		t.Errorf("rip after syscall = %#x, want %#x", ac.Regs.Rip, codeAddr+7)
	}
	if int64(ac.Regs.Rax) != -int64(unix.ENOSYS) {
		t.Errorf("rax at syscall stop = %d, want -ENOSYS (the host did not run it)", int64(ac.Regs.Rax))
	}
	ac.Regs.Rax = 0x123456789
	trap = mustSwitch(t, c, as, ac)
	wantSyscall(t, trap, ac, 102)
	if got := h.data(0); got != 0x123456789 {
		t.Errorf("application stored %#x, want 0x123456789", got)
	}
}

func TestFaultThenMap(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as := h.newAS()
	c := h.newContext()
	defer c.Release()

	binary.LittleEndian.PutUint64(h.mem[extraOff+8:], 0xfeedface)
	// The faulting load restarts once the page is mapped.
	prog := code{}.movRBX(extraAddr + 8).loadRAXFromRBX().movRBX(dataAddr).storeRAXAtRBX().movEAX(39).syscall().jmpSelf()
	h.setCode(0, prog)
	ac := &arch.Context{Regs: regsAt(codeAddr)}
	trap := mustSwitch(t, c, as, ac)
	if trap.Kind != platform.TrapFault || trap.Signo != int32(unix.SIGSEGV) || trap.Addr != extraAddr+8 || trap.Code != 1 /* SEGV_MAPERR */ {
		t.Fatalf("got %+v, want SIGSEGV fault at %#x", trap, extraAddr+8)
	}
	if trap.AccessKnown {
		t.Errorf("AccessKnown = true")
	}
	h.mapFile(as, extraAddr, extraOff, pageSize, platform.Read)
	trap = mustSwitch(t, c, as, ac)
	wantSyscall(t, trap, ac, 39)
	if got := h.data(0); got != 0xfeedface {
		t.Errorf("loaded %#x, want 0xfeedface", got)
	}

	// A write to a read-only mapping is an access fault.
	prog = code{}.movRBX(extraAddr).storeRAXAtRBX().jmpSelf()
	h.setCode(0x100, prog)
	ac.Regs = regsAt(codeAddr + 0x100)
	trap = mustSwitch(t, c, as, ac)
	if trap.Kind != platform.TrapFault || trap.Addr != extraAddr || trap.Code != 2 /* SEGV_ACCERR */ {
		t.Fatalf("got %+v, want SEGV_ACCERR at %#x", trap, extraAddr)
	}
}

func TestSignals(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as := h.newAS()
	c := h.newContext()
	defer c.Release()

	for _, tc := range []struct {
		name  string
		prog  code
		signo unix.Signal
	}{
		{"ud2", code{}.ud2(), unix.SIGILL},
		{"int3", code{}.int3(), unix.SIGTRAP},
		{"div0", code{}.divZero(), unix.SIGFPE},
	} {
		h.setCode(0, tc.prog.jmpSelf())
		ac := &arch.Context{Regs: regsAt(codeAddr)}
		trap := mustSwitch(t, c, as, ac)
		if trap.Kind != platform.TrapSignal || trap.Signo != int32(tc.signo) || trap.Code <= 0 {
			t.Errorf("%s: got %+v, want TrapSignal %v", tc.name, trap, tc.signo)
		}
		if tc.signo == unix.SIGILL && trap.Addr != codeAddr {
			t.Errorf("%s: si_addr = %#x, want %#x", tc.name, trap.Addr, codeAddr)
		}
	}
}

// xmm0Off is the offset of xmm0 in the (F)XSAVE area.
const xmm0Off = 160

func TestFPState(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as := h.newAS()
	c := h.newContext()
	defer c.Release()

	prog := code{}.movRAX64(0x1122334455667788).movqXMM0RAX().movEAX(39).syscall().
		movqRAXXMM0().movRBX(dataAddr).storeRAXAtRBX().movEAX(39).syscall().jmpSelf()
	h.setCode(0, prog)
	ac := &arch.Context{Regs: regsAt(codeAddr), FP: arch.NewFPState(), FPValid: true}
	wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)
	if ac.FPValid {
		t.Fatalf("FPValid still set after Switch")
	}
	if err := c.PullFP(ac); err != nil {
		t.Fatalf("PullFP: %v", err)
	}
	if !ac.FPValid || len(ac.FP) < arch.FPStateSize() {
		t.Fatalf("PullFP: valid %v len %d", ac.FPValid, len(ac.FP))
	}
	if got := binary.LittleEndian.Uint64(ac.FP[xmm0Off:]); got != 0x1122334455667788 {
		t.Fatalf("xmm0 = %#x, want 0x1122334455667788", got)
	}
	binary.LittleEndian.PutUint64(ac.FP[xmm0Off:], 0xcafebabe12345678)
	wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)
	if got := h.data(0); got != 0xcafebabe12345678 {
		t.Fatalf("application saw xmm0 = %#x, want 0xcafebabe12345678", got)
	}
}

// TestFPCarriedToNewAddressSpace: a context switched into a new address space (execve)
// keeps its FP state.
func TestFPCarriedToNewAddressSpace(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as1 := h.newAS()
	c := h.newContext()
	defer c.Release()
	h.setCode(0, code{}.movRAX64(0xabcdef0123).movqXMM0RAX().movEAX(39).syscall().jmpSelf())
	h.setCode(0x100, code{}.movqRAXXMM0().movRBX(dataAddr).storeRAXAtRBX().movEAX(39).syscall().jmpSelf())
	ac := &arch.Context{Regs: regsAt(codeAddr)}
	wantSyscall(t, mustSwitch(t, c, as1, ac), ac, 39)
	old := c.(*context).t

	as2 := h.newAS()
	ac.Regs = regsAt(codeAddr + 0x100)
	wantSyscall(t, mustSwitch(t, c, as2, ac), ac, 39)
	if got := h.data(0); got != 0xabcdef0123 {
		t.Fatalf("xmm0 in the new address space = %#x, want 0xabcdef0123", got)
	}
	checkReleasedThread(t, as1.(*addressSpace), old.tid)
}

// checkReleasedThread checks that stub thread tid of a, whose context let it go, is gone or
// parked: untraced, asleep in pause(2) at the stub's park point, and one of a's spares.
func checkReleasedThread(t *testing.T, a *addressSpace, tid int32) {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/task/%d", a.pid, tid)
	if _, err := os.Stat(dir); err != nil {
		return // gone
	}
	if st := procStatus(t, dir+"/status"); st["TracerPid"] != "0" {
		t.Errorf("released stub thread %d: TracerPid %s, want 0 (parked) or gone", tid, st["TracerPid"])
	}
	a.mu.Lock()
	spare := false
	for _, s := range a.spares {
		spare = spare || s == tid
	}
	a.mu.Unlock()
	if !spare {
		t.Errorf("released stub thread %d lives but is not a spare", tid)
	}
	// /proc/PID/task/TID/syscall: "34 args... sp pc" while it sleeps in pause.
	want := fmt.Sprintf("%#x", a.p.layout.park+2)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(dir + "/syscall")
		f := strings.Fields(string(b))
		if err == nil && len(f) == 9 && f[0] == fmt.Sprint(sysPause) && f[8] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("parked stub thread %d: syscall %q, want pause at %s", tid, b, want)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFSBase(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as := h.newAS()
	c := h.newContext()
	defer c.Release()
	binary.LittleEndian.PutUint64(h.mem[dataOff+64:], 0x5151)
	h.setCode(0, code{}.loadRAXFromFS().movRBX(dataAddr).storeRAXAtRBX().movEAX(39).syscall().jmpSelf())
	ac := &arch.Context{Regs: regsAt(codeAddr)}
	ac.Regs.FsBase = dataAddr + 64
	wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)
	if got := h.data(0); got != 0x5151 {
		t.Fatalf("fs:0 = %#x, want 0x5151", got)
	}
	if ac.Regs.FsBase != dataAddr+64 {
		t.Fatalf("FsBase = %#x", ac.Regs.FsBase)
	}
}

func TestInterrupt(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as := h.newAS()
	c := h.newContext()
	defer c.Release()
	h.setCode(0, code{}.jmpSelf())
	h.setCode(0x100, code{}.movEAX(39).syscall().jmpSelf())

	ac := &arch.Context{Regs: regsAt(codeAddr)}
	start := time.Now()
	timer := time.AfterFunc(50*time.Millisecond, c.Interrupt)
	defer timer.Stop()
	trap := mustSwitch(t, c, as, ac)
	if trap.Kind != platform.TrapInterrupted {
		t.Fatalf("got %+v, want TrapInterrupted", trap)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("interrupted after %v, before Interrupt was called", d)
	}
	if ac.Regs.Rip != codeAddr {
		t.Errorf("rip = %#x, want the loop at %#x", ac.Regs.Rip, codeAddr)
	}

	// Interrupt before Switch: immediate, the thread does not run.
	c.Interrupt()
	ac.Regs = regsAt(codeAddr + 0x100)
	if trap := mustSwitch(t, c, as, ac); trap.Kind != platform.TrapInterrupted {
		t.Fatalf("got %+v, want immediate TrapInterrupted", trap)
	}
	if ac.Regs.Rip != codeAddr+0x100 {
		t.Errorf("thread ran: rip = %#x", ac.Regs.Rip)
	}
	// Then it runs normally, with no stale interruption.
	for i := 0; i < 3; i++ {
		wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)
		ac.Regs.Rip -= 2 // run the syscall again
		ac.Regs.Rax = 39
	}

	// Interrupts racing with syscalls: every Switch returns a syscall or an interrupt,
	// and an interrupt is never lost.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				c.Interrupt()
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	interrupted := 0
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 2000 || (interrupted < 5 && time.Now().Before(deadline)); i++ {
		trap := mustSwitch(t, c, as, ac)
		switch trap.Kind {
		case platform.TrapSyscall:
			ac.Regs.Rip -= 2
			ac.Regs.Rax = 39
		case platform.TrapInterrupted:
			interrupted++
		default:
			t.Fatalf("unexpected trap %+v", trap)
		}
	}
	close(stop)
	wg.Wait()
	if interrupted == 0 {
		t.Errorf("no interruption seen")
	}
	c.Interrupt()
	if trap := mustSwitch(t, c, as, ac); trap.Kind != platform.TrapInterrupted {
		t.Fatalf("got %+v, want TrapInterrupted", trap)
	}
	for i := 0; i < 3; i++ {
		wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)
		ac.Regs.Rip -= 2 // run the syscall again
		ac.Regs.Rax = 39
	}
}

// TestConcurrentContexts runs two tasks in one address space at once, each on its own
// locked goroutine, while a third goroutine maps and unmaps memory in it.
func TestConcurrentContexts(t *testing.T) {
	h := newHarness(t)
	as := h.newAS()
	// loop: inc r12; mov eax, nr; syscall; jmp loop
	for i, nr := range []uint32{39, 102} {
		h.setCode(0x100*i, code{}.incR12().movEAX(nr).syscall().jmpTo(0))
	}
	const iters = 2000
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i, nr := range []uint64{39, 102} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // the thread ends with the goroutine
			c, err := h.p.NewContext()
			if err != nil {
				errs <- err
				return
			}
			defer c.Release()
			ac := &arch.Context{Regs: regsAt(codeAddr + uint64(0x100*i))}
			for j := 1; j <= iters; j++ {
				trap, err := c.Switch(as, ac)
				if err != nil {
					errs <- err
					return
				}
				if trap.Kind != platform.TrapSyscall || ac.Regs.OrigRax != nr || ac.Regs.R12 != uint64(j) {
					errs <- fmt.Errorf("task %d iteration %d: trap %+v orig_rax %d r12 %d", i, j, trap, ac.Regs.OrigRax, ac.Regs.R12)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for j := 0; j < 200; j++ {
			if err := as.MapFile(extraAddr, h.memFD, extraOff, pageSize, platform.ReadWrite); err != nil {
				errs <- err
				return
			}
			as.Unmap(extraAddr, pageSize)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestHostDoesNotRunSyscalls: the application's syscalls never execute on the host, even
// when it jumps to the stub's injection point.
func TestHostDoesNotRunSyscalls(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as := h.newAS()
	c := h.newContext()
	defer c.Release()
	a := as.(*addressSpace)

	// write(0, msg, 5): fd 0 in the stub is the memory file, so a write that ran would
	// change the start of the code page.
	before := append([]byte(nil), h.mem[:pageSize]...)
	copy(h.mem[dataOff+0x100:], "HELLO")
	prog := code{}.movEAX(1).movEDI(0).movRSI(dataAddr + 0x100).movEDX(5).syscall().
		// exit_group(42) and getpid
		movEAX(231).movEDI(42).syscall().movEAX(39).syscall().
		// jump to the injection point with rax = write
		movEAX(1).movEDI(0).movRSI(dataAddr + 0x100).movEDX(5).movRBX(uint64(a.p.layout.inject)).jmpRBX()
	h.setCode(0, prog)
	before = append(before[:0], h.mem[:pageSize]...)
	ac := &arch.Context{Regs: regsAt(codeAddr)}
	wantSyscall(t, mustSwitch(t, c, as, ac), ac, 1)
	wantSyscall(t, mustSwitch(t, c, as, ac), ac, 231)
	wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)
	if int64(ac.Regs.Rax) != -int64(unix.ENOSYS) {
		t.Errorf("getpid: rax = %d at the stop; want -ENOSYS", int64(ac.Regs.Rax))
	}
	trap := mustSwitch(t, c, as, ac)
	wantSyscall(t, trap, ac, 1)
	if ac.Regs.Rip != uint64(a.p.layout.inject+2) {
		t.Errorf("rip = %#x, want the injection point %#x", ac.Regs.Rip, a.p.layout.inject+2)
	}
	if string(h.mem[:pageSize]) != string(before) {
		t.Errorf("the memory file was written: an application write ran on the host")
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", a.pid)); err != nil {
		t.Errorf("stub gone after exit_group: %v", err)
	}

	st := procStatus(t, fmt.Sprintf("/proc/%d/status", a.pid))
	if st["Seccomp"] != "2" {
		t.Errorf("stub Seccomp: %q, want 2", st["Seccomp"])
	}
	if st["NoNewPrivs"] != "1" {
		t.Errorf("stub NoNewPrivs: %q, want 1", st["NoNewPrivs"])
	}
	if st["TracerPid"] == "0" || st["TracerPid"] == "" {
		t.Errorf("stub TracerPid: %q", st["TracerPid"])
	}
	tid := c.(*context).t.tid
	st = procStatus(t, fmt.Sprintf("/proc/%d/task/%d/status", a.pid, tid))
	if st["TracerPid"] != fmt.Sprint(unix.Gettid()) {
		t.Errorf("stub thread TracerPid %q, want this OS thread %d", st["TracerPid"], unix.Gettid())
	}
	if st["Seccomp"] != "2" {
		t.Errorf("stub thread Seccomp: %q, want 2", st["Seccomp"])
	}

	// The stub has nothing mapped but its own page (and the fixed vsyscall page), and no
	// file open but the memory file.
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", a.pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(maps)), "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "7fffff000000-7fffff001000 r-xp"):
		case strings.HasSuffix(line, "[vsyscall]"):
		case len(f) >= 6 && strings.Contains(f[5], "ptrace-test-mem"):
		default:
			t.Errorf("unexpected mapping in stub: %s", line)
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", a.pid))
	if err != nil {
		t.Fatal(err)
	}
	if len(fds) != 1 || fds[0].Name() != "0" {
		var names []string
		for _, fd := range fds {
			names = append(names, fd.Name())
		}
		t.Errorf("stub fds %v, want only 0", names)
	}
	link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", a.pid))
	if !strings.Contains(link, "ptrace-test-mem") {
		t.Errorf("stub fd 0 is %q, want the memory file", link)
	}
}

// TestSeccompKillsStrayHostSyscalls checks the filter directly: the stub thread, when
// continued without SYSEMU, is killed with its whole process by a syscall made outside
// the injection point.
func TestSeccompKillsStrayHostSyscalls(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as := h.newAS()
	c := h.newContext()
	defer c.Release()
	a := as.(*addressSpace)
	h.setCode(0, code{}.movEAX(39).syscall().jmpSelf())
	ac := &arch.Context{Regs: regsAt(codeAddr)}
	wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)
	// Behave like a broken tracer: run the thread with PTRACE_CONT from the syscall.
	th := c.(*context).t
	regs := regsAt(codeAddr)
	regs.OrigRax = ^uint64(0)
	if err := setRegs(th.tid, &regs); err != nil {
		t.Fatal(err)
	}
	if err := ptraceReq(unix.PTRACE_CONT, th.tid, 0, 0); err != nil {
		t.Fatal(err)
	}
	var status int32
	if _, err := wait4(th.tid, &status, 0); err != nil {
		t.Fatal(err)
	}
	if !wSignaled(status) || wTermSig(status) != int(unix.SIGSYS) {
		t.Fatalf("stub thread: %s, want killed by SIGSYS", describeStatus(status))
	}
	th.dead = true
	a.removeThread(th)
	if _, err := c.Switch(as, ac); err == nil {
		t.Fatalf("Switch into a dead stub succeeded")
	}
}

func procStatus(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func TestReleaseAndLimits(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as := h.newAS()
	a := as.(*addressSpace)
	c := h.newContext()
	h.setCode(0, code{}.movEAX(39).syscall().jmpSelf())
	ac := &arch.Context{Regs: regsAt(codeAddr)}
	wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)
	tid := c.(*context).t.tid

	max := h.p.MaxUserAddress()
	if max != stubBase || h.p.MinUserAddress() != 0x10000 {
		t.Errorf("user range [%#x, %#x)", h.p.MinUserAddress(), max)
	}
	for _, bad := range []struct {
		addr      uintptr
		fd        int
		off, size uint64
	}{
		{max, h.memFD, 0, pageSize},
		{max - pageSize, h.memFD, 0, 2 * pageSize},
		{max + 0x10000, h.memFD, 0, pageSize},
		{stubBase, h.memFD, 0, pageSize},
		{0, h.memFD, 0, pageSize},
		{0x800000, h.memFD, 0, 1 << 63},
		{0x800001, h.memFD, 0, pageSize},
		{0x800000, 1, 0, pageSize},
	} {
		if err := as.MapFile(bad.addr, bad.fd, bad.off, bad.size, platform.ReadWrite); err == nil {
			t.Errorf("MapFile(%#x, fd %d, %#x, %#x) succeeded", bad.addr, bad.fd, bad.off, bad.size)
		}
	}
	// Unmap beyond the user range must not touch the stub page.
	as.Unmap(max-pageSize, 1<<40)
	ac.Regs.Rip -= 2
	ac.Regs.Rax = 39
	wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)

	// Context.Release parks the stub thread or makes it exit; the process lives on.
	c.Release()
	checkReleasedThread(t, a, tid)
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", a.pid)); err != nil {
		t.Errorf("stub process gone after Context.Release: %v", err)
	}

	as.Release()
	waitReaped(t, a.pid)
	if err := as.MapFile(0x800000, h.memFD, 0, pageSize, platform.ReadWrite); err == nil {
		t.Errorf("MapFile after Release succeeded")
	}
	c2 := h.newContext()
	defer c2.Release()
	if _, err := c2.Switch(as, ac); err == nil {
		t.Errorf("Switch into a released address space succeeded")
	}
}

// TestNoLeaks creates and releases address spaces and contexts and checks that no process,
// goroutine or thread is left behind.
func TestNoLeaks(t *testing.T) {
	h := newHarness(t)
	h.setCode(0, code{}.movEAX(39).syscall().jmpSelf())
	run := func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread()
			as, err := h.p.NewAddressSpace()
			if err != nil {
				t.Error(err)
				return
			}
			defer as.Release()
			h.mapFile(as, codeAddr, 0, pageSize, platform.Access{Read: true, Execute: true})
			c := h.newContext()
			defer c.Release()
			ac := &arch.Context{Regs: regsAt(codeAddr)}
			if _, err := c.Switch(as, ac); err != nil {
				t.Error(err)
			}
		}()
		<-done
	}
	// The Go runtime may keep a few spare OS threads around when locked threads end, or
	// while the reaper blocks in wait4; a leak grows with the number of address spaces.
	settle := func(g0, th0, ch0, slack int) (int, int, int) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			g, th, ch := runtime.NumGoroutine(), threadCount(t), children(t)
			if g <= g0 && th <= th0+slack && ch <= ch0 {
				return g, th, ch
			}
			if time.Now().After(deadline) {
				t.Fatalf("leak: goroutines %d -> %d, threads %d -> %d, stub processes %d -> %d", g0, g, th0, th, ch0, ch)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	run() // warm up
	time.Sleep(50 * time.Millisecond)
	g0, th0, ch0 := runtime.NumGoroutine(), threadCount(t), children(t)
	for i := 0; i < 10; i++ {
		run()
	}
	_, th1, _ := settle(g0, th0, ch0, 4)
	for i := 0; i < 50; i++ {
		run()
	}
	settle(g0, th1, ch0, 3)
}

func threadCount(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// children counts processes (including zombies) whose parent is this process.
func children(t *testing.T) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	me := fmt.Sprint(os.Getpid())
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == me {
			n++
		}
	}
	return n
}

// TestStubKilledFromOutside: a stub killed by someone else makes Switch fail, not hang.
func TestStubKilledFromOutside(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as := h.newAS()
	c := h.newContext()
	defer c.Release()
	h.setCode(0, code{}.movEAX(39).syscall().jmpSelf())
	ac := &arch.Context{Regs: regsAt(codeAddr)}
	wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)
	syscall.Kill(int(as.(*addressSpace).pid), syscall.SIGKILL)
	if _, err := c.Switch(as, ac); err == nil {
		t.Fatalf("Switch into a killed stub succeeded")
	} else {
		t.Logf("Switch after SIGKILL: %v", err)
	}
	if err := as.MapFile(extraAddr, h.memFD, extraOff, pageSize, platform.ReadWrite); err == nil {
		t.Fatalf("MapFile into a killed stub succeeded")
	}
}

// TestForeignSignalsSuppressed: signals sent to a stub thread by other processes are
// never delivered, nor reported as the thread's own faults.
func TestForeignSignalsSuppressed(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as := h.newAS()
	c := h.newContext()
	defer c.Release()
	a := as.(*addressSpace)
	h.setCode(0, code{}.movEAX(39).syscall().jmpSelf())
	ac := &arch.Context{Regs: regsAt(codeAddr)}
	wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)
	tid := c.(*context).t.tid
	for _, sig := range []unix.Signal{unix.SIGSEGV, unix.SIGTERM, unix.SIGUSR1, unix.SIGSTOP, unix.SIGCHLD} {
		unix.Tgkill(int(a.pid), int(tid), sig)
	}
	ac.Regs.Rip -= 2
	ac.Regs.Rax = 39
	wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)
	ac.Regs.Rip -= 2
	ac.Regs.Rax = 39
	wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)
}

func TestSwitchAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	lockThread()
	h := newHarness(t)
	as := h.newAS()
	c := h.newContext()
	defer c.Release()
	h.setCode(0, code{}.movEAX(39).syscall().jmpTo(0))
	ac := &arch.Context{Regs: regsAt(codeAddr)}
	mustSwitch(t, c, as, ac)
	allocs := testing.AllocsPerRun(1000, func() {
		ac.Regs.Rax = 1234
		if _, err := c.Switch(as, ac); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Switch allocates %v times per round trip", allocs)
	}
}

func BenchmarkSyscallRoundTrip(b *testing.B) {
	benchRoundTrip(b, false)
}

// BenchmarkSyscallRoundTripNoPin measures the round trip without CPU pinning, to show
// what pinning buys.
func BenchmarkSyscallRoundTripNoPin(b *testing.B) {
	benchRoundTrip(b, true)
}

func benchRoundTrip(b *testing.B, noPin bool) {
	lockThread()
	h := newHarness(b)
	as := h.newAS()
	c := h.newContext()
	defer c.Release()
	c.(*context).noPin = noPin
	h.setCode(0, code{}.movEAX(39).syscall().jmpTo(0))
	ac := &arch.Context{Regs: regsAt(codeAddr)}
	mustSwitch(b, c, as, ac)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ac.Regs.Rax = 1234 // the sentry's getpid result
		trap, err := c.Switch(as, ac)
		if err != nil || trap.Kind != platform.TrapSyscall {
			b.Fatalf("trap %+v err %v", trap, err)
		}
	}
}

// BenchmarkMapFileMaster measures MapFile from a goroutine that traces no stub thread of
// an address space that has one: the request goes through the master goroutine.
func BenchmarkMapFileMaster(b *testing.B) {
	h := newHarness(b)
	as := h.newAS()
	h.setCode(0, code{}.movEAX(39).syscall().jmpSelf())
	started, done := make(chan struct{}), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c := h.newContext()
		ac := &arch.Context{Regs: regsAt(codeAddr)}
		mustSwitch(b, c, as, ac)
		close(started)
		<-done
		c.Release()
	}()
	<-started
	defer close(done)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := as.MapFile(extraAddr, h.memFD, extraOff, pageSize, platform.ReadWrite); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMapFileTracer measures MapFile from the tracer of a stopped stub thread of the
// address space: injected directly into that thread.
func BenchmarkMapFileTracer(b *testing.B) {
	lockThread()
	h := newHarness(b)
	as := h.newAS()
	c := h.newContext()
	defer c.Release()
	h.setCode(0, code{}.movEAX(39).syscall().jmpTo(0))
	ac := &arch.Context{Regs: regsAt(codeAddr)}
	mustSwitch(b, c, as, ac)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := as.MapFile(extraAddr, h.memFD, extraOff, pageSize, platform.ReadWrite); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVsyscallKillsStub documents a limitation: the kernel emulates calls into the legacy
// vsyscall page without a ptrace syscall stop, consulting seccomp instead, so the stub's
// filter kills the stub. Nothing runs on the host, and Switch reports an error.
func TestVsyscallKillsStub(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as := h.newAS()
	c := h.newContext()
	defer c.Release()
	h.setCode(0, code{}.movRBX(0xffffffffff600000).append(0xff, 0xd3 /* call rbx */).movEAX(39).syscall().jmpSelf())
	ac := &arch.Context{Regs: regsAt(codeAddr)}
	if _, err := c.Switch(as, ac); err == nil || !strings.Contains(err.Error(), "bad system call") {
		t.Fatalf("Switch: %v, want the stub killed by SIGSYS", err)
	}
}

// TestSeccompDesignatedSites checks the filter at the stub's own syscall sites: the park
// point allows only pause, the clone point only clone with the stub's exact flags. Each
// case runs a fresh stub thread with PTRACE_CONT (no SYSEMU) and expects SIGSYS.
func TestSeccompDesignatedSites(t *testing.T) {
	lockThread()
	h := newHarness(t)
	l := h.p.(*ptracePlatform).layout
	for _, tc := range []struct {
		name string
		site uintptr
		nr   uint64
		arg0 uint64
	}{
		{"getpid at the park point", l.park, 39, 0},
		{"clone (fork) at the park point", l.park, sysClone, 0},
		{"getpid at the clone point", l.clone, 39, 0},
		{"fork-like clone at the clone point", l.clone, sysClone, 17 /* SIGCHLD */},
		{"clone with extra flags at the clone point", l.clone, sysClone, stubCloneFlags | 0x2000 /* CLONE_PTRACE */},
		{"the set-up code (close_range) once the filter is on", l.entry, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := h.newAS()
			c := h.newContext()
			defer c.Release()
			h.setCode(0, code{}.movEAX(39).syscall().jmpSelf())
			ac := &arch.Context{Regs: regsAt(codeAddr)}
			wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)
			th := c.(*context).t
			regs := regsAt(uint64(tc.site))
			regs.Rax = tc.nr
			regs.Rdi = tc.arg0
			regs.OrigRax = ^uint64(0)
			if err := setRegs(th.tid, &regs); err != nil {
				t.Fatal(err)
			}
			if err := ptraceReq(unix.PTRACE_CONT, th.tid, 0, 0); err != nil {
				t.Fatal(err)
			}
			var status int32
			for {
				if _, err := wait4(th.tid, &status, 0); err != nil {
					t.Fatal(err)
				}
				if !wStopped(status) {
					break
				}
				if err := ptraceReq(unix.PTRACE_CONT, th.tid, 0, 0); err != nil {
					t.Fatal(err)
				}
			}
			if !wSignaled(status) || wTermSig(status) != int(unix.SIGSYS) {
				t.Fatalf("stub thread: %s, want killed by SIGSYS", describeStatus(status))
			}
			th.dead = true
			as.(*addressSpace).removeThread(th)
		})
	}
}

// TestThreadReuse: a released context's stub thread is parked and given to the next
// context; spares are bounded by maxSpareThreads, and the threads beyond exit.
func TestThreadReuse(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as := h.newAS()
	a := as.(*addressSpace)
	h.setCode(0, code{}.movEAX(39).syscall().jmpSelf())
	run := func(c platform.Context) int32 {
		ac := &arch.Context{Regs: regsAt(codeAddr), FP: arch.NewFPState(), FPValid: true}
		wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)
		return c.(*context).t.tid
	}
	c1 := h.newContext()
	tid1 := run(c1)
	c1.Release()
	checkReleasedThread(t, a, tid1)
	c2 := h.newContext()
	if tid2 := run(c2); tid2 != tid1 {
		t.Errorf("second context got stub thread %d, want the parked %d", tid2, tid1)
	}
	st := procStatus(t, fmt.Sprintf("/proc/%d/task/%d/status", a.pid, tid1))
	if st["TracerPid"] != fmt.Sprint(unix.Gettid()) || st["Seccomp"] != "2" || st["NoNewPrivs"] != "1" {
		t.Errorf("reused stub thread: TracerPid %s Seccomp %s NoNewPrivs %s", st["TracerPid"], st["Seccomp"], st["NoNewPrivs"])
	}
	c2.Release()

	// Hold more contexts than spares are kept, then release them all.
	const n = maxSpareThreads + 4
	var cs []platform.Context
	var tids []int32
	for i := 0; i < n; i++ {
		c := h.newContext()
		cs = append(cs, c)
		tids = append(tids, run(c))
	}
	for _, c := range cs {
		c.Release()
	}
	for _, tid := range tids {
		checkReleasedThread(t, a, tid)
	}
	// The stub has its main thread and at most maxSpareThreads others.
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", a.pid))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) > 1+maxSpareThreads {
		t.Errorf("stub has %d threads after releasing every context, want at most %d", len(ents), 1+maxSpareThreads)
	}
	a.mu.Lock()
	spares := len(a.spares)
	a.mu.Unlock()
	if spares != maxSpareThreads {
		t.Errorf("%d spares, want %d", spares, maxSpareThreads)
	}
	// Releasing the address space takes the spares with it.
	as.Release()
	waitReaped(t, a.pid)
}

// stubMaps returns the stub's mappings other than the stub page and [vsyscall].
func stubMaps(t *testing.T, pid int32) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	var ms []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(line, "7fffff000000-") || strings.HasSuffix(line, "[vsyscall]") {
			continue
		}
		ms = append(ms, line)
	}
	return ms
}

// TestDeferredMappings: MapFile and Unmap on an address space with no thread yet are
// deferred, in order, to its first thread, and run before any application code.
func TestDeferredMappings(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as, err := h.p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer as.Release()
	a := as.(*addressSpace)
	h.mapFile(as, codeAddr, 0, 2*pageSize, platform.Access{Read: true, Execute: true})
	h.mapFile(as, dataAddr, dataOff, pageSize, platform.ReadWrite)
	h.mapFile(as, stackAddr, stackOff, pageSize, platform.ReadWrite)
	// Mapped, unmapped, then mapped elsewhere: only the last must be there.
	h.mapFile(as, extraAddr, extraOff, pageSize, platform.ReadWrite)
	as.Unmap(extraAddr, pageSize)
	// Enough to overflow the deferred list: the master runs the lot, in order.
	for i := 0; i < maxPending+10; i++ {
		h.mapFile(as, extraAddr+2*pageSize, extraOff, pageSize, platform.Read)
		as.Unmap(extraAddr+2*pageSize, pageSize)
	}
	h.mapFile(as, extraAddr+pageSize, extraOff, pageSize, platform.ReadWrite)
	a.mu.Lock()
	pending := len(a.pending)
	a.mu.Unlock()
	if pending == 0 || pending > maxPending {
		t.Errorf("%d deferred injections, want 1 to %d", pending, maxPending)
	}
	binary.LittleEndian.PutUint64(h.mem[extraOff:], 0x77)
	// Load from extraAddr+pageSize, store to data, then touch extraAddr (unmapped).
	h.setCode(0, code{}.movRBX(extraAddr+pageSize).loadRAXFromRBX().movRBX(dataAddr).storeRAXAtRBX().
		movRBX(extraAddr).loadRAXFromRBX().jmpSelf())
	c := h.newContext()
	defer c.Release()
	ac := &arch.Context{Regs: regsAt(codeAddr)}
	trap := mustSwitch(t, c, as, ac)
	if trap.Kind != platform.TrapFault || trap.Addr != extraAddr {
		t.Fatalf("got %+v, want a fault at %#x (deferred Unmap)", trap, extraAddr)
	}
	if got := h.data(0); got != 0x77 {
		t.Errorf("loaded %#x through the deferred mapping, want 0x77", got)
	}
	a.mu.Lock()
	pending = len(a.pending)
	a.mu.Unlock()
	if pending != 0 {
		t.Errorf("%d deferred injections left after the first Switch", pending)
	}
	// With a thread, MapFile is immediate again.
	h.mapFile(as, extraAddr, extraOff, pageSize, platform.ReadWrite)
	found := false
	for _, m := range stubMaps(t, a.pid) {
		found = found || strings.HasPrefix(m, fmt.Sprintf("%08x-", extraAddr))
	}
	if !found {
		t.Errorf("MapFile with a live thread was not immediate: %v", stubMaps(t, a.pid))
	}
}

// TestDeferredFailureKillsStub: a deferred injection that fails when it finally runs kills
// the stub, and the Switch that ran it fails.
func TestDeferredFailureKillsStub(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as, err := h.p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	defer as.Release()
	a := as.(*addressSpace)
	h.mapFile(as, codeAddr, 0, 2*pageSize, platform.Access{Read: true, Execute: true})
	a.mu.Lock()
	// munmap of an unaligned address: EINVAL.
	a.pending = append(a.pending, injection{site: a.p.layout.inject, trapAt: a.p.layout.inject + 3, nr: sysMunmap, args: [6]uintptr{codeAddr + 1, pageSize}})
	a.mu.Unlock()
	h.setCode(0, code{}.movEAX(39).syscall().jmpSelf())
	c := h.newContext()
	defer c.Release()
	ac := &arch.Context{Regs: regsAt(codeAddr)}
	if _, err := c.Switch(as, ac); err == nil || !strings.Contains(err.Error(), "deferred") {
		t.Fatalf("Switch: %v, want the deferred injection's failure", err)
	}
	if !a.dead.Load() {
		t.Errorf("stub not killed")
	}
}

// checkStubProcess checks the security properties of stub process pid: seccomp filter,
// no_new_privs, traced by the master thread, a child of this process, the memory file as
// its only fd, nothing mapped but the stub page.
func checkStubProcess(t *testing.T, p *ptracePlatform, pid int32) {
	t.Helper()
	st := procStatus(t, fmt.Sprintf("/proc/%d/status", pid))
	if st["Seccomp"] != "2" || st["NoNewPrivs"] != "1" {
		t.Errorf("stub %d: Seccomp %q NoNewPrivs %q, want 2 and 1", pid, st["Seccomp"], st["NoNewPrivs"])
	}
	if st["TracerPid"] == "0" || st["TracerPid"] == "" {
		t.Errorf("stub %d: TracerPid %q, want the master thread", pid, st["TracerPid"])
	}
	if st["PPid"] != fmt.Sprint(os.Getpid()) {
		t.Errorf("stub %d: PPid %q, want this process %d", pid, st["PPid"], os.Getpid())
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	if len(fds) != 1 || fds[0].Name() != "0" {
		t.Errorf("stub %d has %d fds, want only fd 0", pid, len(fds))
	}
	if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", pid)); !strings.Contains(link, "ptrace-test-mem") {
		t.Errorf("stub %d fd 0 is %q, want the memory file", pid, link)
	}
	if ms := stubMaps(t, pid); len(ms) != 0 {
		t.Errorf("stub %d has mappings besides the stub page: %v", pid, ms)
	}
}

// TestStubPool: stubs cloned from the template have the same security properties as an
// exec'd one, their spare thread is parked untraced, a stub killed in the pool is skipped,
// and creating more address spaces than the pool holds works.
func TestStubPool(t *testing.T) {
	h := newHarness(t)
	p := h.p.(*ptracePlatform)
	m := p.master()
	// Wait for the pool to fill.
	deadline := time.Now().Add(5 * time.Second)
	for len(m.pool) < poolSize && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if len(m.pool) != poolSize {
		t.Fatalf("pool holds %d stubs, want %d", len(m.pool), poolSize)
	}
	var ases []*addressSpace
	for i := 0; i < 2*poolSize+2; i++ {
		as, err := h.p.NewAddressSpace()
		if err != nil {
			t.Fatalf("NewAddressSpace %d: %v", i, err)
		}
		a := as.(*addressSpace)
		ases = append(ases, a)
		checkStubProcess(t, p, a.pid)
		a.mu.Lock()
		spares := append([]int32(nil), a.spares...)
		a.mu.Unlock()
		if len(spares) != 1 {
			t.Fatalf("new address space has %d spare threads, want 1", len(spares))
		}
		checkReleasedThread(t, a, spares[0])
	}
	// Kill every pooled stub from outside: NewAddressSpace skips them.
	deadline = time.Now().Add(5 * time.Second)
	for len(m.pool) < poolSize && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	var killed []stubProc
	for len(m.pool) > 0 {
		s := <-m.pool
		unix.Kill(int(s.pid), unix.SIGKILL)
		killed = append(killed, s)
	}
	for _, s := range killed {
		// Back in the pool, dead (wait until the kernel has taken its spare thread).
		for unix.Tgkill(int(s.pid), int(s.spare), 0) == nil {
			time.Sleep(time.Millisecond)
		}
		m.pool <- s
	}
	as, err := h.p.NewAddressSpace()
	if err != nil {
		t.Fatal(err)
	}
	a := as.(*addressSpace)
	for _, s := range killed {
		if a.pid == s.pid {
			t.Fatalf("NewAddressSpace returned stub %d, killed in the pool", s.pid)
		}
	}
	ases = append(ases, a)
	// Each works.
	h.setCode(0, code{}.movEAX(39).syscall().jmpSelf())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		for _, a := range ases {
			h.mapFile(a, codeAddr, 0, pageSize, platform.Access{Read: true, Execute: true})
			c := h.newContext()
			ac := &arch.Context{Regs: regsAt(codeAddr)}
			wantSyscall(t, mustSwitch(t, c, a, ac), ac, 39)
			c.Release()
			a.Release()
		}
	}()
	<-done
	// The killed stubs were reaped.
	for _, s := range killed {
		waitReaped(t, s.pid)
	}
}

// TestTemplateDeath: a template killed from outside is replaced.
func TestTemplateDeath(t *testing.T) {
	h := newHarness(t)
	p := h.p.(*ptracePlatform)
	m := p.master()
	deadline := time.Now().Add(5 * time.Second)
	for len(m.pool) < poolSize && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	tmpl := m.templatePid.Load()
	if tmpl == 0 {
		t.Fatalf("no template")
	}
	var held []stubProc
	for len(m.pool) > 0 {
		held = append(held, <-m.pool)
	}
	checkStubProcess(t, p, tmpl)
	unix.Kill(int(tmpl), unix.SIGKILL)
	for _, s := range held {
		unix.Kill(int(s.pid), unix.SIGKILL)
		p.reap(s.pid, nil)
	}
	// Stubs made after that come from a new template.
	for i := 0; i < 2*poolSize; i++ {
		as, err := h.p.NewAddressSpace()
		if err != nil {
			t.Fatalf("NewAddressSpace after the template died: %v", err)
		}
		checkStubProcess(t, p, as.(*addressSpace).pid)
		as.Release()
	}
	if n := m.templatePid.Load(); n == tmpl || n == 0 {
		t.Errorf("template %d, want a new one", n)
	}
}

// childPids lists the processes (including zombies) whose parent is this process.
func childPids(t *testing.T) []int32 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	me := fmt.Sprint(os.Getpid())
	var pids []int32
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		var pid int32
		if len(f) > 1 && f[1] == me {
			fmt.Sscan(e.Name(), &pid)
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitReaped waits until process pid, killed, has been reaped (the reaper runs in the
// background).
func waitReaped(t *testing.T, pid int32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return
		}
		if time.Now().After(deadline) {
			st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			t.Errorf("stub %d not reaped: %s", pid, st)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReleaseWithLiveThreads: Release of an address space whose threads are still held by
// contexts kills them, and the reaper collects the whole stub; the contexts then fail
// cleanly.
func TestReleaseWithLiveThreads(t *testing.T) {
	lockThread()
	h := newHarness(t)
	h.setCode(0, code{}.movEAX(39).syscall().jmpSelf())
	for i := 0; i < 5; i++ {
		as := h.newAS()
		a := as.(*addressSpace)
		var cs []platform.Context
		for j := 0; j < 3; j++ {
			c := h.newContext()
			ac := &arch.Context{Regs: regsAt(codeAddr)}
			wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)
			cs = append(cs, c)
		}
		as.Release()
		for _, c := range cs {
			ac := &arch.Context{Regs: regsAt(codeAddr)}
			if _, err := c.Switch(as, ac); err == nil {
				t.Errorf("Switch into a released address space succeeded")
			}
			c.Release()
		}
		waitReaped(t, a.pid)
	}
}

// TestProtect: Protect changes the permissions of every mapped run of a range with holes,
// leaves the holes unmapped, and works before the first thread (deferred) too.
func TestProtect(t *testing.T) {
	lockThread()
	h := newHarness(t)
	for _, deferred := range []bool{false, true} {
		as, err := h.p.NewAddressSpace()
		if err != nil {
			t.Fatal(err)
		}
		a := as.(*addressSpace)
		h.mapFile(as, codeAddr, 0, 2*pageSize, platform.Access{Read: true, Execute: true})
		h.mapFile(as, dataAddr, dataOff, pageSize, platform.ReadWrite)
		h.mapFile(as, stackAddr, stackOff, pageSize, platform.ReadWrite)
		// extraAddr: page, hole, two pages (the second mapped separately), hole, page.
		h.mapFile(as, extraAddr, extraOff, pageSize, platform.ReadWrite)
		h.mapFile(as, extraAddr+2*pageSize, extraOff, pageSize, platform.ReadWrite)
		h.mapFile(as, extraAddr+3*pageSize, extraOff, pageSize, platform.ReadWrite)
		h.mapFile(as, extraAddr+5*pageSize, extraOff, pageSize, platform.ReadWrite)
		c := h.newContext()
		// loop: mov rax, [rbx]; syscall(39) -- then a store to [rbx].
		h.setCode(0, code{}.loadRAXFromRBX().movEAX(39).syscall().storeRAXAtRBX().movEAX(39).syscall().jmpSelf())
		ac := &arch.Context{Regs: regsAt(codeAddr)}
		ac.Regs.Rbx = dataAddr
		if !deferred {
			wantSyscall(t, mustSwitch(t, c, as, ac), ac, 39)
		}
		if err := as.(platform.Protector).Protect(extraAddr, 6*pageSize, platform.Read); err != nil {
			t.Fatalf("Protect: %v", err)
		}
		for _, tc := range []struct {
			addr  uintptr
			fault int32 // 0: none, 1: SEGV_MAPERR, 2: SEGV_ACCERR
		}{
			{extraAddr, 2}, {extraAddr + pageSize, 1}, {extraAddr + 2*pageSize, 2},
			{extraAddr + 3*pageSize, 2}, {extraAddr + 4*pageSize, 1}, {extraAddr + 5*pageSize, 2},
			{dataAddr, 0},
		} {
			ac.Regs = regsAt(codeAddr)
			ac.Regs.Rbx = uint64(tc.addr)
			trap := mustSwitch(t, c, as, ac)
			if tc.fault == 1 {
				if trap.Kind != platform.TrapFault || trap.Code != 1 {
					t.Errorf("load at %#x: %+v, want SEGV_MAPERR", tc.addr, trap)
				}
				continue
			}
			wantSyscall(t, trap, ac, 39) // the load works
			trap = mustSwitch(t, c, as, ac)
			if tc.fault == 0 {
				wantSyscall(t, trap, ac, 39)
			} else if trap.Kind != platform.TrapFault || trap.Code != 2 || trap.Addr != tc.addr {
				t.Errorf("store at %#x: %+v, want SEGV_ACCERR", tc.addr, trap)
			}
		}
		c.Release()
		as.Release()
		waitReaped(t, a.pid)
	}
}

// TestReleaseLeavesThreadClean: once a context is released on its task goroutine, the
// goroutine may unlock its OS thread (platform.Context.Release): task goroutines run one
// after another that do so reuse OS threads, and a stub thread is never traced by an OS
// thread whose task is gone.
func TestReleaseLeavesThreadClean(t *testing.T) {
	h := newHarness(t)
	as := h.newAS()
	a := as.(*addressSpace)
	h.setCode(0, code{}.movEAX(39).syscall().jmpSelf())
	seen := map[int]bool{}
	reused := 0
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		tids := make(chan int, 1)
		go func() {
			runtime.LockOSThread() // as the sentry's task goroutine
			c := h.newContext()
			ac := &arch.Context{Regs: regsAt(codeAddr)}
			if _, err := c.Switch(as, ac); err != nil {
				t.Error(err)
			}
			c.Release()
			var set unix.CPUSet
			if err := unix.SchedGetaffinity(0, &set); err != nil || set != orig {
				t.Errorf("CPU affinity after Release: %v (%v), want %v", set, err, orig)
			}
			tids <- unix.Gettid()
			runtime.UnlockOSThread()
		}()
		tid := <-tids
		if seen[tid] {
			reused++
		}
		seen[tid] = true
		time.Sleep(time.Millisecond) // let the goroutine end
	}
	if reused == 0 {
		t.Errorf("20 task goroutines ran on 20 distinct OS threads")
	}
	// No thread of the stub is traced by anyone: they are all parked.
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", a.pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == fmt.Sprint(a.pid) {
			continue
		}
		if st := procStatus(t, fmt.Sprintf("/proc/%d/task/%s/status", a.pid, e.Name())); st["TracerPid"] != "0" {
			t.Errorf("stub thread %s traced by %s after every context was released", e.Name(), st["TracerPid"])
		}
	}
}

// BenchmarkNewAddressSpace measures an address space's life as a fork's child sees it:
// NewAddressSpace (from the pool), a deferred MapFile, the first Switch (seizing the
// spare thread, running the deferred mmap), Context.Release and Release. The pool is
// given time to refill between iterations, as a process's life would.
func BenchmarkNewAddressSpace(b *testing.B) {
	lockThread()
	h := newHarness(b)
	h.setCode(0, code{}.movEAX(39).syscall().jmpSelf())
	m := h.p.(*ptracePlatform).master()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for len(m.pool) < poolSize {
			time.Sleep(100 * time.Microsecond)
		}
		b.StartTimer()
		as, err := h.p.NewAddressSpace()
		if err != nil {
			b.Fatal(err)
		}
		h.mapFile(as, codeAddr, 0, pageSize, platform.Access{Read: true, Execute: true})
		c := h.newContext()
		ac := &arch.Context{Regs: regsAt(codeAddr)}
		mustSwitch(b, c, as, ac)
		c.Release()
		as.Release()
	}
}

// BenchmarkNewThread measures a thread's life in an existing address space: the first
// Switch of a new context (seizing a parked thread) and its Release (parking it again).
func BenchmarkNewThread(b *testing.B) {
	lockThread()
	h := newHarness(b)
	as := h.newAS()
	h.setCode(0, code{}.movEAX(39).syscall().jmpSelf())
	for i := 0; i < b.N; i++ {
		c := h.newContext()
		ac := &arch.Context{Regs: regsAt(codeAddr)}
		mustSwitch(b, c, as, ac)
		c.Release()
	}
}

// TestReusedThreadFPState: a context that does not supply FP state does not see the FP
// state that the previous user of its (reused) stub thread left.
func TestReusedThreadFPState(t *testing.T) {
	lockThread()
	h := newHarness(t)
	as := h.newAS()
	h.setCode(0, code{}.movRAX64(0x5ec7e7).movqXMM0RAX().movEAX(39).syscall().jmpSelf())
	h.setCode(0x100, code{}.movqRAXXMM0().movRBX(dataAddr).storeRAXAtRBX().movEAX(39).syscall().jmpSelf())
	c1 := h.newContext()
	ac := &arch.Context{Regs: regsAt(codeAddr)}
	wantSyscall(t, mustSwitch(t, c1, as, ac), ac, 39)
	tid := c1.(*context).t.tid
	c1.Release()
	c2 := h.newContext()
	defer c2.Release()
	binary.LittleEndian.PutUint64(h.mem[dataOff:], 0xffff)
	ac = &arch.Context{Regs: regsAt(codeAddr + 0x100)} // FPValid false
	wantSyscall(t, mustSwitch(t, c2, as, ac), ac, 39)
	if c2.(*context).t.tid != tid {
		t.Fatalf("the stub thread was not reused")
	}
	if got := h.data(0); got != 0 {
		t.Errorf("xmm0 in the new context = %#x, want 0 (a fresh FP state)", got)
	}
}

// TestStubsDieWithMaster: cloned stubs carry PTRACE_O_EXITKILL over from the template, so
// when the master thread ends (as it does if the sentry dies) every stub is killed,
// including one in use, and its parked threads with it.
func TestStubsDieWithMaster(t *testing.T) {
	// The Go runtime does not end the process's main thread when a goroutine locked to
	// it returns: find a master on another thread.
	var h *harness
	var p *ptracePlatform
	var a *addressSpace
	for i := 0; ; i++ {
		h = newHarness(t)
		p = h.p.(*ptracePlatform)
		as, err := h.p.NewAddressSpace()
		if err != nil {
			t.Fatal(err)
		}
		a = as.(*addressSpace)
		if int(p.master().tid.Load()) != os.Getpid() {
			break
		}
		as.Release()
		p.close()
		if i == 10 {
			t.Skip("the master always ran on the main thread")
		}
	}
	m := p.master()
	deadline := time.Now().Add(5 * time.Second)
	for len(m.pool) < poolSize && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	pids := []int32{a.pid, m.templatePid.Load()}
	for len(m.pool) > 0 {
		pids = append(pids, (<-m.pool).pid)
	}
	// End the master goroutine, and with it its OS thread, without its shutdown: park it
	// in a request that makes it exit.
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.reqs <- &request{kind: reqExitForTest}
	}()
	<-done
	<-m.done
	// Each died of SIGKILL (PTRACE_O_EXITKILL), not of running on untraced into the ud2
	// after its int3.
	for _, pid := range pids {
		var status int32
		if _, err := wait4(pid, &status, 0); err != nil {
			t.Fatalf("wait4(%d): %v", pid, err)
		}
		if !wSignaled(status) || wTermSig(status) != int(unix.SIGKILL) {
			t.Errorf("stub %d %s, want killed by SIGKILL when its tracer thread ended", pid, describeStatus(status))
		}
	}
	a.dead.Store(true)
}
