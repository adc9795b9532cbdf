package vfs

import (
	"golang.org/x/sys/unix"
)

// Filesystem is one instance of a filesystem, mountable (possibly several times).
type Filesystem interface {
	// Root returns the root directory's inode.
	Root() Inode
	// Name is the filesystem type as /proc/mounts shows it ("tmpfs", "proc", ...).
	Name() string
	// CacheDentries says whether the VFS may cache lookups (positive and negative). A
	// filesystem whose namespace changes by itself (proc) says false; the VFS then asks
	// Lookup on every walk.
	CacheDentries() bool
	// Statfs reports the filesystem's attributes.
	Statfs(ctx Context) (Statfs, error)
}

// CreateOptions describe a new file: its type and permission bits (already masked by the
// umask), owner, and device number for Mknod.
type CreateOptions struct {
	Mode     uint32 // S_IFMT | permission bits
	UID, GID uint32
	Rdev     uint64
	// Linkable is for O_TMPFILE without O_EXCL: the unnamed file may be given a name
	// with linkat(AT_EMPTY_PATH) (Linux's I_LINKABLE).
	Linkable bool
}

// LinkableInode is implemented by inodes that can report whether an unlinked file may
// be linked again (an O_TMPFILE file created without O_EXCL).
type LinkableInode interface {
	Linkable() bool
}

// Inode is a file as a filesystem implements it. The VFS calls the methods that apply to
// the file's type only (Lookup and the entry methods on directories, Readlink on
// symlinks), after checking permissions; embed NoInodeOps for the rest.
type Inode interface {
	// Stat returns the file's attributes. The Mode's S_IFMT bits never change.
	Stat(ctx Context) (Stat, error)
	// SetStat changes attributes (opts.Mask says which).
	SetStat(ctx Context, opts SetStatOptions) error
	// Open returns the implementation of a new file description. flags are the open(2)
	// flags (O_CREAT, O_EXCL, O_TRUNC already handled by the VFS).
	Open(ctx Context, vd VirtualDentry, flags uint32) (FileImpl, error)

	// Lookup looks up names[0] in this directory and, if it can do so cheaply, the
	// following names each in the previous one (a remote filesystem walks them in one
	// round trip). It returns the inodes found, at least one unless err is set; err, if
	// set, is the error for names[len(inodes)] (ENOENT for a missing entry).
	Lookup(ctx Context, names []string) ([]Inode, error)
	// Create creates and opens a regular file (open with O_CREAT). It may return a nil
	// FileImpl, and then the VFS calls Open on the new inode.
	Create(ctx Context, name string, flags uint32, opts CreateOptions) (Inode, FileImpl, error)
	// Mkdir, Mknod and Symlink create an entry of their kind.
	Mkdir(ctx Context, name string, opts CreateOptions) (Inode, error)
	Mknod(ctx Context, name string, opts CreateOptions) (Inode, error)
	Symlink(ctx Context, name, target string, opts CreateOptions) (Inode, error)
	// Link makes name a new hard link to target, an inode of the same filesystem.
	Link(ctx Context, name string, target Inode) error
	// Unlink removes the non-directory entry name, which is child.
	Unlink(ctx Context, name string, child Inode) error
	// Rmdir removes the empty directory entry name, which is child (ENOTEMPTY otherwise).
	Rmdir(ctx Context, name string, child Inode) error
	// Rename moves entry oldName (child) of this directory to newName in newDir (a
	// directory inode of the same filesystem), replacing replaced (nil if newName does
	// not exist; the VFS has checked that types are compatible and that a replaced
	// directory is empty according to the cache - the filesystem checks again).
	Rename(ctx Context, oldName string, child Inode, newDir Inode, newName string, replaced Inode, flags uint32) error

	// Readlink returns a symlink's target.
	Readlink(ctx Context) (string, error)
}

// MagicLink is implemented by symlinks whose following does not walk their target text
// but jumps to a file (proc's fd links and exe link).
type MagicLink interface {
	// Follow returns where the link leads.
	Follow(ctx Context) (VirtualDentry, error)
}

// DroppedInode is implemented by inodes that want to know when the VFS forgets a dentry
// of theirs (after unlink or rename over it), to release resources held for lookups.
type DroppedInode interface {
	Dropped()
}

// NoInodeOps implements every Inode method with the error Linux gives for a file type
// that does not support it. Filesystems embed it and override what they support.
type NoInodeOps struct{}

// SetStat implements Inode.SetStat.
func (NoInodeOps) SetStat(ctx Context, opts SetStatOptions) error { return unix.EPERM }

// Open implements Inode.Open.
func (NoInodeOps) Open(ctx Context, vd VirtualDentry, flags uint32) (FileImpl, error) {
	return nil, unix.ENXIO
}

// Lookup implements Inode.Lookup.
func (NoInodeOps) Lookup(ctx Context, names []string) ([]Inode, error) { return nil, unix.ENOTDIR }

// Create implements Inode.Create.
func (NoInodeOps) Create(ctx Context, name string, flags uint32, opts CreateOptions) (Inode, FileImpl, error) {
	return nil, nil, unix.EPERM
}

// Mkdir implements Inode.Mkdir.
func (NoInodeOps) Mkdir(ctx Context, name string, opts CreateOptions) (Inode, error) {
	return nil, unix.EPERM
}

// Mknod implements Inode.Mknod.
func (NoInodeOps) Mknod(ctx Context, name string, opts CreateOptions) (Inode, error) {
	return nil, unix.EPERM
}

// Symlink implements Inode.Symlink.
func (NoInodeOps) Symlink(ctx Context, name, target string, opts CreateOptions) (Inode, error) {
	return nil, unix.EPERM
}

// Link implements Inode.Link.
func (NoInodeOps) Link(ctx Context, name string, target Inode) error { return unix.EPERM }

// Unlink implements Inode.Unlink.
func (NoInodeOps) Unlink(ctx Context, name string, child Inode) error { return unix.EPERM }

// Rmdir implements Inode.Rmdir.
func (NoInodeOps) Rmdir(ctx Context, name string, child Inode) error { return unix.EPERM }

// Rename implements Inode.Rename.
func (NoInodeOps) Rename(ctx Context, oldName string, child Inode, newDir Inode, newName string, replaced Inode, flags uint32) error {
	return unix.EPERM
}

// Readlink implements Inode.Readlink.
func (NoInodeOps) Readlink(ctx Context) (string, error) { return "", unix.EINVAL }
