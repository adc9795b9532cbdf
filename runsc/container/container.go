package container

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"runsc.dev/boot/control"
	"runsc.dev/runsc/cgroup"
	"runsc.dev/runsc/config"
	"runsc.dev/runsc/console"
	"runsc.dev/runsc/logging"
	"runsc.dev/runsc/sandbox"
	"runsc.dev/specutils"
)

// CreateArgs are create's (and run's) inputs.
type CreateArgs struct {
	Root, ID, Bundle string
	Conf             *config.Config
	SystemdCgroup    bool
	ConsoleSocket    string
	PIDFile          string
	// ProxyTerminal: with process.terminal and no console socket, the caller (a
	// foreground run) proxies the terminal itself; Create returns the pty master.
	ProxyTerminal bool
}

// CreateResult is a created container, locked, and what the caller may still need.
type CreateResult struct {
	*Container
	Sandbox *sandbox.Started
	// Master is the pty master when the caller proxies the terminal.
	Master *os.File
}

// checkRlimits refuses limits that setrlimit would refuse in the container's process, as
// runc's init does: soft above hard, or a hard limit above the current one without
// CAP_SYS_RESOURCE (and RLIMIT_NOFILE above fs.nr_open).
func checkRlimits(p *specs.Process) error {
	privileged := hasCapSysResource()
	nrOpen := uint64(1 << 20)
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			nrOpen = n
		}
	}
	for _, r := range p.Rlimits {
		n, _ := specutils.RlimitNumber(r.Type)
		var cur unix.Rlimit
		if err := unix.Getrlimit(n, &cur); err != nil {
			continue
		}
		switch {
		case r.Soft > r.Hard:
			return fmt.Errorf("error setting rlimit type %d (%s): %v", n, r.Type, unix.EINVAL)
		case r.Hard > cur.Max && !privileged:
			return fmt.Errorf("error setting rlimit type %d (%s): %v (hard limit %d is above this host's %d and CAP_SYS_RESOURCE is missing)", n, r.Type, unix.EPERM, r.Hard, cur.Max)
		case n == unix.RLIMIT_NOFILE && r.Hard > nrOpen:
			return fmt.Errorf("error setting rlimit type %d (%s): %v (above fs.nr_open %d)", n, r.Type, unix.EPERM, nrOpen)
		}
	}
	return nil
}

func hasCapSysResource() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && m&(1<<24) != 0
		}
	}
	return false
}

// needsCgroup says whether the container gets a cgroup: when the spec names one or
// asks for limits.
func needsCgroup(spec *specs.Spec) bool {
	l := spec.Linux
	if l == nil {
		return false
	}
	if l.CgroupsPath != "" {
		return true
	}
	r := l.Resources
	return r != nil && (r.Memory != nil || r.CPU != nil || r.Pids != nil)
}

