package config

import (
	"flag"
	"fmt"
)

// RuncFlags are runc's global flags, which clients pass to any runtime they drive as
// runc: --systemd-cgroup (cgroupsPath is systemd's slice:prefix:name), --rootless and
// --criu. Those that do not apply to runsc are accepted so that clients do not break,
// and Ignored names them for a debug line.
type RuncFlags struct {
	SystemdCgroup bool
	Rootless      string
	Criu          string
}

// Register adds the flags to fs.
func (r *RuncFlags) Register(fs *flag.FlagSet) {
	fs.BoolVar(&r.SystemdCgroup, "systemd-cgroup", false, "cgroupsPath is systemd's slice:prefix:name (the cgroup is made directly; systemd is not contacted)")
	fs.StringVar(&r.Rootless, "rootless", "auto", "runc's rootless mode (true, false, auto): accepted; runsc needs root")
	fs.StringVar(&r.Criu, "criu", "", "runc's path to criu: accepted and ignored (checkpoint is not supported)")
}

// Validate checks the values.
func (r *RuncFlags) Validate() error {
	switch r.Rootless {
	case "auto", "true", "false":
	default:
		return fmt.Errorf("--rootless=%s is not true, false or auto", r.Rootless)
	}
	return nil
}

// Ignored lists the given flags that have no effect, for a debug line.
func (r *RuncFlags) Ignored() []string {
	var out []string
	if r.Rootless != "auto" {
		out = append(out, "--rootless="+r.Rootless)
	}
	if r.Criu != "" {
		out = append(out, "--criu="+r.Criu)
	}
	return out
}
