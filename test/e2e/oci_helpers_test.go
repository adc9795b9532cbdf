package e2e

// Helpers of the OCI lifecycle tests (oci_*_test.go): each test runs against runsc and,
// when it is installed, against runc (/usr/sbin/runc, or $OCI_RUNC), which validates
// the test itself. OCI_RUNTIMES=runsc (or runc) restricts the runtimes.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"runsc.dev/specutils"
	"runsc.dev/test/e2e/testenv"
)

// ociRuntime is a runtime binary under test.
type ociRuntime struct {
	name string // "runsc" or "runc"
	path string
}

func (rt ociRuntime) isRunsc() bool { return rt.name == "runsc" }

// ociRuntimes returns the runtimes every OCI test runs against.
func ociRuntimes(t *testing.T) []ociRuntime {
	t.Helper()
	want := map[string]bool{"runsc": true, "runc": true}
	if s := os.Getenv("OCI_RUNTIMES"); s != "" {
		want = map[string]bool{}
		for _, n := range strings.Split(s, ",") {
			want[strings.TrimSpace(n)] = true
		}
	}
	var rts []ociRuntime
	if want["runsc"] {
		rts = append(rts, ociRuntime{"runsc", runscBinary(t)})
	}
	if want["runc"] {
		p := os.Getenv("OCI_RUNC")
		if p == "" {
			p = "/usr/sbin/runc"
		}
		if _, err := os.Stat(p); err == nil {
			rts = append(rts, ociRuntime{"runc", p})
		}
	}
	return rts
}

// ociTest runs f as a subtest per runtime, and checks afterwards that nothing is left
// behind (processes, mounts, state under stateDir).
func ociTest(t *testing.T, f func(t *testing.T, rt ociRuntime)) {
	needBusybox(t)
	for _, rt := range ociRuntimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			before := testenv.SnapshotHost(stateDir)
			defer func() {
				// Whatever the test left, delete it so that the next test starts clean.
				reapZombieChildren()
				ents, _ := os.ReadDir(stateDir)
				for _, e := range ents {
					if e.IsDir() {
						rt.cmd(context.Background(), "delete", "--force", e.Name()).Run()
					}
				}
				checkNothingLeft(t, before)
			}()
			f(t, rt)
		})
	}
}

// cmd is the runtime's command line: RT --root STATE [RUNSC_TEST_FLAGS] ARGS.
func (rt ociRuntime) cmd(ctx context.Context, args ...string) *exec.Cmd {
	full := []string{"--root", stateDir}
	if rt.isRunsc() {
		full = append(full, testenv.ExtraFlags()...)
	}
	return exec.CommandContext(ctx, rt.path, append(full, args...)...)
}

// rtRun runs a runtime command to the end. Its stdout and stderr go to files, not
// pipes: a container created by it inherits them and may outlive it.
func (rt ociRuntime) run(t *testing.T, args ...string) outcome {
	t.Helper()
	return rt.runIn(t, nil, args...)
}

// runIn is run with the given stdin (nil: /dev/null).
func (rt ociRuntime) runIn(t *testing.T, stdin *os.File, args ...string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := rt.cmd(ctx, args...)
	out := tempFile(t, "stdout")
	errf := tempFile(t, "stderr")
	defer out.Close()
	defer errf.Close()
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Stdout, cmd.Stderr = out, errf
	cmd.WaitDelay = 5 * time.Second
	t.Logf("$ %s %s", rt.name, strings.Join(args, " "))
	err := cmd.Run()
	o := outcome{status: exitStatus(cmd.ProcessState), stdout: readBack(out), stderr: readBack(errf)}
	if o.status == -1 {
		t.Fatalf("%s %v did not run: %v", rt.name, args, err)
	}
	return o
}

// mustRun runs a command that must succeed and returns its stdout.
func (rt ociRuntime) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	o := rt.run(t, args...)
	if o.status != 0 {
		t.Fatalf("%s %v: %v", rt.name, args, o)
	}
	return o.stdout
}

