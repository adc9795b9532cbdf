// Package eventfd owns eventfd objects (eventfd(2)): a 64-bit counter that write adds to
// and read takes (all of it, or one in semaphore mode), blocking or failing with EAGAIN
// when the counter is zero (read) or would pass 0xfffffffffffffffe (write), with the
// readiness that poll and epoll report.
//
// Lock order: File.mu, then nothing; notifications are sent after File.mu is released.
package eventfd

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

// Max is the largest value the counter holds.
const Max = ^uint64(0) - 1

// Flags of eventfd2(2).
const (
	Semaphore = 1 // EFD_SEMAPHORE
	Cloexec   = unix.O_CLOEXEC
	Nonblock  = unix.O_NONBLOCK
)

// File is an eventfd.
type File struct {
	vfs.NoFileOps
	queue     vfs.WaitQueue
	semaphore bool
	nonblock  atomic.Bool

	mu    sync.Mutex
	count uint64
}

// New returns an eventfd with the initial count and flags (Semaphore, Nonblock; the
// caller handles Cloexec).
func New(ctx vfs.Context, v *vfs.VirtualFilesystem, initval uint64, flags uint32) *vfs.FileDescription {
	f := &File{semaphore: flags&Semaphore != 0, count: initval}
	vd := v.NewAnonVirtualDentry(ctx, &vfs.AnonInode{Name: "eventfd"})
	return vfs.NewAnonFileDescription(vd, f, unix.O_RDWR|flags&Nonblock, vfs.FileOptions{Stream: true})
}

// StatusFlagsChanged implements vfs.StatusFlagsObserver.
func (f *File) StatusFlagsChanged(flags uint32) { f.nonblock.Store(flags&unix.O_NONBLOCK != 0) }

// Count returns the counter (for /proc/self/fdinfo and tests).
func (f *File) Count() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// Read implements vfs.FileImpl.Read: 8 bytes, the counter (or 1 in semaphore mode).
func (f *File) Read(ctx vfs.Context, dst [][]byte, off int64) (int64, error) {
	if off >= 0 {
		return 0, unix.ESPIPE // pread
	}
	if vfs.BufsLen(dst) < 8 {
		return 0, unix.EINVAL
	}
	var w *vfs.WaitEntry
	var ch chan struct{}
	defer func() {
		if w != nil {
			f.queue.EventUnregister(w)
		}
	}()
	for {
		f.mu.Lock()
		if f.count > 0 {
			v := f.count
			if f.semaphore {
				v = 1
			}
			f.count -= v
			f.mu.Unlock()
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], v)
			vfs.CopyToBufs(dst, 0, b[:])
			f.queue.Notify(vfs.WritableEvents)
			return 8, nil
		}
		if f.nonblock.Load() {
			f.mu.Unlock()
			return 0, unix.EAGAIN
		}
		if w == nil {
			w, ch = vfs.NewChannelEntry(vfs.ReadableEvents)
			f.queue.EventRegister(w)
		}
		f.mu.Unlock()
		if err := vfs.Wait(ctx, ch); err != nil {
			return 0, err
		}
	}
}

// Write implements vfs.FileImpl.Write: 8 bytes added to the counter; EINVAL for any
// other size (current Linux refuses more too) or for 0xffffffffffffffff.
func (f *File) Write(ctx vfs.Context, src [][]byte, off int64, appendMode bool) (int64, int64, error) {
	if off >= 0 {
		return 0, off, unix.ESPIPE // pwrite
	}
	if vfs.BufsLen(src) != 8 {
		return 0, off, unix.EINVAL
	}
	var b [8]byte
	vfs.CopyFromBufs(b[:], src)
	v := binary.LittleEndian.Uint64(b[:])
	if v == ^uint64(0) {
		return 0, off, unix.EINVAL
	}
	var w *vfs.WaitEntry
	var ch chan struct{}
	defer func() {
		if w != nil {
			f.queue.EventUnregister(w)
		}
	}()
	for {
		f.mu.Lock()
		if Max-f.count >= v {
			f.count += v
			f.mu.Unlock()
			if v != 0 {
				f.queue.Notify(vfs.ReadableEvents)
			}
			return 8, off, nil
		}
		if f.nonblock.Load() {
			f.mu.Unlock()
			return 0, off, unix.EAGAIN
		}
		if w == nil {
			w, ch = vfs.NewChannelEntry(vfs.WritableEvents)
			f.queue.EventRegister(w)
		}
		f.mu.Unlock()
		if err := vfs.Wait(ctx, ch); err != nil {
			return 0, off, err
		}
	}
}

// Seek implements vfs.FileImpl.Seek: lseek succeeds and changes nothing (noop_llseek).
func (f *File) Seek(ctx vfs.Context, cur, offset int64, whence int) (int64, error) {
	return 0, nil
}

// Readiness implements vfs.Waitable.
func (f *File) Readiness(mask vfs.EventMask) vfs.EventMask {
	f.mu.Lock()
	defer f.mu.Unlock()
	var m vfs.EventMask
	if f.count > 0 {
		m |= vfs.ReadableEvents
	}
	if f.count == ^uint64(0) {
		m |= vfs.EventErr
	}
	if f.count < Max {
		m |= vfs.WritableEvents
	}
	return m
}

// EventRegister implements vfs.Waitable.
func (f *File) EventRegister(e *vfs.WaitEntry) error {
	f.queue.EventRegister(e)
	return nil
}

// EventUnregister implements vfs.Waitable.
func (f *File) EventUnregister(e *vfs.WaitEntry) { f.queue.EventUnregister(e) }

// Signal adds n to the counter from inside the sentry (eventfd_signal): it never blocks,
// and saturates at the most the counter holds.
func (f *File) Signal(n uint64) {
	f.mu.Lock()
	if Max-f.count < n {
		f.count = Max
	} else {
		f.count += n
	}
	f.mu.Unlock()
	f.queue.Notify(vfs.ReadableEvents)
}
