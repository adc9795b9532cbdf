package kernel

import (
	"math/rand/v2"
	"runtime"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/platform"
	"runsc.dev/sentry/kernel/auth"
	"runsc.dev/sentry/loader"
	"runsc.dev/sentry/mm"
	"runsc.dev/sentry/vfs"
)

// CreateProcessArgs describe a container's first process (or a process exec'd into it).
type CreateProcessArgs struct {
	Argv, Envv []string
	// Executable is the opened program and ExecPath its absolute path.
	Executable *vfs.FileDescription
	ExecPath   string
	// Filename is the path as given (AT_EXECFN).
	Filename    string
	Credentials *auth.Credentials
	FDTable     *vfs.FDTable
	FSContext   *vfs.FSContext
	Rlimits     [NumRlimits]Rlimit
}

const pageSize = 4096

// newLayout picks a randomised address-space layout below the platform's limit.
func (k *Kernel) newLayout(stackLimit uint64) mm.Layout {
	top := k.platform.MaxUserAddress()
	stackTop := (top - uintptr(rand.Uint64N(1<<28))) &^ (pageSize - 1)
	gap := uintptr(min(max(stackLimit, 128<<20), 1<<32))
	mmapBase := (stackTop - gap - uintptr(rand.Uint64N(1<<32))) &^ (pageSize - 1)
	return mm.Layout{MinAddr: k.platform.MinUserAddress(), MaxAddr: top, StackTop: stackTop, MmapBase: mmapBase}
}

