package vfs_test

import (
	"io"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/fs/tmpfs"
	"runsc.dev/sentry/kernel/auth"
	"runsc.dev/sentry/vfs"
)

type env struct {
	t    *testing.T
	v    *vfs.VirtualFilesystem
	ctx  vfs.Context
	root vfs.VirtualDentry
}

func newEnv(t *testing.T) *env {
	t.Helper()
	v := vfs.New()
	ctx := vfs.NewKernelContext()
	if err := v.MountRoot(ctx, tmpfs.New(tmpfs.Options{Mode: 0755}), 0); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, v: v, ctx: ctx, root: v.Root()}
}

func (e *env) mkdir(p string, mode uint32) {
	e.t.Helper()
	if err := e.v.MkdirAt(e.ctx, e.root, e.root, p, mode); err != nil {
		e.t.Fatalf("mkdir %s: %v", p, err)
	}
}

func (e *env) write(p string, data string, mode uint32) {
	e.t.Helper()
	fd, err := e.v.OpenAt(e.ctx, e.root, e.root, p, unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, mode)
	if err != nil {
		e.t.Fatalf("create %s: %v", p, err)
	}
	defer fd.DecRef()
	if _, err := fd.Write(e.ctx, [][]byte{[]byte(data)}); err != nil {
		e.t.Fatalf("write %s: %v", p, err)
	}
}

func (e *env) symlink(target, p string) {
	e.t.Helper()
	if err := e.v.SymlinkAt(e.ctx, e.root, e.root, target, p); err != nil {
		e.t.Fatalf("symlink %s: %v", p, err)
	}
}

