package gofer

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/gofer/proto"
)

// testGofer is a server started over a directory with a client to it.
type testGofer struct {
	*proto.Client
	dir    string
	root   proto.Handle
	server *server
}

// startServer serves dir on one end of a socketpair and returns a client on
// the other end, mounted. Cleanup shuts the client down and checks that
// Serve returned nil.
func startServer(t *testing.T, dir string, readOnly bool, tweak ...func(*server)) *testGofer {
	t.Helper()
	rootFD, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(rootFD, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tweak {
		f(s)
	}
	conn, err := proto.NewConn(fds[1])
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() {
		defer conn.Close()
		served <- s.serve(conn)
	}()
	c, err := proto.NewClient(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Shutdown()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		unix.Close(rootFD)
	})
	root, _, err := c.Mount()
	if err != nil {
		t.Fatal(err)
	}
	return &testGofer{Client: c, dir: dir, root: root, server: s}
}

// walk walks one path (slash-separated) and wants it all.
func (g *testGofer) walk(t *testing.T, path string) (proto.Handle, proto.Stat) {
	t.Helper()
	hs, ss, err := g.Walk(g.root, splitPath(path))
	if err != nil || len(hs) != len(splitPath(path)) {
		t.Fatalf("Walk(%q) = %d handles, %v", path, len(hs), err)
	}
	return hs[len(hs)-1], ss[len(ss)-1]
}

func splitPath(p string) []string {
	var names []string
	for _, n := range strings.Split(p, "/") {
		if n != "" {
			names = append(names, n)
		}
	}
	return names
}

func mustWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFD(t *testing.T, fd int) string {
	t.Helper()
	f := os.NewFile(uintptr(fd), "fd")
	defer f.Close()
	b := make([]byte, 4096)
	n, _ := f.ReadAt(b, 0)
	return string(b[:n])
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if got != want {
		t.Errorf("%s: error %v, want %v", what, got, want)
	}
}

