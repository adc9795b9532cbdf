package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
)

// Read implements read(2).
func Read(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	f, err := getFileNoPath(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if !f.Readable() {
		return 0, unix.EBADF
	}
	bs, err := blocks(t, args.Addr(1), uint64(args[2]), true)
	if err != nil {
		return 0, err
	}
	n, err := f.Read(t, bs)
	return ioResult(n, err)
}

// ioResult turns a transfer's count and error into a syscall result: bytes moved win
// over a later error.
func ioResult(n int64, err error) (uintptr, error) {
	if n > 0 {
		return uintptr(n), nil
	}
	if err != nil {
		return 0, err
	}
	return 0, nil
}

// Write implements write(2).
func Write(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	f, err := getFileNoPath(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if !f.Writable() {
		return 0, unix.EBADF
	}
	bs, err := blocks(t, args.Addr(1), uint64(args[2]), false)
	if err != nil {
		return 0, err
	}
	n, err := f.Write(t, bs)
	if n == 0 {
		sigpipe(t, err)
	}
	return ioResult(n, err)
}

// Readv implements readv(2).
func Readv(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	f, err := getFileNoPath(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if !f.Readable() {
		return 0, unix.EBADF
	}
	bs, err := iovecBlocks(t, args.Addr(1), args.Int(2), true)
	if err != nil {
		return 0, err
	}
	n, err := f.Read(t, bs)
	return ioResult(n, err)
}

// Writev implements writev(2).
func Writev(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	f, err := getFileNoPath(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if !f.Writable() {
		return 0, unix.EBADF
	}
	bs, err := iovecBlocks(t, args.Addr(1), args.Int(2), false)
	if err != nil {
		return 0, err
	}
	n, err := f.Write(t, bs)
	if n == 0 {
		sigpipe(t, err)
	}
	return ioResult(n, err)
}

// positional checks the common arguments of the p* calls and returns the file.
func positional(t *kernel.Task, fd int32, off int64, write bool) (fileRef, error) {
	if off < 0 {
		return fileRef{}, unix.EINVAL
	}
	f, err := getFileNoPath(t, fd)
	if err != nil {
		return fileRef{}, err
	}
	if isStream(f) {
		f.DecRef()
		return fileRef{}, unix.ESPIPE
	}
	if (write && !f.Writable()) || (!write && !f.Readable()) {
		f.DecRef()
		return fileRef{}, unix.EBADF
	}
	return fileRef{f}, nil
}

// Pread64 implements pread64(2).
func Pread64(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	off := args.Int64(3)
	r, err := positional(t, args.Int(0), off, false)
	if err != nil {
		return 0, err
	}
	defer r.DecRef()
	bs, err := blocks(t, args.Addr(1), uint64(args[2]), true)
	if err != nil {
		return 0, err
	}
	n, err := r.PRead(t, bs, off)
	return ioResult(n, err)
}

// Pwrite64 implements pwrite64(2).
func Pwrite64(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	off := args.Int64(3)
	r, err := positional(t, args.Int(0), off, true)
	if err != nil {
		return 0, err
	}
	defer r.DecRef()
	bs, err := blocks(t, args.Addr(1), uint64(args[2]), false)
	if err != nil {
		return 0, err
	}
	n, err := r.PWrite(t, bs, off)
	if n == 0 {
		sigpipe(t, err)
	}
	return ioResult(n, err)
}

// Preadv implements preadv(2).
func Preadv(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	off := args.Int64(3)
	r, err := positional(t, args.Int(0), off, false)
	if err != nil {
		return 0, err
	}
	defer r.DecRef()
	bs, err := iovecBlocks(t, args.Addr(1), args.Int(2), true)
	if err != nil {
		return 0, err
	}
	n, err := r.PRead(t, bs, off)
	return ioResult(n, err)
}

// Pwritev implements pwritev(2).
func Pwritev(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	off := args.Int64(3)
	r, err := positional(t, args.Int(0), off, true)
	if err != nil {
		return 0, err
	}
	defer r.DecRef()
	bs, err := iovecBlocks(t, args.Addr(1), args.Int(2), false)
	if err != nil {
		return 0, err
	}
	n, err := r.PWrite(t, bs, off)
	if n == 0 {
		sigpipe(t, err)
	}
	return ioResult(n, err)
}

// Lseek implements lseek(2).
func Lseek(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	f, err := getFileNoPath(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	whence := args.Int(2)
	if whence < unix.SEEK_SET || whence > unix.SEEK_HOLE {
		return 0, unix.EINVAL
	}
	n, err := f.Seek(t, args.Int64(1), int(whence))
	if err != nil {
		return 0, err
	}
	return uintptr(n), nil
}

func init() {
	register(unix.SYS_READ, "read", Read, kernel.Supported, "")
	register(unix.SYS_WRITE, "write", Write, kernel.Supported, "")
	register(unix.SYS_READV, "readv", Readv, kernel.Supported, "")
	register(unix.SYS_WRITEV, "writev", Writev, kernel.Supported, "")
	register(unix.SYS_PREAD64, "pread64", Pread64, kernel.Supported, "")
	register(unix.SYS_PWRITE64, "pwrite64", Pwrite64, kernel.Supported, "")
	register(unix.SYS_PREADV, "preadv", Preadv, kernel.Supported, "")
	register(unix.SYS_PWRITEV, "pwritev", Pwritev, kernel.Supported, "")
	register(unix.SYS_LSEEK, "lseek", Lseek, kernel.Supported, "")
}
