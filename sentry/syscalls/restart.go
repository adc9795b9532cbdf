package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
)

// RestartSyscall implements restart_syscall(2): it continues the call that was
// interrupted with ERESTART_RESTARTBLOCK (see kernel.Task.SetRestartBlock); without one
// it fails with EINTR, as on Linux.
func RestartSyscall(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	fn := t.TakeRestartBlock()
	if fn == nil {
		return 0, unix.EINTR
	}
	return fn(t)
}

func init() {
	register(unix.SYS_RESTART_SYSCALL, "restart_syscall", RestartSyscall, kernel.Supported, "")
}
