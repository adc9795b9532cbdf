// Package tmpfs owns the sentry's in-memory filesystem: directories, regular files (kept
// in sparse 4 KiB pages in the sentry's heap), symlinks and special-file nodes, with
// Linux tmpfs semantics for link counts, timestamps and directory offsets. It is mounted
// at /tmp for `runsc do` and is the upper layer of the future overlay.
//
// Lock order: the VFS serializes entry changes within a directory (its dentry lock) and
// renames (its rename lock). Within tmpfs, a directory's inode.mu is taken before a
// child's inode.mu; rename takes the old directory's, then the new directory's (the VFS
// guarantees only one rename runs at a time). Filesystem.mu (byte accounting) is a leaf.
package tmpfs

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/mm"
	"runsc.dev/sentry/vfs"
)

// Magic is TMPFS_MAGIC, as statfs reports it.
const Magic = 0x01021994

const pageSize = 4096

// Options configure a new tmpfs.
type Options struct {
	// Mode, UID and GID of the root directory (Mode's permission bits; default 01777
	// unless ModeSet).
	Mode     uint32
	ModeSet  bool
	UID, GID uint32
	// MaxBytes bounds the file data held (0: half of the host's memory, Linux's default).
	// Writes past it fail with ENOSPC.
	MaxBytes int64
}

// Filesystem is one tmpfs instance.
type Filesystem struct {
	dev     uint32
	nextIno atomic.Uint64
	root    *inode

	mu       sync.Mutex
	used     int64 // bytes of pages allocated
	maxBytes int64
}

// New returns a tmpfs whose root directory has the options' mode and owner.
func New(opts Options) *Filesystem {
	fs := &Filesystem{dev: vfs.NewAnonDev(), maxBytes: opts.MaxBytes}
	if fs.maxBytes <= 0 {
		fs.maxBytes = DefaultMaxBytes()
	}
	mode := opts.Mode & 07777
	if mode == 0 && !opts.ModeSet {
		mode = 01777
	}
	fs.root = fs.newInode(vfs.CreateOptions{Mode: unix.S_IFDIR | mode, UID: opts.UID, GID: opts.GID})
	fs.root.parent.Store(fs.root)
	return fs
}

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem) Root() vfs.Inode { return fs.root }

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return "tmpfs" }

// CacheDentries implements vfs.Filesystem.CacheDentries.
func (fs *Filesystem) CacheDentries() bool { return true }

// Statfs implements vfs.Filesystem.Statfs.
func (fs *Filesystem) Statfs(ctx vfs.Context) (vfs.Statfs, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	st := vfs.Statfs{Type: Magic, Bsize: pageSize, Frsize: pageSize, Namelen: vfs.MaxNameLen}
	st.Blocks = uint64(fs.maxBytes / pageSize)
	st.Bfree = uint64((fs.maxBytes - fs.used) / pageSize)
	st.Bavail = st.Bfree
	// Linux's default inode limit is half the pages of memory; so is ours.
	st.Files = st.Blocks
	if n := fs.nextIno.Load(); n < st.Files {
		st.Ffree = st.Files - n
	}
	return st, nil
}

// MountOptions implements vfs.OptionsProvider: size and mode when they are not the
// defaults, as Linux's tmpfs shows them.
func (fs *Filesystem) MountOptions() string {
	var opts []string
	fs.mu.Lock()
	if fs.maxBytes != DefaultMaxBytes() {
		opts = append(opts, "size="+strconv.FormatInt(fs.maxBytes/1024, 10)+"k")
	}
	fs.mu.Unlock()
	st, _ := fs.root.Stat(nil)
	if perm := st.Mode & 07777; perm != 01777 {
		opts = append(opts, "mode="+strconv.FormatUint(uint64(perm), 8))
	}
	if st.UID != 0 {
		opts = append(opts, "uid="+strconv.FormatUint(uint64(st.UID), 10))
	}
	if st.GID != 0 {
		opts = append(opts, "gid="+strconv.FormatUint(uint64(st.GID), 10))
	}
	return strings.Join(opts, ",")
}

// DefaultMaxBytes is the size of a tmpfs mounted without size=: half of the host's
// memory, as Linux.
func DefaultMaxBytes() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil || si.Totalram == 0 {
		return 1 << 30
	}
	n := int64(si.Totalram) * int64(si.Unit) / 2
	return n &^ (pageSize - 1)
}

// SetMaxBytes changes the size limit (remount with size=): EINVAL below what is in use.
func (fs *Filesystem) SetMaxBytes(n int64) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if n <= 0 {
		n = DefaultMaxBytes()
	}
	if n < fs.used {
		return unix.EINVAL
	}
	fs.maxBytes = n
	return nil
}

