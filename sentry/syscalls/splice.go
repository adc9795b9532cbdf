package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/fs/pipe"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// The data-moving calls (sendfile, splice, copy_file_range) copy through a sentry buffer:
// the sentry has no page cache to move pages between, so the copy is the transfer.

// transferChunk is the most one copy moves through the buffer at a time.
const transferChunk = 64 << 10

// offsetArg is an in/out loff_t argument: nil pointer means "use and advance the file's
// offset".
type offsetArg struct {
	addr uintptr
	set  bool
	off  int64
}

func readOffsetArg(t *kernel.Task, addr uintptr) (offsetArg, error) {
	if addr == 0 {
		return offsetArg{}, nil
	}
	v, err := t.CopyInUint64(addr)
	if err != nil {
		return offsetArg{}, unix.EFAULT
	}
	o := offsetArg{addr: addr, set: true, off: int64(v)}
	if o.off < 0 {
		return o, unix.EINVAL
	}
	return o, nil
}

func (o *offsetArg) store(t *kernel.Task) error {
	if !o.set {
		return nil
	}
	if err := t.CopyOutUint64(o.addr, uint64(o.off)); err != nil {
		return unix.EFAULT
	}
	return nil
}

// waitWritable blocks until f may take a write (ERESTARTSYS if interrupted).
func waitWritable(t *kernel.Task, f *vfs.FileDescription) error {
	if f.Readiness(vfs.WritableEvents)&vfs.WritableEvents != 0 {
		return nil
	}
	e, ch := vfs.NewChannelEntry(vfs.WritableEvents | vfs.EventErr | vfs.EventHUp)
	if err := f.EventRegister(e); err != nil {
		return nil
	}
	defer f.EventUnregister(e)
	if f.Readiness(vfs.WritableEvents)&vfs.WritableEvents != 0 {
		return nil
	}
	return vfs.Wait(t, ch)
}

// transfer copies up to count bytes from in to out: at inOff/outOff when set (and
// advancing them), else at and advancing the files' offsets. Data read from a stream
// (a pipe) is always written out whole, waiting for room if need be, so none is lost.
func transfer(t *kernel.Task, in *vfs.FileDescription, inOff *offsetArg, out *vfs.FileDescription, outOff *offsetArg, count int64) (int64, error) {
	if count > maxRWCount {
		count = maxRWCount
	}
	outNonblock := out.StatusFlags()&unix.O_NONBLOCK != 0
	inStream := isStream(in)
	buf := make([]byte, min(count, transferChunk))
	var done int64
	for done < count {
		want := min(count-done, int64(len(buf)))
		if inStream && outNonblock && out.Readiness(vfs.WritableEvents)&vfs.WritableEvents == 0 {
			// Do not take data from a pipe that could not be written on.
			if done == 0 {
				return 0, unix.EAGAIN
			}
			break
		}
		var n int64
		var err error
		if inOff.set {
			n, err = in.PRead(t, [][]byte{buf[:want]}, inOff.off)
		} else {
			n, err = in.Read(t, [][]byte{buf[:want]})
		}
		if n <= 0 {
			if done > 0 {
				break
			}
			return 0, err
		}
		w, werr := writeOut(t, out, outOff, buf[:n], inStream)
		done += w
		if inOff.set {
			inOff.off += w
		} else if w < n && !inStream {
			// Give back what was read but not written (a regular file's offset).
			in.Seek(t, w-n, unix.SEEK_CUR)
		}
		if werr != nil {
			if done > 0 {
				break
			}
			return 0, werr
		}
		if w < n || n < want {
			break
		}
	}
	return done, nil
}

// writeOut writes b to out, all of it when must (waiting for room), else as much as one
// write takes.
func writeOut(t *kernel.Task, out *vfs.FileDescription, outOff *offsetArg, b []byte, must bool) (int64, error) {
	var done int64
	for done < int64(len(b)) {
		var n int64
		var err error
		if outOff.set {
			n, err = out.PWrite(t, [][]byte{b[done:]}, outOff.off)
			if n > 0 {
				outOff.off += n
			}
		} else {
			n, err = out.Write(t, [][]byte{b[done:]})
		}
		done += n
		if err == unix.EAGAIN && must {
			if werr := waitWritable(t, out); werr != nil {
				return done, werr
			}
			continue
		}
		if err != nil {
			if n == 0 {
				sigpipe(t, err)
			}
			return done, err
		}
		if !must {
			break
		}
	}
	return done, nil
}

