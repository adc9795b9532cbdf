package syscalls

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/fs/devpts"
	"runsc.dev/sentry/fs/proc"
	"runsc.dev/sentry/fs/sys"
	"runsc.dev/sentry/fs/tmpfs"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/kernel/auth"
	"runsc.dev/sentry/vfs"
)

// Mount flags mount(2) knows.
const (
	msMgcMsk      = 0xffff0000
	msMgcVal      = 0xc0ed0000
	msPropagation = unix.MS_SHARED | unix.MS_PRIVATE | unix.MS_SLAVE | unix.MS_UNBINDABLE
	// msPerMount are the flags the VFS keeps per mount; the others (atime, sync) are
	// accepted and have no effect.
	msPerMount = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
)

// tmpfsOptions parses tmpfs mount data: size (bytes with k/m/g, or a % of memory),
// mode, uid, gid, nr_inodes; anything else is EINVAL.
func tmpfsOptions(data string) (tmpfs.Options, error) {
	var o tmpfs.Options
	for _, opt := range strings.Split(data, ",") {
		if opt == "" {
			continue
		}
		key, val, _ := strings.Cut(opt, "=")
		switch key {
		case "size":
			n, err := parseSize(val)
			if err != nil {
				return o, err
			}
			o.MaxBytes = n
		case "mode":
			m, err := strconv.ParseUint(val, 8, 32)
			if err != nil || m > 07777 {
				return o, unix.EINVAL
			}
			o.Mode, o.ModeSet = uint32(m), true
		case "uid", "gid":
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				return o, unix.EINVAL
			}
			if key == "uid" {
				o.UID = uint32(n)
			} else {
				o.GID = uint32(n)
			}
		case "nr_inodes", "huge", "mpol", "inode32", "inode64", "noswap", "quota", "usrquota", "grpquota":
		default:
			return o, unix.EINVAL
		}
	}
	return o, nil
}

// parseSize parses a tmpfs size: bytes with an optional k, m, g suffix, or a percentage
// of memory.
func parseSize(s string) (int64, error) {
	if strings.HasSuffix(s, "%") {
		p, err := strconv.ParseInt(strings.TrimSuffix(s, "%"), 10, 64)
		if err != nil || p <= 0 || p > 100 {
			return 0, unix.EINVAL
		}
		return tmpfs.DefaultMaxBytes() * 2 / 100 * p, nil
	}
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, s = 1<<10, s[:n-1]
		case 'm', 'M':
			mult, s = 1<<20, s[:n-1]
		case 'g', 'G':
			mult, s = 1<<30, s[:n-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, unix.EINVAL
	}
	return (n*mult + 4095) &^ 4095, nil
}

// devptsOptions parses devpts mount data.
func devptsOptions(data string) (devpts.Options, error) {
	o := devpts.Options{Mode: 0600}
	for _, opt := range strings.Split(data, ",") {
		if opt == "" {
			continue
		}
		key, val, _ := strings.Cut(opt, "=")
		switch key {
		case "mode", "ptmxmode":
			m, err := strconv.ParseUint(val, 8, 32)
			if err != nil || m > 07777 {
				return o, unix.EINVAL
			}
			if key == "mode" {
				o.Mode = uint32(m)
			} else {
				o.PtmxMode = uint32(m)
			}
		case "gid":
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				return o, unix.EINVAL
			}
			o.GID, o.GIDSet = uint32(n), true
		case "uid":
			if _, err := strconv.ParseUint(val, 10, 32); err != nil {
				return o, unix.EINVAL
			}
		case "newinstance", "max":
		default:
			return o, unix.EINVAL
		}
	}
	return o, nil
}

// newFilesystem makes a filesystem of type fstype for mount(2): ENODEV for a type the
// sandbox does not have.
func newFilesystem(t *kernel.Task, fstype, data string) (vfs.Filesystem, error) {
	switch fstype {
	case "tmpfs":
		o, err := tmpfsOptions(data)
		if err != nil {
			return nil, err
		}
		return tmpfs.New(o), nil
	case "proc":
		return proc.New(), nil
	case "sysfs":
		return sys.New(0), nil
	case "cgroup2":
		return sys.NewCgroup(), nil
	case "devpts":
		o, err := devptsOptions(data)
		if err != nil {
			return nil, err
		}
		return devpts.New(o), nil
	}
	t.Unsupported("mount of filesystem type " + strconv.Quote(fstype))
	return nil, unix.ENODEV
}

