// Package sys owns the sentry's /sys: the read-only files programs read to size
// themselves (the CPUs in /sys/devices/system/cpu, transparent huge pages) and empty
// class, bus, block and dev directories; and the cgroup2 filesystem mounted on
// /sys/fs/cgroup (one cgroup, no limits). The tree is fixed when the filesystem is made; a few files (the cgroup's
// processes) are generated when they are opened.
//
// Lock order: no locks; inodes are immutable.
package sys

import (
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// Magic is SYSFS_MAGIC; CgroupMagic is CGROUP2_SUPER_MAGIC.
const (
	Magic       = 0x62656572
	CgroupMagic = 0x63677270
)

// Filesystem is a sysfs instance (or a cgroup2 one, made by NewCgroup).
type Filesystem struct {
	dev   uint32
	boot  vfs.Timespec
	root  *node
	next  uint64
	name  string
	magic uint64
}

// NewCgroup returns the sandbox's cgroup v2 hierarchy, mounted on /sys/fs/cgroup: one
// cgroup holding every process, with no limits of its own.
func NewCgroup() *Filesystem {
	fs := &Filesystem{dev: vfs.NewAnonDev(), boot: vfs.Now(), name: "cgroup2", magic: CgroupMagic}
	fs.root = fs.dir("", cgroupFiles(fs)...)
	return fs
}

// node is a directory (children set) or a file (gen set) or a symlink (target set).
type node struct {
	vfs.NoInodeOps
	fs       *Filesystem
	ino      uint64
	name     string
	mode     uint32
	children []*node
	gen      func(ctx vfs.Context) string
	target   string
}

// New returns a sysfs showing ncpu CPUs (runtime.NumCPU if 0).
func New(ncpu int) *Filesystem {
	if ncpu <= 0 {
		ncpu = runtime.NumCPU()
	}
	fs := &Filesystem{dev: vfs.NewAnonDev(), boot: vfs.Now(), name: "sysfs", magic: Magic}
	cpuList := "0"
	if ncpu > 1 {
		cpuList = fmt.Sprintf("0-%d", ncpu-1)
	}
	var cpus []*node
	for i := 0; i < ncpu; i++ {
		cpus = append(cpus, fs.dir(fmt.Sprintf("cpu%d", i),
			fs.dir("topology",
				fs.file("core_id", strconv.Itoa(i)),
				fs.file("physical_package_id", "0"),
				fs.file("thread_siblings_list", strconv.Itoa(i)),
				fs.file("core_siblings_list", cpuList),
			),
		))
	}
	cpuDir := fs.dir("cpu", append(cpus,
		fs.file("online", cpuList),
		fs.file("possible", cpuList),
		fs.file("present", cpuList),
		fs.file("offline", ""),
		fs.file("kernel_max", "8191"),
	)...)
	fs.root = fs.dir("",
		fs.dir("block"),
		fs.dir("bus"),
		fs.dir("class"),
		fs.dir("dev", fs.dir("block"), fs.dir("char")),
		fs.dir("devices",
			fs.dir("system",
				cpuDir,
				fs.dir("node", fs.file("online", "0"), fs.file("possible", "0"),
					fs.dir("node0", fs.file("cpulist", cpuList))),
			),
			fs.dir("virtual"),
		),
		fs.dir("firmware"),
		fs.dir("fs",
			fs.dir("cgroup"),
		),
		fs.dir("kernel",
			fs.dir("mm",
				fs.dir("transparent_hugepage",
					fs.file("enabled", "always [madvise] never"),
					fs.file("defrag", "always defer defer+madvise [madvise] never"),
					fs.file("hpage_pmd_size", "2097152"),
				),
			),
		),
		fs.dir("module"),
		fs.dir("power"),
	)
	return fs
}

// cgroupFiles are the files of the sandbox's cgroup.
func cgroupFiles(fs *Filesystem) []*node {
	return []*node{
		fs.file("cgroup.controllers", "cpuset cpu io memory pids"),
		fs.file("cgroup.subtree_control", ""),
		fs.file("cgroup.type", "domain"),
		fs.file("cgroup.max.depth", "max"),
		fs.file("cgroup.max.descendants", "max"),
		fs.genFile("cgroup.procs", func(ctx vfs.Context) string {
			t, _ := vfs.Unwrap(ctx).(*kernel.Task)
			if t == nil {
				return ""
			}
			var pids []int
			for _, tg := range t.Kernel().ThreadGroups() {
				pids = append(pids, int(tg.PID()))
			}
			sort.Ints(pids)
			var b strings.Builder
			for i, p := range pids {
				if i > 0 {
					b.WriteByte('\n')
				}
				b.WriteString(strconv.Itoa(p))
			}
			return b.String()
		}),
		fs.file("cpu.max", "max 100000"),
		fs.file("cpu.weight", "100"),
		fs.file("cpuset.cpus.effective", ""),
		fs.file("memory.max", "max"),
		fs.file("memory.high", "max"),
		fs.file("memory.low", "0"),
		fs.file("memory.min", "0"),
		fs.file("memory.swap.max", "max"),
		fs.file("pids.max", "max"),
	}
}

func (fs *Filesystem) newNode(name string, mode uint32) *node {
	fs.next++
	return &node{fs: fs, ino: fs.next, name: name, mode: mode}
}

func (fs *Filesystem) dir(name string, children ...*node) *node {
	n := fs.newNode(name, unix.S_IFDIR|0555)
	n.children = children
	return n
}

func (fs *Filesystem) file(name, content string) *node {
	return fs.genFile(name, func(vfs.Context) string { return content })
}

func (fs *Filesystem) genFile(name string, gen func(vfs.Context) string) *node {
	n := fs.newNode(name, unix.S_IFREG|0444)
	n.gen = gen
	return n
}

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem) Root() vfs.Inode { return fs.root }

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return fs.name }

