// Package ptrace is the ptrace platform: it runs application threads in stub processes
// whose every system call is intercepted with PTRACE_SYSEMU and never executed by the host.
//
// It owns the stub program (a one-page static ELF generated in stub.go and exec'd from a
// sealed memfd), the stub processes (one per AddressSpace), and the stub threads (one per
// Context and AddressSpace, traced by the task's own OS thread, which must stay locked to
// the task goroutine). One "master" goroutine per platform (master.go), locked to its OS
// thread for good, execs a single template stub, makes every other stub process by
// having the template clone itself (CLONE_PTRACE | CLONE_PARENT: traced by the master
// thread from birth), keeps a few such stubs ready in a pool, and traces the main thread
// of each.
//
// Address space: applications may map [0x10000, stubBase); the stub page sits at stubBase
// (0x7fffff000000) and everything else the host put in the stub is unmapped at start-up.
// The sentry's memory file is fd 0 in every stub (and the only fd); MapFile injects mmap of
// it: into a stopped stub thread that the caller traces if there is one, else through the
// master; or, while the address space has no task thread at all (the exec loader filling
// a new one), later, by the first thread to attach, before any application code runs.
//
// Host syscalls are injected by pointing a stopped stub thread at the stub's
// "syscall; int3" pair and continuing it: one ptrace stop per injection. A seccomp filter
// in the stub kills the process if any other instruction makes a syscall, or if that one
// makes another syscall than the few it is for (stub.go). New threads are cloned by the
// master at a second site, sleep untraced in pause(2) at a third, and are seized
// (PTRACE_SEIZE + PTRACE_INTERRUPT) by the task's OS thread; each new stub process comes
// with one such thread. New stub processes are cloned at a fourth site.
//
// Every stub thread has PTRACE_O_EXITKILL: a tracer OS thread that exits while its stub
// thread lives kills the stub rather than let that thread run application code untraced.
// Context.Release, called on the task goroutine, first parks the thread: it points it at
// the pause loop and detaches it (PTRACE_DETACH), and the address space keeps it as a
// spare for the next context that needs a thread there (pthread_create after a thread
// exit costs a PTRACE_SEIZE, not a clone). A parked thread runs no application code and
// dies with its stub. Past maxSpareThreads spares the thread exits instead (an injected
// exit(2)). Either way a task's exit leaves the rest of its process running, and the
// task's OS thread traces nothing any more.
//
// AddressSpace.Release marks the address space dead (nothing is injected into it or
// resumed in it after that) and sends SIGKILL before it returns; a reaper goroutine waits
// for the stub's threads to die. Protect (platform.Protector) mprotects the mapped runs
// of a range, which the address space records.
//
// Performance: the tracer and its stub thread are pinned to one CPU (context.pin), since a
// cross-CPU wake-up costs ~30-60us in a nested VM against ~3us for a same-CPU round trip;
// SIGCHLD gets SA_NOCLDSTOP so that ptrace stops do not run the Go runtime's signal
// handler; registers are written only when they changed and FP state only when the sentry
// asks (PullFP) or supplies it (FPValid).
//
// Host requirements (for a sentry seccomp allow-list, which stubs inherit): ptrace, wait4,
// tgkill, kill, getcpu, sched_getaffinity, sched_setaffinity, personality, rt_sigaction,
// memfd_create, fcntl, pwrite64, openat, clone, execve and, in stubs, close_range, prctl,
// seccomp, mmap, munmap, mprotect, clone, pause, exit.
//
// Lock order: addressSpace.mu, addressSpace.mapMu and ptracePlatform.reapMu are leaves;
// the master goroutine never takes addressSpace.mu, so a goroutine may wait for it while
// holding that lock. Contexts take no locks on the Switch path; they synchronize with
// Interrupt through atomics only.
package ptrace

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/platform"
)

func init() { platform.Register("ptrace", New) }

