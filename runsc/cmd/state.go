package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/google/subcommands"

	"runsc.dev/runsc/container"
)

// State prints a container's OCI state as JSON.
type State struct{}

// Name implements subcommands.Command.
func (*State) Name() string { return "state" }

// Synopsis implements subcommands.Command.
func (*State) Synopsis() string { return "print a container's OCI state (JSON)" }

// Usage implements subcommands.Command.
func (*State) Usage() string { return "state <container-id>\n" }

// SetFlags implements subcommands.Command.
func (*State) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (*State) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := confOf(args)
	id, ok := oneID("state", f)
	if !ok {
		return subcommands.ExitUsageError
	}
	c, ok := load(conf, id, false)
	if !ok {
		return subcommands.ExitFailure
	}
	b, err := json.MarshalIndent(c.OCI(), "", "  ")
	if err != nil {
		return fail("state: %v", err)
	}
	os.Stdout.Write(append(b, '\n'))
	return subcommands.ExitSuccess
}

// List lists the containers under --root.
type List struct {
	format string
	quiet  bool
}

// Name implements subcommands.Command.
func (*List) Name() string { return "list" }

// Synopsis implements subcommands.Command.
func (*List) Synopsis() string { return "list containers (table, or --format json)" }

// Usage implements subcommands.Command.
func (*List) Usage() string { return "list [--format table|json] [--quiet]\n" }

// SetFlags implements subcommands.Command.
func (l *List) SetFlags(f *flag.FlagSet) {
	stringVars(f, &l.format, "table", "output format: table or json", "format", "f")
	boolVars(f, &l.quiet, "print only the container IDs", "quiet", "q")
}

// Execute implements subcommands.Command.
func (l *List) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := confOf(args)
	if f.NArg() != 0 {
		return usage("list takes no arguments")
	}
	cs, err := container.List(conf.RootDir)
	if err != nil {
		return fail("list: %v", err)
	}
	if l.quiet {
		for _, c := range cs {
			fmt.Println(c.ID)
		}
		return subcommands.ExitSuccess
	}
	switch l.format {
	case "json":
		states := []container.OCIState{}
		for _, c := range cs {
			states = append(states, c.OCI())
		}
		b, _ := json.Marshal(states)
		os.Stdout.Write(append(b, '\n'))
	case "table":
		w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
		fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
		for _, c := range cs {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", c.ID, c.PID(), c.Status, c.Bundle, c.Created.Format(time.RFC3339Nano), c.Owner)
		}
		w.Flush()
	default:
		return usage("list: --format %q is not table or json", l.format)
	}
	return subcommands.ExitSuccess
}
