package boot

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/boot/control"
	"runsc.dev/sentry/fs/host"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
	"runsc.dev/specutils"
)

// The controller: the sandbox side of the CLI's requests (boot/control has the wire
// format). Every handler validates its arguments and answers with an error naming what
// is wrong; none panics on what a client sends.

func capMask(names []string) uint64 {
	m, _ := specutils.CapabilityMask(names) // validated by the CLI
	return m
}

var rlimitNumbers = func() map[string]int {
	m := map[string]int{}
	for _, n := range []string{"RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE",
		"RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
		"RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME"} {
		if r, ok := specutils.RlimitNumber(n); ok {
			m[n] = r
		}
	}
	return m
}()

func newHostFile(v *vfs.VirtualFilesystem, fd int) (*vfs.FileDescription, error) {
	return host.NewFile(v, fd)
}

// handle dispatches one controller request.
func (s *sandbox) handle(method string, args json.RawMessage, files []*os.File, hangup <-chan struct{}) (any, error) {
	// Only Exec, RunHook and Create take descriptors.
	if method != control.MethodExec && method != control.MethodRunHook && method != control.MethodCreate && len(files) > 0 {
		closeFiles(files)
		return nil, fmt.Errorf("%s takes no file descriptors", method)
	}
	switch method {
	case control.MethodStartRoot:
		return nil, s.startRoot()
	case control.MethodCreate:
		var a control.CreateArgs
		if err := control.DecodeArgs(method, args, &a); err != nil {
			closeFiles(files)
			return nil, err
		}
		return nil, s.createSubcontainer(&a, files)
	case control.MethodStart:
		var a control.ContainerArgs
		if err := control.DecodeArgs(method, args, &a); err != nil {
			return nil, err
		}
		if a.ContainerID == s.rootID {
			return nil, s.startRoot()
		}
		return nil, s.startSubcontainer(a.ContainerID)
	case control.MethodExec:
		var a control.ExecArgs
		if err := control.DecodeArgs(method, args, &a); err != nil {
			closeFiles(files)
			return nil, err
		}
		return s.exec(&a, files)
	case control.MethodWait:
		var a control.ContainerArgs
		if err := control.DecodeArgs(method, args, &a); err != nil {
			return nil, err
		}
		return s.waitInit(a.ContainerID, nil)
	case control.MethodWaitPID:
		var a control.WaitPIDArgs
		if err := control.DecodeArgs(method, args, &a); err != nil {
			return nil, err
		}
		if !a.KillOnHangup {
			hangup = nil
		}
		if a.PID == 0 {
			return s.waitInit(a.ContainerID, hangup)
		}
		return s.waitPID(a.ContainerID, a.PID, hangup)
	case control.MethodSignal:
		var a control.SignalArgs
		if err := control.DecodeArgs(method, args, &a); err != nil {
			return nil, err
		}
		return nil, s.signal(&a)
	case control.MethodProcesses:
		var a control.ContainerArgs
		if err := control.DecodeArgs(method, args, &a); err != nil {
			return nil, err
		}
		return s.processes(a.ContainerID)
	case control.MethodEvent:
		var a control.ContainerArgs
		if err := control.DecodeArgs(method, args, &a); err != nil {
			return nil, err
		}
		return s.stats(a.ContainerID)
	case control.MethodPause:
		s.pause.Pause()
		return nil, nil
	case control.MethodResume:
		s.pause.Resume()
		return nil, nil
	case control.MethodDestroy:
		var a control.ContainerArgs
		if err := control.DecodeArgs(method, args, &a); err != nil {
			return nil, err
		}
		c, err := s.container(a.ContainerID)
		if err != nil {
			return nil, err
		}
		if c.id == s.rootID {
			s.destroy()
		} else {
			s.destroySubcontainer(c)
		}
		return nil, nil
	case control.MethodStatus:
		var a control.ContainerArgs
		if err := control.DecodeArgs(method, args, &a); err != nil {
			return nil, err
		}
		return s.status(a.ContainerID)
	case control.MethodRunHook:
		var a control.HookArgs
		if err := control.DecodeArgs(method, args, &a); err != nil {
			closeFiles(files)
			return nil, err
		}
		return s.runHook(&a, files)
	}
	return nil, fmt.Errorf("unknown controller method %q", method)
}

func (s *sandbox) container(id string) (*container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.containers[id]
	if !ok {
		return nil, fmt.Errorf("no container %q in this sandbox", id)
	}
	return c, nil
}

func (s *sandbox) startRoot() error {
	s.mu.Lock()
	c := s.containers[s.rootID]
	if c.started {
		s.mu.Unlock()
		return errors.New("the container has already been started")
	}
	c.started = true
	c.starts[c.init.PID()] = time.Now()
	s.mu.Unlock()
	s.k.Start(c.init)
	s.settle(c)
	return nil
}

