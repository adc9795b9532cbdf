package gofer

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/gofer/proto"
)

// withMaxOpen makes a server's fd cache keep at most n node fds.
func withMaxOpen(n int) func(*server) {
	return func(s *server) { s.t.maxOpen = n }
}

// evictAll closes every node fd the cache may close.
func (g *testGofer) evictAll() {
	t := g.server.t
	t.mu.Lock()
	max := t.maxOpen
	t.maxOpen = 0
	victims := t.evictLocked()
	t.maxOpen = max
	t.mu.Unlock()
	closeFDs(victims)
}

// openNodeFDs returns the table's count of open node fds, checked against
// the nodes themselves.
func (g *testGofer) openNodeFDs(t *testing.T) int {
	t.Helper()
	tb := g.server.t
	tb.mu.Lock()
	defer tb.mu.Unlock()
	seen := map[*node]bool{}
	count := 0
	var visit func(n *node)
	visit = func(n *node) {
		for ; n != nil && !seen[n]; n = n.parent {
			seen[n] = true
			if n.fd >= 0 {
				count++
			}
			if n.dirFD >= 0 {
				count++
			}
			if n.pins != 0 {
				t.Errorf("node %q pinned (%d) with no request running", n.name, n.pins)
			}
		}
	}
	for _, n := range tb.handles {
		visit(n)
	}
	if count != tb.open {
		t.Errorf("table counts %d open node fds, nodes have %d", tb.open, count)
	}
	return tb.open
}

