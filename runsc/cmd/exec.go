package cmd

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"runsc.dev/boot/control"
	"runsc.dev/runsc/console"
	"runsc.dev/runsc/container"
	"runsc.dev/runsc/sandbox"
	"runsc.dev/specutils"
)

// Exec runs a new process in a running container.
type Exec struct {
	processFile, cwd, user, consoleSocket, pidFile string
	env, caps, gids                                stringList
	tty, detach, noNewPrivs, ignorePaused          bool
	ignored                                        ignoredFlags
}

// Name implements subcommands.Command.
func (*Exec) Name() string { return "exec" }

// Synopsis implements subcommands.Command.
func (*Exec) Synopsis() string { return "run a new process in a running container" }

// Usage implements subcommands.Command.
func (*Exec) Usage() string {
	return "exec [flags] <container-id> COMMAND [ARG...]\n" +
		"exec [flags] --process process.json <container-id>\n"
}

// SetFlags implements subcommands.Command.
func (e *Exec) SetFlags(f *flag.FlagSet) {
	stringVars(f, &e.processFile, "", "JSON file with the process (an OCI process object)", "process", "p")
	f.StringVar(&e.cwd, "cwd", "", "working directory in the container")
	stringVars(f, &e.user, "", "UID[:GID] to run as", "user", "u")
	f.StringVar(&e.consoleSocket, "console-socket", "", "unix socket that receives the pty master (with --tty)")
	f.StringVar(&e.pidFile, "pid-file", "", "file to write the PID of the process's waiter to")
	f.Var(&e.env, "env", "set an environment variable K=V (repeatable)")
	f.Var(&e.env, "e", "set an environment variable K=V (repeatable)")
	f.Var(&e.caps, "cap", "add a capability (repeatable)")
	f.Var(&e.caps, "c", "add a capability (repeatable)")
	f.Var(&e.gids, "additional-gids", "add a supplementary group (repeatable)")
	f.Var(&e.gids, "g", "add a supplementary group (repeatable)")
	boolVars(f, &e.tty, "allocate a pseudo-terminal", "tty", "t")
	boolVars(f, &e.detach, "return once the process has started", "detach", "d")
	f.BoolVar(&e.noNewPrivs, "no-new-privs", false, "set no_new_privs for the process")
	f.BoolVar(&e.ignorePaused, "ignore-paused", false, "allow exec in a paused container")
	e.ignored.add(f, false, "runc: SELinux process label", "process-label")
	e.ignored.add(f, false, "runc: AppArmor profile", "apparmor")
	e.ignored.add(f, false, "runc: pass N extra fds", "preserve-fds")
	e.ignored.add(f, false, "runc: sub-cgroup to join", "cgroup")
	e.ignored.add(f, false, "runc: pidfd socket", "pidfd-socket")
}

// process builds the process to run: from --process, or from the container's own
// process with the command line and flags applied.
func (e *Exec) process(c *container.Container, args []string) (*specs.Process, error) {
	if e.processFile != "" {
		f, err := os.Open(e.processFile)
		if err != nil {
			return nil, fmt.Errorf("--process: %w", err)
		}
		defer f.Close()
		return specutils.DecodeProcess(f, e.processFile)
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("missing the command to run (usage: runsc exec [flags] <container-id> COMMAND [ARG...])")
	}
	base := c.Spec.Process
	p := &specs.Process{
		Args: args, Env: append([]string(nil), base.Env...), Cwd: base.Cwd, User: base.User,
		Capabilities: base.Capabilities, NoNewPrivileges: base.NoNewPrivileges || e.noNewPrivs,
		Rlimits: base.Rlimits, Terminal: e.tty,
	}
	for _, kv := range e.env {
		if !strings.Contains(kv, "=") || strings.HasPrefix(kv, "=") {
			return nil, fmt.Errorf("--env %q: want KEY=VALUE", kv)
		}
		p.Env = setEnv(p.Env, kv)
	}
	if e.cwd != "" {
		p.Cwd = e.cwd
	}
	if e.user != "" {
		uid, gid, hasGID, err := parseUser(e.user)
		if err != nil {
			return nil, err
		}
		p.User = specs.User{UID: uid, GID: p.User.GID}
		if hasGID {
			p.User.GID = gid
		}
	}
	for _, g := range e.gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--additional-gids %q: not a number", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
	}
	if len(e.caps) > 0 {
		caps := &specs.LinuxCapabilities{}
		if base.Capabilities != nil {
			*caps = *base.Capabilities
		}
		for _, name := range e.caps {
			if _, err := specutils.CapabilityMask([]string{name}); err != nil {
				return nil, fmt.Errorf("--cap: %w", err)
			}
			caps.Bounding = append(caps.Bounding, name)
			caps.Effective = append(caps.Effective, name)
			caps.Permitted = append(caps.Permitted, name)
		}
		p.Capabilities = caps
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	return p, nil
}

