package pipe

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

// inode is the inode of an anonymous pipe (pipefs in Linux).
type inode struct {
	vfs.NoInodeOps
	pipe *Pipe
}

// pipefsDev is the device number of anonymous pipes' inodes.
var pipefsDev = vfs.NewAnonDev()

var nextIno atomic.Uint64

// Stat implements vfs.Inode.Stat.
func (i *inode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	p := i.pipe
	p.mu.Lock()
	defer p.mu.Unlock()
	return vfs.Stat{
		Mask:     vfs.StatxBasicStats,
		Blksize:  PageSize,
		Nlink:    1,
		UID:      p.uid,
		GID:      p.gid,
		Mode:     unix.S_IFIFO | 0600,
		Ino:      p.ino,
		Atime:    p.atime,
		Mtime:    p.mtime,
		Ctime:    p.ctime,
		DevMinor: pipefsDev,
	}, nil
}

// SetStat implements vfs.Inode.SetStat: times and mode may change as on any inode;
// pipes have no size to change.
func (i *inode) SetStat(ctx vfs.Context, opts vfs.SetStatOptions) error {
	if opts.Mask&vfs.SetStatSize != 0 {
		return unix.EINVAL
	}
	return nil
}

// PathName implements vfs.PathNamer.
func (i *inode) PathName() string { return fmt.Sprintf("pipe:[%d]", i.pipe.ino) }

// IsAnonFIFO implements vfs.AnonFIFO: reopening the pipe (through /proc/self/fd) goes to
// the FIFO opener.
func (i *inode) IsAnonFIFO() {}

// NewPipe returns the two ends of a new anonymous pipe (pipe2(2)): a read end with
// O_RDONLY and the O_NONBLOCK of flags, a write end with O_WRONLY and the O_NONBLOCK and
// O_DIRECT of flags. Each has one reference.
func NewPipe(ctx vfs.Context, v *vfs.VirtualFilesystem, flags uint32) (r, w *vfs.FileDescription) {
	p := newPipe()
	creds := ctx.Credentials()
	p.ino = nextIno.Add(1)
	p.uid, p.gid = uint32(creds.FSUID), uint32(creds.FSGID)
	now := vfs.Now()
	p.atime, p.mtime, p.ctime = now, now, now
	p.readers, p.writers = 1, 1
	p.rCounter, p.wCounter = 1, 1
	vd := v.NewAnonVirtualDentry(ctx, &inode{pipe: p})
	opts := vfs.FileOptions{Stream: true}
	r = vfs.NewAnonFileDescription(vd, &File{pipe: p, read: true}, unix.O_RDONLY|flags&unix.O_NONBLOCK, opts)
	w = vfs.NewAnonFileDescription(vd, &File{pipe: p, write: true}, unix.O_WRONLY|flags&(unix.O_NONBLOCK|unix.O_DIRECT), opts)
	return r, w
}

// fifoKey identifies a named FIFO (its inode) in fifoTable.
type fifoKey struct {
	inode vfs.Inode
}

// fifoTable holds the pipes of the named FIFOs that are open (or being opened).
var fifoTable struct {
	mu sync.Mutex
	m  map[fifoKey]*Pipe
}

// get returns the FIFO's pipe, creating it, with one more file counted.
func (k *fifoKey) get() *Pipe {
	fifoTable.mu.Lock()
	defer fifoTable.mu.Unlock()
	if fifoTable.m == nil {
		fifoTable.m = make(map[fifoKey]*Pipe)
	}
	p := fifoTable.m[*k]
	if p == nil {
		p = newPipe()
		p.fifo = k
		fifoTable.m[*k] = p
	}
	p.mu.Lock()
	p.files++
	p.mu.Unlock()
	return p
}

// put drops a file of the FIFO's pipe; the last one makes the FIFO forget the pipe (and
// its data, as Linux does).
func (k *fifoKey) put(p *Pipe) {
	fifoTable.mu.Lock()
	defer fifoTable.mu.Unlock()
	p.mu.Lock()
	p.files--
	last := p.files == 0
	p.mu.Unlock()
	if last && fifoTable.m[*k] == p {
		delete(fifoTable.m, *k)
	}
}

