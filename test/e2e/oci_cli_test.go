package e2e

// The runc-compatible command line: global flags clients pass, the JSON log the
// containerd shim reads, help and features.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOCILogFormatJSON(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		dir := newBundle(t, "true").write(t)
		log := filepath.Join(dir, "log.json")
		// A failing create: the error goes to the log as JSON with "msg".
		o := rt.run(t, "--log", log, "--log-format", "json", "create", "--bundle", dir, "bad/id")
		if o.status == 0 {
			t.Fatalf("create of a bad ID succeeded")
		}
		b, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		var last map[string]any
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if err := json.Unmarshal([]byte(line), &last); err != nil {
				t.Fatalf("log line %q is not JSON: %v", line, err)
			}
		}
		if msg, _ := last["msg"].(string); msg == "" || last["level"] != "error" {
			t.Errorf("last log line %v: want level error and a msg", last)
		}
	})
}

func TestOCIGlobalFlags(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		dir := newBundle(t, "sh", "-c", "exit 4").write(t)
		// runc's global flags, as clients pass them; runsc accepts those that do not
		// apply to it.
		args := []string{"--debug", "--log", filepath.Join(dir, "log"), "--log-format", "text", "--rootless", "false"}
		if o := rt.run(t, append(args, "run", "--bundle", dir, ociID(t, "r"))...); o.status != 4 {
			t.Errorf("run with runc's global flags: %v", o)
		}
		if !rt.isRunsc() {
			return
		}
		if o := rt.run(t, "--criu", "/usr/sbin/criu", "--systemd-cgroup", "run", "--bundle", dir, ociID(t, "s")); o.status != 4 {
			t.Errorf("run with --criu --systemd-cgroup: %v", o)
		}
		if o := rt.run(t, "--platform", "nosuch", "list"); o.status == 0 || !strings.Contains(o.stderr, "platform") {
			t.Errorf("an unknown platform: %v", o)
		}
		if o := rt.run(t, "--version"); o.status != 0 || !strings.Contains(o.stdout, "runsc version") {
			t.Errorf("--version: %v", o)
		}
		if o := rt.run(t, "help", "create"); o.status != 0 || !strings.Contains(o.stdout, "--console-socket") {
			t.Errorf("help create: %v", o)
		}
		var f map[string]any
		if o := rt.run(t, "features"); json.Unmarshal([]byte(o.stdout), &f) != nil || f["ociVersionMax"] == nil {
			t.Errorf("features: %v", o)
		}
	})
}

func TestOCISystemdCgroupPath(t *testing.T) {
	ociTest(t, func(t *testing.T, rt ociRuntime) {
		if !rt.isRunsc() {
			t.Skip("runc's systemd driver needs a running systemd")
		}
		if _, err := os.Stat("/sys/fs/cgroup/pids"); err != nil {
			t.Skip("not a cgroup v1 host")
		}
		b := newBundle(t, "sleep", "1000")
		id := ociID(t, "s")
		b.spec.Linux.CgroupsPath = "runsctest.slice:runsc:" + id
		dir := b.write(t)
		rt.mustRun(t, "--systemd-cgroup", "run", "--detach", "--bundle", dir, id)
		cg := filepath.Join("/sys/fs/cgroup/pids/runsctest.slice/runsc-" + id + ".scope")
		if _, err := os.Stat(cg); err != nil {
			t.Errorf("the systemd-style cgroup is missing: %v", err)
		}
		// Later commands work without --systemd-cgroup (saved state).
		rt.mustRun(t, "delete", "--force", id)
		if _, err := os.Stat(cg); err == nil {
			t.Errorf("the cgroup is left after delete")
		}
		for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd"} {
			os.Remove(filepath.Join("/sys/fs/cgroup", c, "runsctest.slice"))
		}
	})
}