// Create creates a container: its state, cgroup, gofers and sandbox (with the init
// process built but not started), runs the create-time hooks and writes the pid file.
// On error nothing is left behind. The returned container is locked.
func Create(a CreateArgs) (_ *CreateResult, err error) {
	if err := specutils.ValidateID(a.ID); err != nil {
		return nil, err
	}
	spec, bundle, err := specutils.LoadBundle(a.Bundle)
	if err != nil {
		return nil, err
	}
	for _, w := range specutils.Unsupported(spec) {
		logging.Warningf("%s", w)
	}
	if err := checkRlimits(spec.Process); err != nil {
		return nil, fmt.Errorf("process.rlimits: %w", err)
	}
	if spec.Process.Terminal && a.ConsoleSocket == "" && !a.ProxyTerminal {
		return nil, errors.New("process.terminal is set: a --console-socket is needed to receive the terminal")
	}
	if !spec.Process.Terminal && a.ConsoleSocket != "" {
		return nil, errors.New("--console-socket given but process.terminal is not set")
	}
	if a.ConsoleSocket != "" {
		if err := console.CheckSocket(a.ConsoleSocket); err != nil {
			return nil, err
		}
	}
	// A pod's container joins the sandbox of its pod's first container.
	joinSocket := ""
	if sid, ok := PodSandboxID(spec, a.ID); ok {
		sb, err := Load(a.Root, sid, false)
		if err != nil {
			return nil, fmt.Errorf("the pod's sandbox container %q: %w", sid, err)
		}
		if sb.Status != Created && sb.Status != Running {
			return nil, fmt.Errorf("the pod's sandbox container %q is %s", sid, sb.Status)
		}
		joinSocket = sb.Socket
	}
	if err := os.MkdirAll(a.Root, 0o711); err != nil {
		return nil, fmt.Errorf("creating the state directory %s: %w", a.Root, err)
	}
	dir := filepath.Join(a.Root, a.ID)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if os.IsExist(err) {
			return nil, fmt.Errorf("container with ID %q already exists", a.ID)
		}
		return nil, fmt.Errorf("creating the container's state directory: %w", err)
	}
	c := &Container{dir: dir, lockFD: -1}
	if c.lockFD, err = lockDir(dir); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("locking the new container: %w", err)
	}
	var sb *sandbox.Started
	var master *os.File
	defer func() {
		if err != nil {
			if master != nil {
				master.Close()
			}
			c.teardown(sb)
			c.Unlock()
		}
	}()
	owner := ""
	if u, uerr := user.LookupId(strconv.Itoa(os.Getuid())); uerr == nil {
		owner = u.Username
	}
	c.State = State{
		Version: spec.Version, ID: a.ID, Status: Creating, Bundle: bundle,
		Rootfs: specutils.RootfsPath(spec, bundle), Created: time.Now().UTC(), Owner: owner,
		Annotations: spec.Annotations, Spec: spec,
		Config: SavedConfig{
			Platform: a.Conf.Platform, Network: a.Conf.Network, Overlay: a.Conf.Overlay,
			DebugLog: a.Conf.DebugLog, Debug: a.Conf.Debug, Strace: a.Conf.Strace,
			SystemdCgroup: a.SystemdCgroup,
		},
	}
	if err := c.save(); err != nil {
		return nil, err
	}

	if needsCgroup(spec) {
		cg, cerr := cgroup.New(spec.Linux.CgroupsPath, a.SystemdCgroup, a.ID)
		if cerr != nil {
			return nil, fmt.Errorf("linux.cgroupsPath: %w", cerr)
		}
		c.Cgroup = cg
		if a.SystemdCgroup {
			logging.Debugf("systemd cgroup driver: creating %s directly (systemd is not contacted)", cg.Path)
		}
		if err := cg.Create(spec.Linux.Resources); err != nil {
			return nil, err
		}
	}

	stdio := [3]*os.File{os.Stdin, os.Stdout, os.Stderr}
	var replica *os.File
	if spec.Process.Terminal {
		master, replica, err = console.NewPty()
		if err != nil {
			return nil, err
		}
		defer replica.Close()
		if cs := spec.Process.ConsoleSize; cs != nil {
			console.SetSize(replica, cs.Width, cs.Height)
		}
		stdio = [3]*os.File{replica, replica, replica}
	}
	logging.Debugf("create %s: state saved; starting the sandbox", a.ID)
	sb, err = sandbox.StartContainer(sandbox.ContainerArgs{
		ID: a.ID, Spec: spec, Rootfs: c.Rootfs, Conf: a.Conf, Dir: dir, Stdio: stdio,
		Terminal: spec.Process.Terminal,
		Joined: func(pids []int) error {
			// Recorded at once: should this command die before the end, a delete
			// still finds the processes to stop.
			if c.SandboxPID == 0 && len(pids) > 0 {
				c.SandboxPID = pids[len(pids)-1]
				c.SandboxStart, _ = sandbox.ProcessStart(c.SandboxPID)
				c.GoferPIDs = append([]int(nil), pids[:len(pids)-1]...)
				c.save()
			}
			if c.Cgroup == nil {
				return nil
			}
			for _, p := range pids {
				if err := c.Cgroup.Add(p); err != nil {
					return err
				}
			}
			return nil
		},
		Warn:        logging.Warningf,
		JoinSocket:  joinSocket,
		WaiterFlags: waiterFlags(a.Conf),
	})
	if err != nil {
		return nil, err
	}
	if joinSocket != "" {
		c.PodSandbox, _ = PodSandboxID(spec, a.ID)
	}
	logging.Debugf("create %s: sandbox %d ready", a.ID, sb.SandboxPID)
	c.SandboxPID = sb.SandboxPID
	c.SandboxStart, _ = sandbox.ProcessStart(sb.SandboxPID)
	c.GoferPIDs = sb.GoferPIDs
	c.Socket = sb.Socket
	c.Status = Created
	if a.ConsoleSocket != "" {
		if err := console.SendMaster(a.ConsoleSocket, master); err != nil {
			return nil, err
		}
		master.Close()
		master = nil
	}
	for _, kind := range []string{"prestart", "createRuntime", "createContainer"} {
		if err := c.runHooks(kind); err != nil {
			return nil, err
		}
	}
	if a.PIDFile != "" {
		if err := writePIDFile(a.PIDFile, c.SandboxPID); err != nil {
			return nil, err
		}
	}
	if err := c.save(); err != nil {
		return nil, err
	}
	return &CreateResult{Container: c, Sandbox: sb, Master: master}, nil
}

// writePIDFile writes pid to path atomically, as runc does.
func writePIDFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(abs), "."+filepath.Base(abs)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("writing the pid file: %w", err)
	}
	if err := os.Rename(tmp, abs); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing the pid file: %w", err)
	}
	return nil
}