// exec starts a process in a running container.
func (s *sandbox) exec(a *control.ExecArgs, files []*os.File) (*control.ExecResult, error) {
	c, err := s.container(a.ContainerID)
	if err != nil {
		closeFiles(files)
		return nil, err
	}
	s.mu.Lock()
	destroyed := c.destroyed
	s.mu.Unlock()
	if c.init.HasExited() || destroyed {
		closeFiles(files)
		return nil, errors.New("cannot exec in a stopped container")
	}
	fdt, err := s.fdTableOf(&a.Process, files)
	if err != nil {
		return nil, err
	}
	tg, err := s.newProcess(c, &a.Process, fdt)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	c.procs[tg.PID()] = tg
	c.starts[tg.PID()] = time.Now()
	s.mu.Unlock()
	s.k.Start(tg)
	return &control.ExecResult{PID: tg.PID()}, nil
}

func waitResult(ws kernel.WaitStatus) *control.WaitResult {
	return &control.WaitResult{Status: uint32(ws), ExitCode: ws.ShellCode()}
}

// waitInit waits for a container's init. If hangup fires first (the waiter standing
// for the container was killed), the container is killed.
func (s *sandbox) waitInit(id string, hangup <-chan struct{}) (*control.WaitResult, error) {
	c, err := s.container(id)
	if err != nil {
		return nil, err
	}
	select {
	case <-c.init.ExitedCh():
		return waitResult(c.init.WaitExited()), nil
	case <-c.gone:
	case <-s.destroyed:
	case <-hangup:
		if c.id == s.rootID {
			s.destroy()
		} else {
			s.destroySubcontainer(c)
		}
		return nil, errors.New("the waiter went away: the container is killed")
	}
	return waitResult(kernel.SignaledStatus(int(unix.SIGKILL), false)), nil
}

