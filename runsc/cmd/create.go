package cmd

import (
	"context"
	"flag"

	"github.com/google/subcommands"

	"runsc.dev/runsc/container"
)

// Create creates a container from a bundle: the sandbox is built and the container's
// process is ready, but not started (`runsc start` starts it).
type Create struct {
	bundle, consoleSocket, pidFile string
	ignored                        ignoredFlags
}

// Name implements subcommands.Command.
func (*Create) Name() string { return "create" }

// Synopsis implements subcommands.Command.
func (*Create) Synopsis() string { return "create a container from a bundle (runc-compatible)" }

// Usage implements subcommands.Command.
func (*Create) Usage() string {
	return "create [--bundle DIR] [--console-socket PATH] [--pid-file PATH] <container-id>\n"
}

// SetFlags implements subcommands.Command.
func (c *Create) SetFlags(f *flag.FlagSet) {
	stringVars(f, &c.bundle, "", "bundle directory (default: the current directory)", "bundle", "b")
	f.StringVar(&c.consoleSocket, "console-socket", "", "unix socket that receives the pty master when process.terminal is set")
	f.StringVar(&c.pidFile, "pid-file", "", "file to write the container's PID (the sandbox's) to")
	c.ignored.add(f, true, "runc: do not use pivot_root", "no-pivot")
	c.ignored.add(f, true, "runc: do not create a session keyring", "no-new-keyring")
	c.ignored.add(f, false, "runc: pass N extra fds", "preserve-fds")
	c.ignored.add(f, false, "runc: pidfd socket", "pidfd-socket")
}

// Execute implements subcommands.Command.
func (c *Create) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf, rf := confOf(args), runcOf(args)
	id, ok := oneID("create", f)
	if !ok {
		return subcommands.ExitUsageError
	}
	c.ignored.logIgnored("create")
	res, err := container.Create(container.CreateArgs{
		Root: conf.RootDir, ID: id, Bundle: c.bundle, Conf: conf, SystemdCgroup: rf.SystemdCgroup,
		ConsoleSocket: c.consoleSocket, PIDFile: c.pidFile,
	})
	if err != nil {
		return fail("create: %v", err)
	}
	res.Unlock()
	return subcommands.ExitSuccess
}
