// Package gofer owns the sentry's filesystem backed by a gofer (gofer/proto): the root
// filesystem and bind mounts. Files are addressed by gofer handles held in inodes; a walk
// of several uncached names is one Walk round trip; opening a regular file gets a host fd
// from the gofer, and all data I/O then goes straight to that fd (preadv/pwritev into the
// application's memory) with no gofer round trip.
//
// # Caching and revalidation
//
// The filesystem is assumed exclusive to the sandbox (the `runsc do` root, a container's
// rootfs): nothing but this sentry changes it. The VFS caches every lookup, positive and
// negative, for the life of the mount; inodes cache their attributes (from the Walk that
// found them) and symlink targets, and never revalidate them against the gofer. Changes
// made through this filesystem keep the caches right: an inode whose attributes a
// mutation may have changed (a write through its host fd, SetStat, a link count change,
// an entry added or removed in a directory) is marked stale and fetches its attributes
// again (one Stat round trip) the next time they are asked for. A filesystem shared with
// other writers would need a revalidating policy; there is none yet.
//
// Host fds for reading are shared by all read-only opens of an inode and kept open for a
// while after the last close (up to maxIdleFDs of them), so that reopening a file costs
// no round trip; writable opens get their own host fd.
//
// Lock order: inode.xmu, then inode.mu, then Filesystem.idleMu. The VFS's locks come before all of them.
// inode.cmu (mmap.go) comes after mm.MemoryManager.mu and is never held with the others.
package gofer

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/gofer/proto"
	"runsc.dev/sentry/fs/host"
	"runsc.dev/sentry/mm"
	"runsc.dev/sentry/vfs"
)

// maxIdleFDs bounds the read-only host fds kept open for files nobody has open.
const maxIdleFDs = 128

// Filesystem is a gofer-backed filesystem.
type Filesystem struct {
	client   *proto.Client
	readOnly bool
	root     *inode

	idleMu sync.Mutex
	idle   []*inode // inodes keeping a read-only host fd with no open file
}

// NewFilesystem mounts the gofer's tree: the returned filesystem is ready to be given
// to vfs.MountRoot or Mount. readOnly makes every mutation fail with EROFS (mounts of
// it are read-only whatever their flags).
func NewFilesystem(client *proto.Client, readOnly bool) (*Filesystem, error) {
	h, st, err := client.Mount()
	if err != nil {
		return nil, err
	}
	fs := &Filesystem{client: client, readOnly: readOnly}
	fs.root = fs.newInode(h, st)
	return fs, nil
}

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem) Root() vfs.Inode { return fs.root }

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return "9p" }

// CacheDentries implements vfs.Filesystem.CacheDentries.
func (fs *Filesystem) CacheDentries() bool { return true }

// ReadOnly reports whether the filesystem refuses all changes.
func (fs *Filesystem) ReadOnly() bool { return fs.readOnly }

// Statfs implements vfs.Filesystem.Statfs.
func (fs *Filesystem) Statfs(ctx vfs.Context) (vfs.Statfs, error) {
	s, err := fs.client.Statfs(fs.root.h)
	if err != nil {
		return vfs.Statfs{}, err
	}
	st := vfs.Statfs{Type: s.Type, Bsize: s.Bsize, Blocks: s.Blocks, Bfree: s.Bfree, Bavail: s.Bavail,
		Files: s.Files, Ffree: s.Ffree, Namelen: s.Namelen, Frsize: s.Frsize, Flags: s.Flags}
	if fs.readOnly {
		st.Flags |= unix.ST_RDONLY
	}
	return st, nil
}

// inode is a file on the gofer.
type inode struct {
	vfs.NoInodeOps
	fs  *Filesystem
	h   proto.Handle
	typ uint32

	stale atomic.Bool // the cached attributes may be out of date

	mu      sync.Mutex
	stat    proto.Stat
	target  string
	hasLink bool
	roFD    int // shared read-only host fd, or -1
	roRefs  int // open files using roFD
	idle    bool
	opens   int  // open files of any kind
	dropped bool // the VFS forgot the dentry: close the handle when unused

	// cmu guards the page cache of a mapped regular file and the host fd it uses
	// (mmap.go); cached says whether there is a cache, for read and write's fast path.
	cmu    sync.Mutex
	cache  *mm.PageCache
	cached atomic.Bool
	cfd    int // -1 if none
	cfdRW  bool

	// xmu guards xnames: the extended attributes' names (nil until fetched) and their
	// values (nil until fetched).
	xmu    sync.Mutex
	xnames map[string][]byte
}

