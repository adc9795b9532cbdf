package syscalls

import (
	"encoding/binary"
	"math"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
)

// Timers that signal: alarm, getitimer/setitimer and the POSIX timers. The timers
// themselves are the kernel's (sentry/kernel/timers.go); times there are nanoseconds.

const usecPerSec = 1_000_000

// toNanos converts a valid time to nanoseconds, saturating as Linux's ktime does.
func toNanos(sec, nsec int64) int64 {
	if sec >= math.MaxInt64/nsecPerSec {
		return math.MaxInt64
	}
	return sec*nsecPerSec + nsec
}

// copyInItimerval reads a struct itimerval {it_interval, it_value} (timevals) and returns
// value and interval in nanoseconds; EINVAL for a negative time or tv_usec out of range.
func copyInItimerval(t *kernel.Task, addr uintptr) (value, interval int64, err error) {
	var b [32]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, 0, err
	}
	le := binary.LittleEndian
	var ns [2]int64
	for i := range ns {
		sec, usec := int64(le.Uint64(b[16*i:])), int64(le.Uint64(b[16*i+8:]))
		if sec < 0 || usec < 0 || usec >= usecPerSec {
			return 0, 0, unix.EINVAL
		}
		ns[i] = toNanos(sec, usec*1000)
	}
	return ns[1], ns[0], nil
}

// putTimeval writes a struct timeval; an armed timer's value never reads as zero.
func putTimeval(b []byte, ns int64, armed bool) {
	if armed && ns < 1000 {
		ns = 1000
	}
	binary.LittleEndian.PutUint64(b[0:], uint64(ns/nsecPerSec))
	binary.LittleEndian.PutUint64(b[8:], uint64(ns%nsecPerSec/1000))
}

func copyOutItimerval(t *kernel.Task, addr uintptr, value, interval int64) error {
	var b [32]byte
	putTimeval(b[0:], interval, false)
	putTimeval(b[16:], value, value > 0)
	_, err := t.CopyOut(addr, b[:])
	return err
}

// Getitimer implements getitimer(2).
func Getitimer(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	value, interval, err := t.ThreadGroup().ITimer(int(args.Int(0)))
	if err != nil {
		return 0, err
	}
	return 0, copyOutItimerval(t, args.Addr(1), value, interval)
}

// Setitimer implements setitimer(2). A NULL new value disarms the timer, as Linux still
// allows.
func Setitimer(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	var value, interval int64
	if addr := args.Addr(1); addr != 0 {
		var err error
		if value, interval, err = copyInItimerval(t, addr); err != nil {
			return 0, err
		}
	}
	oldValue, oldInterval, err := t.ThreadGroup().SetITimer(int(args.Int(0)), value, interval)
	if err != nil {
		return 0, err
	}
	if old := args.Addr(2); old != 0 {
		return 0, copyOutItimerval(t, old, oldValue, oldInterval)
	}
	return 0, nil
}

// Alarm implements alarm(2): it returns the seconds left of the previous alarm, rounded
// to the nearest (and at least 1 if any time was left).
func Alarm(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	old, _, err := t.ThreadGroup().SetITimer(kernel.ITimerReal, toNanos(int64(args.Uint(0)), 0), 0)
	if err != nil {
		return 0, err
	}
	secs, usec := old/nsecPerSec, old%nsecPerSec/1000
	if (secs == 0 && old > 0) || usec >= 500000 {
		secs++
	}
	return uintptr(secs), nil
}

// copyInItimerspec reads a struct itimerspec {it_interval, it_value} and returns value
// and interval in nanoseconds; EINVAL for a negative time or tv_nsec out of range.
func copyInItimerspec(t *kernel.Task, addr uintptr) (value, interval int64, err error) {
	var b [32]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, 0, err
	}
	le := binary.LittleEndian
	var ns [2]int64
	for i := range ns {
		sec, nsec := int64(le.Uint64(b[16*i:])), int64(le.Uint64(b[16*i+8:]))
		if sec < 0 || nsec < 0 || nsec >= nsecPerSec {
			return 0, 0, unix.EINVAL
		}
		ns[i] = toNanos(sec, nsec)
	}
	return ns[1], ns[0], nil
}

