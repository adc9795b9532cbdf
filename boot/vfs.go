package boot

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/gofer/proto"
	"runsc.dev/sentry/fs/dev"
	"runsc.dev/sentry/fs/devpts"
	"runsc.dev/sentry/fs/gofer"
	"runsc.dev/sentry/fs/host"
	"runsc.dev/sentry/fs/overlay"
	"runsc.dev/sentry/fs/proc"
	"runsc.dev/sentry/fs/sys"
	"runsc.dev/sentry/fs/tmpfs"
	"runsc.dev/sentry/vfs"
)

// The container's mount tree.
//
// The CLI (`runsc do`, `create`/`run`) describes the filesystem as a RootConfig and a
// list of MountSpecs, and the sandbox builds it with BuildMountTree:
//
//	v, err := BuildMountTree(RootConfig{Client: rootGofer, Overlay: "memory"}, mounts)
//
// RootConfig.Client is the gofer connection serving the root (its fd is passed to the
// sandbox and opened with proto.NewClient). Each bind mount has its own gofer
// connection in MountSpec.Client (the CLI starts one gofer per bind source, or serves
// several from one gofer: a connection per mount either way). Mounts are applied in
// order, each over whatever the previous ones left at its destination; a missing
// destination directory is created (in the overlay, or fails with EROFS on a read-only
// root). DoMounts lists the mounts `runsc do` gets.

// RootConfig describes the container's root filesystem.
type RootConfig struct {
	// Client is the gofer serving the root.
	Client *proto.Client
	// Overlay is "memory" (a tmpfs upper layer over the gofer's root: writes never reach
	// the host) or "none" (the gofer's root directly).
	Overlay string
	// ReadOnly mounts the root read-only (the OCI spec's root.readonly; `do` always).
	// With Overlay "memory" the overlay itself is writable unless ReadOnly is set.
	ReadOnly bool
	// GoferWritable says the root's gofer accepts changes (it was started without
	// --ro). Without an overlay and without it, the root is read-only whatever ReadOnly
	// says.
	GoferWritable bool
}

// MountSpec is one mount of the container, as the OCI spec's mounts (or `runsc do
// --volume HOST:CONTAINER[:ro]`) describe it.
type MountSpec struct {
	// Destination is the absolute path of the mount point in the container.
	Destination string
	// Type is the filesystem: bind (or rbind), tmpfs, proc, sysfs, devpts, mqueue,
	// cgroup, cgroup2. An OCI "tmpfs" mount on /dev gets the sandbox's device nodes.
	Type string
	// Source is what /proc/mounts shows as the device (the host path for binds).
	Source string
	// Options are the OCI mount options: ro, rw, nosuid, suid, nodev, dev, noexec,
	// exec, bind, rbind, the propagation and atime options (accepted and ignored), and
	// for tmpfs size=, mode=, uid=, gid=, nr_inodes=. An unknown option is an error.
	Options []string
	// Client is the gofer connection serving Source, for bind mounts.
	Client *proto.Client
	// GoferWritable says that gofer accepts changes (started without --ro); a bind
	// mount of a read-only gofer is read-only.
	GoferWritable bool
}

// DoMounts returns the mounts of `runsc do`: the sandbox's own /proc, /sys, /dev (with
// /dev/pts and /dev/shm) and a private tmpfs on /tmp.
func DoMounts() []MountSpec {
	return []MountSpec{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "nodev", "noexec"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "nodev", "noexec", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup2", Source: "cgroup2", Options: []string{"nosuid", "nodev", "noexec", "ro"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "nodev", "mode=1777"}},
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
	}
}

// BuildMountTree builds the container's mount namespace: the root as root says, then
// every mount in order.
func BuildMountTree(root RootConfig, mounts []MountSpec) (*vfs.VirtualFilesystem, error) {
	ctx := vfs.NewKernelContext()
	v := vfs.New()
	rootfs, err := NewRootFilesystem(ctx, root)
	if err != nil {
		return nil, err
	}
	var flags uint32
	if root.ReadOnly {
		flags |= vfs.MountReadOnly
	}
	if err := v.MountRoot(ctx, rootfs, flags); err != nil {
		return nil, fmt.Errorf("mounting the root: %w", err)
	}
	for _, m := range mounts {
		if err := mountSpec(ctx, v, m); err != nil {
			return nil, fmt.Errorf("mount %s on %s: %w", m.Type, m.Destination, err)
		}
	}
	return v, nil
}

