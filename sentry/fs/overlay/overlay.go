// Package overlay owns the sentry's overlay filesystem: a writable upper layer (a tmpfs,
// in memory) over a read-only lower layer (the gofer's root), as Linux's overlayfs
// presents them. It is how `runsc do` and containers with --overlay=memory get a
// writable root whose changes never reach the host.
//
// Semantics follow Linux overlayfs with its default options (no redirect_dir, no index,
// no metacopy):
//   - A file is read from the lower layer until it is changed; the first change (open for
//     writing, truncate, chmod, chown, utimes, setxattr, link) copies it up: its parent
//     directories first, then the file with its data, mode, owner, times and extended
//     attributes. Descriptors opened read-only before the copy-up keep reading the lower
//     file, as on Linux.
//   - Removing a name that exists in the lower layer leaves a whiteout in the upper
//     directory (a 0:0 character device, as on disk in Linux); a directory made where a
//     whiteout was is marked opaque (trusted.overlay.opaque=y) so that the lower
//     directory's entries stay hidden.
//   - Renaming a directory that has lower-layer contents fails with EXDEV (applications
//     such as mv(1) then copy); files are copied up and renamed in the upper layer.
//   - Stat reports the overlay's own device for every file and keeps a file's inode
//     number across copy-up (the lower number; upper-only files get theirs with bit 47
//     set). A directory present in both layers has a link count of 1, as on Linux.
//   - Directory listings are merged snapshots, taken at the first getdents and again
//     after a rewind, so offsets are stable while the directory changes.
//
// The overlay keeps no state of its own that the upper layer does not also hold
// (whiteouts, opaque marks and copy-up origins are stored there as Linux stores them), so
// an inode looked up again sees the same files.
//
// Lock order: VFS locks, then Filesystem.mu (serializes every change to the upper
// layer's structure, including copy-up), then inode.mu (guards an inode's layers and
// name), then the layers' own locks.
package overlay

import (
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

// Magic is OVERLAYFS_SUPER_MAGIC.
const Magic = 0x794c7630

// Extended attributes the overlay keeps in the upper layer (Linux's names).
const (
	opaqueXattr = "trusted.overlay.opaque"
	originXattr = "trusted.overlay.origin" // the lower inode number of a copied-up file
	xattrPrefix = "trusted.overlay."
)

// upperInoBit marks the inode numbers of files that exist only in the upper layer.
const upperInoBit = 1 << 47

// copyChunk is the size of the reads that copy a file's data up.
const copyChunk = 1 << 20

// Filesystem is an overlay of an upper filesystem over a lower one.
type Filesystem struct {
	upper vfs.Filesystem
	lower vfs.Filesystem
	dev   uint32
	root  *inode

	// mu serializes changes to the upper layer's structure.
	mu sync.Mutex
}

// New returns the overlay of upper over lower. The upper root takes the lower root's
// mode, owner and times.
func New(ctx vfs.Context, upper, lower vfs.Filesystem) (*Filesystem, error) {
	fs := &Filesystem{upper: upper, lower: lower, dev: vfs.NewAnonDev()}
	lr, ur := lower.Root(), upper.Root()
	st, err := lr.Stat(ctx)
	if err != nil {
		return nil, err
	}
	if err := ur.SetStat(ctx, vfs.SetStatOptions{
		Mask: vfs.SetStatMode | vfs.SetStatUID | vfs.SetStatGID | vfs.SetStatAtime | vfs.SetStatMtime,
		Mode: st.Mode & 07777, UID: st.UID, GID: st.GID, Atime: st.Atime, Mtime: st.Mtime,
	}); err != nil {
		return nil, err
	}
	fs.root = &inode{fs: fs, typ: unix.S_IFDIR, ino: st.Ino, upper: ur, lower: lr}
	return fs, nil
}

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem) Root() vfs.Inode { return fs.root }

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return "overlay" }

// CacheDentries implements vfs.Filesystem.CacheDentries.
func (fs *Filesystem) CacheDentries() bool { return true }

// Statfs implements vfs.Filesystem.Statfs: the upper layer's space, as Linux reports.
func (fs *Filesystem) Statfs(ctx vfs.Context) (vfs.Statfs, error) {
	st, err := fs.upper.Statfs(ctx)
	if err != nil {
		return st, err
	}
	st.Type = Magic
	return st, nil
}