func (e *env) open(ctx vfs.Context, p string, flags uint32) (*vfs.FileDescription, error) {
	return e.v.OpenAt(ctx, e.root, e.root, p, flags, 0644)
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if err != want {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}

func userCtx(uid uint32) vfs.Context {
	return &vfs.KernelContext{Creds: auth.NewUserCredentials(auth.KUID(uid), auth.KGID(uid), nil)}
}

func TestWalkBasics(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/a", 0755)
	e.mkdir("/a/b", 0755)
	e.write("/a/b/f", "hello", 0644)
	e.symlink("b/f", "/a/lf")
	e.symlink("/a/b", "/a/lb")
	e.symlink("loop2", "/a/loop1")
	e.symlink("loop1", "/a/loop2")
	wantErr(t, "empty symlink", e.v.SymlinkAt(e.ctx, e.root, e.root, "", "/a/empty"), unix.ENOENT)
	for _, tc := range []struct {
		path   string
		follow bool
		err    error
		typ    uint32
	}{
		{"/a/b/f", true, nil, unix.S_IFREG},
		{"a/b/f", true, nil, unix.S_IFREG},
		{"/a/./b/../b/f", true, nil, unix.S_IFREG},
		{"/../../a", true, nil, unix.S_IFDIR},
		{"/a/lf", true, nil, unix.S_IFREG},
		{"/a/lf", false, nil, unix.S_IFLNK},
		{"/a/lb/f", true, nil, unix.S_IFREG},
		{"/a/lb/", false, nil, unix.S_IFDIR},
		{"/a/b/f/", true, unix.ENOTDIR, 0},
		{"/a/b/f/x", true, unix.ENOTDIR, 0},
		{"/a/lf/", true, unix.ENOTDIR, 0},
		{"/a/nope", true, unix.ENOENT, 0},
		{"/a/nope/x", true, unix.ENOENT, 0},
		{"", true, unix.ENOENT, 0},
		{"/a/loop1", true, unix.ELOOP, 0},
		{"/a/loop1", false, nil, unix.S_IFLNK},
		{"/a/loop1/x", false, unix.ELOOP, 0},
		{"/" + strings.Repeat("x", 256), true, unix.ENAMETOOLONG, 0},
		{"/" + strings.Repeat("a/", 2048), true, unix.ENAMETOOLONG, 0},
		{"/", true, nil, unix.S_IFDIR},
		{"/..", true, nil, unix.S_IFDIR},
	} {
		st, err := e.v.StatAt(e.ctx, e.root, e.root, tc.path, tc.follow)
		if err != tc.err {
			t.Errorf("stat %q follow=%v: got %v, want %v", tc.path, tc.follow, err, tc.err)
			continue
		}
		if err == nil && st.Type() != tc.typ {
			t.Errorf("stat %q: type %o, want %o", tc.path, st.Type(), tc.typ)
		}
	}
	// ".." at the root stays at the root.
	vd, err := e.v.GetDentryAt(e.ctx, e.root, e.root, "/../..", true)
	if err != nil || vd != e.root {
		t.Errorf("/../.. = %v, %v; want root", vd, err)
	}
	// A chroot-like root: ".." never escapes it.
	b, _ := e.v.GetDentryAt(e.ctx, e.root, e.root, "/a/b", true)
	vd, err = e.v.GetDentryAt(e.ctx, b, b, "../../..", true)
	if err != nil || vd != b {
		t.Errorf("../../.. from chroot = %v, %v; want the chroot", vd, err)
	}
	// An absolute symlink resolves from the task's root.
	e.symlink("/a", "/a/b/abs")
	e.write("/a/b/f2", "", 0644)
	if _, err := e.v.StatAt(e.ctx, b, b, "abs", true); err != unix.ENOENT {
		t.Errorf("abs link in chroot: %v, want ENOENT", err)
	}
	if p, ok := e.v.PathFrom(b, b); p != "/" || !ok {
		t.Errorf("PathFrom chroot = %q %v", p, ok)
	}
	if p, _ := e.v.PathFrom(e.root, b); p != "/a/b" {
		t.Errorf("PathFrom = %q", p)
	}
}

func TestSymlinkCount(t *testing.T) {
	e := newEnv(t)
	e.write("/f", "", 0644)
	e.symlink("f", "/l0")
	for i := 1; i <= 41; i++ {
		e.symlink("l"+itoa(i-1), "/l"+itoa(i))
	}
	// l39 needs 40 follows: allowed. l40 needs 41: ELOOP.
	if _, err := e.v.StatAt(e.ctx, e.root, e.root, "/l39", true); err != nil {
		t.Errorf("40 links: %v", err)
	}
	if _, err := e.v.StatAt(e.ctx, e.root, e.root, "/l40", true); err != unix.ELOOP {
		t.Errorf("41 links: %v, want ELOOP", err)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestOpenFlags(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/d", 0755)
	e.write("/d/f", "abc", 0644)
	e.symlink("f", "/d/l")
	_, err := e.open(e.ctx, "/d/l", unix.O_RDONLY|unix.O_NOFOLLOW)
	wantErr(t, "O_NOFOLLOW on link", err, unix.ELOOP)
	_, err = e.open(e.ctx, "/d/f", unix.O_RDONLY|unix.O_DIRECTORY)
	wantErr(t, "O_DIRECTORY on file", err, unix.ENOTDIR)
	_, err = e.open(e.ctx, "/d", unix.O_WRONLY)
	wantErr(t, "write a dir", err, unix.EISDIR)
	_, err = e.open(e.ctx, "/d/f", unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY)
	wantErr(t, "O_EXCL", err, unix.EEXIST)
	_, err = e.open(e.ctx, "/d/l", unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY)
	wantErr(t, "O_EXCL on link", err, unix.EEXIST)
	_, err = e.open(e.ctx, "/d/", unix.O_CREAT|unix.O_WRONLY)
	wantErr(t, "O_CREAT dir", err, unix.EISDIR)
	_, err = e.open(e.ctx, "/nodir/x", unix.O_CREAT|unix.O_WRONLY)
	wantErr(t, "O_CREAT no parent", err, unix.ENOENT)
	// O_CREAT through a dangling symlink creates the target.
	e.symlink("newtarget", "/d/dangling")
	fd, err := e.open(e.ctx, "/d/dangling", unix.O_CREAT|unix.O_WRONLY)
	if err != nil {
		t.Fatalf("create via dangling link: %v", err)
	}
	fd.DecRef()
	if _, err := e.v.StatAt(e.ctx, e.root, e.root, "/d/newtarget", false); err != nil {
		t.Errorf("dangling target not created: %v", err)
	}
	// O_PATH on a symlink with O_NOFOLLOW opens the link.
	fd, err = e.open(e.ctx, "/d/l", unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		t.Fatalf("O_PATH link: %v", err)
	}
	if _, err := fd.Read(e.ctx, [][]byte{make([]byte, 1)}); err != unix.EBADF {
		t.Errorf("read O_PATH: %v", err)
	}
	fd.DecRef()
	// O_TRUNC.
	fd, err = e.open(e.ctx, "/d/f", unix.O_RDWR|unix.O_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := fd.Stat()
	if st.Size != 0 {
		t.Errorf("size after O_TRUNC %d", st.Size)
	}
	fd.DecRef()
}

func TestPermissions(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/priv", 0700)
	e.write("/priv/f", "x", 0644)
	e.mkdir("/pub", 0777)
	e.write("/pub/ro", "x", 0444)
	e.write("/pub/noexec", "x", 0644)
	e.write("/pub/exec", "x", 0755)
	u := userCtx(1000)
	_, err := e.v.StatAt(u, e.root, e.root, "/priv/f", true)
	wantErr(t, "search denied", err, unix.EACCES)
	_, err = e.open(u, "/pub/ro", unix.O_WRONLY)
	wantErr(t, "write 0444 as user", err, unix.EACCES)
	_, err = e.open(u, "/priv/new", unix.O_CREAT|unix.O_WRONLY)
	wantErr(t, "create in 0700", err, unix.EACCES)
	fd, err := e.open(e.ctx, "/pub/ro", unix.O_WRONLY)
	if err != nil {
		t.Errorf("root writes 0444: %v", err)
	} else {
		fd.DecRef()
	}
	// Root may not exec a file without any execute bit.
	fsctx := vfs.NewFSContext(e.root, e.root, 022)
	_, _, err = e.v.OpenExecutable(e.ctx, fsctx, "/pub/noexec")
	wantErr(t, "root exec 0644", err, unix.EACCES)
	_, _, err = e.v.OpenExecutable(e.ctx, fsctx, "/pub")
	wantErr(t, "exec dir", err, unix.EACCES)
	fd, p, err := e.v.OpenExecutable(u, fsctx, "pub/exec")
	if err != nil || p != "/pub/exec" {
		t.Fatalf("exec: %v %q", err, p)
	}
	buf := make([]byte, 4)
	n, err := fd.ReadAt(buf, 0)
	if n != 1 || err != io.EOF {
		t.Errorf("ReadAt short: %d %v", n, err)
	}
	fd.DecRef()
	// Access with the real uid.
	wantErr(t, "access W_OK user", e.v.AccessAt(u, e.root, e.root, "/pub/ro", true, 2), unix.EACCES)
	wantErr(t, "access R_OK user", e.v.AccessAt(u, e.root, e.root, "/pub/ro", true, 4), nil)
	// Sticky directory: a user may not remove another's file.
	e.mkdir("/sticky", 01777)
	e.write("/sticky/rootfile", "", 0666)
	wantErr(t, "sticky unlink", e.v.UnlinkAt(u, e.root, e.root, "/sticky/rootfile"), unix.EPERM)
	// chmod by a non-owner.
	wantErr(t, "chmod non-owner", e.v.SetStatAt(u, e.root, e.root, "/pub/ro", true, vfs.SetStatOptions{Mask: vfs.SetStatMode, Mode: 0777}), unix.EPERM)
}

func TestReadOnlyMount(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/ro", 0755)
	ro := tmpfs.New(tmpfs.Options{Mode: 0777})
	if err := e.v.Mount(e.ctx, "/ro", ro, vfs.MountReadOnly); err != nil {
		t.Fatal(err)
	}
	_, err := e.open(e.ctx, "/ro/x", unix.O_CREAT|unix.O_WRONLY)
	wantErr(t, "create on ro", err, unix.EROFS)
	wantErr(t, "mkdir on ro", e.v.MkdirAt(e.ctx, e.root, e.root, "/ro/d", 0755), unix.EROFS)
	wantErr(t, "mkdir existing on ro", e.v.MkdirAt(e.ctx, e.root, e.root, "/ro", 0755), unix.EEXIST)
	wantErr(t, "unlink on ro", e.v.UnlinkAt(e.ctx, e.root, e.root, "/ro/nope"), unix.EROFS)
	wantErr(t, "access W_OK ro", e.v.AccessAt(e.ctx, e.root, e.root, "/ro", true, 2), unix.EROFS)
	fd, err := e.open(e.ctx, "/ro", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		t.Fatal(err)
	}
	fd.DecRef()
	// ".." from the mount root leaves the mount.
	st, err := e.v.StatAt(e.ctx, e.root, e.root, "/ro/..", true)
	rst, _ := e.v.StatAt(e.ctx, e.root, e.root, "/", true)
	if err != nil || st.Ino != rst.Ino || st.DevMinor != rst.DevMinor {
		t.Errorf("/ro/.. is not /: %v", err)
	}
	wantErr(t, "rmdir mount point", e.v.RmdirAt(e.ctx, e.root, e.root, "/ro"), unix.EBUSY)
	wantErr(t, "rename across mounts", e.v.RenameAt(e.ctx, e.root, e.root, "/ro", e.root, "/ro/x", 0), unix.EXDEV)
}

func TestUnlinkRenameRmdir(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/d", 0755)
	e.mkdir("/d/sub", 0755)
	e.write("/d/f", "data", 0644)
	wantErr(t, "unlink dir", e.v.UnlinkAt(e.ctx, e.root, e.root, "/d/sub"), unix.EISDIR)
	wantErr(t, "unlink f/", e.v.UnlinkAt(e.ctx, e.root, e.root, "/d/f/"), unix.ENOTDIR)
	wantErr(t, "rmdir file", e.v.RmdirAt(e.ctx, e.root, e.root, "/d/f"), unix.ENOTDIR)
	wantErr(t, "rmdir non-empty", e.v.RmdirAt(e.ctx, e.root, e.root, "/d"), unix.ENOTEMPTY)
	wantErr(t, "rmdir .", e.v.RmdirAt(e.ctx, e.root, e.root, "/d/."), unix.EINVAL)
	wantErr(t, "rename into itself", e.v.RenameAt(e.ctx, e.root, e.root, "/d", e.root, "/d/sub/x", 0), unix.EINVAL)
	wantErr(t, "rename dir over file", e.v.RenameAt(e.ctx, e.root, e.root, "/d/sub", e.root, "/d/f", 0), unix.ENOTDIR)
	wantErr(t, "rename file over dir", e.v.RenameAt(e.ctx, e.root, e.root, "/d/f", e.root, "/d/sub", 0), unix.EISDIR)
	// Open, unlink, still readable.
	fd, err := e.open(e.ctx, "/d/f", unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "unlink", e.v.UnlinkAt(e.ctx, e.root, e.root, "/d/f"), nil)
	_, err = e.v.StatAt(e.ctx, e.root, e.root, "/d/f", true)
	wantErr(t, "stat unlinked", err, unix.ENOENT)
	buf := make([]byte, 10)
	n, _ := fd.Read(e.ctx, [][]byte{buf})
	if string(buf[:n]) != "data" {
		t.Errorf("read unlinked: %q", buf[:n])
	}
	st, _ := fd.Stat()
	if st.Nlink != 0 {
		t.Errorf("nlink %d", st.Nlink)
	}
	fd.DecRef()
	// Rename moves and replaces.
	e.write("/d/a", "A", 0644)
	e.write("/d/b", "B", 0644)
	wantErr(t, "rename noreplace", e.v.RenameAt(e.ctx, e.root, e.root, "/d/a", e.root, "/d/b", vfs.RenameNoReplace), unix.EEXIST)
	wantErr(t, "rename", e.v.RenameAt(e.ctx, e.root, e.root, "/d/a", e.root, "/d/sub/b", 0), nil)
	wantErr(t, "rename over", e.v.RenameAt(e.ctx, e.root, e.root, "/d/sub/b", e.root, "/d/b", 0), nil)
	fd, err = e.open(e.ctx, "/d/b", unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	n, _ = fd.Read(e.ctx, [][]byte{buf})
	if string(buf[:n]) != "A" {
		t.Errorf("after rename: %q", buf[:n])
	}
	fd.DecRef()
	wantErr(t, "rmdir", e.v.RmdirAt(e.ctx, e.root, e.root, "/d/sub"), nil)
	st, _ = e.v.StatAt(e.ctx, e.root, e.root, "/d", true)
	if st.Nlink != 2 {
		t.Errorf("nlink of /d = %d, want 2", st.Nlink)
	}
	// Directory rename updates paths.
	e.mkdir("/d/x", 0755)
	e.mkdir("/d/x/y", 0755)
	y, _ := e.v.GetDentryAt(e.ctx, e.root, e.root, "/d/x/y", true)
	wantErr(t, "rename dir", e.v.RenameAt(e.ctx, e.root, e.root, "/d/x", e.root, "/z", 0), nil)
	if p, _ := e.v.PathFrom(e.root, y); p != "/z/y" {
		t.Errorf("path after rename %q", p)
	}
	// Hard links.
	wantErr(t, "link", e.v.LinkAt(e.ctx, e.root, e.root, "/d/b", e.root, "/d/b2", false), nil)
	wantErr(t, "link dir", e.v.LinkAt(e.ctx, e.root, e.root, "/d", e.root, "/d2", false), unix.EPERM)
	st, _ = e.v.StatAt(e.ctx, e.root, e.root, "/d/b2", true)
	if st.Nlink != 2 {
		t.Errorf("nlink after link = %d", st.Nlink)
	}
}

func TestGetdents(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/d", 0755)
	for _, n := range []string{"a", "b", "c"} {
		e.write("/d/"+n, "", 0644)
	}
	fd, err := e.open(e.ctx, "/d", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.DecRef()
	var names []string
	// One entry per call.
	for {
		got := 0
		fd.Getdents(e.ctx, func(d vfs.Dirent) bool {
			if got == 1 {
				return false
			}
			got++
			names = append(names, d.Name)
			return true
		})
		if got == 0 {
			break
		}
		if len(names) == 3 {
			// Removing an entry during the listing does not disturb it.
			e.v.UnlinkAt(e.ctx, e.root, e.root, "/d/a")
		}
	}
	if strings.Join(names, ",") != ".,..,a,b,c" {
		t.Errorf("entries %v", names)
	}
}

func TestFDTable(t *testing.T) {
	e := newEnv(t)
	e.write("/f", "0123456789", 0644)
	ft := vfs.NewFDTable()
	f, _ := e.open(e.ctx, "/f", unix.O_RDONLY)
	for want := int32(0); want < 3; want++ {
		fd, err := ft.NewFD(0, f, false)
		if err != nil || fd != want {
			t.Fatalf("NewFD = %d, %v; want %d", fd, err, want)
		}
	}
	f.DecRef()
	if err := ft.Close(1); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "close twice", ft.Close(1), unix.EBADF)
	if fd, _ := ft.NewFD(0, f, true); fd != 1 {
		t.Errorf("lowest fd: got %d", fd)
	}
	if fd, _ := ft.NewFD(10, f, false); fd != 10 {
		t.Errorf("minfd: got %d", fd)
	}
	if fd, _ := ft.NewFD(0, f, false); fd != 3 {
		t.Errorf("lowest after minfd: got %d", fd)
	}
	// Shared offset between dups.
	a, _, _ := ft.Get(0)
	b, _, _ := ft.Get(2)
	buf := make([]byte, 3)
	a.Read(e.ctx, [][]byte{buf})
	b.Read(e.ctx, [][]byte{buf})
	if string(buf) != "345" {
		t.Errorf("shared offset: %q", buf)
	}
	a.DecRef()
	b.DecRef()
	// Fork then close-on-exec.
	child := ft.Fork()
	child.CloseOnExec()
	if _, _, err := child.Get(1); err != unix.EBADF {
		t.Errorf("cloexec fd survived exec")
	}
	if _, c, err := ft.Get(1); err != nil || !c {
		t.Errorf("parent lost fd 1 or its cloexec: %v", err)
	} else {
		f.DecRef()
	}
	// Limits.
	ft.SetLimit(12)
	if _, err := ft.NewFD(12, f, false); err != unix.EINVAL {
		t.Errorf("minfd at limit: %v", err)
	}
	ft.NewFD(0, f, false) // 4
	for i := 5; i < 10; i++ {
		ft.NewFD(0, f, false)
	}
	ft.NewFD(0, f, false) // 11
	if _, err := ft.NewFD(0, f, false); err != unix.EMFILE {
		t.Errorf("full table: %v", err)
	}
	wantErr(t, "dup2 beyond limit", ft.Dup2(0, 12, false), unix.EBADF)
	child.RemoveAll()
	ft.RemoveAll()
}

func TestConcurrentCreate(t *testing.T) {
	e := newEnv(t)
	e.mkdir("/d", 0777)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				p := "/d/f" + itoa(i)
				fd, err := e.open(e.ctx, p, unix.O_CREAT|unix.O_RDWR)
				if err == nil {
					fd.Write(e.ctx, [][]byte{[]byte("x")})
					fd.DecRef()
				}
				e.v.UnlinkAt(e.ctx, e.root, e.root, p)
				e.v.StatAt(e.ctx, e.root, e.root, p, true)
			}
		}(g)
	}
	wg.Wait()
}

func TestFDTableConcurrent(t *testing.T) {
	e := newEnv(t)
	e.write("/f", "x", 0644)
	f, _ := e.open(e.ctx, "/f", unix.O_RDONLY)
	defer f.DecRef()
	ft := vfs.NewFDTable()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				fd, err := ft.NewFD(0, f, false)
				if err == nil {
					ft.Dup2(fd, fd+40, true)
					ft.Close(fd)
					ft.Close(fd + 40)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				if g, _, err := ft.Get(int32(i % 64)); err == nil {
					g.DecRef()
				}
			}
		}()
	}
	wg.Wait()
	if fds := ft.FDs(); len(fds) != 0 {
		t.Errorf("left open: %v", fds)
	}
}

