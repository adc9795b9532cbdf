package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestHelp: `runsc help` lists the commands.
func TestHelp(t *testing.T) {
	runscBinary(t)
	got := runRunsc(t, "help")
	out := got.stdout + got.stderr
	if got.status != 0 {
		t.Fatalf("runsc help: %v", got)
	}
	for _, cmd := range []string{"do", "syscalls", "help"} {
		if !regexp.MustCompile(`(?m)^\s*` + cmd + `\b`).MatchString(out) {
			t.Errorf("runsc help does not list %q:\n%s", cmd, out)
		}
	}
}

// TestSyscallTable: `runsc syscalls` prints one row per syscall: number, name, status.
func TestSyscallTable(t *testing.T) {
	runscBinary(t)
	got := runRunsc(t, "syscalls")
	if got.status != 0 {
		t.Fatalf("runsc syscalls: %v", got)
	}
	for _, row := range []struct{ nr, name string }{{"0", "read"}, {"1", "write"}, {"39", "getpid"}, {"231", "exit_group"}} {
		if !regexp.MustCompile(`(?m)^\s*` + row.nr + `\s+` + row.name + `\b`).MatchString(got.stdout) {
			t.Errorf("runsc syscalls has no row \"%s %s ...\":\n%s", row.nr, row.name, firstLines(got.stdout, 10))
		}
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, "\n")
}
