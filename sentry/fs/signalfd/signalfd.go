// Package signalfd owns signalfd objects (signalfd(2)): a file whose reads take the
// pending signals of a mask from the reading task (its own first, then its process's),
// each as a 128-byte struct signalfd_siginfo, and which poll and epoll report readable
// while such a signal is pending.
//
// As on Linux, a read takes signals from the task that reads. Readiness has no task to
// ask, so it reports the signals pending for the task that created the file (and its
// process): the same as Linux for the usual single-threaded or creating-thread use.
// Waiters are woken through the thread group's signal queue (kernel.Task.SignalWaiters),
// which every queued signal notifies.
package signalfd

import (
	"encoding/binary"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// Flags of signalfd4(2).
const (
	Cloexec  = unix.O_CLOEXEC
	Nonblock = unix.O_NONBLOCK
)

// SiginfoSize is the size of struct signalfd_siginfo.
const SiginfoSize = 128

// File is a signalfd.
type File struct {
	vfs.NoFileOps
	// task created the file: its signals are what Readiness reports and its thread
	// group's signal queue is what waiters register on.
	task     *kernel.Task
	nonblock atomic.Bool
	mask     atomic.Uint64
}

// New returns a signalfd for mask (SIGKILL and SIGSTOP are dropped) created by t, with
// flags (Nonblock; the caller handles Cloexec).
func New(t *kernel.Task, v *vfs.VirtualFilesystem, mask kernel.SignalSet, flags uint32) *vfs.FileDescription {
	f := &File{task: t}
	f.SetMask(mask)
	vd := v.NewAnonVirtualDentry(t, &vfs.AnonInode{Name: "signalfd"})
	return vfs.NewAnonFileDescription(vd, f, unix.O_RDWR|flags&Nonblock, vfs.FileOptions{Stream: true})
}

// SetMask replaces the signals the file takes; SIGKILL and SIGSTOP are silently dropped.
func (f *File) SetMask(mask kernel.SignalSet) {
	f.mask.Store(uint64(mask &^ kernel.Unblockable))
	// A reader or poller may now find a signal it waits for.
	f.task.SignalWaiters().Notify(vfs.ReadableEvents)
}

// Mask returns the signals the file takes.
func (f *File) Mask() kernel.SignalSet { return kernel.SignalSet(f.mask.Load()) }

// StatusFlagsChanged implements vfs.StatusFlagsObserver.
func (f *File) StatusFlagsChanged(flags uint32) { f.nonblock.Store(flags&unix.O_NONBLOCK != 0) }

// Read implements vfs.FileImpl.Read: as many signalfd_siginfo as fit in dst, at least
// one (waiting for it unless the file is non-blocking); EINVAL for a smaller buffer.
func (f *File) Read(ctx vfs.Context, dst [][]byte, off int64) (int64, error) {
	room := vfs.BufsLen(dst) / SiginfoSize
	if room == 0 {
		return 0, unix.EINVAL
	}
	t, ok := ctx.(*kernel.Task)
	if !ok {
		t = f.task
	}
	var w *vfs.WaitEntry
	var ch chan struct{}
	defer func() {
		if w != nil {
			t.SignalWaiters().EventUnregister(w)
		}
	}()
	n := 0
	for n < room {
		info, ok := t.DequeueSignal(f.Mask())
		if ok {
			b := Encode(&info)
			vfs.CopyToBufs(dst, n*SiginfoSize, b[:])
			n++
			continue
		}
		if n > 0 {
			break
		}
		if f.nonblock.Load() {
			return 0, unix.EAGAIN
		}
		if w == nil {
			// Register before looking again, so that a signal queued in between wakes us.
			w, ch = vfs.NewChannelEntry(vfs.ReadableEvents)
			t.SignalWaiters().EventRegister(w)
			continue
		}
		if err := vfs.Wait(ctx, ch); err != nil {
			return 0, err
		}
	}
	return int64(n * SiginfoSize), nil
}

// Readiness implements vfs.Waitable: readable while a signal of the mask is pending for
// the creating task or its process.
func (f *File) Readiness(mask vfs.EventMask) vfs.EventMask {
	if f.task.PendingSignals()&f.Mask() != 0 {
		return vfs.ReadableEvents
	}
	return 0
}

// EventRegister implements vfs.Waitable.
func (f *File) EventRegister(e *vfs.WaitEntry) error {
	f.task.SignalWaiters().EventRegister(e)
	return nil
}

// EventUnregister implements vfs.Waitable.
func (f *File) EventUnregister(e *vfs.WaitEntry) { f.task.SignalWaiters().EventUnregister(e) }

// Seek implements vfs.FileImpl.Seek: lseek succeeds and changes nothing.
func (f *File) Seek(ctx vfs.Context, cur, offset int64, whence int) (int64, error) {
	return 0, nil
}

// si_code values of the kernel's siginfo layouts that Encode tells apart.
const (
	siSigio  = -5
	sigPoll  = int32(unix.SIGIO)
	sigChld  = int32(unix.SIGCHLD)
	siKernel = kernel.SI_KERNEL
)

// Encode returns info as a struct signalfd_siginfo: the fields of the siginfo_t the
// signal would be delivered with, by the union member its signal and si_code select.
func Encode(info *kernel.SignalInfo) [SiginfoSize]byte {
	si := info.SiginfoBytes()
	le := binary.LittleEndian
	u32 := func(off int) uint32 { return le.Uint32(si[off:]) }
	u64 := func(off int) uint64 { return le.Uint64(si[off:]) }
	var b [SiginfoSize]byte
	signo, code := int32(u32(0)), int32(u32(8))
	le.PutUint32(b[0:], uint32(signo)) // ssi_signo
	le.PutUint32(b[4:], u32(4))        // ssi_errno
	le.PutUint32(b[8:], uint32(code))  // ssi_code
	pidUID := func() {
		le.PutUint32(b[12:], u32(16)) // ssi_pid
		le.PutUint32(b[16:], u32(20)) // ssi_uid
	}
	sigval := func() {
		le.PutUint32(b[44:], u32(24)) // ssi_int
		le.PutUint64(b[48:], u64(24)) // ssi_ptr
	}
	switch {
	case code == kernel.SI_TIMER:
		le.PutUint32(b[24:], u32(16)) // ssi_tid: the timer ID
		le.PutUint32(b[32:], u32(20)) // ssi_overrun
		sigval()
	case code == siSigio:
		le.PutUint32(b[28:], uint32(u64(16))) // ssi_band
		le.PutUint32(b[20:], u32(24))         // ssi_fd
	case code < 0:
		pidUID()
		sigval()
	case code == kernel.SI_USER || code >= siKernel:
		pidUID()
	case signo == sigChld:
		pidUID()
		le.PutUint32(b[40:], u32(24)) // ssi_status
		le.PutUint64(b[56:], u64(32)) // ssi_utime
		le.PutUint64(b[64:], u64(40)) // ssi_stime
	case signo == int32(unix.SIGSEGV) || signo == int32(unix.SIGBUS) || signo == int32(unix.SIGILL) ||
		signo == int32(unix.SIGFPE) || signo == int32(unix.SIGTRAP):
		le.PutUint64(b[72:], u64(16)) // ssi_addr
	case signo == sigPoll:
		le.PutUint32(b[28:], uint32(u64(16)))
		le.PutUint32(b[20:], u32(24))
	case signo == int32(unix.SIGSYS):
		le.PutUint64(b[88:], u64(16)) // ssi_call_addr
		le.PutUint32(b[84:], u32(24)) // ssi_syscall
		le.PutUint32(b[96:], u32(28)) // ssi_arch
	default:
		pidUID()
	}
	return b
}