// waitPID waits for a process started through the controller. If hangup fires first
// (its waiter was killed), the process is killed.
func (s *sandbox) waitPID(id string, pid int32, hangup <-chan struct{}) (*control.WaitResult, error) {
	c, err := s.container(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	tg := c.procs[pid]
	if tg == nil && c.init.PID() == pid {
		tg = c.init
	}
	s.mu.Unlock()
	if tg == nil {
		return nil, fmt.Errorf("no process %d started by runsc in container %q", pid, id)
	}
	select {
	case <-tg.ExitedCh():
	case <-c.gone:
		return waitResult(kernel.SignaledStatus(int(unix.SIGKILL), false)), nil
	case <-s.destroyed:
		return waitResult(kernel.SignaledStatus(int(unix.SIGKILL), false)), nil
	case <-hangup:
		tg.SendSignal(&kernel.SignalInfo{Signo: int32(unix.SIGKILL), Code: kernel.SI_KERNEL})
		return nil, errors.New("the waiter went away: the process is killed")
	}
	ws := tg.WaitExited()
	s.mu.Lock()
	if tg != c.init {
		delete(c.procs, pid)
		delete(c.starts, pid)
	}
	s.mu.Unlock()
	return waitResult(ws), nil
}

// signalInit delivers a signal from outside to a container's init: as for any PID
// namespace's init, only if init handles or blocks it, SIGKILL always.
func (s *sandbox) signalInit(c *container, sig int) {
	if c.id == s.rootID {
		s.k.SignalInit(sig)
		return
	}
	if sig == int(unix.SIGKILL) || c.init.HandlesOrBlocks(sig) {
		c.init.SendSignal(&kernel.SignalInfo{Signo: int32(sig), Code: kernel.SI_USER})
	}
}

func (s *sandbox) signal(a *control.SignalArgs) error {
	if !kernel.ValidSignal(a.Signo) {
		return fmt.Errorf("invalid signal %d", a.Signo)
	}
	c, err := s.container(a.ContainerID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	started := c.started
	s.mu.Unlock()
	switch {
	case a.All:
		for _, tg := range s.containerGroups(c) {
			tg.SendSignal(&kernel.SignalInfo{Signo: int32(a.Signo), Code: kernel.SI_USER})
		}
		if !started && a.Signo == int(unix.SIGKILL) && c.id == s.rootID {
			s.destroy()
		}
	case a.PID == 0 || a.PID == c.init.PID():
		if !started {
			// The init process has not run yet: SIGKILL ends the container; other
			// signals stay pending for it (if it would take them).
			if a.Signo == int(unix.SIGKILL) {
				if c.id == s.rootID {
					s.destroy()
				} else {
					s.destroySubcontainer(c)
				}
				return nil
			}
		}
		s.signalInit(c, a.Signo)
	default:
		tg := s.k.ThreadGroupByPID(a.PID)
		if tg == nil {
			return fmt.Errorf("no process %d", a.PID)
		}
		tg.SendSignal(&kernel.SignalInfo{Signo: int32(a.Signo), Code: kernel.SI_USER})
	}
	return nil
}

// containerGroups returns the live processes of container c: its init, the processes
// started through the controller, and their descendants. The root container also owns
// every process not claimed by another container (orphans re-parented to its init).
func (s *sandbox) containerGroups(c *container) []*kernel.ThreadGroup {
	all := s.k.ThreadGroups()
	byPID := map[int32]*kernel.ThreadGroup{}
	for _, tg := range all {
		byPID[tg.PID()] = tg
	}
	s.mu.Lock()
	owner := map[int32]string{}
	for id, ct := range s.containers {
		owner[ct.init.PID()] = id
		for pid := range ct.procs {
			owner[pid] = id
		}
	}
	s.mu.Unlock()
	ownerOf := func(tg *kernel.ThreadGroup) string {
		for i := 0; tg != nil && i < 1<<16; i++ {
			if id, ok := owner[tg.PID()]; ok {
				return id
			}
			pp := tg.ParentPID()
			if pp == 0 {
				break
			}
			tg = byPID[pp]
		}
		return s.rootID
	}
	var out []*kernel.ThreadGroup
	for _, tg := range all {
		if tg.HasExited() {
			continue
		}
		if ownerOf(tg) == c.id {
			out = append(out, tg)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID() < out[j].PID() })
	return out
}

func (s *sandbox) processes(id string) ([]control.ProcessInfo, error) {
	c, err := s.container(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	started := c.started
	s.mu.Unlock()
	out := []control.ProcessInfo{}
	for _, tg := range s.containerGroups(c) {
		if tg == c.init && !started {
			continue
		}
		leader := tg.Leader()
		if leader == nil {
			continue
		}
		pi := control.ProcessInfo{
			PID: tg.PID(), PPID: tg.ParentPID(), Threads: tg.NumTasks(),
			UID: uint32(leader.Credentials().RealUID), Cmd: leader.Name(), TTY: "?",
		}
		pi.Args = processArgs(leader)
		s.mu.Lock()
		if t, ok := c.starts[tg.PID()]; ok {
			pi.Start = t.UnixNano()
		}
		s.mu.Unlock()
		out = append(out, pi)
	}
	return out, nil
}

// processArgs reads a process's argv from its memory, as /proc/PID/cmdline does.
func processArgs(t *kernel.Task) []string {
	m := t.MemoryManager()
	if m == nil || m.ArgvEnd <= m.ArgvStart {
		return nil
	}
	n := min(int(m.ArgvEnd-m.ArgvStart), 4096)
	b := make([]byte, n)
	k, _ := m.CopyIn(m.ArgvStart, b)
	s := strings.TrimRight(string(b[:k]), "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

func (s *sandbox) stats(id string) (*control.Stats, error) {
	c, err := s.container(id)
	if err != nil {
		return nil, err
	}
	st := &control.Stats{MemoryBytes: s.mf.UsedBytes()}
	for _, tg := range s.containerGroups(c) {
		st.Pids++
		st.Threads += uint64(tg.NumTasks())
	}
	return st, nil
}

func (s *sandbox) status(id string) (*control.ContainerStatus, error) {
	c, err := s.container(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	st := &control.ContainerStatus{Created: true, Started: c.started, Paused: s.pause.Paused()}
	destroyed := c.destroyed
	s.mu.Unlock()
	if c.init.HasExited() {
		st.Exited = true
		st.ExitCode = c.init.WaitExited().ShellCode()
	} else if destroyed {
		st.Exited, st.ExitCode = true, 128+int(unix.SIGKILL)
	}
	return st, nil
}

// runHook runs a hook inside a container (startContainer hooks) with the given stdio
// and waits for it, killing it after the timeout.
func (s *sandbox) runHook(a *control.HookArgs, files []*os.File) (*control.WaitResult, error) {
	c, err := s.container(a.ContainerID)
	if err != nil {
		closeFiles(files)
		return nil, err
	}
	fdt, err := s.fdTableOf(&a.Process, files)
	if err != nil {
		return nil, err
	}
	tg, err := s.newProcess(c, &a.Process, fdt)
	if err != nil {
		return nil, err
	}
	s.k.Start(tg)
	var timeout <-chan time.Time
	if a.Timeout > 0 {
		t := time.NewTimer(a.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-tg.ExitedCh():
	case <-timeout:
		tg.SendSignal(&kernel.SignalInfo{Signo: int32(unix.SIGKILL), Code: kernel.SI_KERNEL})
		<-tg.ExitedCh()
		return nil, fmt.Errorf("timed out after %v", a.Timeout)
	case <-s.destroyed:
		return nil, errors.New("the sandbox is being destroyed")
	}
	return waitResult(tg.WaitExited()), nil
}
