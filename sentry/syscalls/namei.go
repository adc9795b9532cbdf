package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/kernel/auth"
	"runsc.dev/sentry/vfs"
)

// mkdirat implements mkdir and mkdirat.
func mkdirat(t *kernel.Task, dirfd int32, pathAddr uintptr, mode uint32) (uintptr, error) {
	pa, err := resolveAt(t, dirfd, pathAddr, false)
	if err != nil {
		return 0, err
	}
	mode = mode & (0777 | unix.S_ISVTX) &^ t.FSContext().Umask()
	return 0, t.Kernel().VFS().MkdirAt(t, pa.root, pa.start, pa.path, mode)
}

// Mkdir implements mkdir(2).
func Mkdir(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return mkdirat(t, atFDCWD, args.Addr(0), args.Uint(1))
}

// Mkdirat implements mkdirat(2).
func Mkdirat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return mkdirat(t, args.Int(0), args.Addr(1), args.Uint(2))
}

// mknodat implements mknod and mknodat for regular files, FIFOs and sockets, and for
// devices with CAP_MKNOD.
func mknodat(t *kernel.Task, dirfd int32, pathAddr uintptr, mode uint32, dev uint32) (uintptr, error) {
	pa, err := resolveAt(t, dirfd, pathAddr, false)
	if err != nil {
		return 0, err
	}
	typ := mode & unix.S_IFMT
	switch typ {
	case 0:
		typ = unix.S_IFREG
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK:
		if !t.Credentials().HasCapability(capMknod) {
			return 0, unix.EPERM
		}
	case unix.S_IFDIR:
		return 0, unix.EPERM
	default:
		return 0, unix.EINVAL
	}
	perm := mode & 07777 &^ t.FSContext().Umask()
	rdev := unix.Mkdev(uint32(dev>>8)&0xfff, uint32(dev&0xff)|uint32(dev>>12)&0xfff00)
	return 0, t.Kernel().VFS().MknodAt(t, pa.root, pa.start, pa.path, typ|perm, rdev)
}

// capMknod is CAP_MKNOD.
const capMknod = 27

// Mknod implements mknod(2).
func Mknod(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return mknodat(t, atFDCWD, args.Addr(0), args.Uint(1), args.Uint(2))
}

// Mknodat implements mknodat(2).
func Mknodat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return mknodat(t, args.Int(0), args.Addr(1), args.Uint(2), args.Uint(3))
}

// unlinkat implements unlink, rmdir and unlinkat.
func unlinkat(t *kernel.Task, dirfd int32, pathAddr uintptr, flags int32) (uintptr, error) {
	if flags&^unix.AT_REMOVEDIR != 0 {
		return 0, unix.EINVAL
	}
	pa, err := resolveAt(t, dirfd, pathAddr, false)
	if err != nil {
		return 0, err
	}
	v := t.Kernel().VFS()
	if flags&unix.AT_REMOVEDIR != 0 {
		return 0, v.RmdirAt(t, pa.root, pa.start, pa.path)
	}
	return 0, v.UnlinkAt(t, pa.root, pa.start, pa.path)
}

// Unlink implements unlink(2).
func Unlink(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return unlinkat(t, atFDCWD, args.Addr(0), 0)
}

// Unlinkat implements unlinkat(2).
func Unlinkat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return unlinkat(t, args.Int(0), args.Addr(1), args.Int(2))
}

// Rmdir implements rmdir(2).
func Rmdir(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return unlinkat(t, atFDCWD, args.Addr(0), unix.AT_REMOVEDIR)
}

// renameat implements rename, renameat and renameat2.
func renameat(t *kernel.Task, oldDirfd int32, oldAddr uintptr, newDirfd int32, newAddr uintptr, flags uint32) (uintptr, error) {
	if flags&^(vfs.RenameNoReplace|vfs.RenameExchange|vfs.RenameWhiteout) != 0 {
		return 0, unix.EINVAL
	}
	op, err := resolveAt(t, oldDirfd, oldAddr, false)
	if err != nil {
		return 0, err
	}
	np, err := resolveAt(t, newDirfd, newAddr, false)
	if err != nil {
		return 0, err
	}
	return 0, t.Kernel().VFS().RenameAt(t, op.root, op.start, op.path, np.start, np.path, flags)
}

// Rename implements rename(2).
func Rename(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return renameat(t, atFDCWD, args.Addr(0), atFDCWD, args.Addr(1), 0)
}

// Renameat implements renameat(2).
func Renameat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return renameat(t, args.Int(0), args.Addr(1), args.Int(2), args.Addr(3), 0)
}

// Renameat2 implements renameat2(2).
func Renameat2(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return renameat(t, args.Int(0), args.Addr(1), args.Int(2), args.Addr(3), args.Uint(4))
}

