package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
)

// Getpid implements getpid(2).
func Getpid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.ThreadGroupID()), nil
}

// Getppid implements getppid(2). The container's init has no parent inside the sandbox.
func Getppid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.ThreadGroup().ParentPID()), nil
}

// Gettid implements gettid(2).
func Gettid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.ThreadID()), nil
}

// Getuid implements getuid(2).
func Getuid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.Credentials().RealUID), nil
}

// Geteuid implements geteuid(2).
func Geteuid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.Credentials().EffectiveUID), nil
}

// Getgid implements getgid(2).
func Getgid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.Credentials().RealGID), nil
}

// Getegid implements getegid(2).
func Getegid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.Credentials().EffectiveGID), nil
}

func init() {
	register(unix.SYS_GETPID, "getpid", Getpid, kernel.Supported, "")
	register(unix.SYS_GETPPID, "getppid", Getppid, kernel.Supported, "")
	register(unix.SYS_GETTID, "gettid", Gettid, kernel.Supported, "")
	register(unix.SYS_GETUID, "getuid", Getuid, kernel.Supported, "")
	register(unix.SYS_GETEUID, "geteuid", Geteuid, kernel.Supported, "")
	register(unix.SYS_GETGID, "getgid", Getgid, kernel.Supported, "")
	register(unix.SYS_GETEGID, "getegid", Getegid, kernel.Supported, "")
}
