package syscalls

import (
	"encoding/binary"
	"fmt"
	"math"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// Fcntl implements fcntl(2) for descriptor flags, status flags and duplication.
func Fcntl(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	fd, cmd := args.Int(0), args.Int(1)
	fdt := t.FDTable()
	f, cloexec, err := fdt.Get(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	switch cmd {
	case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC:
		nfd, err := fdt.NewFD(args.Int(2), f, cmd == unix.F_DUPFD_CLOEXEC)
		if err != nil {
			return 0, err
		}
		return uintptr(nfd), nil
	case unix.F_GETFD:
		if cloexec {
			return unix.FD_CLOEXEC, nil
		}
		return 0, nil
	case unix.F_SETFD:
		return 0, fdt.SetCloexec(fd, args.Int(2)&unix.FD_CLOEXEC != 0)
	case unix.F_GETFL:
		return uintptr(f.StatusFlags()), nil
	case unix.F_SETFL:
		if f.IsPath() {
			return 0, unix.EBADF
		}
		f.SetStatusFlags(args.Uint(2))
		return 0, nil
	case unix.F_GETPIPE_SZ, unix.F_SETPIPE_SZ:
		return pipeFcntl(t, f, cmd, args.Addr(2))
	case unix.F_GETLK, unix.F_SETLK, unix.F_SETLKW, unix.F_OFD_GETLK, unix.F_OFD_SETLK, unix.F_OFD_SETLKW:
		return 0, fcntlLock(t, f, cmd, args.Addr(2))
	case unix.F_GETLEASE:
		return unix.F_UNLCK, nil
	}
	t.Unsupported(fmt.Sprintf("fcntl cmd %d", cmd))
	return 0, unix.EINVAL
}

// Dup implements dup(2).
func Dup(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	f, err := getFile(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	nfd, err := t.FDTable().NewFD(0, f, false)
	if err != nil {
		return 0, err
	}
	return uintptr(nfd), nil
}

// Dup2 implements dup2(2).
func Dup2(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	oldFD, newFD := args.Int(0), args.Int(1)
	if oldFD == newFD {
		f, err := getFile(t, oldFD)
		if err != nil {
			return 0, err
		}
		f.DecRef()
		return uintptr(newFD), nil
	}
	if err := t.FDTable().Dup2(oldFD, newFD, false); err != nil {
		return 0, err
	}
	return uintptr(newFD), nil
}

// Dup3 implements dup3(2).
func Dup3(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	oldFD, newFD, flags := args.Int(0), args.Int(1), args.Int(2)
	if flags&^unix.O_CLOEXEC != 0 || oldFD == newFD {
		return 0, unix.EINVAL
	}
	if err := t.FDTable().Dup2(oldFD, newFD, flags&unix.O_CLOEXEC != 0); err != nil {
		return 0, err
	}
	return uintptr(newFD), nil
}

// flockSize is the size of struct flock.
const flockSize = 32

// fcntlLock implements the record-lock commands: POSIX locks owned by the fd table,
// OFD locks owned by the file description.
func fcntlLock(t *kernel.Task, f *vfs.FileDescription, cmd int32, addr uintptr) error {
	if f.IsPath() {
		return unix.EBADF
	}
	var b [flockSize]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return unix.EFAULT
	}
	le := binary.LittleEndian
	typ := vfs.LockType(int16(le.Uint16(b[0:])))
	whence := int16(le.Uint16(b[2:]))
	start := int64(le.Uint64(b[8:]))
	length := int64(le.Uint64(b[16:]))
	pid := int32(le.Uint32(b[24:]))
	ofd := cmd == unix.F_OFD_GETLK || cmd == unix.F_OFD_SETLK || cmd == unix.F_OFD_SETLKW
	if ofd && pid != 0 {
		return unix.EINVAL
	}
	switch typ {
	case vfs.ReadLock, vfs.WriteLock, vfs.Unlock:
	default:
		return unix.EINVAL
	}
	var base int64
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		base = f.Offset()
	case unix.SEEK_END:
		st, err := f.StatCtx(t)
		if err != nil {
			return err
		}
		base = int64(st.Size)
	default:
		return unix.EINVAL
	}
	r, err := lockRange(base, start, length)
	if err != nil {
		return err
	}
	owner := vfs.LockOwner{Owner: t.FDTable(), PID: t.ThreadGroupID()}
	if ofd {
		owner = vfs.LockOwner{Owner: f, PID: -1, OFD: true}
	}
	in := f.Inode()
	switch cmd {
	case unix.F_GETLK, unix.F_OFD_GETLK:
		if typ == vfs.Unlock {
			return unix.EINVAL
		}
		ctyp, cr, cpid, found := vfs.TestRecordLock(in, owner, typ, r)
		if !found {
			le.PutUint16(b[0:], uint16(unix.F_UNLCK))
		} else {
			le.PutUint16(b[0:], uint16(ctyp))
			le.PutUint16(b[2:], unix.SEEK_SET)
			le.PutUint64(b[8:], uint64(cr.Start))
			l := int64(0)
			if cr.End != math.MaxInt64 {
				l = cr.End - cr.Start
			}
			le.PutUint64(b[16:], uint64(l))
			le.PutUint32(b[24:], uint32(cpid))
		}
		if _, err := t.CopyOut(addr, b[:]); err != nil {
			return unix.EFAULT
		}
		return nil
	}
	if (typ == vfs.ReadLock && !f.Readable()) || (typ == vfs.WriteLock && !f.Writable()) {
		return unix.EBADF
	}
	wait := cmd == unix.F_SETLKW || cmd == unix.F_OFD_SETLKW
	if err := vfs.SetRecordLock(t, in, owner, typ, r, wait); err != nil {
		return err
	}
	if ofd && typ != vfs.Unlock {
		vfs.NoteOFDLock(f)
	}
	return nil
}

// lockRange turns struct flock's start and length (from base) into a range, as Linux's
// flock_to_posix_lock: EINVAL for a negative start, EOVERFLOW past the largest offset.
func lockRange(base, start, length int64) (vfs.LockRange, error) {
	if (start > 0 && base > math.MaxInt64-start) || (start < 0 && base < math.MinInt64-start) {
		return vfs.LockRange{}, unix.EOVERFLOW
	}
	s := base + start
	if s < 0 {
		return vfs.LockRange{}, unix.EINVAL
	}
	switch {
	case length > 0:
		if length-1 > math.MaxInt64-s {
			return vfs.LockRange{}, unix.EOVERFLOW
		}
		e := s + length
		if e < 0 { // s + length == MaxInt64 + 1
			e = math.MaxInt64
		}
		return vfs.LockRange{Start: s, End: e}, nil
	case length == 0:
		return vfs.LockRange{Start: s, End: math.MaxInt64}, nil
	}
	if s+length < 0 {
		return vfs.LockRange{}, unix.EINVAL
	}
	return vfs.LockRange{Start: s + length, End: s}, nil
}

// Flock implements flock(2).
func Flock(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	op := args.Int(1)
	f, err := getFileNoPath(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	wait := op&unix.LOCK_NB == 0
	var typ vfs.LockType
	switch op &^ unix.LOCK_NB {
	case unix.LOCK_SH:
		typ = vfs.ReadLock
	case unix.LOCK_EX:
		typ = vfs.WriteLock
	case unix.LOCK_UN:
		typ = vfs.Unlock
	default:
		return 0, unix.EINVAL
	}
	return 0, vfs.Flock(t, f, typ, wait)
}

func init() {
	register(unix.SYS_FLOCK, "flock", Flock, kernel.Supported, "")
	register(unix.SYS_FCNTL, "fcntl", Fcntl, kernel.Partial, "F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETPIPE_SZ, F_SETPIPE_SZ, record locks (F_GETLK, F_SETLK, F_SETLKW and the OFD forms), F_GETLEASE; no leases, owners, seals, notifications")
	register(unix.SYS_DUP, "dup", Dup, kernel.Supported, "")
	register(unix.SYS_DUP2, "dup2", Dup2, kernel.Supported, "")
	register(unix.SYS_DUP3, "dup3", Dup3, kernel.Supported, "")
}
