// Package proc owns the sentry's /proc (a minimal one for now): /proc/self, and for each
// process /proc/<pid>/exe, cwd, root, cmdline, comm and the fd/ directory of links to
// open files. Everything is computed at lookup time from the calling task (the
// vfs.Context of every operation is the *kernel.Task making the call), so the VFS caches
// nothing of it.
//
// Lock order: no locks of its own; it takes the kernel's and the VFS's through their
// accessors.
package proc

import (
	"strconv"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// Magic is PROC_SUPER_MAGIC.
const Magic = 0x9fa0

// Filesystem is a proc instance.
type Filesystem struct {
	dev  uint32
	boot vfs.Timespec
	root *dirInode
}

// New returns a proc filesystem.
func New() *Filesystem {
	fs := &Filesystem{dev: vfs.NewAnonDev(), boot: vfs.Now()}
	fs.root = &dirInode{base: base{fs: fs, ino: 1, mode: unix.S_IFDIR | 0555}, lookup: fs.rootLookup, list: fs.rootList}
	return fs
}

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem) Root() vfs.Inode { return fs.root }

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return "proc" }

// CacheDentries implements vfs.Filesystem.CacheDentries: proc changes by itself.
func (fs *Filesystem) CacheDentries() bool { return false }

// Statfs implements vfs.Filesystem.Statfs.
func (fs *Filesystem) Statfs(ctx vfs.Context) (vfs.Statfs, error) {
	return vfs.Statfs{Type: Magic, Bsize: 4096, Namelen: vfs.MaxNameLen}, nil
}

// taskOf returns the task making the call, or nil for the sentry's own operations.
func taskOf(ctx vfs.Context) *kernel.Task {
	t, _ := vfs.Unwrap(ctx).(*kernel.Task)
	return t
}

// target returns the task with thread ID tid, as seen by the caller.
func target(ctx vfs.Context, tid int32) *kernel.Task {
	t := taskOf(ctx)
	if t == nil {
		return nil
	}
	return t.Kernel().TaskByTID(tid)
}

// inoOf gives stable inode numbers: pid-specific files get pid<<16 | index.
func inoOf(tid int32, idx int) uint64 { return uint64(tid)<<16 | uint64(idx) }

// entry is one name in a directory listing.
type entry struct {
	name  string
	ino   uint64
	dtype uint8
}

// base holds what every proc inode reports.
type base struct {
	vfs.NoInodeOps
	fs   *Filesystem
	ino  uint64
	tid  int32 // the task the file describes (0 for global files)
	mode uint32
}

func (b *base) stat(ctx vfs.Context) vfs.Stat {
	st := vfs.Stat{
		Mask:     vfs.StatxBasicStats,
		Blksize:  4096,
		Nlink:    1,
		Mode:     b.mode,
		Ino:      b.ino,
		Atime:    b.fs.boot,
		Mtime:    b.fs.boot,
		Ctime:    b.fs.boot,
		DevMinor: b.fs.dev,
	}
	if b.mode&unix.S_IFMT == unix.S_IFDIR {
		st.Nlink = 2
	}
	if b.tid != 0 {
		if t := target(ctx, b.tid); t != nil {
			c := t.Credentials()
			st.UID, st.GID = uint32(c.EffectiveUID), uint32(c.EffectiveGID)
		}
	}
	return st
}

// dirInode is a directory whose entries are computed.
type dirInode struct {
	base
	lookup func(ctx vfs.Context, name string) (vfs.Inode, error)
	list   func(ctx vfs.Context) []entry
}

// Stat implements vfs.Inode.Stat.
func (d *dirInode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	return d.stat(ctx), nil
}

// Lookup implements vfs.Inode.Lookup.
func (d *dirInode) Lookup(ctx vfs.Context, names []string) ([]vfs.Inode, error) {
	i, err := d.lookup(ctx, names[0])
	if err != nil {
		return nil, err
	}
	return []vfs.Inode{i}, nil
}

// Open implements vfs.Inode.Open.
func (d *dirInode) Open(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileImpl, error) {
	return &dirFile{d: d}, nil
}

// dirFile lists a dirInode: offsets are indexes in the listing.
type dirFile struct {
	vfs.DirFileOps
	d *dirInode
}

// Getdents implements vfs.FileImpl.Getdents.
func (f *dirFile) Getdents(ctx vfs.Context, off int64, emit func(vfs.Dirent) bool) (int64, error) {
	ents := append([]entry{{".", f.d.ino, unix.DT_DIR}, {"..", 1, unix.DT_DIR}}, f.d.list(ctx)...)
	for ; off < int64(len(ents)); off++ {
		e := ents[off]
		if !emit(vfs.Dirent{Name: e.name, Ino: e.ino, Type: e.dtype, NextOff: off + 1}) {
			break
		}
	}
	return off, nil
}

