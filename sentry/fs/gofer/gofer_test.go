package gofer

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/gofer"
	"runsc.dev/gofer/proto"
	"runsc.dev/sentry/kernel/auth"
	"runsc.dev/sentry/vfs"
)

// serve starts the real gofer over dir and returns a VFS with it as root.
func serve(t *testing.T, dir string, readOnly bool) (*vfs.VirtualFilesystem, vfs.Context) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	rootFD, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		gofer.Serve(fds[1], rootFD, readOnly)
		close(done)
	}()
	client, err := proto.NewClient(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Shutdown()
		<-done
		unix.Close(rootFD)
	})
	fs, err := NewFilesystem(client, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	v := vfs.New()
	ctx := vfs.NewKernelContext()
	if err := v.MountRoot(ctx, fs, 0); err != nil {
		t.Fatal(err)
	}
	return v, ctx
}

func mkTree(t *testing.T) string {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a/b/c"), 0755)
	os.WriteFile(filepath.Join(dir, "a/b/c/file"), []byte("hello world"), 0644)
	os.WriteFile(filepath.Join(dir, "a/exec"), []byte("#!/bin/sh\n"), 0755)
	os.Symlink("b/c/file", filepath.Join(dir, "a/link"))
	os.Symlink("/a/b", filepath.Join(dir, "abslink"))
	return dir
}

