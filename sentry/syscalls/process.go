package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// Clone implements clone(2) (x86-64 argument order: flags, stack, parent_tid, child_tid, tls).
func Clone(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	flags := uint64(args[0])
	tid, err := t.Clone(kernel.CloneOptions{
		Flags: flags &^ 0xff, ExitSignal: int(flags & 0xff), Stack: args.Addr(1),
		ParentTID: args.Addr(2), ChildTID: args.Addr(3), TLS: args.Addr(4),
	})
	return uintptr(tid), err
}

// clone3's struct clone_args sizes: version 0 is 64 bytes; later versions append fields.
const (
	cloneArgsSize0 = 64
	cloneArgsSize2 = 88
)

// Clone3 implements clone3(2).
func Clone3(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	addr, size := args.Addr(0), args[1]
	if size < cloneArgsSize0 || size > 4096 {
		return 0, unix.EINVAL
	}
	buf := make([]byte, size)
	if _, err := t.CopyIn(addr, buf); err != nil {
		return 0, err
	}
	// Fields beyond what we know must be zero (E2BIG otherwise, as Linux).
	for _, b := range buf[min(int(size), cloneArgsSize2):] {
		if b != 0 {
			return 0, unix.E2BIG
		}
	}
	le := binary.LittleEndian
	u := func(i int) uint64 {
		if 8*i+8 > len(buf) {
			return 0
		}
		return le.Uint64(buf[8*i:])
	}
	flags, pidfd, childTID, parentTID, exitSignal, stack, stackSize, tls := u(0), u(1), u(2), u(3), u(4), u(5), u(6), u(7)
	setTID, setTIDSize, cgroup := u(8), u(9), u(10)
	if exitSignal > kernel.NumSignals || flags&0xff != 0 {
		return 0, unix.EINVAL
	}
	if (stack == 0) != (stackSize == 0) {
		return 0, unix.EINVAL
	}
	// pidfd is only read with CLONE_PIDFD (glibc fills it with parent_tid's pointer).
	_ = pidfd
	if setTID != 0 || setTIDSize != 0 || cgroup != 0 {
		t.Unsupported("clone3 set_tid/cgroup")
		return 0, unix.EINVAL
	}
	sp := uintptr(0)
	if stack != 0 {
		sp = uintptr(stack + stackSize)
	}
	tid, err := t.Clone(kernel.CloneOptions{
		Flags: flags, ExitSignal: int(exitSignal), Stack: sp, ParentTID: uintptr(parentTID),
		ChildTID: uintptr(childTID), TLS: uintptr(tls),
	})
	return uintptr(tid), err
}

// Fork implements fork(2).
func Fork(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	tid, err := t.Clone(kernel.CloneOptions{ExitSignal: int(unix.SIGCHLD)})
	return uintptr(tid), err
}

// Vfork implements vfork(2).
func Vfork(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	tid, err := t.Clone(kernel.CloneOptions{Flags: kernel.CloneVM | kernel.CloneVfork, ExitSignal: int(unix.SIGCHLD)})
	return uintptr(tid), err
}

// maxArgs bounds argv and envp entries (MAX_ARG_STRINGS).
const maxArgs = 0x7fffffff

// copyInStringVector reads a NULL-terminated array of string pointers.
func copyInStringVector(t *kernel.Task, addr uintptr) ([]string, error) {
	var out []string
	if addr == 0 {
		return nil, nil
	}
	total := 0
	for i := 0; ; i++ {
		p, err := t.CopyInUint64(addr + uintptr(8*i))
		if err != nil {
			return nil, err
		}
		if p == 0 {
			return out, nil
		}
		s, err := t.CopyInString(uintptr(p), 32*4096)
		if err == unix.ENAMETOOLONG {
			return nil, unix.E2BIG
		}
		if err != nil {
			return nil, err
		}
		total += len(s) + 1
		if total > 2<<20 || i >= maxArgs {
			return nil, unix.E2BIG
		}
		out = append(out, s)
	}
}

