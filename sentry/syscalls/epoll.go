package syscalls

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/fs/epoll"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// epollEventSize is sizeof(struct epoll_event) on x86-64 (packed: u32 events, u64 data).
const epollEventSize = 12

// epollMaxEvents is EP_MAX_EVENTS.
const epollMaxEvents = (1<<31 - 1) / epollEventSize

// taskSize is the end of the application address space (TASK_SIZE): access_ok fails for
// ranges that reach past it.
const taskSize = 1<<47 - 4096

// accessOK is Linux's access_ok: the range lies below taskSize.
func accessOK(addr uintptr, n uint64) bool {
	return uint64(addr) <= taskSize && n <= taskSize-uint64(addr)
}

func epollCreate1(t *kernel.Task, flags int32) (uintptr, error) {
	if flags&^unix.EPOLL_CLOEXEC != 0 {
		return 0, unix.EINVAL
	}
	f := epoll.New(t, t.Kernel().VFS())
	defer f.DecRef()
	fd, err := t.FDTable().NewFD(0, f, flags&unix.EPOLL_CLOEXEC != 0)
	if err != nil {
		return 0, err
	}
	return uintptr(fd), nil
}

// EpollCreate implements epoll_create(2).
func EpollCreate(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	if args.Int(0) <= 0 {
		return 0, unix.EINVAL
	}
	return epollCreate1(t, 0)
}

// EpollCreate1 implements epoll_create1(2).
func EpollCreate1(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return epollCreate1(t, args.Int(0))
}

