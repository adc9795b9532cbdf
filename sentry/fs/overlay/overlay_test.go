package overlay

import (
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/fs/tmpfs"
	"runsc.dev/sentry/vfs"
)

type env struct {
	t         *testing.T
	ctx       vfs.Context
	v         *vfs.VirtualFilesystem // the overlay
	root      vfs.VirtualDentry
	lv        *vfs.VirtualFilesystem // the lower layer alone
	lroot     vfs.VirtualDentry
	lowerSnap map[string]string
}

// newEnv builds a lower tmpfs with a few files, and an overlay of a fresh tmpfs over it.
func newEnv(t *testing.T) *env {
	ctx := vfs.NewKernelContext()
	lower := tmpfs.New(tmpfs.Options{Mode: 0755})
	lv := vfs.New()
	if err := lv.MountRoot(ctx, lower, 0); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, lv: lv, lroot: lv.Root()}
	e.mkdirIn(lv, "/d")
	e.mkdirIn(lv, "/d/sub")
	e.writeIn(lv, "/d/f", "lower f")
	e.writeIn(lv, "/d/sub/g", "lower g")
	e.writeIn(lv, "/top", "top file")
	if err := lv.SymlinkAt(ctx, e.lroot, e.lroot, "d/f", "/link"); err != nil {
		t.Fatal(err)
	}
	e.lowerSnap = e.snapshot(lv)

	fs, err := New(ctx, tmpfs.New(tmpfs.Options{}), lower)
	if err != nil {
		t.Fatal(err)
	}
	e.v = vfs.New()
	if err := e.v.MountRoot(ctx, fs, 0); err != nil {
		t.Fatal(err)
	}
	e.root = e.v.Root()
	return e
}

func (e *env) mkdirIn(v *vfs.VirtualFilesystem, p string) {
	e.t.Helper()
	r := v.Root()
	if err := v.MkdirAt(e.ctx, r, r, p, 0755); err != nil {
		e.t.Fatalf("mkdir %s: %v", p, err)
	}
}

func (e *env) writeIn(v *vfs.VirtualFilesystem, p, data string) {
	e.t.Helper()
	r := v.Root()
	f, err := v.OpenAt(e.ctx, r, r, p, unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, 0644)
	if err != nil {
		e.t.Fatalf("create %s: %v", p, err)
	}
	defer f.DecRef()
	if _, err := f.Write(e.ctx, [][]byte{[]byte(data)}); err != nil {
		e.t.Fatalf("write %s: %v", p, err)
	}
}

func (e *env) read(p string) (string, error) {
	f, err := e.v.OpenAt(e.ctx, e.root, e.root, p, unix.O_RDONLY, 0)
	if err != nil {
		return "", err
	}
	defer f.DecRef()
	buf := make([]byte, 4096)
	n, err := f.Read(e.ctx, [][]byte{buf})
	return string(buf[:n]), err
}

func (e *env) list(v *vfs.VirtualFilesystem, p string) []string {
	e.t.Helper()
	r := v.Root()
	f, err := v.OpenAt(e.ctx, r, r, p, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		e.t.Fatalf("open %s: %v", p, err)
	}
	defer f.DecRef()
	var names []string
	f.Getdents(e.ctx, func(d vfs.Dirent) bool {
		if d.Name != "." && d.Name != ".." {
			names = append(names, d.Name)
		}
		return true
	})
	sort.Strings(names)
	return names
}

