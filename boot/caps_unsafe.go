package boot

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// allThreads runs a syscall in every thread of the process: capabilities, the bounding
// set and no_new_privs are per thread, and any sentry thread may later fork a stub or
// trace one (a stub forked by a thread that kept its capabilities would have more than
// the thread that traces it, and PTRACE_SEIZE would fail).
func allThreads(trap, a1, a2, a3 uintptr) error {
	if _, _, errno := syscall.AllThreadsSyscall6(trap, a1, a2, a3, 0, 0, 0); errno != 0 {
		if errno == syscall.ENOTSUP {
			return fmt.Errorf("runsc must be built with CGO_ENABLED=0 to drop privileges in every thread")
		}
		return errno
	}
	return nil
}

// dropPrivileges removes every capability and forbids gaining new ones, in every thread.
// The sentry needs none: it traces only its own children and holds host files only as
// donated fds.
//
// The bounding set is left alone: with no_new_privs no execve can grant a capability
// (file capabilities and set-user-ID are ignored), and with the permitted set empty
// capset cannot add one, so clearing it would change nothing, while each of its ~40
// per-capability drops would stop every thread (allThreads) and cost milliseconds of
// start-up.
func dropPrivileges() error {
	if err := allThreads(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := allThreads(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); err != nil {
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	return nil
}
