// Package host owns file descriptions over host file descriptors donated to the sandbox
// (the container's stdio, and later other donated fds): reads and writes go straight to
// the host fd, fstat and lseek ask the host, and terminal ioctls are passed to the host
// terminal. It also holds the helpers that move data between host fds and the [][]byte
// views of application memory, used by every filesystem that has host fds (gofer).
//
// Lock order: inode.mu is a leaf; readiness takes hostPoll.mu, then notifier.mu (poll.go).
package host

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

// NewFile returns a file description over hostFD, which it takes ownership of (it is
// closed with the last reference). The description's flags are the host fd's.
func NewFile(v *vfs.VirtualFilesystem, hostFD int) (*vfs.FileDescription, error) {
	var st unix.Stat_t
	if err := unix.Fstat(hostFD, &st); err != nil {
		return nil, err
	}
	flags, err := unix.FcntlInt(uintptr(hostFD), unix.F_GETFL, 0)
	if err != nil {
		return nil, err
	}
	i := &inode{fd: hostFD, typ: st.Mode & unix.S_IFMT, ino: st.Ino}
	if i.typ == unix.S_IFCHR {
		if _, err := unix.IoctlGetTermios(hostFD, unix.TCGETS); err == nil {
			i.tty = true
		}
	}
	i.refs = 1
	vd := v.NewAnonVirtualDentry(nil, i)
	return vfs.NewFileDescription(vd, &file{inode: i}, uint32(flags)&^unix.O_CLOEXEC, vfs.FileOptions{Stream: true}), nil
}

// inode is a host file.
type inode struct {
	vfs.NoInodeOps
	fd  int
	typ uint32
	ino uint64
	tty bool

	mu   sync.Mutex
	refs int // open file implementations; the fd is closed with the last

	poll hostPoll // readiness (poll.go)
}

func (i *inode) incRef() {
	i.mu.Lock()
	i.refs++
	i.mu.Unlock()
}

func (i *inode) decRef() {
	i.mu.Lock()
	i.refs--
	last := i.refs == 0
	i.mu.Unlock()
	if last {
		i.unwatch()
		unix.Close(i.fd)
	}
}

// Stat implements vfs.Inode.Stat.
func (i *inode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	var st unix.Stat_t
	if err := unix.Fstat(i.fd, &st); err != nil {
		return vfs.Stat{}, errno(err)
	}
	return StatFromUnix(&st), nil
}

// SetStat implements vfs.Inode.SetStat: size and mode changes go to the host.
func (i *inode) SetStat(ctx vfs.Context, opts vfs.SetStatOptions) error {
	if opts.Mask&vfs.SetStatSize != 0 {
		if err := unix.Ftruncate(i.fd, opts.Size); err != nil {
			return errno(err)
		}
	}
	if opts.Mask&vfs.SetStatMode != 0 {
		if err := unix.Fchmod(i.fd, opts.Mode); err != nil {
			return errno(err)
		}
	}
	if opts.Mask&(vfs.SetStatUID|vfs.SetStatGID|vfs.SetStatAtime|vfs.SetStatMtime|vfs.SetStatAtimeNow|vfs.SetStatMtimeNow) != 0 {
		return unix.EPERM
	}
	return nil
}

// Open implements vfs.Inode.Open: reopening (through /proc/self/fd) shares the host fd.
func (i *inode) Open(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileImpl, error) {
	i.incRef()
	return &file{inode: i}, nil
}

// PathName implements vfs.PathNamer with the host's name for pipes, sockets and
// terminals, and an opaque name for anything else.
func (i *inode) PathName() string {
	if name, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", i.fd)); err == nil {
		if strings.HasPrefix(name, "pipe:") || strings.HasPrefix(name, "socket:") ||
			strings.HasPrefix(name, "/dev/pts/") || strings.HasPrefix(name, "/dev/tty") ||
			name == "/dev/null" {
			return name
		}
	}
	return fmt.Sprintf("host:[%d]", i.ino)
}

// file is an open host file.
type file struct {
	vfs.NoFileOps
	inode    *inode
	nonblock atomic.Bool // the description's O_NONBLOCK (the host fd stays as it is)
}