// charge accounts n more bytes of pages (negative to release).
func (fs *Filesystem) charge(n int64) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if n > 0 && fs.used+n > fs.maxBytes {
		return unix.ENOSPC
	}
	fs.used += n
	return nil
}

type dirent struct {
	name  string
	inode *inode
	pos   int64
}

// inode is a tmpfs file.
type inode struct {
	vfs.NoInodeOps
	fs  *Filesystem
	ino uint64
	typ uint32

	mu                         sync.RWMutex
	perm                       uint32
	uid, gid                   uint32
	nlink                      uint32
	linkable                   bool // an O_TMPFILE file that linkat may name (vfs.LinkableInode)
	atime, mtime, ctime, btime vfs.Timespec
	rdev                       uint64
	xattrs                     vfs.XattrMap

	// Regular files: the data, and the open files using it (the pages of a file with no
	// link and no open file are freed).
	size  int64
	pages map[int64]*[pageSize]byte
	opens int
	// cache is the page cache of a mapped file (mmap.go), nil when unmapped.
	cache *mm.PageCache

	// Symlinks.
	target string

	// Directories.
	parent  atomic.Pointer[inode]
	entries map[string]*dirent
	order   []*dirent // by pos
	nextPos int64
}

func (fs *Filesystem) newInode(opts vfs.CreateOptions) *inode {
	now := vfs.Now()
	i := &inode{
		fs:    fs,
		ino:   fs.nextIno.Add(1),
		typ:   opts.Mode & unix.S_IFMT,
		perm:  opts.Mode & 07777,
		uid:   opts.UID,
		gid:   opts.GID,
		nlink: 1,
		atime: now, mtime: now, ctime: now, btime: now,
		rdev: opts.Rdev,
	}
	if i.typ == unix.S_IFDIR {
		i.nlink = 2
		i.entries = make(map[string]*dirent)
		i.nextPos = 2
	}
	return i
}

// Stat implements vfs.Inode.Stat.
func (i *inode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	st := vfs.Stat{
		Mask:     vfs.StatxBasicStats | vfs.StatxBtime,
		Blksize:  pageSize,
		Nlink:    i.nlink,
		UID:      i.uid,
		GID:      i.gid,
		Mode:     i.typ | i.perm,
		Ino:      i.ino,
		Atime:    i.atime,
		Mtime:    i.mtime,
		Ctime:    i.ctime,
		Btime:    i.btime,
		DevMinor: i.fs.dev,
	}
	switch i.typ {
	case unix.S_IFREG:
		st.Size = uint64(i.size)
		st.Blocks = uint64(len(i.pages)) * (pageSize / 512)
	case unix.S_IFLNK:
		st.Size = uint64(len(i.target))
	case unix.S_IFDIR:
		st.Size = uint64(pageSize)
	case unix.S_IFCHR, unix.S_IFBLK:
		st.RdevMajor, st.RdevMinor = unix.Major(i.rdev), unix.Minor(i.rdev)
	}
	return st, nil
}

// SetStat implements vfs.Inode.SetStat.
func (i *inode) SetStat(ctx vfs.Context, opts vfs.SetStatOptions) error {
	i.mu.Lock()
	var mappers []mm.MappingSpace
	defer func() {
		i.mu.Unlock()
		if mappers != nil {
			// Mappings lose the pages beyond the new end: touching them is SIGBUS.
			i.invalidateFrom(mappers, opts.Size)
		}
	}()
	now := vfs.Now()
	if opts.Mask&vfs.SetStatSize != 0 {
		if i.typ != unix.S_IFREG {
			return unix.EINVAL
		}
		if opts.Size != i.size {
			if opts.Size < i.size && i.cache != nil {
				i.cache.Truncate(uint64(opts.Size))
				mappers = i.cache.Mappers()
			}
			i.truncateLocked(opts.Size)
			i.mtime = now
		}
	}
	if opts.Mask&vfs.SetStatMode != 0 {
		i.perm = opts.Mode & 07777
	}
	if opts.Mask&vfs.SetStatUID != 0 {
		i.uid = opts.UID
	}
	if opts.Mask&vfs.SetStatGID != 0 {
		i.gid = opts.GID
	}
	if opts.Mask&vfs.SetStatAtime != 0 {
		i.atime = opts.Atime
	} else if opts.Mask&vfs.SetStatAtimeNow != 0 {
		i.atime = now
	}
	if opts.Mask&vfs.SetStatMtime != 0 {
		i.mtime = opts.Mtime
	} else if opts.Mask&vfs.SetStatMtimeNow != 0 {
		i.mtime = now
	}
	if opts.Mask&vfs.SetStatCtime != 0 {
		i.ctime = now
	}
	return nil
}

