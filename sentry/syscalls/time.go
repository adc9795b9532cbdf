package syscalls

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
)

// Clock IDs (linux/time.h).
const (
	clockRealtime         = 0
	clockMonotonic        = 1
	clockProcessCPUTimeID = 2
	clockThreadCPUTimeID  = 3
	clockMonotonicRaw     = 4
	clockRealtimeCoarse   = 5
	clockMonotonicCoarse  = 6
	clockBoottime         = 7
	clockRealtimeAlarm    = 8
	clockBoottimeAlarm    = 9
	clockTAI              = 11
	timerAbstime          = 1
	nsecPerSec            = 1_000_000_000
)

// clockNow reads a clock; EINVAL for an unknown one. CPU-time clocks are cpuClockNow's.
func clockNow(t *kernel.Task, id int32) (int64, error) {
	if id < 0 {
		return cpuClockNow(t, id)
	}
	var hostID int32
	switch id {
	case clockRealtime, clockRealtimeAlarm:
		hostID = unix.CLOCK_REALTIME
	case clockMonotonic, clockMonotonicRaw:
		hostID = unix.CLOCK_MONOTONIC
	case clockRealtimeCoarse:
		hostID = unix.CLOCK_REALTIME_COARSE
	case clockMonotonicCoarse:
		hostID = unix.CLOCK_MONOTONIC_COARSE
	case clockBoottime, clockBoottimeAlarm:
		hostID = unix.CLOCK_BOOTTIME
	case clockTAI:
		hostID = unix.CLOCK_TAI
	case clockProcessCPUTimeID:
		return t.ThreadGroup().CPUUsage().Total().Nanoseconds(), nil
	case clockThreadCPUTimeID:
		return t.CPUTime().Nanoseconds(), nil
	default:
		return 0, unix.EINVAL
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(hostID, &ts); err != nil {
		return 0, unix.EINVAL
	}
	return ts.Nano(), nil
}

// cpuClockNow reads the CPU-time clock of a process or thread by ID, as
// clock_getcpuclockid(3) and pthread_getcpuclockid(3) make them: ~pid << 3, bit 2 for a
// thread, and in the low bits PROF (0: user+system), VIRT (1: user) or SCHED (2: all the
// time it ran). A thread's clock is readable only within its own process, a process's
// only by its PID (not another thread's TID).
func cpuClockNow(t *kernel.Task, id int32) (int64, error) {
	which, perThread, pid := id&3, id&4 != 0, ^(id >> 3)
	if which == 3 {
		return 0, unix.EINVAL
	}
	var u kernel.Usage
	switch {
	case perThread && pid == 0:
		u = t.CPUUsage()
	case perThread:
		o := t.Kernel().TaskByTID(pid)
		if o == nil || o.ThreadGroup() != t.ThreadGroup() {
			return 0, unix.EINVAL
		}
		u = o.CPUUsage()
	case pid == 0:
		u = t.ThreadGroup().CPUUsage()
	default:
		tg := t.Kernel().ThreadGroupByPID(pid)
		if tg == nil {
			return 0, unix.EINVAL
		}
		u = tg.CPUUsage()
	}
	if which == 1 {
		return u.User.Nanoseconds(), nil
	}
	return u.Total().Nanoseconds(), nil
}

func putTimespec(b []byte, ns int64) {
	binary.LittleEndian.PutUint64(b[0:], uint64(ns/nsecPerSec))
	binary.LittleEndian.PutUint64(b[8:], uint64(ns%nsecPerSec))
}

func copyInTimespec(t *kernel.Task, addr uintptr) (sec, nsec int64, err error) {
	var b [16]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, 0, err
	}
	return int64(binary.LittleEndian.Uint64(b[0:])), int64(binary.LittleEndian.Uint64(b[8:])), nil
}