func (fs *Filesystem) newInode(h proto.Handle, st proto.Stat) *inode {
	return &inode{fs: fs, h: h, typ: st.Mode & unix.S_IFMT, stat: st, roFD: -1, cfd: -1}
}

func statFromProto(s *proto.Stat) vfs.Stat {
	return vfs.Stat{
		Mask:      vfs.StatxBasicStats,
		Blksize:   uint32(s.Blksize),
		Nlink:     uint32(s.Nlink),
		UID:       s.UID,
		GID:       s.GID,
		Mode:      s.Mode,
		Ino:       s.Ino,
		Size:      uint64(s.Size),
		Blocks:    uint64(s.Blocks),
		Atime:     vfs.Timespec{Sec: s.Atime.Sec, Nsec: s.Atime.Nsec},
		Mtime:     vfs.Timespec{Sec: s.Mtime.Sec, Nsec: s.Mtime.Nsec},
		Ctime:     vfs.Timespec{Sec: s.Ctime.Sec, Nsec: s.Ctime.Nsec},
		RdevMajor: unix.Major(s.Rdev),
		RdevMinor: unix.Minor(s.Rdev),
		DevMajor:  unix.Major(s.Dev),
		DevMinor:  unix.Minor(s.Dev),
	}
}

// Stat implements vfs.Inode.Stat.
func (i *inode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	if i.stale.Load() {
		st, err := i.fs.client.Stat(i.h)
		if err != nil {
			return vfs.Stat{}, err
		}
		i.mu.Lock()
		i.stat = st
		i.stale.Store(false)
		i.mu.Unlock()
		return statFromProto(&st), nil
	}
	i.mu.Lock()
	st := statFromProto(&i.stat)
	i.mu.Unlock()
	return st, nil
}

// SetStat implements vfs.Inode.SetStat.
func (i *inode) SetStat(ctx vfs.Context, opts vfs.SetStatOptions) error {
	if i.fs.readOnly {
		return unix.EROFS
	}
	var a proto.SetStatArgs
	if opts.Mask&vfs.SetStatMode != 0 {
		a.Mask |= proto.SetStatMode
		a.Mode = opts.Mode
	}
	if opts.Mask&vfs.SetStatUID != 0 {
		a.Mask |= proto.SetStatUID
		a.UID = opts.UID
	}
	if opts.Mask&vfs.SetStatGID != 0 {
		a.Mask |= proto.SetStatGID
		a.GID = opts.GID
	}
	if opts.Mask&vfs.SetStatSize != 0 {
		a.Mask |= proto.SetStatSize
		a.Size = opts.Size
	}
	if opts.Mask&vfs.SetStatAtime != 0 {
		a.Mask |= proto.SetStatAtime
		a.Atime = proto.Timespec{Sec: opts.Atime.Sec, Nsec: opts.Atime.Nsec}
	} else if opts.Mask&vfs.SetStatAtimeNow != 0 {
		a.Mask |= proto.SetStatAtimeNow
	}
	if opts.Mask&vfs.SetStatMtime != 0 {
		a.Mask |= proto.SetStatMtime
		a.Mtime = proto.Timespec{Sec: opts.Mtime.Sec, Nsec: opts.Mtime.Nsec}
	} else if opts.Mask&vfs.SetStatMtimeNow != 0 {
		a.Mask |= proto.SetStatMtimeNow
	}
	if a.Mask == 0 {
		return nil
	}
	defer i.stale.Store(true)
	if err := i.fs.client.SetStat(i.h, a); err != nil {
		return err
	}
	if a.Mask&proto.SetStatSize != 0 {
		i.truncateCache(uint64(a.Size))
	}
	return nil
}

// Lookup implements vfs.Inode.Lookup with one Walk for all the names.
func (i *inode) Lookup(ctx vfs.Context, names []string) ([]vfs.Inode, error) {
	if i.typ != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	hs, ss, err := i.fs.client.Walk(i.h, names)
	inodes := make([]vfs.Inode, len(hs))
	for k := range hs {
		inodes[k] = i.fs.newInode(hs[k], ss[k])
	}
	return inodes, err
}