// CreateProcess builds a thread group with one task ready to run the executable. The
// first process created becomes the container's init. Start runs it.
func (k *Kernel) CreateProcess(a CreateProcessArgs) (*ThreadGroup, error) {
	ctx := &vfs.KernelContext{Creds: a.Credentials}
	file, execPath, argv, err := resolveInterpreterScript(ExecArgs{
		File: a.Executable, Path: a.ExecPath, Filename: a.Filename, Argv: a.Argv,
		Resolve: func(p string) (*vfs.FileDescription, string, error) {
			return k.vfs.OpenExecutable(ctx, a.FSContext, p)
		},
	})
	if err != nil {
		return nil, err
	}
	defer file.DecRef()
	a.Executable, a.ExecPath, a.Argv = file, execPath, argv
	stack := a.Rlimits[unix.RLIMIT_STACK].Cur
	m, err := mm.New(k.mf, k.platform, k.newLayout(stack))
	if err != nil {
		return nil, err
	}
	st, err := a.Executable.Stat()
	if err != nil {
		m.DecUsers()
		return nil, err
	}
	img, err := loader.Load(loader.Args{
		MM: m, File: a.Executable, Name: a.ExecPath, Dev: st.Dev(), Ino: st.Ino,
		Argv: a.Argv, Envv: a.Envv, ExecFn: a.Filename, StackSize: stack,
		UID: uint32(a.Credentials.RealUID), EUID: uint32(a.Credentials.EffectiveUID),
		GID: uint32(a.Credentials.RealGID), EGID: uint32(a.Credentials.EffectiveGID),
		OpenInterpreter: k.interpreterOpener(ctx, a.FSContext),
		VDSO:            k.vdso,
	})
	if err != nil {
		m.DecUsers()
		return nil, err
	}
	pctx, err := k.platform.NewContext()
	if err != nil {
		m.DecUsers()
		return nil, err
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	pid := k.allocPIDLocked()
	tg := &ThreadGroup{
		k: k, pid: pid, handlers: &SignalHandlers{}, rlimits: a.Rlimits,
		pgid: pid, sid: pid, exe: a.ExecPath, exited: make(chan struct{}),
		childCh: make(chan struct{}), children: map[*ThreadGroup]struct{}{},
		exitSignal: int(unix.SIGCHLD),
	}
	t := &Task{k: k, tg: tg, tid: pid, pctx: pctx, mm: m, fdt: a.FDTable, fs: a.FSContext, fdtUsers: newSharedCount()}
	t.creds.Store(a.Credentials)
	t.name = baseName(a.ExecPath)
	t.ac.Regs = arch.Registers{Rip: uint64(img.Entry), Rsp: uint64(img.Stack), Cs: arch.UserCS, Ss: arch.UserDS, Eflags: arch.InitEflags}
	t.ac.FP = arch.NewFPState()
	t.ac.FPValid = true
	tg.tasks = []*Task{t}
	tg.leader = t
	k.tasks[pid] = t
	k.groups[pid] = tg
	if k.init == nil {
		k.init = tg
	}
	k.liveTasks.Add(1)
	return tg, nil
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// Start runs the thread group's tasks.
func (k *Kernel) Start(tg *ThreadGroup) {
	tg.mu.Lock()
	tasks := append([]*Task(nil), tg.tasks...)
	tg.mu.Unlock()
	for _, t := range tasks {
		go t.run()
	}
}

// run is the task goroutine: it runs application code until a trap, handles the trap,
// and repeats until the task exits.
func (t *Task) run() {
	// The goroutine keeps its OS thread while the task lives: ptrace requires that the
	// tracer of the application thread is always the same host thread. The thread goes
	// back to the runtime once the task has exited (see the end).
	runtime.LockOSThread()
	t.cpu.startCPU()
	status := ExitedStatus(0)
	for {
		if st, ok := t.exitRequested(); ok {
			status = st
			break
		}
		if !t.deliverSignals() {
			break
		}
		t.interruptPending.Store(false)
		start := nanotime()
		t.cpu.running.Store(start)
		trap, err := t.pctx.Switch(t.mm.AddressSpace(), &t.ac)
		end := nanotime()
		t.cpu.running.Store(0)
		t.cpu.user.Add(end - start)
		t.tg.cpuTimers.afterSwitch(end)
		if err != nil {
			t.k.Logf("[%d] platform failure, killing the process: %v", t.tid, err)
			t.tg.exitGroup(SignaledStatus(int(unix.SIGKILL), false))
			break
		}
		switch trap.Kind {
		case platform.TrapSyscall:
			t.executeSyscall()
		case platform.TrapFault:
			t.handleFault(trap)
		case platform.TrapSignal:
			t.forceSignal(&SignalInfo{Signo: trap.Signo, Code: trap.Code, Addr: trap.Addr})
		case platform.TrapInterrupted:
		}
	}
	t.exitTask(status)
	// The platform context is released and no longer traces anything from this thread,
	// so the thread can go back to the Go runtime: ending it instead would make the next
	// task's LockOSThread wait for a new host thread.
	runtime.UnlockOSThread()
}

// handleFault resolves a memory fault or turns it into SIGSEGV/SIGBUS.
func (t *Task) handleFault(trap platform.Trap) {
	r := t.mm.HandleFault(trap.Addr, trap.Access, trap.AccessKnown)
	if r == mm.FaultAccErr && t.staleFaultAddr != trap.Addr && t.mm.Remap(trap.Addr) {
		// Possibly stale (see mm.Remap): retry once.
		t.staleFaultAddr = trap.Addr
		return
	}
	t.staleFaultAddr = 0
	switch r {
	case mm.FaultResolved:
	case mm.FaultMapErr:
		t.forceSignal(&SignalInfo{Signo: int32(unix.SIGSEGV), Code: SEGV_MAPER, Addr: trap.Addr})
	case mm.FaultAccErr:
		t.forceSignal(&SignalInfo{Signo: int32(unix.SIGSEGV), Code: SEGV_ACCER, Addr: trap.Addr})
	case mm.FaultBusErr:
		t.forceSignal(&SignalInfo{Signo: int32(unix.SIGBUS), Code: BUS_ADRERR, Addr: trap.Addr})
	}
}

// exitRequested reports whether the task called exit(2), and its status.
func (t *Task) exitRequested() (WaitStatus, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.exitStatus, t.exiting
}

// RequestExit makes the task exit after the current syscall (exit(2)).
func (t *Task) RequestExit(status WaitStatus) {
	t.mu.Lock()
	t.exiting, t.exitStatus = true, status
	t.mu.Unlock()
}

// ExitGroup makes the whole thread group exit (exit_group(2)).
func (t *Task) ExitGroup(status WaitStatus) {
	t.tg.exitGroup(status)
	t.RequestExit(status)
}
