// Package pipe owns pipes and FIFOs: the pipe buffer, the read and write ends as file
// implementations, pipe(2)'s anonymous pipes and the open semantics of named FIFOs on any
// filesystem (registered with the VFS as its FIFO opener).
//
// The buffer is kept as Linux keeps it, a ring of page-sized buffers: small writes merge
// into the last page, other writes take whole pages, a pipe holds as many pages as its
// size allows. That makes PIPE_BUF atomicity, O_DIRECT packets, the bytes a non-blocking
// write accepts and the readiness that poll reports the same as Linux's.
//
// Lock order: fifoTable.mu, then Pipe.mu. Pipe.queue's callbacks run after Pipe.mu is
// released (notifications are sent outside it). No lock is held while a task blocks.
package pipe

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

// Sizes.
const (
	// PageSize is the size of one buffer of the ring.
	PageSize = 4096
	// PipeBuf is PIPE_BUF: writes of at most this many bytes are atomic.
	PipeBuf = 4096
	// DefaultSize is a new pipe's capacity (16 pages).
	DefaultSize = 16 * PageSize
	// MaxSize is /proc/sys/fs/pipe-max-size: the largest size F_SETPIPE_SZ gives without
	// CAP_SYS_RESOURCE.
	MaxSize = 1 << 20
)

// capSysResource is CAP_SYS_RESOURCE.
const capSysResource = 24

// eventPartner is the internal event a FIFO open waiting for its other side waits for.
const eventPartner vfs.EventMask = 1 << 24

// pages recycles the buffers' pages.
var pages = sync.Pool{New: func() any { return new([PageSize]byte) }}

// buffer is one slot of the ring: a page with the bytes [off, off+len) unread.
type buffer struct {
	page     *[PageSize]byte
	off, len int
	packet   bool // written in packet mode (O_DIRECT): read whole, at most one per read
	canMerge bool // a later small write may append to it
}

// Pipe is the shared state of a pipe or FIFO.
type Pipe struct {
	queue vfs.WaitQueue

	mu       sync.Mutex
	ring     []buffer // len(ring) is a power of two, at least maxUsage
	head     uint     // next slot to fill (ring index head & (len-1))
	tail     uint     // next slot to read
	maxUsage uint     // slots the pipe may fill (its size in pages)
	bytes    int64    // unread bytes, for FIONREAD
	readers  int
	writers  int
	// rCounter and wCounter count the opens for reading and writing ever made: a FIFO
	// open waits for the other counter to change, and a FIFO reader reports POLLHUP only
	// once a writer has come (and gone) since it opened.
	rCounter, wCounter uint64
	// files counts the open (or opening) files of a FIFO; the FIFO forgets the pipe with
	// the last.
	files int
	fifo  *fifoKey // set for a named FIFO's pipe

	// Attributes of an anonymous pipe's inode.
	ino          uint64
	uid, gid     uint32
	atime, ctime vfs.Timespec
	mtime        vfs.Timespec
}

func newPipe() *Pipe {
	return &Pipe{ring: make([]buffer, DefaultSize/PageSize), maxUsage: DefaultSize / PageSize}
}

func (p *Pipe) fullLocked() bool  { return p.head-p.tail >= p.maxUsage }
func (p *Pipe) emptyLocked() bool { return p.head == p.tail }
func (p *Pipe) slot(i uint) *buffer {
	return &p.ring[i&uint(len(p.ring)-1)]
}

// Size returns the pipe's capacity in bytes (F_GETPIPE_SZ).
func (p *Pipe) Size() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int64(p.maxUsage) * PageSize
}

// Queued returns the unread bytes (FIONREAD).
func (p *Pipe) Queued() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}

// roundSize rounds a requested pipe size as Linux's round_pipe_size: at least a page, a
// power of two; 0 (invalid) above 2^31.
func roundSize(n uint64) uint64 {
	if n > 1<<31 {
		return 0
	}
	if n < PageSize {
		return PageSize
	}
	r := uint64(1)
	for r < n {
		r <<= 1
	}
	return r
}

