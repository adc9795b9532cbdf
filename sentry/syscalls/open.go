package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// validOpenFlags are the flags open(2) looks at; others are ignored, as Linux does.
const validOpenFlags = unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC |
	unix.O_APPEND | unix.O_NONBLOCK | unix.O_DSYNC | unix.O_ASYNC | unix.O_DIRECT | unix.O_LARGEFILE |
	unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_NOATIME | unix.O_CLOEXEC | unix.O_SYNC | unix.O_PATH |
	unix.O_TMPFILE

// openO_PATHFlags are the flags that keep their meaning with O_PATH.
const openPathFlags = unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// openAt implements open, openat and creat.
func openAt(t *kernel.Task, dirfd int32, pathAddr uintptr, flags, mode uint32) (uintptr, error) {
	flags &= validOpenFlags
	if flags&unix.O_PATH != 0 {
		flags &= openPathFlags
	}
	if flags&(unix.O_DIRECTORY|unix.O_CREAT) == unix.O_DIRECTORY|unix.O_CREAT {
		return 0, unix.EINVAL
	}
	if flags&unix.O_TMPFILE == unix.O_TMPFILE {
		acc := flags & unix.O_ACCMODE
		if acc != unix.O_WRONLY && acc != unix.O_RDWR {
			return 0, unix.EINVAL
		}
	} else if flags&unix.O_TMPFILE&^unix.O_DIRECTORY != 0 {
		// __O_TMPFILE without O_DIRECTORY.
		return 0, unix.EINVAL
	}
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	pa, err := startAt(t, dirfd, path, false)
	if err != nil {
		return 0, err
	}
	mode = mode & 07777 &^ t.FSContext().Umask()
	v := t.Kernel().VFS()
	var f *vfs.FileDescription
	if flags&unix.O_TMPFILE == unix.O_TMPFILE {
		f, err = v.OpenTmpfile(t, pa.root, pa.start, pa.path, flags, mode)
	} else {
		f, err = v.OpenAt(t, pa.root, pa.start, pa.path, flags, mode)
	}
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	fd, err := t.FDTable().NewFD(0, f, flags&unix.O_CLOEXEC != 0)
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}

// Open implements open(2).
func Open(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return openAt(t, atFDCWD, args.Addr(0), args.Uint(1), args.Uint(2))
}

// Openat implements openat(2).
func Openat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return openAt(t, args.Int(0), args.Addr(1), args.Uint(2), args.Uint(3))
}

// Creat implements creat(2).
func Creat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return openAt(t, atFDCWD, args.Addr(0), unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, args.Uint(1))
}

// Close implements close(2).
func Close(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return 0, t.FDTable().Close(args.Int(0))
}

func init() {
	register(unix.SYS_OPEN, "open", Open, kernel.Partial, "O_TMPFILE on tmpfs only (EOPNOTSUPP elsewhere); an O_TMPFILE file cannot be linked")
	register(unix.SYS_OPENAT, "openat", Openat, kernel.Partial, "O_TMPFILE on tmpfs only (EOPNOTSUPP elsewhere); an O_TMPFILE file cannot be linked")
	register(unix.SYS_CREAT, "creat", Creat, kernel.Supported, "")
	register(unix.SYS_CLOSE, "close", Close, kernel.Supported, "")
}
