package cmd

import (
	"context"
	"flag"

	"github.com/google/subcommands"
)

// Start starts a created container's process.
type Start struct{}

// Name implements subcommands.Command.
func (*Start) Name() string { return "start" }

// Synopsis implements subcommands.Command.
func (*Start) Synopsis() string { return "start a created container's process" }

// Usage implements subcommands.Command.
func (*Start) Usage() string { return "start <container-id>\n" }

// SetFlags implements subcommands.Command.
func (*Start) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (*Start) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := confOf(args)
	id, ok := oneID("start", f)
	if !ok {
		return subcommands.ExitUsageError
	}
	c, ok := load(conf, id, true)
	if !ok {
		return subcommands.ExitFailure
	}
	defer c.Unlock()
	if err := c.Start(); err != nil {
		return fail("start: %v", err)
	}
	return subcommands.ExitSuccess
}