func TestReadOnlyTree(t *testing.T) {
	v, ctx := serve(t, mkTree(t), true)
	root := v.Root()
	st, err := v.StatAt(ctx, root, root, "/a/b/c/file", true)
	if err != nil || st.Size != 11 || st.Type() != unix.S_IFREG {
		t.Fatalf("stat: %v %+v", err, st)
	}
	if _, err := v.StatAt(ctx, root, root, "/a/b/c/nope", true); err != unix.ENOENT {
		t.Errorf("missing: %v", err)
	}
	if _, err := v.StatAt(ctx, root, root, "/a/b/c/file/x", true); err != unix.ENOTDIR {
		t.Errorf("through a file: %v", err)
	}
	fd, err := v.OpenAt(ctx, root, root, "/abslink/c/../../link", unix.O_RDONLY, 0)
	if err != nil {
		t.Fatalf("open via links: %v", err)
	}
	buf := make([]byte, 5)
	if n, err := fd.PRead(ctx, [][]byte{buf}, 6); n != 5 || string(buf) != "world" {
		t.Errorf("pread %d %v %q", n, err, buf)
	}
	if n, err := fd.Seek(ctx, 0, unix.SEEK_END); n != 11 || err != nil {
		t.Errorf("seek end %d %v", n, err)
	}
	fd.DecRef()
	target, err := v.ReadlinkAt(ctx, root, root, "/a/link")
	if err != nil || target != "b/c/file" {
		t.Errorf("readlink %q %v", target, err)
	}
	if _, err := v.ReadlinkAt(ctx, root, root, "/a"); err != unix.EINVAL {
		t.Errorf("readlink dir: %v", err)
	}
	_, err = v.OpenAt(ctx, root, root, "/a/new", unix.O_CREAT|unix.O_WRONLY, 0644)
	if err != unix.EROFS {
		t.Errorf("create on ro: %v", err)
	}
	_, err = v.OpenAt(ctx, root, root, "/a/b/c/file", unix.O_WRONLY, 0)
	if err != unix.EROFS {
		t.Errorf("open for write on ro: %v", err)
	}
	if err := v.MkdirAt(ctx, root, root, "/a/d", 0755); err != unix.EROFS {
		t.Errorf("mkdir on ro: %v", err)
	}
	// Directory listing.
	fd, err = v.OpenAt(ctx, root, root, "/a", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for {
		got := 0
		fd.Getdents(ctx, func(d vfs.Dirent) bool {
			if got == 2 {
				return false
			}
			got++
			names = append(names, d.Name)
			return true
		})
		if got == 0 {
			break
		}
	}
	sort.Strings(names)
	if len(names) != 5 || names[0] != "." || names[1] != ".." || names[2] != "b" || names[3] != "exec" || names[4] != "link" {
		t.Errorf("entries %v", names)
	}
	fd.DecRef()
	// Exec permissions.
	fsctx := vfs.NewFSContext(root, root, 022)
	user := &vfs.KernelContext{Creds: auth.NewUserCredentials(1000, 1000, nil)}
	f, p, err := v.OpenExecutable(user, fsctx, "a/exec")
	if err != nil || p != "/a/exec" {
		t.Fatalf("exec: %v %q", err, p)
	}
	b := make([]byte, 2)
	if n, err := f.ReadAt(b, 0); n != 2 || string(b) != "#!" || err != nil {
		t.Errorf("ReadAt %d %v", n, err)
	}
	f.DecRef()
	if _, _, err := v.OpenExecutable(user, fsctx, "/a/b/c/file"); err != unix.EACCES {
		t.Errorf("exec non-executable: %v", err)
	}
	// Reopening reuses the cached host fd.
	for k := 0; k < 3; k++ {
		fd, err := v.OpenAt(ctx, root, root, "/a/b/c/file", unix.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fd.DecRef()
	}
}

func TestWritable(t *testing.T) {
	dir := mkTree(t)
	v, ctx := serve(t, dir, false)
	root := v.Root()
	fd, err := v.OpenAt(ctx, root, root, "/a/new", unix.O_CREAT|unix.O_EXCL|unix.O_RDWR, 0640)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if n, err := fd.Write(ctx, [][]byte{[]byte("abc"), []byte("def")}); n != 6 || err != nil {
		t.Fatalf("write %d %v", n, err)
	}
	st, err := fd.Stat()
	if err != nil || st.Size != 6 || st.Mode&0777 != 0640 {
		t.Errorf("stat after write: %v size=%d mode=%o", err, st.Size, st.Mode)
	}
	fd.DecRef()
	if b, _ := os.ReadFile(filepath.Join(dir, "a/new")); string(b) != "abcdef" {
		t.Errorf("host content %q", b)
	}
	// Append.
	fd, _ = v.OpenAt(ctx, root, root, "/a/new", unix.O_WRONLY|unix.O_APPEND, 0)
	fd.Write(ctx, [][]byte{[]byte("!")})
	fd.DecRef()
	if b, _ := os.ReadFile(filepath.Join(dir, "a/new")); string(b) != "abcdef!" {
		t.Errorf("after append %q", b)
	}
	// O_TRUNC.
	fd, err = v.OpenAt(ctx, root, root, "/a/new", unix.O_WRONLY|unix.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd.DecRef()
	if st, _ := v.StatAt(ctx, root, root, "/a/new", true); st.Size != 0 {
		t.Errorf("size after O_TRUNC %d", st.Size)
	}
	if err := v.MkdirAt(ctx, root, root, "/a/d", 0755); err != nil {
		t.Fatal(err)
	}
	if err := v.SymlinkAt(ctx, root, root, "new", "/a/d/l"); err != nil {
		t.Fatal(err)
	}
	if err := v.RenameAt(ctx, root, root, "/a/new", root, "/a/d/new", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := v.StatAt(ctx, root, root, "/a/d/l", true); err != nil {
		t.Errorf("link to renamed: %v", err)
	}
	if err := v.RmdirAt(ctx, root, root, "/a/d"); err != unix.ENOTEMPTY {
		t.Errorf("rmdir non-empty: %v", err)
	}
	for _, p := range []string{"/a/d/l", "/a/d/new"} {
		if err := v.UnlinkAt(ctx, root, root, p); err != nil {
			t.Errorf("unlink %s: %v", p, err)
		}
	}
	if err := v.RmdirAt(ctx, root, root, "/a/d"); err != nil {
		t.Errorf("rmdir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a/d")); !os.IsNotExist(err) {
		t.Errorf("dir still on host: %v", err)
	}
	if err := v.SetStatAt(ctx, root, root, "/a/exec", true, vfs.SetStatOptions{Mask: vfs.SetStatMode, Mode: 0700}); err != nil {
		t.Errorf("chmod: %v", err)
	}
	if st, _ := v.StatAt(ctx, root, root, "/a/exec", true); st.Mode&0777 != 0700 {
		t.Errorf("mode after chmod %o", st.Mode)
	}
}