// Readlink implements vfs.Inode.Readlink (the target is cached).
func (i *inode) Readlink(ctx vfs.Context) (string, error) {
	if i.typ != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	i.mu.Lock()
	if i.hasLink {
		t := i.target
		i.mu.Unlock()
		return t, nil
	}
	i.mu.Unlock()
	t, err := i.fs.client.Readlink(i.h)
	if err != nil {
		return "", err
	}
	i.mu.Lock()
	i.target, i.hasLink = t, true
	i.mu.Unlock()
	return t, nil
}

// Dropped implements vfs.DroppedInode.
func (i *inode) Dropped() {
	i.mu.Lock()
	i.dropped = true
	release := i.opens == 0
	i.mu.Unlock()
	if release {
		i.release()
	}
}

// release closes the handle and any cached fd of a dropped, unused inode.
func (i *inode) release() {
	i.mu.Lock()
	fd := i.roFD
	i.roFD = -1
	i.mu.Unlock()
	if fd >= 0 {
		unix.Close(fd)
	}
	i.cmu.Lock()
	if i.cfd >= 0 && i.cache == nil {
		unix.Close(i.cfd)
		i.cfd = -1
	}
	i.cmu.Unlock()
	i.fs.client.Close(i.h)
}

// Open implements vfs.Inode.Open.
func (i *inode) Open(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileImpl, error) {
	switch i.typ {
	case unix.S_IFDIR:
		i.addOpen()
		return &dirFile{inode: i}, nil
	case unix.S_IFREG:
	default:
		return nil, unix.ENXIO
	}
	acc := flags & unix.O_ACCMODE
	if acc == unix.O_RDONLY {
		fd, err := i.getROFD()
		if err != nil {
			return nil, err
		}
		i.addOpen()
		return &regularFile{inode: i, fd: fd}, nil
	}
	if i.fs.readOnly {
		return nil, unix.EROFS
	}
	if acc != unix.O_WRONLY {
		acc = unix.O_RDWR
	}
	fd, err := i.fs.client.Open(i.h, acc)
	if err != nil {
		return nil, err
	}
	i.addOpen()
	return &regularFile{inode: i, fd: fd, own: true, rw: acc == unix.O_RDWR}, nil
}

func (i *inode) addOpen() {
	i.mu.Lock()
	i.opens++
	i.mu.Unlock()
}

func (i *inode) removeOpen() {
	i.mu.Lock()
	i.opens--
	release := i.opens == 0 && i.dropped
	i.mu.Unlock()
	if release {
		i.release()
	}
}

// getROFD returns the shared read-only host fd, opening it if needed, with a reference.
func (i *inode) getROFD() (int, error) {
	i.mu.Lock()
	if i.roFD >= 0 {
		i.roRefs++
		fd := i.roFD
		wasIdle := i.idle
		i.idle = false
		i.mu.Unlock()
		if wasIdle {
			i.fs.removeIdle(i)
		}
		return fd, nil
	}
	i.mu.Unlock()
	fd, err := i.fs.client.Open(i.h, unix.O_RDONLY)
	if err != nil {
		return -1, err
	}
	i.mu.Lock()
	if i.roFD >= 0 {
		// Another open won the race.
		unix.Close(fd)
		fd = i.roFD
	} else {
		i.roFD = fd
	}
	i.roRefs++
	i.mu.Unlock()
	return fd, nil
}

// putROFD drops a reference to the shared read-only fd, parking it in the idle list.
func (i *inode) putROFD() {
	i.mu.Lock()
	i.roRefs--
	park := i.roRefs == 0 && i.roFD >= 0 && !i.dropped
	if park {
		i.idle = true
	}
	i.mu.Unlock()
	if park {
		i.fs.addIdle(i)
	}
}

