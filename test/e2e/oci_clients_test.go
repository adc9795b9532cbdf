package e2e

// Real container managers driving the runtime, each against runc and runsc: podman
// (`podman --runtime`), containerd with ctr (the runc v2 shim with --runc-binary), and
// dockerd (the runtime registered by `runsc install`). ../shared/CLIENTS.md has what
// these clients pass on these machines. A client that cannot be installed or started
// fails the test with the reason.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// podmanUlimits: podman asks for nofile=1048576 by default, which this host's root
// cannot grant (runc fails the same way).
var podmanUlimits = []string{"--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"}

func TestClientPodman(t *testing.T) {
	needPackages(t, map[string]string{"podman": "podman", "conmon": "conmon"})
	image := busyboxImage(t)
	base := filepath.Join(buildDir, "podman")
	os.RemoveAll(base)
	for _, d := range []string{"root", "tmp"} {
		os.MkdirAll(filepath.Join(base, d), 0o700)
	}
	// podman refuses a runroot longer than 50 characters: a short one, removed after.
	runroot := "/run/runsc-e2e-podman"
	os.RemoveAll(runroot)
	os.MkdirAll(runroot, 0o700)
	t.Cleanup(func() { os.RemoveAll(runroot) })
	global := []string{"podman", "--root", filepath.Join(base, "root"), "--runroot", runroot,
		"--tmpdir", filepath.Join(base, "tmp"), "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
		"--events-backend", "file"}
	env := []string{"XDG_RUNTIME_DIR=" + runroot, "CONTAINERS_CONF=/dev/null"}
	if o := clientRun(t, env, append(global, "load", "-i", image)...); o.status != 0 {
		t.Fatalf("podman load: %v", o)
	}
	for _, rt := range ociRuntimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			before := takeSnapshot()
			p := append(append([]string{}, global...), "--runtime", rt.path)
			if rt.isRunsc() {
				// Flags at create that later commands must not need (podman's cleanup
				// calls delete --force with none of them).
				p = append(p, "--runtime-flag", "overlay=memory")
			}
			run := func(args ...string) outcome {
				t.Helper()
				return clientRun(t, env, append(append([]string{}, p...), args...)...)
			}
			must := func(args ...string) string {
				t.Helper()
				o := run(args...)
				if o.status != 0 {
					t.Fatalf("podman %v: %v", args, o)
				}
				return o.stdout
			}
			runArgs := func(extra ...string) []string {
				return append(append([]string{"run", "--network", "none"}, podmanUlimits...), extra...)
			}
			// Exit status.
			if o := run(append(runArgs("--rm", imageName), "sh", "-c", "echo hello; exit 3")...); o.status != 3 || o.stdout != "hello\n" {
				t.Errorf("podman run exit 3: %v", o)
			}
			// Environment and user.
			if o := run(append(runArgs("--rm", "-e", "FOO=bar", "-u", "1000:1001", imageName), "sh", "-c", "echo $FOO; id -u; id -g")...); o.stdout != "bar\n1000\n1001\n" {
				t.Errorf("podman run -e -u: %v", o)
			}
			// Bind mount and read-only root.
			vol := filepath.Join(base, "vol-"+rt.name)
			os.RemoveAll(vol)
			os.MkdirAll(vol, 0o777)
			os.WriteFile(filepath.Join(vol, "in"), []byte("host data\n"), 0o644)
			o := run(append(runArgs("--rm", "--read-only", "-v", vol+":/data", imageName), "sh", "-c", "cat /data/in; echo out > /data/out; touch /rootfile && echo root-writable; true")...)
			if o.status != 0 || !strings.Contains(o.stdout, "host data") || strings.Contains(o.stdout, "root-writable") {
				t.Errorf("podman run --read-only -v: %v", o)
			}
			if b, _ := os.ReadFile(filepath.Join(vol, "out")); string(b) != "out\n" {
				t.Errorf("the host does not see the write to the volume: %q", b)
			}
			// Detached, exec, pause, logs, stop, rm.
			name := "c-" + rt.name
			run("rm", "-f", name)
			must(append(runArgs("-d", "--name", name, imageName), "sh", "-c", "echo started; trap 'exit 0' TERM; while true; do sleep 0.1; done")...)
			waitFor(t, func() bool { return strings.Contains(run("logs", name).stdout, "started") }, "podman logs shows the output")
			if o := run("exec", name, "sh", "-c", "echo in-exec; exit 4"); o.status != 4 || o.stdout != "in-exec\n" {
				t.Errorf("podman exec: %v", o)
			}
			must("pause", name)
			if s := must("inspect", "--format", "{{.State.Status}}", name); strings.TrimSpace(s) != "paused" {
				t.Errorf("after pause: %q", s)
			}
			must("unpause", name)
			if s := must("inspect", "--format", "{{.State.Status}}", name); strings.TrimSpace(s) != "running" {
				t.Errorf("after unpause: %q", s)
			}
			start := time.Now()
			must("stop", "-t", "10", name)
			if d := time.Since(start); d > 8*time.Second {
				t.Errorf("podman stop of a container that exits on SIGTERM took %v", d)
			}
			if s := must("inspect", "--format", "{{.State.ExitCode}}", name); strings.TrimSpace(s) != "0" {
				t.Errorf("exit code after stop: %q", s)
			}
			must("rm", name)
			// kill and wait.
			must(append(runArgs("-d", "--name", name, imageName), "sleep", "1000")...)
			must("kill", "-s", "KILL", name)
			if o := run("wait", name); strings.TrimSpace(o.stdout) != "137" {
				t.Errorf("podman wait after kill: %v", o)
			}
			must("rm", name)
			// A terminal.
			if o := run(append(runArgs("--rm", "-t", imageName), "sh", "-c", "test -t 1 && echo is-a-tty")...); !strings.Contains(o.stdout, "is-a-tty") {
				t.Errorf("podman run -t: %v", o)
			}
			must(append(runArgs("-d", "--name", name, imageName), "sleep", "1000")...)
			script := fmt.Sprintf("echo 'test -t 0 && echo exec-tty; exit 6' | %s exec -it %s sh", strings.Join(p, " "), name)
			if o := clientRun(t, env, "script", "-qec", script, "/dev/null"); !strings.Contains(o.stdout, "exec-tty") {
				t.Errorf("podman exec -it: %v", o)
			}
			must("rm", "-f", "-t", "0", name)
			checkClientLeftovers(t, before)
		})
	}
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// clientSnapshot is what a client test must not leave: runtime processes (sandboxes,
// gofers, runc inits) anywhere on the host.
type clientSnapshot map[int]bool