// teardown stops the sandbox and gofers, removes the cgroup and the state directory.
func (c *Container) teardown(sb *sandbox.Started) {
	c.stopSandbox()
	if sb != nil && sb.Cmd != nil {
		sb.Cmd.Wait()
	}
	if c.Cgroup != nil {
		if err := c.Cgroup.Destroy(); err != nil {
			logging.Warningf("%v", err)
		}
	}
	os.RemoveAll(c.dir)
}

// stopSandbox makes sure the sandbox and gofers are gone: Destroy through the
// controller, then SIGKILL for whatever is left.
func (c *Container) stopSandbox() {
	if c.SandboxPID > 0 && sandbox.Alive(c.SandboxPID, c.SandboxStart) {
		if c.Socket != "" {
			done := make(chan struct{})
			go func() {
				control.Call(c.Socket, control.MethodDestroy, &control.ContainerArgs{ContainerID: c.ID}, nil)
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(time.Second):
			}
		}
		if !sandbox.WaitGone(c.SandboxPID, c.SandboxStart, 3*time.Second) {
			unix.Kill(c.SandboxPID, unix.SIGKILL)
			sandbox.WaitGone(c.SandboxPID, c.SandboxStart, 2*time.Second)
		}
	}
	// The gofers would exit when the sandbox's end of their sockets closes; with the
	// sandbox (or the pod's container) gone they serve nobody, and have nothing to
	// flush (every write is made when asked): end them now.
	for _, p := range c.GoferPIDs {
		if sandbox.Alive(p, 0) && isGofer(p) {
			unix.Kill(p, unix.SIGKILL)
		}
	}
	for _, p := range c.GoferPIDs {
		sandbox.WaitGone(p, 0, time.Second)
	}
}

// errNotRunning is runc's message for signalling a stopped container.
var errNotRunning = errors.New("container not running")

// Start starts a created container: startContainer hooks, its init, poststart hooks.
func (c *Container) Start() error {
	switch c.Status {
	case Created:
	case Stopped:
		return errors.New("cannot start a container that has stopped")
	case Running, Paused:
		return errors.New("cannot start an already running container")
	default:
		return fmt.Errorf("cannot start a container in state %s", c.Status)
	}
	if err := c.runStartContainerHooks(); err != nil {
		c.stopSandbox()
		c.Status = Stopped
		c.save()
		return err
	}
	if err := control.Call(c.Socket, control.MethodStart, &control.ContainerArgs{ContainerID: c.ID}, nil); err != nil {
		return fmt.Errorf("starting the container: %w", err)
	}
	c.Status = Running
	if err := c.save(); err != nil {
		return err
	}
	if err := c.runHooks("poststart"); err != nil {
		c.stopSandbox()
		c.Status = Stopped
		c.save()
		return err
	}
	return nil
}

// Signal sends sig to the container's init, or with all to all its processes.
func (c *Container) Signal(sig unix.Signal, all bool) error {
	if c.Status == Stopped || c.Status == Creating {
		return errNotRunning
	}
	err := control.Call(c.Socket, control.MethodSignal, &control.SignalArgs{ContainerID: c.ID, Signo: int(sig), All: all}, nil)
	if err != nil && sig == unix.SIGKILL {
		// The controller does not answer: SIGKILL still ends the container.
		if sandbox.Alive(c.SandboxPID, c.SandboxStart) {
			unix.Kill(c.SandboxPID, unix.SIGKILL)
			return nil
		}
		return errNotRunning
	}
	if err != nil && !sandbox.Alive(c.SandboxPID, c.SandboxStart) {
		return errNotRunning
	}
	return err
}

