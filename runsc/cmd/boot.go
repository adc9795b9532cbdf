package cmd

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/google/subcommands"

	"runsc.dev/boot"
)

// Boot is the sandbox process: the CLI re-executes runsc as `runsc boot` in fresh
// namespaces. It is not meant to be run by hand.
type Boot struct {
	specFD, goferFD, logFD, reportFD int
	// OCI containers (create/run): the spec is a boot.ContainerSpec.
	container                     bool
	mountFDs                      string
	controllerFD, readyFD, exitFD int
}

// Name implements subcommands.Command.
func (*Boot) Name() string { return "boot" }

// Synopsis implements subcommands.Command.
func (*Boot) Synopsis() string { return "run the sandbox process (internal; started by runsc)" }

// Usage implements subcommands.Command.
func (*Boot) Usage() string {
	return "boot --spec-fd=N --gofer-fd=N [--log-fd=N] [--report-fd=N]\n" +
		"boot --container --spec-fd=N --gofer-fd=N --controller-fd=N --ready-fd=N [--mount-fds=N,...] [--exit-fd=N] ...\n"
}

// SetFlags implements subcommands.Command.
func (b *Boot) SetFlags(f *flag.FlagSet) {
	f.IntVar(&b.specFD, "spec-fd", -1, "fd to read the sandbox spec from")
	f.IntVar(&b.goferFD, "gofer-fd", -1, "fd of the gofer connection")
	f.IntVar(&b.logFD, "log-fd", -1, "fd for debug logs")
	f.IntVar(&b.reportFD, "report-fd", -1, "fd for the unsupported-syscall report (default stderr)")
	f.BoolVar(&b.container, "container", false, "run an OCI container: the spec is a container spec and a controller is served")
	f.StringVar(&b.mountFDs, "mount-fds", "", "comma-separated fds of the gofers of bind-mounted directories")
	f.IntVar(&b.controllerFD, "controller-fd", -1, "fd of the listening controller socket")
	f.IntVar(&b.readyFD, "ready-fd", -1, "fd to report readiness (\"ok\" or an error) on")
	f.IntVar(&b.exitFD, "exit-fd", -1, "fd to write the container's exit code to")
}

// Execute implements subcommands.Command.
func (b *Boot) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	if b.specFD < 0 || b.goferFD < 0 {
		errorf("boot: --spec-fd and --gofer-fd are required (boot is started by runsc itself)")
		return subcommands.ExitUsageError
	}
	mountFDs, ok := b.parseMountFDs()
	if !ok {
		return subcommands.ExitUsageError
	}
	if b.container {
		return b.executeContainer(mountFDs)
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
		Spec: spec, GoferFD: b.goferFD, MountGoferFDs: mountFDs, Log: logw, Report: report, Confine: true,
	}))
}

// parseMountFDs parses --mount-fds.
func (b *Boot) parseMountFDs() ([]int, bool) {
	var mountFDs []int
	if b.mountFDs == "" {
		return nil, true
	}
	for _, s := range strings.Split(b.mountFDs, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			errorf("boot: --mount-fds: %q is not a file descriptor", s)
			return nil, false
		}
		mountFDs = append(mountFDs, n)
	}
	return mountFDs, true
}

// executeContainer runs the sandbox of an OCI container.
func (b *Boot) executeContainer(mountFDs []int) subcommands.ExitStatus {
	if b.controllerFD < 0 || b.readyFD < 0 {
		errorf("boot: --container needs --controller-fd and --ready-fd (boot is started by runsc itself)")
		return subcommands.ExitUsageError
	}
	ready := os.NewFile(uintptr(b.readyFD), "ready")
	specFile := os.NewFile(uintptr(b.specFD), "spec")
	spec, err := boot.ReadContainerSpec(specFile)
	specFile.Close()
	if err != nil {
		fmt.Fprintln(ready, err)
		ready.Close()
		return boot.ExitFailure
	}
	a := boot.ContainerArgs{
		Spec: spec, RootGoferFD: b.goferFD, MountGoferFDs: mountFDs,
		ControllerFD: b.controllerFD, Ready: ready,
	}
	if b.exitFD >= 0 {
		a.Exit = os.NewFile(uintptr(b.exitFD), "exit")
	}
	if b.logFD >= 0 {
		a.Log = os.NewFile(uintptr(b.logFD), "log")
	}
	a.Report = os.Stderr
	if b.reportFD >= 0 {
		a.Report = os.NewFile(uintptr(b.reportFD), "report")
	}
	return subcommands.ExitStatus(boot.RunContainer(a))
}
