package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// copyInXattrName reads an attribute name: ERANGE if empty or longer than
// XATTR_NAME_MAX, EFAULT for a bad pointer.
func copyInXattrName(t *kernel.Task, addr uintptr) (string, error) {
	name, err := t.CopyInString(addr, vfs.XattrNameMax+1)
	if err == unix.ENAMETOOLONG {
		return "", unix.ERANGE
	}
	if err != nil {
		return "", err
	}
	if name == "" {
		return "", unix.ERANGE
	}
	return name, nil
}

// xattrTarget resolves the file of a path-based xattr call (follow: not the l* form) or
// of an fd-based one (pathAddr 0, fd set).
func xattrTarget(t *kernel.Task, fd int32, pathAddr uintptr, follow, byFD bool) (vfs.VirtualDentry, func(), error) {
	if byFD {
		f, err := getFileNoPath(t, fd)
		if err != nil {
			return vfs.VirtualDentry{}, nil, err
		}
		return f.VirtualDentry(), f.DecRef, nil
	}
	pa, err := resolveAt(t, atFDCWD, pathAddr, false)
	if err != nil {
		return vfs.VirtualDentry{}, nil, err
	}
	vd, err := pa.target(t, follow)
	if err != nil {
		return vfs.VirtualDentry{}, nil, err
	}
	return vd, func() {}, nil
}

func setxattr(t *kernel.Task, args *arch.SyscallArguments, follow, byFD bool) (uintptr, error) {
	nameAddr, valueAddr, size, flags := args.Addr(1), args.Addr(2), args[3], args.Uint(4)
	if flags&^(vfs.XattrCreate|vfs.XattrReplace) != 0 {
		return 0, unix.EINVAL
	}
	name, err := copyInXattrName(t, nameAddr)
	if err != nil {
		return 0, err
	}
	if size > vfs.XattrSizeMax {
		return 0, unix.E2BIG
	}
	value := make([]byte, size)
	if size > 0 {
		if _, err := t.CopyIn(valueAddr, value); err != nil {
			return 0, unix.EFAULT
		}
	}
	vd, done, err := xattrTarget(t, args.Int(0), args.Addr(0), follow, byFD)
	if err != nil {
		return 0, err
	}
	defer done()
	return 0, t.Kernel().VFS().SetxattrDentry(t, vd, name, string(value), flags)
}

func getxattr(t *kernel.Task, args *arch.SyscallArguments, follow, byFD bool) (uintptr, error) {
	nameAddr, valueAddr, size := args.Addr(1), args.Addr(2), args[3]
	name, err := copyInXattrName(t, nameAddr)
	if err != nil {
		return 0, err
	}
	vd, done, err := xattrTarget(t, args.Int(0), args.Addr(0), follow, byFD)
	if err != nil {
		return 0, err
	}
	defer done()
	value, err := t.Kernel().VFS().GetxattrDentry(t, vd, name)
	if err != nil {
		return 0, err
	}
	if size > vfs.XattrSizeMax {
		size = vfs.XattrSizeMax
	}
	if size == 0 {
		return uintptr(len(value)), nil
	}
	if uint64(len(value)) > uint64(size) {
		if len(value) > vfs.XattrSizeMax {
			return 0, unix.E2BIG
		}
		return 0, unix.ERANGE
	}
	if _, err := t.CopyOut(valueAddr, []byte(value)); err != nil {
		return 0, unix.EFAULT
	}
	return uintptr(len(value)), nil
}

