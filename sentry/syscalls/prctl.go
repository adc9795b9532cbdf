package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
)

// Prctl implements prctl(2).
func Prctl(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	op := args.Int(0)
	switch op {
	case unix.PR_SET_NAME:
		name, err := t.CopyInString(args.Addr(1), 4096)
		if err != nil && err != unix.ENAMETOOLONG {
			return 0, err
		}
		if err == unix.ENAMETOOLONG {
			// Linux copies at most 16 bytes and truncates.
			b := make([]byte, 15)
			if _, err := t.CopyIn(args.Addr(1), b); err != nil {
				return 0, err
			}
			name = string(b)
		}
		t.SetName(name)
	case unix.PR_GET_NAME:
		b := make([]byte, 16)
		copy(b, t.Name())
		if _, err := t.CopyOut(args.Addr(1), b); err != nil {
			return 0, err
		}
	case unix.PR_SET_PDEATHSIG:
		sig := int(args[1])
		if sig != 0 && !kernel.ValidSignal(sig) {
			return 0, unix.EINVAL
		}
		t.ThreadGroup().SetParentDeathSignal(sig)
	case unix.PR_GET_PDEATHSIG:
		return 0, t.CopyOutUint32(args.Addr(1), uint32(t.ThreadGroup().ParentDeathSignal()))
	case unix.PR_SET_NO_NEW_PRIVS:
		if args[1] != 1 || args[2] != 0 || args[3] != 0 || args[4] != 0 {
			return 0, unix.EINVAL
		}
		t.SetNoNewPrivs()
	case unix.PR_GET_NO_NEW_PRIVS:
		if args[1] != 0 || args[2] != 0 || args[3] != 0 || args[4] != 0 {
			return 0, unix.EINVAL
		}
		if t.NoNewPrivs() {
			return 1, nil
		}
	case unix.PR_SET_DUMPABLE:
		if args[1] > 1 {
			return 0, unix.EINVAL
		}
		t.ThreadGroup().SetDumpable(args[1] == 1)
	case unix.PR_GET_DUMPABLE:
		if t.ThreadGroup().Dumpable() {
			return 1, nil
		}
	case unix.PR_SET_CHILD_SUBREAPER:
		t.ThreadGroup().SetSubreaper(args[1] != 0)
	case unix.PR_GET_CHILD_SUBREAPER:
		v := uint32(0)
		if t.ThreadGroup().Subreaper() {
			v = 1
		}
		return 0, t.CopyOutUint32(args.Addr(1), v)
	case unix.PR_SET_KEEPCAPS:
		if args[1] > 1 {
			return 0, unix.EINVAL
		}
		n := t.Credentials().Fork()
		n.KeepCaps = args[1] == 1
		t.SetCredentials(n)
	case unix.PR_GET_KEEPCAPS:
		if t.Credentials().KeepCaps {
			return 1, nil
		}
	case unix.PR_CAPBSET_READ:
		if args[1] > 40 {
			return 0, unix.EINVAL
		}
		if t.Credentials().BoundingCaps&(1<<args[1]) != 0 {
			return 1, nil
		}
	case unix.PR_CAPBSET_DROP:
		if args[1] > 40 {
			return 0, unix.EINVAL
		}
		c := t.Credentials()
		if !c.HasCapability(8) { // CAP_SETPCAP
			return 0, unix.EPERM
		}
		n := c.Fork()
		n.BoundingCaps &^= 1 << args[1]
		t.SetCredentials(n)
	case unix.PR_GET_SECCOMP:
		return 0, nil
	case unix.PR_GET_TID_ADDRESS:
		return 0, t.CopyOutUint64(args.Addr(1), uint64(t.ClearChildTID()))
	case unix.PR_SET_TIMERSLACK:
		return 0, nil
	case unix.PR_GET_TIMERSLACK:
		return 50000, nil
	case unix.PR_GET_THP_DISABLE:
		return 0, nil
	case unix.PR_SET_THP_DISABLE:
		return 0, nil
	case unix.PR_CAP_AMBIENT:
		switch args[1] {
		case unix.PR_CAP_AMBIENT_IS_SET:
			if args[2] > 40 {
				return 0, unix.EINVAL
			}
			if t.Credentials().AmbientCaps&(1<<args[2]) != 0 {
				return 1, nil
			}
			return 0, nil
		case unix.PR_CAP_AMBIENT_CLEAR_ALL:
			n := t.Credentials().Fork()
			n.AmbientCaps = 0
			t.SetCredentials(n)
			return 0, nil
		}
		t.Unsupported("PR_CAP_AMBIENT raise/lower")
		return 0, unix.EINVAL
	default:
		t.Unsupported("prctl option " + prctlName(op))
		return 0, unix.EINVAL
	}
	return 0, nil
}

func prctlName(op int32) string {
	switch op {
	case unix.PR_SET_SECCOMP:
		return "PR_SET_SECCOMP"
	case unix.PR_SET_MM:
		return "PR_SET_MM"
	case 0x53564d41:
		return "PR_SET_VMA"
	}
	return itoa(int64(op))
}

func itoa(v int64) string {
	if v == 0 {
		return "0"
	}
	neg := v < 0
	if neg {
		v = -v
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

func init() {
	register(unix.SYS_PRCTL, "prctl", Prctl, kernel.Partial, "seccomp, PR_SET_MM and ambient raise are refused (EINVAL)")
}
