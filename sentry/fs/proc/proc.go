// Package proc owns the sentry's /proc: /proc/self and /proc/thread-self, a directory per
// process (and per thread under task/) with stat, status, statm, maps, smaps, cmdline,
// environ, comm, auxv, exe, cwd, root, fd/, fdinfo/, mounts, mountinfo, limits and
// cgroup; the system files cpuinfo, meminfo, stat, uptime, loadavg, version,
// filesystems, mounts; and /proc/sys (kernel, vm and fs entries programs read).
// Everything is computed when it is looked up or opened, from the calling task (the
// vfs.Context of every operation is the *kernel.Task making the call), so the VFS
// caches nothing of it.
//
// Lock order: no locks of its own but the inode-number table's (a leaf); it takes the
// kernel's and the VFS's through their accessors.
package proc

import (
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// Magic is PROC_SUPER_MAGIC.
const Magic = 0x9fa0

// The kernel identity the sandbox reports; it matches uname(2) (sentry/syscalls/sys.go).
const (
	osRelease = "6.1.0"
	osVersion = "#1 SMP runsc"
)

// Filesystem is a proc instance.
type Filesystem struct {
	dev  uint32
	boot vfs.Timespec
	root *dirInode

	inoMu   sync.Mutex
	inos    map[string]uint64 // inode numbers of the files outside the PID directories
	nextIno uint64
}

// New returns a proc filesystem.
func New() *Filesystem {
	fs := &Filesystem{dev: vfs.NewAnonDev(), boot: vfs.Now(), inos: map[string]uint64{}, nextIno: 16}
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
	return vfs.Statfs{Type: Magic, Bsize: 4096, Frsize: 4096, Namelen: vfs.MaxNameLen}, nil
}

// inoForPath returns the stable inode number of a file outside the PID directories.
func (fs *Filesystem) inoForPath(path string) uint64 {
	fs.inoMu.Lock()
	defer fs.inoMu.Unlock()
	if n, ok := fs.inos[path]; ok {
		return n
	}
	fs.nextIno++
	fs.inos[path] = fs.nextIno
	return fs.nextIno
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

// pidInoBase is where the inode numbers of PID directories start: tid<<16 | index.
const pidInoBase = 1 << 32

// inoOf gives stable inode numbers: pid-specific files get pid<<16 | index.
func inoOf(tid int32, idx int) uint64 { return pidInoBase + uint64(tid)<<16 | uint64(idx) }

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

// SetStat implements vfs.Inode.SetStat: as Linux's proc_setattr, a mode change is
// refused and other changes (owner, times, truncation) are accepted and mean nothing.
func (b *base) SetStat(ctx vfs.Context, opts vfs.SetStatOptions) error {
	if opts.Mask&vfs.SetStatMode != 0 {
		return unix.EPERM
	}
	return nil
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

// Create implements vfs.Inode.Create: nothing can be made in proc (ENOENT, as Linux).
func (d *dirInode) Create(ctx vfs.Context, name string, flags uint32, opts vfs.CreateOptions) (vfs.Inode, vfs.FileImpl, error) {
	return nil, nil, unix.ENOENT
}

// Mkdir implements vfs.Inode.Mkdir.
func (d *dirInode) Mkdir(ctx vfs.Context, name string, opts vfs.CreateOptions) (vfs.Inode, error) {
	return nil, unix.ENOENT
}

// Mknod implements vfs.Inode.Mknod.
func (d *dirInode) Mknod(ctx vfs.Context, name string, opts vfs.CreateOptions) (vfs.Inode, error) {
	return nil, unix.ENOENT
}

// Symlink implements vfs.Inode.Symlink.
func (d *dirInode) Symlink(ctx vfs.Context, name, target string, opts vfs.CreateOptions) (vfs.Inode, error) {
	return nil, unix.ENOENT
}

// Link implements vfs.Inode.Link.
func (d *dirInode) Link(ctx vfs.Context, name string, target vfs.Inode) error { return unix.ENOENT }

// Rename implements vfs.Inode.Rename.
func (d *dirInode) Rename(ctx vfs.Context, oldName string, child vfs.Inode, newDir vfs.Inode, newName string, replaced vfs.Inode, flags uint32) error {
	return unix.ENOENT
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

// staticEntry is an entry of a directory whose names are fixed.
type staticEntry struct {
	name  string
	dtype uint8
	make  func(fs *Filesystem, tid int32, ino uint64) vfs.Inode
}

// staticDir returns a directory of fixed entries; ino assigns each entry's number.
func (fs *Filesystem) staticDir(ino uint64, tid int32, mode uint32, ents []staticEntry, inoFor func(i int) uint64, live func(ctx vfs.Context) bool) *dirInode {
	d := &dirInode{base: base{fs: fs, ino: ino, tid: tid, mode: unix.S_IFDIR | mode}}
	d.lookup = func(ctx vfs.Context, name string) (vfs.Inode, error) {
		for i, e := range ents {
			if e.name == name {
				if live != nil && !live(ctx) {
					return nil, unix.ENOENT
				}
				return e.make(fs, tid, inoFor(i)), nil
			}
		}
		return nil, unix.ENOENT
	}
	d.list = func(ctx vfs.Context) []entry {
		out := make([]entry, 0, len(ents))
		for i, e := range ents {
			out = append(out, entry{e.name, inoFor(i), e.dtype})
		}
		return out
	}
	return d
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

// fileInode is a regular file whose contents are generated when it is opened; write,
// if set, takes what is written (each write whole, as proc's write handlers do).
type fileInode struct {
	base
	gen   func(ctx vfs.Context) ([]byte, error)
	write func(ctx vfs.Context, data []byte) error
}

// Stat implements vfs.Inode.Stat.
func (f *fileInode) Stat(ctx vfs.Context) (vfs.Stat, error) { return f.stat(ctx), nil }

// Open implements vfs.Inode.Open.
func (f *fileInode) Open(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileImpl, error) {
	if flags&unix.O_ACCMODE == unix.O_WRONLY {
		// Permission was checked; a file without a write handler fails the writes.
		return &snapshotFile{inode: f}, nil
	}
	data, err := f.gen(ctx)
	if err != nil {
		return nil, err
	}
	return &snapshotFile{inode: f, data: data}, nil
}

func (fs *Filesystem) newFile(ino uint64, tid int32, mode uint32, gen func(vfs.Context) ([]byte, error)) *fileInode {
	return &fileInode{base: base{fs: fs, ino: ino, tid: tid, mode: unix.S_IFREG | mode}, gen: gen}
}

// snapshotFile serves the contents generated at open.
type snapshotFile struct {
	vfs.NoFileOps
	inode *fileInode
	data  []byte
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

// Write implements vfs.FileImpl.Write.
func (f *snapshotFile) Write(ctx vfs.Context, src [][]byte, off int64, appendMode bool) (int64, int64, error) {
	if f.inode.write == nil {
		return 0, off, unix.EINVAL
	}
	var b []byte
	for _, s := range src {
		b = append(b, s...)
	}
	if err := f.inode.write(ctx, b); err != nil {
		return 0, off, err
	}
	return int64(len(b)), off + int64(len(b)), nil
}

// Seek implements vfs.FileImpl.Seek.
func (f *snapshotFile) Seek(ctx vfs.Context, cur, offset int64, whence int) (int64, error) {
	return vfs.GenericSeek(cur, offset, whence, int64(len(f.data)))
}

// rootEntries are the fixed names of /proc besides the PID directories.
var rootEntries = []staticEntry{
	{"self", unix.DT_LNK, func(fs *Filesystem, _ int32, ino uint64) vfs.Inode {
		return fs.newLink(ino, 0, func(ctx vfs.Context) (string, error) {
			t := taskOf(ctx)
			if t == nil {
				return "", unix.ENOENT
			}
			return strconv.Itoa(int(t.ThreadGroupID())), nil
		}, nil)
	}},
	{"thread-self", unix.DT_LNK, func(fs *Filesystem, _ int32, ino uint64) vfs.Inode {
		return fs.newLink(ino, 0, func(ctx vfs.Context) (string, error) {
			t := taskOf(ctx)
			if t == nil {
				return "", unix.ENOENT
			}
			return strconv.Itoa(int(t.ThreadGroupID())) + "/task/" + strconv.Itoa(int(t.ThreadID())), nil
		}, nil)
	}},
	{"mounts", unix.DT_LNK, func(fs *Filesystem, _ int32, ino uint64) vfs.Inode {
		return fs.newLink(ino, 0, func(ctx vfs.Context) (string, error) { return "self/mounts", nil }, nil)
	}},
	{"net", unix.DT_LNK, func(fs *Filesystem, _ int32, ino uint64) vfs.Inode {
		return fs.newLink(ino, 0, func(ctx vfs.Context) (string, error) { return "self/net", nil }, nil)
	}},
	{"cpuinfo", unix.DT_REG, globalFile(cpuinfo)},
	{"meminfo", unix.DT_REG, globalFile(meminfo)},
	{"stat", unix.DT_REG, globalFile(statFile)},
	{"uptime", unix.DT_REG, globalFile(uptime)},
	{"loadavg", unix.DT_REG, globalFile(loadavg)},
	{"version", unix.DT_REG, globalFile(version)},
	{"filesystems", unix.DT_REG, globalFile(filesystems)},
	{"cmdline", unix.DT_REG, globalFile(kernelCmdline)},
	{"sys", unix.DT_DIR, func(fs *Filesystem, _ int32, ino uint64) vfs.Inode { return fs.sysDir(ino) }},
}

// globalFile makes a read-only file of the system's.
func globalFile(gen func(ctx vfs.Context) ([]byte, error)) func(fs *Filesystem, _ int32, ino uint64) vfs.Inode {
	return func(fs *Filesystem, _ int32, ino uint64) vfs.Inode {
		return fs.newFile(ino, 0, 0444, gen)
	}
}

// rootLookup resolves a name in /proc.
func (fs *Filesystem) rootLookup(ctx vfs.Context, name string) (vfs.Inode, error) {
	for _, e := range rootEntries {
		if e.name == name {
			return e.make(fs, 0, fs.inoForPath(name)), nil
		}
	}
	tid, err := strconv.ParseInt(name, 10, 32)
	if err != nil || tid <= 0 || strconv.Itoa(int(tid)) != name {
		return nil, unix.ENOENT
	}
	if target(ctx, int32(tid)) == nil {
		return nil, unix.ENOENT
	}
	return fs.pidDir(int32(tid), true), nil
}

// rootList lists /proc: the fixed names and the processes (not their other threads).
func (fs *Filesystem) rootList(ctx vfs.Context) []entry {
	var ents []entry
	for _, e := range rootEntries {
		ents = append(ents, entry{e.name, fs.inoForPath(e.name), e.dtype})
	}
	if t := taskOf(ctx); t != nil {
		for _, pid := range sortedPIDs(t.Kernel()) {
			ents = append(ents, entry{strconv.Itoa(int(pid)), inoOf(pid, 0), unix.DT_DIR})
		}
	}
	return ents
}