// tree makes a small tree:
//
//	a/b/c.txt  "hello"
//	file       "data"
//	emptydir/
//	link -> /etc/passwd
//	dirlink -> /etc
//	rel -> a/b
func tree(t *testing.T) string {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "a/b/c.txt"), "hello")
	mustWrite(t, filepath.Join(dir, "file"), "data")
	if err := os.Mkdir(filepath.Join(dir, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"link": "/etc/passwd", "dirlink": "/etc", "rel": "a/b"} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMountStat(t *testing.T) {
	dir := tree(t)
	g := startServer(t, dir, false)
	st, err := g.Stat(g.root)
	if err != nil {
		t.Fatal(err)
	}
	var want unix.Stat_t
	unix.Stat(dir, &want)
	if st.Ino != want.Ino || st.Dev != want.Dev || st.Mode != want.Mode {
		t.Errorf("root stat %+v, want ino %d mode %o", st, want.Ino, want.Mode)
	}
	_, st = g.walk(t, "a/b/c.txt")
	if st.Size != 5 || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 {
		t.Errorf("c.txt stat %+v", st)
	}
}

func TestWalk(t *testing.T) {
	g := startServer(t, tree(t), false)
	hs, ss, err := g.Walk(g.root, []string{"a", "b", "c.txt"})
	if err != nil || len(hs) != 3 || ss[0].Mode&unix.S_IFMT != unix.S_IFDIR || ss[2].Size != 5 {
		t.Fatalf("Walk a/b/c.txt = %v %+v %v", hs, ss, err)
	}
	// Stops at the missing component with ENOENT.
	hs, _, err = g.Walk(g.root, []string{"a", "nope", "x"})
	wantErr(t, "Walk a/nope/x", err, unix.ENOENT)
	if len(hs) != 1 {
		t.Errorf("Walk a/nope/x gave %d handles, want 1", len(hs))
	}
	// A non-directory that is not last stops the walk without an error.
	hs, _, err = g.Walk(g.root, []string{"file", "x"})
	if err != nil || len(hs) != 1 {
		t.Errorf("Walk file/x = %d handles, %v", len(hs), err)
	}
	// Walking from a non-directory handle is ENOTDIR.
	fileH, _ := g.walk(t, "file")
	_, _, err = g.Walk(fileH, []string{"x"})
	wantErr(t, "Walk from file", err, unix.ENOTDIR)
	// Nothing to walk.
	hs, ss, err = g.Walk(g.root, nil)
	if err != nil || len(hs) != 0 || len(ss) != 0 {
		t.Errorf("empty Walk = %v %v %v", hs, ss, err)
	}
	// Long walks are split into several requests.
	deep := g.dir
	var names []string
	for i := 0; i < proto.MaxWalkNames+5; i++ {
		names = append(names, "d")
		deep = filepath.Join(deep, "d")
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	hs, _, err = g.Walk(g.root, names)
	if err != nil || len(hs) != len(names) {
		t.Errorf("deep Walk = %d handles, %v", len(hs), err)
	}
}

func TestBadNames(t *testing.T) {
	g := startServer(t, tree(t), false)
	fileH, _ := g.walk(t, "file")
	for _, name := range []string{"", ".", "..", "a/b", "/", "a\x00b"} {
		what := func(op string) string { return fmt.Sprintf("%s(%q)", op, name) }
		_, _, err := g.Walk(g.root, []string{name})
		wantErr(t, what("Walk"), err, unix.EINVAL)
		_, _, err = g.Walk(g.root, []string{"a", name})
		wantErr(t, what("Walk second"), err, unix.EINVAL)
		_, _, fd, err := g.Create(g.root, name, unix.O_RDWR, 0o644, 0, 0)
		wantErr(t, what("Create"), err, unix.EINVAL)
		if fd >= 0 {
			unix.Close(fd)
		}
		_, _, err = g.Mkdir(g.root, name, 0o755, 0, 0)
		wantErr(t, what("Mkdir"), err, unix.EINVAL)
		_, _, err = g.Mknod(g.root, name, unix.S_IFIFO|0o644, 0, 0, 0)
		wantErr(t, what("Mknod"), err, unix.EINVAL)
		_, _, err = g.Symlink(g.root, name, "x", 0, 0)
		wantErr(t, what("Symlink"), err, unix.EINVAL)
		_, err = g.Link(g.root, name, fileH)
		wantErr(t, what("Link"), err, unix.EINVAL)
		wantErr(t, what("Unlink"), g.Unlink(g.root, name, 0), unix.EINVAL)
		wantErr(t, what("Rename from"), g.Rename(g.root, name, g.root, "x", 0), unix.EINVAL)
		wantErr(t, what("Rename to"), g.Rename(g.root, "file", g.root, name, 0), unix.EINVAL)
	}
	if _, err := os.Stat(filepath.Join(g.dir, "file")); err != nil {
		t.Errorf("file gone after bad renames: %v", err)
	}
}

func TestUnknownHandle(t *testing.T) {
	g := startServer(t, tree(t), false)
	const bad = proto.Handle(999999)
	_, _, err := g.Walk(bad, []string{"a"})
	wantErr(t, "Walk", err, unix.EBADF)
	_, err = g.Stat(bad)
	wantErr(t, "Stat", err, unix.EBADF)
	_, err = g.Open(bad, unix.O_RDONLY)
	wantErr(t, "Open", err, unix.EBADF)
	_, _, _, err = g.Create(bad, "x", unix.O_RDWR, 0o644, 0, 0)
	wantErr(t, "Create", err, unix.EBADF)
	_, _, err = g.Mkdir(bad, "x", 0o755, 0, 0)
	wantErr(t, "Mkdir", err, unix.EBADF)
	_, _, err = g.Mknod(bad, "x", unix.S_IFIFO|0o600, 0, 0, 0)
	wantErr(t, "Mknod", err, unix.EBADF)
	_, _, err = g.Symlink(bad, "x", "y", 0, 0)
	wantErr(t, "Symlink", err, unix.EBADF)
	_, err = g.Link(bad, "x", g.root)
	wantErr(t, "Link dir", err, unix.EBADF)
	_, err = g.Link(g.root, "x", bad)
	wantErr(t, "Link target", err, unix.EBADF)
	wantErr(t, "Unlink", g.Unlink(bad, "x", 0), unix.EBADF)
	wantErr(t, "Rename old", g.Rename(bad, "x", g.root, "y", 0), unix.EBADF)
	wantErr(t, "Rename new", g.Rename(g.root, "file", bad, "y", 0), unix.EBADF)
	_, err = g.Readlink(bad)
	wantErr(t, "Readlink", err, unix.EBADF)
	wantErr(t, "SetStat", g.SetStat(bad, proto.SetStatArgs{Mask: proto.SetStatMode}), unix.EBADF)
	_, err = g.Getdents(bad, 0)
	wantErr(t, "Getdents", err, unix.EBADF)
	_, err = g.Statfs(bad)
	wantErr(t, "Statfs", err, unix.EBADF)
	wantErr(t, "Close", g.Close(bad), unix.EBADF)
	wantErr(t, "Close 0", g.Close(0), unix.EBADF)
}

func TestSymlinkNotFollowed(t *testing.T) {
	g := startServer(t, tree(t), false)
	// The link itself is returned, not /etc/passwd.
	h, st := g.walk(t, "link")
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Fatalf("link mode %o", st.Mode)
	}
	var passwd unix.Stat_t
	if err := unix.Stat("/etc/passwd", &passwd); err == nil && st.Ino == passwd.Ino {
		t.Fatal("walk followed the symlink to /etc/passwd")
	}
	if fd, err := g.Open(h, unix.O_RDONLY); err == nil {
		unix.Close(fd)
		t.Fatal("opened a symlink to /etc/passwd")
	} else {
		wantErr(t, "Open(link)", err, unix.ELOOP)
	}
	if target, err := g.Readlink(h); err != nil || target != "/etc/passwd" {
		t.Errorf("Readlink = %q, %v", target, err)
	}
	// A symlink to a directory is not walked through.
	hs, ss, err := g.Walk(g.root, []string{"dirlink", "passwd"})
	if err != nil || len(hs) != 1 || ss[0].Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Fatalf("Walk dirlink/passwd = %d handles, %v", len(hs), err)
	}
	hs, _, err = g.Walk(g.root, []string{"rel", "c.txt"})
	if err != nil || len(hs) != 1 {
		t.Fatalf("Walk rel/c.txt = %d handles, %v", len(hs), err)
	}
	// Nothing created through a symlink lands outside.
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(g.dir, "out")); err != nil {
		t.Fatal(err)
	}
	outH, _ := g.walk(t, "out")
	_, _, fd, err := g.Create(outH, "x", unix.O_RDWR, 0o644, 0, 0)
	wantErr(t, "Create in symlink", err, unix.ENOTDIR)
	if fd >= 0 {
		unix.Close(fd)
	}
	_, _, err = g.Mkdir(outH, "x", 0o755, 0, 0)
	wantErr(t, "Mkdir in symlink", err, unix.ENOTDIR)
	// Create over an existing symlink does not follow it.
	_, _, fd, err = g.Create(g.root, "link", unix.O_RDWR, 0o644, 0, 0)
	wantErr(t, "Create over link", err, unix.EEXIST)
	if fd >= 0 {
		unix.Close(fd)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("files appeared outside the root: %v", ents)
	}
	// SetStat on the link changes the link, not its target.
	if err := g.SetStat(h, proto.SetStatArgs{Mask: proto.SetStatMode, Mode: 0o600}); err != unix.EOPNOTSUPP {
		t.Errorf("chmod of a symlink: %v, want EOPNOTSUPP", err)
	}
	var after unix.Stat_t
	unix.Stat("/etc/passwd", &after)
	if after.Mode != passwd.Mode {
		t.Fatal("/etc/passwd mode changed")
	}
}