// Sendfile implements sendfile(2).
func Sendfile(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	outFD, inFD, offAddr, count := args.Int(0), args.Int(1), args.Addr(2), args.Int64(3)
	in, err := getFileNoPath(t, inFD)
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	out, err := getFileNoPath(t, outFD)
	if err != nil {
		return 0, err
	}
	defer out.DecRef()
	if !in.Readable() || !out.Writable() {
		return 0, unix.EBADF
	}
	if out.StatusFlags()&unix.O_APPEND != 0 {
		return 0, unix.EINVAL
	}
	if count < 0 {
		return 0, unix.EINVAL
	}
	inOff, err := readOffsetArg(t, offAddr)
	if err != nil {
		return 0, err
	}
	if inOff.set && isStream(in) {
		return 0, unix.ESPIPE
	}
	if in.Dentry().IsDir() {
		return 0, unix.EINVAL
	}
	if count == 0 {
		return 0, nil
	}
	n, err := transfer(t, in, &inOff, out, &offsetArg{}, count)
	if serr := inOff.store(t); serr != nil && err == nil {
		err = serr
	}
	return ioResult(n, err)
}

// splicePair gets the files of splice and tee (the caller DecRefs both): EINVAL for
// unknown flags or both ends on one pipe, EBADF unless in is readable and out writable.
func splicePair(t *kernel.Task, inFD, outFD int32, flags uint32) (in, out *vfs.FileDescription, err error) {
	if flags&^(unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MORE|unix.SPLICE_F_GIFT) != 0 {
		return nil, nil, unix.EINVAL
	}
	if in, err = getFileNoPath(t, inFD); err != nil {
		return nil, nil, err
	}
	if out, err = getFileNoPath(t, outFD); err != nil {
		in.DecRef()
		return nil, nil, err
	}
	switch {
	case !in.Readable() || !out.Writable():
		err = unix.EBADF
	case in.Inode() == out.Inode():
		err = unix.EINVAL
	default:
		return in, out, nil
	}
	in.DecRef()
	out.DecRef()
	return nil, nil, err
}

// isPipe reports whether f is a pipe or FIFO.
func isPipe(f *vfs.FileDescription) bool { return f.Dentry().Type() == unix.S_IFIFO }

// Splice implements splice(2): one side must be a pipe (a pipe takes no offset).
func Splice(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	inFD, inOffAddr, outFD, outOffAddr, count, flags := args.Int(0), args.Addr(1), args.Int(2), args.Addr(3), args.Int64(4), args.Uint(5)
	in, out, err := splicePair(t, inFD, outFD, flags)
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	defer out.DecRef()
	if !isPipe(in) && !isPipe(out) {
		return 0, unix.EINVAL
	}
	if (isPipe(in) && inOffAddr != 0) || (isPipe(out) && outOffAddr != 0) {
		return 0, unix.ESPIPE
	}
	if out.StatusFlags()&unix.O_APPEND != 0 && !isPipe(out) {
		return 0, unix.EINVAL
	}
	inOff, err := readOffsetArg(t, inOffAddr)
	if err != nil {
		return 0, err
	}
	outOff, err := readOffsetArg(t, outOffAddr)
	if err != nil {
		return 0, err
	}
	if count <= 0 {
		return 0, nil
	}
	if flags&unix.SPLICE_F_NONBLOCK != 0 && isPipe(in) && in.Readiness(vfs.ReadableEvents)&(vfs.ReadableEvents|vfs.EventHUp) == 0 {
		return 0, unix.EAGAIN
	}
	n, err := transfer(t, in, &inOff, out, &outOff, count)
	if serr := inOff.store(t); serr != nil && err == nil {
		err = serr
	}
	if serr := outOff.store(t); serr != nil && err == nil {
		err = serr
	}
	return ioResult(n, err)
}

