package syscalls

import (
	"crypto/rand"
	"encoding/binary"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
)

// The kernel identity the sandbox reports.
const (
	utsSysname = "Linux"
	utsRelease = "6.1.0"
	utsVersion = "#1 SMP runsc"
	utsMachine = "x86_64"
	utsDomain  = "(none)"
	utsLen     = 65
)

// Uname implements uname(2).
func Uname(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	var b [6 * utsLen]byte
	for i, s := range []string{utsSysname, t.Kernel().Hostname(), utsRelease, utsVersion, utsMachine, utsDomain} {
		copy(b[i*utsLen:i*utsLen+utsLen-1], s)
	}
	if _, err := t.CopyOut(args.Addr(0), b[:]); err != nil {
		return 0, err
	}
	return 0, nil
}

// Sysinfo implements sysinfo(2).
func Sysinfo(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	var host unix.Sysinfo_t
	_ = unix.Sysinfo(&host)
	k := t.Kernel()
	total := uint64(host.Totalram) * uint64(host.Unit)
	used := k.MemoryFile().UsedBytes()
	free := uint64(0)
	if total > used {
		free = total - used
	}
	// struct sysinfo on x86-64: 112 bytes.
	var b [112]byte
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(time.Since(k.BootTime()).Seconds()))
	// loads[3] stay zero: the sandbox does not compute load averages.
	le.PutUint64(b[32:], total)
	le.PutUint64(b[40:], free)
	le.PutUint16(b[80:], uint16(len(k.ThreadGroups())))
	le.PutUint32(b[104:], 1) // mem_unit
	if _, err := t.CopyOut(args.Addr(0), b[:]); err != nil {
		return 0, err
	}
	return 0, nil
}

// getrandom flags.
const (
	grndNonblock = 1
	grndRandom   = 2
	grndInsecure = 4
)

// Getrandom implements getrandom(2).
func Getrandom(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	addr, n, flags := args.Addr(0), args[1], args.Uint(2)
	if flags&^(grndNonblock|grndRandom|grndInsecure) != 0 || flags&(grndRandom|grndInsecure) == grndRandom|grndInsecure {
		return 0, unix.EINVAL
	}
	n = min(n, 1<<25-1) // Linux caps one call at 32 MiB - 1
	blocks, err := t.MemoryManager().Blocks(addr, int(n), true)
	done := 0
	for _, b := range blocks {
		rand.Read(b)
		done += len(b)
	}
	if done == 0 && err != nil {
		return 0, err
	}
	return uintptr(done), nil
}

const rlimitSize = 16

func copyOutRlimit(t *kernel.Task, addr uintptr, l kernel.Rlimit) error {
	var b [rlimitSize]byte
	binary.LittleEndian.PutUint64(b[0:], l.Cur)
	binary.LittleEndian.PutUint64(b[8:], l.Max)
	_, err := t.CopyOut(addr, b[:])
	return err
}

// Getrlimit implements getrlimit(2).
func Getrlimit(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	r := args.Uint(0)
	if r >= kernel.NumRlimits {
		return 0, unix.EINVAL
	}
	return 0, copyOutRlimit(t, args.Addr(1), t.ThreadGroup().Rlimit(int(r)))
}

// Setrlimit implements setrlimit(2).
func Setrlimit(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	r := args.Uint(0)
	if r >= kernel.NumRlimits {
		return 0, unix.EINVAL
	}
	var b [rlimitSize]byte
	if _, err := t.CopyIn(args.Addr(1), b[:]); err != nil {
		return 0, err
	}
	l := kernel.Rlimit{Cur: binary.LittleEndian.Uint64(b[0:]), Max: binary.LittleEndian.Uint64(b[8:])}
	return 0, t.ThreadGroup().SetRlimit(int(r), l, t.Credentials().HasCapability(24 /* CAP_SYS_RESOURCE */))
}