// mountRootOf returns the mount whose root vd is: EINVAL if vd is not a mount's root.
func mountRootOf(vd vfs.VirtualDentry) (*vfs.Mount, error) {
	if vd.Dentry != vd.Mount.Root() {
		return nil, unix.EINVAL
	}
	return vd.Mount, nil
}

// Mount implements mount(2) for new tmpfs, proc, sysfs, cgroup2 and devpts mounts,
// bind mounts (MS_BIND, MS_REC), remounts (MS_REMOUNT, with MS_BIND for per-mount flags),
// moves (MS_MOVE), and propagation changes (accepted: every mount is private).
func Mount(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	srcAddr, targetAddr, typeAddr, flags, dataAddr := args.Addr(0), args.Addr(1), args.Addr(2), uint64(args[3]), args.Addr(4)
	if flags&msMgcMsk == msMgcVal {
		flags &^= msMgcMsk
	}
	var data string
	if dataAddr != 0 {
		d, err := t.CopyInString(dataAddr, 4096)
		if err != nil && err != unix.ENAMETOOLONG {
			return 0, err
		}
		data = d
	}
	target, err := resolveAt(t, atFDCWD, targetAddr, false)
	if err != nil {
		return 0, err
	}
	point, err := target.target(t, true)
	if err != nil {
		return 0, err
	}
	if !t.Credentials().HasCapability(auth.CapSysAdmin) {
		return 0, unix.EPERM
	}
	v := t.Kernel().VFS()
	mflags := uint32(flags) & msPerMount
	switch {
	case flags&unix.MS_REMOUNT != 0:
		m, err := mountRootOf(point)
		if err != nil {
			return 0, err
		}
		if flags&unix.MS_BIND == 0 {
			if fs, ok := m.Filesystem().(*tmpfs.Filesystem); ok && data != "" {
				o, err := tmpfsOptions(data)
				if err != nil {
					return 0, err
				}
				if o.MaxBytes != 0 {
					if err := fs.SetMaxBytes(o.MaxBytes); err != nil {
						return 0, err
					}
				}
			}
		}
		m.Remount(mflags)
		return 0, nil
	case flags&unix.MS_BIND != 0:
		source, err := resolveAt(t, atFDCWD, srcAddr, false)
		if err != nil {
			return 0, err
		}
		svd, err := source.target(t, true)
		if err != nil {
			return 0, err
		}
		if !svd.Dentry.IsDir() && !point.Dentry.IsDir() {
			t.Unsupported("bind mount of a file")
		}
		return 0, v.BindMount(t, svd, point, flags&unix.MS_REC != 0)
	case flags&msPropagation != 0:
		if _, err := mountRootOf(point); err != nil {
			return 0, err
		}
		if flags&^(msPropagation|unix.MS_REC|unix.MS_SILENT) != 0 {
			return 0, unix.EINVAL
		}
		return 0, nil
	case flags&unix.MS_MOVE != 0:
		source, err := resolveAt(t, atFDCWD, srcAddr, false)
		if err != nil {
			return 0, err
		}
		svd, err := source.target(t, true)
		if err != nil {
			return 0, err
		}
		m, err := mountRootOf(svd)
		if err != nil {
			return 0, err
		}
		if !point.Dentry.IsDir() {
			return 0, unix.ENOTDIR
		}
		return 0, v.MoveMount(m, point)
	}
	if typeAddr == 0 {
		return 0, unix.EINVAL
	}
	fstype, err := t.CopyInString(typeAddr, 256)
	if err != nil {
		if err == unix.ENAMETOOLONG {
			return 0, unix.ENODEV
		}
		return 0, err
	}
	if !point.Dentry.IsDir() {
		return 0, unix.ENOTDIR
	}
	fs, err := newFilesystem(t, fstype, data)
	if err != nil {
		return 0, err
	}
	src := fstype
	if srcAddr != 0 {
		if s, err := t.CopyInString(srcAddr, vfs.MaxPathLen); err == nil && s != "" {
			src = s
		}
	}
	_, err = v.MountAtOpts(t, point, fs, vfs.MountOpts{Flags: mflags, Source: src})
	return 0, err
}