func TestOpen(t *testing.T) {
	g := startServer(t, tree(t), false)
	h, _ := g.walk(t, "a/b/c.txt")
	fd, err := g.Open(h, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFD(t, fd); got != "hello" {
		t.Errorf("read %q", got)
	}
	fd, err = g.Open(h, unix.O_WRONLY|unix.O_APPEND)
	if err != nil {
		t.Fatal(err)
	}
	if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); fl&unix.O_NONBLOCK != 0 || fl&unix.O_APPEND == 0 || fl&unix.O_ACCMODE != unix.O_WRONLY {
		t.Errorf("flags %#x", fl)
	}
	unix.Write(fd, []byte(" world"))
	unix.Close(fd)
	if b, _ := os.ReadFile(filepath.Join(g.dir, "a/b/c.txt")); string(b) != "hello world" {
		t.Errorf("after append: %q", b)
	}
	fd, err = g.Open(h, unix.O_RDWR|unix.O_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if st, _ := g.Stat(h); st.Size != 0 {
		t.Errorf("size after O_TRUNC %d", st.Size)
	}
	_, err = g.Open(h, unix.O_RDONLY|unix.O_DIRECTORY)
	wantErr(t, "O_DIRECTORY on a file", err, unix.ENOTDIR)
	for _, bad := range []uint32{unix.O_CREAT, unix.O_EXCL, unix.O_PATH, unix.O_TMPFILE, unix.O_ACCMODE} {
		_, err = g.Open(h, bad)
		wantErr(t, fmt.Sprintf("Open(%#x)", bad), err, unix.EINVAL)
	}
	// Directories.
	dh, _ := g.walk(t, "a")
	fd, err = g.Open(dh, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("opened dir mode %o", st.Mode)
	}
	unix.Close(fd)
	fd, err = g.Open(g.root, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	_, err = g.Open(dh, unix.O_WRONLY)
	wantErr(t, "Open dir O_WRONLY", err, unix.EISDIR)
	// FIFOs open without blocking.
	if err := unix.Mkfifo(filepath.Join(g.dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	fh, _ := g.walk(t, "fifo")
	fd, err = g.Open(fh, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.Open(fh, unix.O_WRONLY)
	if err != nil {
		t.Errorf("Open fifo for writing with a reader: %v", err)
	}
	unix.Close(fd)
}

func TestStale(t *testing.T) {
	g := startServer(t, tree(t), false)
	h, _ := g.walk(t, "file")
	// Replaced behind the gofer's back: the handle is stale.
	p := filepath.Join(g.dir, "file")
	os.Remove(p)
	mustWrite(t, p, "other")
	_, err := g.Open(h, unix.O_RDONLY)
	wantErr(t, "Open replaced", err, unix.ESTALE)
	// Stat still answers for the old file through its O_PATH fd.
	if _, err := g.Stat(h); err != nil {
		t.Errorf("Stat of replaced: %v", err)
	}
	// Removed through the gofer.
	h2, _ := g.walk(t, "file")
	if err := g.Unlink(g.root, "file", 0); err != nil {
		t.Fatal(err)
	}
	_, err = g.Open(h2, unix.O_RDONLY)
	wantErr(t, "Open unlinked", err, unix.ESTALE)
}

func TestCreate(t *testing.T) {
	g := startServer(t, tree(t), false)
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if os.Getuid() == 0 {
		uid, gid = 1234, 5678
	}
	h, st, fd, err := g.Create(g.root, "new", unix.O_RDWR, 0o640, uid, gid)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(fd, []byte("xyz"))
	unix.Close(fd)
	if st.Mode != unix.S_IFREG|0o640 || st.UID != uid || st.GID != gid {
		t.Errorf("created stat %+v", st)
	}
	var hst unix.Stat_t
	unix.Stat(filepath.Join(g.dir, "new"), &hst)
	if hst.Mode != unix.S_IFREG|0o640 || hst.Uid != uid || hst.Gid != gid || hst.Size != 3 {
		t.Errorf("host stat mode %o uid %d gid %d size %d", hst.Mode, hst.Uid, hst.Gid, hst.Size)
	}
	if st, _ := g.Stat(h); st.Size != 3 {
		t.Errorf("Stat size %d", st.Size)
	}
	// Set-id bits survive the chown.
	_, st, fd, err = g.Create(g.root, "suid", unix.O_WRONLY, 0o4755, uid, gid)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if st.Mode != unix.S_IFREG|0o4755 {
		t.Errorf("suid file mode %o", st.Mode)
	}
	_, _, fd, err = g.Create(g.root, "new", unix.O_RDWR, 0o644, uid, gid)
	wantErr(t, "Create existing", err, unix.EEXIST)
	if fd >= 0 {
		unix.Close(fd)
	}
	_, _, _, err = g.Create(g.root, "d", unix.O_RDWR|unix.O_DIRECTORY, 0o644, uid, gid)
	wantErr(t, "Create O_DIRECTORY", err, unix.EINVAL)
	fileH, _ := g.walk(t, "file")
	_, _, _, err = g.Create(fileH, "x", unix.O_RDWR, 0o644, uid, gid)
	wantErr(t, "Create in file", err, unix.ENOTDIR)
	_, _, _, err = g.Create(g.root, "missing", unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o600, uid, gid)
	if err != nil {
		t.Errorf("Create with O_CREAT|O_EXCL spelled out: %v", err)
	}
}

func TestMkdirMknodSymlink(t *testing.T) {
	g := startServer(t, tree(t), false)
	dh, st, err := g.Mkdir(g.root, "sub", 0o750, 0, 0)
	if err != nil || st.Mode != unix.S_IFDIR|0o750 {
		t.Fatalf("Mkdir = %+v, %v", st, err)
	}
	if _, _, err := g.Mkdir(g.root, "sub", 0o750, 0, 0); err != unix.EEXIST {
		t.Errorf("Mkdir existing: %v", err)
	}
	if _, _, err := g.Mkdir(g.root, "file", 0o750, 0, 0); err != unix.EEXIST {
		t.Errorf("Mkdir over file: %v", err)
	}
	_, st, err = g.Mknod(dh, "fifo", unix.S_IFIFO|0o600, 0, 0, 0)
	if err != nil || st.Mode != unix.S_IFIFO|0o600 {
		t.Fatalf("Mknod fifo = %+v, %v", st, err)
	}
	_, st, err = g.Mknod(dh, "reg", 0o644, 0, 0, 0)
	if err != nil || st.Mode != unix.S_IFREG|0o644 {
		t.Fatalf("Mknod regular = %+v, %v", st, err)
	}
	_, st, err = g.Mknod(dh, "sock", unix.S_IFSOCK|0o644, 0, 0, 0)
	if err != nil || st.Mode != unix.S_IFSOCK|0o644 {
		t.Fatalf("Mknod socket = %+v, %v", st, err)
	}
	for _, typ := range []uint32{unix.S_IFCHR, unix.S_IFBLK} {
		_, _, err = g.Mknod(dh, "dev", typ|0o666, unix.Mkdev(1, 3), 0, 0)
		wantErr(t, fmt.Sprintf("Mknod %o", typ), err, unix.EPERM)
	}
	_, _, err = g.Mknod(dh, "dir", unix.S_IFDIR|0o666, 0, 0, 0)
	wantErr(t, "Mknod dir", err, unix.EINVAL)
	if _, err := os.Stat(filepath.Join(g.dir, "sub/dev")); err == nil {
		t.Error("a device node was created")
	}
	_, _, err = g.Mknod(dh, "fifo", unix.S_IFIFO|0o600, 0, 0, 0)
	wantErr(t, "Mknod existing", err, unix.EEXIST)
	lh, st, err := g.Symlink(dh, "sl", "../../../etc/shadow", 0, 0)
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Fatalf("Symlink = %+v, %v", st, err)
	}
	if target, err := g.Readlink(lh); err != nil || target != "../../../etc/shadow" {
		t.Errorf("Readlink = %q, %v", target, err)
	}
	_, _, err = g.Symlink(dh, "sl", "x", 0, 0)
	wantErr(t, "Symlink existing", err, unix.EEXIST)
	_, _, err = g.Symlink(dh, "empty", "", 0, 0)
	wantErr(t, "Symlink empty target", err, unix.ENOENT)
	_, err = g.Readlink(dh)
	wantErr(t, "Readlink dir", err, unix.EINVAL)
	if os.Getuid() == 0 {
		_, st, err = g.Symlink(dh, "owned", "x", 77, 88)
		if err != nil || st.UID != 77 || st.GID != 88 {
			t.Errorf("Symlink owner = %+v, %v", st, err)
		}
		// mkdir(2) keeps the sticky bit and ignores set-gid (which only
		// comes from the parent); the chown must not lose the sticky bit.
		_, st, err = g.Mkdir(dh, "owned-dir", 0o3755, 77, 88)
		if err != nil || st.UID != 77 || st.GID != 88 || st.Mode != unix.S_IFDIR|0o1755 {
			t.Errorf("Mkdir owner = %+v, %v", st, err)
		}
	}
}

func TestLink(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		t.Run(fmt.Sprintf("fallback=%v", fallback), func(t *testing.T) {
			g := startServer(t, tree(t), false, func(s *server) { s.noEmptyPathLink = fallback })
			fh, _ := g.walk(t, "file")
			dh, _ := g.walk(t, "emptydir")
			st, err := g.Link(dh, "hard", fh)
			if err != nil || st.Nlink != 2 {
				t.Fatalf("Link = %+v, %v", st, err)
			}
			if b, _ := os.ReadFile(filepath.Join(g.dir, "emptydir/hard")); string(b) != "data" {
				t.Errorf("linked content %q", b)
			}
			_, err = g.Link(dh, "hard", fh)
			wantErr(t, "Link existing", err, unix.EEXIST)
			_, err = g.Link(dh, "dirlink", dh)
			wantErr(t, "Link dir", err, unix.EPERM)
			_, err = g.Link(fh, "x", fh)
			wantErr(t, "Link into file", err, unix.ENOTDIR)
		})
	}
}

func TestUnlink(t *testing.T) {
	g := startServer(t, tree(t), false)
	wantErr(t, "rmdir non-empty", g.Unlink(g.root, "a", unix.AT_REMOVEDIR), unix.ENOTEMPTY)
	wantErr(t, "unlink dir", g.Unlink(g.root, "emptydir", 0), unix.EISDIR)
	wantErr(t, "rmdir file", g.Unlink(g.root, "file", unix.AT_REMOVEDIR), unix.ENOTDIR)
	wantErr(t, "unlink missing", g.Unlink(g.root, "missing", 0), unix.ENOENT)
	wantErr(t, "bad flags", g.Unlink(g.root, "file", 0x1000), unix.EINVAL)
	if err := g.Unlink(g.root, "emptydir", unix.AT_REMOVEDIR); err != nil {
		t.Error(err)
	}
	if err := g.Unlink(g.root, "link", 0); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Errorf("unlinking the symlink removed its target? %v", err)
	}
	fh, _ := g.walk(t, "file")
	wantErr(t, "unlink in file", g.Unlink(fh, "x", 0), unix.ENOTDIR)
}

func TestRename(t *testing.T) {
	g := startServer(t, tree(t), false)
	fh, _ := g.walk(t, "file")
	bh, _ := g.walk(t, "a/b")
	if err := g.Rename(g.root, "file", bh, "moved", 0); err != nil {
		t.Fatal(err)
	}
	// The handle follows the file.
	fd, err := g.Open(fh, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("Open after rename: %v", err)
	}
	if s := readFD(t, fd); s != "data" {
		t.Errorf("content after rename %q", s)
	}
	// Via another handle to the same directory, again.
	bh2, _ := g.walk(t, "a/b")
	if err := g.Rename(bh2, "moved", g.root, "back", 0); err != nil {
		t.Fatal(err)
	}
	if fd, err := g.Open(fh, unix.O_RDONLY); err != nil {
		t.Fatalf("Open after second rename: %v", err)
	} else {
		unix.Close(fd)
	}
	wantErr(t, "rename missing", g.Rename(g.root, "missing", g.root, "x", 0), unix.ENOENT)
	wantErr(t, "noreplace", g.Rename(g.root, "back", bh, "c.txt", unix.RENAME_NOREPLACE), unix.EEXIST)
	wantErr(t, "whiteout", g.Rename(g.root, "back", g.root, "x", unix.RENAME_WHITEOUT), unix.EINVAL)
	wantErr(t, "dir over non-empty", g.Rename(g.root, "emptydir", g.root, "a", 0), unix.ENOTEMPTY)
	// Exchange swaps the handles' names too.
	ch, _ := g.walk(t, "a/b/c.txt")
	if err := g.Rename(g.root, "back", bh, "c.txt", unix.RENAME_EXCHANGE); err != nil {
		t.Fatal(err)
	}
	for h, want := range map[proto.Handle]string{fh: "data", ch: "hello"} {
		fd, err := g.Open(h, unix.O_RDONLY)
		if err != nil {
			t.Fatalf("Open after exchange: %v", err)
		}
		if s := readFD(t, fd); s != want {
			t.Errorf("after exchange read %q want %q", s, want)
		}
	}
	// Replacing: the replaced file's handle is stale, the moved one is not.
	if err := g.Rename(bh, "c.txt", g.root, "back", 0); err != nil {
		t.Fatal(err)
	}
	_, err = g.Open(ch, unix.O_RDONLY)
	wantErr(t, "Open replaced", err, unix.ESTALE)
	fd, err = g.Open(fh, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("Open moved over: %v", err)
	}
	if s := readFD(t, fd); s != "data" {
		t.Errorf("content %q", s)
	}
	// Directories keep working after a rename.
	ah, _ := g.walk(t, "a")
	if err := g.Rename(g.root, "a", g.root, "z", 0); err != nil {
		t.Fatal(err)
	}
	hs, _, err := g.Walk(ah, []string{"b"})
	if err != nil || len(hs) != 1 {
		t.Errorf("Walk from renamed dir: %v", err)
	}
	if fd, err := g.Open(ah, unix.O_RDONLY); err != nil {
		t.Errorf("Open renamed dir: %v", err)
	} else {
		unix.Close(fd)
	}
}

func TestSetStat(t *testing.T) {
	g := startServer(t, tree(t), false)
	fh, _ := g.walk(t, "file")
	err := g.SetStat(fh, proto.SetStatArgs{
		Mask: proto.SetStatMode | proto.SetStatSize | proto.SetStatAtime | proto.SetStatMtime,
		Mode: 0o600, Size: 2, Atime: proto.Timespec{Sec: 1000, Nsec: 5}, Mtime: proto.Timespec{Sec: 2000, Nsec: 7},
	})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := g.Stat(fh)
	if st.Mode != unix.S_IFREG|0o600 || st.Size != 2 || st.Atime != (proto.Timespec{Sec: 1000, Nsec: 5}) || st.Mtime != (proto.Timespec{Sec: 2000, Nsec: 7}) {
		t.Errorf("after SetStat %+v", st)
	}
	if err := g.SetStat(fh, proto.SetStatArgs{Mask: proto.SetStatAtimeNow | proto.SetStatMtimeNow}); err != nil {
		t.Fatal(err)
	}
	st, _ = g.Stat(fh)
	if st.Mtime.Sec < 1e9 || st.Atime.Sec < 1e9 {
		t.Errorf("times not set to now: %+v", st)
	}
	if os.Getuid() == 0 {
		if err := g.SetStat(fh, proto.SetStatArgs{Mask: proto.SetStatUID | proto.SetStatGID, UID: 42, GID: 43}); err != nil {
			t.Fatal(err)
		}
		if st, _ := g.Stat(fh); st.UID != 42 || st.GID != 43 {
			t.Errorf("owner %d:%d", st.UID, st.GID)
		}
		if err := g.SetStat(fh, proto.SetStatArgs{Mask: proto.SetStatGID, GID: 44}); err != nil {
			t.Fatal(err)
		}
		if st, _ := g.Stat(fh); st.UID != 42 || st.GID != 44 {
			t.Errorf("owner after gid-only %d:%d", st.UID, st.GID)
		}
	}
	dh, _ := g.walk(t, "a")
	wantErr(t, "truncate dir", g.SetStat(dh, proto.SetStatArgs{Mask: proto.SetStatSize}), unix.EISDIR)
	if err := g.SetStat(dh, proto.SetStatArgs{Mask: proto.SetStatMode, Mode: 0o700}); err != nil {
		t.Errorf("chmod dir: %v", err)
	}
	wantErr(t, "negative size", g.SetStat(fh, proto.SetStatArgs{Mask: proto.SetStatSize, Size: -1}), unix.EINVAL)
	wantErr(t, "bad mask", g.SetStat(fh, proto.SetStatArgs{Mask: 1 << 20}), unix.EINVAL)
	wantErr(t, "bad nsec", g.SetStat(fh, proto.SetStatArgs{Mask: proto.SetStatAtime, Atime: proto.Timespec{Nsec: 2e9}}), unix.EINVAL)
	// Times on the symlink itself.
	lh, _ := g.walk(t, "link")
	if err := g.SetStat(lh, proto.SetStatArgs{Mask: proto.SetStatMtime, Mtime: proto.Timespec{Sec: 3000}}); err != nil {
		t.Fatal(err)
	}
	var lst unix.Stat_t
	unix.Lstat(filepath.Join(g.dir, "link"), &lst)
	if lst.Mtim.Sec != 3000 {
		t.Errorf("symlink mtime %d", lst.Mtim.Sec)
	}
}

func TestGetdents(t *testing.T) {
	dir := t.TempDir()
	const n = 1500
	want := map[string]bool{".": true, "..": true}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("file-with-a-longish-name-%04d", i)
		mustWrite(t, filepath.Join(dir, "d", name), "")
		want[name] = true
	}
	g := startServer(t, dir, false)
	dh, _ := g.walk(t, "d")
	seen := map[string]bool{}
	var cookie uint64
	pages := 0
	for {
		ents, err := g.Getdents(dh, cookie)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) == 0 {
			break
		}
		pages++
		for _, e := range ents {
			if seen[e.Name] {
				t.Fatalf("%q seen twice", e.Name)
			}
			seen[e.Name] = true
			if e.Ino == 0 {
				t.Errorf("%q has inode 0", e.Name)
			}
			if e.Name != "." && e.Name != ".." && e.Type != unix.DT_REG {
				t.Errorf("%q type %d", e.Name, e.Type)
			}
		}
		cookie = ents[len(ents)-1].Off
	}
	if pages < 2 {
		t.Errorf("only %d page(s)", pages)
	}
	if len(seen) != len(want) {
		t.Errorf("saw %d entries, want %d", len(seen), len(want))
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("missing %q", name)
		}
	}
	// Restart from the beginning and from the middle.
	ents, err := g.Getdents(dh, 0)
	if err != nil || len(ents) == 0 {
		t.Fatalf("Getdents(0) again: %v", err)
	}
	mid := ents[len(ents)/2]
	rest, err := g.Getdents(dh, mid.Off)
	if err != nil || len(rest) == 0 || rest[0].Name != ents[len(ents)/2+1].Name {
		t.Errorf("resuming after %q: %v", mid.Name, err)
	}
	fh, _ := g.walk(t, "d/file-with-a-longish-name-0000")
	_, err = g.Getdents(fh, 0)
	wantErr(t, "Getdents file", err, unix.ENOTDIR)
	// The root lists its entries, sorted here for the check.
	ents, _ = g.Getdents(g.root, 0)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name)
	}
	sort.Strings(names)
	if fmt.Sprint(names) != "[. .. d]" {
		t.Errorf("root entries %v", names)
	}
}

