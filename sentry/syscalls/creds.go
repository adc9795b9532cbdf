package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/kernel/auth"
)

// setCreds installs new credentials (nil: unchanged).
func setCreds(t *kernel.Task, c *auth.Credentials, err error) (uintptr, error) {
	if err != nil {
		return 0, err
	}
	if c != nil {
		t.SetCredentials(c)
	}
	return 0, nil
}

// Setuid implements setuid(2).
func Setuid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	n, err := t.Credentials().SetUID(args.Uint(0))
	return setCreds(t, n, err)
}

// Setgid implements setgid(2).
func Setgid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	n, err := t.Credentials().SetGID(args.Uint(0))
	return setCreds(t, n, err)
}

// Setreuid implements setreuid(2).
func Setreuid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	n, err := t.Credentials().SetREUID(args.Uint(0), args.Uint(1))
	return setCreds(t, n, err)
}

// Setregid implements setregid(2).
func Setregid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	n, err := t.Credentials().SetREGID(args.Uint(0), args.Uint(1))
	return setCreds(t, n, err)
}

// Setresuid implements setresuid(2).
func Setresuid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	n, err := t.Credentials().SetRESUID(args.Uint(0), args.Uint(1), args.Uint(2))
	return setCreds(t, n, err)
}

// Setresgid implements setresgid(2).
func Setresgid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	n, err := t.Credentials().SetRESGID(args.Uint(0), args.Uint(1), args.Uint(2))
	return setCreds(t, n, err)
}

// Setfsuid implements setfsuid(2).
func Setfsuid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	old, n := t.Credentials().SetFSUID(args.Uint(0))
	setCreds(t, n, nil)
	return uintptr(old), nil
}

// Setfsgid implements setfsgid(2).
func Setfsgid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	old, n := t.Credentials().SetFSGID(args.Uint(0))
	setCreds(t, n, nil)
	return uintptr(old), nil
}

func copyOutIDs(t *kernel.Task, addrs [3]uintptr, ids [3]uint32) error {
	for i, a := range addrs {
		if err := t.CopyOutUint32(a, ids[i]); err != nil {
			return err
		}
	}
	return nil
}

// Getresuid implements getresuid(2).
func Getresuid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	c := t.Credentials()
	return 0, copyOutIDs(t, [3]uintptr{args.Addr(0), args.Addr(1), args.Addr(2)}, [3]uint32{uint32(c.RealUID), uint32(c.EffectiveUID), uint32(c.SavedUID)})
}

// Getresgid implements getresgid(2).
func Getresgid(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	c := t.Credentials()
	return 0, copyOutIDs(t, [3]uintptr{args.Addr(0), args.Addr(1), args.Addr(2)}, [3]uint32{uint32(c.RealGID), uint32(c.EffectiveGID), uint32(c.SavedGID)})
}

// Getgroups implements getgroups(2).
func Getgroups(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	size := args.Int(0)
	gs := t.Credentials().Groups
	if size < 0 {
		return 0, unix.EINVAL
	}
	if size == 0 {
		return uintptr(len(gs)), nil
	}
	if int(size) < len(gs) {
		return 0, unix.EINVAL
	}
	b := make([]byte, 4*len(gs))
	for i, g := range gs {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(g))
	}
	if _, err := t.CopyOut(args.Addr(1), b); err != nil {
		return 0, err
	}
	return uintptr(len(gs)), nil
}

// Setgroups implements setgroups(2).
func Setgroups(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	size := args.Int(0)
	if size < 0 || size > auth.NGroupsMax {
		return 0, unix.EINVAL
	}
	b := make([]byte, 4*int(size))
	if _, err := t.CopyIn(args.Addr(1), b); err != nil {
		return 0, err
	}
	gs := make([]auth.KGID, size)
	for i := range gs {
		gs[i] = auth.KGID(binary.LittleEndian.Uint32(b[4*i:]))
	}
	n, err := t.Credentials().SetGroups(gs)
	return setCreds(t, n, err)
}

// Capability header versions.
const (
	capV1 = 0x19980330
	capV2 = 0x20071026
	capV3 = 0x20080522
)