// bigTree makes dirs d00..d(nd-1), each with nf files f000.. whose content
// is their path, a subdirectory sub with one file, and a symlink.
func bigTree(t *testing.T, nd, nf int) string {
	dir := t.TempDir()
	for i := 0; i < nd; i++ {
		d := fmt.Sprintf("d%02d", i)
		for j := 0; j < nf; j++ {
			p := fmt.Sprintf("%s/f%03d", d, j)
			mustWrite(t, filepath.Join(dir, p), p)
		}
		mustWrite(t, filepath.Join(dir, d, "sub/x"), d+"/sub/x")
		if err := os.Symlink("target-"+d, filepath.Join(dir, d, "link")); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// readAll lists dir (a handle) with Getdents, calling between after each page.
func (g *testGofer) readAll(t *testing.T, dir proto.Handle, between func()) []string {
	t.Helper()
	var names []string
	seen := map[string]bool{}
	var cookie uint64
	for {
		ents, err := g.Getdents(dir, cookie)
		if err != nil {
			t.Fatalf("Getdents: %v", err)
		}
		if len(ents) == 0 {
			break
		}
		for _, e := range ents {
			if seen[e.Name] {
				t.Fatalf("%q listed twice", e.Name)
			}
			seen[e.Name] = true
			if e.Name != "." && e.Name != ".." {
				names = append(names, e.Name)
			}
		}
		cookie = ents[len(ents)-1].Off
		if between != nil {
			between()
		}
	}
	sort.Strings(names)
	return names
}

func (g *testGofer) wantContent(t *testing.T, h proto.Handle, want string) {
	t.Helper()
	fd, err := g.Open(h, unix.O_RDONLY)
	if err != nil {
		t.Errorf("Open (want %q): %v", want, err)
		return
	}
	if got := readFD(t, fd); got != want {
		t.Errorf("content %q, want %q", got, want)
	}
}

func TestFDCacheBounded(t *testing.T) {
	const nd, nf, max = 10, 40, 16
	dir := bigTree(t, nd, nf)
	g := startServer(t, dir, false, withMaxOpen(max))
	base := countFDs(t)
	type file struct {
		h    proto.Handle
		path string
		ino  uint64
	}
	var files []file
	var dirs []proto.Handle
	for i := 0; i < nd; i++ {
		d := fmt.Sprintf("d%02d", i)
		dh, _ := g.walk(t, d)
		dirs = append(dirs, dh)
		for j := 0; j < nf; j++ {
			p := fmt.Sprintf("%s/f%03d", d, j)
			h, st := g.walk(t, p)
			files = append(files, file{h, p, st.Ino})
			if n := countFDs(t) - base; n > max {
				t.Fatalf("%d fds open after %d walks, bound %d", n, len(files), max)
			}
		}
		h, st := g.walk(t, d+"/sub/x")
		files = append(files, file{h, d + "/sub/x", st.Ino})
		if len(g.readAll(t, dh, nil)) != nf+2 {
			t.Errorf("%s: wrong listing", d)
		}
	}
	if n := g.openNodeFDs(t); n > max {
		t.Errorf("%d node fds open, bound %d", n, max)
	}
	// Every node still works, reopened.
	for _, f := range files {
		st, err := g.Stat(f.h)
		if err != nil || st.Ino != f.ino {
			t.Fatalf("Stat %s: ino %d (want %d), %v", f.path, st.Ino, f.ino, err)
		}
		g.wantContent(t, f.h, f.path)
	}
	for i, dh := range dirs {
		names := g.readAll(t, dh, nil)
		if len(names) != nf+2 || names[0] != "f000" {
			t.Errorf("d%02d lists %d names", i, len(names))
		}
		lh, _ := g.walk(t, fmt.Sprintf("d%02d/link", i))
		if target, err := g.Readlink(lh); err != nil || target != fmt.Sprintf("target-d%02d", i) {
			t.Errorf("Readlink: %q, %v", target, err)
		}
		if _, err := g.Statfs(dh); err != nil {
			t.Errorf("Statfs: %v", err)
		}
	}
	if n := countFDs(t) - base; n > max {
		t.Errorf("%d fds open at the end, bound %d", n, max)
	}
	if n := g.openNodeFDs(t); n > max {
		t.Errorf("%d node fds open at the end, bound %d", n, max)
	}
}

// A directory listing continues at the right place when its dirFD was closed
// between two pages.
func TestFDCacheGetdentsAcrossEviction(t *testing.T) {
	dir := t.TempDir()
	const n = 2000
	var want []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("a-rather-long-file-name-so-pages-are-short-%04d", i)
		mustWrite(t, filepath.Join(dir, "d", name), "")
		want = append(want, name)
	}
	g := startServer(t, dir, false, withMaxOpen(4))
	dh, _ := g.walk(t, "d")
	evictions := 0
	got := g.readAll(t, dh, func() {
		g.evictAll()
		evictions++
	})
	if evictions < 3 {
		t.Errorf("only %d pages", evictions)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listing across evictions: %d names, want %d", len(got), len(want))
	}
}

func TestFDCacheReplaced(t *testing.T) {
	g := startServer(t, tree(t), false, withMaxOpen(4))
	h, st := g.walk(t, "file")
	dh, _ := g.walk(t, "a/b")
	ch, _ := g.walk(t, "a/b/c.txt")
	g.evictAll()

	// A file replaced behind the gofer's back: every use of the old handle
	// fails and nothing touches the new file (its inode number may well be
	// the old one's: the file handle tells them apart).
	p := filepath.Join(g.dir, "file")
	os.Remove(p)
	mustWrite(t, p, "other")
	var nst unix.Stat_t
	unix.Stat(p, &nst)
	t.Logf("old ino %d, new ino %d", st.Ino, nst.Ino)
	_, err := g.Stat(h)
	wantErr(t, "Stat replaced", err, unix.ESTALE)
	_, err = g.Open(h, unix.O_RDONLY)
	wantErr(t, "Open replaced", err, unix.ESTALE)
	err = g.SetStat(h, proto.SetStatArgs{Mask: proto.SetStatMode | proto.SetStatSize, Mode: 0o600})
	wantErr(t, "SetStat replaced", err, unix.ESTALE)
	if b, _ := os.ReadFile(p); string(b) != "other" {
		t.Errorf("new file now %q", b)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v", fi.Mode())
	}

	// A directory replaced: its handle and the handles below it are stale.
	a := filepath.Join(g.dir, "a")
	if err := os.Rename(a, filepath.Join(g.dir, "a-old")); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(a, "b/c.txt"), "impostor")
	_, err = g.Stat(ch)
	wantErr(t, "Stat under replaced dir", err, unix.ESTALE)
	_, err = g.Open(ch, unix.O_RDONLY)
	wantErr(t, "Open under replaced dir", err, unix.ESTALE)
	_, err = g.Getdents(dh, 0)
	wantErr(t, "Getdents replaced dir", err, unix.ESTALE)
	_, _, err = g.Walk(dh, []string{"c.txt"})
	wantErr(t, "Walk replaced dir", err, unix.ESTALE)
	_, _, _, err = g.Create(dh, "new", unix.O_RDWR, 0o644, 0, 0)
	wantErr(t, "Create in replaced dir", err, unix.ESTALE)
	if _, err := os.Stat(filepath.Join(a, "b/new")); err == nil {
		t.Errorf("created in the new directory")
	}

	// Removed: stale too.
	os.RemoveAll(filepath.Join(g.dir, "emptydir"))
	eh, _ := g.walk(t, "link")
	g.evictAll()
	os.Remove(filepath.Join(g.dir, "link"))
	_, err = g.Readlink(eh)
	wantErr(t, "Readlink removed", err, unix.ESTALE)
}