func TestStatfs(t *testing.T) {
	g := startServer(t, tree(t), false)
	sf, err := g.Statfs(g.root)
	if err != nil {
		t.Fatal(err)
	}
	var want unix.Statfs_t
	unix.Statfs(g.dir, &want)
	if sf.Type != uint64(want.Type) || sf.Bsize != uint64(want.Bsize) || sf.Namelen != uint64(want.Namelen) {
		t.Errorf("Statfs = %+v, want %+v", sf, want)
	}
}

func TestClose(t *testing.T) {
	g := startServer(t, tree(t), false)
	hs, _, err := g.Walk(g.root, []string{"a", "b", "c.txt"})
	if err != nil {
		t.Fatal(err)
	}
	// Closing the parents first keeps the child usable.
	if err := g.Close(hs[0], hs[1]); err != nil {
		t.Fatal(err)
	}
	if fd, err := g.Open(hs[2], unix.O_RDONLY); err != nil {
		t.Fatalf("Open after closing parents: %v", err)
	} else {
		unix.Close(fd)
	}
	wantErr(t, "Stat closed", func() error { _, err := g.Stat(hs[0]); return err }(), unix.EBADF)
	wantErr(t, "double close", g.Close(hs[0]), unix.EBADF)
	// A close with some unknown handles still closes the known ones.
	wantErr(t, "mixed close", g.Close(hs[2], 12345), unix.EBADF)
	_, err = g.Stat(hs[2])
	wantErr(t, "Stat after mixed close", err, unix.EBADF)
	g.server.t.mu.Lock()
	if len(g.server.t.children) != 0 {
		t.Errorf("name index not empty: %v", g.server.t.children)
	}
	g.server.t.mu.Unlock()
}

