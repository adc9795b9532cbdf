package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/fs/pipe"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// oNotificationPipe is O_NOTIFICATION_PIPE (O_EXCL): a pipe for watch_queue
// notifications, which this kernel has no source of.
const oNotificationPipe = unix.O_EXCL

// pipe2 creates a pipe and stores its two descriptors at addr.
func pipe2(t *kernel.Task, addr uintptr, flags uint32) error {
	if flags&^(unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_DIRECT|oNotificationPipe) != 0 {
		return unix.EINVAL
	}
	if flags&oNotificationPipe != 0 {
		// What Linux built without CONFIG_WATCH_QUEUE says.
		t.Unsupported("pipe2 O_NOTIFICATION_PIPE")
		return unix.ENOPKG
	}
	r, w := pipe.NewPipe(t, t.Kernel().VFS(), flags)
	defer r.DecRef()
	defer w.DecRef()
	cloexec := flags&unix.O_CLOEXEC != 0
	fdt := t.FDTable()
	rfd, err := fdt.NewFD(0, r, cloexec)
	if err != nil {
		return err
	}
	wfd, err := fdt.NewFD(0, w, cloexec)
	if err != nil {
		fdt.Close(rfd)
		return err
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(rfd))
	binary.LittleEndian.PutUint32(b[4:], uint32(wfd))
	if _, err := t.CopyOut(addr, b[:]); err != nil {
		fdt.Close(rfd)
		fdt.Close(wfd)
		return unix.EFAULT
	}
	return nil
}

// Pipe implements pipe(2).
func Pipe(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return 0, pipe2(t, args.Addr(0), 0)
}

// Pipe2 implements pipe2(2).
func Pipe2(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return 0, pipe2(t, args.Addr(0), args.Uint(1))
}

// pipeFcntl implements fcntl's F_GETPIPE_SZ and F_SETPIPE_SZ: EBADF on a file that is not
// a pipe or FIFO.
func pipeFcntl(t *kernel.Task, f *vfs.FileDescription, cmd int32, arg uintptr) (uintptr, error) {
	s, ok := f.Impl().(pipe.Sizer)
	if !ok {
		return 0, unix.EBADF
	}
	if cmd == unix.F_GETPIPE_SZ {
		return uintptr(s.PipeSize()), nil
	}
	// The argument is an unsigned int.
	n, err := s.SetPipeSize(t, uint64(uint32(arg)))
	return uintptr(n), err
}

func init() {
	register(unix.SYS_PIPE, "pipe", Pipe, kernel.Supported, "")
	register(unix.SYS_PIPE2, "pipe2", Pipe2, kernel.Partial, "O_NOTIFICATION_PIPE fails with ENOPKG (no watch queues)")
}
