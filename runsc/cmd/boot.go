package cmd

import (
	"context"
	"flag"
	"io"
	"os"

	"github.com/google/subcommands"

	"runsc.dev/boot"
)

// Boot is the sandbox process: the CLI re-executes runsc as `runsc boot` in fresh
// namespaces. It is not meant to be run by hand.
type Boot struct {
	specFD, goferFD, logFD, reportFD int
}

// Name implements subcommands.Command.
func (*Boot) Name() string { return "boot" }

// Synopsis implements subcommands.Command.
func (*Boot) Synopsis() string { return "run the sandbox process (internal; started by runsc)" }

// Usage implements subcommands.Command.
func (*Boot) Usage() string {
	return "boot --spec-fd=N --gofer-fd=N [--log-fd=N] [--report-fd=N]\n"
}

// SetFlags implements subcommands.Command.
func (b *Boot) SetFlags(f *flag.FlagSet) {
	f.IntVar(&b.specFD, "spec-fd", -1, "fd to read the sandbox spec from")
	f.IntVar(&b.goferFD, "gofer-fd", -1, "fd of the gofer connection")
	f.IntVar(&b.logFD, "log-fd", -1, "fd for debug logs")
	f.IntVar(&b.reportFD, "report-fd", -1, "fd for the unsupported-syscall report (default stderr)")
}

// Execute implements subcommands.Command.
func (b *Boot) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if b.specFD < 0 || b.goferFD < 0 {
		errorf("boot: --spec-fd and --gofer-fd are required (boot is started by runsc itself)")
		return subcommands.ExitUsageError
	}
	specFile := os.NewFile(uintptr(b.specFD), "spec")
	spec, err := boot.ReadSpec(specFile)
	specFile.Close()
	if err != nil {
		errorf("boot: %v", err)
		return boot.ExitFailure
	}
	var logw io.Writer
	if b.logFD >= 0 {
		logw = os.NewFile(uintptr(b.logFD), "log")
	}
	var report io.Writer = os.Stderr
	if b.reportFD >= 0 {
		report = os.NewFile(uintptr(b.reportFD), "report")
	}
	return subcommands.ExitStatus(boot.Run(boot.Args{
		Spec: spec, GoferFD: b.goferFD, Log: logw, Report: report, Confine: true,
	}))
}