// inode is a file of the overlay: its upper file, its lower file, or both (a directory
// present in both layers is merged; a copied-up file keeps its lower file only as its
// origin).
type inode struct {
	vfs.NoInodeOps
	fs  *Filesystem
	typ uint32
	ino uint64

	mu      sync.Mutex
	upper   vfs.Inode // nil until copied up (or created in the upper layer)
	lower   vfs.Inode // nil for files that exist only in the upper layer
	parent  *inode    // where to copy up into; nil for the root and unnamed files
	name    string
	opaque  bool // a directory that hides its lower directory
	removed bool // unlinked, renamed over or rmdir'ed
}

func (i *inode) layers() (upper, lower vfs.Inode) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.upper, i.lower
}

func (i *inode) isOpaque() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.opaque
}

// merged reports whether i is a directory whose lower directory shows through.
func (i *inode) mergedLower() vfs.Inode {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.opaque {
		return nil
	}
	return i.lower
}

// drop tells a layer's inode that the overlay no longer uses it.
func drop(in vfs.Inode) {
	if d, ok := in.(vfs.DroppedInode); ok {
		d.Dropped()
	}
}

// Dropped implements vfs.DroppedInode.
func (i *inode) Dropped() {
	u, l := i.layers()
	if u != nil {
		drop(u)
	}
	if l != nil {
		drop(l)
	}
}

// isWhiteout reports whether an upper inode is a whiteout (a 0:0 character device).
func isWhiteout(ctx vfs.Context, in vfs.Inode) bool {
	st, err := in.Stat(ctx)
	return err == nil && st.Type() == unix.S_IFCHR && st.RdevMajor == 0 && st.RdevMinor == 0
}

func xattrOf(ctx vfs.Context, in vfs.Inode, name string) string {
	if x, ok := in.(vfs.XattrInode); ok {
		v, err := x.Getxattr(ctx, name)
		if err == nil {
			return v
		}
	}
	return ""
}

// upperIno returns the inode number of an upper-only file: its origin's if it was
// copied up, else its own with upperInoBit.
func upperIno(ctx vfs.Context, in vfs.Inode, st *vfs.Stat) uint64 {
	if o := xattrOf(ctx, in, originXattr); o != "" {
		if n, err := strconv.ParseUint(o, 10, 64); err == nil {
			return n
		}
	}
	return st.Ino | upperInoBit
}

// Stat implements vfs.Inode.Stat.
func (i *inode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	i.mu.Lock()
	u, l, opaque := i.upper, i.lower, i.opaque
	i.mu.Unlock()
	var st vfs.Stat
	var err error
	if u != nil {
		st, err = u.Stat(ctx)
	} else {
		st, err = l.Stat(ctx)
	}
	if err != nil {
		return st, err
	}
	st.DevMajor, st.DevMinor = 0, i.fs.dev
	st.Ino = i.ino
	if i.typ == unix.S_IFDIR && u != nil && l != nil && !opaque {
		st.Nlink = 1
	}
	return st, nil
}

// SetStat implements vfs.Inode.SetStat: the file is copied up first (without its data
// when it is being truncated to zero).
func (i *inode) SetStat(ctx vfs.Context, opts vfs.SetStatOptions) error {
	i.fs.mu.Lock()
	skipData := opts.Mask&vfs.SetStatSize != 0 && opts.Size == 0
	err := i.copyUpLocked(ctx, skipData)
	i.fs.mu.Unlock()
	if err != nil {
		return err
	}
	u, _ := i.layers()
	return u.SetStat(ctx, opts)
}

// Readlink implements vfs.Inode.Readlink.
func (i *inode) Readlink(ctx vfs.Context) (string, error) {
	u, l := i.layers()
	if u != nil {
		return u.Readlink(ctx)
	}
	return l.Readlink(ctx)
}

// Open implements vfs.Inode.Open: a regular file opened for writing (or truncation) is
// copied up first; directories get a merged listing.
func (i *inode) Open(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileImpl, error) {
	switch i.typ {
	case unix.S_IFDIR:
		return &dirFile{inode: i}, nil
	case unix.S_IFREG:
		if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
			i.fs.mu.Lock()
			err := i.copyUpLocked(ctx, flags&unix.O_TRUNC != 0)
			i.fs.mu.Unlock()
			if err != nil {
				return nil, err
			}
		}
	}
	u, l := i.layers()
	if u != nil {
		return u.Open(ctx, vd, flags)
	}
	return l.Open(ctx, vd, flags)
}