// execAt opens the executable for execve/execveat and runs it.
func execAt(t *kernel.Task, dirfd int32, pathAddr, argvAddr, envAddr uintptr, flags uint32) (uintptr, error) {
	if flags&^(unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW) != 0 {
		return 0, unix.EINVAL
	}
	path, err := t.CopyInString(pathAddr, unix.PathMax)
	if err != nil {
		return 0, err
	}
	argv, err := copyInStringVector(t, argvAddr)
	if err != nil {
		return 0, err
	}
	envv, err := copyInStringVector(t, envAddr)
	if err != nil {
		return 0, err
	}
	v := t.Kernel().VFS()
	root, cwd := t.FSContext().RootAndCwd()
	start := cwd
	if dirfd != unix.AT_FDCWD && (len(path) == 0 || path[0] != '/') {
		f, _, err := t.FDTable().Get(dirfd)
		if err != nil {
			return 0, err
		}
		start = f.VirtualDentry()
		f.DecRef()
	}
	var vd vfs.VirtualDentry
	switch {
	case path == "" && flags&unix.AT_EMPTY_PATH != 0:
		vd = start
	case path == "":
		return 0, unix.ENOENT
	default:
		if vd, err = v.GetDentryAt(t, root, start, path, flags&unix.AT_SYMLINK_NOFOLLOW == 0); err != nil {
			return 0, err
		}
		if vd.Dentry.IsSymlink() {
			// AT_SYMLINK_NOFOLLOW and the last component is a symlink (O_NOFOLLOW's error).
			return 0, unix.ELOOP
		}
	}
	file, err := v.OpenDentryForExec(t, vd)
	if err != nil {
		return 0, err
	}
	defer file.DecRef()
	abs, _ := v.PathFrom(root, vd)
	filename := path
	if path == "" {
		filename = abs
	}
	if len(argv) == 0 {
		// Linux passes an empty string for a missing argv[0].
		argv = []string{""}
	}
	err = t.Execve(kernel.ExecArgs{
		File: file, Path: abs, Filename: filename, Argv: argv, Envv: envv,
		Resolve: func(p string) (*vfs.FileDescription, string, error) {
			return v.OpenExecutable(t, t.FSContext(), p)
		},
	})
	if err != nil {
		return 0, err
	}
	return 0, kernel.EJUSTRETURN
}

// Execve implements execve(2).
func Execve(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return execAt(t, unix.AT_FDCWD, args.Addr(0), args.Addr(1), args.Addr(2), 0)
}

// Execveat implements execveat(2).
func Execveat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return execAt(t, args.Int(0), args.Addr(1), args.Addr(2), args.Addr(3), args.Uint(4))
}

// wait option bits.
const (
	wNoHang     = 0x1
	wUntraced   = 0x2
	wExited     = 0x4
	wContinued  = 0x8
	wNoWait     = 0x01000000
	wNoThread   = 0x20000000
	wAll        = 0x40000000
	wClone      = 0x80000000
	rusageBytes = 144
)

// Wait4 implements wait4(2).
func Wait4(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	pid, statusAddr, options, rusage := args.Int(0), args.Addr(1), args.Uint(2), args.Addr(3)
	if options&^(wNoHang|wUntraced|wContinued|wNoThread|wAll|wClone) != 0 {
		return 0, unix.EINVAL
	}
	o := kernel.WaitOptions{
		Exited: true, Stopped: options&wUntraced != 0, Continued: options&wContinued != 0,
		NoHang: options&wNoHang != 0, Clone: options&wClone != 0, All: options&wAll != 0,
	}
	switch {
	case pid == -1:
		o.Which = kernel.PAll
	case pid == 0:
		pg, _ := t.ThreadGroup().ProcessGroup()
		o.Which, o.ID = kernel.PPGID, pg
	case pid < -1:
		if pid == -2147483648 {
			return 0, unix.ESRCH
		}
		o.Which, o.ID = kernel.PPGID, -pid
	default:
		o.Which, o.ID = kernel.PPID, pid
	}
	r, err := t.Wait(o)
	if err != nil || r == nil {
		return 0, err
	}
	if statusAddr != 0 {
		if err := t.CopyOutUint32(statusAddr, uint32(r.Status)); err != nil {
			return 0, err
		}
	}
	if rusage != 0 {
		if _, err := t.CopyOut(rusage, encodeRusage(r.Usage, 0)); err != nil {
			return 0, err
		}
	}
	return uintptr(r.PID), nil
}

