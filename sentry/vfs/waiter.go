package vfs

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Readiness: what poll(2), select(2) and epoll(7) ask of a file, and how a task waits for
// it to change.
//
// A FileImpl whose readiness changes implements Waitable: Readiness reports the events
// that hold now, and EventRegister/EventUnregister add and remove a WaitEntry on a
// WaitQueue that the file Notifies (after the change, with the events that may have
// become true). A FileImpl that does not implement Waitable is always readable and
// writable (DefaultEvents), and epoll refuses it with EPERM, as Linux does for files
// without a poll method.
//
// Lock order: WaitQueue.mu is held while the entries' callbacks run; a callback must not
// register or unregister on the queue that calls it. Callbacks of one queue may notify
// other queues (epoll), always from the watched file towards its watchers.

// EventMask is a set of poll(2) / epoll(7) event bits.
type EventMask uint32

// Events (the POLL* and EPOLL* values, which are the same bits).
const (
	EventIn     EventMask = unix.POLLIN
	EventPri    EventMask = unix.POLLPRI
	EventOut    EventMask = unix.POLLOUT
	EventErr    EventMask = unix.POLLERR
	EventHUp    EventMask = unix.POLLHUP
	EventNVal   EventMask = unix.POLLNVAL
	EventRdNorm EventMask = 0x040
	EventRdBand EventMask = 0x080
	EventWrNorm EventMask = 0x100
	EventWrBand EventMask = 0x200
	EventMsg    EventMask = 0x400
	EventRdHUp  EventMask = unix.POLLRDHUP

	// DefaultEvents is the readiness of a file that cannot wait (Linux's
	// DEFAULT_POLLMASK): always readable and writable.
	DefaultEvents = EventIn | EventOut | EventRdNorm | EventWrNorm
	// ReadableEvents and WritableEvents are what a reader and a writer wait for.
	ReadableEvents = EventIn | EventRdNorm
	WritableEvents = EventOut | EventWrNorm
	// AllEvents is every readiness bit.
	AllEvents EventMask = 0xffff
)

// Waitable is implemented by file implementations whose readiness changes.
type Waitable interface {
	// Readiness returns the events in mask (or more) that hold now.
	Readiness(mask EventMask) EventMask
	// EventRegister adds e to the file's wait queue; EPERM if the file cannot be
	// waited on after all (a host regular file).
	EventRegister(e *WaitEntry) error
	// EventUnregister removes e, registered before.
	EventUnregister(e *WaitEntry)
}

// EventCallback is told of the events that may have become true on a queue.
type EventCallback interface {
	NotifyEvent(mask EventMask)
}

// WaitEntry is one waiter on a WaitQueue: it is told of notifications that include one of
// the events of its Mask. A WaitEntry is on at most one queue at a time.
type WaitEntry struct {
	// Mask is the events the waiter cares for; set before registering.
	Mask EventMask
	// Callback, if set, is called on notification; otherwise C (if set) receives a
	// token without blocking.
	Callback EventCallback
	C        chan struct{}

	prev, next *WaitEntry
	queue      *WaitQueue
}

// NewChannelEntry returns an entry that wakes the returned channel (buffered, so a
// notification between registering and waiting is not lost).
func NewChannelEntry(mask EventMask) (*WaitEntry, chan struct{}) {
	ch := make(chan struct{}, 1)
	return &WaitEntry{Mask: mask, C: ch}, ch
}

func (e *WaitEntry) notify(mask EventMask) {
	if e.Callback != nil {
		e.Callback.NotifyEvent(mask)
		return
	}
	if e.C != nil {
		select {
		case e.C <- struct{}{}:
		default:
		}
	}
}

// WaitQueue is a list of waiters. The zero value is an empty queue.
type WaitQueue struct {
	n          atomic.Int32 // entries, read without the lock by Notify's fast path
	mu         sync.Mutex
	head, tail *WaitEntry
}

// EventRegister adds e to the queue.
func (q *WaitQueue) EventRegister(e *WaitEntry) {
	q.mu.Lock()
	if e.queue == nil {
		e.queue = q
		e.prev, e.next = q.tail, nil
		if q.tail != nil {
			q.tail.next = e
		} else {
			q.head = e
		}
		q.tail = e
		q.n.Add(1)
	}
	q.mu.Unlock()
}

// EventUnregister removes e if it is on the queue.
func (q *WaitQueue) EventUnregister(e *WaitEntry) {
	q.mu.Lock()
	if e.queue == q {
		if e.prev != nil {
			e.prev.next = e.next
		} else {
			q.head = e.next
		}
		if e.next != nil {
			e.next.prev = e.prev
		} else {
			q.tail = e.prev
		}
		e.prev, e.next, e.queue = nil, nil, nil
		q.n.Add(-1)
	}
	q.mu.Unlock()
}

// Notify tells every waiter interested in one of the events of mask.
func (q *WaitQueue) Notify(mask EventMask) {
	if q.n.Load() == 0 {
		return
	}
	q.mu.Lock()
	for e := q.head; e != nil; e = e.next {
		if e.Mask&mask != 0 {
			e.notify(mask)
		}
	}
	q.mu.Unlock()
}

// Empty reports whether the queue has no waiters.
func (q *WaitQueue) Empty() bool { return q.n.Load() == 0 }

// Readiness returns the events that hold on the file now: the implementation's, or
// DefaultEvents for files that cannot wait. Callers mask the result.
func (fd *FileDescription) Readiness(mask EventMask) EventMask {
	if w, ok := fd.impl.(Waitable); ok {
		return w.Readiness(mask)
	}
	return DefaultEvents
}