// Prlimit64 implements prlimit64(2).
func Prlimit64(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	pid, r, newAddr, oldAddr := args.Int(0), args.Uint(1), args.Addr(2), args.Addr(3)
	if r >= kernel.NumRlimits {
		return 0, unix.EINVAL
	}
	tg := t.ThreadGroup()
	if pid < 0 {
		return 0, unix.ESRCH
	}
	if pid != 0 && pid != tg.PID() {
		other := t.Kernel().TaskByTID(pid)
		if other == nil {
			return 0, unix.ESRCH
		}
		tg = other.ThreadGroup()
	}
	var newLim *kernel.Rlimit
	if newAddr != 0 {
		var b [rlimitSize]byte
		if _, err := t.CopyIn(newAddr, b[:]); err != nil {
			return 0, err
		}
		newLim = &kernel.Rlimit{Cur: binary.LittleEndian.Uint64(b[0:]), Max: binary.LittleEndian.Uint64(b[8:])}
	}
	old := tg.Rlimit(int(r))
	if newLim != nil {
		if err := tg.SetRlimit(int(r), *newLim, t.Credentials().HasCapability(24)); err != nil {
			return 0, err
		}
	}
	if oldAddr != 0 {
		if err := copyOutRlimit(t, oldAddr, old); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// cpumaskBytes is the size of the kernel's CPU mask for this machine's CPU count,
// rounded up to a long, as sched_getaffinity reports it.
func cpumaskBytes() int { return (numCPU() + 63) / 64 * 8 }

// numCPU is the number of CPUs the sandbox reports.
func numCPU() int { return runtime.NumCPU() }

// SchedGetaffinity implements sched_getaffinity(2): the mask sched_setaffinity set, or
// every CPU of the sandbox.
func SchedGetaffinity(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	pid, size, addr := args.Int(0), args[1], args.Addr(2)
	if pid < 0 {
		return 0, unix.ESRCH
	}
	if pid != 0 && t.Kernel().TaskByTID(pid) == nil {
		return 0, unix.ESRCH
	}
	if int(size)*8 < numCPU() || size&7 != 0 {
		return 0, unix.EINVAL
	}
	n := min(int(size), cpumaskBytes())
	mask := make([]byte, n)
	target := t
	if pid != 0 {
		target = t.Kernel().TaskByTID(pid)
	}
	if a := target.Affinity(); a != nil {
		copy(mask, a)
	} else {
		for c := 0; c < numCPU(); c++ {
			mask[c/8] |= 1 << (c % 8)
		}
	}
	if _, err := t.CopyOut(addr, mask); err != nil {
		return 0, err
	}
	return uintptr(n), nil
}

// SchedYield implements sched_yield(2).
func SchedYield(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	runtime.Gosched()
	return 0, nil
}

// Getrusage implements getrusage(2). User time is the time in application code, system
// time the sentry's work for the task (see kernel/cputime.go); ru_maxrss is the resident
// size now; fault, I/O and context-switch counters are zero.
func Getrusage(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	var u kernel.Usage
	var maxRSS uint64
	switch args.Int(0) {
	case unix.RUSAGE_SELF:
		u = t.ThreadGroup().CPUUsage()
		maxRSS = t.MemoryManager().ResidentBytes()
	case unix.RUSAGE_THREAD:
		u = t.CPUUsage()
		maxRSS = t.MemoryManager().ResidentBytes()
	case unix.RUSAGE_CHILDREN:
		u = t.ThreadGroup().ChildrenCPUUsage()
	default:
		return 0, unix.EINVAL
	}
	if _, err := t.CopyOut(args.Addr(1), encodeRusage(u, maxRSS)); err != nil {
		return 0, err
	}
	return 0, nil
}

// encodeRusage lays out a struct rusage.
func encodeRusage(u kernel.Usage, maxRSS uint64) []byte {
	b := make([]byte, rusageBytes)
	putTimeval := func(off int, d time.Duration) {
		binary.LittleEndian.PutUint64(b[off:], uint64(d/time.Second))
		binary.LittleEndian.PutUint64(b[off+8:], uint64(d%time.Second/time.Microsecond))
	}
	putTimeval(0, u.User)
	putTimeval(16, u.Sys)
	binary.LittleEndian.PutUint64(b[32:], maxRSS/1024) // ru_maxrss in KiB
	return b
}

// clockTicks converts a CPU time to USER_HZ ticks (times(2), SIGCHLD's si_utime).
func clockTicks(d time.Duration) uint64 {
	const userHZ = 100
	return uint64(d * userHZ / time.Second)
}

// arch_prctl codes.
const (
	archSetGS    = 0x1001
	archSetFS    = 0x1002
	archGetFS    = 0x1003
	archGetGS    = 0x1004
	archGetCPUID = 0x1011
	archSetCPUID = 0x1012
)

// ArchPrctl implements arch_prctl(2).
func ArchPrctl(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	regs := &t.Arch().Regs
	code, addr := args.Int(0), args.Addr(1)
	limit := uintptr(t.Kernel().Platform().MaxUserAddress())
	switch code {
	case archSetFS:
		if addr >= limit {
			return 0, unix.EPERM
		}
		regs.FsBase = uint64(addr)
	case archSetGS:
		if addr >= limit {
			return 0, unix.EPERM
		}
		regs.GsBase = uint64(addr)
	case archGetFS:
		return 0, t.CopyOutUint64(addr, regs.FsBase)
	case archGetGS:
		return 0, t.CopyOutUint64(addr, regs.GsBase)
	case archGetCPUID:
		return 1, nil
	case archSetCPUID:
		// CPUID faulting is not offered.
		return 0, unix.ENODEV
	default:
		return 0, unix.EINVAL
	}
	return 0, nil
}

func init() {
	register(unix.SYS_UNAME, "uname", Uname, kernel.Supported, "")
	register(unix.SYS_SYSINFO, "sysinfo", Sysinfo, kernel.Partial, "no load averages, swap or shared memory figures")
	register(unix.SYS_GETRANDOM, "getrandom", Getrandom, kernel.Supported, "")
	register(unix.SYS_GETRLIMIT, "getrlimit", Getrlimit, kernel.Supported, "")
	register(unix.SYS_SETRLIMIT, "setrlimit", Setrlimit, kernel.Supported, "")
	register(unix.SYS_PRLIMIT64, "prlimit64", Prlimit64, kernel.Supported, "")
	register(unix.SYS_SCHED_GETAFFINITY, "sched_getaffinity", SchedGetaffinity, kernel.Supported, "")
	register(unix.SYS_SCHED_YIELD, "sched_yield", SchedYield, kernel.Supported, "")
	register(unix.SYS_GETRUSAGE, "getrusage", Getrusage, kernel.Partial, "user time is measured across the platform's switch to the application; no fault, I/O or context-switch counters")
	register(unix.SYS_ARCH_PRCTL, "arch_prctl", ArchPrctl, kernel.Supported, "")
}
