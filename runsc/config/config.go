// Package config owns runsc's global flags and the Config they produce: one place that
// registers them (runc- and gVisor-compatible spellings) and validates their values, so
// that a value the code does not support is refused with a clear message, never ignored.
//
// It holds no locks.
package config

import (
	"flag"
	"fmt"
	"strings"
)

// Config is the parsed global flags.
type Config struct {
	RootDir   string
	Debug     bool
	DebugLog  string
	LogFile   string
	LogFormat string
	Strace    bool
	Report    ReportFlag
	Platform  string
	Network   string
	// Overlay is the root filesystem's overlay: "memory" (a tmpfs upper layer, so that
	// writes never reach the host) or "none" (the root as the spec says, read-only for do).
	Overlay string
}

// ReportFlag is --report (to stderr) or --report=FILE.
type ReportFlag struct {
	Enabled bool
	File    string
}

// IsBoolFlag lets --report appear without a value.
func (r *ReportFlag) IsBoolFlag() bool { return true }

func (r *ReportFlag) String() string {
	if r == nil || !r.Enabled {
		return ""
	}
	if r.File == "" {
		return "true"
	}
	return r.File
}

// Set parses the flag value.
func (r *ReportFlag) Set(v string) error {
	switch v {
	case "true":
		r.Enabled, r.File = true, ""
	case "false":
		r.Enabled, r.File = false, ""
	case "":
		return fmt.Errorf("empty report file name")
	default:
		r.Enabled, r.File = true, v
	}
	return nil
}

// Register adds the global flags to fs.
func (c *Config) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.RootDir, "root", "/var/run/runsc", "directory for container state")
	fs.BoolVar(&c.Debug, "debug", false, "log debug information")
	fs.StringVar(&c.DebugLog, "debug-log", "", "directory (ending in /) or file for debug logs; default stderr")
	fs.StringVar(&c.LogFile, "log", "", "file for runtime errors (runc compatibility)")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&c.Strace, "strace", false, "log every application syscall")
	fs.Var(&c.Report, "report", "at exit, print the unsupported syscalls the application made (to stderr, or --report=FILE)")
	fs.StringVar(&c.Platform, "platform", "ptrace", "platform that runs application code: ptrace")
	fs.StringVar(&c.Network, "network", "none", "network mode: none")
	fs.StringVar(&c.Overlay, "overlay", "memory", "root filesystem overlay: memory (writes stay in the sandbox's memory) or none")
}

// supportedPlatforms are the platforms this build can run.
var supportedPlatforms = []string{"ptrace"}

// Validate refuses values that are not supported yet.
func (c *Config) Validate() error {
	ok := false
	for _, p := range supportedPlatforms {
		ok = ok || p == c.Platform
	}
	if !ok {
		return fmt.Errorf("--platform=%s is not supported (supported: %s)", c.Platform, strings.Join(supportedPlatforms, ", "))
	}
	switch c.Network {
	case "none":
	case "sandbox", "host":
		return fmt.Errorf("--network=%s is not supported yet (supported: none)", c.Network)
	default:
		return fmt.Errorf("--network=%s is not a network mode (none, sandbox, host)", c.Network)
	}
	switch c.Overlay {
	case "memory", "none":
	default:
		return fmt.Errorf("--overlay=%s is not an overlay mode (memory, none)", c.Overlay)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format=%s is not a log format (text, json)", c.LogFormat)
	}
	return nil
}

// ToFlags renders the config as flags for a child runsc process.
func (c *Config) ToFlags() []string {
	f := []string{
		"--root=" + c.RootDir, "--platform=" + c.Platform, "--network=" + c.Network,
		"--log-format=" + c.LogFormat, "--overlay=" + c.Overlay,
	}
	if c.Debug {
		f = append(f, "--debug")
	}
	if c.Strace {
		f = append(f, "--strace")
	}
	return f
}
