// Package devpts owns the sentry's pseudo-terminals: the devpts filesystem (/dev/pts,
// with its ptmx node and a slave node per terminal), the pseudo-terminal pairs
// themselves with Linux's line discipline (canonical editing, echo, input and output
// translation, VMIN/VTIME, ^C/^\/^Z as SIGINT/SIGQUIT/SIGTSTP to the foreground process
// group), the terminal ioctls (termios, window size with SIGWINCH, the foreground
// process group, controlling terminals, TIOCGPTN, TIOCSPTLCK, TIOCGPTPEER), and the
// /dev/tty device that opens the caller's controlling terminal.
//
// A terminal becomes a session's controlling terminal when the session leader opens
// its slave without O_NOCTTY while the session has none, or with TIOCSCTTY. The
// sessions' terminals are remembered here (the kernel's sessions have no field for
// it), keyed by session ID and checked against the session leader's thread group so
// that a reused PID never inherits a terminal.
//
// Lock order: Filesystem.mu, then Terminal.mu, then ctty.mu; Terminal.queue's lock is
// taken with no other held (notifications happen after unlocking).
package devpts

import (
	"sort"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// Device numbers.
const (
	ttyMajor   = 5
	ttyMinor   = 0
	ptmxMinor  = 2
	slaveMajor = 136 // UNIX98_PTY_SLAVE_MAJOR; 8 majors of 256 minors
	maxPTYs    = 8 * 256
)

// Magic is DEVPTS_SUPER_MAGIC.
const Magic = 0x1cd1

func init() {
	vfs.RegisterCharDevice(ttyMajor, ptmxMinor, openPtmx)
	for m := uint32(0); m < maxPTYs/256; m++ {
		vfs.RegisterCharMajor(slaveMajor+m, openSlaveNode)
	}
	vfs.RegisterCharDevice(ttyMajor, ttyMinor, openTTY)
}

// Options configure a devpts instance (its mount options).
type Options struct {
	// PtmxMode is the mode of the ptmx node (ptmxmode=; Linux's default is 0).
	PtmxMode uint32
	// Mode is the mode of new slave nodes (mode=; default 0600).
	Mode uint32
	// GID, if GIDSet, is the group of new slave nodes (gid=).
	GID    uint32
	GIDSet bool
}

// Filesystem is a devpts instance.
type Filesystem struct {
	dev       uint32
	slaveMode uint32
	slaveGID  uint32
	gidSet    bool
	root      *rootInode
	ptmx      *ptmxInode

	mu   sync.Mutex
	ptys map[uint32]*Terminal
}

// New returns a devpts instance.
func New(opts Options) *Filesystem {
	fs := &Filesystem{dev: vfs.NewAnonDev(), slaveMode: opts.Mode & 07777, slaveGID: opts.GID, gidSet: opts.GIDSet, ptys: map[uint32]*Terminal{}}
	if fs.slaveMode == 0 {
		fs.slaveMode = 0600
	}
	now := vfs.Now()
	fs.root = &rootInode{fs: fs, time: now}
	fs.ptmx = &ptmxInode{fs: fs, mode: opts.PtmxMode & 07777, time: now}
	return fs
}

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem) Root() vfs.Inode { return fs.root }

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return "devpts" }

// CacheDentries implements vfs.Filesystem.CacheDentries: slaves come and go by
// themselves.
func (fs *Filesystem) CacheDentries() bool { return false }

// Statfs implements vfs.Filesystem.Statfs.
func (fs *Filesystem) Statfs(ctx vfs.Context) (vfs.Statfs, error) {
	return vfs.Statfs{Type: Magic, Bsize: 4096, Frsize: 4096, Namelen: vfs.MaxNameLen}, nil
}

// MountOptions implements vfs.OptionsProvider.
func (fs *Filesystem) MountOptions() string {
	s := ""
	if fs.gidSet {
		s = "gid=" + strconv.Itoa(int(fs.slaveGID)) + ","
	}
	return s + "mode=" + strconv.FormatUint(uint64(fs.slaveMode), 8) + ",ptmxmode=" + strconv.FormatUint(uint64(fs.ptmx.mode), 8)
}

