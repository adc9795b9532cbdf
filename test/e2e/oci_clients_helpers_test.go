package e2e

// What the real-client tests (oci_clients_test.go) share: installing a client from
// Debian's packages, a busybox image as one tarball that podman, ctr and docker all
// import (an OCI layout with a docker manifest.json beside it), starting daemons with
// private directories, and running client commands.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"runsc.dev/test/e2e/testenv"
)

// clientTimeout bounds one client command.
const clientTimeout = 120 * time.Second

var aptMu sync.Mutex

// needPackages installs Debian packages that are missing (as `make deps` does); a test
// whose client cannot be installed fails with the reason.
func needPackages(t *testing.T, bins map[string]string) {
	t.Helper()
	aptMu.Lock()
	defer aptMu.Unlock()
	var missing []string
	for bin, pkg := range bins {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return
	}
	t.Logf("installing %v", missing)
	args := append([]string{"install", "-y", "--no-install-recommends"}, missing...)
	cmd := exec.Command("apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		// The package lists may be stale: update once and retry.
		if up, uerr := exec.Command("apt-get", "update").CombinedOutput(); uerr != nil {
			t.Fatalf("cannot install %v: apt-get install: %v\n%s\napt-get update: %v\n%s", missing, err, tail(out), uerr, tail(up))
		}
		cmd = exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err = cmd.CombinedOutput(); err != nil {
			t.Fatalf("cannot install %v: %v\n%s", missing, err, tail(out))
		}
	}
	for bin := range bins {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("installed %v but %s is still missing", missing, bin)
		}
	}
}

func tail(b []byte) string {
	s := string(b)
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// imageName is the test image's name in every client.
const imageName = "docker.io/library/runsc-bb:latest"

var (
	imageOnce sync.Once
	imagePath string
	imageErr  error
)

// busyboxImage returns a tarball of the busybox image: an OCI image layout (index.json
// with io.containerd.image.name, for ctr) plus manifest.json (for docker load); podman
// loads it too.
func busyboxImage(t *testing.T) string {
	t.Helper()
	needBusybox(t)
	imageOnce.Do(func() { imagePath, imageErr = buildImage() })
	if imageErr != nil {
		t.Fatalf("building the test image: %v", imageErr)
	}
	return imagePath
}

func buildImage() (string, error) {
	// The layer: busybox and its applets.
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return "", err
	}
	for _, d := range []string{"bin/", "etc/", "tmp/", "proc/", "dev/", "sys/", "root/", "var/", "run/"} {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: mode, ModTime: time.Unix(0, 0)})
	}
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb)), ModTime: time.Unix(0, 0)})
	tw.Write(bb)
	for _, a := range append(busyboxApplets, "top", "ping", "nc") {
		tw.WriteHeader(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777, ModTime: time.Unix(0, 0)})
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
	group := "root:x:0:\nnogroup:x:65534:\n"
	for name, data := range map[string]string{"etc/passwd": passwd, "etc/group": group} {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0)})
		tw.Write([]byte(data))
	}
	tw.Close()
	digest := func(b []byte) string {
		s := sha256.Sum256(b)
		return hex.EncodeToString(s[:])
	}
	layerDigest := digest(layer.Bytes())
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config":  map[string]any{"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, "Cmd": []string{"sh"}},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerDigest}},
		"history": []map[string]any{{"created_by": "runsc e2e", "created": "2024-01-01T00:00:00Z"}},
		"created": "2024-01-01T00:00:00Z",
	})
	configDigest := digest(config)
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + configDigest, "size": len(config)},
		"layers": []map[string]any{{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + layerDigest, "size": layer.Len()}},
	})
	manifestDigest := digest(manifest)
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []map[string]any{{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + manifestDigest, "size": len(manifest),
			"annotations": map[string]string{"io.containerd.image.name": imageName, "org.opencontainers.image.ref.name": "latest"},
		}},
	})
	dockerManifest, _ := json.Marshal([]map[string]any{{
		"Config": "blobs/sha256/" + configDigest, "RepoTags": []string{strings.TrimPrefix(imageName, "docker.io/library/")},
		"Layers": []string{"blobs/sha256/" + layerDigest},
	}})
	var out bytes.Buffer
	ow := tar.NewWriter(&out)
	add := func(name string, data []byte) {
		ow.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0)})
		ow.Write(data)
	}
	ow.WriteHeader(&tar.Header{Name: "blobs/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)})
	ow.WriteHeader(&tar.Header{Name: "blobs/sha256/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)})
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add("index.json", index)
	add("manifest.json", dockerManifest)
	add("blobs/sha256/"+layerDigest, layer.Bytes())
	add("blobs/sha256/"+configDigest, config)
	add("blobs/sha256/"+manifestDigest, manifest)
	ow.Close()
	p := filepath.Join(buildDir, "busybox-image.tar")
	return p, os.WriteFile(p, out.Bytes(), 0o644)
}

// clientRun runs a client command to the end with a timeout, stdio to files.
func clientRun(t *testing.T, env []string, args ...string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	out := tempFile(t, "client-out")
	errf := tempFile(t, "client-err")
	defer out.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	cmd.WaitDelay = 5 * time.Second
	t.Logf("$ %s", strings.Join(args, " "))
	cmd.Run()
	return outcome{status: exitStatus(cmd.ProcessState), stdout: readBack(out), stderr: readBack(errf)}
}

// daemon is a started client daemon (containerd, dockerd).
type daemon struct {
	cmd *exec.Cmd
	log *os.File
}

// startDaemon starts a daemon and waits until ready() says it answers; if it does not
// within 60 s, the test fails with its log.
func startDaemon(t *testing.T, name string, args []string, ready func() error) *daemon {
	t.Helper()
	logf, err := os.Create(filepath.Join(buildDir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s cannot start: %v", name, err)
	}
	d := &daemon{cmd: cmd, log: logf}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := ready()
		if err == nil {
			break
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("%s exited while starting (%v): its log:\n%s", name, cmd.ProcessState, tail(b))
		default:
		}
		if time.Now().After(deadline) {
			d.stop()
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("%s does not answer after 60 s (%v); its log:\n%s", name, err, tail(b))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Cleanup(d.stop)
	return d
}

// stop terminates the daemon and whatever it started in its process group.
func (d *daemon) stop() {
	if d.cmd.Process == nil {
		return
	}
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for i := 0; i < 100; i++ {
			if err := syscall.Kill(d.cmd.Process.Pid, 0); err != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		close(done)
	}()
	<-done
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	d.log.Close()
}

// copyFile copies src to dst.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

var _ = fmt.Sprintf

type procInfo = testenv.Proc

func allProcs() []procInfo { return testenv.AllProcs() }