// CacheDentries implements vfs.Filesystem.CacheDentries: the tree never changes.
func (fs *Filesystem) CacheDentries() bool { return true }

// ReadOnly reports that sysfs refuses every change (mounts of it are read-only).
func (fs *Filesystem) ReadOnly() bool { return true }

// Statfs implements vfs.Filesystem.Statfs.
func (fs *Filesystem) Statfs(ctx vfs.Context) (vfs.Statfs, error) {
	return vfs.Statfs{Type: fs.magic, Bsize: 4096, Frsize: 4096, Namelen: vfs.MaxNameLen, Flags: unix.ST_RDONLY}, nil
}

// Stat implements vfs.Inode.Stat. Files report a size of 4096, as sysfs's do.
func (n *node) Stat(ctx vfs.Context) (vfs.Stat, error) {
	st := vfs.Stat{
		Mask: vfs.StatxBasicStats, Blksize: 4096, Nlink: 1, Mode: n.mode, Ino: n.ino,
		Atime: n.fs.boot, Mtime: n.fs.boot, Ctime: n.fs.boot, DevMinor: n.fs.dev,
	}
	switch n.mode & unix.S_IFMT {
	case unix.S_IFDIR:
		st.Nlink = 2
		for _, c := range n.children {
			if c.mode&unix.S_IFMT == unix.S_IFDIR {
				st.Nlink++
			}
		}
	case unix.S_IFREG:
		st.Size = 4096
	}
	return st, nil
}

// Lookup implements vfs.Inode.Lookup.
func (n *node) Lookup(ctx vfs.Context, names []string) ([]vfs.Inode, error) {
	if n.children == nil && n.mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	for _, c := range n.children {
		if c.name == names[0] {
			return []vfs.Inode{c}, nil
		}
	}
	return nil, unix.ENOENT
}

// Open implements vfs.Inode.Open.
func (n *node) Open(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileImpl, error) {
	switch n.mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return &dirFile{n: n}, nil
	case unix.S_IFREG:
		if flags&unix.O_ACCMODE != unix.O_RDONLY {
			return nil, unix.EACCES
		}
		return &file{data: []byte(n.gen(ctx) + "\n")}, nil
	}
	return nil, unix.ENXIO
}

// Readlink implements vfs.Inode.Readlink.
func (n *node) Readlink(ctx vfs.Context) (string, error) {
	if n.mode&unix.S_IFMT != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	return n.target, nil
}

type dirFile struct {
	vfs.DirFileOps
	n *node
}

// Getdents implements vfs.FileImpl.Getdents.
func (f *dirFile) Getdents(ctx vfs.Context, off int64, emit func(vfs.Dirent) bool) (int64, error) {
	ents := []vfs.Dirent{{Name: ".", Ino: f.n.ino, Type: unix.DT_DIR}, {Name: "..", Ino: f.n.ino, Type: unix.DT_DIR}}
	for _, c := range f.n.children {
		ents = append(ents, vfs.Dirent{Name: c.name, Ino: c.ino, Type: vfs.DirentType(c.mode)})
	}
	for ; off < int64(len(ents)); off++ {
		d := ents[off]
		d.NextOff = off + 1
		if !emit(d) {
			break
		}
	}
	return off, nil
}

// file serves the contents generated at open.
type file struct {
	vfs.NoFileOps
	data []byte
}

// Read implements vfs.FileImpl.Read.
func (f *file) Read(ctx vfs.Context, dst [][]byte, off int64) (int64, error) {
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
func (f *file) Seek(ctx vfs.Context, cur, offset int64, whence int) (int64, error) {
	return vfs.GenericSeek(cur, offset, whence, int64(len(f.data)))
}
