package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// faccessat implements access, faccessat and faccessat2.
func faccessat(t *kernel.Task, dirfd int32, pathAddr uintptr, mode uint32, flags int32) (uintptr, error) {
	if mode&^7 != 0 {
		return 0, unix.EINVAL
	}
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EACCESS|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	pa, err := resolveAt(t, dirfd, pathAddr, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return 0, err
	}
	var ctx vfs.Context = t
	if flags&unix.AT_EACCESS == 0 {
		ctx = vfs.WithCredentials(t, vfs.AccessCredentials(t.Credentials()))
	}
	v := t.Kernel().VFS()
	var vd vfs.VirtualDentry
	if pa.empty {
		vd = pa.start
	} else {
		vd, err = v.GetDentryAt(ctx, pa.root, pa.start, pa.path, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
		if err != nil {
			return 0, err
		}
	}
	return 0, v.AccessDentry(ctx, vd, mode)
}

// Access implements access(2).
func Access(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return faccessat(t, atFDCWD, args.Addr(0), args.Uint(1), 0)
}

// Faccessat implements faccessat(2) (the syscall has no flags).
func Faccessat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return faccessat(t, args.Int(0), args.Addr(1), args.Uint(2), 0)
}

// Faccessat2 implements faccessat2(2).
func Faccessat2(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return faccessat(t, args.Int(0), args.Addr(1), args.Uint(2), args.Int(3))
}

func init() {
	register(unix.SYS_ACCESS, "access", Access, kernel.Supported, "")
	register(unix.SYS_FACCESSAT, "faccessat", Faccessat, kernel.Supported, "")
	register(unix.SYS_FACCESSAT2, "faccessat2", Faccessat2, kernel.Supported, "")
}