// NewRootFilesystem returns the root filesystem root describes: the gofer's tree, under a
// memory overlay if root.Overlay is "memory". Callers that build their own tree (the OCI
// mounts) mount it with vfs.MountRoot.
func NewRootFilesystem(ctx vfs.Context, root RootConfig) (vfs.Filesystem, error) {
	rootfs, err := gofer.NewFilesystem(root.Client, !root.GoferWritable)
	if err != nil {
		return nil, fmt.Errorf("mounting the root from the gofer: %w", err)
	}
	switch root.Overlay {
	case "memory":
		ofs, err := overlay.New(ctx, tmpfs.New(tmpfs.Options{}), rootfs)
		if err != nil {
			return nil, fmt.Errorf("building the root overlay: %w", err)
		}
		return ofs, nil
	case "none", "":
		return rootfs, nil
	}
	return nil, fmt.Errorf("root overlay %q is not memory or none", root.Overlay)
}

// mountOptions is what parseMountOptions makes of a MountSpec's options.
type mountOptions struct {
	flags    uint32
	size     int64
	mode     uint32
	hasMode  bool
	uid, gid uint32
	hasGID   bool
	ptmxMode uint32
}

// parseMountOptions turns OCI mount options into mount flags and filesystem data.
func parseMountOptions(opts []string) (mountOptions, error) {
	var o mountOptions
	for _, opt := range opts {
		key, val, hasVal := strings.Cut(opt, "=")
		switch key {
		case "ro":
			o.flags |= vfs.MountReadOnly
		case "rw":
			o.flags &^= vfs.MountReadOnly
		case "nosuid":
			o.flags |= vfs.MountNoSUID
		case "suid":
			o.flags &^= vfs.MountNoSUID
		case "nodev":
			o.flags |= vfs.MountNoDev
		case "dev":
			o.flags &^= vfs.MountNoDev
		case "noexec":
			o.flags |= vfs.MountNoExec
		case "exec":
			o.flags &^= vfs.MountNoExec
		case "bind", "rbind", "private", "rprivate", "slave", "rslave", "shared", "rshared",
			"unbindable", "runbindable", "relatime", "norelatime", "noatime", "atime",
			"strictatime", "nodiratime", "diratime", "sync", "async", "newinstance",
			"nr_inodes", "defaults", "tmpcopyup", "rro", "rrw", "nosymfollow":
		case "size":
			n, err := parseTmpfsSize(val)
			if err != nil || !hasVal {
				return o, fmt.Errorf("bad size=%q", val)
			}
			o.size = n
		case "mode", "ptmxmode":
			m, err := strconv.ParseUint(val, 8, 32)
			if err != nil || m > 07777 {
				return o, fmt.Errorf("bad %s=%q", key, val)
			}
			if key == "mode" {
				o.mode, o.hasMode = uint32(m), true
			} else {
				o.ptmxMode = uint32(m)
			}
		case "uid", "gid":
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				return o, fmt.Errorf("bad %s=%q", key, val)
			}
			if key == "uid" {
				o.uid = uint32(n)
			} else {
				o.gid, o.hasGID = uint32(n), true
			}
		default:
			return o, fmt.Errorf("unsupported mount option %q", opt)
		}
	}
	return o, nil
}