func TestConcurrentRenameRmdir(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				e.v.MkdirAt(e.ctx, e.root, e.root, "/p", 0755)
				e.v.MkdirAt(e.ctx, e.root, e.root, "/p/c", 0755)
				e.v.MkdirAt(e.ctx, e.root, e.root, "/p/c/d", 0755)
				switch (g + i) % 4 {
				case 0:
					e.v.RenameAt(e.ctx, e.root, e.root, "/p/c/d", e.root, "/p/d", 0)
				case 1:
					e.v.RenameAt(e.ctx, e.root, e.root, "/p/d", e.root, "/p/c/d", 0)
				case 2:
					e.v.RmdirAt(e.ctx, e.root, e.root, "/p/c/d")
					e.v.RmdirAt(e.ctx, e.root, e.root, "/p/d")
				case 3:
					e.v.RmdirAt(e.ctx, e.root, e.root, "/p/c")
				}
				e.v.StatAt(e.ctx, e.root, e.root, "/p/c/d/../..", true)
			}
		}(g)
	}
	wg.Wait()
}

// fileRoot is a filesystem whose root is one of another's files (a file bind mount).
type fileRoot struct {
	vfs.Filesystem
	root vfs.Inode
}

func (f *fileRoot) Root() vfs.Inode { return f.root }

