package e2e

// The OCI runtime-tools validation suite (../shared/CLIENTS.md: the Go module
// github.com/opencontainers/runtime-tools at the version below, built in module mode
// without its vendor/), run against runc and runsc, compared test by test. A test that
// passes with runc must pass with runsc, unless oci_runtime_tools_known.txt lists it
// with the reason; a listed test that passes now must be taken off the list.
//
// runsc runs with --overlay=none: the suite checks from the host what containers write
// to their root (as runc writes it), which runsc's default memory overlay keeps inside.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const runtimeToolsModule = "github.com/opencontainers/runtime-tools@v0.9.1-0.20251205004911-5e639034dcdc"

var (
	rttOnce  sync.Once
	rttDir   string
	rttTests []string
	rttErr   error
)

// buildRuntimeTools downloads the suite's module, removes its vendor/ and builds
// runtimetest and every validation/*.t.
func buildRuntimeTools() (string, []string, error) {
	rttOnce.Do(func() {
		out, err := exec.Command("go", "mod", "download", "-json", runtimeToolsModule).Output()
		if err != nil {
			rttErr = fmt.Errorf("go mod download %s: %v", runtimeToolsModule, err)
			return
		}
		m := regexp.MustCompile(`"Dir":\s*"([^"]+)"`).FindSubmatch(out)
		if m == nil {
			rttErr = fmt.Errorf("go mod download gave no directory: %s", out)
			return
		}
		dir := filepath.Join(buildDir, "runtime-tools")
		stamp := filepath.Join(dir, ".built")
		if _, err := os.Stat(stamp); err != nil {
			os.RemoveAll(dir)
			if out, err := exec.Command("cp", "-r", string(m[1]), dir).CombinedOutput(); err != nil {
				rttErr = fmt.Errorf("copying the module: %v: %s", err, out)
				return
			}
			exec.Command("chmod", "-R", "u+w", dir).Run()
			os.RemoveAll(filepath.Join(dir, "vendor"))
			build := func(out, pkg string, static bool) error {
				cmd := exec.Command("go", "build", "-o", out, pkg)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
				if static {
					cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
				}
				if b, err := cmd.CombinedOutput(); err != nil {
					return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
				}
				return nil
			}
			if rttErr = build("runtimetest", "./cmd/runtimetest", true); rttErr != nil {
				return
			}
			ents, _ := os.ReadDir(filepath.Join(dir, "validation"))
			for _, e := range ents {
				if !e.IsDir() || e.Name() == "util" {
					continue
				}
				if rttErr = build(filepath.Join("validation", e.Name()+".t"), "./validation/"+e.Name(), false); rttErr != nil {
					return
				}
			}
			os.WriteFile(stamp, nil, 0o644)
		}
		ents, _ := os.ReadDir(filepath.Join(dir, "validation"))
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".t") {
				rttTests = append(rttTests, strings.TrimSuffix(e.Name(), ".t"))
			}
		}
		sort.Strings(rttTests)
		rttDir = dir
	})
	return rttDir, rttTests, rttErr
}

// tapResult runs one validation test against runtime and says whether it passed: exit
// status 0, a plan of at least one test, and every test ok.
func tapResult(dir, test, runtime string) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "validation", test+".t"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RUNTIME="+runtime)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	plan, ok, notOK := -1, 0, 0
	var firstFailure string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "ok "):
			ok++
		case strings.HasPrefix(l, "not ok "):
			notOK++
			if firstFailure == "" {
				firstFailure = l
			}
		case strings.HasPrefix(l, "1.."):
			fmt.Sscanf(l, "1..%d", &plan)
		}
	}
	passed := err == nil && plan > 0 && notOK == 0 && ok == plan
	why := firstFailure
	if why == "" {
		why = fmt.Sprintf("exit %v, plan %d, %d ok", err, plan, ok)
	}
	return passed, why
}

// knownDifferences reads oci_runtime_tools_known.txt: "test: reason" lines.
func knownDifferences(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("oci_runtime_tools_known.txt")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name, reason, ok := strings.Cut(l, ":")
		if !ok || strings.TrimSpace(reason) == "" {
			t.Fatalf("oci_runtime_tools_known.txt: %q has no reason", l)
		}
		known[strings.TrimSpace(name)] = strings.TrimSpace(reason)
	}
	return known
}

func TestRuntimeToolsValidation(t *testing.T) {
	needBusybox(t)
	dir, tests, err := buildRuntimeTools()
	if err != nil {
		t.Fatalf("the runtime-tools suite cannot be built: %v", err)
	}
	if _, err := os.Stat("/usr/sbin/runc"); err != nil {
		t.Fatalf("runc is missing (make deps installs it): %v", err)
	}
	// Both runtimes keep their state in private roots (the suite leaves runc's stopped
	// containers behind; runsc must leave nothing).
	runcRoot, runscRoot := filepath.Join(buildDir, "rtt-runc-root"), filepath.Join(buildDir, "rtt-runsc-root")
	os.RemoveAll(runscRoot)
	runc := filepath.Join(buildDir, "runc-rtt")
	wrapper := filepath.Join(buildDir, "runsc-overlay-none")
	for path, script := range map[string]string{
		runc:    fmt.Sprintf("#!/bin/sh\nexec /usr/sbin/runc --root %s \"$@\"\n", runcRoot),
		wrapper: fmt.Sprintf("#!/bin/sh\nexec %s --root %s --overlay=none \"$@\"\n", runscBinary(t), runscRoot),
	} {
		if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		out, _ := exec.Command(runc, "list", "-q").Output()
		for _, id := range strings.Fields(string(out)) {
			exec.Command(runc, "delete", "--force", id).Run()
		}
		if ents, _ := os.ReadDir(runscRoot); len(ents) > 0 {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("runsc left containers behind in its state: %v", names)
		}
	}()
	known := knownDifferences(t)
	before := takeSnapshot()
	defer checkClientLeftovers(t, before)
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-34s %-5s %-5s %s\n", "test", "runc", "runsc", "runsc's first failure")
	var runcPass, runscPass int
	for _, name := range tests {
		rcOK, _ := tapResult(dir, name, runc)
		rsOK, why := tapResult(dir, name, wrapper)
		reapZombieChildren()
		unmountLeaks()
		mark := func(b bool) string {
			if b {
				return "pass"
			}
			return "FAIL"
		}
		if rcOK {
			runcPass++
		}
		if rsOK {
			runscPass++
			why = ""
		}
		fmt.Fprintf(&table, "%-34s %-5s %-5s %s\n", name, mark(rcOK), mark(rsOK), why)
		reason, listed := known[name]
		switch {
		case rcOK && !rsOK && !listed:
			t.Errorf("%s passes with runc but not with runsc: %s", name, why)
		case rsOK && listed:
			t.Errorf("%s passes now: take it off oci_runtime_tools_known.txt (%s)", name, reason)
		}
	}
	fmt.Fprintf(&table, "passed: runc %d, runsc %d of %d\n", runcPass, runscPass, len(tests))
	t.Log(table.String())
}

// unmountLeaks detaches the mounts that a test's bundle left in the host's mount
// namespace: runc's container with rootfsPropagation "shared" (linux_rootfs_propagation)
// propagates its mounts to the host, and they outlive the container.
func unmountLeaks() {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	prefix := filepath.Join(os.TempDir(), "ocitest")
	var points []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && strings.HasPrefix(f[4], prefix) {
			points = append(points, f[4])
		}
	}
	// Deepest first.
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		syscall.Unmount(p, syscall.MNT_DETACH)
	}
}