// symlinkat implements symlink and symlinkat.
func symlinkat(t *kernel.Task, targetAddr uintptr, dirfd int32, pathAddr uintptr) (uintptr, error) {
	target, err := copyInPath(t, targetAddr)
	if err != nil {
		return 0, err
	}
	pa, err := resolveAt(t, dirfd, pathAddr, false)
	if err != nil {
		return 0, err
	}
	return 0, t.Kernel().VFS().SymlinkAt(t, pa.root, pa.start, target, pa.path)
}

// Symlink implements symlink(2).
func Symlink(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return symlinkat(t, args.Addr(0), atFDCWD, args.Addr(1))
}

// Symlinkat implements symlinkat(2).
func Symlinkat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return symlinkat(t, args.Addr(0), args.Int(1), args.Addr(2))
}

// linkat implements link and linkat.
func linkat(t *kernel.Task, oldDirfd int32, oldAddr uintptr, newDirfd int32, newAddr uintptr, flags int32) (uintptr, error) {
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	emptyOK := flags&unix.AT_EMPTY_PATH != 0
	if emptyOK && !t.Credentials().HasCapability(auth.CapDacReadSearch) {
		emptyOK = false
	}
	op, err := resolveAt(t, oldDirfd, oldAddr, emptyOK)
	if err != nil {
		return 0, err
	}
	old, err := op.target(t, flags&unix.AT_SYMLINK_FOLLOW != 0)
	if err != nil {
		return 0, err
	}
	np, err := resolveAt(t, newDirfd, newAddr, false)
	if err != nil {
		return 0, err
	}
	return 0, t.Kernel().VFS().LinkDentry(t, np.root, old, np.start, np.path)
}

// Link implements link(2).
func Link(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return linkat(t, atFDCWD, args.Addr(0), atFDCWD, args.Addr(1), 0)
}

// Linkat implements linkat(2).
func Linkat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return linkat(t, args.Int(0), args.Addr(1), args.Int(2), args.Addr(3), args.Int(4))
}

// readlinkat implements readlink and readlinkat. An empty path names dirfd itself.
func readlinkat(t *kernel.Task, dirfd int32, pathAddr, bufAddr uintptr, size int32) (uintptr, error) {
	if size <= 0 {
		return 0, unix.EINVAL
	}
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	pa, err := startAt(t, dirfd, path, true)
	if err != nil {
		return 0, err
	}
	vd, err := pa.target(t, false)
	if err != nil {
		return 0, err
	}
	if !vd.Dentry.IsSymlink() && pa.empty {
		return 0, unix.ENOENT
	}
	target, err := t.Kernel().VFS().ReadlinkDentry(t, vd)
	if err != nil {
		return 0, err
	}
	b := []byte(target)
	if len(b) > int(size) {
		b = b[:size]
	}
	if _, err := t.CopyOut(bufAddr, b); err != nil {
		return 0, err
	}
	return uintptr(len(b)), nil
}

// Readlink implements readlink(2).
func Readlink(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return readlinkat(t, atFDCWD, args.Addr(0), args.Addr(1), args.Int(2))
}

// Readlinkat implements readlinkat(2).
func Readlinkat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return readlinkat(t, args.Int(0), args.Addr(1), args.Addr(2), args.Int(3))
}

func init() {
	register(unix.SYS_MKDIR, "mkdir", Mkdir, kernel.Supported, "")
	register(unix.SYS_MKDIRAT, "mkdirat", Mkdirat, kernel.Supported, "")
	register(unix.SYS_MKNOD, "mknod", Mknod, kernel.Partial, "sockets and devices can be created but not opened (FIFOs open as pipes)")
	register(unix.SYS_MKNODAT, "mknodat", Mknodat, kernel.Partial, "sockets and devices can be created but not opened (FIFOs open as pipes)")
	register(unix.SYS_UNLINK, "unlink", Unlink, kernel.Supported, "")
	register(unix.SYS_UNLINKAT, "unlinkat", Unlinkat, kernel.Supported, "")
	register(unix.SYS_RMDIR, "rmdir", Rmdir, kernel.Supported, "")
	register(unix.SYS_RENAME, "rename", Rename, kernel.Supported, "")
	register(unix.SYS_RENAMEAT, "renameat", Renameat, kernel.Supported, "")
	register(unix.SYS_RENAMEAT2, "renameat2", Renameat2, kernel.Partial, "RENAME_WHITEOUT is refused (EPERM); RENAME_EXCHANGE on tmpfs only")
	register(unix.SYS_SYMLINK, "symlink", Symlink, kernel.Supported, "")
	register(unix.SYS_SYMLINKAT, "symlinkat", Symlinkat, kernel.Supported, "")
	register(unix.SYS_LINK, "link", Link, kernel.Supported, "")
	register(unix.SYS_LINKAT, "linkat", Linkat, kernel.Supported, "")
	register(unix.SYS_READLINK, "readlink", Readlink, kernel.Supported, "")
	register(unix.SYS_READLINKAT, "readlinkat", Readlinkat, kernel.Supported, "")
}