// mustFail runs a command that must fail with a one-line error, and returns it.
func (rt ociRuntime) mustFail(t *testing.T, args ...string) outcome {
	t.Helper()
	o := rt.run(t, args...)
	if o.status == 0 {
		t.Fatalf("%s %v succeeded, want an error: %v", rt.name, args, o)
	}
	if strings.TrimSpace(o.stderr) == "" {
		t.Errorf("%s %v failed with no error message", rt.name, args)
	}
	if rt.isRunsc() && strings.Count(strings.TrimSpace(o.stderr), "\n") > 0 {
		t.Errorf("%s %v: error is more than one line:\n%s", rt.name, args, o.stderr)
	}
	return o
}

func tempFile(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.CreateTemp(buildDir, "oci-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(f.Name())
	return f
}

func readBack(f *os.File) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	return string(b)
}

// ociState is what `state` prints.
type ociState struct {
	ID          string            `json:"id"`
	PID         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations"`
}

func (rt ociRuntime) state(t *testing.T, id string) ociState {
	t.Helper()
	var st ociState
	out := rt.mustRun(t, "state", id)
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("state %s: %v\n%s", id, err, out)
	}
	return st
}

// waitStatus waits (up to 10 s) for the container to reach status.
func (rt ociRuntime) waitStatus(t *testing.T, id, status string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st ociState
		o := rt.run(t, "state", id)
		if o.status == 0 {
			json.Unmarshal([]byte(o.stdout), &st)
			if st.Status == status {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s is %q, want %s (%v)", id, st.Status, status, o)
		}
		// A killed PID 1 waits until every process of its namespace is reaped; those
		// started by exec are re-parented to us (a subreaper).
		reapZombieChildren()
		time.Sleep(20 * time.Millisecond)
	}
}

// busyboxApplets are linked into every test rootfs.
var busyboxApplets = []string{"sh", "ls", "cat", "echo", "sleep", "true", "false", "id", "env",
	"pwd", "hostname", "touch", "mkdir", "test", "grep", "wc", "date", "kill", "stat", "head",
	"tail", "ps", "rm", "printf", "tty", "ulimit", "umask", "sed", "uname", "seq", "yes"}

// ociBundle is a bundle being built: busybox in rootfs/bin and a spec.
type ociBundle struct {
	dir  string
	spec *specs.Spec
}

// newBundle makes a bundle whose process runs args, with the usual container mounts and
// namespaces (runc's default spec, without a terminal and with a writable root).
func newBundle(t *testing.T, args ...string) *ociBundle {
	t.Helper()
	return newNamedBundle(t, "", args...)
}

// newNamedBundle is newBundle for a second bundle of the same test.
func newNamedBundle(t *testing.T, suffix string, args ...string) *ociBundle {
	t.Helper()
	dir := filepath.Join(buildDir, "oci", strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+suffix)
	os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "rootfs", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rootfs", "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range busyboxApplets {
		os.Symlink("busybox", filepath.Join(dir, "rootfs", "bin", a))
	}
	for _, d := range []string{"proc", "dev", "sys", "tmp", "etc"} {
		os.MkdirAll(filepath.Join(dir, "rootfs", d), 0o755)
	}
	os.Chmod(filepath.Join(dir, "rootfs", "tmp"), 0o1777)
	spec := specutils.DefaultSpec(false, 0, 0)
	spec.Process.Terminal = false
	spec.Process.Args = args
	spec.Root.Readonly = false
	spec.Hostname = "oci-test"
	return &ociBundle{dir: dir, spec: spec}
}