// parseTmpfsSize parses a tmpfs size: bytes with an optional k, m or g suffix (a % of memory
// is not supported).
func parseTmpfsSize(s string) (int64, error) {
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
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// mountSpec adds m to v, creating its mount point if it is missing.
func mountSpec(ctx vfs.Context, v *vfs.VirtualFilesystem, m MountSpec) error {
	return mountSpecAt(ctx, v, v.Root(), m)
}

// mountSpecAt adds m to the tree whose root is root (the namespace's, or a pod
// subcontainer's), creating its mount point if it is missing.
func mountSpecAt(ctx vfs.Context, v *vfs.VirtualFilesystem, root vfs.VirtualDentry, m MountSpec) error {
	if !path.IsAbs(m.Destination) {
		return fmt.Errorf("destination %q is not an absolute path", m.Destination)
	}
	o, err := parseMountOptions(m.Options)
	if err != nil {
		return err
	}
	fs, err := mountFilesystem(ctx, m, &o)
	if err != nil {
		return err
	}
	if err := makeMountPoint(ctx, v, root, m.Destination); err != nil {
		return fmt.Errorf("creating the mount point: %w", err)
	}
	point, err := v.GetDentryAt(ctx, root, root, m.Destination, true)
	if err != nil {
		return err
	}
	source := m.Source
	if source == "" {
		source = fs.Name()
	}
	_, err = v.MountAtOpts(ctx, point, fs, vfs.MountOpts{Flags: o.flags, Source: source})
	return err
}

// mountFilesystem makes the filesystem m mounts; it may add flags to o (sysfs and
// cgroup are read-only).
func mountFilesystem(ctx vfs.Context, m MountSpec, o *mountOptions) (vfs.Filesystem, error) {
	switch m.Type {
	case "bind", "rbind", "none", "":
		if m.Client == nil {
			return nil, fmt.Errorf("no gofer serves the bind source %q", m.Source)
		}
		gfs, err := gofer.NewFilesystem(m.Client, !m.GoferWritable)
		if err != nil {
			return nil, fmt.Errorf("attaching the gofer of %q: %w", m.Source, err)
		}
		return gfs, nil
	case "tmpfs":
		if m.Destination == "/dev" {
			return dev.New(ctx)
		}
		mode := uint32(01777)
		if o.hasMode {
			mode = o.mode
		}
		return tmpfs.New(tmpfs.Options{Mode: mode, UID: o.uid, GID: o.gid, MaxBytes: o.size}), nil
	case "proc":
		return proc.New(), nil
	case "devpts":
		opts := devpts.Options{PtmxMode: o.ptmxMode, GID: o.gid, GIDSet: o.hasGID}
		if o.hasMode {
			opts.Mode = o.mode
		}
		return devpts.New(opts), nil
	case "sysfs":
		o.flags |= vfs.MountReadOnly
		return sys.New(0), nil
	case "cgroup", "cgroup2":
		o.flags |= vfs.MountReadOnly
		return sys.NewCgroup(), nil
	case "mqueue":
		// POSIX message queues are not implemented (mq_open is ENOSYS): the mount is an
		// empty directory that cannot be written, so that nothing appears to work that
		// does not.
		o.flags |= vfs.MountReadOnly
		return &renamedFS{Filesystem: tmpfs.New(tmpfs.Options{Mode: 01777, ModeSet: true}), name: "mqueue"}, nil
	default:
		return nil, fmt.Errorf("filesystem type %q is not supported", m.Type)
	}
}

// renamedFS is a filesystem shown under another type name in /proc/mounts.
type renamedFS struct {
	vfs.Filesystem
	name string
}

// Name implements vfs.Filesystem.Name.
func (f *renamedFS) Name() string { return f.name }

// makeMountPoint creates p and its missing parents (mode 0755).
func makeMountPoint(ctx vfs.Context, v *vfs.VirtualFilesystem, root vfs.VirtualDentry, p string) error {
	if st, err := v.StatAt(ctx, root, root, p, true); err == nil {
		if st.Type() != unix.S_IFDIR {
			return unix.ENOTDIR
		}
		return nil
	}
	if parent := path.Dir(p); parent != p {
		if err := makeMountPoint(ctx, v, root, parent); err != nil {
			return err
		}
	}
	err := v.MkdirAt(ctx, root, root, p, 0o755)
	if err == unix.EEXIST {
		return nil
	}
	return err
}

// buildMounts builds the mount tree of `runsc do`: the gofer's root (read-only, under a
// memory overlay unless overlay is "none") with DoMounts, then the volumes.
func buildMounts(client *proto.Client, overlayMode string, volumes []MountSpec) (*vfs.VirtualFilesystem, vfs.VirtualDentry, error) {
	root := RootConfig{Client: client, Overlay: overlayMode, ReadOnly: overlayMode == "none"}
	v, err := BuildMountTree(root, append(DoMounts(), volumes...))
	if err != nil {
		return nil, vfs.VirtualDentry{}, err
	}
	return v, v.Root(), nil
}

// newFSContext gives the first process its root and working directory.
func newFSContext(ctx vfs.Context, v *vfs.VirtualFilesystem, root vfs.VirtualDentry, cwd string) (*vfs.FSContext, error) {
	d, err := v.GetDentryAt(ctx, root, root, cwd, true)
	if err != nil {
		return nil, err
	}
	if !d.Dentry.IsDir() {
		return nil, unix.ENOTDIR
	}
	return vfs.NewFSContext(root, d, 0o022), nil
}

// stdioTable makes the caller's stdin, stdout and stderr the first process's fds 0-2.
func stdioTable(v *vfs.VirtualFilesystem) (*vfs.FDTable, error) {
	fdt := vfs.NewFDTable()
	for i := 0; i < 3; i++ {
		hfd, err := unix.FcntlInt(uintptr(i), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			// A closed stdio fd stays closed in the sandbox too.
			continue
		}
		f, err := host.NewFile(v, hfd)
		if err != nil {
			unix.Close(hfd)
			return nil, fmt.Errorf("wrapping stdio fd %d: %w", i, err)
		}
		if i == 1 {
			setConsole(f)
		}
		err = fdt.NewFDAt(int32(i), f, false)
		f.DecRef()
		if err != nil {
			return nil, fmt.Errorf("installing stdio fd %d: %w", i, err)
		}
	}
	return fdt, nil
}

// setConsole makes /dev/console the sandbox's standard output (a host file): the
// console is where the container's output goes. The console keeps a reference to it.
func setConsole(f *vfs.FileDescription) {
	f.IncRef()
	dev.SetConsole(func(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileImpl, vfs.FileOptions, error) {
		impl, err := f.Inode().Open(ctx, vd, flags)
		return impl, vfs.FileOptions{Stream: true}, err
	})
}
