package tmpfs

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

func setup(t *testing.T, opts Options) (*vfs.VirtualFilesystem, vfs.Context, vfs.VirtualDentry) {
	v := vfs.New()
	ctx := vfs.NewKernelContext()
	if err := v.MountRoot(ctx, New(opts), 0); err != nil {
		t.Fatal(err)
	}
	return v, ctx, v.Root()
}

func TestSparseAndTruncate(t *testing.T) {
	v, ctx, root := setup(t, Options{})
	f, err := v.OpenAt(ctx, root, root, "/f", unix.O_CREAT|unix.O_RDWR, 0644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef()
	if n, err := f.PWrite(ctx, [][]byte{[]byte("end")}, 1<<40); n != 3 || err != nil {
		t.Fatalf("pwrite far: %d %v", n, err)
	}
	st, _ := f.Stat()
	if st.Size != 1<<40+3 || st.Blocks != 8 {
		t.Errorf("size %d blocks %d", st.Size, st.Blocks)
	}
	buf := bytes.Repeat([]byte{1}, 10000)
	if n, _ := f.PRead(ctx, [][]byte{buf}, 5000); n != 10000 || !bytes.Equal(buf, make([]byte, 10000)) {
		t.Errorf("hole not zero")
	}
	// Write across a page boundary, truncate into it, grow again: the tail reads zero.
	f.PWrite(ctx, [][]byte{bytes.Repeat([]byte{7}, 8192)}, 0)
	if err := f.Inode().SetStat(ctx, vfs.SetStatOptions{Mask: vfs.SetStatSize, Size: 5000}); err != nil {
		t.Fatal(err)
	}
	f.Inode().SetStat(ctx, vfs.SetStatOptions{Mask: vfs.SetStatSize, Size: 9000})
	got := make([]byte, 9000)
	f.PRead(ctx, [][]byte{got}, 0)
	if !bytes.Equal(got[:5000], bytes.Repeat([]byte{7}, 5000)) || !bytes.Equal(got[5000:], make([]byte, 4000)) {
		t.Errorf("truncate did not zero the tail")
	}
	if n, err := f.Seek(ctx, 0, unix.SEEK_END); n != 9000 || err != nil {
		t.Errorf("seek end %d %v", n, err)
	}
	if _, err := f.Seek(ctx, 9000, unix.SEEK_DATA); err != unix.ENXIO {
		t.Errorf("SEEK_DATA at end: %v", err)
	}
	if n, _ := f.Seek(ctx, 10, unix.SEEK_HOLE); n != 9000 {
		t.Errorf("SEEK_HOLE %d", n)
	}
}

func TestLimit(t *testing.T) {
	v, ctx, root := setup(t, Options{MaxBytes: 2 * pageSize})
	f, _ := v.OpenAt(ctx, root, root, "/f", unix.O_CREAT|unix.O_RDWR, 0644)
	defer f.DecRef()
	n, err := f.Write(ctx, [][]byte{make([]byte, 3*pageSize)})
	if n != 2*pageSize || err != nil {
		t.Errorf("write past limit: %d %v", n, err)
	}
	if _, err := f.Write(ctx, [][]byte{[]byte("x")}); err != unix.ENOSPC {
		t.Errorf("full: %v", err)
	}
	f.Inode().SetStat(ctx, vfs.SetStatOptions{Mask: vfs.SetStatSize, Size: 0})
	if _, err := f.Write(ctx, [][]byte{[]byte("x")}); err != nil {
		t.Errorf("after truncate: %v", err)
	}
}

func TestAppendAndExchange(t *testing.T) {
	v, ctx, root := setup(t, Options{})
	f, _ := v.OpenAt(ctx, root, root, "/a", unix.O_CREAT|unix.O_WRONLY|unix.O_APPEND, 0644)
	f.Write(ctx, [][]byte{[]byte("12")})
	f.PWrite(ctx, [][]byte{[]byte("34")}, 0) // O_APPEND wins, as on Linux
	f.DecRef()
	v.MkdirAt(ctx, root, root, "/d", 0755)
	if err := v.RenameAt(ctx, root, root, "/a", root, "/d", vfs.RenameExchange); err != nil {
		t.Fatal(err)
	}
	st, _ := v.StatAt(ctx, root, root, "/d", true)
	if st.Type() != unix.S_IFREG || st.Size != 4 {
		t.Errorf("after exchange /d: %o size %d", st.Mode, st.Size)
	}
	st, _ = v.StatAt(ctx, root, root, "/a", true)
	if st.Type() != unix.S_IFDIR {
		t.Errorf("after exchange /a: %o", st.Mode)
	}
	st, _ = v.StatAt(ctx, root, root, "/", true)
	if st.Nlink != 3 {
		t.Errorf("root nlink %d", st.Nlink)
	}
}

func TestSetgidDirectory(t *testing.T) {
	v, ctx, root := setup(t, Options{})
	v.MkdirAt(ctx, root, root, "/g", 0755)
	v.SetStatAt(ctx, root, root, "/g", true, vfs.SetStatOptions{Mask: vfs.SetStatGID | vfs.SetStatMode, GID: 42, Mode: 02775})
	v.MkdirAt(ctx, root, root, "/g/sub", 0755)
	st, _ := v.StatAt(ctx, root, root, "/g/sub", true)
	if st.GID != 42 || st.Mode&unix.S_ISGID == 0 {
		t.Errorf("setgid inheritance: gid %d mode %o", st.GID, st.Mode)
	}
}

func TestTmpfile(t *testing.T) {
	v, ctx, root := setup(t, Options{})
	f, err := v.OpenTmpfile(ctx, root, root, "/", unix.O_TMPFILE|unix.O_RDWR, 0600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef()
	f.Write(ctx, [][]byte{[]byte("abc")})
	st, _ := f.Stat()
	if st.Nlink != 0 || st.Size != 3 || st.Mode&0777 != 0600 {
		t.Errorf("tmpfile stat %+v", st)
	}
	if p := v.PathForProc(root, f.VirtualDentry()); p[0] != '/' || p[len(p)-9:] != "(deleted)" {
		t.Errorf("path %q", p)
	}
}
