package syscalls

import (
	"encoding/binary"
	"math"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// Sync implements sync(2): data written by the application reaches its file (host or
// memory) when the write returns, so there is nothing to flush.
func Sync(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) { return 0, nil }

// Syncfs implements syncfs(2).
func Syncfs(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	f, err := getFileNoPath(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	f.DecRef()
	return 0, nil
}

// SyncFileRange implements sync_file_range(2).
func SyncFileRange(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	off, n, flags := args.Int64(1), args.Int64(2), args.Uint(3)
	const valid = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	if flags&^valid != 0 || off < 0 || n < 0 || (n > 0 && off > math.MaxInt64-n) {
		return 0, unix.EINVAL
	}
	f, err := getFileNoPath(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	switch f.Dentry().Type() {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFBLK, unix.S_IFLNK:
		return 0, nil
	}
	return 0, unix.ESPIPE
}

// Fadvise64 implements fadvise64(2): advice is checked and taken (the sentry has no page
// cache for it to act on).
func Fadvise64(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	n, advice := args.Int64(2), args.Int(3)
	f, err := getFileNoPath(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if isPipe(f) {
		return 0, unix.ESPIPE
	}
	if advice < unix.FADV_NORMAL || advice > unix.FADV_NOREUSE || n < 0 {
		return 0, unix.EINVAL
	}
	return 0, nil
}

// Readahead implements readahead(2).
func Readahead(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	f, err := getFileNoPath(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if !f.Readable() {
		return 0, unix.EBADF
	}
	if f.Dentry().Type() != unix.S_IFREG {
		return 0, unix.EINVAL
	}
	return 0, nil
}

// Fallocate implements fallocate(2) on files that can allocate (tmpfs, the overlay's
// upper layer, host files through the gofer).
func Fallocate(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	mode, off, n := args.Uint(1), args.Int64(2), args.Int64(3)
	f, err := getFileNoPath(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if off < 0 || n <= 0 {
		return 0, unix.EINVAL
	}
	const known = unix.FALLOC_FL_KEEP_SIZE | unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_ZERO_RANGE |
		unix.FALLOC_FL_COLLAPSE_RANGE | unix.FALLOC_FL_INSERT_RANGE | unix.FALLOC_FL_UNSHARE_RANGE
	if mode&^known != 0 {
		return 0, unix.EOPNOTSUPP
	}
	if mode&unix.FALLOC_FL_PUNCH_HOLE != 0 && mode&unix.FALLOC_FL_KEEP_SIZE == 0 {
		return 0, unix.EOPNOTSUPP
	}
	if !f.Writable() {
		return 0, unix.EBADF
	}
	switch f.Dentry().Type() {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		return 0, unix.EISDIR
	case unix.S_IFIFO:
		return 0, unix.ESPIPE
	default:
		return 0, unix.ENODEV
	}
	if off > math.MaxInt64-n {
		return 0, unix.EFBIG
	}
	if f.StatusFlags()&unix.O_APPEND != 0 && mode&(unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_ZERO_RANGE|unix.FALLOC_FL_COLLAPSE_RANGE|unix.FALLOC_FL_INSERT_RANGE) != 0 {
		return 0, unix.EPERM
	}
	a, ok := f.Impl().(vfs.Allocator)
	if !ok {
		return 0, unix.EOPNOTSUPP
	}
	if lim := t.ThreadGroup().Rlimit(unix.RLIMIT_FSIZE).Cur; mode&unix.FALLOC_FL_KEEP_SIZE == 0 && uint64(off+n) > lim {
		t.SendSignal(&kernel.SignalInfo{Signo: int32(unix.SIGXFSZ)})
		return 0, unix.EFBIG
	}
	return 0, a.Allocate(t, mode, off, n)
}

// CloseRange implements close_range(2).
func CloseRange(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	first, last, flags := args.Uint(0), args.Uint(1), args.Uint(2)
	const closeRangeUnshare, closeRangeCloexec = 2, 4
	if flags&^(closeRangeUnshare|closeRangeCloexec) != 0 || first > last {
		return 0, unix.EINVAL
	}
	if flags&closeRangeUnshare != 0 {
		// Unsharing replaces the task's table, which only the kernel can do; a table
		// that no other task shares needs nothing, but that cannot be told here.
		t.Unsupported("close_range CLOSE_RANGE_UNSHARE")
		return 0, unix.EINVAL
	}
	t.FDTable().CloseRange(first, last, flags&closeRangeCloexec != 0)
	return 0, nil
}

// copyInTimevals reads a struct timeval[2] as SetStat options (now for a nil pointer).
func copyInTimevals(t *kernel.Task, addr uintptr) (vfs.SetStatOptions, error) {
	if addr == 0 {
		return vfs.SetStatOptions{Mask: vfs.SetStatAtimeNow | vfs.SetStatMtimeNow}, nil
	}
	var b [32]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return vfs.SetStatOptions{}, unix.EFAULT
	}
	var ts [2]vfs.Timespec
	for i := range ts {
		sec := int64(binary.LittleEndian.Uint64(b[16*i:]))
		usec := int64(binary.LittleEndian.Uint64(b[16*i+8:]))
		if usec < 0 || usec >= 1e6 {
			return vfs.SetStatOptions{}, unix.EINVAL
		}
		ts[i] = vfs.Timespec{Sec: sec, Nsec: usec * 1000}
	}
	return vfs.SetStatOptions{Mask: vfs.SetStatAtime | vfs.SetStatMtime, Atime: ts[0], Mtime: ts[1]}, nil
}

func futimesat(t *kernel.Task, dirfd int32, pathAddr uintptr, opts vfs.SetStatOptions) (uintptr, error) {
	pa, err := resolveAt(t, dirfd, pathAddr, false)
	if err != nil {
		return 0, err
	}
	return 0, setStatAt(t, pa, true, opts)
}

// Utime implements utime(2).
func Utime(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	opts := vfs.SetStatOptions{Mask: vfs.SetStatAtimeNow | vfs.SetStatMtimeNow}
	if addr := args.Addr(1); addr != 0 {
		var b [16]byte
		if _, err := t.CopyIn(addr, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		opts = vfs.SetStatOptions{Mask: vfs.SetStatAtime | vfs.SetStatMtime,
			Atime: vfs.Timespec{Sec: int64(binary.LittleEndian.Uint64(b[0:]))},
			Mtime: vfs.Timespec{Sec: int64(binary.LittleEndian.Uint64(b[8:]))}}
	}
	return futimesat(t, atFDCWD, args.Addr(0), opts)
}

// Utimes implements utimes(2).
func Utimes(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	opts, err := copyInTimevals(t, args.Addr(1))
	if err != nil {
		return 0, err
	}
	return futimesat(t, atFDCWD, args.Addr(0), opts)
}

// Futimesat implements futimesat(2).
func Futimesat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	opts, err := copyInTimevals(t, args.Addr(2))
	if err != nil {
		return 0, err
	}
	return futimesat(t, args.Int(0), args.Addr(1), opts)
}

func init() {
	register(unix.SYS_SYNC, "sync", Sync, kernel.Supported, "")
	register(unix.SYS_SYNCFS, "syncfs", Syncfs, kernel.Supported, "")
	register(unix.SYS_SYNC_FILE_RANGE, "sync_file_range", SyncFileRange, kernel.Supported, "")
	register(unix.SYS_FADVISE64, "fadvise64", Fadvise64, kernel.Supported, "advice is accepted and has no effect")
	register(unix.SYS_READAHEAD, "readahead", Readahead, kernel.Supported, "")
	register(unix.SYS_FALLOCATE, "fallocate", Fallocate, kernel.Partial, "modes 0, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE on tmpfs and the overlay; what the host supports on gofer files")
	register(unix.SYS_CLOSE_RANGE, "close_range", CloseRange, kernel.Partial, "no CLOSE_RANGE_UNSHARE")
	register(unix.SYS_UTIME, "utime", Utime, kernel.Supported, "")
	register(unix.SYS_UTIMES, "utimes", Utimes, kernel.Supported, "")
	register(unix.SYS_FUTIMESAT, "futimesat", Futimesat, kernel.Supported, "")
}
