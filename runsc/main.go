// Command runsc is the sandbox runtime: an OCI runtime CLI (runc-compatible), the ad hoc
// `runsc do`, and, re-executed by itself, the sandbox (`runsc boot`) and file server
// (`runsc gofer`) processes.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/google/subcommands"

	"runsc.dev/runsc/cmd"
	"runsc.dev/runsc/config"
)

func main() {
	conf := &config.Config{}
	conf.Register(flag.CommandLine)

	subcommands.Register(subcommands.HelpCommand(), "")
	subcommands.Register(subcommands.FlagsCommand(), "")
	subcommands.Register(new(cmd.Do), "")
	subcommands.Register(new(cmd.Syscalls), "")
	subcommands.Register(new(cmd.Boot), "internal")
	subcommands.Register(new(cmd.Gofer), "internal")

	flag.CommandLine.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: runsc [global flags] <command> [args]\n\n")
		subcommands.DefaultCommander.Explain(os.Stderr)
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.CommandLine.Usage()
		os.Exit(2)
	}
	if err := conf.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "runsc: %v\n", err)
		os.Exit(2)
	}
	os.Exit(int(subcommands.Execute(context.Background(), conf)))
}
