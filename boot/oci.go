package boot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"runsc.dev/boot/control"
	"runsc.dev/gofer/proto"
	"runsc.dev/platform"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/kernel/auth"
	"runsc.dev/sentry/memory"
	"runsc.dev/sentry/syscalls"
	"runsc.dev/sentry/vdso"
	"runsc.dev/sentry/vfs"
)

// ContainerSpec is what the CLI tells the sandbox of an OCI container (`runsc create`,
// `run`): the spec, and how the CLI realised what the sandbox cannot do itself. It
// travels as JSON over a pipe, like Spec for `do`.
type ContainerSpec struct {
	ID   string      `json:"id"`
	Spec *specs.Spec `json:"spec"`
	// Mounts are the spec's mounts as the CLI planned them (bind-mounted files are
	// already in the root gofer's tree and are not listed).
	Mounts []ContainerMount `json:"mounts"`
	// Overlay is the root's overlay ("memory" or "none"); RootGoferWritable says the
	// root gofer accepts changes.
	Overlay           string `json:"overlay"`
	RootGoferWritable bool   `json:"rootGoferWritable"`
	Platform          string `json:"platform"`
	Strace            bool   `json:"strace,omitempty"`
	Debug             bool   `json:"debug,omitempty"`
	Report            bool   `json:"report,omitempty"`
	// Rlimits are the limits a process gets for what the spec does not set: the CLI's
	// own, as a process started by runc inherits runc's.
	Rlimits []control.Rlimit `json:"rlimits,omitempty"`
	// Warnings are the CLI's notes on the spec, repeated in the sandbox's debug log.
	Warnings []string `json:"warnings,omitempty"`
}

// ReadContainerSpec decodes a ContainerSpec, naming what is wrong.
func ReadContainerSpec(r io.Reader) (*ContainerSpec, error) {
	data, err := io.ReadAll(io.LimitReader(r, control.MaxMessage+1))
	if err != nil {
		return nil, fmt.Errorf("reading the container spec: %w", err)
	}
	if len(data) > control.MaxMessage {
		return nil, fmt.Errorf("container spec larger than %d bytes", control.MaxMessage)
	}
	var s ContainerSpec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decoding the container spec: %w", err)
	}
	if s.Spec == nil || s.Spec.Process == nil || len(s.Spec.Process.Args) == 0 {
		return nil, errors.New("container spec: no process to run")
	}
	if s.ID == "" {
		return nil, errors.New("container spec: no container ID")
	}
	return &s, nil
}

// WriteContainerSpec encodes s for the sandbox.
func WriteContainerSpec(w io.Writer, s *ContainerSpec) error {
	return json.NewEncoder(w).Encode(s)
}

// ContainerArgs are the sandbox process's inputs for an OCI container.
type ContainerArgs struct {
	Spec *ContainerSpec
	// RootGoferFD serves root.path; MountGoferFDs serve bind-mounted directories (by
	// ContainerMount.GoferFD).
	RootGoferFD   int
	MountGoferFDs []int
	// ControllerFD is the listening controller socket.
	ControllerFD int
	// Ready gets "ok\n", or one line saying why the container could not be created.
	Ready io.WriteCloser
	// Exit, if not nil, gets the exit code of the container's init when the sandbox ends.
	Exit   io.WriteCloser
	Log    io.Writer // debug log; nil discards
	Report io.Writer
}

// sandbox is the running sandbox: its kernel and the containers in it.
//
// Lock order: sandbox.mu, then anything in the sentry.
type sandbox struct {
	k       *kernel.Kernel
	v       *vfs.VirtualFilesystem
	mf      *memory.MemoryFile
	pause   *pausable
	log     *log.Logger
	rootID  string
	rlimits [kernel.NumRlimits]kernel.Rlimit
	server  control.Server

	mu         sync.Mutex
	containers map[string]*container
	// mountMu serialises building subcontainers' mount trees.
	mountMu sync.Mutex

	destroyOnce sync.Once
	destroyed   chan struct{}
}

