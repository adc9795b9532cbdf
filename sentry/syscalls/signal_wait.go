package syscalls

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
)

// RtSigpending implements rt_sigpending(2).
func RtSigpending(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	// A smaller set than the kernel's gets its first bytes, as on Linux.
	size := args[1]
	if size > sigsetSize {
		return 0, unix.EINVAL
	}
	pending := t.PendingSignals() & t.SignalMask()
	var b [sigsetSize]byte
	binary.LittleEndian.PutUint64(b[:], uint64(pending))
	if _, err := t.CopyOut(args.Addr(0), b[:size]); err != nil {
		return 0, err
	}
	return 0, nil
}

// RtSigsuspend implements rt_sigsuspend(2): it always returns EINTR, after a handler ran.
func RtSigsuspend(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	if args[1] != sigsetSize {
		return 0, unix.EINVAL
	}
	m, err := t.CopyInUint64(args.Addr(0))
	if err != nil {
		return 0, err
	}
	t.SigsuspendMask(kernel.SignalSet(m))
	t.BlockTimeout(time.Time{})
	return 0, kernel.ERESTARTNOHAND
}

// Pause implements pause(2).
func Pause(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	t.BlockTimeout(time.Time{})
	return 0, kernel.ERESTARTNOHAND
}

// RtSigtimedwait implements rt_sigtimedwait(2).
func RtSigtimedwait(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	setAddr, infoAddr, tsAddr := args.Addr(0), args.Addr(1), args.Addr(2)
	if args[3] != sigsetSize {
		return 0, unix.EINVAL
	}
	m, err := t.CopyInUint64(setAddr)
	if err != nil {
		return 0, err
	}
	var deadline time.Time
	poll := false
	if tsAddr != 0 {
		sec, nsec, err := copyInTimespec(t, tsAddr)
		if err != nil {
			return 0, err
		}
		if sec < 0 || nsec < 0 || nsec >= nsecPerSec {
			return 0, unix.EINVAL
		}
		d := time.Duration(sec*nsecPerSec + nsec)
		poll = d == 0
		deadline = time.Now().Add(d)
	}
	info, err := t.TakeSignal(kernel.SignalSet(m), deadline, poll)
	if err != nil {
		if err == kernel.ERESTARTNOHAND {
			return 0, unix.EINTR
		}
		return 0, err
	}
	if infoAddr != 0 {
		b := info.SiginfoBytes()
		if _, err := t.CopyOut(infoAddr, b[:]); err != nil {
			return 0, err
		}
	}
	return uintptr(info.Signo), nil
}

// sigqueueinfo is the shared body of rt_sigqueueinfo and rt_tgsigqueueinfo.
func sigqueueinfo(t *kernel.Task, tgid, tid int32, sig int, infoAddr uintptr) error {
	if sig != 0 && !kernel.ValidSignal(sig) {
		return unix.EINVAL
	}
	var b [128]byte
	if _, err := t.CopyIn(infoAddr, b[:]); err != nil {
		return err
	}
	code := int32(uint32(b[8]) | uint32(b[9])<<8 | uint32(b[10])<<16 | uint32(b[11])<<24)
	// Only the kernel may send si_code >= 0 or SI_TKILL to another process.
	if (code >= 0 || code == kernel.SI_TKILL) && tgid != t.ThreadGroupID() {
		return unix.EPERM
	}
	info := &kernel.SignalInfo{Signo: int32(sig), Code: code, PID: t.ThreadGroupID(), UID: uint32(t.Credentials().RealUID)}
	// The receiver gets the sender's siginfo as given (si_pid, si_uid, si_value...): as
	// Linux, the fields of kernel_siginfo (the first 48 bytes), the rest zero.
	clear(b[48:])
	info.Raw = &b
	if tid == 0 {
		tg := t.Kernel().ThreadGroupByPID(tgid)
		if tg == nil {
			return unix.ESRCH
		}
		if !mayKill(t, tg) {
			return unix.EPERM
		}
		if sig != 0 { // 0 checks only that the process exists and may be signalled
			tg.SendSignal(info)
		}
		return nil
	}
	target := t.Kernel().TaskByTID(tid)
	if target == nil || target.ThreadGroupID() != tgid {
		return unix.ESRCH
	}
	if !mayKill(t, target.ThreadGroup()) {
		return unix.EPERM
	}
	if sig != 0 {
		target.SendSignal(info)
	}
	return nil
}

// RtSigqueueinfo implements rt_sigqueueinfo(2).
func RtSigqueueinfo(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return 0, sigqueueinfo(t, args.Int(0), 0, int(args.Int(1)), args.Addr(2))
}

// RtTgsigqueueinfo implements rt_tgsigqueueinfo(2).
func RtTgsigqueueinfo(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	if args.Int(0) <= 0 || args.Int(1) <= 0 {
		return 0, unix.EINVAL
	}
	return 0, sigqueueinfo(t, args.Int(0), args.Int(1), int(args.Int(2)), args.Addr(3))
}

func init() {
	register(unix.SYS_RT_SIGPENDING, "rt_sigpending", RtSigpending, kernel.Supported, "")
	register(unix.SYS_RT_SIGSUSPEND, "rt_sigsuspend", RtSigsuspend, kernel.Supported, "")
	register(unix.SYS_PAUSE, "pause", Pause, kernel.Supported, "")
	register(unix.SYS_RT_SIGTIMEDWAIT, "rt_sigtimedwait", RtSigtimedwait, kernel.Supported, "")
	register(unix.SYS_RT_SIGQUEUEINFO, "rt_sigqueueinfo", RtSigqueueinfo, kernel.Supported, "")
	register(unix.SYS_RT_TGSIGQUEUEINFO, "rt_tgsigqueueinfo", RtTgsigqueueinfo, kernel.Supported, "")
}
