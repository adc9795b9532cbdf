package e2e

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hostTree records everything about the files under some roots that a sandboxed run
// must not change: type, mode, owner, size, mtime, contents (hashed), symlink targets,
// extended attributes, and every directory's entries.
func hostTree(t *testing.T, roots ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				out[p] = "error: " + err.Error()
				return nil
			}
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				out[p] = "error: " + err.Error()
				return nil
			}
			desc := fmt.Sprintf("mode=%o uid=%d gid=%d nlink=%d", st.Mode, st.Uid, st.Gid, st.Nlink)
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				desc += fmt.Sprintf(" size=%d mtime=%d.%09d", st.Size, st.Mtim.Sec, st.Mtim.Nsec)
			} else {
				desc += fmt.Sprintf(" mtime=%d.%09d", st.Mtim.Sec, st.Mtim.Nsec)
			}
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFREG:
				if st.Size < 1<<20 {
					if b, err := os.ReadFile(p); err == nil {
						desc += fmt.Sprintf(" sha=%x", sha256.Sum256(b))
					}
				}
			case unix.S_IFLNK:
				l, _ := os.Readlink(p)
				desc += " -> " + l
			}
			buf := make([]byte, 4096)
			if n, err := unix.Llistxattr(p, buf); err == nil && n > 0 {
				names := strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00")
				sort.Strings(names)
				for _, name := range names {
					v := make([]byte, 4096)
					k, _ := unix.Lgetxattr(p, name, v)
					if k < 0 {
						k = 0
					}
					desc += fmt.Sprintf(" xattr:%s=%q", name, v[:k])
				}
			}
			out[p] = desc
			return nil
		})
	}
	return out
}

func diffTrees(before, after map[string]string) []string {
	var diffs []string
	for p, b := range before {
		if a, ok := after[p]; !ok {
			diffs = append(diffs, "removed: "+p)
		} else if a != b {
			diffs = append(diffs, fmt.Sprintf("changed: %s: %s -> %s", p, b, a))
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			diffs = append(diffs, "added: "+p)
		}
	}
	sort.Strings(diffs)
	return diffs
}

