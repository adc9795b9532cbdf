package syscalls

import (
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
)

// futex operations and flags.
const (
	futexWait          = 0
	futexWake          = 1
	futexRequeue       = 3
	futexCmpRequeue    = 4
	futexWakeOp        = 5
	futexLockPI        = 6
	futexWaitBitset    = 9
	futexWakeBitset    = 10
	futexPrivateFlag   = 128
	futexClockRealtime = 256
)

// Futex implements futex(2).
func Futex(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	addr, op, val, timeoutAddr, addr2, val3 := args.Addr(0), args.Int(1), args.Uint(2), args.Addr(3), args.Addr(4), args.Uint(5)
	private := op&futexPrivateFlag != 0
	realtime := op&futexClockRealtime != 0
	cmd := op &^ (futexPrivateFlag | futexClockRealtime)
	if realtime && cmd != futexWaitBitset && cmd != futexWait {
		return 0, unix.ENOSYS
	}
	switch cmd {
	case futexWait, futexWaitBitset:
		bitset := uint32(kernel.FutexBitsetMatchAny)
		if cmd == futexWaitBitset {
			bitset = val3
		}
		var deadline time.Time
		if timeoutAddr != 0 {
			sec, nsec, err := copyInTimespec(t, timeoutAddr)
			if err != nil {
				return 0, err
			}
			if sec < 0 || nsec < 0 || nsec >= nsecPerSec {
				return 0, unix.EINVAL
			}
			d := time.Duration(sec*nsecPerSec + nsec)
			if cmd == futexWait {
				deadline = time.Now().Add(d)
			} else {
				// Absolute, on CLOCK_MONOTONIC unless FUTEX_CLOCK_REALTIME.
				id := int32(clockMonotonic)
				if realtime {
					id = clockRealtime
				}
				now, _ := clockNow(t, id)
				deadline = time.Now().Add(d - time.Duration(now))
			}
		}
		err := t.FutexWait(addr, private, val, bitset, deadline)
		if err == unix.EINTR {
			return 0, kernel.ERESTARTSYS
		}
		return 0, err
	case futexWake, futexWakeBitset:
		bitset := uint32(kernel.FutexBitsetMatchAny)
		if cmd == futexWakeBitset {
			bitset = val3
		}
		n, err := t.FutexWake(addr, private, int(min(val, 1<<31-1)), bitset)
		return uintptr(n), err
	case futexRequeue, futexCmpRequeue:
		// The fourth argument is val2, the requeue count, passed in the timeout slot. Both
		// counts are ints: negative ones are refused, as Linux does.
		if int32(val) < 0 || int32(uint32(timeoutAddr)) < 0 {
			return 0, unix.EINVAL
		}
		n, err := t.FutexRequeue(addr, addr2, private, int(min(val, 1<<31-1)), int(min(uint32(timeoutAddr), 1<<31-1)), cmd == futexCmpRequeue, val3)
		return uintptr(n), err
	case futexWakeOp:
		n, err := t.FutexWakeOp(addr, addr2, private, int(min(val, 1<<31-1)), int(min(uint32(timeoutAddr), 1<<31-1)), val3)
		return uintptr(n), err
	default:
		t.Unsupported("futex op " + futexOpName(cmd))
		return 0, unix.ENOSYS
	}
}

func futexOpName(cmd int32) string {
	switch cmd {
	case futexLockPI, 7, 8, 11, 12, 13:
		return "priority inheritance (PI)"
	}
	return "unknown"
}

func init() {
	register(unix.SYS_FUTEX, "futex", Futex, kernel.Partial, "priority-inheritance operations: ENOSYS")
}