// truncateLocked sets the size of a regular file, dropping or zeroing data past it.
func (i *inode) truncateLocked(size int64) {
	if size < i.size {
		last := size / pageSize
		var freed int64
		for p := range i.pages {
			if p > last || (p == last && size%pageSize == 0) {
				delete(i.pages, p)
				freed++
			}
		}
		if pg := i.pages[last]; pg != nil {
			clear(pg[size%pageSize:])
		}
		i.fs.charge(-freed * pageSize)
	}
	i.size = size
}

// Open implements vfs.Inode.Open.
func (i *inode) Open(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileImpl, error) {
	switch i.typ {
	case unix.S_IFREG:
		return i.newFile(), nil
	case unix.S_IFDIR:
		return &dirFile{inode: i}, nil
	}
	return nil, unix.ENXIO
}

// Readlink implements vfs.Inode.Readlink.
func (i *inode) Readlink(ctx vfs.Context) (string, error) {
	if i.typ != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	i.mu.Lock()
	i.atime = vfs.Now()
	i.mu.Unlock()
	return i.target, nil
}

// Lookup implements vfs.Inode.Lookup.
func (i *inode) Lookup(ctx vfs.Context, names []string) ([]vfs.Inode, error) {
	if i.typ != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	e, ok := i.entries[names[0]]
	if !ok {
		return nil, unix.ENOENT
	}
	return []vfs.Inode{e.inode}, nil
}

// addLocked adds child as name (i.mu held).
func (i *inode) addLocked(name string, child *inode) {
	e := &dirent{name: name, inode: child, pos: i.nextPos}
	i.nextPos++
	i.entries[name] = e
	i.order = append(i.order, e)
	if child.typ == unix.S_IFDIR {
		i.nlink++
		child.parent.Store(i)
	}
	now := vfs.Now()
	i.mtime, i.ctime = now, now
}

// removeLocked removes entry name (i.mu held) and returns it.
func (i *inode) removeLocked(name string) *dirent {
	e, ok := i.entries[name]
	if !ok {
		return nil
	}
	delete(i.entries, name)
	k := sort.Search(len(i.order), func(k int) bool { return i.order[k].pos >= e.pos })
	if k < len(i.order) && i.order[k] == e {
		i.order = append(i.order[:k], i.order[k+1:]...)
	}
	if e.inode.typ == unix.S_IFDIR {
		i.nlink--
	}
	now := vfs.Now()
	i.mtime, i.ctime = now, now
	return e
}

func (i *inode) checkNewName(name string) error {
	if i.typ != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	if i.nlink == 0 {
		return unix.ENOENT
	}
	if _, ok := i.entries[name]; ok {
		return unix.EEXIST
	}
	return nil
}

func (i *inode) create(name string, opts vfs.CreateOptions, target string) (*inode, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if err := i.checkNewName(name); err != nil {
		return nil, err
	}
	c := i.fs.newInode(opts)
	c.target = target
	i.addLocked(name, c)
	return c, nil
}

// Create implements vfs.Inode.Create.
func (i *inode) Create(ctx vfs.Context, name string, flags uint32, opts vfs.CreateOptions) (vfs.Inode, vfs.FileImpl, error) {
	c, err := i.create(name, opts, "")
	if err != nil {
		return nil, nil, err
	}
	return c, c.newFile(), nil
}

// Mkdir implements vfs.Inode.Mkdir.
func (i *inode) Mkdir(ctx vfs.Context, name string, opts vfs.CreateOptions) (vfs.Inode, error) {
	return i.create(name, opts, "")
}

// Mknod implements vfs.Inode.Mknod.
func (i *inode) Mknod(ctx vfs.Context, name string, opts vfs.CreateOptions) (vfs.Inode, error) {
	return i.create(name, opts, "")
}

// Symlink implements vfs.Inode.Symlink.
func (i *inode) Symlink(ctx vfs.Context, name, target string, opts vfs.CreateOptions) (vfs.Inode, error) {
	if len(target) >= vfs.MaxPathLen {
		return nil, unix.ENAMETOOLONG
	}
	return i.create(name, opts, target)
}

