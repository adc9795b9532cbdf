package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/fs/signalfd"
	"runsc.dev/sentry/kernel"
)

// signalfd4 creates a signalfd for the mask at maskAddr (fd == -1) or replaces the mask
// of the signalfd fd.
func signalfd4(t *kernel.Task, fd int32, maskAddr uintptr, sizemask uintptr, flags uint32) (uintptr, error) {
	if sizemask != sigsetSize {
		return 0, unix.EINVAL
	}
	m, err := t.CopyInUint64(maskAddr)
	if err != nil {
		return 0, err
	}
	if flags&^(signalfd.Cloexec|signalfd.Nonblock) != 0 {
		return 0, unix.EINVAL
	}
	mask := kernel.SignalSet(m)
	if fd != -1 {
		f, err := getFileNoPath(t, fd)
		if err != nil {
			return 0, err
		}
		defer f.DecRef()
		sf, ok := f.Impl().(*signalfd.File)
		if !ok {
			return 0, unix.EINVAL
		}
		sf.SetMask(mask)
		return uintptr(fd), nil
	}
	f := signalfd.New(t, t.Kernel().VFS(), mask, flags)
	defer f.DecRef()
	nfd, err := t.FDTable().NewFD(0, f, flags&signalfd.Cloexec != 0)
	if err != nil {
		return 0, err
	}
	return uintptr(nfd), nil
}

// Signalfd implements signalfd(2).
func Signalfd(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return signalfd4(t, args.Int(0), args.Addr(1), uintptr(args[2]), 0)
}

// Signalfd4 implements signalfd4(2).
func Signalfd4(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return signalfd4(t, args.Int(0), args.Addr(1), uintptr(args[2]), args.Uint(3))
}

func init() {
	register(unix.SYS_SIGNALFD, "signalfd", Signalfd, kernel.Partial, "poll and epoll readiness follow the task that created the signalfd (Linux: the polling task)")
	register(unix.SYS_SIGNALFD4, "signalfd4", Signalfd4, kernel.Partial, "poll and epoll readiness follow the task that created the signalfd (Linux: the polling task)")
}