func TestFDCacheRename(t *testing.T) {
	dir := tree(t)
	mustWrite(t, filepath.Join(dir, "x/y/z.txt"), "zzz")
	g := startServer(t, dir, false, withMaxOpen(4))
	bh, _ := g.walk(t, "a/b")
	ch, _ := g.walk(t, "a/b/c.txt")
	zh, _ := g.walk(t, "x/y/z.txt")
	yh, _ := g.walk(t, "x/y")
	xh, _ := g.walk(t, "x")
	g.evictAll()

	// Directory renamed in place: handles below it reopen by the new name.
	if err := g.Rename(g.root, "a", g.root, "a2", 0); err != nil {
		t.Fatal(err)
	}
	g.evictAll()
	g.wantContent(t, ch, "hello")
	if names := g.readAll(t, bh, nil); fmt.Sprint(names) != "[c.txt]" {
		t.Errorf("a2/b lists %v", names)
	}

	// Directory moved into another directory.
	if err := g.Rename(bh, "c.txt", bh, "c2.txt", 0); err != nil {
		t.Fatal(err)
	}
	if err := g.Rename(g.root, "a2", yh, "moved", 0); err != nil {
		t.Fatal(err)
	}
	g.evictAll()
	g.wantContent(t, ch, "hello")
	if _, err := os.Stat(filepath.Join(dir, "x/y/moved/b/c2.txt")); err != nil {
		t.Fatal(err)
	}
	// A file moved across directories.
	if err := g.Rename(yh, "z.txt", bh, "z-moved", 0); err != nil {
		t.Fatal(err)
	}
	g.evictAll()
	g.wantContent(t, zh, "zzz")

	// Exchange of two directories.
	mustWrite(t, filepath.Join(dir, "p/q"), "pq")
	ph, _ := g.walk(t, "p")
	qh, _ := g.walk(t, "p/q")
	if err := g.Rename(g.root, "p", g.root, "x", unix.RENAME_EXCHANGE); err != nil {
		t.Fatal(err)
	}
	g.evictAll()
	g.wantContent(t, qh, "pq")
	g.wantContent(t, zh, "zzz")
	if names := g.readAll(t, ph, nil); fmt.Sprint(names) != "[q]" {
		t.Errorf("p (now x) lists %v", names)
	}
	if names := g.readAll(t, xh, nil); fmt.Sprint(names) != "[y]" {
		t.Errorf("x (now p) lists %v", names)
	}

	// A file renamed over: the replaced node keeps its fd and still
	// answers for the old file; the moved one follows its new name.
	mustWrite(t, filepath.Join(dir, "f1"), "one")
	mustWrite(t, filepath.Join(dir, "f2"), "two")
	h1, _ := g.walk(t, "f1")
	h2, st2 := g.walk(t, "f2")
	g.evictAll()
	if err := g.Rename(g.root, "f1", g.root, "f2", 0); err != nil {
		t.Fatal(err)
	}
	g.evictAll()
	if st, err := g.Stat(h2); err != nil || st.Ino != st2.Ino || st.Nlink != 0 {
		t.Errorf("Stat of renamed-over: %+v, %v", st, err)
	}
	g.wantContent(t, h1, "one")

	// Unlinked through the gofer while its fd was closed: kept.
	uh, ust := g.walk(t, "file")
	g.evictAll()
	if err := g.Unlink(g.root, "file", 0); err != nil {
		t.Fatal(err)
	}
	g.evictAll()
	if st, err := g.Stat(uh); err != nil || st.Ino != ust.Ino || st.Nlink != 0 {
		t.Errorf("Stat of unlinked: %+v, %v", st, err)
	}
	// Detached nodes keep their fds (that is the only excess allowed).
	g.openNodeFDs(t)
}