// container is one container of the sandbox.
type container struct {
	id      string
	spec    *specs.Spec
	root    vfs.VirtualDentry
	init    *kernel.ThreadGroup
	started bool
	// procs are the processes started through the controller (exec, hooks), which have
	// no parent in the sandbox: the controller waits for them. Protected by sandbox.mu.
	procs  map[int32]*kernel.ThreadGroup
	starts map[int32]time.Time
	// initCtx is the platform context of init's first thread (for settle).
	initCtx *pausableContext
	// Subcontainers only: their gofer connections, and gone, closed when Destroy has
	// killed them (their init may never have run). Protected by sandbox.mu.
	clients   []*proto.Client
	destroyed bool
	gone      chan struct{}
}

// RunContainer builds the sandbox for an OCI container, creates its init process (not
// started: StartRoot starts it), serves the controller, and returns the exit code of the
// init process when it exits (or 128+SIGKILL if the container is destroyed first).
func RunContainer(a ContainerArgs) int {
	cs := a.Spec
	fail := func(format string, args ...any) int {
		msg := fmt.Sprintf(format, args...)
		if a.Ready != nil {
			fmt.Fprintln(a.Ready, msg)
			a.Ready.Close()
		} else {
			fmt.Fprintf(stderr, "runsc: %s\n", msg)
		}
		return ExitFailure
	}
	logger := log.New(io.Discard, "", 0)
	if a.Log != nil {
		logger = log.New(a.Log, "", log.Lmicroseconds)
	}
	logger.Printf("boot: spec read")
	if err := confine(); err != nil {
		return fail("confining the sandbox: %v", err)
	}
	logger.Printf("boot: root confined")
	if err := dropPrivileges(); err != nil {
		return fail("%v", err)
	}
	logger.Printf("boot: privileges dropped")
	for _, w := range cs.Warnings {
		logger.Printf("spec: %s", w)
	}
	mf, err := memory.New(0)
	if err != nil {
		return fail("%v", err)
	}
	vd, err := vdso.New(mf)
	if err != nil {
		return fail("%v", err)
	}
	vd.Start()
	defer vd.Stop()
	logger.Printf("boot: memory file and vDSO ready")
	inner, err := platform.New(cs.Platform, platform.Options{MemoryFD: mf.FD()})
	if err != nil {
		return fail("starting platform: %v", err)
	}
	pp := newPausable(inner)
	logger.Printf("boot: platform %s ready", cs.Platform)
	rootClient, err := proto.NewClient(a.RootGoferFD)
	if err != nil {
		return fail("connecting to the gofer: %v", err)
	}
	defer rootClient.Shutdown()
	var clients []*proto.Client
	for _, fd := range a.MountGoferFDs {
		c, err := proto.NewClient(fd)
		if err != nil {
			return fail("connecting to a mount's gofer: %v", err)
		}
		defer c.Shutdown()
		clients = append(clients, c)
	}
	mounts, err := containerMountSpecs(cs.Mounts, clients)
	if err != nil {
		return fail("%v", err)
	}
	spec := cs.Spec
	rootCfg := RootConfig{
		Client: rootClient, Overlay: cs.Overlay, GoferWritable: cs.RootGoferWritable,
		ReadOnly: spec.Root != nil && spec.Root.Readonly,
	}
	v, err := BuildMountTree(rootCfg, mounts)
	if err != nil {
		return fail("building the container's filesystem: %v", err)
	}
	logger.Printf("boot: mount tree built")
	warn := func(format string, args ...any) { logger.Printf("spec: "+format, args...) }
	ctx := vfs.NewKernelContext()
	if l := spec.Linux; l != nil {
		createDevices(ctx, v, l.Devices, warn)
		for _, p := range l.MaskedPaths {
			maskPath(ctx, v, p, warn)
		}
		for _, p := range l.ReadonlyPaths {
			readonlyPath(ctx, v, p, warn)
		}
	}
	k := kernel.New(kernel.Options{
		Platform: pp, MemoryFile: mf, VFS: v, Syscalls: syscalls.Table(),
		Hostname: spec.Hostname, Strace: cs.Strace, Log: logger, VDSO: vd,
	})
	if l := spec.Linux; l != nil && len(l.Sysctl) > 0 {
		k.SetSysctls(l.Sysctl)
	}
	if l := spec.Linux; l != nil && (len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0) {
		k.SetIDMaps(idMapEntries(l.UIDMappings), idMapEntries(l.GIDMappings))
	}
	s := &sandbox{
		k: k, v: v, mf: mf, pause: pp, log: logger, rootID: cs.ID,
		rlimits:    kernel.DefaultRlimits(),
		containers: map[string]*container{},
		destroyed:  make(chan struct{}),
	}
	for _, r := range cs.Rlimits {
		if r.Resource >= 0 && r.Resource < kernel.NumRlimits {
			s.rlimits[r.Resource] = kernel.Rlimit{Cur: r.Soft, Max: r.Hard}
		}
	}
	c := &container{id: cs.ID, spec: spec, root: v.Root(), procs: map[int32]*kernel.ThreadGroup{}, starts: map[int32]time.Time{}, gone: make(chan struct{})}
	fdt, err := stdioTable(v)
	if err != nil {
		return fail("%v", err)
	}
	init, err := s.newProcess(c, processOf(spec.Process, s.rlimitsOf(spec.Process)), fdt)
	if err != nil {
		return fail("%v", err)
	}
	c.init = init
	c.initCtx = pp.lastContext()
	s.containers[cs.ID] = c
	logger.Printf("boot: container %s created: init is PID %d", cs.ID, init.PID())

	// Signals sent to the sandbox process go to the container's init, as for a runc
	// container's init process.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGCONT)
	go func() {
		for sig := range sigs {
			s.signalInit(c, int(sig.(unix.Signal)))
		}
	}()
	go s.server.Serve(a.ControllerFD, s.handle)
	if a.Ready != nil {
		fmt.Fprintln(a.Ready, "ok")
		a.Ready.Close()
	}

	code := 128 + int(unix.SIGKILL)
	select {
	case <-init.ExitedCh():
		code = init.WaitExited().ShellCode()
	case <-s.destroyed:
	}
	signal.Stop(sigs)
	s.killAll()
	unix.Close(a.ControllerFD)
	if a.Exit != nil {
		fmt.Fprintf(a.Exit, "%d\n", code)
		a.Exit.Close()
	}
	s.server.Drain(time.Second)
	if cs.Report && a.Report != nil {
		if rep := k.UnsupportedReport(); rep != "" {
			fmt.Fprintf(a.Report, "runsc: unsupported syscalls made by the application:\n%s", indent(rep))
		}
	}
	logger.Printf("container %s: init exited, sandbox exits with %d", cs.ID, code)
	return code
}

