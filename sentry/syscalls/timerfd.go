package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/fs/timerfd"
	"runsc.dev/sentry/kernel"
)

// capWakeAlarm is CAP_WAKE_ALARM, which the alarm clocks need.
const capWakeAlarm = 35

// TimerfdCreate implements timerfd_create(2).
func TimerfdCreate(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	id, flags := args.Int(0), args.Uint(1)
	if flags&^(timerfd.Cloexec|timerfd.Nonblock) != 0 {
		return 0, unix.EINVAL
	}
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME:
	case unix.CLOCK_REALTIME_ALARM, unix.CLOCK_BOOTTIME_ALARM:
		if !t.Credentials().HasCapability(capWakeAlarm) {
			return 0, unix.EPERM
		}
	default:
		return 0, unix.EINVAL
	}
	c, _ := kernel.WallClock(id)
	f := timerfd.New(t, t.Kernel().VFS(), c, flags)
	defer f.DecRef()
	fd, err := t.FDTable().NewFD(0, f, flags&timerfd.Cloexec != 0)
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}

// getTimerfd returns the timerfd that fd refers to: EBADF for no file, EINVAL for a file
// that is not a timerfd. The caller drops the reference.
func getTimerfd(t *kernel.Task, fd int32) (*timerfd.File, func(), error) {
	f, err := getFile(t, fd)
	if err != nil {
		return nil, nil, err
	}
	tf, ok := f.Impl().(*timerfd.File)
	if !ok {
		f.DecRef()
		return nil, nil, unix.EINVAL
	}
	return tf, f.DecRef, nil
}

// TimerfdSettime implements timerfd_settime(2). TFD_TIMER_CANCEL_ON_SET is accepted: the
// sandbox's real-time clock is never set, so a read is never canceled.
func TimerfdSettime(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	fd, flags, newAddr, oldAddr := args.Int(0), args.Int(1), args.Addr(2), args.Addr(3)
	value, interval, err := copyInItimerspec(t, newAddr)
	if err != nil {
		return 0, err
	}
	if flags&^(timerfd.TimerAbstime|timerfd.CancelOnSet) != 0 {
		return 0, unix.EINVAL
	}
	tf, done, err := getTimerfd(t, fd)
	if err != nil {
		return 0, err
	}
	defer done()
	oldValue, oldInterval := tf.SetTime(value, interval, flags&timerfd.TimerAbstime != 0)
	if oldAddr != 0 {
		return 0, copyOutItimerspec(t, oldAddr, oldValue, oldInterval)
	}
	return 0, nil
}

// TimerfdGettime implements timerfd_gettime(2).
func TimerfdGettime(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	tf, done, err := getTimerfd(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer done()
	value, interval := tf.GetTime()
	return 0, copyOutItimerspec(t, args.Addr(1), value, interval)
}

func init() {
	register(unix.SYS_TIMERFD_CREATE, "timerfd_create", TimerfdCreate, kernel.Supported, "")
	register(unix.SYS_TIMERFD_SETTIME, "timerfd_settime", TimerfdSettime, kernel.Partial, "TFD_TIMER_CANCEL_ON_SET never cancels: the sandbox's clock is never set")
	register(unix.SYS_TIMERFD_GETTIME, "timerfd_gettime", TimerfdGettime, kernel.Supported, "")
}
