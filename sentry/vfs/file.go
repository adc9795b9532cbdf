package vfs

import (
	"io"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// FileImpl is a filesystem's implementation of an open file.
type FileImpl interface {
	// Release is called when the last reference to the file description goes.
	Release()
	// Read reads into dst at offset off, or at the file's own position when off is -1
	// (only for Stream files). It returns the bytes read; 0 and no error at end of file.
	Read(ctx Context, dst [][]byte, off int64) (int64, error)
	// Write writes src at offset off (or the file's own position when off is -1), at the
	// end of the file instead when appendMode is set. It returns the bytes written and the
	// offset just after them.
	Write(ctx Context, src [][]byte, off int64, appendMode bool) (n int64, end int64, err error)
	// Seek returns the new offset for lseek(offset, whence) from the current offset cur
	// (-1 for Stream files).
	Seek(ctx Context, cur, offset int64, whence int) (int64, error)
	// Getdents calls emit for each directory entry from offset off until emit returns
	// false (the entry did not fit and must be produced again next time) or the directory
	// ends, and returns the offset to resume from.
	Getdents(ctx Context, off int64, emit func(Dirent) bool) (int64, error)
	// Ioctl implements ioctl(2) for commands the VFS does not handle itself.
	Ioctl(ctx Context, fd *FileDescription, cmd uint32, arg uintptr) (uintptr, error)
}

// NoFileOps implements FileImpl with the errors of a file that supports nothing.
type NoFileOps struct{}

// Release implements FileImpl.Release.
func (NoFileOps) Release() {}

// Read implements FileImpl.Read.
func (NoFileOps) Read(ctx Context, dst [][]byte, off int64) (int64, error) { return 0, unix.EINVAL }

// Write implements FileImpl.Write.
func (NoFileOps) Write(ctx Context, src [][]byte, off int64, appendMode bool) (int64, int64, error) {
	return 0, off, unix.EINVAL
}

// Seek implements FileImpl.Seek.
func (NoFileOps) Seek(ctx Context, cur, offset int64, whence int) (int64, error) {
	return 0, unix.ESPIPE
}

// Getdents implements FileImpl.Getdents.
func (NoFileOps) Getdents(ctx Context, off int64, emit func(Dirent) bool) (int64, error) {
	return off, unix.ENOTDIR
}

// Ioctl implements FileImpl.Ioctl.
func (NoFileOps) Ioctl(ctx Context, fd *FileDescription, cmd uint32, arg uintptr) (uintptr, error) {
	return 0, unix.ENOTTY
}

// DirFileOps is the FileImpl base of directories: reads and writes fail with EISDIR,
// seeks accept SEEK_SET and SEEK_CUR.
type DirFileOps struct{ NoFileOps }

// Read implements FileImpl.Read.
func (DirFileOps) Read(ctx Context, dst [][]byte, off int64) (int64, error) { return 0, unix.EISDIR }

// Write implements FileImpl.Write.
func (DirFileOps) Write(ctx Context, src [][]byte, off int64, appendMode bool) (int64, int64, error) {
	return 0, off, unix.EISDIR
}

// Seek implements FileImpl.Seek.
func (DirFileOps) Seek(ctx Context, cur, offset int64, whence int) (int64, error) {
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		offset += cur
	default:
		return 0, unix.EINVAL
	}
	if offset < 0 {
		return 0, unix.EINVAL
	}
	return offset, nil
}

// GenericSeek computes lseek's result for a file of the given size.
func GenericSeek(cur, offset int64, whence int, size int64) (int64, error) {
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		offset += cur
	case unix.SEEK_END:
		offset += size
	case unix.SEEK_DATA:
		if offset < 0 {
			return 0, unix.EINVAL
		}
		if offset >= size {
			return 0, unix.ENXIO
		}
	case unix.SEEK_HOLE:
		if offset < 0 {
			return 0, unix.EINVAL
		}
		if offset >= size {
			return 0, unix.ENXIO
		}
		offset = size
	default:
		return 0, unix.EINVAL
	}
	if offset < 0 {
		return 0, unix.EINVAL
	}
	return offset, nil
}

// Allocator is implemented by file implementations that support fallocate(2). The
// syscall has checked the mode's combination, the range, and that the file is a
// writable regular file.
type Allocator interface {
	Allocate(ctx Context, mode uint32, off, length int64) error
}