// Umount2 implements umount2(2).
func Umount2(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	flags := args.Int(1)
	const known = unix.MNT_FORCE | unix.MNT_DETACH | unix.MNT_EXPIRE | unix.UMOUNT_NOFOLLOW
	if flags&^known != 0 || (flags&unix.MNT_EXPIRE != 0 && flags&(unix.MNT_FORCE|unix.MNT_DETACH) != 0) {
		return 0, unix.EINVAL
	}
	pa, err := resolveAt(t, atFDCWD, args.Addr(0), false)
	if err != nil {
		return 0, err
	}
	vd, err := pa.target(t, flags&unix.UMOUNT_NOFOLLOW == 0)
	if err != nil {
		return 0, err
	}
	if !t.Credentials().HasCapability(auth.CapSysAdmin) {
		return 0, unix.EPERM
	}
	m, err := mountRootOf(vd)
	if err != nil {
		return 0, err
	}
	if flags&unix.MNT_EXPIRE != 0 {
		// The first MNT_EXPIRE marks the mount; the sandbox has no expiry marks.
		return 0, unix.EAGAIN
	}
	return 0, t.Kernel().VFS().Unmount(m, flags&unix.MNT_DETACH != 0)
}

// PivotRoot implements pivot_root(2): processes whose root or working directory was
// the old root move to the new one.
func PivotRoot(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	if !t.Credentials().HasCapability(auth.CapSysAdmin) {
		return 0, unix.EPERM
	}
	np, err := resolveAt(t, atFDCWD, args.Addr(0), false)
	if err != nil {
		return 0, err
	}
	newRoot, err := np.target(t, true)
	if err != nil {
		return 0, err
	}
	op, err := resolveAt(t, atFDCWD, args.Addr(1), false)
	if err != nil {
		return 0, err
	}
	putOld, err := op.target(t, true)
	if err != nil {
		return 0, err
	}
	if !newRoot.Dentry.IsDir() || !putOld.Dentry.IsDir() {
		return 0, unix.ENOTDIR
	}
	if root := t.FSContext().Root(); root != t.Kernel().VFS().Root() {
		// The caller is chrooted: Linux refuses (its root is not a mount's root).
		return 0, unix.EINVAL
	}
	old, err := t.Kernel().VFS().PivotRoot(newRoot, putOld)
	if err != nil {
		return 0, err
	}
	nr := vfs.VirtualDentry{Mount: newRoot.Mount, Dentry: newRoot.Mount.Root()}
	for _, tg := range t.Kernel().ThreadGroups() {
		for _, x := range tg.Tasks() {
			fsc := x.FSContext()
			if fsc == nil {
				continue
			}
			root, cwd := fsc.RootAndCwd()
			if root == old {
				fsc.SetRoot(nr)
			}
			if cwd == old {
				fsc.SetCwd(nr)
			}
		}
	}
	return 0, nil
}

// Chroot implements chroot(2).
func Chroot(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	pa, err := resolveAt(t, atFDCWD, args.Addr(0), false)
	if err != nil {
		return 0, err
	}
	vd, err := pa.target(t, true)
	if err != nil {
		return 0, err
	}
	if !vd.Dentry.IsDir() {
		return 0, unix.ENOTDIR
	}
	if err := t.Kernel().VFS().AccessDentry(t, vd, uint32(vfs.MayExec)); err != nil {
		return 0, err
	}
	if !t.Credentials().HasCapability(unix.CAP_SYS_CHROOT) {
		return 0, unix.EPERM
	}
	t.FSContext().SetRoot(vd)
	return 0, nil
}

func init() {
	register(unix.SYS_MOUNT, "mount", Mount, kernel.Partial, "tmpfs, proc, sysfs, cgroup2, devpts, bind (directories), remount, move; propagation flags accepted (every mount is private)")
	register(unix.SYS_UMOUNT2, "umount2", Umount2, kernel.Partial, "MNT_EXPIRE always EAGAIN; a busy filesystem is unmounted lazily")
	register(unix.SYS_PIVOT_ROOT, "pivot_root", PivotRoot, kernel.Supported, "")
	register(unix.SYS_CHROOT, "chroot", Chroot, kernel.Supported, "")
}
