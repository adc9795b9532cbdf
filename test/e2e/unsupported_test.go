package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// An unsupported syscall (number 500, which Linux x86-64 does not define) is ENOSYS
// natively and inside the sandbox; --debug logs it once however often it is called, and
// --report counts the calls.

// mentions500 matches a line about syscall 500 (and not, say, a timestamp with 500 in it).
var mentions500 = regexp.MustCompile(`(^|[^0-9.:])500([^0-9]|$)`)

func lines500(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if mentions500.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

func TestUnknownSyscallENOSYS(t *testing.T) {
	enosys := prog(t, "enosys")
	if native := runNative(t, enosys); native.status != 0 {
		t.Fatalf("natively: %v", native)
	}
	if got := runRunsc(t, "do", enosys); got.status != 0 {
		t.Errorf("runsc do enosys: want ENOSYS three times (exit 0); got %v", got)
	}
}

func TestUnknownSyscallDebugLog(t *testing.T) {
	enosys := prog(t, "enosys")
	logDir := filepath.Join(buildDir, "debug-log")
	os.RemoveAll(logDir)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(logDir)
	got := runRunsc(t, "--debug", "--debug-log", logDir+"/", "do", enosys)
	if got.status != 0 {
		t.Fatalf("runsc --debug do enosys: %v", got)
	}
	var all strings.Builder
	files, _ := filepath.Glob(filepath.Join(logDir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		all.Write(b)
	}
	if l := lines500(all.String()); len(l) != 1 {
		t.Errorf("the debug log (%d files in %s) should name syscall 500 on exactly one line; it has %d:\n%s",
			len(files), logDir, len(l), strings.Join(l, "\n"))
	}
	if len(files) == 0 {
		t.Errorf("--debug-log %s: no log file written; stderr: %s", logDir, got.stderr)
	}
}

func TestUnknownSyscallDebugStderr(t *testing.T) {
	enosys := prog(t, "enosys")
	got := runRunsc(t, "--debug", "do", enosys)
	if got.status != 0 {
		t.Fatalf("runsc --debug do enosys: %v", got)
	}
	if l := lines500(got.stderr); len(l) != 1 {
		t.Errorf("with --debug, stderr should name syscall 500 on exactly one line; it has %d:\n%s", len(l), got.stderr)
	}
}

// checkReport wants exactly one line about syscall 500, giving the count 3.
func checkReport(t *testing.T, where, text string) {
	t.Helper()
	l := lines500(text)
	if len(l) != 1 {
		t.Errorf("the report (%s) should name syscall 500 on exactly one line; it has %d:\n%s", where, len(l), text)
		return
	}
	if !regexp.MustCompile(`(^|[^0-9])3([^0-9]|$)`).MatchString(strings.Replace(l[0], "500", "", 1)) {
		t.Errorf("the report (%s) line for syscall 500 does not give the count 3: %q", where, l[0])
	}
}

func TestUnknownSyscallReport(t *testing.T) {
	enosys := prog(t, "enosys")
	got := runRunsc(t, "--report", "do", enosys)
	if got.status != 0 {
		t.Fatalf("runsc --report do enosys: %v", got)
	}
	checkReport(t, "stderr", got.stderr)

	file := filepath.Join(buildDir, "report.txt")
	os.Remove(file)
	defer os.Remove(file)
	got = runRunsc(t, "--report="+file, "do", enosys)
	if got.status != 0 {
		t.Fatalf("runsc --report=FILE do enosys: %v", got)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("--report=%s wrote no file: %v", file, err)
	}
	checkReport(t, file, string(b))
}