// Delete removes a container; a running or paused one (or one whose create is still
// under way) only with force.
func (c *Container) Delete(force bool) error {
	switch c.Status {
	case Running, Paused, Creating:
		if !force {
			return fmt.Errorf("cannot delete container %s that is not stopped: %s", c.ID, c.Status)
		}
	}
	c.stopSandbox()
	c.Status = Stopped
	if err := c.runHooks("poststop"); err != nil {
		logging.Warningf("%v", err)
	}
	if c.Cgroup != nil {
		if err := c.Cgroup.Destroy(); err != nil {
			logging.Warningf("%v", err)
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("removing the container's state: %w", err)
	}
	return nil
}

// Pause pauses a running container.
func (c *Container) Pause() error {
	if c.Status != Running {
		return errNotRunning
	}
	if err := control.Call(c.Socket, control.MethodPause, nil, nil); err != nil {
		return err
	}
	c.Status = Paused
	return c.save()
}

// Resume resumes a paused container.
func (c *Container) Resume() error {
	if c.Status != Paused {
		return errors.New("container not paused")
	}
	if err := control.Call(c.Socket, control.MethodResume, nil, nil); err != nil {
		return err
	}
	c.Status = Running
	return c.save()
}

// Exec starts a process in the container with the given stdio (three files, or one
// terminal) and returns its PID in the sandbox.
func (c *Container) Exec(p *control.Process, stdio []*os.File) (int32, error) {
	switch c.Status {
	case Stopped, Creating:
		return 0, errors.New("cannot exec in a stopped container")
	case Paused:
		return 0, errors.New("cannot exec in a paused container")
	}
	fds := make([]int, len(stdio))
	for i, f := range stdio {
		fds[i] = int(f.Fd())
	}
	var res control.ExecResult
	if err := control.Call(c.Socket, control.MethodExec, &control.ExecArgs{ContainerID: c.ID, Process: *p}, &res, fds...); err != nil {
		return 0, err
	}
	return res.PID, nil
}

// WaitPID waits for a process started by Exec (pid 0: the container's init) and returns
// its exit code (128+N for signal N).
// With bound, the process is killed should this waiter be killed first.
func (c *Container) WaitPID(pid int32, bound bool) (int, error) {
	return c.WaitPIDNotify(pid, bound, nil)
}

// WaitPIDNotify is WaitPID that runs sent once the wait is registered with the sandbox
// (from then on a bound process dies with this waiter).
func (c *Container) WaitPIDNotify(pid int32, bound bool, sent func()) (int, error) {
	var res control.WaitResult
	err := control.CallNotify(c.Socket, control.MethodWaitPID, &control.WaitPIDArgs{ContainerID: c.ID, PID: pid, KillOnHangup: bound}, &res, sent)
	if err != nil {
		if pid == 0 {
			if code, ok := c.savedExitCode(); ok {
				return code, nil
			}
		}
		return 0, err
	}
	return res.ExitCode, nil
}

// savedExitCode is the exit code the sandbox wrote when it ended.
func (c *Container) savedExitCode() (int, bool) {
	if sandbox.Alive(c.SandboxPID, c.SandboxStart) {
		return 0, false
	}
	b, err := os.ReadFile(sandbox.ExitPath(c.dir))
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return n, err == nil
}

// Processes lists the container's processes.
func (c *Container) Processes() ([]control.ProcessInfo, error) {
	if c.Status == Stopped || c.Status == Creating {
		return nil, nil
	}
	var ps []control.ProcessInfo
	err := control.Call(c.Socket, control.MethodProcesses, &control.ContainerArgs{ContainerID: c.ID}, &ps)
	return ps, err
}

// Stats returns the sandbox's figures and the cgroup's.
func (c *Container) Stats() (*control.Stats, *cgroup.Stats, error) {
	if c.Status == Stopped || c.Status == Creating {
		return nil, nil, errNotRunning
	}
	var st control.Stats
	if err := control.Call(c.Socket, control.MethodEvent, &control.ContainerArgs{ContainerID: c.ID}, &st); err != nil {
		return nil, nil, err
	}
	var cs *cgroup.Stats
	if c.Cgroup != nil {
		s := c.Cgroup.Stats()
		cs = &s
	}
	return &st, cs, nil
}

// SignalPID sends sig to one process of the sandbox.
func (c *Container) SignalPID(pid int32, sig unix.Signal) error {
	if c.Status == Stopped || c.Status == Creating {
		return errNotRunning
	}
	return control.Call(c.Socket, control.MethodSignal, &control.SignalArgs{ContainerID: c.ID, PID: pid, Signo: int(sig)}, nil)
}

// PodSandboxID returns the ID of the pod sandbox container that a container joins, from
// the CRI annotations (containerd's and CRI-O's); false for a container with its own
// sandbox (a pod's first container, or not in a pod).
func PodSandboxID(spec *specs.Spec, id string) (string, bool) {
	a := spec.Annotations
	for _, k := range [][2]string{
		{"io.kubernetes.cri.container-type", "io.kubernetes.cri.sandbox-id"},
		{"io.kubernetes.cri-o.ContainerType", "io.kubernetes.cri-o.SandboxID"},
	} {
		if a[k[0]] == "container" && a[k[1]] != "" && a[k[1]] != id {
			return a[k[1]], true
		}
	}
	return "", false
}

// waiterFlags are the global flags of a pod container's waiter.
func waiterFlags(conf *config.Config) []string {
	f := []string{"--root=" + conf.RootDir, "--log-format=" + conf.LogFormat}
	if conf.LogFile != "" {
		f = append(f, "--log="+conf.LogFile)
	}
	return f
}

// isGofer checks that pid is still a gofer (and not a reused PID) before it is killed.
func isGofer(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.HasPrefix(string(b), "runsc-gofer\x00")
}