// Lookup implements vfs.Inode.Lookup. Where only the lower layer has the directory, the
// names are looked up there in one batch.
func (i *inode) Lookup(ctx vfs.Context, names []string) ([]vfs.Inode, error) {
	if i.typ != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	i.mu.Lock()
	u, l, opaque := i.upper, i.lower, i.opaque
	i.mu.Unlock()
	name := names[0]
	if u != nil {
		c, err := i.lookupUpper(ctx, u, name)
		if err == nil {
			return []vfs.Inode{c}, nil
		}
		if err != unix.ENOENT || opaque || l == nil || c != nil {
			return nil, err
		}
		// Only the first name can be batched: the upper layer may have the next ones.
		names = names[:1]
	}
	if l == nil {
		return nil, unix.ENOENT
	}
	ls, err := l.Lookup(ctx, names)
	out := make([]vfs.Inode, 0, len(ls))
	parent := i
	for k, in := range ls {
		st, serr := in.Stat(ctx)
		if serr != nil {
			for _, x := range ls[k:] {
				drop(x)
			}
			if len(out) == 0 {
				return nil, serr
			}
			return out, nil
		}
		c := &inode{fs: i.fs, typ: st.Type(), ino: st.Ino, lower: in, parent: parent, name: names[k]}
		out = append(out, c)
		parent = c
	}
	return out, err
}

// whiteoutErr is returned (with a non-nil inode) by lookupUpper for a whited-out name.
var whiteoutErr = unix.ENOENT

// lookupUpper looks name up in the upper directory u of i. A whiteout is ENOENT with a
// non-nil (dummy) first result so that the caller does not look further.
func (i *inode) lookupUpper(ctx vfs.Context, u vfs.Inode, name string) (*inode, error) {
	us, err := u.Lookup(ctx, []string{name})
	if err != nil {
		return nil, err
	}
	in := us[0]
	st, err := in.Stat(ctx)
	if err != nil {
		return nil, err
	}
	if st.Type() == unix.S_IFCHR && st.RdevMajor == 0 && st.RdevMinor == 0 {
		return &inode{}, whiteoutErr
	}
	c := &inode{fs: i.fs, typ: st.Type(), upper: in, parent: i, name: name}
	c.ino = upperIno(ctx, in, &st)
	if c.typ != unix.S_IFDIR {
		return c, nil
	}
	if xattrOf(ctx, in, opaqueXattr) == "y" {
		c.opaque = true
		return c, nil
	}
	if l := i.mergedLower(); l != nil {
		ls, err := l.Lookup(ctx, []string{name})
		if err == nil {
			if lst, err := ls[0].Stat(ctx); err == nil && lst.Type() == unix.S_IFDIR {
				c.lower = ls[0]
				c.ino = lst.Ino
			} else {
				drop(ls[0])
			}
		} else if err != unix.ENOENT {
			return nil, err
		}
	}
	return c, nil
}

