package cmd

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/google/subcommands"

	"runsc.dev/runsc/config"
	"runsc.dev/runsc/container"
	"runsc.dev/runsc/logging"
)

// What the OCI lifecycle commands (create, start, run, state, kill, delete, list, ps,
// exec, wait, events, pause, resume) share: runc's conventions for arguments, errors
// (one line; into the --log file too) and exit statuses (1 on failure).

// runcOf extracts the runc-compatibility flags passed to Execute.
func runcOf(args []any) *config.RuncFlags {
	if len(args) > 1 {
		if r, ok := args[1].(*config.RuncFlags); ok {
			return r
		}
	}
	return &config.RuncFlags{Rootless: "auto"}
}

// fail reports an error the runc way and returns runc's failure status.
func fail(format string, args ...any) subcommands.ExitStatus {
	logging.Errorf(format, args...)
	return subcommands.ExitFailure
}

// usage reports a usage error.
func usage(format string, args ...any) subcommands.ExitStatus {
	logging.Errorf(format, args...)
	return subcommands.ExitUsageError
}

// oneID returns the container ID that is the command's only argument.
func oneID(cmd string, f *flag.FlagSet) (string, bool) {
	if f.NArg() != 1 {
		if f.NArg() == 0 {
			logging.Errorf("%s: missing container ID (usage: runsc %s [flags] <container-id>)", cmd, cmd)
		} else {
			logging.Errorf("%s: expected one container ID, got %q", cmd, f.Args())
		}
		return "", false
	}
	return f.Arg(0), true
}

// stringVars registers one string flag under several names (runc's short forms).
func stringVars(f *flag.FlagSet, p *string, value, help string, names ...string) {
	for _, n := range names {
		f.StringVar(p, n, value, help)
	}
}

func boolVars(f *flag.FlagSet, p *bool, help string, names ...string) {
	for _, n := range names {
		f.BoolVar(p, n, false, help)
	}
}

// ignoredFlag is a runc flag that has no effect in runsc: accepted, logged at debug.
type ignoredFlag struct {
	name string
	set  bool
	val  string
	bool bool
}

func (i *ignoredFlag) String() string { return i.val }
func (i *ignoredFlag) Set(v string) error {
	i.set, i.val = true, v
	return nil
}
func (i *ignoredFlag) IsBoolFlag() bool { return i.bool }

// ignoredFlags registers runc flags that runsc accepts and ignores.
type ignoredFlags []*ignoredFlag

func (l *ignoredFlags) add(f *flag.FlagSet, isBool bool, help string, names ...string) {
	for _, n := range names {
		i := &ignoredFlag{name: n, bool: isBool}
		*l = append(*l, i)
		f.Var(i, n, help+" (accepted for runc compatibility; no effect)")
	}
}

// logIgnored writes a debug line for each ignored flag that was given.
func (l ignoredFlags) logIgnored(cmd string) {
	for _, i := range l {
		if i.set {
			logging.Debugf("%s: --%s=%s ignored: it has no effect in runsc", cmd, i.name, i.val)
		}
	}
}

// load loads a container's state (locking it when lock is set), reporting errors.
func load(conf *config.Config, id string, lock bool) (*container.Container, bool) {
	c, err := container.Load(conf.RootDir, id, lock)
	if err != nil {
		logging.Errorf("%v", err)
		return nil, false
	}
	return c, true
}

// globalFlagsFor are the global flags for a runsc child process (exec's waiter): the
// ones given, with the container's saved ones where they matter.
func globalFlagsFor(conf *config.Config, c *container.Container) []string {
	f := []string{"--root=" + conf.RootDir, "--log-format=" + conf.LogFormat}
	if conf.LogFile != "" {
		f = append(f, "--log="+conf.LogFile)
	}
	if conf.Debug || c.Config.Debug {
		f = append(f, "--debug")
	}
	return f
}

// parseUser parses exec's --user uid[:gid].
func parseUser(s string) (uid, gid uint32, hasGID bool, err error) {
	u, g, ok := strings.Cut(s, ":")
	var n uint64
	if _, err := fmt.Sscanf(u, "%d", &n); err != nil || fmt.Sprint(n) != u || n > 1<<32-1 {
		return 0, 0, false, fmt.Errorf("--user %q: want a numeric uid[:gid]", s)
	}
	uid = uint32(n)
	if ok {
		if _, err := fmt.Sscanf(g, "%d", &n); err != nil || fmt.Sprint(n) != g || n > 1<<32-1 {
			return 0, 0, false, fmt.Errorf("--user %q: want a numeric uid[:gid]", s)
		}
		gid, hasGID = uint32(n), true
	}
	return uid, gid, hasGID, nil
}

// devNull opens /dev/null for a detached child's stdio.
func devNull() *os.File {
	f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	return f
}

// logErr reports an error without choosing the exit status.
func logErr(format string, args ...any) { logging.Errorf(format, args...) }