// destroy makes RunContainer return (the root container is being destroyed).
func (s *sandbox) destroy() {
	s.destroyOnce.Do(func() { close(s.destroyed) })
}

// killAll kills every process and waits briefly for them to go.
func (s *sandbox) killAll() {
	for _, tg := range s.k.ThreadGroups() {
		tg.SendSignal(&kernel.SignalInfo{Signo: int32(unix.SIGKILL), Code: kernel.SI_KERNEL})
	}
	s.mu.Lock()
	var started []*kernel.ThreadGroup
	for _, c := range s.containers {
		if c.started {
			started = append(started, c.init)
		}
		for _, p := range c.procs {
			started = append(started, p)
		}
	}
	s.mu.Unlock()
	deadline := time.After(2 * time.Second)
	for _, tg := range started {
		select {
		case <-tg.ExitedCh():
		case <-deadline:
			return
		}
	}
}

// ProcessOf is an OCI process in the controller's form (with its rlimits).
func ProcessOf(p *specs.Process) *control.Process {
	var rl []control.Rlimit
	for _, r := range p.Rlimits {
		if n, ok := rlimitNumbers[r.Type]; ok {
			rl = append(rl, control.Rlimit{Resource: n, Soft: r.Soft, Hard: r.Hard})
		}
	}
	return processOf(p, rl)
}

