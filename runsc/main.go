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

	"github.com/google/subcommands"

	"runsc.dev/runsc/cmd"
	"runsc.dev/runsc/config"
)

func main() {
	fs := flag.CommandLine
	fs.Init("runsc", flag.ContinueOnError)
	conf := &config.Config{}
	conf.Register(fs)

	cdr := subcommands.NewCommander(fs, "runsc")
	cdr.Register(cdr.HelpCommand(), "")
	cdr.Register(cdr.FlagsCommand(), "")
	cdr.Register(new(cmd.Do), "")
	cdr.Register(new(cmd.Syscalls), "")
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
	os.Exit(int(cdr.Execute(context.Background(), conf)))
}
