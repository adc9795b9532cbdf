package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runsc do --volume HOST:CONTAINER[:ro]: a host directory bind-mounted through a gofer of
// its own.

func volumeDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(buildDir, "volume")
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "in"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestVolumeReadWrite(t *testing.T) {
	needBusybox(t)
	dir := volumeDir(t)
	got := runRunsc(t, "do", "--volume", dir+":/data", busybox, "sh", "-c", "cat /data/in && echo from the sandbox > /data/out")
	if got.status != 0 || got.stdout != "from the host\n" {
		t.Fatalf("want the host file's contents and exit 0, got %v", got)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out"))
	if err != nil || string(b) != "from the sandbox\n" {
		t.Errorf("a write to a read-write volume must reach the host: %q, %v", b, err)
	}
}

func TestVolumeReadOnly(t *testing.T) {
	needBusybox(t)
	dir := volumeDir(t)
	got := runRunsc(t, "do", "--volume", dir+":/data:ro", busybox, "sh", "-c", "cat /data/in; echo x > /data/out")
	if got.status == 0 || got.stdout != "from the host\n" || !strings.Contains(got.stderr, "Read-only file system") {
		t.Errorf("want the file read, then EROFS for the write, got %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Errorf("a read-only volume was written on the host")
	}
}

func TestVolumeBadFlag(t *testing.T) {
	dir := volumeDir(t)
	for arg, want := range map[string]string{
		"relative:/data":         "absolute",
		dir + "/in:/data":        "not a directory",
		dir + ":/data:sometimes": `unknown option "sometimes"`,
		dir + ":/":               "cannot be /",
		dir:                      "HOST:CONTAINER",
		"/no/such/dir:/data":     "no such file",
	} {
		got := runRunsc(t, "do", "--volume", arg, "/bin/true")
		if got.status != 2 || !strings.Contains(got.stderr, want) {
			t.Errorf("--volume %q: want exit 2 and an error naming %q, got %v", arg, want, got)
		}
	}
}