// processOf turns an OCI process into the controller's form.
func processOf(p *specs.Process, rl []control.Rlimit) *control.Process {
	cp := &control.Process{
		Argv: p.Args, Env: p.Env, Cwd: p.Cwd, UID: p.User.UID, GID: p.User.GID,
		AdditionalGIDs: p.User.AdditionalGids, Umask: p.User.Umask,
		NoNewPrivs: p.NoNewPrivileges, Rlimits: rl, Terminal: p.Terminal, OOMScoreAdj: p.OOMScoreAdj,
	}
	if c := p.Capabilities; c != nil {
		cp.Caps = &control.Caps{
			Bounding: capMask(c.Bounding), Effective: capMask(c.Effective), Permitted: capMask(c.Permitted),
			Inheritable: capMask(c.Inheritable), Ambient: capMask(c.Ambient),
		}
	}
	return cp
}

// rlimitsOf is the spec process's limits.
func (s *sandbox) rlimitsOf(p *specs.Process) []control.Rlimit {
	var out []control.Rlimit
	for _, r := range p.Rlimits {
		if n, ok := rlimitNumbers[r.Type]; ok {
			out = append(out, control.Rlimit{Resource: n, Soft: r.Soft, Hard: r.Hard})
		}
	}
	return out
}

// newProcess creates (without starting) a process in container c with stdio from fdt.
func (s *sandbox) newProcess(c *container, p *control.Process, fdt *vfs.FDTable) (*kernel.ThreadGroup, error) {
	if len(p.Argv) == 0 || p.Argv[0] == "" {
		fdt.RemoveAll()
		return nil, errors.New("process args are empty")
	}
	creds := credentialsOf(p)
	ctx := &vfs.KernelContext{Creds: creds}
	umask := uint32(0o022)
	if p.Umask != nil {
		umask = *p.Umask & 0o777
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	fsctx, err := s.fsContext(ctx, c.root, cwd, umask)
	if err != nil {
		fdt.RemoveAll()
		return nil, fmt.Errorf("cwd %q: %v", cwd, err)
	}
	rl := s.rlimits
	for _, r := range p.Rlimits {
		if r.Resource >= 0 && r.Resource < kernel.NumRlimits {
			rl[r.Resource] = kernel.Rlimit{Cur: r.Soft, Max: r.Hard}
		}
	}
	fdt.SetLimit(rl[unix.RLIMIT_NOFILE].Cur)
	file, execPath, _, err := lookPath(ctx, s.v, fsctx, p.Argv[0], p.Env)
	if err != nil {
		fdt.RemoveAll()
		return nil, fmt.Errorf("exec: %q: %v", p.Argv[0], err)
	}
	tg, err := s.k.CreateProcess(kernel.CreateProcessArgs{
		Argv: p.Argv, Envv: p.Env, Executable: file, ExecPath: execPath, Filename: p.Argv[0],
		Credentials: creds, FDTable: fdt, FSContext: fsctx, Rlimits: rl,
	})
	file.DecRef()
	if err != nil {
		fdt.RemoveAll()
		return nil, fmt.Errorf("exec: %q: %s", p.Argv[0], describeExecError(err))
	}
	if p.NoNewPrivs {
		tg.Leader().SetNoNewPrivs()
	}
	if a := p.OOMScoreAdj; a != nil {
		tg.SetOOMScoreAdj(int32(min(max(*a, -1000), 1000)), true)
	}
	return tg, nil
}

// fsContext resolves the working directory (creating it if missing, as runc does).
func (s *sandbox) fsContext(ctx vfs.Context, root vfs.VirtualDentry, cwd string, umask uint32) (*vfs.FSContext, error) {
	d, err := s.v.GetDentryAt(ctx, root, root, cwd, true)
	if errors.Is(err, unix.ENOENT) {
		cur := ""
		for _, name := range strings.Split(strings.Trim(cwd, "/"), "/") {
			cur += "/" + name
			if e := s.v.MkdirAt(ctx, root, root, cur, 0o755); e != nil && !errors.Is(e, unix.EEXIST) {
				break
			}
		}
		d, err = s.v.GetDentryAt(ctx, root, root, cwd, true)
	}
	if err != nil {
		return nil, err
	}
	if !d.Dentry.IsDir() {
		return nil, unix.ENOTDIR
	}
	return vfs.NewFSContext(root, d, umask), nil
}

// credentialsOf builds a process's credentials: IDs, groups and, when given, the
// capability sets (otherwise what execve gives uid: all for root, none for others).
func credentialsOf(p *control.Process) *auth.Credentials {
	groups := make([]auth.KGID, 0, len(p.AdditionalGIDs))
	for _, g := range p.AdditionalGIDs {
		groups = append(groups, auth.KGID(g))
	}
	c := auth.NewUserCredentials(auth.KUID(p.UID), auth.KGID(p.GID), groups)
	if p.Caps != nil {
		c.BoundingCaps = p.Caps.Bounding & auth.AllCapabilities
		c.EffectiveCaps = p.Caps.Effective & auth.AllCapabilities
		c.PermittedCaps = p.Caps.Permitted & auth.AllCapabilities
		c.InheritableCaps = p.Caps.Inheritable & auth.AllCapabilities
		c.AmbientCaps = p.Caps.Ambient & auth.AllCapabilities
	}
	return c
}

// fdTableOf makes a process's stdio from received host fds: one terminal for all three,
// or stdin, stdout, stderr.
func (s *sandbox) fdTableOf(p *control.Process, files []*os.File) (*vfs.FDTable, error) {
	want := 3
	if p.Terminal {
		want = 1
	}
	if len(files) != want {
		closeFiles(files)
		return nil, fmt.Errorf("expected %d stdio file descriptors, got %d", want, len(files))
	}
	fdt := vfs.NewFDTable()
	for i := 0; i < 3; i++ {
		src := files[0]
		if !p.Terminal {
			src = files[i]
			if p.StdioClosed[i] {
				continue
			}
		}
		hfd, err := unix.FcntlInt(src.Fd(), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			closeFiles(files)
			fdt.RemoveAll()
			return nil, err
		}
		f, err := newHostFile(s.v, hfd)
		if err != nil {
			unix.Close(hfd)
			closeFiles(files)
			fdt.RemoveAll()
			return nil, fmt.Errorf("stdio fd %d: %w", i, err)
		}
		err = fdt.NewFDAt(int32(i), f, false)
		f.DecRef()
		if err != nil {
			closeFiles(files)
			fdt.RemoveAll()
			return nil, err
		}
	}
	closeFiles(files)
	return fdt, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

func dupCloexec(fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
}

// settle waits, after a container's init was started, until it has run and then
// stopped running application code for a moment (blocked in a system call: done with
// its start-up, signal handlers installed), or has exited, for at most settleMax. A
// client that signals a container right after start (runc's init is running native
// code by then) otherwise races the program's start-up in the sandbox, which is slower,
// and a signal that arrives before its handler is ignored by a PID 1.
func (s *sandbox) settle(c *container) {
	const settleMax = 15 * time.Millisecond
	if c.initCtx == nil {
		return
	}
	deadline := time.NewTimer(settleMax)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Microsecond)
	defer tick.Stop()
	for {
		select {
		case <-c.init.ExitedCh():
			return
		case <-deadline.C:
			return
		case <-tick.C:
			if c.initCtx.settled(time.Millisecond) {
				return
			}
		}
	}
}

// idMapEntries converts the spec's ID mappings for /proc/[pid]/uid_map and gid_map.
func idMapEntries(m []specs.LinuxIDMapping) []kernel.IDMapEntry {
	var out []kernel.IDMapEntry
	for _, e := range m {
		out = append(out, kernel.IDMapEntry{Inside: e.ContainerID, Outside: e.HostID, Length: e.Size})
	}
	return out
}
