package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"runsc.dev/boot/control"
	"runsc.dev/runsc/container"
)

// Wait waits for a container's init (or, with --pid, a process started by exec) and
// exits with its status, printing {"id":..., "exitStatus":...}. It forwards the
// signals it receives to that process: `exec --detach` leaves one of these running as
// the process that clients see.
type Wait struct {
	pid     int
	quiet   bool
	socket  string
	bound   bool
	readyFD int
}

// Name implements subcommands.Command.
func (*Wait) Name() string { return "wait" }

// Synopsis implements subcommands.Command.
func (*Wait) Synopsis() string { return "wait for a container (or one of its processes) to exit" }

// Usage implements subcommands.Command.
func (*Wait) Usage() string { return "wait [--pid PID] <container-id>\n" }

// SetFlags implements subcommands.Command.
func (w *Wait) SetFlags(f *flag.FlagSet) {
	f.IntVar(&w.pid, "pid", 0, "wait for this process (a PID in the sandbox, from exec) instead of the container's init")
	f.BoolVar(&w.quiet, "quiet", false, "print nothing; only exit with the status")
	f.StringVar(&w.socket, "socket", "", "the sandbox's controller socket (internal: the waiter of a pod's container, started before its state exists)")
	f.BoolVar(&w.bound, "bound", false, "the process (or container) is killed if this waiter is (internal: the waiters that stand for them on the host)")
	f.IntVar(&w.readyFD, "ready-fd", -1, "fd to close once the wait is registered with the sandbox (internal)")
}

// Execute implements subcommands.Command.
func (w *Wait) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	id, ok := oneID("wait", f)
	if !ok {
		return subcommands.ExitUsageError
	}
	var c *container.Container
	if w.socket != "" {
		c = &container.Container{State: container.State{ID: id, Socket: w.socket}}
	} else {
		var ok bool
		if c, ok = load(confOf(args), id, false); !ok {
			return subcommands.ExitFailure
		}
	}
	if w.pid < 0 {
		return usage("wait: --pid %d is not a process ID", w.pid)
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGCONT, unix.SIGALRM)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			control.Call(c.Socket, control.MethodSignal, &control.SignalArgs{ContainerID: c.ID, PID: int32(w.pid), Signo: int(s.(syscall.Signal))}, nil)
		}
	}()
	var ready *os.File
	if w.readyFD >= 0 {
		ready = os.NewFile(uintptr(w.readyFD), "ready")
	}
	code, err := c.WaitPIDNotify(int32(w.pid), w.bound, func() {
		if ready != nil {
			ready.Write([]byte{1})
			ready.Close()
		}
	})
	if err != nil {
		return fail("wait: %v", err)
	}
	if !w.quiet {
		b, _ := json.Marshal(struct {
			ID         string `json:"id"`
			ExitStatus int    `json:"exitStatus"`
		}{c.ID, code})
		fmt.Println(string(b))
	}
	return subcommands.ExitStatus(code)
}

// Events prints a container's resource statistics, once (--stats) or every interval
// until the container stops, as runc's events does.
type Events struct {
	stats    bool
	interval time.Duration
}

// Name implements subcommands.Command.
func (*Events) Name() string { return "events" }

// Synopsis implements subcommands.Command.
func (*Events) Synopsis() string { return "print a container's resource statistics (JSON)" }

// Usage implements subcommands.Command.
func (*Events) Usage() string { return "events [--stats] [--interval 5s] <container-id>\n" }

// SetFlags implements subcommands.Command.
func (e *Events) SetFlags(f *flag.FlagSet) {
	f.BoolVar(&e.stats, "stats", false, "print the statistics once and exit")
	f.DurationVar(&e.interval, "interval", 5*time.Second, "time between two statistics events")
}

type memUsage struct {
	Usage uint64 `json:"usage,omitempty"`
	Max   uint64 `json:"max,omitempty"`
	Limit uint64 `json:"limit"`
}