// ptracePlatform implements platform.Platform.
type ptracePlatform struct {
	memFD  int
	layout stubLayout
	// stubFile is a sealed, read-only memfd holding the stub executable; stubPath names it
	// through /proc/self/fd.
	stubFile *os.File
	stubPath string

	// fpSize is the size of the kernel's NT_X86_XSTATE regset, learnt from the first stub
	// (0 until then). It may differ from arch.FPStateSize() (CPUID) on some hosts.
	fpSize atomic.Int64

	// The master goroutine (master.go), started by the first NewAddressSpace.
	masterOnce sync.Once
	m          *master

	// The reaper goroutine collects killed stubs (reap); reapMu guards these fields.
	reapMu     sync.Mutex
	reapq      chan reapJob
	reapClosed bool
	reaperDone chan struct{}
}

// master returns the platform's master, starting it if needed.
func (p *ptracePlatform) master() *master {
	p.masterOnce.Do(func() { p.m = newMaster(p) })
	return p.m
}

// close stops the master, killing the template and pooled stubs, for tests. Address
// spaces still in use die with it.
func (p *ptracePlatform) close() {
	p.masterOnce.Do(func() {})
	if p.m != nil {
		p.m.close()
	}
	p.stopReaper()
	p.stubFile.Close()
}

var (
	stubOnce   sync.Once
	stubImage  []byte
	stubLay    stubLayout
	stubErr    error
	sigchldErr error
)

// New builds the ptrace platform. opts.MemoryFD is the sentry's memory file; it is the only
// file MapFile accepts.
func New(opts platform.Options) (platform.Platform, error) {
	var st unix.Stat_t
	if err := unix.Fstat(opts.MemoryFD, &st); err != nil {
		return nil, fmt.Errorf("ptrace platform: memory file fd %d: %w", opts.MemoryFD, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("ptrace platform: memory file fd %d is not a regular file (mode %#o)", opts.MemoryFD, st.Mode)
	}
	stubOnce.Do(func() {
		stubImage, stubLay, stubErr = buildStub()
		sigchldErr = setNoCldStop()
	})
	if stubErr != nil {
		return nil, fmt.Errorf("ptrace platform: %w", stubErr)
	}
	if sigchldErr != nil {
		return nil, fmt.Errorf("ptrace platform: setting SA_NOCLDSTOP on SIGCHLD: %w", sigchldErr)
	}
	f, err := writeStubFile(stubImage)
	if err != nil {
		return nil, fmt.Errorf("ptrace platform: %w", err)
	}
	return &ptracePlatform{
		memFD:    opts.MemoryFD,
		layout:   stubLay,
		stubFile: f,
		stubPath: fmt.Sprintf("/proc/self/fd/%d", f.Fd()),
	}, nil
}

// writeStubFile stores the stub image in a sealed memfd and returns a read-only descriptor
// of it (an executable may not be open for writing while it is exec'd).
func writeStubFile(img []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("runsc-ptrace-stub", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create for the stub: %w", err)
	}
	defer unix.Close(fd)
	for off := 0; off < len(img); {
		n, err := unix.Pwrite(fd, img[off:], int64(off))
		if err != nil {
			return nil, fmt.Errorf("writing the stub: %w", err)
		}
		off += n
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
		return nil, fmt.Errorf("sealing the stub: %w", err)
	}
	ro, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reopening the stub read-only: %w", err)
	}
	return os.NewFile(uintptr(ro), "runsc-ptrace-stub"), nil
}

func (p *ptracePlatform) Name() string            { return "ptrace" }
func (p *ptracePlatform) MinUserAddress() uintptr { return minUserAddress }
func (p *ptracePlatform) MaxUserAddress() uintptr { return maxUserAddress }

func (p *ptracePlatform) NewAddressSpace() (platform.AddressSpace, error) {
	return newAddressSpace(p)
}

func (p *ptracePlatform) NewContext() (platform.Context, error) {
	return newContext(p), nil
}
