package dev

import (
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/fs/tmpfs"
	"runsc.dev/sentry/vfs"
)

func TestDevices(t *testing.T) {
	ctx := vfs.NewKernelContext()
	v := vfs.New()
	if err := v.MountRoot(ctx, tmpfs.New(tmpfs.Options{Mode: 0755}), 0); err != nil {
		t.Fatal(err)
	}
	root := v.Root()
	if err := v.MkdirAt(ctx, root, root, "/dev", 0755); err != nil {
		t.Fatal(err)
	}
	fs, err := New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Mount(ctx, "/dev", fs, vfs.MountNoSUID); err != nil {
		t.Fatal(err)
	}
	open := func(p string, flags uint32) *vfs.FileDescription {
		t.Helper()
		f, err := v.OpenAt(ctx, root, root, p, flags, 0)
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		return f
	}
	buf := make([]byte, 16)
	for i := range buf {
		buf[i] = 0xff
	}
	f := open("/dev/null", unix.O_RDWR)
	if n, err := f.Write(ctx, [][]byte{buf}); n != 16 || err != nil {
		t.Errorf("write null: %d %v", n, err)
	}
	if n, err := f.Read(ctx, [][]byte{buf}); n != 0 || err != nil {
		t.Errorf("read null: %d %v", n, err)
	}
	f.DecRef()
	f = open("/dev/zero", unix.O_RDONLY)
	if n, _ := f.Read(ctx, [][]byte{buf}); n != 16 || buf[5] != 0 {
		t.Errorf("read zero: %d %v", n, buf)
	}
	f.DecRef()
	f = open("/dev/full", unix.O_WRONLY)
	if _, err := f.Write(ctx, [][]byte{buf}); err != unix.ENOSPC {
		t.Errorf("write full: %v", err)
	}
	f.DecRef()
	f = open("/dev/urandom", unix.O_RDONLY)
	if n, err := f.Read(ctx, [][]byte{make([]byte, 100)}); n != 100 || err != nil {
		t.Errorf("read urandom: %d %v", n, err)
	}
	f.DecRef()
	if _, err := v.OpenAt(ctx, root, root, "/dev/tty", unix.O_RDWR, 0); err != unix.ENXIO {
		t.Errorf("open tty: %v", err)
	}
	if s, err := v.ReadlinkAt(ctx, root, root, "/dev/stdin"); s != "/proc/self/fd/0" || err != nil {
		t.Errorf("readlink stdin: %q %v", s, err)
	}
	st, err := v.StatAt(ctx, root, root, "/dev/null", true)
	if err != nil || st.Type() != unix.S_IFCHR || st.RdevMajor != 1 || st.RdevMinor != 3 {
		t.Errorf("stat null: %v %+v", err, st)
	}
	// A node made with mknod elsewhere is the same device.
	if err := v.MknodAt(ctx, root, root, "/mynull", unix.S_IFCHR|0666, unix.Mkdev(1, 3)); err != nil {
		t.Fatal(err)
	}
	f = open("/mynull", unix.O_WRONLY)
	f.DecRef()
}
