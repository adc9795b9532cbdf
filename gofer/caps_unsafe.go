package gofer

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errCgo is returned when capabilities cannot be changed in every thread.
var errCgo = errors.New("changing credentials in every thread is impossible in a binary that links cgo (build with CGO_ENABLED=0)")

// allThreads runs a system call in every thread of the process (capabilities
// and no_new_privs are per thread).
func allThreads(trap, a1, a2, a3 uintptr) (uintptr, error) {
	r, _, errno := syscall.AllThreadsSyscall6(trap, a1, a2, a3, 0, 0, 0)
	switch errno {
	case 0:
		return r, nil
	case syscall.ENOTSUP:
		return r, errCgo
	}
	return r, errno
}

// dropPrivileges drops every capability but keptCaps from the bounding,
// ambient, inheritable, permitted and effective sets of every thread, then
// sets no_new_privs.
func dropPrivileges(readOnly bool) error {
	var keep uint64
	for _, c := range keptCaps(readOnly) {
		keep |= 1 << uint(c)
	}
	// Bounding set, while CAP_SETPCAP is still effective. Stop at the first
	// capability the kernel does not know.
	for c := 0; c < 64; c++ {
		in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
		if err != nil {
			break
		}
		if in == 0 || keep&(1<<uint(c)) != 0 {
			continue
		}
		if _, err := allThreads(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); err != nil {
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
		}
	}
	if _, err := allThreads(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	hdr := &unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := new([2]unix.CapUserData)
	if err := unix.Capget(hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	for i := range data {
		k := uint32(keep >> (32 * uint(i)))
		data[i].Permitted &= k
		data[i].Effective = data[i].Permitted
		data[i].Inheritable = 0
	}
	hdr.Pid = 0
	if _, err := allThreads(unix.SYS_CAPSET, uintptr(unsafe.Pointer(hdr)), uintptr(unsafe.Pointer(data)), 0); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if _, err := allThreads(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	return nil
}
