package sandbox

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSecureJoin(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc", "sub"), 0o755)
	os.Symlink("/etc", filepath.Join(root, "abs"))            // absolute: relative to root
	os.Symlink("../../../../", filepath.Join(root, "up"))     // climbs: clamped at root
	os.Symlink("sub", filepath.Join(root, "etc", "rel"))      // relative
	os.Symlink("loop", filepath.Join(root, "loop"))           // a loop
	os.Symlink("/outside/x", filepath.Join(root, "dangling")) // missing target
	for in, want := range map[string]string{
		"/etc/sub":      "/etc/sub",
		"/abs/sub":      "/etc/sub",
		"/up/etc":       "/etc",
		"/../../etc":    "/etc",
		"/etc/rel/file": "/etc/sub/file",
		"/dangling":     "/outside/x",
		"/new/dir":      "/new/dir",
	} {
		got, err := SecureJoin(root, in)
		if err != nil || got != filepath.Join(root, want) {
			t.Errorf("SecureJoin(%q) = %q, %v; want %q", in, got, err, filepath.Join(root, want))
		}
	}
	if _, err := SecureJoin(root, "/loop/x"); err == nil {
		t.Errorf("a symlink loop resolved")
	}
}

func TestAlive(t *testing.T) {
	start, ok := ProcessStart(os.Getpid())
	if !ok || start == 0 {
		t.Fatalf("ProcessStart(self) = %d, %v", start, ok)
	}
	if !Alive(os.Getpid(), start) || Alive(os.Getpid(), start+1) || Alive(0, 0) || Alive(1<<30, 0) {
		t.Errorf("Alive is wrong about this process, a reused PID or a missing one")
	}
}

func TestCheckNamespacePaths(t *testing.T) {
	spec := &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/proc/self/ns/net"}}}}
	if err := checkNamespacePaths(spec); err != nil {
		t.Errorf("a network namespace path: %v", err)
	}
	spec.Linux.Namespaces[0].Path = "/proc/self/ns/ipc"
	if err := checkNamespacePaths(spec); err == nil {
		t.Errorf("an IPC namespace given as the network namespace was accepted")
	}
	spec.Linux.Namespaces[0].Path = "/etc/hostname"
	if err := checkNamespacePaths(spec); err == nil {
		t.Errorf("a file that is not a namespace was accepted")
	}
}