// Link implements vfs.Inode.Link.
func (i *inode) Link(ctx vfs.Context, name string, target vfs.Inode) error {
	t, ok := target.(*inode)
	if !ok || t.fs != i.fs {
		return unix.EXDEV
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if err := i.checkNewName(name); err != nil {
		return err
	}
	t.mu.Lock()
	if t.nlink == 0 && !t.linkable {
		t.mu.Unlock()
		return unix.ENOENT
	}
	// As Linux, an O_TMPFILE file can be given a name once; unlinked again, it is gone.
	t.linkable = false
	t.nlink++
	t.ctime = vfs.Now()
	t.mu.Unlock()
	i.addLocked(name, t)
	return nil
}

// Unlink implements vfs.Inode.Unlink.
func (i *inode) Unlink(ctx vfs.Context, name string, child vfs.Inode) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	e, ok := i.entries[name]
	if !ok || e.inode != child {
		return unix.ENOENT
	}
	if e.inode.typ == unix.S_IFDIR {
		return unix.EISDIR
	}
	i.removeLocked(name)
	c := e.inode
	c.mu.Lock()
	c.nlink--
	c.ctime = vfs.Now()
	c.freeIfUnusedLocked()
	c.mu.Unlock()
	return nil
}

// newFile opens the regular file i.
func (i *inode) newFile() *regularFile {
	i.mu.Lock()
	i.opens++
	i.mu.Unlock()
	return &regularFile{inode: i}
}

// freeIfUnusedLocked releases the pages of a regular file that has no link and no open
// file left (i.mu held).
func (i *inode) freeIfUnusedLocked() {
	if i.typ == unix.S_IFREG && i.nlink == 0 && i.opens == 0 && len(i.pages) > 0 {
		i.fs.charge(-int64(len(i.pages)) * pageSize)
		i.pages = nil
	}
}

// Rmdir implements vfs.Inode.Rmdir.
func (i *inode) Rmdir(ctx vfs.Context, name string, child vfs.Inode) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	e, ok := i.entries[name]
	if !ok || e.inode != child {
		return unix.ENOENT
	}
	c := e.inode
	if c.typ != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) != 0 {
		return unix.ENOTEMPTY
	}
	i.removeLocked(name)
	c.nlink = 0
	c.ctime = vfs.Now()
	return nil
}

// Rename implements vfs.Inode.Rename.
func (i *inode) Rename(ctx vfs.Context, oldName string, child vfs.Inode, newDir vfs.Inode, newName string, replaced vfs.Inode, flags uint32) error {
	nd, ok := newDir.(*inode)
	if !ok || nd.fs != i.fs {
		return unix.EXDEV
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if nd != i {
		nd.mu.Lock()
		defer nd.mu.Unlock()
	}
	e, ok := i.entries[oldName]
	if !ok || e.inode != child {
		return unix.ENOENT
	}
	if nd.nlink == 0 {
		return unix.ENOENT
	}
	r := nd.entries[newName]
	if (r == nil) != (replaced == nil) || (r != nil && r.inode != replaced) {
		return unix.ENOENT
	}
	now := vfs.Now()
	if flags&vfs.RenameExchange != 0 {
		a, b := e.inode, r.inode
		e.inode, r.inode = b, a
		if a.typ == unix.S_IFDIR {
			a.parent.Store(nd)
		}
		if b.typ == unix.S_IFDIR {
			b.parent.Store(i)
		}
		if nd != i && (a.typ == unix.S_IFDIR) != (b.typ == unix.S_IFDIR) {
			if a.typ == unix.S_IFDIR {
				i.nlink--
				nd.nlink++
			} else {
				i.nlink++
				nd.nlink--
			}
		}
		i.mtime, i.ctime, nd.mtime, nd.ctime = now, now, now, now
		return nil
	}
	if r != nil {
		rc := r.inode
		if rc.typ == unix.S_IFDIR {
			rc.mu.Lock()
			n := len(rc.entries)
			rc.mu.Unlock()
			if n != 0 {
				return unix.ENOTEMPTY
			}
		}
		nd.removeLocked(newName)
		rc.mu.Lock()
		if rc.typ == unix.S_IFDIR {
			rc.nlink = 0
		} else {
			rc.nlink--
		}
		rc.ctime = now
		rc.freeIfUnusedLocked()
		rc.mu.Unlock()
	}
	i.removeLocked(oldName)
	nd.addLocked(newName, e.inode)
	c := e.inode
	if c != i && c != nd {
		c.mu.Lock()
		c.ctime = now
		c.mu.Unlock()
	}
	return nil
}

// CreateTmpfile implements vfs.TmpfileCreator.
func (i *inode) CreateTmpfile(ctx vfs.Context, opts vfs.CreateOptions) (vfs.Inode, vfs.FileImpl, error) {
	if i.typ != unix.S_IFDIR {
		return nil, nil, unix.ENOTDIR
	}
	c := i.fs.newInode(opts)
	c.nlink = 0
	c.linkable = opts.Linkable
	return c, c.newFile(), nil
}

// Linkable implements vfs.LinkableInode.
func (i *inode) Linkable() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.linkable
}