// SetSize implements F_SETPIPE_SZ: the size is rounded up to a power of two pages; EPERM
// above MaxSize unless privileged (CAP_SYS_RESOURCE) or not growing, EBUSY if the unread
// data would not fit, EINVAL for a size above 2^31. It returns the new size.
func (p *Pipe) SetSize(n uint64, privileged bool) (int64, error) {
	size := roundSize(n)
	slots := uint(size / PageSize)
	if slots == 0 {
		return 0, unix.EINVAL
	}
	p.mu.Lock()
	if slots > p.maxUsage && size > MaxSize && !privileged {
		p.mu.Unlock()
		return 0, unix.EPERM
	}
	used := p.head - p.tail
	if slots < used {
		p.mu.Unlock()
		return 0, unix.EBUSY
	}
	ring := make([]buffer, slots)
	for i := uint(0); i < used; i++ {
		ring[i] = *p.slot(p.tail + i)
	}
	wasFull := p.fullLocked()
	p.ring, p.tail, p.head, p.maxUsage = ring, 0, used, slots
	nowFull := p.fullLocked()
	p.mu.Unlock()
	if wasFull && !nowFull {
		p.queue.Notify(vfs.WritableEvents)
	}
	return int64(size), nil
}

// iter walks a [][]byte as one sequence of bytes.
type iter struct {
	bufs [][]byte
	left int64
}

func newIter(bufs [][]byte) iter {
	it := iter{bufs: bufs}
	for _, b := range bufs {
		it.left += int64(len(b))
	}
	return it
}

// copyOut moves up to len(dst) bytes from the iterator into dst.
func (it *iter) copyOut(dst []byte) int {
	n := 0
	for n < len(dst) && len(it.bufs) > 0 {
		c := copy(dst[n:], it.bufs[0])
		n += c
		if c == len(it.bufs[0]) {
			it.bufs = it.bufs[1:]
		} else {
			it.bufs[0] = it.bufs[0][c:]
		}
	}
	it.left -= int64(n)
	return n
}

// copyIn moves src into the iterator's buffers (as many bytes as fit).
func (it *iter) copyIn(src []byte) int {
	n := 0
	for n < len(src) && len(it.bufs) > 0 {
		c := copy(it.bufs[0], src[n:])
		n += c
		if c == len(it.bufs[0]) {
			it.bufs = it.bufs[1:]
		} else {
			it.bufs[0] = it.bufs[0][c:]
		}
	}
	it.left -= int64(n)
	return n
}

// skip drops up to n bytes of the iterator.
func (it *iter) skip(n int) {
	for n > 0 && len(it.bufs) > 0 {
		c := min(n, len(it.bufs[0]))
		n -= c
		it.left -= int64(c)
		if c == len(it.bufs[0]) {
			it.bufs = it.bufs[1:]
		} else {
			it.bufs[0] = it.bufs[0][c:]
		}
	}
}

// waiter is a blocked reader's, writer's or opener's registration, made on first need.
type waiter struct {
	e  *vfs.WaitEntry
	ch chan struct{}
	q  *vfs.WaitQueue
}

// arm registers the waiter (p.mu held, so that a change after the check that made the
// caller wait is notified).
func (w *waiter) arm(q *vfs.WaitQueue, mask vfs.EventMask) {
	if w.e == nil {
		w.e, w.ch = vfs.NewChannelEntry(mask)
		w.q = q
		q.EventRegister(w.e)
	}
}

func (w *waiter) done() {
	if w.e != nil {
		w.q.EventUnregister(w.e)
	}
}

// read implements read(2) on a read end.
func (p *Pipe) read(ctx vfs.Context, dst [][]byte, nonblock bool) (int64, error) {
	it := newIter(dst)
	if it.left == 0 {
		return 0, nil
	}
	var w waiter
	defer w.done()
	var ret int64
	p.mu.Lock()
	for {
		freed := false
		wasFull := p.fullLocked()
		for !p.emptyLocked() && it.left > 0 {
			b := p.slot(p.tail)
			n := it.copyIn(b.page[b.off : b.off+b.len])
			ret += int64(n)
			b.off += n
			b.len -= n
			p.bytes -= int64(n)
			if b.packet {
				// The rest of a packet that did not fit is dropped, and one read
				// returns one packet.
				p.bytes -= int64(b.len)
				b.len = 0
				it.left = 0
			}
			if b.len == 0 {
				pages.Put(b.page)
				*b = buffer{}
				p.tail++
				freed = true
			}
		}
		if freed && wasFull {
			p.mu.Unlock()
			p.queue.Notify(vfs.WritableEvents)
			p.mu.Lock()
		}
		if ret > 0 || p.writers == 0 {
			// Data (all that was there, or all that was asked for), or end of file.
			break
		}
		if err := p.waitDataLocked(ctx, &w, nonblock); err != nil {
			p.mu.Unlock()
			return 0, err
		}
	}
	p.mu.Unlock()
	return ret, nil
}

