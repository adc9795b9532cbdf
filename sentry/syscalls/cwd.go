package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// Getcwd implements getcwd(2).
func Getcwd(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	addr, size := args.Addr(0), args[1]
	root, cwd := t.FSContext().RootAndCwd()
	if cwd.Dentry.IsDead() {
		return 0, unix.ENOENT
	}
	p, reachable := t.Kernel().VFS().PathFrom(root, cwd)
	if !reachable {
		p = "(unreachable)" + p
	}
	b := append([]byte(p), 0)
	if uint64(len(b)) > uint64(size) {
		return 0, unix.ERANGE
	}
	if _, err := t.CopyOut(addr, b); err != nil {
		return 0, err
	}
	return uintptr(len(b)), nil
}

// setCwd checks that vd is a searchable directory and makes it the working directory.
func setCwd(t *kernel.Task, vd vfs.VirtualDentry) error {
	if !vd.Dentry.IsDir() {
		return unix.ENOTDIR
	}
	if err := t.Kernel().VFS().CheckAccess(t, vd, vfs.MayExec); err != nil {
		return err
	}
	t.FSContext().SetCwd(vd)
	return nil
}

// Chdir implements chdir(2).
func Chdir(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	pa, err := resolveAt(t, atFDCWD, args.Addr(0), false)
	if err != nil {
		return 0, err
	}
	vd, err := pa.target(t, true)
	if err != nil {
		return 0, err
	}
	return 0, setCwd(t, vd)
}

// Fchdir implements fchdir(2).
func Fchdir(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	f, err := getFile(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return 0, setCwd(t, f.VirtualDentry())
}

// Umask implements umask(2).
func Umask(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.FSContext().SwapUmask(args.Uint(0))), nil
}

func init() {
	register(unix.SYS_GETCWD, "getcwd", Getcwd, kernel.Supported, "")
	register(unix.SYS_CHDIR, "chdir", Chdir, kernel.Supported, "")
	register(unix.SYS_FCHDIR, "fchdir", Fchdir, kernel.Supported, "")
	register(unix.SYS_UMASK, "umask", Umask, kernel.Supported, "")
}