func init() {
	vfs.RegisterFIFOOpener(openFIFO)
}

// openFIFO opens a named FIFO, or an anonymous pipe again, with Linux's fifo_open rules:
// O_RDONLY waits for a writer unless O_NONBLOCK; O_WRONLY waits for a reader, or fails
// with ENXIO under O_NONBLOCK; O_RDWR never waits. Anonymous pipes never wait.
func openFIFO(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileImpl, vfs.FileOptions, error) {
	opts := vfs.FileOptions{Stream: true}
	var p *Pipe
	isPipe := false
	if i, ok := vd.Dentry.Inode().(*inode); ok {
		p = i.pipe
		isPipe = true
		p.mu.Lock()
		if p.readers == 0 && p.writers == 0 {
			// Both ends are gone (the file was reached through a dangling reference).
			p.mu.Unlock()
			return nil, opts, unix.ENXIO
		}
		p.mu.Unlock()
	} else {
		in := vd.Dentry.Inode()
		if t := reflect.TypeOf(in); t == nil || !t.Comparable() {
			return nil, opts, unix.ENXIO
		}
		k := &fifoKey{inode: in}
		p = k.get()
	}
	f, err := p.open(ctx, flags, isPipe)
	if err != nil {
		if p.fifo != nil {
			p.fifo.put(p)
		}
		return nil, opts, err
	}
	return f, opts, nil
}

// open adds an end to the pipe for flags' access mode.
func (p *Pipe) open(ctx vfs.Context, flags uint32, isPipe bool) (*File, error) {
	nonblock := flags&unix.O_NONBLOCK != 0
	var w waiter
	defer w.done()
	p.mu.Lock()
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		p.rCounter++
		p.readers++
		f := &File{pipe: p, read: true}
		if !isPipe && p.writers == 0 {
			if nonblock {
				// No POLLHUP until a writer has come.
				f.seenW = p.wCounter
			} else if err := p.waitPartnerLocked(ctx, &w, &p.wCounter); err != nil {
				p.readers--
				p.mu.Unlock()
				p.queue.Notify(vfs.WritableEvents | vfs.EventErr)
				return nil, err
			}
		}
		p.mu.Unlock()
		p.queue.Notify(eventPartner)
		return f, nil
	case unix.O_WRONLY:
		if !isPipe && nonblock && p.readers == 0 {
			p.mu.Unlock()
			return nil, unix.ENXIO
		}
		p.wCounter++
		p.writers++
		f := &File{pipe: p, write: true}
		if !isPipe && p.readers == 0 {
			if err := p.waitPartnerLocked(ctx, &w, &p.rCounter); err != nil {
				p.writers--
				p.mu.Unlock()
				p.queue.Notify(vfs.ReadableEvents | vfs.EventHUp)
				return nil, err
			}
		}
		p.mu.Unlock()
		p.queue.Notify(eventPartner)
		return f, nil
	case unix.O_RDWR:
		p.readers++
		p.writers++
		p.rCounter++
		p.wCounter++
		p.mu.Unlock()
		p.queue.Notify(eventPartner)
		return &File{pipe: p, read: true, write: true}, nil
	}
	p.mu.Unlock()
	return nil, unix.EINVAL
}

// waitPartnerLocked waits (p.mu held, released while blocked) until *counter changes: an
// open of the other side. It wakes the other side's waiting opens first.
func (p *Pipe) waitPartnerLocked(ctx vfs.Context, w *waiter, counter *uint64) error {
	start := *counter
	// Wake the other side's waiting opens (for our open) before waiting ourselves, so
	// that we are not woken by our own notification.
	p.mu.Unlock()
	p.queue.Notify(eventPartner)
	p.mu.Lock()
	for *counter == start {
		w.arm(&p.queue, eventPartner)
		p.mu.Unlock()
		err := vfs.Wait(ctx, w.ch)
		p.mu.Lock()
		if err != nil && *counter == start {
			return err
		}
	}
	return nil
}