// waitDataLocked waits until the pipe has data or no writer (p.mu is held, and released
// while waiting); EAGAIN instead of waiting if nonblock.
func (p *Pipe) waitDataLocked(ctx vfs.Context, w *waiter, nonblock bool) error {
	for p.emptyLocked() && p.writers > 0 {
		if nonblock {
			return unix.EAGAIN
		}
		w.arm(&p.queue, vfs.ReadableEvents|vfs.EventHUp)
		p.mu.Unlock()
		err := vfs.Wait(ctx, w.ch)
		p.mu.Lock()
		if err != nil {
			return err
		}
	}
	return nil
}

// peek copies up to len(dst) unread bytes without consuming them (tee(2)), waiting as
// read does for data; 0 at end of file (empty, no writer).
func (p *Pipe) peek(ctx vfs.Context, dst []byte, nonblock bool) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	var w waiter
	defer w.done()
	p.mu.Lock()
	if err := p.waitDataLocked(ctx, &w, nonblock); err != nil {
		p.mu.Unlock()
		return 0, err
	}
	n := 0
	for i := p.tail; i != p.head && n < len(dst); i++ {
		b := p.slot(i)
		n += copy(dst[n:], b.page[b.off:b.off+b.len])
	}
	p.mu.Unlock()
	return n, nil
}

// write implements write(2) on a write end.
func (p *Pipe) write(ctx vfs.Context, src [][]byte, nonblock, packet bool) (int64, error) {
	it := newIter(src)
	total := it.left
	if total == 0 {
		return 0, nil
	}
	var w waiter
	defer w.done()
	var ret int64
	added := false
	p.mu.Lock()
	if p.readers == 0 {
		p.mu.Unlock()
		return 0, unix.EPIPE
	}
	// Merge the write's last partial page into the last buffer if it fits whole (so a
	// small write stays atomic and the rest of a large one is page aligned).
	if chars := int(total & (PageSize - 1)); chars != 0 && !p.emptyLocked() {
		b := p.slot(p.head - 1)
		if end := b.off + b.len; b.canMerge && end+chars <= PageSize {
			n := it.copyOut(b.page[end : end+chars])
			b.len += n
			p.bytes += int64(n)
			ret += int64(n)
			added = true
		}
	}
	for it.left > 0 {
		if p.readers == 0 {
			if ret == 0 {
				p.mu.Unlock()
				return 0, unix.EPIPE
			}
			break
		}
		if !p.fullLocked() {
			pg := pages.Get().(*[PageSize]byte)
			n := it.copyOut(pg[:])
			*p.slot(p.head) = buffer{page: pg, len: n, packet: packet, canMerge: !packet}
			p.head++
			p.bytes += int64(n)
			ret += int64(n)
			added = true
			continue
		}
		if nonblock {
			if ret == 0 {
				p.mu.Unlock()
				return 0, unix.EAGAIN
			}
			break
		}
		w.arm(&p.queue, vfs.WritableEvents|vfs.EventErr)
		if added {
			added = false
			p.mtime = vfs.Now()
			p.ctime = p.mtime
			p.mu.Unlock()
			p.queue.Notify(vfs.ReadableEvents)
		} else {
			p.mu.Unlock()
		}
		if err := vfs.Wait(ctx, w.ch); err != nil {
			if ret == 0 {
				return 0, err
			}
			return ret, nil
		}
		p.mu.Lock()
	}
	if added {
		p.mtime = vfs.Now()
		p.ctime = p.mtime
	}
	p.mu.Unlock()
	if added {
		p.queue.Notify(vfs.ReadableEvents)
	}
	return ret, nil
}

// readiness returns the events of an end opened for reading and/or writing; seenW is the
// reader's wCounter at open (POLLHUP needs a writer seen since).
func (p *Pipe) readiness(read, write bool, seenW uint64) vfs.EventMask {
	var m vfs.EventMask
	p.mu.Lock()
	if read {
		if !p.emptyLocked() {
			m |= vfs.ReadableEvents
		}
		if p.writers == 0 && p.wCounter != seenW {
			m |= vfs.EventHUp
		}
	}
	if write {
		if !p.fullLocked() {
			m |= vfs.WritableEvents
		}
		if p.readers == 0 {
			m |= vfs.EventErr
		}
	}
	p.mu.Unlock()
	return m
}