// allocate makes a new terminal with the lowest free index.
func (fs *Filesystem) allocate(ctx vfs.Context) (*Terminal, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i := uint32(0); i < maxPTYs; i++ {
		if _, ok := fs.ptys[i]; !ok {
			c := ctx.Credentials()
			t := newTerminal(fs, i, uint32(c.FSUID), uint32(c.FSGID))
			if task := taskOf(ctx); task != nil {
				t.k = task.Kernel()
			}
			fs.ptys[i] = t
			return t, nil
		}
	}
	return nil, unix.ENOSPC
}

func (fs *Filesystem) remove(t *Terminal) {
	fs.mu.Lock()
	if fs.ptys[t.index] == t {
		delete(fs.ptys, t.index)
	}
	fs.mu.Unlock()
}

func (fs *Filesystem) lookup(index uint32) *Terminal {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.ptys[index]
}

func taskOf(ctx vfs.Context) *kernel.Task {
	t, _ := vfs.Unwrap(ctx).(*kernel.Task)
	return t
}

// rootInode is /dev/pts.
type rootInode struct {
	vfs.NoInodeOps
	fs   *Filesystem
	time vfs.Timespec
}

// Stat implements vfs.Inode.Stat.
func (r *rootInode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	return vfs.Stat{Mask: vfs.StatxBasicStats, Blksize: 4096, Nlink: 2, Mode: unix.S_IFDIR | 0755, Ino: 1,
		Atime: r.time, Mtime: r.time, Ctime: r.time, DevMinor: r.fs.dev}, nil
}

// Lookup implements vfs.Inode.Lookup.
func (r *rootInode) Lookup(ctx vfs.Context, names []string) ([]vfs.Inode, error) {
	name := names[0]
	if name == "ptmx" {
		return []vfs.Inode{r.fs.ptmx}, nil
	}
	n, err := strconv.ParseUint(name, 10, 32)
	if err != nil || strconv.FormatUint(n, 10) != name {
		return nil, unix.ENOENT
	}
	t := r.fs.lookup(uint32(n))
	if t == nil {
		return nil, unix.ENOENT
	}
	return []vfs.Inode{&slaveInode{t: t}}, nil
}

// Open implements vfs.Inode.Open.
func (r *rootInode) Open(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileImpl, error) {
	return &rootDir{fs: r.fs}, nil
}

type rootDir struct {
	vfs.DirFileOps
	fs *Filesystem
}

// Getdents implements vfs.FileImpl.Getdents.
func (d *rootDir) Getdents(ctx vfs.Context, off int64, emit func(vfs.Dirent) bool) (int64, error) {
	ents := []vfs.Dirent{{Name: ".", Ino: 1, Type: unix.DT_DIR}, {Name: "..", Ino: 1, Type: unix.DT_DIR}, {Name: "ptmx", Ino: 2, Type: unix.DT_CHR}}
	d.fs.mu.Lock()
	var idx []int
	for i := range d.fs.ptys {
		idx = append(idx, int(i))
	}
	d.fs.mu.Unlock()
	sort.Ints(idx)
	for _, i := range idx {
		ents = append(ents, vfs.Dirent{Name: strconv.Itoa(i), Ino: uint64(i) + 3, Type: unix.DT_CHR})
	}
	for ; off < int64(len(ents)); off++ {
		e := ents[off]
		e.NextOff = off + 1
		if !emit(e) {
			break
		}
	}
	return off, nil
}

// ptmxInode is /dev/pts/ptmx.
type ptmxInode struct {
	vfs.NoInodeOps
	fs   *Filesystem
	mu   sync.Mutex
	mode uint32
	time vfs.Timespec
}

// Stat implements vfs.Inode.Stat.
func (p *ptmxInode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return vfs.Stat{Mask: vfs.StatxBasicStats, Blksize: 4096, Nlink: 1, Mode: unix.S_IFCHR | p.mode, Ino: 2,
		Atime: p.time, Mtime: p.time, Ctime: p.time, DevMinor: p.fs.dev, RdevMajor: ttyMajor, RdevMinor: ptmxMinor}, nil
}

// SetStat implements vfs.Inode.SetStat (mode and times).
func (p *ptmxInode) SetStat(ctx vfs.Context, opts vfs.SetStatOptions) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if opts.Mask&vfs.SetStatMode != 0 {
		p.mode = opts.Mode & 07777
	}
	return nil
}

// slaveInode is /dev/pts/N.
type slaveInode struct {
	vfs.NoInodeOps
	t *Terminal
}

