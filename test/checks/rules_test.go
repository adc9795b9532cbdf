package checks

import "testing"

// TestRuleTable pins down what the arrow and module rules allow, so that a change to the
// tables is a deliberate one.
func TestRuleTable(t *testing.T) {
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"runsc/cmd", "boot", true},
		{"runsc/cmd", "sentry/kernel", true},
		{"boot", "sentry/kernel", true},
		{"boot", "platform/ptrace", true},
		{"boot", "runsc/config", false},
		{"sentry/kernel", "platform", true},
		{"sentry/kernel", "platform/ptrace", false},
		{"sentry/kernel", "pkg/arch", true},
		{"sentry/kernel", "specutils", false},
		{"sentry/kernel", "boot", false},
		{"sentry/kernel", "runsc/config", false},
		{"sentry/fs/gofer", "gofer/proto", true},
		{"sentry/vfs", "gofer/proto", false},
		{"sentry/fs/gofer", "gofer", false},
		{"platform/ptrace", "platform", true},
		{"platform/ptrace", "pkg/arch", true},
		{"platform", "sentry/arch", false},
		{"platform/systrap", "specutils", false},
		{"pkg/arch", "pkg/bits", true},
		{"pkg/arch", "sentry/kernel", false},
		{"pkg/arch", "platform", false},
		{"gofer", "gofer/proto", true},
		{"gofer", "specutils", true},
		{"gofer", "sentry/vfs", false},
		{"gofer/proto", "platform", false},
		{"specutils", "pkg/arch", true},
		{"specutils", "gofer/proto", false},
		{"test/e2e", "sentry/kernel", true},
	} {
		if got := arrowViolation(c.from, c.to) == ""; got != c.ok {
			t.Errorf("%s -> %s: allowed = %v, want %v", c.from, c.to, got, c.ok)
		}
	}
	for _, c := range []struct {
		imp string
		ok  bool
	}{
		{"golang.org/x/sys/unix", true},
		{"github.com/google/subcommands", true},
		{"github.com/opencontainers/runtime-spec/specs-go", true},
		{"github.com/syndtr/gocapability/capability", true},
		{"gvisor.dev/gvisor/pkg/abi/linux", true},
		{"gvisor.dev/gvisor/pkg/abi/linux/errno", true},
		{"gvisor.dev/gvisor/pkg/tcpip/stack", true},
		{"gvisor.dev/gvisor/pkg/sentry/kernel", false},
		{"gvisor.dev/gvisor/pkg/ring0", false},
		{"gvisor.dev/gvisor/pkg/abi", false},
		{"gvisor.dev/gvisor/runsc/boot", false},
		{"golang.org/x/net/context", false},
		{"github.com/sirupsen/logrus", false},
	} {
		if got := externalAllowed(c.imp) == ""; got != c.ok {
			t.Errorf("import %s: allowed = %v, want %v", c.imp, got, c.ok)
		}
	}
}
