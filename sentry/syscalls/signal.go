package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
)

const (
	sigsetSize    = 8
	sigactionSize = 32 // struct sigaction as the kernel sees it on x86-64
	stackTSize    = 24 // stack_t
)

// RtSigaction implements rt_sigaction(2).
func RtSigaction(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	sig := int(args.Int(0))
	actAddr, oldAddr := args.Addr(1), args.Addr(2)
	if args[3] != sigsetSize {
		return 0, unix.EINVAL
	}
	if !kernel.ValidSignal(sig) {
		return 0, unix.EINVAL
	}
	var newAct *kernel.SigAction
	if actAddr != 0 {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			return 0, unix.EINVAL
		}
		var b [sigactionSize]byte
		if _, err := t.CopyIn(actAddr, b[:]); err != nil {
			return 0, err
		}
		newAct = &kernel.SigAction{
			Handler:  binary.LittleEndian.Uint64(b[0:]),
			Flags:    binary.LittleEndian.Uint64(b[8:]),
			Restorer: binary.LittleEndian.Uint64(b[16:]),
			Mask:     kernel.SignalSet(binary.LittleEndian.Uint64(b[24:])) &^ kernel.Unblockable,
		}
	}
	old := t.SetSignalAction(sig, newAct)
	if oldAddr != 0 {
		var b [sigactionSize]byte
		binary.LittleEndian.PutUint64(b[0:], old.Handler)
		binary.LittleEndian.PutUint64(b[8:], old.Flags)
		binary.LittleEndian.PutUint64(b[16:], old.Restorer)
		binary.LittleEndian.PutUint64(b[24:], uint64(old.Mask))
		if _, err := t.CopyOut(oldAddr, b[:]); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// RtSigprocmask implements rt_sigprocmask(2).
func RtSigprocmask(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	how, setAddr, oldAddr := args.Int(0), args.Addr(1), args.Addr(2)
	if args[3] != sigsetSize {
		return 0, unix.EINVAL
	}
	old := t.SignalMask()
	if setAddr != 0 {
		v, err := t.CopyInUint64(setAddr)
		if err != nil {
			return 0, err
		}
		set := kernel.SignalSet(v)
		switch how {
		case unix.SIG_BLOCK:
			t.SetSignalMask(old | set)
		case unix.SIG_UNBLOCK:
			t.SetSignalMask(old &^ set)
		case unix.SIG_SETMASK:
			t.SetSignalMask(set)
		default:
			return 0, unix.EINVAL
		}
	}
	if oldAddr != 0 {
		if err := t.CopyOutUint64(oldAddr, uint64(old)); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Sigaltstack implements sigaltstack(2).
func Sigaltstack(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	ssAddr, oldAddr := args.Addr(0), args.Addr(1)
	var newSS *kernel.SignalStack
	if ssAddr != 0 {
		var b [stackTSize]byte
		if _, err := t.CopyIn(ssAddr, b[:]); err != nil {
			return 0, err
		}
		ss := kernel.SignalStack{
			Addr:  binary.LittleEndian.Uint64(b[0:]),
			Flags: binary.LittleEndian.Uint32(b[8:]),
			Size:  binary.LittleEndian.Uint64(b[16:]),
		}
		mode := ss.Flags &^ kernel.SS_AUTODISARM
		if mode != 0 && mode != kernel.SS_DISABLE && mode != kernel.SS_ONSTACK {
			return 0, unix.EINVAL
		}
		if mode == kernel.SS_DISABLE {
			ss = kernel.SignalStack{Flags: kernel.SS_DISABLE}
		} else if ss.Size < kernel.MINSIGSTKSZ {
			return 0, unix.ENOMEM
		}
		newSS = &ss
	}
	sp := t.Arch().Regs.Rsp
	var old kernel.SignalStack
	var err error
	t.WithSignalLock(func(_ *kernel.SignalHandlers, alt *kernel.SignalStack) {
		old = *alt
		onStack := alt.Flags&kernel.SS_DISABLE == 0 && alt.Size != 0 && sp-alt.Addr < alt.Size
		if onStack {
			old.Flags |= kernel.SS_ONSTACK
		} else if alt.Size == 0 {
			old.Flags = kernel.SS_DISABLE
		}
		if newSS != nil {
			if onStack {
				err = unix.EPERM
				return
			}
			*alt = *newSS
		}
	})
	if err != nil {
		return 0, err
	}
	if oldAddr != 0 {
		var b [stackTSize]byte
		binary.LittleEndian.PutUint64(b[0:], old.Addr)
		binary.LittleEndian.PutUint32(b[8:], old.Flags)
		binary.LittleEndian.PutUint64(b[16:], old.Size)
		if _, err := t.CopyOut(oldAddr, b[:]); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func init() {
	register(unix.SYS_RT_SIGACTION, "rt_sigaction", RtSigaction, kernel.Supported, "")
	register(unix.SYS_RT_SIGPROCMASK, "rt_sigprocmask", RtSigprocmask, kernel.Supported, "")
	register(unix.SYS_SIGALTSTACK, "sigaltstack", Sigaltstack, kernel.Supported, "")
}

// RtSigreturn implements rt_sigreturn(2).
func RtSigreturn(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return 0, t.SignalReturn()
}

func init() {
	register(unix.SYS_RT_SIGRETURN, "rt_sigreturn", RtSigreturn, kernel.Supported, "")
}
