// Package timerfd owns timerfd objects (timerfd_create(2)): a timer on a wall clock whose
// expirations a read returns as a 64-bit count (and resets), blocking or failing with
// EAGAIN while there are none, with the readiness that poll and epoll report.
//
// Lock order: the kernel.Timer's lock, then File.mu (the timer counts its expirations
// into the file); wait-queue notifications are sent after File.mu is released.
package timerfd

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// Flags of timerfd_create(2) and timerfd_settime(2).
const (
	Cloexec       = unix.TFD_CLOEXEC
	Nonblock      = unix.TFD_NONBLOCK
	TimerAbstime  = unix.TFD_TIMER_ABSTIME
	CancelOnSet   = 2 // TFD_TIMER_CANCEL_ON_SET
	setTicksIoctl = 0x40085400
)

// File is a timerfd.
type File struct {
	vfs.NoFileOps
	queue    vfs.WaitQueue
	nonblock atomic.Bool
	timer    *kernel.Timer

	mu    sync.Mutex
	ticks uint64
}

// New returns a disarmed timerfd on clock c with flags (Nonblock; the caller handles
// Cloexec).
func New(ctx vfs.Context, v *vfs.VirtualFilesystem, c kernel.Clock, flags uint32) *vfs.FileDescription {
	f := &File{}
	f.nonblock.Store(flags&Nonblock != 0)
	f.timer = kernel.NewTimer(c, f.expired)
	vd := v.NewAnonVirtualDentry(ctx, &vfs.AnonInode{Name: "timerfd"})
	return vfs.NewAnonFileDescription(vd, f, unix.O_RDWR|flags&Nonblock, vfs.FileOptions{Stream: true})
}

// expired counts n expirations (called under the timer's lock).
func (f *File) expired(n uint64) {
	f.mu.Lock()
	f.ticks = satAdd(f.ticks, n)
	f.mu.Unlock()
	f.queue.Notify(vfs.ReadableEvents)
}

func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}

// SetTime arms the timer (timerfd_settime): the first expiration at value (on the clock if
// abs, else from now; 0 disarms) and then every interval. The count of expirations not
// yet read starts again from zero. It returns the old setting.
func (f *File) SetTime(value, interval int64, abs bool) (oldValue, oldInterval int64) {
	if value == 0 {
		interval = 0
	}
	return f.timer.Set(value, interval, abs, func() {
		f.mu.Lock()
		f.ticks = 0
		f.mu.Unlock()
	})
}

// GetTime returns the time left until the next expiration and the interval
// (timerfd_gettime).
func (f *File) GetTime() (value, interval int64) { return f.timer.Get() }

// StatusFlagsChanged implements vfs.StatusFlagsObserver.
func (f *File) StatusFlagsChanged(flags uint32) { f.nonblock.Store(flags&unix.O_NONBLOCK != 0) }

// Release implements vfs.FileImpl.Release.
func (f *File) Release() { f.timer.Stop(nil) }

// Read implements vfs.FileImpl.Read: 8 bytes, the number of expirations since the timer
// was set or last read.
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
		if v := f.ticks; v > 0 {
			f.ticks = 0
			f.mu.Unlock()
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], v)
			vfs.CopyToBufs(dst, 0, b[:])
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

// Seek implements vfs.FileImpl.Seek: lseek succeeds and changes nothing (noop_llseek).
func (f *File) Seek(ctx vfs.Context, cur, offset int64, whence int) (int64, error) {
	return 0, nil
}

// Ioctl implements vfs.FileImpl.Ioctl: TFD_IOC_SET_TICKS sets the count of expirations
// (checkpoint/restore); 0 is EINVAL.
func (f *File) Ioctl(ctx vfs.Context, fd *vfs.FileDescription, cmd uint32, arg uintptr) (uintptr, error) {
	if cmd != setTicksIoctl {
		return 0, unix.ENOTTY
	}
	var b [8]byte
	if _, err := ctx.CopyIn(arg, b[:]); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(b[:])
	if v == 0 {
		return 0, unix.EINVAL
	}
	f.mu.Lock()
	f.ticks = v
	f.mu.Unlock()
	f.queue.Notify(vfs.ReadableEvents)
	return 0, nil
}

// Readiness implements vfs.Waitable.
func (f *File) Readiness(mask vfs.EventMask) vfs.EventMask {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ticks > 0 {
		return vfs.ReadableEvents
	}
	return 0
}

// EventRegister implements vfs.Waitable.
func (f *File) EventRegister(e *vfs.WaitEntry) error {
	f.queue.EventRegister(e)
	return nil
}

// EventUnregister implements vfs.Waitable.
func (f *File) EventUnregister(e *vfs.WaitEntry) { f.queue.EventUnregister(e) }