// Tee implements tee(2): it copies up to len bytes of the input pipe's data to the
// output pipe without consuming them, as much as the output can take (waiting for input
// data, and for room in the output, unless SPLICE_F_NONBLOCK).
func Tee(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	in, out, err := splicePair(t, args.Int(0), args.Int(1), args.Uint(3))
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	defer out.DecRef()
	flags := args.Uint(3)
	if !isPipe(in) || !isPipe(out) {
		return 0, unix.EINVAL
	}
	src, ok1 := in.Impl().(pipe.Peeker)
	dst, ok2 := out.Impl().(pipe.Peeker)
	if !ok1 || !ok2 {
		return 0, unix.EINVAL
	}
	count := args.Int64(2)
	if count <= 0 {
		return 0, nil
	}
	nonblock := flags&unix.SPLICE_F_NONBLOCK != 0
	if nonblock && dst.Free() == 0 {
		return 0, unix.EAGAIN
	}
	// Never more than the output can hold at once, so that the write below completes
	// once there is room (Linux copies whole buffers that fit).
	room := dst.Free()
	if room == 0 {
		room = dst.PipeSize()
	}
	buf := make([]byte, min(count, maxRWCount, room))
	// As Linux's tee, only SPLICE_F_NONBLOCK (not the files' O_NONBLOCK) keeps it from
	// waiting.
	n, err := src.Peek(t, buf, nonblock)
	if n == 0 {
		return 0, err
	}
	w, werr := writeOut(t, out, &offsetArg{}, buf[:n], !nonblock)
	if w == 0 && werr != nil {
		return 0, werr
	}
	return uintptr(w), nil
}

// CopyFileRange implements copy_file_range(2).
func CopyFileRange(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	inFD, inOffAddr, outFD, outOffAddr, count, flags := args.Int(0), args.Addr(1), args.Int(2), args.Addr(3), args.Int64(4), args.Uint(5)
	if flags != 0 {
		return 0, unix.EINVAL
	}
	in, err := getFileNoPath(t, inFD)
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	out, err := getFileNoPath(t, outFD)
	if err != nil {
		return 0, err
	}
	defer out.DecRef()
	if !in.Readable() || !out.Writable() || out.StatusFlags()&unix.O_APPEND != 0 {
		return 0, unix.EBADF
	}
	if in.Dentry().IsDir() || out.Dentry().IsDir() {
		return 0, unix.EISDIR
	}
	if in.Dentry().Type() != unix.S_IFREG || out.Dentry().Type() != unix.S_IFREG {
		return 0, unix.EINVAL
	}
	inOff, err := readOffsetArg(t, inOffAddr)
	if err != nil {
		return 0, err
	}
	outOff, err := readOffsetArg(t, outOffAddr)
	if err != nil {
		return 0, err
	}
	if count < 0 {
		return 0, unix.EINVAL
	}
	if in.Inode() == out.Inode() {
		a, b := inOff.off, outOff.off
		if !inOff.set {
			a = in.Offset()
		}
		if !outOff.set {
			b = out.Offset()
		}
		if a < b+count && b < a+count {
			return 0, unix.EINVAL
		}
	}
	if count == 0 {
		return 0, nil
	}
	n, err := transfer(t, in, &inOff, out, &outOff, count)
	if serr := inOff.store(t); serr != nil && err == nil {
		err = serr
	}
	if serr := outOff.store(t); serr != nil && err == nil {
		err = serr
	}
	return ioResult(n, err)
}

func init() {
	register(unix.SYS_SENDFILE, "sendfile", Sendfile, kernel.Supported, "")
	register(unix.SYS_SPLICE, "splice", Splice, kernel.Partial, "copies through a buffer; SPLICE_F_NONBLOCK applies to the input pipe only")
	register(unix.SYS_TEE, "tee", Tee, kernel.Supported, "")
	register(unix.SYS_COPY_FILE_RANGE, "copy_file_range", CopyFileRange, kernel.Supported, "")
}