func TestFileMountPoint(t *testing.T) {
	e := newEnv(t)
	e.write("/src", "over", 0644)
	e.write("/target", "under", 0644)
	e.mkdir("/dir", 0755)
	src, err := e.v.GetDentryAt(e.ctx, e.root, e.root, "/src", true)
	if err != nil {
		t.Fatal(err)
	}
	fs := &fileRoot{Filesystem: src.Mount.Filesystem(), root: src.Dentry.Inode()}
	target, _ := e.v.GetDentryAt(e.ctx, e.root, e.root, "/target", true)
	if err := e.v.MountAt(e.ctx, target, fs, vfs.MountReadOnly); err != nil {
		t.Fatalf("mounting a file on a file: %v", err)
	}
	fd, err := e.open(e.ctx, "/target", unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, _ := fd.Read(e.ctx, [][]byte{buf})
	fd.DecRef()
	if b := buf[:n]; string(b) != "over" {
		t.Errorf("/target reads %q, want the mounted file's %q", b, "over")
	}
	_, err = e.open(e.ctx, "/target", unix.O_WRONLY)
	wantErr(t, "write through a read-only file mount", err, unix.EROFS)
	wantErr(t, "unlink a file mount point", e.v.UnlinkAt(e.ctx, e.root, e.root, "/target"), unix.EBUSY)
	dir, _ := e.v.GetDentryAt(e.ctx, e.root, e.root, "/dir", true)
	wantErr(t, "file on a directory", e.v.MountAt(e.ctx, dir, fs, 0), unix.ENOTDIR)
	src2, _ := e.v.GetDentryAt(e.ctx, e.root, e.root, "/src", true)
	wantErr(t, "directory on a file", e.v.MountAt(e.ctx, src2, tmpfs.New(tmpfs.Options{Mode: 0755}), 0), unix.ENOTDIR)
}

func TestBufs(t *testing.T) {
	a, b, c := make([]byte, 3), make([]byte, 2), make([]byte, 4)
	dst := [][]byte{a, b, c}
	if n := vfs.BufsLen(dst); n != 9 {
		t.Errorf("BufsLen = %d, want 9", n)
	}
	vfs.CopyToBufs(dst, 2, []byte("wxyz"))
	if got := string(a) + string(b) + string(c); got != "\x00\x00wxyz\x00\x00\x00" {
		t.Errorf("CopyToBufs at 2: %q", got)
	}
	out := make([]byte, 5)
	vfs.CopyFromBufs(out, dst)
	if string(out) != "\x00\x00wxy" {
		t.Errorf("CopyFromBufs: %q", out)
	}
}
