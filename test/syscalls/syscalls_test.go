// Package syscalls_test runs the conformance case programs in cases/*.c natively and under
// `runsc do`, and fails unless both pass. cases/check.h describes the lines each program
// prints; known_failures.txt lists the cases that cannot pass under runsc yet.
package syscalls_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"runsc.dev/test/e2e/testenv"
)

// runTimeout bounds one run of one case program (natively or sandboxed).
const runTimeout = 2 * time.Minute

// result is what one run of a case program printed and how it ended.
type result struct {
	status   int               // exit status, 128+N when killed by signal N, -1 if it did not start
	stdout   string            // everything on stdout
	stderr   string            // everything on stderr (runsc's own messages land here)
	cases    map[string]string // case name -> "PASS" or the FAIL line
	order    []string          // case names in the order printed
	done     bool              // the DONE line was printed
	failures int               // the DONE line's failed= count
	err      error             // a failure to run at all
}

var (
	caseLine = regexp.MustCompile(`^(PASS|FAIL) ([A-Za-z0-9_]+)(: .*)?$`)
	doneLine = regexp.MustCompile(`^DONE passed=(\d+) failed=(\d+)$`)
)

func run(args []string, extraEnv ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.Stdin = nil
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	r := result{status: -1, cases: map[string]string{}}
	err := cmd.Run()
	r.stdout, r.stderr = stdout.String(), stderr.String()
	if ctx.Err() != nil {
		r.err = fmt.Errorf("timed out after %v", runTimeout)
	}
	if cmd.ProcessState != nil {
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			r.status = 128 + int(ws.Signal())
		} else {
			r.status = ws.ExitStatus()
		}
	} else if err != nil && r.err == nil {
		r.err = err
	}
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		line := sc.Text()
		if m := caseLine.FindStringSubmatch(line); m != nil {
			if _, dup := r.cases[m[2]]; dup {
				r.err = fmt.Errorf("case %s printed twice", m[2])
			}
			if m[1] == "PASS" {
				r.cases[m[2]] = "PASS"
			} else {
				r.cases[m[2]] = line
			}
			r.order = append(r.order, m[2])
		} else if m := doneLine.FindStringSubmatch(line); m != nil {
			r.done = true
			fmt.Sscan(m[2], &r.failures)
		}
	}
	return r
}

func (r result) String() string {
	s := fmt.Sprintf("exit status %d", r.status)
	if r.err != nil {
		s += fmt.Sprintf(" (%v)", r.err)
	}
	return s + "\n--- stdout ---\n" + r.stdout + "--- stderr ---\n" + r.stderr
}

// knownFailures maps "file.c" -> case name (or "*" for the whole program) -> reason.
type knownFailures map[string]map[string]string

// loadKnownFailures reads lines "casefile.c:CASE_NAME  reason"; '#' starts a comment.
// CASE_NAME "*" marks the whole program (for one that crashes or cannot start).
func loadKnownFailures(path string) (knownFailures, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return knownFailures{}, nil
	} else if err != nil {
		return nil, err
	}
	k := knownFailures{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, " ")
		reason = strings.TrimSpace(reason)
		file, name, ok := strings.Cut(id, ":")
		if !ok || !strings.HasSuffix(file, ".c") || name == "" || reason == "" {
			return nil, fmt.Errorf("%s:%d: want \"casefile.c:CASE_NAME  reason\", got %q", path, i+1, line)
		}
		if k[file] == nil {
			k[file] = map[string]string{}
		}
		if _, dup := k[file][name]; dup {
			return nil, fmt.Errorf("%s:%d: %s listed twice", path, i+1, id)
		}
		k[file][name] = reason
	}
	return k, nil
}