func takeSnapshot() clientSnapshot {
	s := clientSnapshot{}
	for _, p := range runtimeProcs() {
		s[p.PID] = true
	}
	return s
}

func runtimeProcs() []procInfo {
	var out []procInfo
	for _, p := range allProcs() {
		if len(p.Cmdline) == 0 {
			continue
		}
		// Only OCI sandboxes: `runsc do` (which other tests may run meanwhile) has
		// neither --container nor a gofer of another root than /.
		cl := strings.Join(p.Cmdline, " ")
		switch filepath.Base(p.Cmdline[0]) {
		case "runsc-sandbox":
			if strings.Contains(cl, " --container ") {
				out = append(out, p)
			}
		case "runsc-gofer":
			if !strings.Contains(cl, " --root=/ ") {
				out = append(out, p)
			}
		case "runsc-exec-wait":
			out = append(out, p)
		}
		if len(p.Cmdline) > 1 && filepath.Base(p.Cmdline[0]) == "runc" && p.Cmdline[1] == "init" {
			out = append(out, p)
		}
	}
	return out
}

// checkClientLeftovers fails if runtime processes started during the test still run.
func checkClientLeftovers(t *testing.T, before clientSnapshot) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []string
		for _, p := range runtimeProcs() {
			if !before[p.PID] && !strings.HasPrefix(p.Status["State"], "Z") {
				left = append(left, fmt.Sprintf("pid %d: %s", p.PID, p.Name()))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("runtime processes left running:\n  %s", strings.Join(left, "\n  "))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startContainerd starts containerd with private root, state and socket; it returns
// the ctr command prefix.
func startContainerd(t *testing.T) []string {
	t.Helper()
	needPackages(t, map[string]string{"containerd": "containerd", "ctr": "containerd"})
	base := filepath.Join(buildDir, "containerd")
	os.RemoveAll(base)
	os.MkdirAll(base, 0o700)
	sock := filepath.Join(base, "containerd.sock")
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
`, filepath.Join(base, "root"), filepath.Join(base, "state"), sock, sock+".ttrpc")
	cfgPath := filepath.Join(base, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctr := []string{"ctr", "--address", sock}
	startDaemon(t, "containerd", []string{"containerd", "--config", cfgPath}, func() error {
		o := clientRunQuiet(append(ctr, "version")...)
		if o.status != 0 {
			return fmt.Errorf("ctr version: %s", o.stderr)
		}
		return nil
	})
	return ctr
}

func TestClientContainerd(t *testing.T) {
	ctr := startContainerd(t)
	image := busyboxImage(t)
	if o := clientRun(t, nil, append(ctr, "images", "import", image)...); o.status != 0 {
		t.Fatalf("ctr images import: %v", o)
	}
	for _, rt := range ociRuntimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			before := takeSnapshot()
			runtime := []string{"--runtime", "io.containerd.runc.v2", "--runc-binary", rt.path}
			run := func(args ...string) outcome {
				t.Helper()
				return clientRun(t, nil, append(append([]string{}, ctr...), args...)...)
			}
			must := func(args ...string) string {
				t.Helper()
				o := run(args...)
				if o.status != 0 {
					t.Fatalf("ctr %v: %v", args, o)
				}
				return o.stdout
			}
			ctrRun := func(extra ...string) []string {
				return append(append([]string{"run"}, runtime...), extra...)
			}
			id := "c-" + rt.name
			// Exit status and output.
			if o := run(append(ctrRun("--rm", imageName, id+"-1"), "sh", "-c", "echo hello; exit 3")...); o.status != 3 || o.stdout != "hello\n" {
				t.Errorf("ctr run exit 3: %v", o)
			}
			// A failing create: the shim shows the runtime's error (log.json's msg).
			if o := run(append(ctrRun("--rm", imageName, id+"-2"), "/no/such/program")...); o.status == 0 || !strings.Contains(o.stderr, "no/such/program") {
				t.Errorf("ctr run of a missing program: %v", o)
			}
			run("container", "rm", id+"-2")
			// Detached task: ps, exec, pause, resume, kill.
			must(append(ctrRun("-d", imageName, id), "sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.1; done")...)
			if out := must("task", "ps", id); !strings.Contains(out, "PID") {
				t.Errorf("ctr task ps: %q", out)
			}
			if o := run("task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo in-exec; exit 4"); o.status != 4 || o.stdout != "in-exec\n" {
				t.Errorf("ctr task exec: %v", o)
			}
			must("task", "pause", id)
			if out := must("task", "ls"); !strings.Contains(out, "PAUSED") {
				t.Errorf("after pause: %q", out)
			}
			must("task", "resume", id)
			if out := must("task", "ls"); !strings.Contains(out, "RUNNING") {
				t.Errorf("after resume: %q", out)
			}
			// A terminal, for exec and run (ctr needs one on its own stdin).
			script := strings.Join(ctr, " ") + " task exec -t --exec-id e2 " + id + " sh -c 'test -t 0 && echo exec-tty'"
			if o := clientRun(t, nil, "script", "-qec", script, "/dev/null"); !strings.Contains(o.stdout, "exec-tty") {
				t.Errorf("ctr task exec -t: %v", o)
			}
			must("task", "kill", id) // SIGTERM: the shell traps it and exits 7
			waitFor(t, func() bool { return strings.Contains(must("task", "ls"), "STOPPED") }, "the task stops")
			must("task", "rm", id)
			must("container", "rm", id)
			script = strings.Join(ctr, " ") + " run --rm -t " + strings.Join(runtime, " ") + " " + imageName + " " + id + "-3 sh -c 'test -t 1 && echo run-tty'"
			if o := clientRun(t, nil, "script", "-qec", script, "/dev/null"); !strings.Contains(o.stdout, "run-tty") {
				t.Errorf("ctr run -t: %v", o)
			}
			checkClientLeftovers(t, before)
		})
	}
}

// clientRunQuiet runs a command without logging it (readiness probes).
func clientRunQuiet(args ...string) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Run()
	return outcome{status: exitStatus(cmd.ProcessState), stdout: out.String(), stderr: errb.String()}
}

func TestClientDocker(t *testing.T) {
	needPackages(t, map[string]string{"dockerd": "docker.io", "containerd": "containerd"})
	dockerCLI := "/usr/bin/docker" // Debian's client, of the daemon's version
	if _, err := os.Stat(dockerCLI); err != nil {
		t.Fatalf("docker.io is installed but %s is missing", dockerCLI)
	}
	image := busyboxImage(t)
	base := filepath.Join(buildDir, "docker")
	os.RemoveAll(base)
	os.MkdirAll(base, 0o700)
	sock := filepath.Join(base, "docker.sock")
	cfgPath := filepath.Join(base, "daemon.json")
	cfg := fmt.Sprintf(`{"data-root": %q, "exec-root": %q, "pidfile": %q, "hosts": ["unix://%s"],
  "storage-driver": "vfs", "iptables": false, "ip6tables": false, "bridge": "none"}`,
		filepath.Join(base, "data"), filepath.Join(base, "exec"), filepath.Join(base, "docker.pid"), sock)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// The runtime is registered the way users do it.
	if o := clientRun(t, nil, runscBinary(t), "install", "--config-file", cfgPath); o.status != 0 {
		t.Fatalf("runsc install: %v", o)
	}
	docker := []string{dockerCLI, "-H", "unix://" + sock}
	startDaemon(t, "dockerd", []string{"dockerd", "--config-file", cfgPath}, func() error {
		o := clientRunQuiet(append(docker, "version")...)
		if o.status != 0 {
			return fmt.Errorf("docker version: %s", o.stderr)
		}
		return nil
	})
	if o := clientRun(t, nil, append(docker, "load", "-i", image)...); o.status != 0 {
		t.Fatalf("docker load: %v", o)
	}
	img := strings.TrimPrefix(imageName, "docker.io/library/")
	for _, rt := range ociRuntimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			before := takeSnapshot()
			run := func(args ...string) outcome {
				t.Helper()
				return clientRun(t, nil, append(append([]string{}, docker...), args...)...)
			}
			must := func(args ...string) string {
				t.Helper()
				o := run(args...)
				if o.status != 0 {
					t.Fatalf("docker %v: %v", args, o)
				}
				return o.stdout
			}
			drun := func(extra ...string) []string {
				return append([]string{"run", "--runtime=" + rt.name, "--network", "none"}, extra...)
			}
			if o := run(append(drun("--rm", img), "sh", "-c", "echo hello; exit 3")...); o.status != 3 || o.stdout != "hello\n" {
				t.Errorf("docker run exit 3: %v", o)
			}
			name := "d-" + rt.name
			run("rm", "-f", name)
			must(append(drun("-d", "--name", name, img), "sh", "-c", "echo started; trap 'exit 0' TERM; while true; do sleep 0.1; done")...)
			waitFor(t, func() bool { return strings.Contains(run("logs", name).stdout, "started") }, "docker logs shows the output")
			if o := run("exec", name, "sh", "-c", "echo in-exec; exit 4"); o.status != 4 || o.stdout != "in-exec\n" {
				t.Errorf("docker exec: %v", o)
			}
			if out := must("top", name); !strings.Contains(out, "PID") || strings.Count(strings.TrimSpace(out), "\n") < 1 {
				t.Errorf("docker top: %q", out)
			}
			script := strings.Join(docker, " ") + " exec -it " + name + " sh -c 'test -t 0 && echo exec-tty'"
			if o := clientRun(t, nil, "script", "-qec", script, "/dev/null"); !strings.Contains(o.stdout, "exec-tty") {
				t.Errorf("docker exec -it: %v", o)
			}
			must("stop", "-t", "10", name)
			if s := must("inspect", "--format", "{{.State.ExitCode}}", name); strings.TrimSpace(s) != "0" {
				t.Errorf("exit code after stop: %q", s)
			}
			must("rm", name)
			script = strings.Join(docker, " ") + " " + strings.Join(drun("--rm", "-it", img), " ") + " sh -c 'test -t 0 && echo run-it'"
			if o := clientRun(t, nil, "script", "-qec", script, "/dev/null"); !strings.Contains(o.stdout, "run-it") {
				t.Errorf("docker run -it: %v", o)
			}
			checkClientLeftovers(t, before)
		})
	}
}

func TestInstallUninstall(t *testing.T) {
	cfg := filepath.Join(buildDir, "install-daemon.json")
	os.WriteFile(cfg, []byte(`{"storage-driver": "vfs", "log-opts": {"max-size": "10m"}, "runtimes": {"other": {"path": "/usr/bin/other"}}}`), 0o644)
	defer os.Remove(cfg)
	runsc := runscBinary(t)
	if o := clientRun(t, nil, runsc, "install", "--config-file", cfg, "--runtime", "sandboxed", "--", "--platform=ptrace", "--debug"); o.status != 0 {
		t.Fatalf("install: %v", o)
	}
	var got map[string]any
	b, _ := os.ReadFile(cfg)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("daemon.json after install: %v\n%s", err, b)
	}
	rts, _ := got["runtimes"].(map[string]any)
	rt, _ := rts["sandboxed"].(map[string]any)
	if rt["path"] != runsc || fmt.Sprint(rt["runtimeArgs"]) != "[--platform=ptrace --debug]" || rts["other"] == nil || got["storage-driver"] != "vfs" || got["log-opts"] == nil {
		t.Errorf("daemon.json after install:\n%s", b)
	}
	if o := clientRun(t, nil, runsc, "uninstall", "--config-file", cfg, "--runtime", "sandboxed"); o.status != 0 {
		t.Fatalf("uninstall: %v", o)
	}
	b, _ = os.ReadFile(cfg)
	got = nil
	json.Unmarshal(b, &got)
	rts, _ = got["runtimes"].(map[string]any)
	if rts["sandboxed"] != nil || rts["other"] == nil || got["storage-driver"] != "vfs" {
		t.Errorf("daemon.json after uninstall:\n%s", b)
	}
	if o := clientRun(t, nil, runsc, "uninstall", "--config-file", cfg, "--runtime", "sandboxed"); o.status == 0 {
		t.Errorf("uninstall of a runtime that is not there succeeded")
	}
	os.WriteFile(cfg, []byte("not json"), 0o644)
	if o := clientRun(t, nil, runsc, "install", "--config-file", cfg); o.status == 0 {
		t.Errorf("install into a malformed daemon.json succeeded")
	}
	if b, _ := os.ReadFile(cfg); string(b) != "not json" {
		t.Errorf("a malformed daemon.json was changed: %q", b)
	}
}