// Execute implements subcommands.Command.
func (e *Exec) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := confOf(args)
	if f.NArg() < 1 {
		return usage("exec: missing container ID (usage: runsc exec [flags] <container-id> COMMAND [ARG...])")
	}
	e.ignored.logIgnored("exec")
	c, ok := load(conf, f.Arg(0), false)
	if !ok {
		return subcommands.ExitFailure
	}
	sp, err := e.process(c, f.Args()[1:])
	if err != nil {
		return fail("exec: %v", err)
	}
	if err := specutils.ValidateProcess(sp); err != nil {
		return fail("exec: %v", err)
	}
	if c.Status == container.Paused && e.ignorePaused {
		c.Status = container.Running
	}
	var rl []control.Rlimit
	for _, r := range sp.Rlimits {
		if n, ok := specutils.RlimitNumber(r.Type); ok {
			rl = append(rl, control.Rlimit{Resource: n, Soft: r.Soft, Hard: r.Hard})
		}
	}
	p := &control.Process{
		Argv: sp.Args, Env: sp.Env, Cwd: sp.Cwd, UID: sp.User.UID, GID: sp.User.GID,
		AdditionalGIDs: sp.User.AdditionalGids, Umask: sp.User.Umask,
		NoNewPrivs: sp.NoNewPrivileges, Rlimits: rl, Terminal: sp.Terminal,
	}
	if cp := sp.Capabilities; cp != nil {
		mask := func(n []string) uint64 { m, _ := specutils.CapabilityMask(n); return m }
		p.Caps = &control.Caps{Bounding: mask(cp.Bounding), Effective: mask(cp.Effective), Permitted: mask(cp.Permitted), Inheritable: mask(cp.Inheritable), Ambient: mask(cp.Ambient)}
	}

	var stdio []*os.File
	var master *os.File
	if sp.Terminal {
		if e.consoleSocket == "" && e.detach {
			return fail("exec: --tty with --detach needs a --console-socket")
		}
		if e.consoleSocket != "" {
			if err := console.CheckSocket(e.consoleSocket); err != nil {
				return fail("exec: %v", err)
			}
		}
		m, replica, err := console.NewPty()
		if err != nil {
			return fail("exec: %v", err)
		}
		defer replica.Close()
		if cs := sp.ConsoleSize; cs != nil {
			console.SetSize(replica, cs.Width, cs.Height)
		}
		if e.consoleSocket != "" {
			err := console.SendMaster(e.consoleSocket, m)
			m.Close()
			if err != nil {
				return fail("exec: %v", err)
			}
		} else {
			master = m
			defer master.Close()
		}
		stdio = []*os.File{replica}
	} else {
		null := devNull()
		if null != nil {
			defer null.Close()
		}
		for i, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
			if _, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0); err != nil && null != nil {
				p.StdioClosed[i] = true
				f = null
			}
			stdio = append(stdio, f)
		}
	}
	pid, err := c.Exec(p, stdio)
	if err != nil {
		return fail("exec: %v", err)
	}
	for _, f := range stdio {
		if sp.Terminal {
			f.Close() // the replica: the sandbox holds it now
		}
	}
	if e.detach {
		return e.startWaiter(conf.RootDir, c, pid, globalFlagsFor(conf, c))
	}
	if e.pidFile != "" {
		if err := writeFileAtomic(e.pidFile, strconv.Itoa(os.Getpid())); err != nil {
			return fail("exec: %v", err)
		}
	}
	return waitExec(c, pid, master)
}

// startWaiter starts `runsc wait --pid` for the process: a host process whose exit
// status is the process's, and that forwards signals to it (what the containerd shim
// and conmon expect of the PID in --pid-file). Its PID goes to the pid file.
func (e *Exec) startWaiter(root string, c *container.Container, pid int32, flags []string) subcommands.ExitStatus {
	args := append(flags, "wait", "--pid="+strconv.Itoa(int(pid)), "--quiet", "--bound", "--ready-fd=3", c.ID)
	w := exec.Command("/proc/self/exe", args...)
	w.Args[0] = "runsc-exec-wait"
	if null := devNull(); null != nil {
		defer null.Close()
		w.Stdin, w.Stdout, w.Stderr = null, null, null
	}
	w.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := sandbox.StartBoundWaiter(w); err != nil {
		return fail("exec: starting the waiter: %v", err)
	}
	if e.pidFile != "" {
		if err := writeFileAtomic(e.pidFile, strconv.Itoa(w.Process.Pid)); err != nil {
			w.Process.Kill()
			return fail("exec: %v", err)
		}
	}
	w.Process.Release()
	return subcommands.ExitSuccess
}

// waitExec waits for an exec'd process, forwarding signals and proxying a terminal.
func waitExec(c *container.Container, pid int32, master *os.File) subcommands.ExitStatus {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			sig := s.(syscall.Signal)
			switch sig {
			case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
				continue
			case unix.SIGWINCH:
				if master != nil {
					continue
				}
			}
			control.Call(c.Socket, control.MethodSignal, &control.SignalArgs{ContainerID: c.ID, PID: pid, Signo: int(sig)}, nil)
		}
	}()
	var wait, restore func()
	if master != nil {
		wait, restore = console.Proxy(master)
	}
	code, err := c.WaitPID(pid, false)
	if wait != nil {
		done := make(chan struct{})
		go func() {
			wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(500 * time.Millisecond):
		}
		restore()
	}
	if err != nil {
		return fail("exec: waiting for the process: %v", err)
	}
	return subcommands.ExitStatus(code)
}

// writeFileAtomic writes data to path through a temporary file and a rename.
func writeFileAtomic(path, data string) error {
	tmp := path + ".runsc-tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
