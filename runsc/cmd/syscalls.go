package cmd

import (
	"context"
	"flag"
	"fmt"

	"github.com/google/subcommands"

	"runsc.dev/sentry/syscalls"
)

// Syscalls prints the syscall table.
type Syscalls struct{}

// Name implements subcommands.Command.
func (*Syscalls) Name() string { return "syscalls" }

// Synopsis implements subcommands.Command.
func (*Syscalls) Synopsis() string { return "print the syscall table: number, name, status, note" }

// Usage implements subcommands.Command.
func (*Syscalls) Usage() string { return "syscalls\n" }

// SetFlags implements subcommands.Command.
func (*Syscalls) SetFlags(*flag.FlagSet) {}

// Execute implements subcommands.Command.
func (*Syscalls) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if f.NArg() != 0 {
		errorf("syscalls takes no arguments")
		return subcommands.ExitUsageError
	}
	fmt.Print(syscalls.Describe())
	return subcommands.ExitSuccess
}
