package syscalls

import (
	"encoding/binary"
	"slices"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// maxDirentBuf bounds the sentry-side buffer of one getdents call.
const maxDirentBuf = 1 << 20

func align8(n int) int { return (n + 7) &^ 7 }

// getdents implements getdents and getdents64 (old selects struct linux_dirent).
func getdents(t *kernel.Task, args *arch.SyscallArguments, old bool) (uintptr, error) {
	f, err := getFileNoPath(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	addr, count := args.Addr(1), int(args.Uint(2))
	size := count
	if size > maxDirentBuf {
		size = maxDirentBuf
	}
	if size < 0 {
		size = maxDirentBuf
	}
	buf := make([]byte, 0, min(size, 4096))
	le := binary.LittleEndian
	tooSmall := false
	err = f.Getdents(t, func(d vfs.Dirent) bool {
		var reclen int
		if old {
			reclen = align8(18 + len(d.Name) + 2)
		} else {
			reclen = align8(19 + len(d.Name) + 1)
		}
		if len(buf)+reclen > size {
			if len(buf) == 0 {
				tooSmall = true
			}
			return false
		}
		start := len(buf)
		buf = slices.Grow(buf, reclen)[:start+reclen]
		rec := buf[start:]
		clear(rec)
		le.PutUint64(rec[0:], d.Ino)
		le.PutUint64(rec[8:], uint64(d.NextOff))
		le.PutUint16(rec[16:], uint16(reclen))
		if old {
			copy(rec[18:], d.Name)
			rec[reclen-1] = d.Type
		} else {
			rec[18] = d.Type
			copy(rec[19:], d.Name)
		}
		return true
	})
	if len(buf) == 0 {
		if err != nil {
			return 0, err
		}
		if tooSmall {
			return 0, unix.EINVAL
		}
		return 0, nil
	}
	if _, err := t.CopyOut(addr, buf); err != nil {
		return 0, unix.EFAULT
	}
	return uintptr(len(buf)), nil
}

// Getdents64 implements getdents64(2).
func Getdents64(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return getdents(t, args, false)
}

// Getdents implements getdents(2).
func Getdents(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return getdents(t, args, true)
}

func init() {
	register(unix.SYS_GETDENTS64, "getdents64", Getdents64, kernel.Supported, "")
	register(unix.SYS_GETDENTS, "getdents", Getdents, kernel.Supported, "")
}
