package syscalls

import (
	"encoding/binary"

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
	return openAtResolve(t, dirfd, pathAddr, flags, mode, 0)
}

// openAtResolve is openAt with openat2's resolve flags.
func openAtResolve(t *kernel.Task, dirfd int32, pathAddr uintptr, flags, mode, resolve uint32) (uintptr, error) {
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
	if resolve&(vfs.ResolveInRoot|vfs.ResolveBeneath) != 0 && path[0] == '/' {
		// The walk starts at dirfd even for an absolute path: it is the root (IN_ROOT),
		// or the path is refused (BENEATH).
		d, err := startAt(t, dirfd, ".", false)
		if err != nil {
			return 0, err
		}
		pa.start = d.start
	}
	mode = mode & 07777 &^ t.FSContext().Umask()
	v := t.Kernel().VFS()
	var f *vfs.FileDescription
	if flags&unix.O_TMPFILE == unix.O_TMPFILE {
		if resolve != 0 {
			dir, err := v.GetDentryAtResolve(t, pa.root, pa.start, pa.path, true, resolve)
			if err != nil {
				return 0, err
			}
			pa.start, pa.path = dir, "."
		}
		f, err = v.OpenTmpfile(t, pa.root, pa.start, pa.path, flags, mode)
	} else {
		f, err = v.OpenAtResolve(t, pa.root, pa.start, pa.path, flags, mode, resolve)
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

// Openat2 implements openat2(2): open's flags checked strictly, and the resolve flags.
func Openat2(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	dirfd, pathAddr, howAddr, size := args.Int(0), args.Addr(1), args.Addr(2), args[3]
	const howSize = 24
	if size < howSize {
		return 0, unix.EINVAL
	}
	if size > 4096 {
		return 0, unix.E2BIG
	}
	b := make([]byte, size)
	if _, err := t.CopyIn(howAddr, b); err != nil {
		return 0, unix.EFAULT
	}
	for _, c := range b[howSize:] {
		if c != 0 {
			return 0, unix.E2BIG
		}
	}
	flags := binary.LittleEndian.Uint64(b[0:])
	mode := binary.LittleEndian.Uint64(b[8:])
	resolve := binary.LittleEndian.Uint64(b[16:])
	if flags&^uint64(validOpenFlags) != 0 {
		return 0, unix.EINVAL
	}
	if resolve&^vfs.ResolveAll != 0 || resolve&(vfs.ResolveBeneath|vfs.ResolveInRoot) == vfs.ResolveBeneath|vfs.ResolveInRoot {
		return 0, unix.EINVAL
	}
	f := uint32(flags)
	if f&unix.O_CREAT != 0 || f&unix.O_TMPFILE == unix.O_TMPFILE {
		if mode&^07777 != 0 {
			return 0, unix.EINVAL
		}
	} else if mode != 0 {
		return 0, unix.EINVAL
	}
	if f&unix.O_PATH != 0 && f&^openPathFlags != 0 {
		return 0, unix.EINVAL
	}
	if resolve&vfs.ResolveCached != 0 && f&(unix.O_CREAT|unix.O_TRUNC|unix.O_TMPFILE) != 0 {
		return 0, unix.EAGAIN
	}
	return openAtResolve(t, dirfd, pathAddr, f, uint32(mode), uint32(resolve))
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
	register(unix.SYS_OPENAT2, "openat2", Openat2, kernel.Partial, "as openat; RESOLVE_CACHED resolves normally")
	register(unix.SYS_CLOSE, "close", Close, kernel.Supported, "")
}