// ClockGettime implements clock_gettime(2).
func ClockGettime(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	ns, err := clockNow(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	var b [16]byte
	putTimespec(b[:], ns)
	if _, err := t.CopyOut(args.Addr(1), b[:]); err != nil {
		return 0, err
	}
	return 0, nil
}

// ClockGetres implements clock_getres(2).
func ClockGetres(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	id := args.Int(0)
	if _, err := clockNow(t, id); err != nil {
		return 0, err
	}
	if args.Addr(1) == 0 {
		return 0, nil
	}
	res := int64(1)
	if id == clockRealtimeCoarse || id == clockMonotonicCoarse {
		res = 4_000_000 // one tick at HZ=250
	}
	var b [16]byte
	putTimespec(b[:], res)
	if _, err := t.CopyOut(args.Addr(1), b[:]); err != nil {
		return 0, err
	}
	return 0, nil
}

// Gettimeofday implements gettimeofday(2).
func Gettimeofday(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	if tv := args.Addr(0); tv != 0 {
		ns, _ := clockNow(t, clockRealtime)
		var b [16]byte
		binary.LittleEndian.PutUint64(b[0:], uint64(ns/nsecPerSec))
		binary.LittleEndian.PutUint64(b[8:], uint64(ns%nsecPerSec/1000))
		if _, err := t.CopyOut(tv, b[:]); err != nil {
			return 0, err
		}
	}
	if tz := args.Addr(1); tz != 0 {
		// The sandbox runs in UTC: tz_minuteswest = 0, tz_dsttime = 0.
		var b [8]byte
		if _, err := t.CopyOut(tz, b[:]); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Time implements time(2).
func Time(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	ns, _ := clockNow(t, clockRealtime)
	sec := ns / nsecPerSec
	if addr := args.Addr(0); addr != 0 {
		if err := t.CopyOutUint64(addr, uint64(sec)); err != nil {
			return 0, err
		}
	}
	return uintptr(sec), nil
}

// sleep blocks until the absolute time deadline on clock id, or until a signal
// interrupts it. On interruption it writes the time left to rem (if not 0) and returns
// ERESTART_RESTARTBLOCK: a signal handler makes that EINTR; otherwise (a stop and
// continue, an ignored signal) restart_syscall sleeps on to the same deadline.
func sleep(t *kernel.Task, id int32, deadlineNs int64, rem uintptr) error {
	now, err := clockNow(t, id)
	if err != nil {
		return err
	}
	if deadlineNs <= now {
		return nil
	}
	if !t.BlockTimeout(time.Now().Add(time.Duration(deadlineNs - now))) {
		return nil
	}
	if rem != 0 {
		now, _ = clockNow(t, id)
		left := max(deadlineNs-now, 0)
		var b [16]byte
		putTimespec(b[:], left)
		if _, err := t.CopyOut(rem, b[:]); err != nil {
			return err
		}
	}
	t.SetRestartBlock(func(t *kernel.Task) (uintptr, error) {
		return 0, sleep(t, id, deadlineNs, rem)
	})
	return kernel.ERESTART_RESTARTBLOCK
}

// Nanosleep implements nanosleep(2).
func Nanosleep(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	sec, nsec, err := copyInTimespec(t, args.Addr(0))
	if err != nil {
		return 0, err
	}
	if sec < 0 || nsec < 0 || nsec >= nsecPerSec {
		return 0, unix.EINVAL
	}
	now, _ := clockNow(t, clockMonotonic)
	return 0, sleep(t, clockMonotonic, now+sec*nsecPerSec+nsec, args.Addr(1))
}

// ClockNanosleep implements clock_nanosleep(2). Unlike nanosleep it returns the error
// number, which the kernel ABI also does through the negative return value.
func ClockNanosleep(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	id, flags := args.Int(0), args.Int(1)
	switch id {
	case clockRealtime, clockMonotonic, clockBoottime, clockTAI, clockRealtimeAlarm, clockBoottimeAlarm:
	case clockProcessCPUTimeID:
		t.Unsupported("clock_nanosleep on CLOCK_PROCESS_CPUTIME_ID")
		return 0, unix.EINVAL
	case clockThreadCPUTimeID:
		// Linux refuses to sleep on the calling thread's own CPU clock.
		return 0, unix.EOPNOTSUPP
	default:
		return 0, unix.EINVAL
	}
	if flags&^timerAbstime != 0 {
		return 0, unix.EINVAL
	}
	sec, nsec, err := copyInTimespec(t, args.Addr(2))
	if err != nil {
		return 0, err
	}
	if sec < 0 || nsec < 0 || nsec >= nsecPerSec {
		return 0, unix.EINVAL
	}
	d := sec*nsecPerSec + nsec
	if flags&timerAbstime != 0 {
		// An absolute sleep restarts as it is (Linux's ERESTARTNOHAND).
		if err := sleep(t, id, d, 0); err != nil {
			t.TakeRestartBlock()
			if err == kernel.ERESTART_RESTARTBLOCK {
				err = kernel.ERESTARTNOHAND
			}
			return 0, err
		}
		return 0, nil
	}
	now, _ := clockNow(t, id)
	return 0, sleep(t, id, now+d, args.Addr(3))
}

func init() {
	register(unix.SYS_CLOCK_GETTIME, "clock_gettime", ClockGettime, kernel.Supported, "")
	register(unix.SYS_CLOCK_GETRES, "clock_getres", ClockGetres, kernel.Supported, "")
	register(unix.SYS_GETTIMEOFDAY, "gettimeofday", Gettimeofday, kernel.Supported, "")
	register(unix.SYS_TIME, "time", Time, kernel.Supported, "")
	register(unix.SYS_NANOSLEEP, "nanosleep", Nanosleep, kernel.Supported, "")
	register(unix.SYS_CLOCK_NANOSLEEP, "clock_nanosleep", ClockNanosleep, kernel.Supported, "")
}