// makeTree builds a directory tree with files, symlinks, hard links, a FIFO, empty and
// nested directories, extended attributes and old timestamps.
func makeTree(t *testing.T, dir string) {
	t.Helper()
	os.RemoveAll(dir)
	old := time.Date(2019, 5, 6, 7, 8, 9, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"a", "a/b", "a/b/c", "empty", "del", "del/sub"} {
		must(os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	for name, data := range map[string]string{
		"file": "contents\n", "a/x": "x", "a/b/y": "why", "a/b/c/z": strings.Repeat("z", 100000),
		"del/f1": "1", "del/sub/f2": "2", "ro": "read only", "big": strings.Repeat("big!", 300000),
	} {
		must(os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
	}
	must(os.Chmod(filepath.Join(dir, "ro"), 0o444))
	must(os.Symlink("a/b/y", filepath.Join(dir, "sym")))
	must(os.Symlink("/nonexistent", filepath.Join(dir, "dangling")))
	must(os.Link(filepath.Join(dir, "file"), filepath.Join(dir, "hard")))
	must(unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	must(unix.Setxattr(filepath.Join(dir, "file"), "user.test", []byte("value"), 0))
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeSymlink == 0 {
			os.Chtimes(p, old, old)
		}
		return nil
	})
}

// overlayScript changes everything it can in TREE and elsewhere in the root, checking
// that each change is visible inside the sandbox; it prints "ok NAME" or "FAIL NAME".
const overlayScript = `
T=$1
check() { if eval "$2" >/dev/null 2>&1; then echo "ok $1"; else echo "FAIL $1"; fi; }
echo more >> $T/file;            check append 'grep -q more $T/file'
# Without overlayfs's index feature (off by default), copy-up breaks hard links.
check hardlink_broken_by_copyup '! grep -q more $T/hard'
echo new > $T/a/x;               check overwrite '[ "$(cat $T/a/x)" = new ]'
: > $T/big;                      check truncate '[ ! -s $T/big ]'
rm $T/a/b/y;                     check unlink '[ ! -e $T/a/b/y ]'
check dangling_sym_now '[ ! -e $T/sym ] && [ -L $T/sym ]'
rm -rf $T/del;                   check rm_rf '[ ! -e $T/del ]'
mkdir $T/del;                    check mkdir_over_whiteout '[ -d $T/del ] && [ -z "$(ls -A $T/del)" ]'
mv $T/a $T/a2;                   check mv_dir_copies '[ -f $T/a2/b/c/z ] && [ ! -e $T/a ]'
mv $T/file $T/file2;             check mv_file '[ -f $T/file2 ] && [ ! -e $T/file ]'
chmod 600 $T/ro;                 check chmod '[ "$(stat -c %a $T/ro)" = 600 ]'
chown 1:1 $T/hard;               check chown '[ "$(stat -c %u $T/hard)" = 1 ]'
touch -d @0 $T/empty;            check touch '[ "$(stat -c %Y $T/empty)" = 0 ]'
ln -s target $T/newsym;          check symlink '[ "$(readlink $T/newsym)" = target ]'
ln $T/ro $T/ro2;                 check link '[ "$(stat -c %h $T/ro)" = 2 ]'
rm $T/fifo;                      check rm_fifo '[ ! -e $T/fifo ]'
rmdir $T/empty;                  check rmdir '[ ! -e $T/empty ]'
echo x > $T/created;             check create '[ -f $T/created ]'
mkdir -p $T/n/e/w;               check mkdir_p '[ -d $T/n/e/w ]'
echo sandboxed > /etc/hostname;  check etc_write '[ "$(cat /etc/hostname)" = sandboxed ]'
rm -f /etc/passwd;               check etc_rm '[ ! -e /etc/passwd ]'
mv /etc/os-release /etc/os-release.moved; check etc_mv '[ -e /etc/os-release.moved ]'
mkdir /newdir && echo y > /newdir/f; check root_mkdir '[ -f /newdir/f ]'
rm -rf /usr/share/doc;           check usr_rm_rf '[ ! -e /usr/share/doc ]'
chmod 700 /usr/bin;              check chmod_dir '[ "$(stat -c %a /usr/bin)" = 700 ]'
check still_runs '/bin/true'
`

func TestOverlayHostUnchanged(t *testing.T) {
	tree := filepath.Join(buildDir, "overlay-tree")
	makeTree(t, tree)
	defer os.RemoveAll(tree)
	roots := []string{tree, "/etc", "/usr/share/doc", "/usr/bin"}
	before := hostTree(t, roots...)
	got := runRunsc(t, "do", "/bin/sh", "-c", overlayScript, "sh", tree)
	after := hostTree(t, roots...)
	if d := diffTrees(before, after); len(d) > 0 {
		t.Errorf("the host changed after a sandboxed run over a memory overlay:\n  %s", strings.Join(d, "\n  "))
	}
	if got.status != 0 || strings.Contains(got.stdout, "FAIL") || strings.Count(got.stdout, "ok ") < 25 {
		t.Errorf("inside the sandbox some changes did not take effect: %v", got)
	}
}

// TestHostFileOverlay: with the default memory overlay, a program may change a host
// file as it likes inside the sandbox; the host file is untouched.
func TestHostFileOverlay(t *testing.T) {
	hostwrite := prog(t, "hostwrite")
	target := writeFile(t, "hostwrite-overlay-target.txt", []byte("original content\n"), 0o644)
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(target, old, old); err != nil {
		t.Fatal(err)
	}
	before := statHostFile(t, target)
	got := runRunsc(t, "do", hostwrite, target)
	after := statHostFile(t, target)
	if after.data != before.data || after.mode != before.mode || !after.mtime.Equal(before.mtime) ||
		strings.Join(after.entries, " ") != strings.Join(before.entries, " ") {
		t.Errorf("the host file changed: before %+v, after %+v", before, after)
	}
	if !strings.Contains(got.stdout, "open_wronly OK") || !strings.Contains(got.stdout, "unlink OK") {
		t.Errorf("inside the sandbox the overlay refused changes: %v", got)
	}
}

// TestOverlayNoneReadOnly: --overlay=none mounts the host root read-only.
func TestOverlayNoneReadOnly(t *testing.T) {
	got := runRunsc(t, "--overlay=none", "do", "/bin/sh", "-c", "echo x > /etc/runsc-ro-test; echo $?; touch /tmp/ok && echo tmp")
	if !strings.Contains(got.stdout, "2\ntmp\n") || !strings.Contains(got.stderr+got.stdout, "Read-only file system") {
		t.Errorf("runsc --overlay=none: want EROFS outside /tmp; got %v", got)
	}
	if _, err := os.Stat("/etc/runsc-ro-test"); err == nil {
		os.Remove("/etc/runsc-ro-test")
		t.Errorf("a write under --overlay=none reached the host")
	}
}

// sandboxSh runs a shell command line under `runsc do` (in the e2e build directory,
// visible inside the sandbox) and returns how it ended.
func sandboxSh(t *testing.T, script string) outcome {
	t.Helper()
	return runRunsc(t, "do", "--cwd", buildDir, "/bin/sh", "-c", script)
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed on the host: %v", name, err)
	}
	return p
}

func TestPsAux(t *testing.T) {
	needTool(t, "ps")
	got := sandboxSh(t, "sleep 5 & a=$!; sleep 6 & b=$!; ps aux; kill $a $b")
	lines := strings.Split(strings.TrimSpace(got.stdout), "\n")
	if got.status != 0 || len(lines) < 4 || !strings.HasPrefix(lines[0], "USER") {
		t.Fatalf("ps aux in the sandbox: %v", got)
	}
	var sleeps, init bool
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 11 {
			t.Errorf("short ps line %q", l)
			continue
		}
		if f[1] == "1" && strings.Contains(l, "/bin/sh") {
			init = true
		}
		if strings.Contains(l, "sleep 6") {
			sleeps = true
		}
	}
	if !init || !sleeps {
		t.Errorf("ps aux does not list the sandbox's processes (init sh as PID 1, sleep 6): %v", got)
	}
}

