package host

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

// termiosSize is the size of the kernel's struct termios (without the speeds of termios2).
const termiosSize = 36

// Ioctl performs the terminal ioctls (when tty) and FIONREAD on host fd, moving the
// argument through ctx. Anything else is ENOTTY.
func Ioctl(ctx vfs.Context, fd int, tty bool, cmd uint32, arg uintptr) (uintptr, error) {
	switch cmd {
	case unix.TIOCINQ:
		n, err := unix.IoctlGetInt(fd, unix.TIOCINQ)
		if err != nil {
			return 0, errno(err)
		}
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(n))
		_, err = ctx.CopyOut(arg, b[:])
		return 0, err
	}
	if !tty {
		return 0, unix.ENOTTY
	}
	switch cmd {
	case unix.TCGETS:
		t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err != nil {
			return 0, errno(err)
		}
		var b [termiosSize]byte
		binary.LittleEndian.PutUint32(b[0:], t.Iflag)
		binary.LittleEndian.PutUint32(b[4:], t.Oflag)
		binary.LittleEndian.PutUint32(b[8:], t.Cflag)
		binary.LittleEndian.PutUint32(b[12:], t.Lflag)
		b[16] = t.Line
		copy(b[17:], t.Cc[:])
		_, err = ctx.CopyOut(arg, b[:])
		return 0, err
	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF:
		var b [termiosSize]byte
		if _, err := ctx.CopyIn(arg, b[:]); err != nil {
			return 0, err
		}
		t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err != nil {
			return 0, errno(err)
		}
		t.Iflag = binary.LittleEndian.Uint32(b[0:])
		t.Oflag = binary.LittleEndian.Uint32(b[4:])
		t.Cflag = binary.LittleEndian.Uint32(b[8:])
		t.Lflag = binary.LittleEndian.Uint32(b[12:])
		t.Line = b[16]
		copy(t.Cc[:], b[17:])
		return 0, errno(unix.IoctlSetTermios(fd, uint(cmd), t))
	case unix.TIOCGWINSZ:
		ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
		if err != nil {
			return 0, errno(err)
		}
		var b [8]byte
		binary.LittleEndian.PutUint16(b[0:], ws.Row)
		binary.LittleEndian.PutUint16(b[2:], ws.Col)
		binary.LittleEndian.PutUint16(b[4:], ws.Xpixel)
		binary.LittleEndian.PutUint16(b[6:], ws.Ypixel)
		_, err = ctx.CopyOut(arg, b[:])
		return 0, err
	case unix.TIOCSWINSZ:
		var b [8]byte
		if _, err := ctx.CopyIn(arg, b[:]); err != nil {
			return 0, err
		}
		ws := unix.Winsize{
			Row:    binary.LittleEndian.Uint16(b[0:]),
			Col:    binary.LittleEndian.Uint16(b[2:]),
			Xpixel: binary.LittleEndian.Uint16(b[4:]),
			Ypixel: binary.LittleEndian.Uint16(b[6:]),
		}
		return 0, errno(unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &ws))
	case unix.TIOCGPGRP:
		pg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
		if err != nil {
			return 0, errno(err)
		}
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(pg))
		_, err = ctx.CopyOut(arg, b[:])
		return 0, err
	}
	return 0, unix.ENOTTY
}