// Waitid implements waitid(2).
func Waitid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	idtype, id, infop, options, rusage := args.Int(0), args.Int(1), args.Addr(2), args.Uint(3), args.Addr(4)
	if options&^(wNoHang|wUntraced|wExited|wContinued|wNoWait|wNoThread|wAll|wClone) != 0 {
		return 0, unix.EINVAL
	}
	if options&(wExited|wUntraced|wContinued) == 0 {
		return 0, unix.EINVAL
	}
	o := kernel.WaitOptions{
		Exited: options&wExited != 0, Stopped: options&wUntraced != 0, Continued: options&wContinued != 0,
		NoHang: options&wNoHang != 0, NoWait: options&wNoWait != 0, Clone: options&wClone != 0, All: options&wAll != 0,
	}
	switch idtype {
	case kernel.PAll:
		o.Which = kernel.PAll
	case kernel.PPID:
		if id <= 0 {
			return 0, unix.EINVAL
		}
		o.Which, o.ID = kernel.PPID, id
	case kernel.PPGID:
		if id < 0 {
			return 0, unix.EINVAL
		}
		if id == 0 {
			id, _ = t.ThreadGroup().ProcessGroup()
		}
		o.Which, o.ID = kernel.PPGID, id
	default:
		return 0, unix.EINVAL
	}
	r, err := t.Wait(o)
	if err != nil {
		return 0, err
	}
	if infop != 0 {
		var b [128]byte
		if r != nil {
			le := binary.LittleEndian
			le.PutUint32(b[0:], uint32(unix.SIGCHLD))
			le.PutUint32(b[8:], uint32(r.Code))
			le.PutUint32(b[16:], uint32(r.PID))
			le.PutUint32(b[20:], r.UID)
			le.PutUint32(b[24:], uint32(r.SiStatus()))
			le.PutUint64(b[32:], clockTicks(r.Usage.User)) // si_utime
			le.PutUint64(b[40:], clockTicks(r.Usage.Sys))  // si_stime
		}
		if _, err := t.CopyOut(infop, b[:]); err != nil {
			return 0, err
		}
	}
	if rusage != 0 {
		if _, err := t.CopyOut(rusage, encodeRusage(r.Usage, 0)); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Getpgid implements getpgid(2).
func Getpgid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	tg := t.ThreadGroup()
	if pid := args.Int(0); pid != 0 {
		if tg = t.Kernel().ThreadGroupOrZombie(pid); tg == nil {
			return 0, unix.ESRCH
		}
	}
	pg, _ := tg.ProcessGroup()
	return uintptr(pg), nil
}

// Getpgrp implements getpgrp(2).
func Getpgrp(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	pg, _ := t.ThreadGroup().ProcessGroup()
	return uintptr(pg), nil
}

// Setpgid implements setpgid(2).
func Setpgid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	pid, pgid := args.Int(0), args.Int(1)
	if pgid < 0 {
		return 0, unix.EINVAL
	}
	return 0, t.SetProcessGroup(pid, pgid)
}

// Getsid implements getsid(2).
func Getsid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	tg := t.ThreadGroup()
	if pid := args.Int(0); pid != 0 {
		if tg = t.Kernel().ThreadGroupOrZombie(pid); tg == nil {
			return 0, unix.ESRCH
		}
	}
	_, sid := tg.ProcessGroup()
	return uintptr(sid), nil
}

// Setsid implements setsid(2).
func Setsid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	sid, err := t.SetSession()
	return uintptr(sid), err
}

func init() {
	register(unix.SYS_CLONE, "clone", Clone, kernel.Partial, "namespace flags: EPERM")
	register(unix.SYS_CLONE3, "clone3", Clone3, kernel.Partial, "set_tid, cgroup and pidfd: EINVAL")
	register(unix.SYS_FORK, "fork", Fork, kernel.Supported, "")
	register(unix.SYS_VFORK, "vfork", Vfork, kernel.Supported, "")
	register(unix.SYS_EXECVE, "execve", Execve, kernel.Supported, "")
	register(unix.SYS_EXECVEAT, "execveat", Execveat, kernel.Supported, "")
	register(unix.SYS_WAIT4, "wait4", Wait4, kernel.Supported, "")
	register(unix.SYS_WAITID, "waitid", Waitid, kernel.Supported, "")
	register(unix.SYS_GETPGID, "getpgid", Getpgid, kernel.Supported, "")
	register(unix.SYS_GETPGRP, "getpgrp", Getpgrp, kernel.Supported, "")
	register(unix.SYS_SETPGID, "setpgid", Setpgid, kernel.Supported, "")
	register(unix.SYS_GETSID, "getsid", Getsid, kernel.Supported, "")
	register(unix.SYS_SETSID, "setsid", Setsid, kernel.Supported, "")
}