func listxattr(t *kernel.Task, args *arch.SyscallArguments, follow, byFD bool) (uintptr, error) {
	listAddr, size := args.Addr(1), args[2]
	vd, done, err := xattrTarget(t, args.Int(0), args.Addr(0), follow, byFD)
	if err != nil {
		return 0, err
	}
	defer done()
	names, err := t.Kernel().VFS().ListxattrDentry(t, vd)
	if err != nil {
		return 0, err
	}
	var buf []byte
	for _, n := range names {
		buf = append(append(buf, n...), 0)
	}
	if size > vfs.XattrListMax {
		size = vfs.XattrListMax
	}
	if size == 0 {
		return uintptr(len(buf)), nil
	}
	if uint64(len(buf)) > uint64(size) {
		if len(buf) > vfs.XattrListMax {
			return 0, unix.E2BIG
		}
		return 0, unix.ERANGE
	}
	if _, err := t.CopyOut(listAddr, buf); err != nil {
		return 0, unix.EFAULT
	}
	return uintptr(len(buf)), nil
}

func removexattr(t *kernel.Task, args *arch.SyscallArguments, follow, byFD bool) (uintptr, error) {
	name, err := copyInXattrName(t, args.Addr(1))
	if err != nil {
		return 0, err
	}
	vd, done, err := xattrTarget(t, args.Int(0), args.Addr(0), follow, byFD)
	if err != nil {
		return 0, err
	}
	defer done()
	return 0, t.Kernel().VFS().RemovexattrDentry(t, vd, name)
}

// Setxattr implements setxattr(2).
func Setxattr(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return setxattr(t, args, true, false)
}

// Lsetxattr implements lsetxattr(2).
func Lsetxattr(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return setxattr(t, args, false, false)
}

// Fsetxattr implements fsetxattr(2).
func Fsetxattr(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return setxattr(t, args, false, true)
}

// Getxattr implements getxattr(2).
func Getxattr(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return getxattr(t, args, true, false)
}

// Lgetxattr implements lgetxattr(2).
func Lgetxattr(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return getxattr(t, args, false, false)
}

// Fgetxattr implements fgetxattr(2).
func Fgetxattr(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return getxattr(t, args, false, true)
}

// Listxattr implements listxattr(2).
func Listxattr(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return listxattr(t, args, true, false)
}

// Llistxattr implements llistxattr(2).
func Llistxattr(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return listxattr(t, args, false, false)
}

// Flistxattr implements flistxattr(2).
func Flistxattr(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return listxattr(t, args, false, true)
}

// Removexattr implements removexattr(2).
func Removexattr(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return removexattr(t, args, true, false)
}

// Lremovexattr implements lremovexattr(2).
func Lremovexattr(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return removexattr(t, args, false, false)
}

// Fremovexattr implements fremovexattr(2).
func Fremovexattr(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return removexattr(t, args, false, true)
}

func init() {
	const note = "user, trusted and security namespaces on tmpfs and the overlay; on gofer files, what the host stores; no POSIX ACLs (system.*)"
	register(unix.SYS_SETXATTR, "setxattr", Setxattr, kernel.Partial, note)
	register(unix.SYS_LSETXATTR, "lsetxattr", Lsetxattr, kernel.Partial, note)
	register(unix.SYS_FSETXATTR, "fsetxattr", Fsetxattr, kernel.Partial, note)
	register(unix.SYS_GETXATTR, "getxattr", Getxattr, kernel.Partial, note)
	register(unix.SYS_LGETXATTR, "lgetxattr", Lgetxattr, kernel.Partial, note)
	register(unix.SYS_FGETXATTR, "fgetxattr", Fgetxattr, kernel.Partial, note)
	register(unix.SYS_LISTXATTR, "listxattr", Listxattr, kernel.Partial, note)
	register(unix.SYS_LLISTXATTR, "llistxattr", Llistxattr, kernel.Partial, note)
	register(unix.SYS_FLISTXATTR, "flistxattr", Flistxattr, kernel.Partial, note)
	register(unix.SYS_REMOVEXATTR, "removexattr", Removexattr, kernel.Partial, note)
	register(unix.SYS_LREMOVEXATTR, "lremovexattr", Lremovexattr, kernel.Partial, note)
	register(unix.SYS_FREMOVEXATTR, "fremovexattr", Fremovexattr, kernel.Partial, note)
}
