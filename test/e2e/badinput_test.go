package e2e

import (
	"os"
	"strings"
	"testing"
)

// TestBadInput: each bad command line fails with a one-line error on stderr, nothing on
// stdout, the documented exit status where there is one, and nothing left behind.
func TestBadInput(t *testing.T) {
	hello := prog(t, "hello")
	elf, err := os.ReadFile(hello)
	if err != nil {
		t.Fatal(err)
	}
	notELF := writeFile(t, "not-an-elf", []byte("this is not an ELF file\n"), 0o755)
	truncated := writeFile(t, "truncated-elf", elf[:200], 0o755)
	notExec := writeFile(t, "not-executable", elf, 0o644)

	for _, c := range []struct {
		name   string
		args   []string
		status int // 0: any non-zero status
	}{
		{"unknown global flag", []string{"--no-such-flag", "do", hello}, 0},
		{"unknown do flag", []string{"do", "--no-such-flag", hello}, 0},
		{"unknown subcommand", []string{"no-such-subcommand"}, 0},
		{"missing CMD", []string{"do"}, 0},
		{"unsupported network", []string{"--network=sandbox", "do", hello}, 0},
		{"unsupported platform", []string{"--platform=no-such-platform", "do", hello}, 0},
		{"CMD not in PATH", []string{"do", "runsc-e2e-no-such-program"}, 127},
		{"CMD path does not exist", []string{"do", "/nonexistent/runsc-e2e-program"}, 127},
		{"not an ELF", []string{"do", notELF}, 126},
		{"truncated ELF", []string{"do", truncated}, 126},
		{"not executable", []string{"do", notExec}, 126},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := runRunsc(t, c.args...)
			switch {
			case c.status != 0 && got.status != c.status:
				t.Errorf("want exit status %d; got %v", c.status, got)
			case got.status == 0:
				t.Errorf("want a non-zero exit status; got %v", got)
			}
			if errLines := strings.Split(strings.TrimSuffix(got.stderr, "\n"), "\n"); len(errLines) != 1 || strings.TrimSpace(errLines[0]) == "" {
				t.Errorf("want exactly one non-empty line on stderr; got %d:\n%s", len(errLines), got.stderr)
			}
			if got.stdout != "" {
				t.Errorf("want nothing on stdout; got %q", got.stdout)
			}
		})
	}
}