// linkInode is a symlink whose target is computed; with follow set it is a magic link
// that leads to a file rather than a path.
type linkInode struct {
	base
	readlink func(ctx vfs.Context) (string, error)
	follow   func(ctx vfs.Context) (vfs.VirtualDentry, error)
}

// Stat implements vfs.Inode.Stat.
func (l *linkInode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	st := l.stat(ctx)
	if ctx != nil {
		if s, err := l.readlink(ctx); err == nil {
			st.Size = uint64(len(s))
		}
	}
	return st, nil
}

// Readlink implements vfs.Inode.Readlink.
func (l *linkInode) Readlink(ctx vfs.Context) (string, error) { return l.readlink(ctx) }

// magicLink wraps a linkInode with a follow function so that it implements vfs.MagicLink.
type magicLink struct{ *linkInode }

// Follow implements vfs.MagicLink.
func (m magicLink) Follow(ctx vfs.Context) (vfs.VirtualDentry, error) { return m.follow(ctx) }

func (fs *Filesystem) newLink(ino uint64, tid int32, readlink func(vfs.Context) (string, error), follow func(vfs.Context) (vfs.VirtualDentry, error)) vfs.Inode {
	l := &linkInode{base: base{fs: fs, ino: ino, tid: tid, mode: unix.S_IFLNK | 0777}, readlink: readlink, follow: follow}
	if follow != nil {
		return magicLink{l}
	}
	return l
}

// fileInode is a regular file whose contents are generated when it is opened.
type fileInode struct {
	base
	gen func(ctx vfs.Context) ([]byte, error)
}

// Stat implements vfs.Inode.Stat.
func (f *fileInode) Stat(ctx vfs.Context) (vfs.Stat, error) { return f.stat(ctx), nil }

// Open implements vfs.Inode.Open.
func (f *fileInode) Open(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileImpl, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return nil, unix.EACCES
	}
	data, err := f.gen(ctx)
	if err != nil {
		return nil, err
	}
	return &snapshotFile{data: data}, nil
}

// snapshotFile serves the contents generated at open.
type snapshotFile struct {
	vfs.NoFileOps
	data []byte
}

// Read implements vfs.FileImpl.Read.
func (f *snapshotFile) Read(ctx vfs.Context, dst [][]byte, off int64) (int64, error) {
	var n int64
	for _, b := range dst {
		if off+n >= int64(len(f.data)) {
			break
		}
		n += int64(copy(b, f.data[off+n:]))
	}
	return n, nil
}

// Seek implements vfs.FileImpl.Seek.
func (f *snapshotFile) Seek(ctx vfs.Context, cur, offset int64, whence int) (int64, error) {
	return vfs.GenericSeek(cur, offset, whence, int64(len(f.data)))
}

// rootLookup resolves a name in /proc.
func (fs *Filesystem) rootLookup(ctx vfs.Context, name string) (vfs.Inode, error) {
	switch name {
	case "self":
		return fs.newLink(2, 0, func(ctx vfs.Context) (string, error) {
			t := taskOf(ctx)
			if t == nil {
				return "", unix.ENOENT
			}
			return strconv.Itoa(int(t.ThreadGroupID())), nil
		}, nil), nil
	case "thread-self":
		return fs.newLink(3, 0, func(ctx vfs.Context) (string, error) {
			t := taskOf(ctx)
			if t == nil {
				return "", unix.ENOENT
			}
			return strconv.Itoa(int(t.ThreadGroupID())) + "/task/" + strconv.Itoa(int(t.ThreadID())), nil
		}, nil), nil
	}
	tid, err := strconv.ParseInt(name, 10, 32)
	if err != nil || tid <= 0 || strconv.Itoa(int(tid)) != name {
		return nil, unix.ENOENT
	}
	if target(ctx, int32(tid)) == nil {
		return nil, unix.ENOENT
	}
	return fs.pidDir(int32(tid)), nil
}

// rootList lists /proc: self, thread-self and the processes.
func (fs *Filesystem) rootList(ctx vfs.Context) []entry {
	ents := []entry{{"self", 2, unix.DT_LNK}, {"thread-self", 3, unix.DT_LNK}}
	if t := taskOf(ctx); t != nil {
		for _, tg := range t.Kernel().ThreadGroups() {
			pid := tg.PID()
			ents = append(ents, entry{strconv.Itoa(int(pid)), inoOf(pid, 0), unix.DT_DIR})
		}
	}
	return ents
}