// Stat implements vfs.Inode.Stat.
func (s *slaveInode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	rdev := t.Rdev()
	return vfs.Stat{Mask: vfs.StatxBasicStats, Blksize: 1024, Nlink: 1, Mode: unix.S_IFCHR | t.mode, Ino: t.slaveID,
		UID: t.uid, GID: t.gid, Atime: t.times[0], Mtime: t.times[1], Ctime: t.times[2], DevMinor: t.fs.dev,
		RdevMajor: unix.Major(rdev), RdevMinor: unix.Minor(rdev)}, nil
}

// SetStat implements vfs.Inode.SetStat (grantpt's chown and chmod, times).
func (s *slaveInode) SetStat(ctx vfs.Context, opts vfs.SetStatOptions) error {
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	now := vfs.Now()
	if opts.Mask&vfs.SetStatMode != 0 {
		t.mode = opts.Mode & 07777
	}
	if opts.Mask&vfs.SetStatUID != 0 {
		t.uid = opts.UID
	}
	if opts.Mask&vfs.SetStatGID != 0 {
		t.gid = opts.GID
	}
	if opts.Mask&vfs.SetStatAtime != 0 {
		t.times[0] = opts.Atime
	} else if opts.Mask&vfs.SetStatAtimeNow != 0 {
		t.times[0] = now
	}
	if opts.Mask&vfs.SetStatMtime != 0 {
		t.times[1] = opts.Mtime
	} else if opts.Mask&vfs.SetStatMtimeNow != 0 {
		t.times[1] = now
	}
	t.times[2] = now
	return nil
}

// PathName implements vfs.PathNamer for slaves opened without a path (TIOCGPTPEER).
func (s *slaveInode) PathName() string { return "/dev/pts/" + strconv.Itoa(int(s.t.index)) }

// openPtmx opens a new master: ptmx on a devpts mount, or a ptmx device elsewhere
// (/dev/ptmx), which uses the devpts mounted on "pts" beside it.
func openPtmx(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileImpl, vfs.FileOptions, error) {
	fs, ok := vd.Mount.Filesystem().(*Filesystem)
	if !ok {
		fs = siblingDevpts(ctx, vd)
		if fs == nil {
			return nil, vfs.FileOptions{}, unix.ENODEV
		}
	}
	t, err := fs.allocate(ctx)
	if err != nil {
		return nil, vfs.FileOptions{}, err
	}
	m := &masterFile{t: t}
	return m, vfs.FileOptions{Stream: true}, nil
}

// siblingDevpts finds the devpts mounted on the "pts" directory beside vd.
func siblingDevpts(ctx vfs.Context, vd vfs.VirtualDentry) *Filesystem {
	task := taskOf(ctx)
	parent := vd.Dentry.Parent()
	if task == nil || parent == nil {
		return nil
	}
	v := task.Kernel().VFS()
	pts, err := v.GetDentryAt(ctx, task.FSContext().Root(), vfs.VirtualDentry{Mount: vd.Mount, Dentry: parent}, "pts", true)
	if err != nil {
		return nil
	}
	fs, _ := pts.Mount.Filesystem().(*Filesystem)
	return fs
}

// openSlaveNode opens /dev/pts/N.
func openSlaveNode(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileImpl, vfs.FileOptions, error) {
	s, ok := vd.Dentry.Inode().(*slaveInode)
	if !ok {
		// A device node made with mknod outside devpts: no terminal of ours.
		return nil, vfs.FileOptions{}, unix.ENXIO
	}
	f, err := openSlave(ctx, s.t, flags)
	if err != nil {
		return nil, vfs.FileOptions{}, err
	}
	return f, vfs.FileOptions{Stream: true}, nil
}

// openSlave opens the slave of t: EIO while it is locked or after the master closed.
func openSlave(ctx vfs.Context, t *Terminal, flags uint32) (*slaveFile, error) {
	t.mu.Lock()
	if t.locked || !t.masterOpen {
		t.mu.Unlock()
		return nil, unix.EIO
	}
	t.slaveOpens++
	t.slaveClosed = false
	t.mu.Unlock()
	if flags&unix.O_NOCTTY == 0 {
		if task := taskOf(ctx); task != nil {
			t.maybeBecomeCtty(task)
		}
	}
	return &slaveFile{t: t}, nil
}