// write writes config.json and returns the bundle directory.
func (b *ociBundle) write(t *testing.T) string {
	t.Helper()
	data, err := json.MarshalIndent(b.spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return b.dir
}

// hostDir makes a directory under the bundle for bind mounts and hook output.
func (b *ociBundle) hostDir(t *testing.T, name string) string {
	t.Helper()
	d := filepath.Join(b.dir, name)
	if err := os.MkdirAll(d, 0o777); err != nil {
		t.Fatal(err)
	}
	return d
}

// ociID makes a container ID unique to the test and runtime.
func ociID(t *testing.T, suffix string) string {
	id := strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()) + "-" + suffix
	if len(id) > 60 {
		id = id[len(id)-60:]
	}
	return strings.TrimLeft(id, "-")
}

// consoleSocket listens on a unix socket for a pty master; recv returns it.
type consoleSocket struct {
	path string
	l    *net.UnixListener
}

func newConsoleSocket(t *testing.T) *consoleSocket {
	t.Helper()
	p := filepath.Join(buildDir, fmt.Sprintf("console-%d.sock", time.Now().UnixNano()))
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); os.Remove(p) })
	return &consoleSocket{path: p, l: l}
}

// recv accepts one connection and returns the fd it carries.
func (c *consoleSocket) recv(t *testing.T) *os.File {
	t.Helper()
	c.l.SetDeadline(time.Now().Add(20 * time.Second))
	conn, err := c.l.AcceptUnix()
	if err != nil {
		t.Fatalf("console socket: %v", err)
	}
	defer conn.Close()
	buf := make([]byte, 256)
	oob := make([]byte, syscall.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatalf("console socket: %v", err)
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		t.Fatalf("console socket: no control message (%v)", err)
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("console socket: no fd (%v)", err)
	}
	return os.NewFile(uintptr(fds[0]), "pty-master")
}

// readUntil reads from f until want appears (or 20 s pass) and returns what it read.
func readUntil(t *testing.T, f *os.File, want string) string {
	t.Helper()
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 4096)
		for !strings.Contains(buf.String(), want) {
			n, err := f.Read(b)
			buf.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("terminal output does not contain %q after 20 s: %q", want, buf.String())
	}
	return buf.String()
}

type syscallRlimit = syscall.Rlimit
type syscallStat = syscall.Stat_t

const syscallSIGTERM = syscall.SIGTERM

func syscallKill(pid int) { syscall.Kill(pid, syscall.SIGKILL) }

type syscallWaitStatus = syscall.WaitStatus

func getNofile(r *syscall.Rlimit) { syscall.Getrlimit(syscall.RLIMIT_NOFILE, r) }

func wait4(pid int, ws *syscall.WaitStatus) {
	for {
		_, err := syscall.Wait4(pid, ws, 0, nil)
		if err != syscall.EINTR {
			return
		}
	}
}

// hasCapSysResource reports whether this process may raise hard limits.
func hasCapSysResource() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			var m uint64
			fmt.Sscanf(strings.TrimSpace(v), "%x", &m)
			return m&(1<<24) != 0
		}
	}
	return false
}

// forceDelete deletes a container with --force, retrying while runc waits for the
// processes of a killed PID namespace to be reaped (by us: we are their subreaper).
func (rt ociRuntime) forceDelete(t *testing.T, id string) {
	t.Helper()
	// runc's delete waits up to 10 s for the killed init, which waits for the processes
	// exec'd into it to be reaped: reap what has exited first.
	for i := 0; i < 10; i++ {
		reapZombieChildren()
		time.Sleep(20 * time.Millisecond)
	}
	deadline := time.Now().Add(40 * time.Second)
	for {
		reapZombieChildren()
		o := rt.run(t, "delete", "--force", id)
		if o.status == 0 {
			return
		}
		if time.Now().After(deadline) {
			var procs []string
			for _, p := range testenv.Descendants(os.Getpid()) {
				procs = append(procs, fmt.Sprintf("%d (parent %d, %s): %s", p.PID, p.PPID, p.Status["State"], p.Name()))
			}
			t.Fatalf("delete --force %s: %v\nprocesses (we are %d):\n%s", id, o, os.Getpid(), strings.Join(procs, "\n"))
		}
		reapZombieChildren()
		time.Sleep(50 * time.Millisecond)
	}
}
