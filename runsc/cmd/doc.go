// Package cmd owns runsc's subcommands: one file per command, each parsing its own flags
// and calling into runsc/sandbox, boot or gofer to do the work.
//
// It holds no locks.
package cmd

import (
	"fmt"
	"os"

	"runsc.dev/runsc/config"
)

// fatalf prints a one-line error prefixed with "runsc: ".
func errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "runsc: "+format+"\n", args...)
}

// confOf extracts the global config passed to Execute.
func confOf(args []any) *config.Config {
	if len(args) > 0 {
		if c, ok := args[0].(*config.Config); ok {
			return c
		}
	}
	return &config.Config{Platform: "ptrace", Network: "none", LogFormat: "text"}
}

// Version is runsc's version as --version prints it.
const Version = "0.1.0-dev"
