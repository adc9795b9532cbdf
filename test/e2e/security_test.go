package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"runsc.dev/test/e2e/testenv"
)

func TestSandboxPIDIsOne(t *testing.T) {
	getpid := prog(t, "getpid")
	got := runRunsc(t, "do", getpid)
	var pid, ppid int
	if _, err := fmt.Sscan(got.stdout, &pid, &ppid); err != nil || got.status != 0 {
		t.Fatalf("runsc do getpid: %v", got)
	}
	if pid != 1 {
		t.Errorf("getpid() inside the sandbox = %d, want 1", pid)
	}
	if ppid != 0 {
		t.Errorf("getppid() inside the sandbox = %d, want 0 (the init of its PID namespace)", ppid)
	}
}

// platform is the --platform of the runs ($RUNSC_TEST_FLAGS), ptrace by default.
func platform() string {
	p := "ptrace"
	flags := testenv.ExtraFlags()
	for i, f := range flags {
		if v, ok := strings.CutPrefix(f, "--platform="); ok {
			p = v
		} else if f == "--platform" && i+1 < len(flags) {
			p = flags[i+1]
		}
	}
	return p
}

// TestApplicationProcessesAreConfined looks at a running sandbox from the host: every
// process below runsc other than runsc's own boot and gofer processes runs application
// code, so it must be confined: traced (ptrace platform) or under a seccomp filter
// (systrap platform).
//
// runsc's own boot and gofer processes are those whose command line names that role. A
// process forked from one without exec (how a platform's stub process is usually made)
// shows its parent's command line unchanged: it is not runsc's own and must be confined.
func TestApplicationProcessesAreConfined(t *testing.T) {
	sleeper := prog(t, "sleeper")
	runsc := runscBinary(t)
	s := startRunsc(t, true, "do", sleeper, "3")
	line, err := readLine(s, 30*time.Second)
	if err != nil || line != "ready" {
		s.cmd.Process.Kill()
		s.stdout = nil // the reader may still be in use by readLine
		s.wait()
		t.Fatalf("the sandboxed sleeper did not say ready (%q, %v); stderr: %s", line, err, s.errBuf.String())
	}

	tree := testenv.Descendants(s.cmd.Process.Pid)
	byPID := map[int]testenv.Proc{}
	if self, ok := testenv.ReadProc(s.cmd.Process.Pid); ok {
		byPID[self.PID] = self
	}
	for _, p := range tree {
		byPID[p.PID] = p
	}
	var report []string
	confined := 0
	for _, p := range tree {
		role := p.Role(runsc)
		forked := strings.Join(byPID[p.PPID].Cmdline, "\x00") == strings.Join(p.Cmdline, "\x00")
		report = append(report, fmt.Sprintf("pid %d ppid %d role %q forked %v TracerPid %s Seccomp %s: %s",
			p.PID, p.PPID, role, forked, p.Status["TracerPid"], p.Status["Seccomp"], p.Name()))
		if (role == "boot" || role == "gofer") && !forked {
			continue
		}
		switch platform() {
		case "ptrace":
			if p.Status["TracerPid"] == "0" || p.Status["TracerPid"] == "" {
				t.Errorf("pid %d (%s) is below runsc, is not its boot or gofer, and is not traced (TracerPid %q)",
					p.PID, p.Name(), p.Status["TracerPid"])
				continue
			}
		case "systrap":
			if p.Status["Seccomp"] != "2" {
				t.Errorf("pid %d (%s) is below runsc, is not its boot or gofer, and has no seccomp filter (Seccomp %q)",
					p.PID, p.Name(), p.Status["Seccomp"])
				continue
			}
		default:
			t.Skipf("no confinement rule for platform %q", platform())
		}
		confined++
	}
	t.Logf("processes below runsc (pid %d):\n  %s", s.cmd.Process.Pid, strings.Join(report, "\n  "))
	if confined == 0 {
		t.Errorf("found no application (stub) process below runsc while the application runs")
	}
	if got := s.wait(); got.status != 0 {
		t.Errorf("runsc do sleeper: %v", got)
	}
}

// readLine reads one line of the sandbox's stdout, giving up after TIMEOUT.
func readLine(s *sandbox, timeout time.Duration) (string, error) {
	type res struct {
		line string
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		l, err := s.stdout.ReadString('\n')
		ch <- res{strings.TrimSuffix(l, "\n"), err}
	}()
	select {
	case r := <-ch:
		return r.line, r.err
	case <-time.After(timeout):
		return "", os.ErrDeadlineExceeded
	}
}