// lowerHas reports whether the lower directory behind i (if it shows through) has name:
// removing name then needs a whiteout.
func (i *inode) lowerHas(ctx vfs.Context, name string) (bool, error) {
	l := i.mergedLower()
	if l == nil {
		return false, nil
	}
	ls, err := l.Lookup(ctx, []string{name})
	if err == unix.ENOENT {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	drop(ls[0])
	return true, nil
}

// copyUpLocked gives i an upper file (fs.mu held): its parent's first, then a copy of
// the lower file with its metadata and, unless skipData, its contents.
func (i *inode) copyUpLocked(ctx vfs.Context, skipData bool) error {
	i.mu.Lock()
	u, l, parent, name, removed := i.upper, i.lower, i.parent, i.name, i.removed
	i.mu.Unlock()
	if u != nil {
		return nil
	}
	st, err := l.Stat(ctx)
	if err != nil {
		return err
	}
	opts := vfs.CreateOptions{Mode: st.Mode, UID: st.UID, GID: st.GID, Rdev: st.Rdev()}
	var up vfs.Inode
	if removed || parent == nil {
		// An unlinked file still open: only a regular file can live on unnamed.
		if i.typ != unix.S_IFREG {
			return unix.ESTALE
		}
		tc, ok := i.fs.upper.Root().(vfs.TmpfileCreator)
		if !ok {
			return unix.ESTALE
		}
		up, _, err = tc.CreateTmpfile(ctx, opts)
		if err != nil {
			return err
		}
	} else {
		if err := parent.copyUpLocked(ctx, false); err != nil {
			return err
		}
		pu, _ := parent.layers()
		switch i.typ {
		case unix.S_IFDIR:
			up, err = pu.Mkdir(ctx, name, opts)
		case unix.S_IFREG:
			var impl vfs.FileImpl
			up, impl, err = pu.Create(ctx, name, unix.O_RDWR, opts)
			if impl != nil {
				impl.Release()
			}
		case unix.S_IFLNK:
			var target string
			if target, err = l.Readlink(ctx); err == nil {
				up, err = pu.Symlink(ctx, name, target, opts)
			}
		default:
			up, err = pu.Mknod(ctx, name, opts)
		}
		if err != nil {
			return err
		}
	}
	if i.typ == unix.S_IFREG && !skipData && st.Size > 0 {
		if err := copyData(ctx, l, up, int64(st.Size)); err != nil {
			if !removed && parent != nil {
				pu, _ := parent.layers()
				pu.Unlink(ctx, name, up)
			}
			return err
		}
	}
	copyXattrs(ctx, l, up)
	if x, ok := up.(vfs.XattrInode); ok {
		x.Setxattr(ctx, originXattr, strconv.FormatUint(st.Ino, 10), 0)
	}
	// Times last: creating entries in a directory and writing data change them.
	mask := uint32(vfs.SetStatAtime | vfs.SetStatMtime)
	if i.typ != unix.S_IFLNK {
		mask |= vfs.SetStatMode
	}
	up.SetStat(ctx, vfs.SetStatOptions{Mask: mask, Mode: st.Mode & 07777, Atime: st.Atime, Mtime: st.Mtime})
	i.mu.Lock()
	i.upper = up
	i.mu.Unlock()
	return nil
}

// copyData copies size bytes of the regular file from to the regular file to, leaving
// holes where the source reads as zeros.
func copyData(ctx vfs.Context, from, to vfs.Inode, size int64) error {
	src, err := from.Open(ctx, vfs.VirtualDentry{}, unix.O_RDONLY)
	if err != nil {
		return err
	}
	defer src.Release()
	dst, err := to.Open(ctx, vfs.VirtualDentry{}, unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer dst.Release()
	n := int64(copyChunk)
	if size < n {
		n = (size + 4095) &^ 4095
	}
	buf := make([]byte, n)
	var off int64
	for off < size {
		k, err := src.Read(ctx, [][]byte{buf}, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if k == 0 {
			break
		}
		for p := int64(0); p < k; p += 4096 {
			e := p + 4096
			if e > k {
				e = k
			}
			if allZero(buf[p:e]) {
				continue
			}
			if _, _, err := dst.Write(ctx, [][]byte{buf[p:e]}, off+p, false); err != nil {
				return err
			}
		}
		off += k
	}
	return to.SetStat(ctx, vfs.SetStatOptions{Mask: vfs.SetStatSize, Size: off})
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// copyXattrs copies the extended attributes of from to to, except the overlay's own.
func copyXattrs(ctx vfs.Context, from, to vfs.Inode) {
	fx, ok1 := from.(vfs.XattrInode)
	tx, ok2 := to.(vfs.XattrInode)
	if !ok1 || !ok2 {
		return
	}
	names, err := fx.Listxattr(ctx)
	if err != nil {
		return
	}
	for _, n := range names {
		if strings.HasPrefix(n, xattrPrefix) {
			continue
		}
		if v, err := fx.Getxattr(ctx, n); err == nil {
			tx.Setxattr(ctx, n, v, 0)
		}
	}
}

// removeWhiteoutLocked removes a whiteout named name from i's upper directory u and
// reports whether there was one (fs.mu held).
func removeWhiteoutLocked(ctx vfs.Context, u vfs.Inode, name string) (bool, error) {
	us, err := u.Lookup(ctx, []string{name})
	if err == unix.ENOENT {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !isWhiteout(ctx, us[0]) {
		return false, unix.EEXIST
	}
	if err := u.Unlink(ctx, name, us[0]); err != nil {
		return false, err
	}
	return true, nil
}

// makeWhiteout leaves a whiteout named name in the upper directory u.
func makeWhiteout(ctx vfs.Context, u vfs.Inode, name string) error {
	_, err := u.Mknod(ctx, name, vfs.CreateOptions{Mode: unix.S_IFCHR})
	return err
}

// prepareCreateLocked copies i up and clears a whiteout at name, for a new entry. It
// returns the upper directory and whether a whiteout was there.
func (i *inode) prepareCreateLocked(ctx vfs.Context, name string) (vfs.Inode, bool, error) {
	if err := i.copyUpLocked(ctx, false); err != nil {
		return nil, false, err
	}
	u, _ := i.layers()
	wh, err := removeWhiteoutLocked(ctx, u, name)
	return u, wh, err
}

func (i *inode) newUpperChild(ctx vfs.Context, in vfs.Inode, name string) *inode {
	st, _ := in.Stat(ctx)
	return &inode{fs: i.fs, typ: st.Type(), ino: st.Ino | upperInoBit, upper: in, parent: i, name: name}
}

// Create implements vfs.Inode.Create.
func (i *inode) Create(ctx vfs.Context, name string, flags uint32, opts vfs.CreateOptions) (vfs.Inode, vfs.FileImpl, error) {
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	u, _, err := i.prepareCreateLocked(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	in, impl, err := u.Create(ctx, name, flags, opts)
	if err != nil {
		return nil, nil, err
	}
	return i.newUpperChild(ctx, in, name), impl, nil
}

// Mkdir implements vfs.Inode.Mkdir. A directory made over a whiteout is opaque.
func (i *inode) Mkdir(ctx vfs.Context, name string, opts vfs.CreateOptions) (vfs.Inode, error) {
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	u, wh, err := i.prepareCreateLocked(ctx, name)
	if err != nil {
		return nil, err
	}
	in, err := u.Mkdir(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	c := i.newUpperChild(ctx, in, name)
	if wh {
		if x, ok := in.(vfs.XattrInode); ok {
			x.Setxattr(ctx, opaqueXattr, "y", 0)
		}
		c.opaque = true
	}
	return c, nil
}

// Mknod implements vfs.Inode.Mknod.
func (i *inode) Mknod(ctx vfs.Context, name string, opts vfs.CreateOptions) (vfs.Inode, error) {
	if opts.Mode&unix.S_IFMT == unix.S_IFCHR && opts.Rdev == 0 {
		// A 0:0 device would read as a whiteout (Linux refuses it on overlayfs too).
		return nil, unix.EPERM
	}
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	u, _, err := i.prepareCreateLocked(ctx, name)
	if err != nil {
		return nil, err
	}
	in, err := u.Mknod(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	return i.newUpperChild(ctx, in, name), nil
}

// Symlink implements vfs.Inode.Symlink.
func (i *inode) Symlink(ctx vfs.Context, name, target string, opts vfs.CreateOptions) (vfs.Inode, error) {
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	u, _, err := i.prepareCreateLocked(ctx, name)
	if err != nil {
		return nil, err
	}
	in, err := u.Symlink(ctx, name, target, opts)
	if err != nil {
		return nil, err
	}
	return i.newUpperChild(ctx, in, name), nil
}

// Link implements vfs.Inode.Link: the target is copied up and linked in the upper layer.
func (i *inode) Link(ctx vfs.Context, name string, target vfs.Inode) error {
	t, ok := target.(*inode)
	if !ok || t.fs != i.fs {
		return unix.EXDEV
	}
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	if err := t.copyUpLocked(ctx, false); err != nil {
		return err
	}
	u, _, err := i.prepareCreateLocked(ctx, name)
	if err != nil {
		return err
	}
	tu, _ := t.layers()
	return u.Link(ctx, name, tu)
}

// Unlink implements vfs.Inode.Unlink.
func (i *inode) Unlink(ctx vfs.Context, name string, child vfs.Inode) error {
	c, ok := child.(*inode)
	if !ok {
		return unix.ENOENT
	}
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	return i.removeLocked(ctx, name, c, false)
}

// Rmdir implements vfs.Inode.Rmdir.
func (i *inode) Rmdir(ctx vfs.Context, name string, child vfs.Inode) error {
	c, ok := child.(*inode)
	if !ok {
		return unix.ENOENT
	}
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	return i.removeLocked(ctx, name, c, true)
}

// removeLocked removes entry name (c) of i, leaving a whiteout if the lower layer has
// the name (fs.mu held).
func (i *inode) removeLocked(ctx vfs.Context, name string, c *inode, dir bool) error {
	if dir {
		if err := c.emptyForRemovalLocked(ctx); err != nil {
			return err
		}
	}
	wh, err := i.lowerHas(ctx, name)
	if err != nil {
		return err
	}
	if err := i.copyUpLocked(ctx, false); err != nil {
		return err
	}
	u, _ := i.layers()
	cu, _ := c.layers()
	if cu != nil {
		if dir {
			err = u.Rmdir(ctx, name, cu)
		} else {
			err = u.Unlink(ctx, name, cu)
		}
		if err != nil {
			return err
		}
	}
	if wh {
		if err := makeWhiteout(ctx, u, name); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.removed = true
	c.mu.Unlock()
	return nil
}

// emptyForRemovalLocked checks that directory c is empty as the overlay shows it
// (ENOTEMPTY otherwise) and clears the whiteouts of its upper directory so that the
// upper layer can remove it.
func (c *inode) emptyForRemovalLocked(ctx vfs.Context) error {
	ents, err := c.readDirLocked(ctx)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return unix.ENOTEMPTY
	}
	u, _ := c.layers()
	if u == nil {
		return nil
	}
	ups, err := listDir(ctx, u)
	if err != nil {
		return err
	}
	for _, e := range ups {
		us, err := u.Lookup(ctx, []string{e.Name})
		if err != nil {
			continue
		}
		if !isWhiteout(ctx, us[0]) {
			return unix.ENOTEMPTY
		}
		if err := u.Unlink(ctx, e.Name, us[0]); err != nil {
			return err
		}
	}
	return nil
}

// Rename implements vfs.Inode.Rename.
func (i *inode) Rename(ctx vfs.Context, oldName string, child vfs.Inode, newDir vfs.Inode, newName string, replaced vfs.Inode, flags uint32) error {
	c, ok := child.(*inode)
	nd, ok2 := newDir.(*inode)
	if !ok || !ok2 || nd.fs != i.fs {
		return unix.EXDEV
	}
	var r *inode
	if replaced != nil {
		if r, ok = replaced.(*inode); !ok {
			return unix.EXDEV
		}
	}
	exchange := flags&vfs.RenameExchange != 0
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	// Without redirect_dir, Linux refuses to move a directory with lower contents.
	if hasLowerDir(c) || (exchange && hasLowerDir(r)) {
		return unix.EXDEV
	}
	if r != nil && !exchange && r.typ == unix.S_IFDIR {
		if err := r.emptyForRemovalLocked(ctx); err != nil {
			return err
		}
	}
	whOld := false
	if !exchange {
		var err error
		if whOld, err = i.lowerHas(ctx, oldName); err != nil {
			return err
		}
	}
	// A directory landing where the lower layer has the name must hide it.
	opaqueNew, opaqueOld := false, false
	if c.typ == unix.S_IFDIR {
		has, err := nd.lowerHas(ctx, newName)
		if err != nil {
			return err
		}
		opaqueNew = has && !c.isOpaque()
	}
	if exchange && r.typ == unix.S_IFDIR {
		has, err := i.lowerHas(ctx, oldName)
		if err != nil {
			return err
		}
		opaqueOld = has && !r.isOpaque()
	}
	for _, x := range []*inode{i, nd, c, r} {
		if x == nil || (x == r && !exchange) {
			continue
		}
		if err := x.copyUpLocked(ctx, false); err != nil {
			return err
		}
	}
	ou, _ := i.layers()
	nu, _ := nd.layers()
	cu, _ := c.layers()
	var ru vfs.Inode
	if r != nil {
		ru, _ = r.layers()
	}
	if ru == nil {
		// The new name may be a whiteout, which the rename replaces.
		if us, err := nu.Lookup(ctx, []string{newName}); err == nil {
			if !isWhiteout(ctx, us[0]) {
				return unix.EEXIST
			}
			if flags&vfs.RenameNoReplace != 0 {
				if err := nu.Unlink(ctx, newName, us[0]); err != nil {
					return err
				}
			} else {
				ru = us[0]
			}
		}
	}
	if err := ou.Rename(ctx, oldName, cu, nu, newName, ru, flags); err != nil {
		return err
	}
	if whOld {
		if err := makeWhiteout(ctx, ou, oldName); err != nil {
			return err
		}
	}
	setOpaque := func(x *inode) {
		xu, _ := x.layers()
		if xa, ok := xu.(vfs.XattrInode); ok {
			xa.Setxattr(ctx, opaqueXattr, "y", 0)
		}
		x.mu.Lock()
		x.opaque = true
		x.mu.Unlock()
	}
	if opaqueNew {
		setOpaque(c)
	}
	if opaqueOld {
		setOpaque(r)
	}
	c.mu.Lock()
	c.parent, c.name = nd, newName
	c.mu.Unlock()
	if r != nil {
		r.mu.Lock()
		if exchange {
			r.parent, r.name = i, oldName
		} else {
			r.removed = true
		}
		r.mu.Unlock()
	}
	return nil
}

// hasLowerDir reports whether x is a directory with a lower layer showing through.
func hasLowerDir(x *inode) bool {
	if x == nil || x.typ != unix.S_IFDIR {
		return false
	}
	return x.mergedLower() != nil
}

// CreateTmpfile implements vfs.TmpfileCreator in the upper layer.
func (i *inode) CreateTmpfile(ctx vfs.Context, opts vfs.CreateOptions) (vfs.Inode, vfs.FileImpl, error) {
	if i.typ != unix.S_IFDIR {
		return nil, nil, unix.ENOTDIR
	}
	i.fs.mu.Lock()
	err := i.copyUpLocked(ctx, false)
	i.fs.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	u, _ := i.layers()
	tc, ok := u.(vfs.TmpfileCreator)
	if !ok {
		return nil, nil, unix.EOPNOTSUPP
	}
	in, impl, err := tc.CreateTmpfile(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	c := i.newUpperChild(ctx, in, "")
	c.parent, c.removed = nil, true
	return c, impl, nil
}

// Getxattr implements vfs.XattrInode.Getxattr; the overlay's own attributes are hidden.
func (i *inode) Getxattr(ctx vfs.Context, name string) (string, error) {
	if strings.HasPrefix(name, xattrPrefix) {
		return "", unix.ENODATA
	}
	u, l := i.layers()
	if u == nil {
		u = l
	}
	x, ok := u.(vfs.XattrInode)
	if !ok {
		return "", unix.EOPNOTSUPP
	}
	return x.Getxattr(ctx, name)
}

// Listxattr implements vfs.XattrInode.Listxattr.
func (i *inode) Listxattr(ctx vfs.Context) ([]string, error) {
	u, l := i.layers()
	if u == nil {
		u = l
	}
	x, ok := u.(vfs.XattrInode)
	if !ok {
		return nil, nil
	}
	names, err := x.Listxattr(ctx)
	if err != nil {
		return nil, err
	}
	out := names[:0:0]
	for _, n := range names {
		if !strings.HasPrefix(n, xattrPrefix) {
			out = append(out, n)
		}
	}
	return out, nil
}

// Setxattr implements vfs.XattrInode.Setxattr (after copy-up).
func (i *inode) Setxattr(ctx vfs.Context, name, value string, flags uint32) error {
	if strings.HasPrefix(name, xattrPrefix) {
		return unix.EPERM
	}
	return i.changeXattr(ctx, func(x vfs.XattrInode) error { return x.Setxattr(ctx, name, value, flags) })
}

// Removexattr implements vfs.XattrInode.Removexattr (after copy-up).
func (i *inode) Removexattr(ctx vfs.Context, name string) error {
	if strings.HasPrefix(name, xattrPrefix) {
		return unix.ENODATA
	}
	return i.changeXattr(ctx, func(x vfs.XattrInode) error { return x.Removexattr(ctx, name) })
}

func (i *inode) changeXattr(ctx vfs.Context, f func(vfs.XattrInode) error) error {
	i.fs.mu.Lock()
	err := i.copyUpLocked(ctx, false)
	i.fs.mu.Unlock()
	if err != nil {
		return err
	}
	u, _ := i.layers()
	x, ok := u.(vfs.XattrInode)
	if !ok {
		return unix.EOPNOTSUPP
	}
	return f(x)
}
