package vfs

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Mount flags (the MS_* values of mount(2)) that the VFS honours.
const (
	MountReadOnly = unix.MS_RDONLY
	MountNoSUID   = unix.MS_NOSUID
	MountNoDev    = unix.MS_NODEV
	MountNoExec   = unix.MS_NOEXEC
)

// Mount is one filesystem mounted somewhere in the tree.
type Mount struct {
	vfs  *VirtualFilesystem
	fs   Filesystem
	root *Dentry
	// at is where the mount is attached (nil for the namespace root and anonymous and
	// detached mounts); replaced whole by move, pivot_root and unmount.
	at     atomic.Pointer[mountPoint]
	flags  atomic.Uint32
	id     uint64
	source string // what /proc/mounts shows as the device
}

// Source is what /proc/mounts shows as the mount's device (the filesystem's name when
// none was given).
func (m *Mount) Source() string {
	if m.source == "" {
		return m.fs.Name()
	}
	return m.source
}

// mountPoint is where a mount is attached: a dentry of its parent mount.
type mountPoint struct {
	parent *Mount
	point  *Dentry
}

// attachment returns m's parent mount and the dentry it covers (nils when unattached).
func (m *Mount) attachment() (*Mount, *Dentry) {
	if at := m.at.Load(); at != nil {
		return at.parent, at.point
	}
	return nil, nil
}

// Parent returns the mount m is mounted on (nil for the namespace root and anonymous
// mounts).
func (m *Mount) Parent() *Mount {
	p, _ := m.attachment()
	return p
}

// OptionsProvider is implemented by filesystems with mount options worth showing in
// /proc/mounts (tmpfs's size and mode).
type OptionsProvider interface {
	MountOptions() string
}

// MountOpts are a new mount's options.
type MountOpts struct {
	Flags  uint32 // MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC
	Source string // the device /proc/mounts shows ("" for the filesystem's name)
}

// Filesystem returns the mounted filesystem.
func (m *Mount) Filesystem() Filesystem { return m.fs }

// Root returns the mount's root dentry.
func (m *Mount) Root() *Dentry { return m.root }

// Flags returns the mount's MS_* flags.
func (m *Mount) Flags() uint32 { return m.flags.Load() }

// ReadOnly reports whether the mount is read-only.
func (m *Mount) ReadOnly() bool { return m.flags.Load()&MountReadOnly != 0 }

// ID returns the mount's ID (as /proc/self/mountinfo shows it).
func (m *Mount) ID() uint64 { return m.id }

// VirtualDentry is a position in the mount tree: a dentry as seen through a mount.
type VirtualDentry struct {
	Mount  *Mount
	Dentry *Dentry
}

// Ok reports whether vd is set.
func (vd VirtualDentry) Ok() bool { return vd.Dentry != nil }

// Inode returns vd's inode.
func (vd VirtualDentry) Inode() Inode { return vd.Dentry.inode }

type mountKey struct {
	parent *Mount
	point  *Dentry
}

// VirtualFilesystem is a mount namespace: a tree of mounts and the operations that
// resolve paths in it.
type VirtualFilesystem struct {
	renameMu sync.RWMutex

	mountMu sync.RWMutex
	mounts  map[mountKey]*Mount // the topmost mount at each mount point
	root    VirtualDentry
	roots   map[Filesystem]*Dentry // the root dentry of each mounted filesystem
	all     []*Mount

	nextMountID atomic.Uint64

	anonOnce sync.Once
	anon     *Mount
}

// New returns an empty mount namespace; MountRoot gives it its root.
func New() *VirtualFilesystem {
	return &VirtualFilesystem{
		mounts: make(map[mountKey]*Mount),
		roots:  make(map[Filesystem]*Dentry),
	}
}

func (v *VirtualFilesystem) newMount(ctx Context, fs Filesystem, flags uint32) *Mount {
	m := &Mount{vfs: v, fs: fs, id: v.nextMountID.Add(1)}
	if ro, ok := fs.(interface{ ReadOnly() bool }); ok && ro.ReadOnly() {
		flags |= MountReadOnly
	}
	m.flags.Store(flags)
	v.mountMu.Lock()
	root, ok := v.roots[fs]
	if !ok {
		root = NewDentry(ctx, fs.Root(), fs.CacheDentries())
		v.roots[fs] = root
	}
	m.root = root
	v.mountMu.Unlock()
	return m
}

// MountRoot makes fs the root of the namespace, with MS_* flags.
func (v *VirtualFilesystem) MountRoot(ctx Context, fs Filesystem, flags uint32) error {
	m := v.newMount(ctx, fs, flags)
	if !m.root.IsDir() {
		return unix.ENOTDIR
	}
	v.mountMu.Lock()
	defer v.mountMu.Unlock()
	if v.root.Ok() {
		return unix.EBUSY
	}
	v.root = VirtualDentry{Mount: m, Dentry: m.root}
	v.all = append(v.all, m)
	return nil
}