// EventRegister adds e to the file's wait queue: EPERM if the file cannot wait (as
// epoll_ctl reports it).
func (fd *FileDescription) EventRegister(e *WaitEntry) error {
	if w, ok := fd.impl.(Waitable); ok {
		return w.EventRegister(e)
	}
	return unix.EPERM
}

// EventUnregister removes e, added by EventRegister.
func (fd *FileDescription) EventUnregister(e *WaitEntry) {
	if w, ok := fd.impl.(Waitable); ok {
		w.EventUnregister(e)
	}
}

// ERESTARTSYS is the kernel's "interrupted, restart if SA_RESTART" errno (the value of
// kernel.ERESTARTSYS, which this package cannot import): blocking file operations
// return it when a signal interrupts their wait.
const ERESTARTSYS = unix.Errno(512)

// Blocker is implemented by contexts whose waits a signal interrupts (*kernel.Task).
type Blocker interface {
	// Block waits until ch fires (ok), the deadline passes (zero: never), or the caller
	// is interrupted.
	Block(ch <-chan struct{}, deadline time.Time) (ok, interrupted bool)
}

// Wait blocks ctx until ch fires. It returns ERESTARTSYS if a signal interrupts the
// wait first. A context that is not a Blocker (the sentry's own) waits uninterrupted.
func Wait(ctx Context, ch <-chan struct{}) error {
	if b, ok := ctx.(Blocker); ok {
		if _, interrupted := b.Block(ch, time.Time{}); interrupted {
			return ERESTARTSYS
		}
		return nil
	}
	<-ch
	return nil
}

// releaseHooks are functions to call when a file description's last reference goes,
// before its implementation is released (epoll forgets the files it watches).
type releaseHooks struct {
	mu sync.Mutex
	m  map[any]func()
}

// AddReleaseHook arranges for fn to run (once) when the last reference to fd goes,
// before the implementation's Release. key identifies the hook for RemoveReleaseHook;
// adding a second hook with the same key replaces the first.
func (fd *FileDescription) AddReleaseHook(key any, fn func()) {
	fd.hooks.mu.Lock()
	if fd.hooks.m == nil {
		fd.hooks.m = make(map[any]func())
	}
	fd.hooks.m[key] = fn
	fd.hooks.mu.Unlock()
}

// RemoveReleaseHook removes the hook added with key, if it has not run.
func (fd *FileDescription) RemoveReleaseHook(key any) {
	fd.hooks.mu.Lock()
	delete(fd.hooks.m, key)
	fd.hooks.mu.Unlock()
}

// runReleaseHooks runs and forgets the release hooks, without holding the hooks' lock
// (a hook may take locks under which RemoveReleaseHook is called).
func (fd *FileDescription) runReleaseHooks() {
	fd.hooks.mu.Lock()
	m := fd.hooks.m
	fd.hooks.m = nil
	fd.hooks.mu.Unlock()
	for _, fn := range m {
		fn()
	}
}

// NewAnonFileDescription returns a file description for a file without a path (pipes,
// eventfd, epoll) whose F_GETFL flags are exactly flags: such files do not get the
// O_LARGEFILE that open(2) adds.
func NewAnonFileDescription(vd VirtualDentry, impl FileImpl, flags uint32, opts FileOptions) *FileDescription {
	fd := NewFileDescription(vd, impl, flags, opts)
	fd.flags.Store(flags &^ unix.O_CLOEXEC)
	return fd
}

// IsAnon reports whether m holds files without a path (VirtualFilesystem.AnonMount).
func (m *Mount) IsAnon() bool { return m.vfs != nil && m == m.vfs.anon }

// AnonFIFO is implemented by the inodes of anonymous pipes: opening one again (through
// /proc/self/fd) goes to the FIFO opener, as a named FIFO does. Other files without a
// path whose type is S_IFIFO (host pipes) are opened by their inode.
type AnonFIFO interface {
	IsAnonFIFO()
}

var fifoOpener atomic.Pointer[DeviceOpener]

// RegisterFIFOOpener makes opening a FIFO (a named one on any filesystem, or an
// anonymous pipe's AnonFIFO inode) call open, which implements the FIFO semantics
// (sentry/fs/pipe).
func RegisterFIFOOpener(open DeviceOpener) {
	fifoOpener.Store(&open)
}

// openFIFO opens the FIFO at vd through the registered opener; a nil FileImpl (and no
// error) when the file is not one the opener handles.
func (v *VirtualFilesystem) openFIFO(ctx Context, vd VirtualDentry, flags uint32) (FileImpl, FileOptions, error) {
	open := fifoOpener.Load()
	if open == nil {
		return nil, FileOptions{}, nil
	}
	if vd.Mount == v.anon {
		if _, ok := vd.Dentry.inode.(AnonFIFO); !ok {
			return nil, FileOptions{}, nil
		}
	}
	return (*open)(ctx, vd, flags)
}

// AnonInode is the inode of files such as eventfd and epoll instances (Linux's
// anon_inode): mode 0600 with no file type, owned by root, and one inode number that all
// of them share. Name is what /proc/self/fd shows between the brackets of
// "anon_inode:[...]".
type AnonInode struct {
	NoInodeOps
	Name string
}

var (
	anonInodeDev  = NewAnonDev()
	anonInodeTime = Now()
)

// anonInodeIno is the inode number of every AnonInode.
const anonInodeIno = 1

// Stat implements Inode.Stat.
func (i *AnonInode) Stat(ctx Context) (Stat, error) {
	return Stat{Mask: StatxBasicStats, Blksize: 4096, Nlink: 1, Mode: 0600, Ino: anonInodeIno,
		Atime: anonInodeTime, Mtime: anonInodeTime, Ctime: anonInodeTime, DevMinor: anonInodeDev}, nil
}

// PathName implements PathNamer.
func (i *AnonInode) PathName() string { return "anon_inode:[" + i.Name + "]" }