// CacheSyncer is implemented by file implementations that keep data in a cache (the page
// cache that shared mappings map) and write it back on fsync(2).
type CacheSyncer interface {
	SyncCache() error
}

// StatusFlagsObserver is implemented by file implementations that act on status flags
// (O_NONBLOCK on a host fd): the VFS tells them the flags at creation and every change.
type StatusFlagsObserver interface {
	StatusFlagsChanged(flags uint32)
}

// Status flags that F_SETFL may change.
const SettableStatusFlags = unix.O_APPEND | unix.O_ASYNC | unix.O_DIRECT | unix.O_NOATIME | unix.O_NONBLOCK

// FileOptions say how a file description behaves beyond its flags.
type FileOptions struct {
	// Stream files have no offset kept by the VFS: reads and writes go to the
	// implementation with off -1 and need no lock (pipes, terminals, host files).
	Stream bool
}

// FileDescription is an open file: what a file descriptor refers to, shared by dup and
// fork.
type FileDescription struct {
	refs   atomic.Int64
	vd     VirtualDentry
	impl   FileImpl
	flags  atomic.Uint32 // access mode and status flags, as F_GETFL returns them
	stream bool

	offMu sync.Mutex
	off   int64

	hooks releaseHooks // run before impl.Release (waiter.go)
}

// NewFileDescription returns a file description with one reference. flags are the
// open(2) flags; creation flags are dropped as Linux does.
func NewFileDescription(vd VirtualDentry, impl FileImpl, flags uint32, opts FileOptions) *FileDescription {
	fd := &FileDescription{vd: vd, impl: impl, stream: opts.Stream}
	fd.refs.Store(1)
	if flags&unix.O_PATH != 0 {
		flags = unix.O_PATH
	} else {
		flags &^= unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC | unix.O_CLOEXEC
		flags |= unix.O_LARGEFILE
	}
	fd.flags.Store(flags)
	if o, ok := impl.(StatusFlagsObserver); ok {
		o.StatusFlagsChanged(flags)
	}
	return fd
}

// IncRef takes a reference.
func (fd *FileDescription) IncRef() { fd.refs.Add(1) }