// Many requests at once on a cache of a few fds: every answer is about the
// file the handle names (the content of each file is its path), and no fd
// is closed under a request (run with -race).
func TestFDCacheStress(t *testing.T) {
	const nd, nf = 6, 20
	dir := bigTree(t, nd, nf)
	g := startServer(t, dir, false, withMaxOpen(4))
	var wg sync.WaitGroup
	for w := 0; w < 24; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 60; k++ {
				i, j := (w*7+k)%nd, (w*13+k*3)%nf
				d := fmt.Sprintf("d%02d", i)
				p := fmt.Sprintf("%s/f%03d", d, j)
				hs, ss, err := g.Walk(g.root, splitPath(p))
				if err != nil || len(hs) != 2 {
					t.Errorf("Walk %s: %v", p, err)
					return
				}
				for r := 0; r < 3; r++ {
					st, err := g.Stat(hs[1])
					if err != nil || st.Ino != ss[1].Ino {
						t.Errorf("Stat %s: %v", p, err)
					}
					g.wantContent(t, hs[1], p)
				}
				if k%5 == 0 {
					if names := g.readAll(t, hs[0], nil); len(names) != nf+2 {
						t.Errorf("%s lists %d names", d, len(names))
					}
				}
				if k%7 == 0 {
					// Renames of a directory and back, to move nodes around.
					sh, _, err := g.Walk(hs[0], []string{"sub", "x"})
					if err == nil {
						tmp := fmt.Sprintf("sub-%d-%d", w, k)
						if err := g.Rename(hs[0], "sub", hs[0], tmp, 0); err == nil {
							g.wantContent(t, sh[1], d+"/sub/x")
							if err := g.Rename(hs[0], tmp, hs[0], "sub", 0); err != nil {
								t.Errorf("Rename back: %v", err)
							}
						}
						g.Close(sh...)
					}
				}
				if k%2 == 0 {
					g.Close(hs...)
				}
			}
		}()
	}
	wg.Wait()
	if n := g.openNodeFDs(t); n > 4 {
		t.Errorf("%d node fds open after the stress, bound 4", n)
	}
}

func TestDefaultMaxOpen(t *testing.T) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Skip(err)
	}
	want := maxOpenCap
	if rl.Cur/4 < uint64(want) {
		want = int(rl.Cur / 4)
	}
	if want < maxOpenMin {
		want = maxOpenMin
	}
	if got := defaultMaxOpen(); got != want {
		t.Errorf("defaultMaxOpen = %d, want %d (RLIMIT_NOFILE %d)", got, want, rl.Cur)
	}
}