// Root returns the namespace's root.
func (v *VirtualFilesystem) Root() VirtualDentry {
	v.mountMu.RLock()
	defer v.mountMu.RUnlock()
	return v.root
}

// Mount mounts fs with MS_* flags on the directory at path, resolved from the
// namespace root with root's credentials.
func (v *VirtualFilesystem) Mount(ctx Context, path string, fs Filesystem, flags uint32) error {
	root := v.Root()
	if !root.Ok() {
		return unix.ENOENT
	}
	point, err := v.GetDentryAt(ctx, root, root, path, true)
	if err != nil {
		return err
	}
	return v.MountAt(ctx, point, fs, flags)
}

// MountAt mounts fs over point (see MountAtOpts).
func (v *VirtualFilesystem) MountAt(ctx Context, point VirtualDentry, fs Filesystem, flags uint32) error {
	_, err := v.MountAtOpts(ctx, point, fs, MountOpts{Flags: flags})
	return err
}

// MountAtOpts mounts fs over point and returns the new mount. A directory is mounted on
// a directory; a filesystem whose root is a file (the sandbox's masking of a file with
// /dev/null, or a file made read-only) goes on a non-directory.
func (v *VirtualFilesystem) MountAtOpts(ctx Context, point VirtualDentry, fs Filesystem, opts MountOpts) (*Mount, error) {
	m := v.newMount(ctx, fs, opts.Flags)
	m.source = opts.Source
	if m.root.IsDir() != point.Dentry.IsDir() {
		return nil, unix.ENOTDIR
	}
	m.at.Store(&mountPoint{parent: point.Mount, point: point.Dentry})
	v.mountMu.Lock()
	defer v.mountMu.Unlock()
	if point.Dentry.dead.Load() {
		return nil, unix.ENOENT
	}
	v.mounts[mountKey{point.Mount, point.Dentry}] = m
	point.Dentry.mounted.Add(1)
	v.all = append(v.all, m)
	return m, nil
}

// Mounts returns every mount of the namespace, in mount order.
func (v *VirtualFilesystem) Mounts() []*Mount {
	v.mountMu.RLock()
	defer v.mountMu.RUnlock()
	return append([]*Mount(nil), v.all...)
}

// MountPoint returns the mount point of m in its parent (zero for the root).
func (m *Mount) MountPoint() VirtualDentry {
	p, d := m.attachment()
	if p == nil {
		return VirtualDentry{}
	}
	return VirtualDentry{Mount: p, Dentry: d}
}

// crossMounts returns the root of the topmost mount at vd, or vd.
func (v *VirtualFilesystem) crossMounts(vd VirtualDentry) VirtualDentry {
	for vd.Dentry.mounted.Load() > 0 {
		v.mountMu.RLock()
		m := v.mounts[mountKey{vd.Mount, vd.Dentry}]
		v.mountMu.RUnlock()
		if m == nil {
			break
		}
		vd = VirtualDentry{Mount: m, Dentry: m.root}
	}
	return vd
}

// AnonMount returns the mount that holds files without a path (host fds, pipes): their
// dentries have no parent and are never reached by a walk.
func (v *VirtualFilesystem) AnonMount() *Mount {
	v.anonOnce.Do(func() {
		m := &Mount{vfs: v, fs: anonFS{}, id: v.nextMountID.Add(1)}
		m.root = NewDentry(nil, anonRoot{}, false)
		v.anon = m
	})
	return v.anon
}

// NewAnonVirtualDentry returns a VirtualDentry for inode, a file with no path.
func (v *VirtualFilesystem) NewAnonVirtualDentry(ctx Context, inode Inode) VirtualDentry {
	return VirtualDentry{Mount: v.AnonMount(), Dentry: NewDentry(ctx, inode, false)}
}

type anonFS struct{}

func (anonFS) Root() Inode         { return anonRoot{} }
func (anonFS) Name() string        { return "anon_inodefs" }
func (anonFS) CacheDentries() bool { return false }
func (anonFS) Statfs(ctx Context) (Statfs, error) {
	return Statfs{Type: 0x09041934, Bsize: 4096, Namelen: 255}, nil
}

type anonRoot struct{ NoInodeOps }

func (anonRoot) Stat(ctx Context) (Stat, error) {
	return Stat{Mask: StatxBasicStats, Mode: unix.S_IFDIR | 0500, Nlink: 2, Blksize: 4096}, nil
}

var anonDevMinor atomic.Uint32

// NewAnonDev returns a new device minor number (major 0) for a filesystem without a
// backing device, as Linux's get_anon_bdev.
func NewAnonDev() uint32 {
	return anonDevMinor.Add(1) + 16
}
