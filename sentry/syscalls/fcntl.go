package syscalls

import (
	"fmt"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
)

// Fcntl implements fcntl(2) for descriptor flags, status flags and duplication.
func Fcntl(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	fd, cmd := args.Int(0), args.Int(1)
	fdt := t.FDTable()
	f, cloexec, err := fdt.Get(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	switch cmd {
	case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC:
		nfd, err := fdt.NewFD(args.Int(2), f, cmd == unix.F_DUPFD_CLOEXEC)
		if err != nil {
			return 0, err
		}
		return uintptr(nfd), nil
	case unix.F_GETFD:
		if cloexec {
			return unix.FD_CLOEXEC, nil
		}
		return 0, nil
	case unix.F_SETFD:
		return 0, fdt.SetCloexec(fd, args.Int(2)&unix.FD_CLOEXEC != 0)
	case unix.F_GETFL:
		return uintptr(f.StatusFlags()), nil
	case unix.F_SETFL:
		if f.IsPath() {
			return 0, unix.EBADF
		}
		f.SetStatusFlags(args.Uint(2))
		return 0, nil
	case unix.F_GETPIPE_SZ, unix.F_SETPIPE_SZ:
		return pipeFcntl(t, f, cmd, args.Addr(2))
	}
	t.Unsupported(fmt.Sprintf("fcntl cmd %d", cmd))
	return 0, unix.EINVAL
}

// Dup implements dup(2).
func Dup(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	f, err := getFile(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	nfd, err := t.FDTable().NewFD(0, f, false)
	if err != nil {
		return 0, err
	}
	return uintptr(nfd), nil
}

// Dup2 implements dup2(2).
func Dup2(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	oldFD, newFD := args.Int(0), args.Int(1)
	if oldFD == newFD {
		f, err := getFile(t, oldFD)
		if err != nil {
			return 0, err
		}
		f.DecRef()
		return uintptr(newFD), nil
	}
	if err := t.FDTable().Dup2(oldFD, newFD, false); err != nil {
		return 0, err
	}
	return uintptr(newFD), nil
}

// Dup3 implements dup3(2).
func Dup3(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	oldFD, newFD, flags := args.Int(0), args.Int(1), args.Int(2)
	if flags&^unix.O_CLOEXEC != 0 || oldFD == newFD {
		return 0, unix.EINVAL
	}
	if err := t.FDTable().Dup2(oldFD, newFD, flags&unix.O_CLOEXEC != 0); err != nil {
		return 0, err
	}
	return uintptr(newFD), nil
}

func init() {
	register(unix.SYS_FCNTL, "fcntl", Fcntl, kernel.Partial, "F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETPIPE_SZ, F_SETPIPE_SZ only (no locks, leases, owners, seals)")
	register(unix.SYS_DUP, "dup", Dup, kernel.Supported, "")
	register(unix.SYS_DUP2, "dup2", Dup2, kernel.Supported, "")
	register(unix.SYS_DUP3, "dup3", Dup3, kernel.Supported, "")
}
