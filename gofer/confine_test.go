package gofer

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/gofer/proto"
)

// Environment of the re-executed test binary that runs Confine.
const (
	confineEnvDir = "GOFER_TEST_CONFINE_DIR"
	confineEnvRO  = "GOFER_TEST_CONFINE_RO"
)

// TestConfine re-executes the test binary in a new mount namespace, where it
// confines itself and checks that it cannot get out.
func TestConfine(t *testing.T) {
	if dir := os.Getenv(confineEnvDir); dir != "" {
		confineChild(t, dir, os.Getenv(confineEnvRO) == "1")
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("Confine needs root (mount namespaces, pivot_root); skipping as uid", os.Geteuid())
	}
	for _, ro := range []bool{false, true} {
		t.Run("ro="+strconv.FormatBool(ro), func(t *testing.T) {
			top := t.TempDir()
			mustWrite(t, filepath.Join(top, "root/inside"), "in")
			mustWrite(t, filepath.Join(top, "outside-secret"), "secret")
			if err := os.Symlink("../outside-secret", filepath.Join(top, "root/escape")); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestConfine$", "-test.v")
			ro01 := "0"
			if ro {
				ro01 = "1"
			}
			cmd.Env = append(os.Environ(), confineEnvDir+"="+top, confineEnvRO+"="+ro01)
			cmd.SysProcAttr = &unix.SysProcAttr{Unshareflags: unix.CLONE_NEWNS}
			out, err := cmd.CombinedOutput()
			t.Logf("child output:\n%s", out)
			if err != nil {
				t.Fatalf("child: %v", err)
			}
			// Nothing leaked to the host's mount table.
			mounts, _ := os.ReadFile("/proc/self/mountinfo")
			if strings.Contains(string(mounts), top) {
				t.Errorf("a mount of %s is visible on the host", top)
			}
		})
	}
}

// confineChild runs in the re-executed binary, in its own mount namespace.
func confineChild(t *testing.T, top string, ro bool) {
	secret := filepath.Join(top, "outside-secret")
	if _, err := os.Stat(secret); err != nil {
		t.Fatalf("before Confine the secret must be visible: %v", err)
	}
	rootFD, err := Confine(filepath.Join(top, "root"), ro)
	capsChecked := true
	if errors.Is(err, errCgo) {
		// The race detector links cgo; the mounts are done, only the
		// capability drop could not be.
		t.Logf("capabilities not checked: %v", err)
		capsChecked = false
		rootFD, err = unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		t.Fatalf("Confine: %v", err)
	}
	// "/.." is "/".
	var root, up, viaFD unix.Stat_t
	if err := unix.Stat("/", &root); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat("/..", &up); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstatat(rootFD, "..", &viaFD, 0); err != nil {
		t.Fatal(err)
	}
	if up.Ino != root.Ino || up.Dev != root.Dev || viaFD.Ino != root.Ino {
		t.Errorf("/.. is not / (ino %d vs %d, via fd %d)", up.Ino, root.Ino, viaFD.Ino)
	}
	if b, err := os.ReadFile("/inside"); err != nil || string(b) != "in" {
		t.Errorf("/inside: %q, %v", b, err)
	}
	// The host path outside the root is gone, by any route.
	for _, p := range []string{secret, "/../outside-secret", "/escape", "/proc/1/root" + secret} {
		if b, err := os.ReadFile(p); err == nil {
			t.Errorf("read %s outside the root: %q", p, b)
		}
	}
	if _, err := os.Stat("/etc/passwd"); err == nil {
		t.Error("/etc/passwd of the host is reachable")
	}
	// Writes follow the read-only flag (the kernel enforces it now).
	f, err := os.OpenFile("/inside", os.O_WRONLY, 0)
	if ro {
		if err == nil || !errors.Is(err, unix.EROFS) {
			t.Errorf("writing a read-only root: %v", err)
		}
	} else if err != nil {
		t.Errorf("writing a read-write root: %v", err)
	}
	if f != nil {
		f.Close()
	}
	if capsChecked {
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			t.Fatal(err)
		}
		var want uint64
		for _, c := range keptCaps(ro) {
			want |= 1 << uint(c)
		}
		got := uint64(data[0].Effective) | uint64(data[1].Effective)<<32
		if got != want || data[0].Permitted != data[0].Effective || data[0].Inheritable != 0 {
			t.Errorf("capabilities %#x, want %#x", got, want)
		}
		if nnp, _ := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0); nnp != 1 {
			t.Error("no_new_privs not set")
		}
		if in, _ := unix.PrctlRetInt(unix.PR_CAPBSET_READ, unix.CAP_SYS_ADMIN, 0, 0, 0); in != 0 {
			t.Error("CAP_SYS_ADMIN still in the bounding set")
		}
		if err := unix.Mount("none", "/", "tmpfs", 0, ""); err == nil {
			t.Error("mount still works after Confine")
		}
	}
	// The confined server works and cannot climb out either.
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(fds[1], rootFD, ro) }()
	c, err := proto.NewClient(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	rh, _, err := c.Mount()
	if err != nil {
		t.Fatal(err)
	}
	hs, _, err := c.Walk(rh, []string{"inside"})
	if err != nil || len(hs) != 1 {
		t.Fatalf("Walk inside: %v", err)
	}
	if fd, err := c.Open(hs[0], unix.O_RDONLY); err != nil {
		t.Errorf("Open inside: %v", err)
	} else {
		unix.Close(fd)
	}
	if _, _, err := c.Walk(rh, []string{".."}); err != unix.EINVAL {
		t.Errorf("Walk ..: %v", err)
	}
	eh, _, err := c.Walk(rh, []string{"escape"})
	if err == nil && len(eh) == 1 {
		if fd, err := c.Open(eh[0], unix.O_RDONLY); err == nil {
			unix.Close(fd)
			t.Error("opened the escape symlink")
		}
	}
	c.Shutdown()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestConfineRefusesHostNamespace(t *testing.T) {
	same, err := sameMountNamespaceAsInit()
	if err != nil || !same {
		t.Skipf("not in pid 1's mount namespace (same=%v, err=%v)", same, err)
	}
	dir := t.TempDir()
	if _, err := Confine(dir, true); err == nil || !strings.Contains(err.Error(), "CLONE_NEWNS") {
		t.Fatalf("Confine in the host namespace: %v", err)
	}
}