func TestProcSelfMaps(t *testing.T) {
	got := sandboxSh(t, "cat /proc/self/maps")
	if got.status != 0 {
		t.Fatalf("cat /proc/self/maps: %v", got)
	}
	cat, _ := exec.LookPath("cat")
	cat, _ = filepath.EvalSymlinks(cat)
	var sawExe, sawStack, sawLibc bool
	for _, l := range strings.Split(strings.TrimSpace(got.stdout), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 || len(f[1]) != 4 || !strings.Contains(f[0], "-") {
			t.Errorf("malformed maps line %q", l)
			continue
		}
		if len(f) >= 6 {
			switch {
			case f[5] == cat:
				sawExe = true
			case f[5] == "[stack]":
				sawStack = true
			case strings.Contains(f[5], "libc.so"):
				sawLibc = true
			}
		}
	}
	if !sawExe || !sawStack || !sawLibc {
		t.Errorf("/proc/self/maps of cat lacks its executable %s, libc or [stack]:\n%s", cat, got.stdout)
	}
}

func TestDfTmp(t *testing.T) {
	needTool(t, "df")
	got := sandboxSh(t, "df /tmp && df -T / /tmp")
	if got.status != 0 || !strings.Contains(got.stdout, "tmpfs") || !strings.Contains(got.stdout, "/tmp") ||
		!strings.Contains(got.stdout, "overlay") {
		t.Errorf("df in the sandbox: %v", got)
	}
}

func TestGitCommit(t *testing.T) {
	needTool(t, "git")
	got := sandboxSh(t, `set -e
git init -q /tmp/r && cd /tmp/r
echo hello > f && mkdir d && echo x > d/g
git add f d && git -c user.name=t -c user.email=t@example.com commit -q -m first
echo more >> f && git -c user.name=t -c user.email=t@example.com commit -q -am second
git log --oneline | wc -l
git status --porcelain | wc -l
git fsck --no-progress 2>&1 | wc -l`)
	if got.status != 0 || strings.Fields(got.stdout)[0] != "2" || got.stdout != "2\n0\n0\n" {
		t.Errorf("git init/add/commit in the sandbox: %v", got)
	}
}

func TestGCCHello(t *testing.T) {
	needTool(t, "gcc")
	src := writeFile(t, "hello-gcc.c", []byte("#include <stdio.h>\nint main(void) { printf(\"hello from gcc\\n\"); return 0; }\n"), 0o644)
	got := sandboxSh(t, "gcc -o /tmp/h "+src+" && /tmp/h")
	if got.status != 0 || got.stdout != "hello from gcc\n" {
		t.Errorf("gcc -o /tmp/h hello.c && /tmp/h in the sandbox: %v", got)
	}
}

func TestPythonVenv(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skipf("no /usr/bin/python3: %v", err)
	}
	// The system's python, not whatever shims the caller's PATH has (pyenv's run helper
	// programs that have nothing to do with the filesystem).
	got := runRunsc(t, "do", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"/bin/sh", "-c", "python3 -m venv /tmp/v && /tmp/v/bin/pip --version")
	if got.status != 0 || !strings.HasPrefix(got.stdout, "pip ") || !strings.Contains(got.stdout, "/tmp/v/") {
		t.Errorf("python3 -m venv /tmp/v && /tmp/v/bin/pip --version in the sandbox: %v", got)
	}
}

func TestSqlite(t *testing.T) {
	if _, err := exec.LookPath("sqlite3"); err != nil {
		if out, err := exec.Command("apt-get", "install", "-y", "-q", "sqlite3").CombinedOutput(); err != nil {
			t.Skipf("sqlite3 is not installed and apt-get install failed: %v\n%s", err, out)
		}
	}
	got := sandboxSh(t, `sqlite3 /tmp/db "create table t(a integer primary key, b text); insert into t(b) values ('x'), ('y'); select a, b from t order by a;" && sqlite3 /tmp/db "select count(*) from t;"`)
	if got.status != 0 || got.stdout != "1|x\n2|y\n2\n" {
		t.Errorf("sqlite3 in the sandbox: %v", got)
	}
}
