// Command runsc is the sandbox runtime: an OCI runtime CLI (runc-compatible), the ad hoc
// `runsc do`, and, re-executed by itself, the sandbox (`runsc boot`) and file server
// (`runsc gofer`) processes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"runsc.dev/runsc/cmd"
	"runsc.dev/runsc/config"
	"runsc.dev/runsc/logging"
)

func main() {
	fs := flag.CommandLine
	fs.Init("runsc", flag.ContinueOnError)
	conf := &config.Config{}
	conf.Register(fs)
	rf := &config.RuncFlags{}
	rf.Register(fs)
	version := fs.Bool("version", false, "print the version and exit")
	fs.BoolVar(version, "v", false, "print the version and exit")

	cdr := subcommands.NewCommander(fs, "runsc")
	cdr.Register(cdr.HelpCommand(), "")
	cdr.Register(cdr.FlagsCommand(), "")
	cdr.Register(new(cmd.Do), "")
	cdr.Register(new(cmd.Syscalls), "")
	for _, c := range []subcommands.Command{
		new(cmd.Create), new(cmd.Start), new(cmd.Run), new(cmd.State), new(cmd.Kill),
		new(cmd.Delete), new(cmd.List), new(cmd.Ps), new(cmd.Exec), new(cmd.Wait),
		new(cmd.Events), new(cmd.Pause), new(cmd.Resume), new(cmd.Spec), new(cmd.Features),
	} {
		cdr.Register(c, "OCI runtime (runc-compatible)")
	}
	cdr.Register(new(cmd.Install), "Docker")
	cdr.Register(new(cmd.Uninstall), "Docker")
	cdr.Register(new(cmd.Boot), "internal")
	cdr.Register(new(cmd.Gofer), "internal")
	known := map[string]bool{}
	cdr.VisitCommands(func(_ *subcommands.CommandGroup, c subcommands.Command) { known[c.Name()] = true })

	// Usage errors are one line naming what is wrong; `runsc help [command]` explains.
	explain := cdr.ExplainCommand
	cdr.ExplainCommand = func(w io.Writer, c subcommands.Command) {
		if w == cdr.Error {
			return
		}
		explain(w, c)
	}

	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			cdr.Explain(os.Stdout)
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "runsc: %v (see 'runsc help')\n", err)
		os.Exit(2)
	}
	fs.SetOutput(os.Stderr)
	if *version {
		fmt.Printf("runsc version %s\nspec: %s\n", cmd.Version, specs.Version)
		os.Exit(0)
	}
	if fs.NArg() == 0 {
		cdr.Explain(os.Stderr)
		os.Exit(2)
	}
	if !known[fs.Arg(0)] {
		fmt.Fprintf(os.Stderr, "runsc: unknown command %q (see 'runsc help')\n", fs.Arg(0))
		os.Exit(2)
	}
	if err := conf.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "runsc: %v\n", err)
		os.Exit(2)
	}
	if err := rf.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "runsc: %v\n", err)
		os.Exit(2)
	}
	if err := logging.Init(conf.LogFile, conf.LogFormat, conf.Debug); err != nil {
		fmt.Fprintf(os.Stderr, "runsc: %v\n", err)
		os.Exit(1)
	}
	for _, f := range rf.Ignored() {
		logging.Debugf("global flag %s ignored: it has no effect in runsc", f)
	}
	logging.Debugf("runsc %s", strings.Join(os.Args[1:], " "))
	os.Exit(int(cdr.Execute(context.Background(), conf, rf)))
}
