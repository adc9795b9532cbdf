package vfs

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// MaxNameLen is the longest path component (NAME_MAX); MaxPathLen is PATH_MAX, the size
// of the longest path including its terminating NUL.
const (
	MaxNameLen  = 255
	MaxPathLen  = 4096
	MaxSymlinks = 40
)

// Dentry is a name in the VFS's tree: a directory entry of one filesystem, positive (with
// an Inode) or negative (a cached "no such entry").
type Dentry struct {
	inode Inode  // nil for a negative dentry; never changes
	typ   uint32 // S_IFMT of inode
	cache bool   // the filesystem lets the VFS cache children

	// link is the dentry's parent and name, replaced whole by rename (nil for a
	// filesystem root).
	link atomic.Pointer[dentryLink]
	// mounted counts the mounts whose mount point this dentry is.
	mounted atomic.Int32
	// dead is set when the dentry has been removed from its parent (unlinked, renamed
	// over, or a directory removed).
	dead atomic.Bool

	// mu protects children and serializes lookups and entry changes in this directory.
	mu       sync.Mutex
	children map[string]*Dentry
}

type dentryLink struct {
	parent *Dentry
	name   string
}

// NewDentry returns a dentry for inode with no parent: a filesystem's root, or the
// dentry of a file that has no path (host files, pipes).
func NewDentry(ctx Context, inode Inode, cache bool) *Dentry {
	d := &Dentry{inode: inode, cache: cache}
	if inode != nil {
		d.typ = inodeType(ctx, inode)
	}
	return d
}

func inodeType(ctx Context, inode Inode) uint32 {
	st, err := inode.Stat(ctx)
	if err != nil {
		return 0
	}
	return st.Mode & unix.S_IFMT
}

func newChild(ctx Context, parent *Dentry, name string, inode Inode) *Dentry {
	d := &Dentry{inode: inode, cache: parent.cache}
	if inode != nil {
		d.typ = inodeType(ctx, inode)
	}
	d.link.Store(&dentryLink{parent: parent, name: name})
	return d
}

// Inode returns the dentry's inode (nil for a negative dentry).
func (d *Dentry) Inode() Inode { return d.inode }

// IsDir reports whether the dentry is a directory.
func (d *Dentry) IsDir() bool { return d.typ == unix.S_IFDIR }

// IsSymlink reports whether the dentry is a symbolic link.
func (d *Dentry) IsSymlink() bool { return d.typ == unix.S_IFLNK }

// Type returns the S_IFMT bits of the dentry's file.
func (d *Dentry) Type() uint32 { return d.typ }

// Parent returns the dentry's parent, or nil for a root.
func (d *Dentry) Parent() *Dentry {
	if l := d.link.Load(); l != nil {
		return l.parent
	}
	return nil
}

// Name returns the dentry's name in its parent ("" for a root).
func (d *Dentry) Name() string {
	if l := d.link.Load(); l != nil {
		return l.name
	}
	return ""
}

// IsDead reports whether the dentry was removed from the tree.
func (d *Dentry) IsDead() bool { return d.dead.Load() }

// lookupLocked returns the child named names[0], from the cache or from the filesystem
// (which may look up the following names too; those are cached as a chain). d.mu is held.
// A missing entry is unix.ENOENT.
func (d *Dentry) lookupLocked(ctx Context, names []string) (*Dentry, error) {
	name := names[0]
	if len(name) > MaxNameLen {
		return nil, unix.ENAMETOOLONG
	}
	if d.dead.Load() {
		return nil, unix.ENOENT
	}
	if c, ok := d.children[name]; ok {
		if c.inode == nil {
			return nil, unix.ENOENT
		}
		return c, nil
	}
	if !d.cache {
		names = names[:1]
	}
	inodes, err := d.inode.Lookup(ctx, names)
	if len(inodes) == 0 {
		if err == nil {
			err = unix.ENOENT
		}
		if err == unix.ENOENT && d.cache {
			d.putChild(name, newChild(ctx, d, name, nil))
		}
		return nil, err
	}
	first := newChild(ctx, d, name, inodes[0])
	prev := first
	for i := 1; i < len(inodes) && i < len(names); i++ {
		if !prev.IsDir() {
			break
		}
		c := newChild(ctx, prev, names[i], inodes[i])
		prev.putChild(names[i], c)
		prev = c
	}
	if err == unix.ENOENT && len(inodes) < len(names) && prev.IsDir() && d.cache {
		n := names[len(inodes)]
		prev.putChild(n, newChild(ctx, prev, n, nil))
	}
	if d.cache {
		d.putChild(name, first)
	}
	return first, nil
}

// putChild caches c as the child name (d.mu held, or d unpublished).
func (d *Dentry) putChild(name string, c *Dentry) {
	if !d.cache {
		return
	}
	if d.children == nil {
		d.children = make(map[string]*Dentry)
	}
	d.children[name] = c
}

// removeChildLocked forgets the child name (d.mu held), marking it dead and telling its
// inode.
func (d *Dentry) removeChildLocked(name string, c *Dentry) {
	if cur, ok := d.children[name]; ok && cur == c {
		delete(d.children, name)
	}
	if c != nil {
		c.dead.Store(true)
		if dr, ok := c.inode.(DroppedInode); ok {
			dr.Dropped()
		}
	}
}

// lookup returns the child names[0] of directory d, locking d.
func (d *Dentry) lookup(ctx Context, names []string) (*Dentry, error) {
	d.mu.Lock()
	c, err := d.lookupLocked(ctx, names)
	d.mu.Unlock()
	return c, err
}

// hasCachedChildren reports whether any positive child is cached (d.mu held): a quick
// "not empty" answer for rmdir and rename over a directory.
func (d *Dentry) hasCachedChildren() bool {
	for _, c := range d.children {
		if c.inode != nil {
			return true
		}
	}
	return false
}