// release drops an end.
func (p *Pipe) release(read, write bool) {
	p.mu.Lock()
	if read {
		p.readers--
	}
	if write {
		p.writers--
	}
	if p.readers == 0 && p.writers == 0 {
		p.freeLocked()
	}
	p.mu.Unlock()
	p.queue.Notify(vfs.ReadableEvents | vfs.WritableEvents | vfs.EventErr | vfs.EventHUp)
	if p.fifo != nil {
		p.fifo.put(p)
	}
}

// freeLocked drops the unread data (the last end is gone).
func (p *Pipe) freeLocked() {
	for p.tail != p.head {
		b := p.slot(p.tail)
		pages.Put(b.page)
		*b = buffer{}
		p.tail++
	}
	p.bytes = 0
}

// File is an open end of a pipe or FIFO (read, write or both).
type File struct {
	vfs.NoFileOps
	pipe     *Pipe
	read     bool
	write    bool
	seenW    uint64 // the pipe's wCounter when a reader opened
	nonblock atomic.Bool
	packet   atomic.Bool // O_DIRECT
}

// Pipe returns the file's pipe.
func (f *File) Pipe() *Pipe { return f.pipe }

// StatusFlagsChanged implements vfs.StatusFlagsObserver.
func (f *File) StatusFlagsChanged(flags uint32) {
	f.nonblock.Store(flags&unix.O_NONBLOCK != 0)
	f.packet.Store(flags&unix.O_DIRECT != 0)
}

// Release implements vfs.FileImpl.Release.
func (f *File) Release() { f.pipe.release(f.read, f.write) }

// Read implements vfs.FileImpl.Read.
func (f *File) Read(ctx vfs.Context, dst [][]byte, off int64) (int64, error) {
	return f.pipe.read(ctx, dst, f.nonblock.Load())
}

// Write implements vfs.FileImpl.Write.
func (f *File) Write(ctx vfs.Context, src [][]byte, off int64, appendMode bool) (int64, int64, error) {
	n, err := f.pipe.write(ctx, src, f.nonblock.Load(), f.packet.Load())
	return n, off, err
}

// Ioctl implements vfs.FileImpl.Ioctl: FIONREAD (TIOCINQ).
func (f *File) Ioctl(ctx vfs.Context, fd *vfs.FileDescription, cmd uint32, arg uintptr) (uintptr, error) {
	if cmd != unix.TIOCINQ {
		return 0, unix.ENOTTY
	}
	n := uint32(f.pipe.Queued())
	b := [4]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}
	_, err := ctx.CopyOut(arg, b[:])
	return 0, err
}

// Readiness implements vfs.Waitable.
func (f *File) Readiness(mask vfs.EventMask) vfs.EventMask {
	return f.pipe.readiness(f.read, f.write, f.seenW)
}

// EventRegister implements vfs.Waitable.
func (f *File) EventRegister(e *vfs.WaitEntry) error {
	f.pipe.queue.EventRegister(e)
	return nil
}

// EventUnregister implements vfs.Waitable.
func (f *File) EventUnregister(e *vfs.WaitEntry) { f.pipe.queue.EventUnregister(e) }

// Peek copies up to len(dst) unread bytes of the pipe without consuming them, waiting
// for data unless nonblock (EAGAIN); 0 at end of file.
func (f *File) Peek(ctx vfs.Context, dst []byte, nonblock bool) (int, error) {
	return f.pipe.peek(ctx, dst, nonblock)
}

// Free returns the bytes the pipe can take before it is full.
func (f *File) Free() int64 {
	f.pipe.mu.Lock()
	defer f.pipe.mu.Unlock()
	return int64(f.pipe.maxUsage-(f.pipe.head-f.pipe.tail)) * PageSize
}

// PipeSize implements F_GETPIPE_SZ.
func (f *File) PipeSize() int64 { return f.pipe.Size() }

// SetPipeSize implements F_SETPIPE_SZ for a caller with the given credentials.
func (f *File) SetPipeSize(ctx vfs.Context, n uint64) (int64, error) {
	return f.pipe.SetSize(n, ctx.Credentials().HasCapability(capSysResource))
}

// Peeker is implemented by pipe files: tee(2) copies what Peek returns.
type Peeker interface {
	Peek(ctx vfs.Context, dst []byte, nonblock bool) (int, error)
	Free() int64
	PipeSize() int64
}

// Sizer is implemented by files with a pipe size (fcntl F_GETPIPE_SZ, F_SETPIPE_SZ).
type Sizer interface {
	PipeSize() int64
	SetPipeSize(ctx vfs.Context, n uint64) (int64, error)
}
