// Package testenv holds what the test drivers share (test/syscalls, test/e2e, test/bench):
// finding the repository and bin/runsc, compiling static C programs with gcc, and looking
// at the host's processes, mounts and temporary files from outside the sandbox.
//
// It has no locks of its own except the sync.Once that builds bin/runsc once per test
// binary.
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// RepoRoot returns the repository's top directory: the nearest parent of the working
// directory whose go.mod declares module runsc.dev.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module runsc.dev")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no go.mod of module runsc.dev above the working directory")
		}
		dir = parent
	}
}

// BuildDir returns (making it) ROOT/test/NAME/.build: where the drivers put compiled
// programs and files the sandbox must see. It is outside /tmp on purpose: the sandbox has
// a private /tmp, so nothing under the host's /tmp is visible inside.
func BuildDir(name string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "test", name, ".build")
	return dir, os.MkdirAll(dir, 0o755)
}

var (
	runscOnce sync.Once
	runscPath string
	runscErr  error
)

// Runsc returns the path of the runsc binary under test: $RUNSC_BINARY if set, else
// ROOT/bin/runsc, built with `make` (once) when it is missing.
func Runsc() (string, error) {
	runscOnce.Do(func() {
		if p := os.Getenv("RUNSC_BINARY"); p != "" {
			runscPath, runscErr = filepath.Abs(p)
			return
		}
		root, err := RepoRoot()
		if err != nil {
			runscErr = err
			return
		}
		runscPath = filepath.Join(root, "bin", "runsc")
		if _, err := os.Stat(runscPath); err == nil {
			return
		}
		cmd := exec.Command("make", "-C", root, "all")
		out, err := cmd.CombinedOutput()
		if err != nil {
			runscErr = fmt.Errorf("bin/runsc is missing and `make` failed: %v\n%s", err, out)
			return
		}
		if _, err := os.Stat(runscPath); err != nil {
			runscErr = fmt.Errorf("`make` succeeded but did not produce %s", runscPath)
		}
	})
	return runscPath, runscErr
}

// ExtraFlags returns the global flags from $RUNSC_TEST_FLAGS (space separated, e.g.
// "--platform=systrap"), which every driver adds to its runsc command lines.
func ExtraFlags() []string {
	return strings.Fields(os.Getenv("RUNSC_TEST_FLAGS"))
}

// HaveGCC reports whether gcc and a static libc are there.
func HaveGCC() error {
	if _, err := exec.LookPath("gcc"); err != nil {
		return errors.New("gcc is not installed (make deps installs it)")
	}
	return nil
}

// CompileC compiles the C sources SRCS into the static program OUT, unless OUT is newer
// than every source and every file in DEPS (headers).
func CompileC(out string, srcs []string, deps ...string) error {
	if upToDate(out, append(append([]string{}, srcs...), deps...)) {
		return nil
	}
	tmp := out + ".tmp"
	args := append([]string{"-static", "-O1", "-Wall", "-o", tmp}, srcs...)
	if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("gcc %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return os.Rename(tmp, out)
}

func upToDate(out string, inputs []string) bool {
	o, err := os.Stat(out)
	if err != nil {
		return false
	}
	for _, in := range inputs {
		i, err := os.Stat(in)
		if err != nil || !i.ModTime().Before(o.ModTime()) {
			return false
		}
	}
	return true
}