// capHeader reads the header and returns the number of 32-bit set words (1 or 2) and the
// target pid; an unknown version gets EINVAL with the preferred version written back.
func capHeader(t *kernel.Task, addr uintptr) (int, int32, error) {
	var b [8]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, 0, err
	}
	pid := int32(binary.LittleEndian.Uint32(b[4:]))
	switch binary.LittleEndian.Uint32(b[0:]) {
	case capV1:
		return 1, pid, nil
	case capV2, capV3:
		return 2, pid, nil
	}
	if err := t.CopyOutUint32(addr, capV3); err != nil {
		return 0, 0, err
	}
	return 0, 0, unix.EINVAL
}

// Capget implements capget(2).
func Capget(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	words, pid, err := capHeader(t, args.Addr(0))
	if err != nil {
		if args.Addr(1) == 0 && err == unix.EINVAL {
			return 0, nil // a version probe
		}
		return 0, err
	}
	if pid < 0 {
		return 0, unix.EINVAL
	}
	c := t.Credentials()
	if pid != 0 && pid != t.ThreadID() {
		o := t.Kernel().TaskByTID(pid)
		if o == nil {
			return 0, unix.ESRCH
		}
		c = o.Credentials()
	}
	if args.Addr(1) == 0 {
		return 0, nil
	}
	b := make([]byte, 12*words)
	for i := 0; i < words; i++ {
		binary.LittleEndian.PutUint32(b[12*i:], uint32(c.EffectiveCaps>>(32*i)))
		binary.LittleEndian.PutUint32(b[12*i+4:], uint32(c.PermittedCaps>>(32*i)))
		binary.LittleEndian.PutUint32(b[12*i+8:], uint32(c.InheritableCaps>>(32*i)))
	}
	if _, err := t.CopyOut(args.Addr(1), b); err != nil {
		return 0, err
	}
	return 0, nil
}

// Capset implements capset(2).
func Capset(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	words, pid, err := capHeader(t, args.Addr(0))
	if err != nil {
		return 0, err
	}
	if pid != 0 && pid != t.ThreadID() {
		return 0, unix.EPERM
	}
	b := make([]byte, 12*words)
	if _, err := t.CopyIn(args.Addr(1), b); err != nil {
		return 0, err
	}
	var eff, perm, inh uint64
	for i := 0; i < words; i++ {
		eff |= uint64(binary.LittleEndian.Uint32(b[12*i:])) << (32 * i)
		perm |= uint64(binary.LittleEndian.Uint32(b[12*i+4:])) << (32 * i)
		inh |= uint64(binary.LittleEndian.Uint32(b[12*i+8:])) << (32 * i)
	}
	c := t.Credentials()
	if words == 1 {
		// A v1 caller cannot see the upper sets: they are kept.
		eff |= c.EffectiveCaps &^ 0xffffffff
		perm |= c.PermittedCaps &^ 0xffffffff
		inh |= c.InheritableCaps &^ 0xffffffff
	}
	n, err := c.SetCaps(eff, perm, inh)
	return setCreds(t, n, err)
}

func init() {
	register(unix.SYS_SETUID, "setuid", Setuid, kernel.Supported, "")
	register(unix.SYS_SETGID, "setgid", Setgid, kernel.Supported, "")
	register(unix.SYS_SETREUID, "setreuid", Setreuid, kernel.Supported, "")
	register(unix.SYS_SETREGID, "setregid", Setregid, kernel.Supported, "")
	register(unix.SYS_SETRESUID, "setresuid", Setresuid, kernel.Supported, "")
	register(unix.SYS_SETRESGID, "setresgid", Setresgid, kernel.Supported, "")
	register(unix.SYS_SETFSUID, "setfsuid", Setfsuid, kernel.Supported, "")
	register(unix.SYS_SETFSGID, "setfsgid", Setfsgid, kernel.Supported, "")
	register(unix.SYS_GETRESUID, "getresuid", Getresuid, kernel.Supported, "")
	register(unix.SYS_GETRESGID, "getresgid", Getresgid, kernel.Supported, "")
	register(unix.SYS_GETGROUPS, "getgroups", Getgroups, kernel.Supported, "")
	register(unix.SYS_SETGROUPS, "setgroups", Setgroups, kernel.Supported, "")
	register(unix.SYS_CAPGET, "capget", Capget, kernel.Supported, "")
	register(unix.SYS_CAPSET, "capset", Capset, kernel.Supported, "")
}
