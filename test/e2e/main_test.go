// Package e2e drives the built bin/runsc from outside: `runsc do` of small static programs
// (compiled from progs/*.c) and of busybox, compared with native runs; bad input; the
// unsupported-syscall debug log and report; and what the host sees of a running sandbox.
//
// Every runsc invocation goes through runRunsc/startRunsc, which also checks that the run
// left nothing behind: no process, mount, temporary file or --root state. For that check
// the tests run one at a time (no t.Parallel) and the test process is a child subreaper,
// so that anything runsc orphans is re-parented here and seen.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"runsc.dev/test/e2e/testenv"
)

const (
	runTimeout   = 90 * time.Second // one runsc or native run
	leftoverWait = 3 * time.Second  // how long processes get to go after runsc exits
	busybox      = "/bin/busybox"
)

var (
	buildDir string // test/e2e/.build: compiled programs and files the sandbox reads
	stateDir string // --root for every run; must be empty after each
	progs    = map[string]string{}
	progsErr error
)

func TestMain(m *testing.M) {
	// PR_SET_CHILD_SUBREAPER: orphans of runsc's processes come to us (and are counted).
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, 36, 1, 0); e != 0 {
		fmt.Fprintf(os.Stderr, "e2e: prctl(PR_SET_CHILD_SUBREAPER): %v\n", e)
	}
	var err error
	if buildDir, err = testenv.BuildDir("e2e"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	stateDir = filepath.Join(buildDir, "state")
	os.RemoveAll(stateDir)
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	progsErr = buildProgs()
	os.Exit(m.Run())
}

// buildProgs compiles progs/*.c into buildDir.
func buildProgs() error {
	if err := testenv.HaveGCC(); err != nil {
		return err
	}
	srcs, err := filepath.Glob("progs/*.c")
	if err != nil || len(srcs) == 0 {
		return fmt.Errorf("no programs in progs/ (%v)", err)
	}
	for _, src := range srcs {
		out := filepath.Join(buildDir, strings.TrimSuffix(filepath.Base(src), ".c"))
		if err := testenv.CompileC(out, []string{src}); err != nil {
			return err
		}
		progs[strings.TrimSuffix(filepath.Base(src), ".c")] = out
	}
	return nil
}

// prog returns the path of a compiled test program, skipping the test without gcc.
func prog(t *testing.T, name string) string {
	t.Helper()
	if progsErr != nil {
		t.Skipf("test programs unavailable: %v", progsErr)
	}
	p, ok := progs[name]
	if !ok {
		t.Fatalf("no program %q in progs/", name)
	}
	return p
}

func runscBinary(t *testing.T) string {
	t.Helper()
	p, err := testenv.Runsc()
	if err != nil {
		t.Fatalf("no runsc binary to test: %v", err)
	}
	return p
}

func needBusybox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(busybox); err != nil {
		t.Skipf("%s is missing (make deps installs busybox-static): %v", busybox, err)
	}
}

// outcome is how a run ended.
type outcome struct {
	status         int // exit status; 128+N if killed by signal N; -1 if it never ran
	stdout, stderr string
}

func (o outcome) String() string {
	return fmt.Sprintf("exit status %d\n--- stdout ---\n%s--- stderr ---\n%s", o.status, o.stdout, o.stderr)
}

// exitStatus is the shell's view of how a process ended.
func exitStatus(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	ws := ps.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// runNative runs a program directly on the host.
func runNative(t *testing.T, args ...string) outcome {
	t.Helper()
	return runNativeIn(t, "", args...)
}

// runNativeIn is runNative in directory dir ("" for the current one).
func runNativeIn(t *testing.T, dir string, args ...string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	o := outcome{exitStatus(cmd.ProcessState), stdout.String(), stderr.String()}
	if o.status == -1 {
		t.Fatalf("running %q natively: %v", args, err)
	}
	return o
}

// sandbox is a started `runsc ... ARGS`.
type sandbox struct {
	t      *testing.T
	cmd    *exec.Cmd
	cancel context.CancelFunc
	before testenv.HostState
	stdout *bufio.Reader // when started with a pipe
	outBuf bytes.Buffer
	errBuf bytes.Buffer
}

// runscArgs is the full command line: runsc --root STATE $RUNSC_TEST_FLAGS ARGS.
func runscArgs(t *testing.T, args []string) []string {
	return append(append([]string{runscBinary(t), "--root", stateDir}, testenv.ExtraFlags()...), args...)
}

// startRunsc starts runsc with ARGS (global flags, subcommand and its arguments); with
// pipe, its stdout is read through s.stdout instead of being collected.
func startRunsc(t *testing.T, pipe bool, args ...string) *sandbox {
	t.Helper()
	full := runscArgs(t, args)
	s := &sandbox{t: t, before: testenv.SnapshotHost(stateDir)}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	s.cancel = cancel
	s.cmd = exec.CommandContext(ctx, full[0], full[1:]...)
	s.cmd.Stderr = &s.errBuf
	s.cmd.WaitDelay = 5 * time.Second
	if pipe {
		r, err := s.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		s.stdout = bufio.NewReader(r)
	} else {
		s.cmd.Stdout = &s.outBuf
	}
	t.Logf("$ %s", strings.Join(full, " "))
	if err := s.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting runsc: %v", err)
	}
	return s
}

// wait waits for runsc to exit, then checks that it left nothing behind.
func (s *sandbox) wait() outcome {
	s.t.Helper()
	if s.stdout != nil {
		rest, _ := io.ReadAll(s.stdout)
		s.outBuf.Write(rest)
	}
	err := s.cmd.Wait()
	s.cancel()
	o := outcome{exitStatus(s.cmd.ProcessState), s.outBuf.String(), s.errBuf.String()}
	if o.status == -1 {
		s.t.Fatalf("runsc did not run: %v", err)
	}
	checkNothingLeft(s.t, s.before)
	return o
}

// runRunsc runs runsc with ARGS to the end.
func runRunsc(t *testing.T, args ...string) outcome {
	t.Helper()
	return startRunsc(t, false, args...).wait()
}

// checkNothingLeft fails the test if the host has processes, mounts or files that it had
// not before; leftover processes are killed and reaped so that later tests start clean.
func checkNothingLeft(t *testing.T, before testenv.HostState) {
	t.Helper()
	deadline := time.Now().Add(leftoverWait)
	var left []string
	for {
		reapZombieChildren()
		left = testenv.Leftovers(before, testenv.SnapshotHost(stateDir))
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(left) == 0 {
		return
	}
	t.Errorf("runsc left things behind:\n  %s", strings.Join(left, "\n  "))
	for _, p := range testenv.Descendants(os.Getpid()) {
		syscall.Kill(p.PID, syscall.SIGKILL)
	}
	time.Sleep(200 * time.Millisecond)
	reapZombieChildren()
	entries, _ := os.ReadDir(stateDir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(stateDir, e.Name()))
	}
}

// reapZombieChildren waits for our children that have exited: as a subreaper we inherit
// runsc's orphans, and nobody else waits for them. Only zombies are waited for, so no
// exec.Cmd loses its child.
func reapZombieChildren() {
	for _, p := range testenv.Descendants(os.Getpid()) {
		if p.PPID == os.Getpid() && strings.HasPrefix(p.Status["State"], "Z") {
			var ws syscall.WaitStatus
			syscall.Wait4(p.PID, &ws, syscall.WNOHANG, nil)
		}
	}
}

// writeFile writes a file under buildDir and returns its path.
func writeFile(t *testing.T, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(buildDir, name)
	os.Remove(p)
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	return p
}
