package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"runsc.dev/specutils"
)

// Spec writes a default config.json into a bundle.
type Spec struct {
	bundle   string
	rootless bool
}

// Name implements subcommands.Command.
func (*Spec) Name() string { return "spec" }

// Synopsis implements subcommands.Command.
func (*Spec) Synopsis() string { return "write a default config.json (a shell on rootfs/)" }

// Usage implements subcommands.Command.
func (*Spec) Usage() string { return "spec [--bundle DIR] [--rootless]\n" }

// SetFlags implements subcommands.Command.
func (s *Spec) SetFlags(f *flag.FlagSet) {
	stringVars(f, &s.bundle, "", "bundle directory to write config.json into (default: the current directory)", "bundle", "b")
	f.BoolVar(&s.rootless, "rootless", false, "a spec for a rootless container (user namespace)")
}

// Execute implements subcommands.Command.
func (s *Spec) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	if f.NArg() != 0 {
		return usage("spec takes no arguments")
	}
	dir := s.bundle
	if dir == "" {
		dir = "."
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fail("spec: bundle %q is not a directory", dir)
	}
	path := filepath.Join(dir, specutils.ConfigFile)
	if _, err := os.Stat(path); err == nil {
		return fail("spec: %s exists; remove it first", path)
	}
	b, err := json.MarshalIndent(specutils.DefaultSpec(s.rootless, uint32(os.Getuid()), uint32(os.Getgid())), "", "\t")
	if err != nil {
		return fail("spec: %v", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o666); err != nil {
		return fail("spec: %v", err)
	}
	return subcommands.ExitSuccess
}

// Features prints what this runtime supports, as the OCI features document.
type Features struct{}

// Name implements subcommands.Command.
func (*Features) Name() string { return "features" }

// Synopsis implements subcommands.Command.
func (*Features) Synopsis() string { return "print the runtime's features (OCI features JSON)" }

// Usage implements subcommands.Command.
func (*Features) Usage() string { return "features\n" }

// SetFlags implements subcommands.Command.
func (*Features) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (*Features) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	if f.NArg() != 0 {
		return usage("features takes no arguments")
	}
	t, fl := true, false
	feat := features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         specutils.HookKinds,
		MountOptions:  specutils.MountOptionNames(),
		Linux: &features.Linux{
			Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "user", "uts"},
			Capabilities: specutils.CapabilityNames(),
			Cgroup:       &features.Cgroup{V1: &t, V2: &t, Systemd: &t, SystemdUser: &fl},
			Seccomp:      &features.Seccomp{Enabled: &fl},
			Apparmor:     &features.Apparmor{Enabled: &fl},
			Selinux:      &features.Selinux{Enabled: &fl},
		},
		Annotations: map[string]string{
			"io.github.runsc.platform": confOf(args).Platform,
			"io.github.runsc.note":     "seccomp, AppArmor and SELinux settings are accepted and ignored: the sandbox's own kernel serves the application's system calls",
		},
	}
	b, err := json.MarshalIndent(feat, "", "    ")
	if err != nil {
		return fail("features: %v", err)
	}
	fmt.Println(string(b))
	return subcommands.ExitSuccess
}