func TestSyscalls(t *testing.T) {
	if err := testenv.HaveGCC(); err != nil {
		t.Skipf("skipping the conformance programs: %v", err)
	}
	srcs, err := filepath.Glob("cases/*.c")
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no case programs in cases/ (%v)", err)
	}
	known, err := loadKnownFailures("known_failures.txt")
	if err != nil {
		t.Fatal(err)
	}
	for file := range known {
		if _, err := os.Stat(filepath.Join("cases", file)); err != nil {
			t.Errorf("known_failures.txt names %s, which is not in cases/", file)
		}
	}
	runsc, err := testenv.Runsc()
	if err != nil {
		t.Fatalf("no runsc binary to test: %v", err)
	}
	build, err := testenv.BuildDir("syscalls")
	if err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(build, "state")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	header, _ := filepath.Abs("cases/check.h")

	for _, src := range srcs {
		src := src
		file := filepath.Base(src)
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			bin := filepath.Join(build, strings.TrimSuffix(file, ".c"))
			if err := testenv.CompileC(bin, []string{src}, header); err != nil {
				t.Fatal(err)
			}

			native := run([]string{bin})
			if native.err != nil || native.status != 0 || !native.done || native.failures != 0 || len(native.order) == 0 {
				t.Fatalf("natively: the program must pass every case and exit 0; %v", native)
			}

			args := append([]string{runsc, "--root", stateDir}, testenv.ExtraFlags()...)
			// check.h's CHECK_ROFS cases want the host root read-only, as --overlay=none
			// mounts it (the default memory overlay makes it writable in the sandbox).
			args = append(args, "--overlay=none", "do", "--env", "RUNSC_SANDBOXED=1", bin)
			sandboxed := run(args)
			checkSandboxed(t, file, native, sandboxed, known[file])
		})
	}
}

// checkSandboxed compares the sandboxed run with the native one, case by case, against the
// program's known failures (case name -> reason; "*" for the whole program).
func checkSandboxed(t *testing.T, file string, native, sb result, known map[string]string) {
	t.Helper()
	wholeReason, whole := known["*"]
	for name := range known {
		if _, ok := native.cases[name]; !ok && name != "*" {
			t.Errorf("known_failures.txt: %s:%s is not a case of %s: remove or rename the line", file, name, file)
		}
	}

	// The program as a whole: it must end normally, print DONE, and its exit status must
	// say whether any case failed.
	wantStatus := 0
	if sb.failures > 0 {
		wantStatus = 1
	}
	ended := sb.err == nil && sb.done && sb.status == wantStatus
	switch {
	case !ended && whole:
		t.Logf("expected failure of the whole program (%s): %v", wholeReason, sb)
		return
	case ended && whole && sb.failures == 0:
		t.Errorf("known_failures.txt lists %s:* (%s) but the program passes under runsc: remove the line", file, wholeReason)
	case ended && whole:
		t.Errorf("known_failures.txt lists %s:* (%s) but the program ran to the end: list its failing cases instead", file, wholeReason)
	case !ended && len(sb.order) == 0:
		t.Fatalf("under runsc the program ran no case: %v", sb)
	case !ended:
		t.Errorf("under runsc the program did not run to its end with a consistent exit status: %v", sb)
	}

	// Case by case, in the native order; every case gets a subtest so that names are
	// matched individually and show up in `go test -run 'TestSyscalls/io.c/read_efault'`.
	var unexpected []string
	for _, name := range native.order {
		got, ran := sb.cases[name]
		reason, isKnown := known[name]
		t.Run(name, func(t *testing.T) {
			switch {
			case got == "PASS" && isKnown:
				t.Errorf("listed in known_failures.txt (%s) but passes under runsc: remove the line %s:%s", reason, file, name)
			case got == "PASS":
			case isKnown:
				t.Logf("expected failure (%s): %s", reason, orNotReached(got, ran))
			case whole:
				t.Logf("expected failure of the whole program (%s): %s", wholeReason, orNotReached(got, ran))
			default:
				unexpected = append(unexpected, name)
				t.Errorf("under runsc: %s", orNotReached(got, ran))
			}
		})
	}
	for name := range sb.cases {
		if _, ok := native.cases[name]; !ok {
			t.Errorf("under runsc the program printed case %s, which the native run did not", name)
		}
	}
	if len(unexpected) > 0 {
		sort.Strings(unexpected)
		t.Logf("unexpected failures: %s\nthe sandboxed run: %v", strings.Join(unexpected, " "), sb)
	}
}

func orNotReached(line string, ran bool) string {
	if !ran {
		return "not reached (the program ended before this case)"
	}
	return line
}
