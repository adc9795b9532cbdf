package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
)

// Exit implements exit(2): the calling thread exits.
func Exit(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	t.RequestExit(kernel.ExitedStatus(int(args.Int(0))))
	return 0, nil
}

// ExitGroup implements exit_group(2): every thread of the process exits.
func ExitGroup(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	t.ExitGroup(kernel.ExitedStatus(int(args.Int(0))))
	return 0, nil
}

// SetTidAddress implements set_tid_address(2).
func SetTidAddress(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	t.SetClearChildTID(args.Addr(0))
	return uintptr(t.ThreadID()), nil
}

// robustListHeadSize is sizeof(struct robust_list_head) on x86-64.
const robustListHeadSize = 24

// SetRobustList implements set_robust_list(2).
func SetRobustList(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	if args[1] != robustListHeadSize {
		return 0, unix.EINVAL
	}
	t.SetRobustList(args.Addr(0), uint64(args[1]))
	return 0, nil
}

// GetRobustList implements get_robust_list(2).
func GetRobustList(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	pid := args.Int(0)
	target := t
	if pid < 0 {
		return 0, unix.ESRCH
	}
	if pid != 0 {
		if target = t.Kernel().TaskByTID(pid); target == nil {
			return 0, unix.ESRCH
		}
	}
	head, _ := target.RobustList()
	if err := t.CopyOutUint64(args.Addr(1), uint64(head)); err != nil {
		return 0, err
	}
	if err := t.CopyOutUint64(args.Addr(2), robustListHeadSize); err != nil {
		return 0, err
	}
	return 0, nil
}

func init() {
	register(unix.SYS_EXIT, "exit", Exit, kernel.Supported, "")
	register(unix.SYS_EXIT_GROUP, "exit_group", ExitGroup, kernel.Supported, "")
	register(unix.SYS_SET_TID_ADDRESS, "set_tid_address", SetTidAddress, kernel.Partial, "the address is cleared at exit; futex wake comes with futexes")
	register(unix.SYS_SET_ROBUST_LIST, "set_robust_list", SetRobustList, kernel.Partial, "recorded; the list is walked at exit once futexes exist")
	register(unix.SYS_GET_ROBUST_LIST, "get_robust_list", GetRobustList, kernel.Supported, "")
}
