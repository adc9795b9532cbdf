package cmd

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"runsc.dev/gofer"
)

// Gofer is the "runsc gofer" subcommand: the file server of one container. The
// CLI starts it in a new mount namespace with the container's root and one end
// of a SOCK_SEQPACKET socketpair whose other end goes to the sandbox.
type Gofer struct {
	root     string
	ioFD     int
	readOnly bool
}

// Name implements subcommands.Command.
func (*Gofer) Name() string { return "gofer" }

// Synopsis implements subcommands.Command.
func (*Gofer) Synopsis() string {
	return "serve a container's files to the sandbox (started by runsc itself)"
}

// Usage implements subcommands.Command.
func (*Gofer) Usage() string {
	return "gofer --root DIR --io-fd N [--ro]\n" +
		"  Confines itself to DIR (pivot_root in its own mount namespace) and serves\n" +
		"  the gofer protocol on the SOCK_SEQPACKET socket N until the peer closes it.\n"
}

// SetFlags implements subcommands.Command.
func (g *Gofer) SetFlags(f *flag.FlagSet) {
	f.StringVar(&g.root, "root", "", "absolute path of the directory to serve (required)")
	f.IntVar(&g.ioFD, "io-fd", -1, "file descriptor of the SOCK_SEQPACKET socket to serve on (required)")
	f.BoolVar(&g.readOnly, "ro", false, "serve the directory read-only")
}

// Execute implements subcommands.Command.
func (g *Gofer) Execute(_ context.Context, f *flag.FlagSet, _ ...interface{}) subcommands.ExitStatus {
	fail := func(format string, args ...any) subcommands.ExitStatus {
		fmt.Fprintf(os.Stderr, "runsc gofer: "+format+"\n", args...)
		return subcommands.ExitFailure
	}
	switch {
	case f.NArg() != 0:
		return fail("unexpected arguments %q", f.Args())
	case g.root == "":
		return fail("--root is required")
	case g.ioFD < 0:
		return fail("--io-fd is required (a file descriptor number >= 0)")
	}
	if typ, err := unix.GetsockoptInt(g.ioFD, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_SEQPACKET {
		return fail("--io-fd %d is not a SOCK_SEQPACKET socket", g.ioFD)
	}
	rootFD, err := gofer.Confine(g.root, g.readOnly)
	if err != nil {
		return fail("confining to %q: %v", g.root, err)
	}
	if err := gofer.Serve(g.ioFD, rootFD, g.readOnly); err != nil {
		return fail("serving on fd %d: %v", g.ioFD, err)
	}
	return subcommands.ExitSuccess
}