// EpollCtl implements epoll_ctl(2).
func EpollCtl(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	epfd, op, fd, evAddr := args.Int(0), int(args.Int(1)), args.Int(2), args.Addr(3)
	var ev epoll.Event
	if op != unix.EPOLL_CTL_DEL {
		var b [epollEventSize]byte
		if _, err := t.CopyIn(evAddr, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		ev.Events = binary.LittleEndian.Uint32(b[0:])
		ev.Data = binary.LittleEndian.Uint64(b[4:])
	}
	epf, err := getFileNoPath(t, epfd)
	if err != nil {
		return 0, err
	}
	defer epf.DecRef()
	tf, err := getFileNoPath(t, fd)
	if err != nil {
		return 0, err
	}
	defer tf.DecRef()
	if _, ok := tf.Impl().(vfs.Waitable); !ok {
		// A file without readiness (regular files, directories): Linux's EPERM.
		return 0, unix.EPERM
	}
	if epf == tf {
		return 0, unix.EINVAL
	}
	ep, err := epoll.FromFile(epf)
	if err != nil {
		return 0, err
	}
	return 0, ep.Ctl(op, tf, fd, ev)
}

// epollWait is the body of the epoll_wait family. deadline zero waits forever; poll does
// not wait.
func epollWait(t *kernel.Task, epfd int32, addr uintptr, maxEvents int32, deadline time.Time, poll bool) (uintptr, error) {
	if maxEvents <= 0 || maxEvents > epollMaxEvents {
		return 0, unix.EINVAL
	}
	if !accessOK(addr, uint64(maxEvents)*epollEventSize) {
		return 0, unix.EFAULT
	}
	f, err := getFileNoPath(t, epfd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	ep, err := epoll.FromFile(f)
	if err != nil {
		return 0, err
	}
	evs, err := ep.Wait(t, int(maxEvents), deadline, poll)
	if err != nil {
		return 0, err
	}
	if len(evs) == 0 {
		return 0, nil
	}
	b := make([]byte, len(evs)*epollEventSize)
	for i, ev := range evs {
		binary.LittleEndian.PutUint32(b[i*epollEventSize:], ev.Events)
		binary.LittleEndian.PutUint64(b[i*epollEventSize+4:], ev.Data)
	}
	if _, err := t.CopyOut(addr, b); err != nil {
		return 0, unix.EFAULT
	}
	return uintptr(len(evs)), nil
}

// msTimeout turns an epoll_wait or poll timeout in milliseconds into a deadline (zero:
// none, for a negative timeout) and whether it only polls.
func msTimeout(ms int32) (deadline time.Time, poll bool) {
	switch {
	case ms < 0:
		return time.Time{}, false
	case ms == 0:
		return time.Time{}, true
	}
	return time.Now().Add(time.Duration(ms) * time.Millisecond), false
}

// EpollWait implements epoll_wait(2).
func EpollWait(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	deadline, poll := msTimeout(args.Int(3))
	return epollWait(t, args.Int(0), args.Addr(1), args.Int(2), deadline, poll)
}

// withSigmask runs fn with the signal mask at maskAddr (if not NULL) in place; the old
// mask comes back at once unless fn was interrupted (then after the signal handler runs,
// from its frame), as Linux's restore_saved_sigmask_unless.
func withSigmask(t *kernel.Task, maskAddr uintptr, size uint64, fn func() (uintptr, error), interrupted func(error) bool) (uintptr, error) {
	if maskAddr == 0 {
		return fn()
	}
	if size != sigsetSize {
		return 0, unix.EINVAL
	}
	m, err := t.CopyInUint64(maskAddr)
	if err != nil {
		return 0, unix.EFAULT
	}
	old := t.SigsuspendMask(kernel.SignalSet(m))
	ret, err := fn()
	if !interrupted(err) {
		t.SetSignalMask(old)
	}
	return ret, err
}

// EpollPwait implements epoll_pwait(2).
func EpollPwait(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return withSigmask(t, args.Addr(4), uint64(args[5]), func() (uintptr, error) {
		deadline, poll := msTimeout(args.Int(3))
		return epollWait(t, args.Int(0), args.Addr(1), args.Int(2), deadline, poll)
	}, func(err error) bool { return err == unix.EINTR })
}

// EpollPwait2 implements epoll_pwait2(2): the timeout is a timespec (NULL: forever).
func EpollPwait2(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	var deadline time.Time
	poll := false
	if tsAddr := args.Addr(3); tsAddr != 0 {
		sec, nsec, err := copyInTimespec(t, tsAddr)
		if err != nil {
			return 0, unix.EFAULT
		}
		if sec < 0 || nsec < 0 || nsec >= nsecPerSec {
			return 0, unix.EINVAL
		}
		if sec == 0 && nsec == 0 {
			poll = true
		} else {
			deadline = timespecDeadline(sec, nsec)
		}
	}
	return withSigmask(t, args.Addr(4), uint64(args[5]), func() (uintptr, error) {
		return epollWait(t, args.Int(0), args.Addr(1), args.Int(2), deadline, poll)
	}, func(err error) bool { return err == unix.EINTR })
}

// timespecDeadline returns now plus a valid timespec, saturating far in the future.
func timespecDeadline(sec, nsec int64) time.Time {
	const maxSec = 1 << 32 // past any wait that matters, without overflowing Duration
	if sec > maxSec {
		sec = maxSec
	}
	return time.Now().Add(time.Duration(sec)*time.Second + time.Duration(nsec))
}

func init() {
	register(unix.SYS_EPOLL_CREATE, "epoll_create", EpollCreate, kernel.Supported, "")
	register(unix.SYS_EPOLL_CREATE1, "epoll_create1", EpollCreate1, kernel.Supported, "")
	register(unix.SYS_EPOLL_CTL, "epoll_ctl", EpollCtl, kernel.Partial, "EPOLLEXCLUSIVE wakes every waiter; EPOLLWAKEUP is ignored")
	register(unix.SYS_EPOLL_WAIT, "epoll_wait", EpollWait, kernel.Supported, "")
	register(unix.SYS_EPOLL_PWAIT, "epoll_pwait", EpollPwait, kernel.Supported, "")
	register(unix.SYS_EPOLL_PWAIT2, "epoll_pwait2", EpollPwait2, kernel.Supported, "")
}
