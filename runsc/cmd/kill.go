package cmd

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"runsc.dev/runsc/container"
	"runsc.dev/specutils"
)

// Kill sends a signal to a container's init process (or every process with --all).
type Kill struct {
	all bool
	pid int
}

// Name implements subcommands.Command.
func (*Kill) Name() string { return "kill" }

// Synopsis implements subcommands.Command.
func (*Kill) Synopsis() string { return "send a signal to a container (default SIGTERM)" }

// Usage implements subcommands.Command.
func (*Kill) Usage() string {
	return "kill [--all] <container-id> [SIGNAL]\n  SIGNAL is a name (TERM, SIGTERM) or a number; default TERM.\n"
}

// SetFlags implements subcommands.Command.
func (k *Kill) SetFlags(f *flag.FlagSet) {
	boolVars(f, &k.all, "send the signal to every process of the container", "all", "a")
	f.IntVar(&k.pid, "pid", 0, "send the signal to this process of the sandbox instead of init")
}

// Execute implements subcommands.Command.
func (k *Kill) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := confOf(args)
	if f.NArg() < 1 || f.NArg() > 2 {
		return usage("kill: usage: runsc kill [--all] <container-id> [SIGNAL]")
	}
	sig := unix.SIGTERM
	if f.NArg() == 2 {
		s, err := specutils.ParseSignal(f.Arg(1))
		if err != nil {
			return fail("kill: %v", err)
		}
		sig = s
	}
	c, ok := load(conf, f.Arg(0), true)
	if !ok {
		return subcommands.ExitFailure
	}
	defer c.Unlock()
	var err error
	if k.pid != 0 {
		err = c.SignalPID(int32(k.pid), sig)
	} else {
		err = c.Signal(sig, k.all)
	}
	if err != nil {
		return fail("kill: %v", err)
	}
	return subcommands.ExitSuccess
}

// Delete deletes a container (a running one only with --force).
type Delete struct {
	force bool
}

// Name implements subcommands.Command.
func (*Delete) Name() string { return "delete" }

// Synopsis implements subcommands.Command.
func (*Delete) Synopsis() string { return "delete a container and its resources" }

// Usage implements subcommands.Command.
func (*Delete) Usage() string { return "delete [--force] <container-id>...\n" }

// SetFlags implements subcommands.Command.
func (d *Delete) SetFlags(f *flag.FlagSet) {
	boolVars(f, &d.force, "kill and delete a running container", "force", "f")
}

// Execute implements subcommands.Command.
func (d *Delete) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := confOf(args)
	if f.NArg() == 0 {
		return usage("delete: missing container ID (usage: runsc delete [--force] <container-id>)")
	}
	status := subcommands.ExitSuccess
	for _, id := range f.Args() {
		c, err := container.Load(conf.RootDir, id, true)
		if errors.Is(err, container.ErrNotExist) && d.force {
			// As runc: forcing the delete of a container that is gone succeeds, and
			// removes what an aborted create may have left.
			os.RemoveAll(filepath.Join(conf.RootDir, id))
			continue
		}
		if err != nil {
			logErr("%v", err)
			status = subcommands.ExitFailure
			continue
		}
		if err := c.Delete(d.force); err != nil {
			logErr("delete: %v", err)
			status = subcommands.ExitFailure
		}
		c.Unlock()
	}
	return status
}

// Pause pauses every process of a container.
type Pause struct{}

// Name implements subcommands.Command.
func (*Pause) Name() string { return "pause" }

// Synopsis implements subcommands.Command.
func (*Pause) Synopsis() string { return "pause a running container" }

// Usage implements subcommands.Command.
func (*Pause) Usage() string { return "pause <container-id>\n" }

// SetFlags implements subcommands.Command.
func (*Pause) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (*Pause) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	id, ok := oneID("pause", f)
	if !ok {
		return subcommands.ExitUsageError
	}
	c, ok := load(confOf(args), id, true)
	if !ok {
		return subcommands.ExitFailure
	}
	defer c.Unlock()
	if err := c.Pause(); err != nil {
		return fail("pause: %v", err)
	}
	return subcommands.ExitSuccess
}

// Resume resumes a paused container.
type Resume struct{}

// Name implements subcommands.Command.
func (*Resume) Name() string { return "resume" }

// Synopsis implements subcommands.Command.
func (*Resume) Synopsis() string { return "resume a paused container" }

// Usage implements subcommands.Command.
func (*Resume) Usage() string { return "resume <container-id>\n" }

// SetFlags implements subcommands.Command.
func (*Resume) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (*Resume) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	id, ok := oneID("resume", f)
	if !ok {
		return subcommands.ExitUsageError
	}
	c, ok := load(confOf(args), id, true)
	if !ok {
		return subcommands.ExitFailure
	}
	defer c.Unlock()
	if err := c.Resume(); err != nil {
		return fail("resume: %v", err)
	}
	return subcommands.ExitSuccess
}
