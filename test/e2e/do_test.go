package e2e

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHelloExitStatus(t *testing.T) {
	hello := prog(t, "hello")
	native := runNative(t, hello)
	got := runRunsc(t, "do", hello)
	if native.status != 3 || native.stdout != "hello from a static program\n" {
		t.Fatalf("natively: %v", native)
	}
	if got.status != native.status || got.stdout != native.stdout {
		t.Errorf("runsc do hello: want exit status %d and stdout %q; got %v", native.status, native.stdout, got)
	}
}

func TestCatHostFile(t *testing.T) {
	cat := prog(t, "cat")
	data := make([]byte, 200<<10)
	rand.New(rand.NewSource(1)).Read(data)
	files := []string{writeFile(t, "cat-input.bin", data, 0o644)}
	if _, err := os.Stat("/etc/hostname"); err == nil {
		files = append(files, "/etc/hostname")
	}
	for _, f := range files {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if native := runNative(t, cat, f); native.status != 0 || native.stdout != string(want) {
			t.Fatalf("natively: cat %s: exit %d, %d bytes, want %d", f, native.status, len(native.stdout), len(want))
		}
		got := runRunsc(t, "do", cat, f)
		if got.status != 0 || !bytes.Equal([]byte(got.stdout), want) {
			t.Errorf("runsc do cat %s: exit status %d, %d bytes of output (want 0, the file's %d bytes); stderr: %s",
				f, got.status, len(got.stdout), len(want), got.stderr)
		}
	}
}

func TestPrivateTmp(t *testing.T) {
	tmpfile := prog(t, "tmpfile")
	name := fmt.Sprintf("/tmp/e2e-private-tmp-%d-%d", os.Getpid(), time.Now().UnixNano())

	nativeName := name + "-native"
	native := runNative(t, tmpfile, nativeName)
	os.Remove(nativeName)
	if native.status != 0 {
		t.Fatalf("natively: %v", native)
	}

	got := runRunsc(t, "do", tmpfile, name)
	if got.status != 0 || got.stdout != native.stdout {
		t.Errorf("runsc do tmpfile %s: want exit 0 and %q; got %v", name, native.stdout, got)
	}
	if _, err := os.Lstat(name); err == nil {
		os.Remove(name)
		t.Errorf("%s, written inside the sandbox, appeared on the host's /tmp", name)
	}
}

// hostFile is what the tests compare of a host file before and after a sandboxed run.
type hostFile struct {
	data    string
	mode    os.FileMode
	mtime   time.Time
	entries []string // the directory around it
}

func statHostFile(t *testing.T, path string) hostFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return hostFile{string(b), fi.Mode(), fi.ModTime(), names}
}

// TestHostFileReadOnly: with --overlay=none, a sandboxed program that tries to write,
// truncate, create next to, rename, remove, chmod or touch a host file outside /tmp
// fails (EROFS for the opens) and the file is untouched. (With the default memory
// overlay the changes succeed inside the sandbox only: TestHostFileOverlay.)
func TestHostFileReadOnly(t *testing.T) {
	hostwrite := prog(t, "hostwrite")
	target := writeFile(t, "hostwrite-target.txt", []byte("original content\n"), 0o644)
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(target, old, old); err != nil {
		t.Fatal(err)
	}
	before := statHostFile(t, target)
	// Never run natively: as root it would succeed in changing the file.
	got := runRunsc(t, "--overlay=none", "do", hostwrite, target)
	after := statHostFile(t, target)

	if after.data != before.data || after.mode != before.mode || !after.mtime.Equal(before.mtime) ||
		strings.Join(after.entries, " ") != strings.Join(before.entries, " ") {
		t.Errorf("the host file changed: before %+v, after %+v", before, after)
	}
	attempts := 0
	for _, line := range strings.Split(strings.TrimSpace(got.stdout), "\n") {
		name, result, _ := strings.Cut(line, " ")
		attempts++
		switch {
		case result == "OK":
			t.Errorf("inside the sandbox %s on a host file succeeded", name)
		case strings.HasPrefix(name, "open_") && !strings.HasSuffix(name, "_then_write") && result != "EROFS":
			t.Errorf("inside the sandbox %s: got %s, want EROFS", name, result)
		}
	}
	if got.status != 0 || attempts < 12 {
		t.Errorf("runsc do hostwrite: want exit 0 after 12 attempts; got %v", got)
	}
}

func TestReboot(t *testing.T) {
	sysadmin := prog(t, "sysadmin")
	const cad = "/proc/sys/kernel/ctrl-alt-del"
	before, _ := os.ReadFile(cad)
	got := runRunsc(t, "do", sysadmin, "reboot")
	after, _ := os.ReadFile(cad)
	if got.status != 0 || got.stdout == "OK\n" {
		t.Errorf("reboot(2) inside the sandbox: want an error (exit 0); got %v", got)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("the host's %s changed from %q to %q", cad, before, after)
	}
}

// TestMount: a mount made inside the sandbox (root there has CAP_SYS_ADMIN over the
// sandbox's own mount tree) is the sandbox's alone: the host's mount table and the files
// under the mount point are untouched.
func TestMount(t *testing.T) {
	sysadmin := prog(t, "sysadmin")
	target := filepath.Join(buildDir, "mount-target")
	os.MkdirAll(target, 0o755)
	marker := filepath.Join(target, "marker")
	if err := os.WriteFile(marker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	mountsBefore, _ := os.ReadFile("/proc/self/mountinfo")
	got := runRunsc(t, "do", sysadmin, "mount", target)
	mountsAfter, _ := os.ReadFile("/proc/self/mountinfo")
	if got.stdout != "OK\n" && got.status != 0 {
		t.Errorf("mount(2) inside the sandbox: %v", got)
	}
	if bytes.Contains(mountsAfter, []byte(target)) && !bytes.Contains(mountsBefore, []byte(target)) {
		t.Errorf("the host's mount table now has %s", target)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the host's %s is hidden after the run: %v", marker, err)
	}
}

func TestNullDereference(t *testing.T) {
	nullderef := prog(t, "nullderef")
	native := runNative(t, nullderef)
	if native.status != 139 {
		t.Fatalf("natively: want exit status 139 (SIGSEGV); got %v", native)
	}
	got := runRunsc(t, "do", nullderef)
	if got.status != 139 || got.stdout != native.stdout {
		t.Errorf("runsc do nullderef: want exit status 139 and stdout %q; got %v", native.stdout, got)
	}
}

func TestBusybox(t *testing.T) {
	needBusybox(t)
	f := writeFile(t, "busybox-input.txt", []byte("one two three\nfour five\nsix\n"), 0o644)
	for _, args := range [][]string{
		{busybox, "ls", "/"},
		{busybox, "cat", f},
		{busybox, "wc", f},
		{busybox, "echo", "hello", "world"},
	} {
		t.Run(args[1], func(t *testing.T) {
			native := runNative(t, args...)
			if native.status != 0 {
				t.Fatalf("natively: %v", native)
			}
			got := runRunsc(t, append([]string{"do"}, args...)...)
			if got.status != 0 || got.stdout != native.stdout {
				t.Errorf("runsc do %s: want exit 0 and stdout\n%s\ngot %v", strings.Join(args, " "), native.stdout, got)
			}
		})
	}
}