type statsEvent struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data struct {
		CPU struct {
			Usage struct {
				Total uint64 `json:"total"`
			} `json:"usage"`
		} `json:"cpu"`
		Memory struct {
			Usage memUsage `json:"usage"`
		} `json:"memory"`
		Pids struct {
			Current uint64 `json:"current"`
			Limit   uint64 `json:"limit,omitempty"`
		} `json:"pids"`
	} `json:"data"`
}

// Execute implements subcommands.Command.
func (e *Events) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := confOf(args)
	id, ok := oneID("events", f)
	if !ok {
		return subcommands.ExitUsageError
	}
	if e.interval <= 0 {
		return usage("events: --interval must be positive")
	}
	enc := json.NewEncoder(os.Stdout)
	for {
		c, ok := load(conf, id, false)
		if !ok {
			return subcommands.ExitFailure
		}
		st, cs, err := c.Stats()
		if err != nil {
			if c.Status == container.Stopped && !e.stats {
				return subcommands.ExitSuccess
			}
			return fail("events: %v", err)
		}
		var ev statsEvent
		ev.Type, ev.ID = "stats", id
		ev.Data.Memory.Usage.Usage = st.MemoryBytes
		ev.Data.Pids.Current = st.Pids
		if cs != nil {
			ev.Data.CPU.Usage.Total = cs.CPUUsageNanos
			if cs.MemoryUsage > 0 {
				ev.Data.Memory.Usage.Usage = cs.MemoryUsage
			}
			ev.Data.Memory.Usage.Max = cs.MemoryMaxUsage
			ev.Data.Memory.Usage.Limit = cs.MemoryLimit
			ev.Data.Pids.Limit = cs.PidsLimit
		}
		enc.Encode(&ev)
		if e.stats {
			return subcommands.ExitSuccess
		}
		time.Sleep(e.interval)
	}
}

// Ps lists a container's processes.
type Ps struct {
	format string
}

// Name implements subcommands.Command.
func (*Ps) Name() string { return "ps" }

// Synopsis implements subcommands.Command.
func (*Ps) Synopsis() string { return "list a container's processes" }

// Usage implements subcommands.Command.
func (*Ps) Usage() string {
	return "ps [--format table|json] <container-id>\n" +
		"  table: the processes inside the sandbox; json: the container's host PIDs (the sandbox).\n"
}

// SetFlags implements subcommands.Command.
func (p *Ps) SetFlags(f *flag.FlagSet) {
	stringVars(f, &p.format, "table", "output format: table or json", "format", "f")
}

// Execute implements subcommands.Command.
func (p *Ps) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := confOf(args)
	if f.NArg() < 1 {
		return usage("ps: missing container ID (usage: runsc ps [--format table|json] <container-id>)")
	}
	c, ok := load(conf, f.Arg(0), false)
	if !ok {
		return subcommands.ExitFailure
	}
	switch p.format {
	case "json":
		// The host's view: clients (the containerd shim, docker top) look these PIDs up
		// on the host, where the container's processes are the sandbox.
		pids := []int{}
		if pid := c.PID(); pid > 0 {
			pids = append(pids, pid)
		}
		b, _ := json.Marshal(pids)
		fmt.Println(string(b))
	case "table":
		ps, err := c.Processes()
		if err != nil {
			return fail("ps: %v", err)
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 8, 1, ' ', 0)
		fmt.Fprint(w, "UID\tPID\tPPID\tC\tSTIME\tTTY\tTIME\tCMD\n")
		for _, pr := range ps {
			stime := "?"
			if pr.Start != 0 {
				stime = time.Unix(0, pr.Start).Format("15:04")
			}
			cmd := pr.Cmd
			if len(pr.Args) > 0 {
				cmd = fmt.Sprint(pr.Args)
				cmd = cmd[1 : len(cmd)-1]
			}
			fmt.Fprintf(w, "%d\t%d\t%d\t0\t%s\t%s\t00:00:00\t%s\n", pr.UID, pr.PID, pr.PPID, stime, pr.TTY, cmd)
		}
		w.Flush()
	default:
		return usage("ps: --format %q is not table or json", p.format)
	}
	return subcommands.ExitSuccess
}
