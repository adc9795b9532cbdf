package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"runsc.dev/test/e2e/testenv"
)

// runTimeout bounds one run of a benchmark program under any runtime.
const runTimeout = 2 * time.Minute

// gvisorBinary is where ../shared/tools/gvisor-anchor installs gVisor's runsc.
const gvisorBinary = "/usr/local/bin/runsc-gvisor"

// env is what the benchmarks share: the compiled programs and per-runtime settings.
type env struct {
	build   string            // test/bench/.build
	progs   map[string]string // program name -> host path
	verbose bool
	getpidN map[string]int // runtime -> calibrated loop count
	runcSeq int

	hostBundleDone bool                 // the runc host-root bundle was made (hostroot.go) ...
	hostBundleErr  error                // ... or could not be
	checkoutDone   bool                 // the git checkout was cloned (benchmarks.go) ...
	checkoutErr    error                // ... or could not be
	firstCount     map[string]countSeen // benchmark -> the first line count of a host command
	warmed         map[string]bool      // benchmark -> its host command ran once natively
}

// runtime is one column of the table: how to run a benchmark program under it.
type runtime struct {
	name string
	// prepare makes the runtime ready (or says why it cannot be used).
	prepare func(e *env, rt runtime) error
	// command returns the command line that runs program PROG with ARGS.
	command func(e *env, prog string, args []string) ([]string, error)
	// shell returns the command line that runs `/bin/sh -c SCRIPT` with the host's root
	// filesystem as the root: the host's own programs on the host's files.
	shell func(e *env, script string) ([]string, error)
}

// runtimes is the table of runtimes, in the order of the table's columns.
var runtimes = []runtime{
	{name: "native", prepare: func(*env, runtime) error { return nil }, command: nativeCommand, shell: nativeShell},
	{name: "runc", prepare: prepareRunc, command: runcCommand, shell: runcShell},
	{name: "gvisor-ptrace", prepare: prepareGVisor, command: gvisorCommand("ptrace"), shell: gvisorShell("ptrace")},
	{name: "gvisor-systrap", prepare: prepareGVisor, command: gvisorCommand("systrap"), shell: gvisorShell("systrap")},
	{name: "ours", prepare: prepareOurs, command: oursCommand, shell: oursShell},
}

func nativeCommand(e *env, prog string, args []string) ([]string, error) {
	return append([]string{e.progs[prog]}, args...), nil
}

func nativeShell(e *env, script string) ([]string, error) {
	return []string{"/bin/sh", "-c", script}, nil
}

// runc: a bundle whose rootfs is busybox-static plus the benchmark programs in /bench,
// with config.json from `runc spec` edited per run (args, no terminal, read-only root).
// The host commands run in a second bundle that shows the host's root (hostroot.go).

func runcBundle(e *env) string { return filepath.Join(e.build, "runc-bundle") }

func prepareRunc(e *env, rt runtime) error {
	if _, err := exec.LookPath("runc"); err != nil {
		return errors.New("runc is not installed")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		return errors.New("/bin/busybox (busybox-static) is missing")
	}
	bundle := runcBundle(e)
	os.RemoveAll(bundle)
	rootfs := filepath.Join(bundle, "rootfs")
	for _, d := range []string{"bin", "bench", "proc", "dev", "sys", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return err
		}
	}
	if err := copyFile("/bin/busybox", filepath.Join(rootfs, "bin", "busybox")); err != nil {
		return err
	}
	for name, path := range e.progs {
		if err := copyFile(path, filepath.Join(rootfs, "bench", name)); err != nil {
			return err
		}
	}
	spec := exec.Command("runc", "spec")
	spec.Dir = bundle
	if out, err := spec.CombinedOutput(); err != nil {
		return fmt.Errorf("runc spec: %v: %s", err, out)
	}
	return smokeTest(e, rt)
}

func runcCommand(e *env, prog string, args []string) ([]string, error) {
	return runcRun(e, runcBundle(e), append([]string{"/bench/" + prog}, args...))
}