// StatusFlagsChanged implements vfs.StatusFlagsObserver.
func (f *file) StatusFlagsChanged(flags uint32) {
	f.nonblock.Store(flags&unix.O_NONBLOCK != 0)
}

// wouldBlock reports whether an I/O of the given poll kind would block, for descriptions
// with O_NONBLOCK on host fds that may be blocking (shared with the sandbox's caller).
func (f *file) wouldBlock(events int16) bool {
	if !f.nonblock.Load() || f.inode.typ == unix.S_IFREG || f.inode.typ == unix.S_IFDIR {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(f.inode.fd), Events: events}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n == 0
	}
}

// Release implements vfs.FileImpl.Release.
func (f *file) Release() { f.inode.decRef() }

// Read implements vfs.FileImpl.Read.
func (f *file) Read(ctx vfs.Context, dst [][]byte, off int64) (int64, error) {
	if f.inode.typ == unix.S_IFDIR {
		return 0, unix.EISDIR
	}
	if off < 0 && f.wouldBlock(unix.POLLIN) {
		return 0, unix.EAGAIN
	}
	if off < 0 && !f.nonblock.Load() {
		if err := f.waitReady(ctx, vfs.ReadableEvents); err != nil {
			return 0, err
		}
	}
	return Readv(f.inode.fd, dst, off)
}

// Write implements vfs.FileImpl.Write.
func (f *file) Write(ctx vfs.Context, src [][]byte, off int64, appendMode bool) (int64, int64, error) {
	if appendMode && off < 0 && f.inode.typ == unix.S_IFREG {
		if _, err := unix.Seek(f.inode.fd, 0, unix.SEEK_END); err != nil {
			return 0, off, errno(err)
		}
	}
	if off < 0 && f.wouldBlock(unix.POLLOUT) {
		return 0, off, unix.EAGAIN
	}
	if off < 0 && !f.nonblock.Load() {
		if err := f.waitReady(ctx, vfs.WritableEvents); err != nil {
			return 0, off, err
		}
	}
	n, err := Writev(f.inode.fd, src, off)
	return n, off + n, err
}

// Seek implements vfs.FileImpl.Seek.
func (f *file) Seek(ctx vfs.Context, cur, offset int64, whence int) (int64, error) {
	n, err := unix.Seek(f.inode.fd, offset, whence)
	return n, errno(err)
}

// Getdents implements vfs.FileImpl.Getdents.
func (f *file) Getdents(ctx vfs.Context, off int64, emit func(vfs.Dirent) bool) (int64, error) {
	return off, unix.ENOTDIR
}

// Ioctl implements vfs.FileImpl.Ioctl: terminal ioctls and FIONREAD go to the host.
func (f *file) Ioctl(ctx vfs.Context, fd *vfs.FileDescription, cmd uint32, arg uintptr) (uintptr, error) {
	return Ioctl(ctx, f.inode.fd, f.inode.tty, cmd, arg)
}

// StatFromUnix converts a host stat.
func StatFromUnix(st *unix.Stat_t) vfs.Stat {
	return vfs.Stat{
		Mask:      vfs.StatxBasicStats,
		Blksize:   uint32(st.Blksize),
		Nlink:     uint32(st.Nlink),
		UID:       st.Uid,
		GID:       st.Gid,
		Mode:      st.Mode,
		Ino:       st.Ino,
		Size:      uint64(st.Size),
		Blocks:    uint64(st.Blocks),
		Atime:     vfs.Timespec{Sec: st.Atim.Sec, Nsec: st.Atim.Nsec},
		Mtime:     vfs.Timespec{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec},
		Ctime:     vfs.Timespec{Sec: st.Ctim.Sec, Nsec: st.Ctim.Nsec},
		RdevMajor: unix.Major(st.Rdev),
		RdevMinor: unix.Minor(st.Rdev),
		DevMajor:  unix.Major(st.Dev),
		DevMinor:  unix.Minor(st.Dev),
	}
}

func errno(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(unix.Errno); ok {
		return e
	}
	return unix.EIO
}
