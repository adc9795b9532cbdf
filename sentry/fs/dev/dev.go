// Package dev owns the sentry's /dev: the memory character devices (null, zero, full,
// random, urandom), the nodes of /dev/tty (opened by sentry/fs/devpts) and
// /dev/console (the sandbox's console, which boot provides), and the fd, stdin, stdout,
// stderr and ptmx links. The devices are registered with the VFS by number, so that a device node
// made with mknod anywhere opens the same way; /dev itself is a tmpfs holding the nodes.
//
// Lock order: no locks of its own.
package dev

import (
	"sync/atomic"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/fs/tmpfs"
	"runsc.dev/sentry/vfs"
)

// Device numbers (Documentation/admin-guide/devices.txt).
const (
	memMajor    = 1
	nullMinor   = 3
	zeroMinor   = 5
	fullMinor   = 7
	randomMinor = 8
	urandMinor  = 9
	ttyMajor    = 5
	ttyMinor    = 0
	consMinor   = 1
)

func init() {
	vfs.RegisterCharDevice(memMajor, nullMinor, openMem(memNull))
	vfs.RegisterCharDevice(memMajor, zeroMinor, openMem(memZero))
	vfs.RegisterCharDevice(memMajor, fullMinor, openMem(memFull))
	vfs.RegisterCharDevice(memMajor, randomMinor, openMem(memRandom))
	vfs.RegisterCharDevice(memMajor, urandMinor, openMem(memRandom))
	vfs.RegisterCharDevice(ttyMajor, consMinor, func(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileImpl, vfs.FileOptions, error) {
		if open := console.Load(); open != nil {
			return (*open)(ctx, vd, flags)
		}
		return nil, vfs.FileOptions{}, unix.ENXIO
	})
}

var console atomic.Pointer[vfs.DeviceOpener]

// SetConsole makes opening /dev/console (5:1) call open: the sandbox's console, where
// the container's output goes. Without one, the open fails with ENXIO.
func SetConsole(open vfs.DeviceOpener) {
	console.Store(&open)
}

// New returns a /dev filesystem: the device nodes, the /proc/self/fd links, and empty
// shm and pts directories to mount on.
func New(ctx vfs.Context) (*tmpfs.Filesystem, error) {
	fs := tmpfs.New(tmpfs.Options{Mode: 0755})
	root := fs.Root()
	for _, n := range []struct {
		name         string
		major, minor uint32
	}{
		{"null", memMajor, nullMinor},
		{"zero", memMajor, zeroMinor},
		{"full", memMajor, fullMinor},
		{"random", memMajor, randomMinor},
		{"urandom", memMajor, urandMinor},
		{"tty", ttyMajor, ttyMinor},
		{"console", ttyMajor, consMinor},
	} {
		mode := uint32(0666)
		if n.name == "console" {
			mode = 0600
		}
		if _, err := root.Mknod(ctx, n.name, vfs.CreateOptions{Mode: unix.S_IFCHR | mode, Rdev: unix.Mkdev(n.major, n.minor)}); err != nil {
			return nil, err
		}
	}
	for _, l := range []struct{ name, target string }{
		{"fd", "/proc/self/fd"},
		{"stdin", "/proc/self/fd/0"},
		{"stdout", "/proc/self/fd/1"},
		{"stderr", "/proc/self/fd/2"},
		{"ptmx", "pts/ptmx"},
	} {
		if _, err := root.Symlink(ctx, l.name, l.target, vfs.CreateOptions{Mode: unix.S_IFLNK | 0777}); err != nil {
			return nil, err
		}
	}
	if _, err := root.Mkdir(ctx, "shm", vfs.CreateOptions{Mode: unix.S_IFDIR | 01777}); err != nil {
		return nil, err
	}
	if _, err := root.Mkdir(ctx, "pts", vfs.CreateOptions{Mode: unix.S_IFDIR | 0755}); err != nil {
		return nil, err
	}
	return fs, nil
}

type memKind int

const (
	memNull memKind = iota
	memZero
	memFull
	memRandom
)

func openMem(k memKind) vfs.DeviceOpener {
	return func(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileImpl, vfs.FileOptions, error) {
		return &memFile{kind: k}, vfs.FileOptions{}, nil
	}
}

// memFile is an open memory device.
type memFile struct {
	vfs.NoFileOps
	kind memKind
}

// Read implements vfs.FileImpl.Read.
func (f *memFile) Read(ctx vfs.Context, dst [][]byte, off int64) (int64, error) {
	var n int64
	switch f.kind {
	case memNull:
		return 0, nil
	case memZero, memFull:
		for _, b := range dst {
			clear(b)
			n += int64(len(b))
		}
	case memRandom:
		for _, b := range dst {
			for len(b) > 0 {
				k, err := unix.Getrandom(b, 0)
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					if n > 0 {
						return n, nil
					}
					return 0, unix.EIO
				}
				b = b[k:]
				n += int64(k)
			}
		}
	}
	return n, nil
}

// Write implements vfs.FileImpl.Write.
func (f *memFile) Write(ctx vfs.Context, src [][]byte, off int64, appendMode bool) (int64, int64, error) {
	if f.kind == memFull {
		return 0, off, unix.ENOSPC
	}
	var n int64
	for _, b := range src {
		n += int64(len(b))
	}
	return n, off + n, nil
}

// Seek implements vfs.FileImpl.Seek: the position of a memory device means nothing.
func (f *memFile) Seek(ctx vfs.Context, cur, offset int64, whence int) (int64, error) {
	return 0, nil
}