func copyOutItimerspec(t *kernel.Task, addr uintptr, value, interval int64) error {
	var b [32]byte
	putTimespec(b[0:], interval)
	putTimespec(b[16:], value)
	_, err := t.CopyOut(addr, b[:])
	return err
}

// TimerCreate implements timer_create(2).
func TimerCreate(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	clockID, sevAddr, idAddr := args.Int(0), args.Addr(1), args.Addr(2)
	var sev *kernel.SigEvent
	if sevAddr != 0 {
		var b [64]byte // sizeof(struct sigevent)
		if _, err := t.CopyIn(sevAddr, b[:]); err != nil {
			return 0, err
		}
		le := binary.LittleEndian
		sev = &kernel.SigEvent{
			Value:  le.Uint64(b[0:]),
			Signo:  int32(le.Uint32(b[8:])),
			Notify: int32(le.Uint32(b[12:])),
			TID:    int32(le.Uint32(b[16:])),
		}
	}
	c, err := t.TimerClock(clockID)
	if err != nil {
		if err == unix.EOPNOTSUPP {
			t.Unsupported("timer_create on a clock without timers")
		}
		return 0, err
	}
	id, err := t.CreatePosixTimer(c, sev)
	if err != nil {
		return 0, err
	}
	if err := t.CopyOutUint32(idAddr, uint32(id)); err != nil {
		t.ThreadGroup().DeletePosixTimer(id)
		return 0, err
	}
	return 0, nil
}

// TimerSettime implements timer_settime(2). Flags other than TIMER_ABSTIME are ignored,
// as Linux ignores them.
func TimerSettime(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	id, flags, newAddr, oldAddr := args.Int(0), args.Int(1), args.Addr(2), args.Addr(3)
	if newAddr == 0 {
		return 0, unix.EINVAL
	}
	value, interval, err := copyInItimerspec(t, newAddr)
	if err != nil {
		return 0, err
	}
	oldValue, oldInterval, err := t.ThreadGroup().SetPosixTimer(id, value, interval, flags&timerAbstime != 0)
	if err != nil {
		return 0, err
	}
	if oldAddr != 0 {
		return 0, copyOutItimerspec(t, oldAddr, oldValue, oldInterval)
	}
	return 0, nil
}

// TimerGettime implements timer_gettime(2).
func TimerGettime(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	value, interval, err := t.ThreadGroup().GetPosixTimer(args.Int(0))
	if err != nil {
		return 0, err
	}
	return 0, copyOutItimerspec(t, args.Addr(1), value, interval)
}

// TimerGetoverrun implements timer_getoverrun(2).
func TimerGetoverrun(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	n, err := t.ThreadGroup().PosixTimerOverrun(args.Int(0))
	return uintptr(n), err
}

// TimerDelete implements timer_delete(2).
func TimerDelete(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return 0, t.ThreadGroup().DeletePosixTimer(args.Int(0))
}

func init() {
	register(unix.SYS_GETITIMER, "getitimer", Getitimer, kernel.Supported, "")
	register(unix.SYS_SETITIMER, "setitimer", Setitimer, kernel.Supported, "")
	register(unix.SYS_ALARM, "alarm", Alarm, kernel.Supported, "")
	register(unix.SYS_TIMER_CREATE, "timer_create", TimerCreate, kernel.Partial, "no alarm clocks (CLOCK_*_ALARM: EOPNOTSUPP, as without an RTC)")
	register(unix.SYS_TIMER_SETTIME, "timer_settime", TimerSettime, kernel.Supported, "")
	register(unix.SYS_TIMER_GETTIME, "timer_gettime", TimerGettime, kernel.Supported, "")
	register(unix.SYS_TIMER_GETOVERRUN, "timer_getoverrun", TimerGetoverrun, kernel.Supported, "")
	register(unix.SYS_TIMER_DELETE, "timer_delete", TimerDelete, kernel.Supported, "")
}
