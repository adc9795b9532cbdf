package cmd

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"runsc.dev/boot/control"
	"runsc.dev/runsc/console"
	"runsc.dev/runsc/container"
	"runsc.dev/runsc/logging"
)

// Run creates and starts a container; without --detach it waits for the container's
// process, proxying its stdio (and terminal), and exits with its status.
type Run struct {
	bundle, consoleSocket, pidFile string
	detach, keep                   bool
	ignored                        ignoredFlags
}

// Name implements subcommands.Command.
func (*Run) Name() string { return "run" }

// Synopsis implements subcommands.Command.
func (*Run) Synopsis() string { return "create and start a container (runc-compatible)" }

// Usage implements subcommands.Command.
func (*Run) Usage() string {
	return "run [--bundle DIR] [--detach] [--console-socket PATH] [--pid-file PATH] [--keep] <container-id>\n"
}

// SetFlags implements subcommands.Command.
func (r *Run) SetFlags(f *flag.FlagSet) {
	stringVars(f, &r.bundle, "", "bundle directory (default: the current directory)", "bundle", "b")
	f.StringVar(&r.consoleSocket, "console-socket", "", "unix socket that receives the pty master when process.terminal is set")
	f.StringVar(&r.pidFile, "pid-file", "", "file to write the container's PID (the sandbox's) to")
	boolVars(f, &r.detach, "detach: return once the container has started", "detach", "d")
	f.BoolVar(&r.keep, "keep", false, "do not delete the container after it exits")
	r.ignored.add(f, true, "runc: do not use pivot_root", "no-pivot")
	r.ignored.add(f, true, "runc: do not create a session keyring", "no-new-keyring")
	r.ignored.add(f, true, "runc: do not become a subreaper", "no-subreaper")
	r.ignored.add(f, false, "runc: pass N extra fds", "preserve-fds")
	r.ignored.add(f, false, "runc: pidfd socket", "pidfd-socket")
}

// Execute implements subcommands.Command.
func (r *Run) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf, rf := confOf(args), runcOf(args)
	id, ok := oneID("run", f)
	if !ok {
		return subcommands.ExitUsageError
	}
	r.ignored.logIgnored("run")
	res, err := container.Create(container.CreateArgs{
		Root: conf.RootDir, ID: id, Bundle: r.bundle, Conf: conf, SystemdCgroup: rf.SystemdCgroup,
		ConsoleSocket: r.consoleSocket, PIDFile: r.pidFile, ProxyTerminal: !r.detach && r.consoleSocket == "",
	})
	if err != nil {
		return fail("run: %v", err)
	}
	c := res.Container
	// Signals for the container arrive while it starts: forward them once it runs.
	sigs := make(chan os.Signal, 16)
	if !r.detach {
		signal.Notify(sigs)
		defer signal.Stop(sigs)
	}
	if err := c.Start(); err != nil {
		c.Delete(true)
		c.Unlock()
		return fail("run: %v", err)
	}
	c.Unlock()
	if r.detach {
		return subcommands.ExitSuccess
	}
	var wait, restore func()
	if res.Master != nil {
		wait, restore = console.Proxy(res.Master)
	}
	go func() {
		for s := range sigs {
			sig := s.(syscall.Signal)
			switch sig {
			case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
				continue
			case unix.SIGWINCH:
				if res.Master != nil {
					continue // the proxy resizes the terminal
				}
			}
			control.Call(c.Socket, control.MethodSignal, &control.SignalArgs{ContainerID: c.ID, Signo: int(sig)}, nil)
		}
	}()
	res.Sandbox.Cmd.Wait()
	code := exitCode(res.Sandbox.Cmd.ProcessState)
	if wait != nil {
		// The output ends when the sandbox, the last holder of the replica, is gone.
		done := make(chan struct{})
		go func() {
			wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(time.Second):
		}
		restore()
		res.Master.Close()
	}
	if !r.keep {
		if d, err := container.Load(conf.RootDir, id, true); err == nil {
			if err := d.Delete(true); err != nil {
				logging.Warningf("run: deleting the container: %v", err)
			}
			d.Unlock()
		}
	}
	return subcommands.ExitStatus(code)
}

func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return 1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