// TryIncRef takes a reference unless the last one is already gone.
func (fd *FileDescription) TryIncRef() bool {
	for {
		r := fd.refs.Load()
		if r <= 0 {
			return false
		}
		if fd.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// DecRef drops a reference, releasing the file with the last one.
func (fd *FileDescription) DecRef() {
	if fd.refs.Add(-1) == 0 {
		fd.runReleaseHooks()
		if fd.impl != nil {
			fd.impl.Release()
		}
	}
}

// Impl returns the filesystem's implementation.
func (fd *FileDescription) Impl() FileImpl { return fd.impl }

// VirtualDentry returns the file's position in the tree.
func (fd *FileDescription) VirtualDentry() VirtualDentry { return fd.vd }

// Dentry returns the file's dentry.
func (fd *FileDescription) Dentry() *Dentry { return fd.vd.Dentry }

// Inode returns the file's inode.
func (fd *FileDescription) Inode() Inode { return fd.vd.Dentry.inode }

// Mount returns the mount the file was opened through.
func (fd *FileDescription) Mount() *Mount { return fd.vd.Mount }

// StatusFlags returns the access mode and status flags (F_GETFL).
func (fd *FileDescription) StatusFlags() uint32 { return fd.flags.Load() }

// SetStatusFlags replaces the settable status flags (F_SETFL) by those in flags.
func (fd *FileDescription) SetStatusFlags(flags uint32) {
	for {
		old := fd.flags.Load()
		n := old&^SettableStatusFlags | flags&SettableStatusFlags
		if fd.flags.CompareAndSwap(old, n) {
			if o, ok := fd.impl.(StatusFlagsObserver); ok {
				o.StatusFlagsChanged(n)
			}
			return
		}
	}
}

// IsPath reports whether the file was opened with O_PATH.
func (fd *FileDescription) IsPath() bool { return fd.flags.Load()&unix.O_PATH != 0 }

// Readable reports whether the file was opened for reading.
func (fd *FileDescription) Readable() bool {
	f := fd.flags.Load()
	if f&unix.O_PATH != 0 {
		return false
	}
	acc := f & unix.O_ACCMODE
	return acc == unix.O_RDONLY || acc == unix.O_RDWR
}

// Writable reports whether the file was opened for writing.
func (fd *FileDescription) Writable() bool {
	f := fd.flags.Load()
	if f&unix.O_PATH != 0 {
		return false
	}
	acc := f & unix.O_ACCMODE
	return acc == unix.O_WRONLY || acc == unix.O_RDWR
}

// Read reads at the file offset and advances it.
func (fd *FileDescription) Read(ctx Context, dst [][]byte) (int64, error) {
	if !fd.Readable() {
		return 0, unix.EBADF
	}
	if fd.stream {
		return fd.impl.Read(ctx, dst, -1)
	}
	fd.offMu.Lock()
	n, err := fd.impl.Read(ctx, dst, fd.off)
	fd.off += n
	fd.offMu.Unlock()
	return n, err
}

// PRead reads at off, leaving the file offset alone.
func (fd *FileDescription) PRead(ctx Context, dst [][]byte, off int64) (int64, error) {
	if !fd.Readable() {
		return 0, unix.EBADF
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	return fd.impl.Read(ctx, dst, off)
}

// Write writes at the file offset (or the end with O_APPEND) and advances it.
func (fd *FileDescription) Write(ctx Context, src [][]byte) (int64, error) {
	if !fd.Writable() {
		return 0, unix.EBADF
	}
	appendMode := fd.flags.Load()&unix.O_APPEND != 0
	if fd.stream {
		n, _, err := fd.impl.Write(ctx, src, -1, appendMode)
		return n, err
	}
	fd.offMu.Lock()
	n, end, err := fd.impl.Write(ctx, src, fd.off, appendMode)
	if n > 0 || (appendMode && err == nil) {
		fd.off = end
	}
	fd.offMu.Unlock()
	return n, err
}

// PWrite writes at off (at the end with O_APPEND, as Linux does), leaving the file
// offset alone.
func (fd *FileDescription) PWrite(ctx Context, src [][]byte, off int64) (int64, error) {
	if !fd.Writable() {
		return 0, unix.EBADF
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	n, _, err := fd.impl.Write(ctx, src, off, fd.flags.Load()&unix.O_APPEND != 0)
	return n, err
}

// Seek implements lseek(2).
func (fd *FileDescription) Seek(ctx Context, offset int64, whence int) (int64, error) {
	if fd.IsPath() {
		return 0, unix.EBADF
	}
	if fd.stream {
		return fd.impl.Seek(ctx, -1, offset, whence)
	}
	fd.offMu.Lock()
	defer fd.offMu.Unlock()
	n, err := fd.impl.Seek(ctx, fd.off, offset, whence)
	if err != nil {
		return 0, err
	}
	fd.off = n
	return n, nil
}

// Offset returns the file offset.
func (fd *FileDescription) Offset() int64 {
	fd.offMu.Lock()
	defer fd.offMu.Unlock()
	return fd.off
}

// Getdents produces directory entries from the file offset, advancing it.
func (fd *FileDescription) Getdents(ctx Context, emit func(Dirent) bool) error {
	if fd.IsPath() {
		return unix.EBADF
	}
	fd.offMu.Lock()
	defer fd.offMu.Unlock()
	off, err := fd.impl.Getdents(ctx, fd.off, emit)
	fd.off = off
	return err
}

// Ioctl passes an ioctl to the implementation.
func (fd *FileDescription) Ioctl(ctx Context, cmd uint32, arg uintptr) (uintptr, error) {
	if fd.IsPath() {
		return 0, unix.EBADF
	}
	return fd.impl.Ioctl(ctx, fd, cmd, arg)
}

// StatCtx returns the file's attributes.
func (fd *FileDescription) StatCtx(ctx Context) (Stat, error) {
	st, err := fd.vd.Dentry.inode.Stat(ctx)
	if err != nil {
		return Stat{}, err
	}
	st.MountID = fd.vd.Mount.id
	return st, nil
}

// Stat returns the file's attributes, for the sentry's own use.
func (fd *FileDescription) Stat() (Stat, error) {
	return fd.StatCtx(NewKernelContext())
}

// ReadAt reads len(p) bytes at off for the sentry's own use (loading ELF files, private
// file mappings), with io.ReaderAt semantics: a short read ends with io.EOF.
func (fd *FileDescription) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	ctx := NewKernelContext()
	done := 0
	for done < len(p) {
		n, err := fd.impl.Read(ctx, [][]byte{p[done:]}, off+int64(done))
		done += int(n)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return done, err
		}
		if n == 0 {
			return done, io.EOF
		}
	}
	return done, nil
}