// snapshot records every path of v with its type, mode, size and contents.
func (e *env) snapshot(v *vfs.VirtualFilesystem) map[string]string {
	out := map[string]string{}
	var walk func(p string)
	walk = func(p string) {
		r := v.Root()
		st, err := v.StatAt(e.ctx, r, r, p, false)
		if err != nil {
			e.t.Fatalf("stat %s: %v", p, err)
		}
		desc := strings.Join([]string{itoa(st.Mode), itoa(uint32(st.Size)), itoa(uint32(st.Mtime.Nsec))}, " ")
		switch st.Type() {
		case unix.S_IFREG:
			f, _ := v.OpenAt(e.ctx, r, r, p, unix.O_RDONLY, 0)
			buf := make([]byte, 4096)
			n, _ := f.Read(e.ctx, [][]byte{buf})
			f.DecRef()
			desc += " " + string(buf[:n])
		case unix.S_IFDIR:
			for _, n := range e.list(v, p) {
				walk(strings.TrimSuffix(p, "/") + "/" + n)
			}
		}
		out[p] = desc
	}
	walk("/")
	return out
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

func (e *env) checkLowerUnchanged() {
	e.t.Helper()
	got := e.snapshot(e.lv)
	if len(got) != len(e.lowerSnap) {
		e.t.Errorf("lower layer changed: %v, was %v", got, e.lowerSnap)
		return
	}
	for k, v := range e.lowerSnap {
		if got[k] != v {
			e.t.Errorf("lower layer changed at %s: %q, was %q", k, got[k], v)
		}
	}
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func TestCopyUpOnWrite(t *testing.T) {
	e := newEnv(t)
	if s, err := e.read("/d/f"); s != "lower f" || err != nil {
		t.Fatalf("read lower: %q %v", s, err)
	}
	before, _ := e.v.StatAt(e.ctx, e.root, e.root, "/d/f", true)
	f, err := e.v.OpenAt(e.ctx, e.root, e.root, "/d/f", unix.O_WRONLY|unix.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(e.ctx, [][]byte{[]byte(" more")})
	f.DecRef()
	if s, _ := e.read("/d/f"); s != "lower f more" {
		t.Errorf("after append: %q", s)
	}
	after, _ := e.v.StatAt(e.ctx, e.root, e.root, "/d/f", true)
	if after.Ino != before.Ino || after.Dev() != before.Dev() {
		t.Errorf("copy-up changed identity: %d/%d -> %d/%d", before.Dev(), before.Ino, after.Dev(), after.Ino)
	}
	// Truncating open copies up without data.
	f, err = e.v.OpenAt(e.ctx, e.root, e.root, "/top", unix.O_WRONLY|unix.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.DecRef()
	if s, _ := e.read("/top"); s != "" {
		t.Errorf("after O_TRUNC: %q", s)
	}
	e.checkLowerUnchanged()
}

func TestCopyUpKeepsMetadata(t *testing.T) {
	e := newEnv(t)
	old := vfs.Timespec{Sec: 1000000, Nsec: 5}
	// Set times on the lower file directly, as the host would have them.
	lf, _ := e.lv.GetDentryAt(e.ctx, e.lroot, e.lroot, "/d/sub/g", true)
	lf.Inode().SetStat(e.ctx, vfs.SetStatOptions{Mask: vfs.SetStatAtime | vfs.SetStatMtime | vfs.SetStatUID, Atime: old, Mtime: old, UID: 42})
	lf.Inode().(vfs.XattrInode).Setxattr(e.ctx, "user.k", "v", 0)
	e.lowerSnap = e.snapshot(e.lv)
	if err := e.v.SetStatAt(e.ctx, e.root, e.root, "/d/sub/g", true, vfs.SetStatOptions{Mask: vfs.SetStatMode, Mode: 0600}); err != nil {
		t.Fatal(err)
	}
	st, _ := e.v.StatAt(e.ctx, e.root, e.root, "/d/sub/g", true)
	if st.Mode != unix.S_IFREG|0600 || st.UID != 42 || st.Mtime != old || st.Atime != old {
		t.Errorf("after chmod: mode %o uid %d mtime %v atime %v", st.Mode, st.UID, st.Mtime, st.Atime)
	}
	vd, _ := e.v.GetDentryAt(e.ctx, e.root, e.root, "/d/sub/g", true)
	if v, err := e.v.GetxattrDentry(e.ctx, vd, "user.k"); v != "v" || err != nil {
		t.Errorf("xattr after copy-up: %q %v", v, err)
	}
	if s, _ := e.read("/d/sub/g"); s != "lower g" {
		t.Errorf("data after chmod: %q", s)
	}
	e.checkLowerUnchanged()
}

func TestWhiteoutsAndOpaqueDirs(t *testing.T) {
	e := newEnv(t)
	if err := e.v.UnlinkAt(e.ctx, e.root, e.root, "/d/f"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.read("/d/f"); err != unix.ENOENT {
		t.Errorf("read unlinked: %v", err)
	}
	if got := e.list(e.v, "/d"); strings.Join(got, ",") != "sub" {
		t.Errorf("listing after unlink: %v", got)
	}
	wantErr(t, "rmdir non-empty", e.v.RmdirAt(e.ctx, e.root, e.root, "/d/sub"), unix.ENOTEMPTY)
	wantErr(t, "unlink g", e.v.UnlinkAt(e.ctx, e.root, e.root, "/d/sub/g"), nil)
	wantErr(t, "rmdir emptied", e.v.RmdirAt(e.ctx, e.root, e.root, "/d/sub"), nil)
	wantErr(t, "rmdir d", e.v.RmdirAt(e.ctx, e.root, e.root, "/d"), nil)
	wantErr(t, "mkdir d again", e.v.MkdirAt(e.ctx, e.root, e.root, "/d", 0700), nil)
	if got := e.list(e.v, "/d"); len(got) != 0 {
		t.Errorf("re-made directory is not opaque: %v", got)
	}
	if _, err := e.v.StatAt(e.ctx, e.root, e.root, "/d/sub", true); err != unix.ENOENT {
		t.Errorf("stat through opaque dir: %v", err)
	}
	e.writeIn(e.v, "/d/f", "new f")
	if s, _ := e.read("/d/f"); s != "new f" {
		t.Errorf("recreated: %q", s)
	}
	if got := e.list(e.v, "/"); strings.Join(got, ",") != "d,link,top" {
		t.Errorf("root listing: %v", got)
	}
	e.checkLowerUnchanged()
}

func TestRenameAndLink(t *testing.T) {
	e := newEnv(t)
	wantErr(t, "rename lower dir", e.v.RenameAt(e.ctx, e.root, e.root, "/d", e.root, "/d2", 0), unix.EXDEV)
	wantErr(t, "rename lower file", e.v.RenameAt(e.ctx, e.root, e.root, "/d/f", e.root, "/f2", 0), nil)
	if s, _ := e.read("/f2"); s != "lower f" {
		t.Errorf("renamed file: %q", s)
	}
	if _, err := e.read("/d/f"); err != unix.ENOENT {
		t.Errorf("old name after rename: %v", err)
	}
	// A directory made in the sandbox can move, even over an emptied lower directory.
	e.mkdirIn(e.v, "/new")
	e.writeIn(e.v, "/new/x", "x")
	wantErr(t, "unlink g", e.v.UnlinkAt(e.ctx, e.root, e.root, "/d/sub/g"), nil)
	wantErr(t, "rename over emptied lower dir", e.v.RenameAt(e.ctx, e.root, e.root, "/new", e.root, "/d/sub", 0), nil)
	if got := e.list(e.v, "/d/sub"); strings.Join(got, ",") != "x" {
		t.Errorf("moved dir listing: %v", got)
	}
	// Hard link to a lower file.
	wantErr(t, "link", e.v.LinkAt(e.ctx, e.root, e.root, "/top", e.root, "/top2", false), nil)
	a, _ := e.v.StatAt(e.ctx, e.root, e.root, "/top", true)
	b, _ := e.v.StatAt(e.ctx, e.root, e.root, "/top2", true)
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("link: ino %d vs %d, nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	// Exchange a lower file with a new one.
	e.writeIn(e.v, "/n", "n")
	wantErr(t, "exchange", e.v.RenameAt(e.ctx, e.root, e.root, "/n", e.root, "/link", vfs.RenameExchange), nil)
	if s, _ := e.read("/n"); s != "new f" && s != "lower f" {
		// /n is now the symlink to d/f, which was renamed away.
		if _, err := e.read("/n"); err != unix.ENOENT {
			t.Errorf("exchanged symlink: %q %v", s, err)
		}
	}
	if l, err := e.v.ReadlinkAt(e.ctx, e.root, e.root, "/n"); l != "d/f" || err != nil {
		t.Errorf("readlink exchanged: %q %v", l, err)
	}
	e.checkLowerUnchanged()
}

func TestMergedNlinkAndStatfs(t *testing.T) {
	e := newEnv(t)
	e.writeIn(e.v, "/d/new", "n")
	st, _ := e.v.StatAt(e.ctx, e.root, e.root, "/d", true)
	if st.Nlink != 1 {
		t.Errorf("merged dir nlink %d, want 1", st.Nlink)
	}
	sf, err := e.v.StatfsAt(e.ctx, e.root, e.root, "/")
	if err != nil || sf.Type != Magic {
		t.Errorf("statfs: %+v %v", sf, err)
	}
	if got := e.list(e.v, "/d"); strings.Join(got, ",") != "f,new,sub" {
		t.Errorf("merged listing: %v", got)
	}
	e.checkLowerUnchanged()
}
