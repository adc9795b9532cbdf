package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/fs/eventfd"
	"runsc.dev/sentry/kernel"
)

// eventfd2 creates an eventfd with the initial count and flags.
func eventfd2(t *kernel.Task, initval uint32, flags uint32) (uintptr, error) {
	if flags&^(eventfd.Semaphore|eventfd.Cloexec|eventfd.Nonblock) != 0 {
		return 0, unix.EINVAL
	}
	f := eventfd.New(t, t.Kernel().VFS(), uint64(initval), flags)
	defer f.DecRef()
	fd, err := t.FDTable().NewFD(0, f, flags&eventfd.Cloexec != 0)
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}

// Eventfd implements eventfd(2).
func Eventfd(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return eventfd2(t, args.Uint(0), 0)
}

// Eventfd2 implements eventfd2(2).
func Eventfd2(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return eventfd2(t, args.Uint(0), args.Uint(1))
}

func init() {
	register(unix.SYS_EVENTFD, "eventfd", Eventfd, kernel.Supported, "")
	register(unix.SYS_EVENTFD2, "eventfd2", Eventfd2, kernel.Supported, "")
}
