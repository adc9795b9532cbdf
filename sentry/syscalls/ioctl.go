package syscalls

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
)

// Generic ioctl commands (asm-generic/ioctls.h).
const (
	fionbio  = 0x5421
	fionclex = 0x5450
	fioclex  = 0x5451
	fioasync = 0x5452
)

// Ioctl implements ioctl(2): the generic commands here, the rest by the file.
func Ioctl(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	fd, cmd, arg := args.Int(0), args.Uint(1), args.Addr(2)
	f, err := getFileNoPath(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	switch cmd {
	case fioclex:
		return 0, t.FDTable().SetCloexec(fd, true)
	case fionclex:
		return 0, t.FDTable().SetCloexec(fd, false)
	case fionbio, fioasync:
		var b [4]byte
		if _, err := t.CopyIn(arg, b[:]); err != nil {
			return 0, err
		}
		bit := uint32(unix.O_NONBLOCK)
		if cmd == fioasync {
			bit = unix.O_ASYNC
		}
		flags := f.StatusFlags()
		if binary.LittleEndian.Uint32(b[:]) != 0 {
			flags |= bit
		} else {
			flags &^= bit
		}
		f.SetStatusFlags(flags)
		return 0, nil
	case unix.TIOCINQ: // FIONREAD
		if f.Dentry().Type() == unix.S_IFREG {
			st, err := f.StatCtx(t)
			if err != nil {
				return 0, err
			}
			n := int64(st.Size) - f.Offset()
			if n < 0 {
				n = 0
			}
			var b [4]byte
			binary.LittleEndian.PutUint32(b[:], uint32(n))
			_, err = t.CopyOut(arg, b[:])
			return 0, err
		}
	}
	ret, err := f.Ioctl(t, cmd, arg)
	// Terminal ioctls (type 'T', 0x54xx) on something that is not a terminal get ENOTTY
	// on Linux too; only other unknown requests are worth reporting.
	if err == unix.ENOTTY && cmd&0xff00 != 0x5400 {
		t.Unsupported(fmt.Sprintf("ioctl %#x", cmd))
	}
	return ret, err
}

func init() {
	register(unix.SYS_IOCTL, "ioctl", Ioctl, kernel.Partial, "generic FIOCLEX/FIONCLEX/FIONBIO/FIOASYNC/FIONREAD; terminal ioctls on host terminals only")
}