func TestReadOnly(t *testing.T) {
	g := startServer(t, tree(t), true)
	fh, _ := g.walk(t, "file")
	dh, _ := g.walk(t, "a")
	_, _, fd, err := g.Create(g.root, "x", unix.O_RDWR, 0o644, 0, 0)
	wantErr(t, "Create", err, unix.EROFS)
	if fd >= 0 {
		unix.Close(fd)
	}
	_, _, err = g.Mkdir(g.root, "x", 0o755, 0, 0)
	wantErr(t, "Mkdir", err, unix.EROFS)
	_, _, err = g.Mknod(g.root, "x", unix.S_IFIFO|0o644, 0, 0, 0)
	wantErr(t, "Mknod", err, unix.EROFS)
	_, _, err = g.Symlink(g.root, "x", "y", 0, 0)
	wantErr(t, "Symlink", err, unix.EROFS)
	_, err = g.Link(g.root, "x", fh)
	wantErr(t, "Link", err, unix.EROFS)
	wantErr(t, "Unlink", g.Unlink(g.root, "file", 0), unix.EROFS)
	wantErr(t, "Rename", g.Rename(g.root, "file", g.root, "y", 0), unix.EROFS)
	wantErr(t, "SetStat", g.SetStat(fh, proto.SetStatArgs{Mask: proto.SetStatMode, Mode: 0o777}), unix.EROFS)
	for _, fl := range []uint32{unix.O_WRONLY, unix.O_RDWR, unix.O_RDONLY | unix.O_TRUNC} {
		_, err = g.Open(fh, fl)
		wantErr(t, fmt.Sprintf("Open(%#x)", fl), err, unix.EROFS)
	}
	_, err = g.Open(dh, unix.O_WRONLY)
	wantErr(t, "Open dir for writing", err, unix.EISDIR)
	fd, err = g.Open(fh, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	if s := readFD(t, fd); s != "data" {
		t.Errorf("read %q", s)
	}
	if ents, err := g.Getdents(dh, 0); err != nil || len(ents) != 3 {
		t.Errorf("Getdents = %v, %v", ents, err)
	}
	if b, _ := os.ReadFile(filepath.Join(g.dir, "file")); string(b) != "data" {
		t.Errorf("file changed: %q", b)
	}
}

func TestConcurrent(t *testing.T) {
	g := startServer(t, tree(t), false)
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				hs, _, err := g.Walk(g.root, []string{"a", "b", "c.txt"})
				if err != nil || len(hs) != 3 {
					t.Errorf("Walk: %v", err)
					return
				}
				if st, err := g.Stat(hs[2]); err != nil || st.Size != 5 {
					t.Errorf("Stat: %+v %v", st, err)
				}
				if j%10 == 0 {
					fd, err := g.Open(hs[2], unix.O_RDONLY)
					if err != nil {
						t.Errorf("Open: %v", err)
					} else {
						unix.Close(fd)
					}
				}
				if err := g.Close(hs...); err != nil {
					t.Errorf("Close: %v", err)
				}
			}
		}()
	}
	// Mutations alongside.
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				name := fmt.Sprintf("f%d-%d", i, j)
				h, _, fd, err := g.Create(g.root, name, unix.O_RDWR, 0o644, 0, 0)
				if err != nil {
					t.Errorf("Create: %v", err)
					return
				}
				unix.Close(fd)
				if err := g.Rename(g.root, name, g.root, name+"-r", 0); err != nil {
					t.Errorf("Rename: %v", err)
				}
				if err := g.Unlink(g.root, name+"-r", 0); err != nil {
					t.Errorf("Unlink: %v", err)
				}
				g.Close(h)
			}
		}()
	}
	wg.Wait()
	g.server.t.mu.Lock()
	n := len(g.server.t.handles)
	g.server.t.mu.Unlock()
	if n != 1 {
		t.Errorf("%d handles left, want 1 (the root)", n)
	}
}

// countFDs returns the number of open fds of this process.
func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

func TestNoFDLeak(t *testing.T) {
	dir := tree(t)
	before := countFDs(t)
	tt := t
	t.Run("session", func(t *testing.T) {
		g := startServer(t, dir, false)
		for i := 0; i < 20; i++ {
			g.Walk(g.root, []string{"a", "b", "c.txt"})
			g.Walk(g.root, []string{"link"})
			g.Getdents(g.root, 0)
			_, _, fd, err := g.Create(g.root, fmt.Sprint("n", i), unix.O_RDWR, 0o644, 0, 0)
			if err == nil {
				unix.Close(fd)
				g.Rename(g.root, fmt.Sprint("n", i), g.root, fmt.Sprint("m", i), 0)
			}
		}
	})
	if after := countFDs(tt); after != before {
		tt.Errorf("%d fds before, %d after the session", before, after)
	}
}