func (fs *Filesystem) addIdle(i *inode) {
	fs.idleMu.Lock()
	fs.idle = append(fs.idle, i)
	var victim *inode
	if len(fs.idle) > maxIdleFDs {
		victim = fs.idle[0]
		fs.idle = fs.idle[1:]
	}
	fs.idleMu.Unlock()
	if victim != nil {
		victim.mu.Lock()
		fd := -1
		if victim.idle && victim.roRefs == 0 {
			fd = victim.roFD
			victim.roFD = -1
			victim.idle = false
		}
		victim.mu.Unlock()
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

func (fs *Filesystem) removeIdle(i *inode) {
	fs.idleMu.Lock()
	defer fs.idleMu.Unlock()
	for k, x := range fs.idle {
		if x == i {
			fs.idle = append(fs.idle[:k], fs.idle[k+1:]...)
			return
		}
	}
}

// Create implements vfs.Inode.Create.
func (i *inode) Create(ctx vfs.Context, name string, flags uint32, opts vfs.CreateOptions) (vfs.Inode, vfs.FileImpl, error) {
	if i.fs.readOnly {
		return nil, nil, unix.EROFS
	}
	acc := flags & unix.O_ACCMODE
	if acc != unix.O_RDONLY && acc != unix.O_WRONLY {
		acc = unix.O_RDWR
	}
	h, st, fd, err := i.fs.client.Create(i.h, name, acc, opts.Mode&07777, opts.UID, opts.GID)
	if err != nil {
		return nil, nil, err
	}
	i.stale.Store(true)
	c := i.fs.newInode(h, st)
	c.opens = 1
	return c, &regularFile{inode: c, fd: fd, own: true}, nil
}

// Mkdir implements vfs.Inode.Mkdir.
func (i *inode) Mkdir(ctx vfs.Context, name string, opts vfs.CreateOptions) (vfs.Inode, error) {
	if i.fs.readOnly {
		return nil, unix.EROFS
	}
	h, st, err := i.fs.client.Mkdir(i.h, name, opts.Mode&07777, opts.UID, opts.GID)
	if err != nil {
		return nil, err
	}
	i.stale.Store(true)
	return i.fs.newInode(h, st), nil
}

// Mknod implements vfs.Inode.Mknod.
func (i *inode) Mknod(ctx vfs.Context, name string, opts vfs.CreateOptions) (vfs.Inode, error) {
	if i.fs.readOnly {
		return nil, unix.EROFS
	}
	h, st, err := i.fs.client.Mknod(i.h, name, opts.Mode, opts.Rdev, opts.UID, opts.GID)
	if err != nil {
		return nil, err
	}
	i.stale.Store(true)
	return i.fs.newInode(h, st), nil
}

// Symlink implements vfs.Inode.Symlink.
func (i *inode) Symlink(ctx vfs.Context, name, target string, opts vfs.CreateOptions) (vfs.Inode, error) {
	if i.fs.readOnly {
		return nil, unix.EROFS
	}
	h, st, err := i.fs.client.Symlink(i.h, name, target, opts.UID, opts.GID)
	if err != nil {
		return nil, err
	}
	i.stale.Store(true)
	c := i.fs.newInode(h, st)
	c.target, c.hasLink = target, true
	return c, nil
}

// Link implements vfs.Inode.Link.
func (i *inode) Link(ctx vfs.Context, name string, target vfs.Inode) error {
	if i.fs.readOnly {
		return unix.EROFS
	}
	t, ok := target.(*inode)
	if !ok || t.fs != i.fs {
		return unix.EXDEV
	}
	st, err := i.fs.client.Link(i.h, name, t.h)
	if err != nil {
		return err
	}
	i.stale.Store(true)
	t.mu.Lock()
	t.stat = st
	t.mu.Unlock()
	return nil
}

// Unlink implements vfs.Inode.Unlink.
func (i *inode) Unlink(ctx vfs.Context, name string, child vfs.Inode) error {
	if i.fs.readOnly {
		return unix.EROFS
	}
	if err := i.fs.client.Unlink(i.h, name, 0); err != nil {
		return err
	}
	i.stale.Store(true)
	if c, ok := child.(*inode); ok {
		c.stale.Store(true)
	}
	return nil
}

// Rmdir implements vfs.Inode.Rmdir.
func (i *inode) Rmdir(ctx vfs.Context, name string, child vfs.Inode) error {
	if i.fs.readOnly {
		return unix.EROFS
	}
	if err := i.fs.client.Unlink(i.h, name, unix.AT_REMOVEDIR); err != nil {
		return err
	}
	i.stale.Store(true)
	return nil
}

// Rename implements vfs.Inode.Rename.
func (i *inode) Rename(ctx vfs.Context, oldName string, child vfs.Inode, newDir vfs.Inode, newName string, replaced vfs.Inode, flags uint32) error {
	if i.fs.readOnly {
		return unix.EROFS
	}
	nd, ok := newDir.(*inode)
	if !ok || nd.fs != i.fs {
		return unix.EXDEV
	}
	if err := i.fs.client.Rename(i.h, oldName, nd.h, newName, flags); err != nil {
		return err
	}
	i.stale.Store(true)
	nd.stale.Store(true)
	if c, ok := child.(*inode); ok {
		c.stale.Store(true)
	}
	if r, ok := replaced.(*inode); ok && r != nil {
		r.stale.Store(true)
	}
	return nil
}

// regularFile is an open regular file: I/O goes straight to the host fd.
type regularFile struct {
	vfs.NoFileOps
	inode *inode
	fd    int
	own   bool // the fd is this file's (writable opens); else the inode's shared one
	rw    bool // opened for reading and writing
}

// Release implements vfs.FileImpl.Release.
func (f *regularFile) Release() {
	if f.own {
		unix.Close(f.fd)
	} else {
		f.inode.putROFD()
	}
	f.inode.removeOpen()
}

// Read implements vfs.FileImpl.Read.
func (f *regularFile) Read(ctx vfs.Context, dst [][]byte, off int64) (int64, error) {
	n, err := host.Readv(f.fd, dst, off)
	if i := f.inode; i.cached.Load() && n > 0 {
		// Mappings may have stored into the cached pages (mmap.go).
		i.cmu.Lock()
		if i.cache != nil {
			i.cache.Overlay(dst, off, n)
		}
		i.cmu.Unlock()
	}
	return n, err
}

// Write implements vfs.FileImpl.Write.
func (f *regularFile) Write(ctx vfs.Context, src [][]byte, off int64, appendMode bool) (int64, int64, error) {
	if appendMode {
		var st unix.Stat_t
		if err := unix.Fstat(f.fd, &st); err != nil {
			return 0, off, unix.EIO
		}
		off = st.Size
	}
	if i := f.inode; i.cached.Load() {
		// The cached pages follow the host file (mmap.go).
		i.cmu.Lock()
		defer i.cmu.Unlock()
		n, err := host.Writev(f.fd, src, off)
		if i.cache != nil && n > 0 {
			i.cache.Update(src, off, n)
		}
		if n > 0 {
			i.stale.Store(true)
		}
		return n, off + n, err
	}
	n, err := host.Writev(f.fd, src, off)
	if n > 0 {
		f.inode.stale.Store(true)
	}
	return n, off + n, err
}

// Seek implements vfs.FileImpl.Seek.
func (f *regularFile) Seek(ctx vfs.Context, cur, offset int64, whence int) (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		return 0, unix.EIO
	}
	return vfs.GenericSeek(cur, offset, whence, st.Size)
}

// dirFile is an open directory: entries come from the gofer's Getdents.
type dirFile struct {
	vfs.DirFileOps
	inode *inode

	// The last batch fetched and the cookie it was fetched after (guarded by the file
	// description's offset lock, which Getdents runs under).
	batch  []proto.Dirent
	cookie uint64
	valid  bool
}

// Release implements vfs.FileImpl.Release.
func (f *dirFile) Release() { f.inode.removeOpen() }

// Getdents implements vfs.FileImpl.Getdents. The offset is the gofer's cookie of the
// last entry produced.
func (f *dirFile) Getdents(ctx vfs.Context, off int64, emit func(vfs.Dirent) bool) (int64, error) {
	for {
		if !f.valid || f.cookie != uint64(off) || off == 0 {
			b, err := f.inode.fs.client.Getdents(f.inode.h, uint64(off))
			if err != nil {
				return off, err
			}
			f.batch, f.cookie, f.valid = b, uint64(off), true
		}
		if len(f.batch) == 0 {
			return off, nil
		}
		for len(f.batch) > 0 {
			d := f.batch[0]
			if !emit(vfs.Dirent{Name: d.Name, Ino: d.Ino, Type: d.Type, NextOff: int64(d.Off)}) {
				return off, nil
			}
			off = int64(d.Off)
			f.batch = f.batch[1:]
			f.cookie = d.Off
		}
		f.valid = false
	}
}

// Allocate implements vfs.Allocator on the host file.
func (f *regularFile) Allocate(ctx vfs.Context, mode uint32, off, length int64) error {
	err := unix.Fallocate(f.fd, mode, off, length)
	f.inode.stale.Store(true)
	if err == nil && mode&(unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_ZERO_RANGE) != 0 {
		f.inode.zeroCache(off, off+length)
	}
	if err != nil {
		if e, ok := err.(unix.Errno); ok {
			return e
		}
		return unix.EIO
	}
	return nil
}