// runcRun writes ARGV into BUNDLE's config.json (from `runc spec`; with no terminal and a
// read-only root) and returns the command line that runs the bundle as a new container.
func runcRun(e *env, bundle string, argv []string) ([]string, error) {
	err := editConfig(bundle, func(cfg map[string]any) error {
		process, _ := cfg["process"].(map[string]any)
		root, _ := cfg["root"].(map[string]any)
		if process == nil || root == nil {
			return errors.New("config.json from runc spec has no process or root")
		}
		process["args"] = argv
		process["terminal"] = false
		root["path"] = "rootfs"
		root["readonly"] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.runcSeq++
	id := fmt.Sprintf("runsc-bench-%d-%d", os.Getpid(), e.runcSeq)
	return []string{"runc", "--root", filepath.Join(e.build, "runc-state"), "run", "--bundle", bundle, id}, nil
}

// editConfig rewrites BUNDLE's config.json as EDIT changes it.
func editConfig(bundle string, edit func(cfg map[string]any) error) error {
	path := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if err := edit(cfg); err != nil {
		return err
	}
	if b, err = json.MarshalIndent(cfg, "", "\t"); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// gVisor's runsc, installed by ../shared/tools/gvisor-anchor when missing.

func prepareGVisor(e *env, rt runtime) error {
	if _, err := os.Stat(gvisorBinary); err != nil {
		root, _ := testenv.RepoRoot()
		anchor := filepath.Join(root, "..", "shared", "tools", "gvisor-anchor")
		if _, err := os.Stat(anchor); err != nil {
			return fmt.Errorf("%s is missing and there is no %s to install it", gvisorBinary, anchor)
		}
		fmt.Fprintf(os.Stderr, "bench: installing gVisor's runsc with %s (about a minute)\n", anchor)
		if out, err := exec.Command(anchor).CombinedOutput(); err != nil {
			return fmt.Errorf("gvisor-anchor: %v: %s", err, out)
		}
	}
	return smokeTest(e, rt)
}

func gvisorCommand(platform string) func(e *env, prog string, args []string) ([]string, error) {
	return func(e *env, prog string, args []string) ([]string, error) {
		return gvisorDo(e, platform, append([]string{e.progs[prog]}, args...)), nil
	}
}

func gvisorShell(platform string) func(e *env, script string) ([]string, error) {
	return func(e *env, script string) ([]string, error) {
		return gvisorDo(e, platform, []string{"/bin/sh", "-c", script}), nil
	}
}

// gvisorDo is the command line that runs ARGV with `runsc do`: the host's root
// filesystem (under an overlay) as the sandbox's root.
func gvisorDo(e *env, platform string, argv []string) []string {
	return append([]string{gvisorBinary, "--root", filepath.Join(e.build, "gvisor-state"),
		"--platform=" + platform, "--network=none", "do"}, argv...)
}

// ours: bin/runsc on the ptrace platform.

func prepareOurs(e *env, rt runtime) error {
	if _, err := testenv.Runsc(); err != nil {
		return err
	}
	return smokeTest(e, rt)
}

func oursCommand(e *env, prog string, args []string) ([]string, error) {
	return oursDo(e, append([]string{e.progs[prog]}, args...))
}

func oursShell(e *env, script string) ([]string, error) {
	return oursDo(e, []string{"/bin/sh", "-c", script})
}

// oursDo is the command line that runs ARGV with `runsc do`, the host's root filesystem
// as the sandbox's root.
func oursDo(e *env, argv []string) ([]string, error) {
	runsc, err := testenv.Runsc()
	if err != nil {
		return nil, err
	}
	return append([]string{runsc, "--root", filepath.Join(e.build, "ours-state"),
		"--platform=ptrace", "--network=none", "do"}, argv...), nil
}

// smokeTest runs the "true" program once under RT.
func smokeTest(e *env, rt runtime) error {
	if _, err := e.run(rt, "true"); err != nil {
		return fmt.Errorf("cannot run a static program: %v", err)
	}
	return nil
}

// finished is how a run ended: its stdout and stderr, and an error unless it exited 0.
type finished struct {
	stdout string
	stderr string
	err    error
}

// start starts PROG under RT (stdin /dev/null, stdout and stderr to pipes); done yields
// the outcome once it exits.
func (e *env) start(rt runtime, prog string, args ...string) (*exec.Cmd, <-chan finished, error) {
	argv, err := rt.command(e, prog, args)
	if err != nil {
		return nil, nil, err
	}
	return startArgv(argv)
}

// startArgv starts the command line ARGV as start does.
func startArgv(argv []string) (*exec.Cmd, <-chan finished, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, nil, err
	}
	done := make(chan finished, 1)
	go func() {
		err := cmd.Wait()
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			err = fmt.Errorf("timed out after %v", runTimeout)
		} else if err != nil {
			if msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n"); msg != "" {
				err = fmt.Errorf("%v: %s", err, msg)
			}
		}
		done <- finished{stdout.String(), stderr.String(), err}
	}()
	return cmd, done, nil
}

// run runs PROG under RT to the end and returns its stdout.
func (e *env) run(rt runtime, prog string, args ...string) (string, error) {
	_, done, err := e.start(rt, prog, args...)
	if err != nil {
		return "", err
	}
	f := <-done
	return f.stdout, f.err
}

// runShell runs `/bin/sh -c SCRIPT` under RT on the host's root filesystem to the end and
// returns its stdout and stderr.
func (e *env) runShell(rt runtime, script string) (finished, error) {
	argv, err := rt.shell(e, script)
	if err != nil {
		return finished{}, err
	}
	_, done, err := startArgv(argv)
	if err != nil {
		return finished{}, err
	}
	return <-done, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func runtimeNames() []string {
	var names []string
	for _, rt := range runtimes {
		names = append(names, rt.name)
	}
	return names
}

func selectRuntimes(list string) ([]runtime, error) {
	if list == "" {
		return runtimes, nil
	}
	var out []runtime
	for _, name := range strings.Split(list, ",") {
		found := false
		for _, rt := range runtimes {
			if rt.name == strings.TrimSpace(name) {
				out = append(out, rt)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("-runtimes: no runtime %q (have %s)", name, strings.Join(runtimeNames(), ", "))
		}
	}
	return out, nil
}
