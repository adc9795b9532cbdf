package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"runsc.dev/boot"
	"runsc.dev/boot/control"
	"runsc.dev/runsc/config"
	"runsc.dev/runsc/logging"
	"runsc.dev/specutils"
)

// ContainerArgs describe the sandbox of an OCI container.
type ContainerArgs struct {
	ID     string
	Spec   *specs.Spec
	Rootfs string // absolute host path of root.path
	Conf   *config.Config
	// Dir is the container's state directory: the controller socket and the exit-code
	// file live there.
	Dir string
	// Stdio are the container's stdin, stdout and stderr (the caller's, or a pty
	// replica three times); Terminal makes the first the sandbox's controlling terminal.
	Stdio    [3]*os.File
	Terminal bool
	// Joined is called with the PIDs of the gofers and the sandbox as soon as they
	// exist (to move them into the container's cgroup before they do any work).
	Joined func(pids []int) error
	// Warn records a spec field that is not honoured.
	Warn func(format string, args ...any)
	// JoinSocket, for a pod's subcontainer, is the controller socket of the sandbox to
	// create the container in: only the gofers are started, and a `runsc wait` process
	// stands for the container on the host.
	JoinSocket string
	// Global flags for that waiter.
	WaiterFlags []string
}

// Started is a started sandbox.
type Started struct {
	SandboxPID int
	GoferPIDs  []int
	Socket     string
	// Cmd is the sandbox process (its parent may wait for it).
	Cmd *exec.Cmd
}

// SocketPath is where a container's controller socket lives.
func SocketPath(dir string) string { return filepath.Join(dir, "sandbox.sock") }

// ExitPath is the file the sandbox writes its container's exit code to.
func ExitPath(dir string) string { return filepath.Join(dir, "exit") }

// gofer is one gofer to start.
type goferProc struct {
	cmd  *exec.Cmd
	end  *os.File // the sandbox's end of its socketpair
	prep func() error
}

// StartContainer starts the gofers and the sandbox of a container and waits until the
// sandbox has built the container (its init created, not started) or failed. On error
// nothing is left running.
func StartContainer(a ContainerArgs) (*Started, error) {
	spec := a.Spec
	plan := specutils.PlanMounts(spec)
	overlay := a.Conf.Overlay
	if overlay == "" {
		overlay = "memory"
	}
	readOnlyRoot := spec.Root != nil && spec.Root.Readonly
	rootWritable := overlay == "none" && !readOnlyRoot

	logs, err := openLogs(a.Conf)
	if err != nil {
		return nil, err
	}
	defer logs.close()
	if logs.boot == os.Stderr {
		// Debug logs of a container's sandbox go to --debug-log only: the CLI's stderr
		// belongs to the client, which may wait for every holder of it to close it.
		logs.boot = nil
	}

	var started []*exec.Cmd
	cleanup := func() {
		for _, c := range started {
			c.Process.Kill()
			c.Wait()
		}
	}
	var toClose []*os.File
	defer func() {
		for _, f := range toClose {
			f.Close()
		}
	}()
	// Without --debug-log, the gofers' errors go to a file in the container's state
	// directory, quoted when the container cannot be created.
	var goferErr *os.File
	if logs.gofer == nil {
		if f, err := os.OpenFile(filepath.Join(a.Dir, "gofer.err"), os.O_CREATE|os.O_WRONLY|os.O_APPEND|unix.O_CLOEXEC, 0o600); err == nil {
			goferErr = f
			toClose = append(toClose, f)
		}
	}

	// The root gofer, in a mount namespace where bind-mounted files are already bound
	// into the rootfs.
	var mounts []boot.ContainerMount
	var fileBinds []specutils.PlannedMount
	var gofers []*goferProc
	newGofer := func(root string, ro bool) (*goferProc, error) {
		ge, se, err := seqpacketPair()
		if err != nil {
			return nil, fmt.Errorf("creating a gofer socket: %w", err)
		}
		toClose = append(toClose, ge, se)
		args := append(a.Conf.ToFlags(), "gofer", "--root="+root, "--io-fd=3")
		if ro {
			args = append(args, "--ro")
		}
		c := exec.Command(selfExe, args...)
		c.Args[0] = "runsc-gofer"
		c.ExtraFiles = []*os.File{ge}
		// Not the CLI's stderr: a client that reads `create`'s output through a pipe
		// (the containerd shim does with a terminal) would wait for the gofer to close it.
		if logs.gofer != nil {
			c.Stderr = logs.gofer
		} else if goferErr != nil {
			c.Stderr = goferErr
		}
		c.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNET,
			Setsid:     true,
		}
		if l := spec.Linux; l != nil && len(l.UIDMappings) > 0 {
			c.SysProcAttr.Cloneflags |= unix.CLONE_NEWUSER
			c.SysProcAttr.UidMappings = idMaps(l.UIDMappings)
			c.SysProcAttr.GidMappings = idMaps(l.GIDMappings)
			c.SysProcAttr.GidMappingsEnableSetgroups = true
			// Become the namespace's root before exec, or exec drops the capabilities
			// the gofer needs (the host's root is not mapped in the namespace).
			c.SysProcAttr.Credential = &syscall.Credential{Uid: mappedRoot(l.UIDMappings), Gid: mappedRoot(l.GIDMappings)}
		}
		g := &goferProc{cmd: c, end: se}
		gofers = append(gofers, g)
		return g, nil
	}
	rootGofer, err := newGofer(a.Rootfs, !rootWritable)
	if err != nil {
		return nil, err
	}

	for _, m := range plan {
		switch m.Kind {
		case specutils.MountSkip:
			a.Warn("mounts[%d] (%s on %s): not mounted: %s", m.Index, m.Type, m.Destination, m.Reason)
			continue
		case specutils.MountBind:
			st, err := os.Stat(m.Source)
			if err != nil {
				return nil, fmt.Errorf("mounts[%d]: bind source %s: %w", m.Index, m.Source, unwrap(err))
			}
			if !st.IsDir() {
				if under, ok := underSandboxMount(plan, m); ok {
					a.Warn("mounts[%d] (%s on %s): not mounted: a file below %s, which the sandbox provides itself", m.Index, m.Source, m.Destination, under)
					continue
				}
				fileBinds = append(fileBinds, m)
				continue
			}
			ro := m.ReadOnly()
			g, err := newGofer(m.Source, ro)
			if err != nil {
				return nil, err
			}
			mounts = append(mounts, boot.ContainerMount{
				Destination: m.Destination, Type: "bind", Source: m.Source, Options: spec.Mounts[m.Index].Options,
				GoferFD: len(gofers) - 2, GoferWritable: !ro,
			})
			_ = g
		default:
			typ := m.Type
			opts := spec.Mounts[m.Index].Options
			switch m.Kind {
			case specutils.MountTmpfs, specutils.MountDev:
				if typ != "tmpfs" {
					// A bind mount the sandbox makes its own (/dev/shm): a tmpfs with
					// the mount's flags.
					typ, opts = "tmpfs", nil
					for _, o := range spec.Mounts[m.Index].Options {
						switch o {
						case "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec":
							opts = append(opts, o)
						}
					}
					opts = append(opts, "mode=1777")
				}
			case specutils.MountProc:
				typ = "proc"
			}
			mounts = append(mounts, boot.ContainerMount{
				Destination: m.Destination, Type: typ, Source: m.Source, Options: opts, GoferFD: -1,
			})
		}
	}
	if readOnlyRoot || overlay == "none" {
		// The sandbox cannot create a missing mount point in a read-only root: make
		// them in the host's rootfs first, as runc does.
		for _, m := range plan {
			switch m.Kind {
			case specutils.MountTmpfs, specutils.MountProc, specutils.MountDev, specutils.MountKernelFS:
			case specutils.MountBind:
				if st, err := os.Stat(m.Source); err != nil || !st.IsDir() {
					continue
				}
			default:
				continue
			}
			if _, under := underSandboxMount(plan, m); under {
				continue
			}
			fileBinds = append(fileBinds, specutils.PlannedMount{Kind: specutils.MountSkip, Destination: m.Destination, Type: "dir"})
		}
	}
	if len(fileBinds) > 0 {
		rootfs := a.Rootfs
		binds := fileBinds
		rootGofer.prep = func() error { return bindFiles(rootfs, binds) }
	}

	if a.JoinSocket != "" {
		return joinSandbox(a, gofers, mounts, overlay, rootWritable, cleanup, &started)
	}

	// The controller socket, the spec pipe, the ready pipe and the exit file.
	sock := SocketPath(a.Dir)
	os.Remove(sock)
	lis, err := control.Listen(sock)
	if err != nil {
		return nil, err
	}
	toClose = append(toClose, lis)
	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	toClose = append(toClose, specR, specW)
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	toClose = append(toClose, readyR, readyW)
	exitF, err := os.OpenFile(ExitPath(a.Dir), os.O_CREATE|os.O_WRONLY|os.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	toClose = append(toClose, exitF)

	extra := []*os.File{specR, rootGofer.end, lis, readyW, exitF}
	bootArgs := append(a.Conf.ToFlags(), "boot", "--container", "--spec-fd=3", "--gofer-fd=4",
		"--controller-fd=5", "--ready-fd=6", "--exit-fd=7")
	var mountFDs []string
	for _, g := range gofers[1:] {
		mountFDs = append(mountFDs, strconv.Itoa(3+len(extra)))
		extra = append(extra, g.end)
	}
	if len(mountFDs) > 0 {
		bootArgs = append(bootArgs, "--mount-fds="+strings.Join(mountFDs, ","))
	}
	if logs.boot != nil {
		bootArgs = append(bootArgs, fmt.Sprintf("--log-fd=%d", 3+len(extra)))
		extra = append(extra, logs.boot)
	}
	if a.Conf.Report.Enabled && logs.report != nil {
		bootArgs = append(bootArgs, fmt.Sprintf("--report-fd=%d", 3+len(extra)))
		extra = append(extra, logs.report)
	}
	sb := exec.Command(selfExe, bootArgs...)
	sb.Args[0] = "runsc-sandbox"
	sb.Stdin, sb.Stdout, sb.Stderr = a.Stdio[0], a.Stdio[1], a.Stdio[2]
	sb.ExtraFiles = extra
	sb.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS,
		Setsid:     true,
	}
	if a.Terminal {
		sb.SysProcAttr.Setctty = true
		sb.SysProcAttr.Ctty = 0
	}
	if err := checkNamespacePaths(spec); err != nil {
		return nil, err
	}
	if ns, ok := specutils.Namespace(spec, specs.CgroupNamespace); ok && ns.Path == "" {
		sb.SysProcAttr.Cloneflags |= unix.CLONE_NEWCGROUP
	}
	if l := spec.Linux; l != nil && len(l.UIDMappings) > 0 {
		// The sandbox runs in the container's user namespace too, as its root.
		sb.SysProcAttr.Cloneflags |= unix.CLONE_NEWUSER
		sb.SysProcAttr.UidMappings = idMaps(l.UIDMappings)
		sb.SysProcAttr.GidMappings = idMaps(l.GIDMappings)
		sb.SysProcAttr.GidMappingsEnableSetgroups = true
		sb.SysProcAttr.Credential = &syscall.Credential{Uid: mappedRoot(l.UIDMappings), Gid: mappedRoot(l.GIDMappings)}
	}
	netns := ""
	if ns, ok := specutils.Namespace(spec, specs.NetworkNamespace); ok {
		netns = ns.Path
		if netns == "" {
			sb.SysProcAttr.Cloneflags |= unix.CLONE_NEWNET
		}
	}

	// The spec goes into the pipe first, so that the sandbox does not wait for it (a spec
	// larger than the pipe's buffer is written while the sandbox reads it).
	cs := &boot.ContainerSpec{
		ID: a.ID, Spec: spec, Mounts: mounts, Overlay: overlay, RootGoferWritable: rootWritable,
		Platform: a.Conf.Platform, Strace: a.Conf.Strace, Debug: a.Conf.Debug, Report: a.Conf.Report.Enabled,
		Rlimits: ownRlimits(),
	}
	var specBuf bytes.Buffer
	if err := boot.WriteContainerSpec(&specBuf, cs); err != nil {
		return nil, err
	}
	go func() {
		specW.Write(specBuf.Bytes())
		specW.Close()
	}()

	// Start the gofers and the sandbox, in parallel: creating their namespaces is most
	// of the time it takes.
	type result struct {
		cmd *exec.Cmd
		err error
	}
	results := make(chan result, len(gofers)+1)
	for _, g := range gofers {
		go func(g *goferProc) {
			err := startWith(g.cmd, g.prep, "")
			if err != nil {
				err = fmt.Errorf("starting the gofer: %w", err)
			}
			results <- result{g.cmd, err}
		}(g)
	}
	go func() {
		err := startWith(sb, nil, netns)
		if err != nil {
			err = fmt.Errorf("starting the sandbox: %w", err)
		}
		results <- result{sb, err}
	}()
	var startErr error
	for range len(gofers) + 1 {
		r := <-results
		if r.err != nil {
			if startErr == nil {
				startErr = r.err
			}
			continue
		}
		started = append(started, r.cmd)
	}
	if startErr != nil {
		cleanup()
		return nil, startErr
	}
	// The sandbox is last: the PIDs before it are the gofers'.
	for i, c := range started {
		if c == sb {
			started = append(append(started[:i:i], started[i+1:]...), sb)
			break
		}
	}
	var pids []int
	for _, c := range started {
		pids = append(pids, c.Process.Pid)
	}
	logging.Debugf("gofers and sandbox started: %v", pids)
	if a.Joined != nil {
		if err := a.Joined(pids); err != nil {
			cleanup()
			return nil, err
		}
	}
	if adj := spec.Process.OOMScoreAdj; adj != nil {
		for _, pid := range pids {
			if err := os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid), []byte(strconv.Itoa(*adj)), 0); err != nil {
				cleanup()
				return nil, fmt.Errorf("process.oomScoreAdj: %w", unwrap(err))
			}
		}
	}
	// The sandbox holds its own copies now.
	for _, f := range toClose {
		if f != specW && f != readyR {
			f.Close()
		}
	}

	line, err := bufio.NewReader(readyR).ReadString('\n')
	line = strings.TrimSpace(line)
	if line != "ok" {
		cleanup()
		if line == "" {
			line = "the sandbox exited before the container was created (see --debug-log)"
		}
		if b, _ := os.ReadFile(filepath.Join(a.Dir, "gofer.err")); len(b) > 0 {
			line += " (gofer: " + strings.TrimSpace(strings.ReplaceAll(string(b), "\n", "; ")) + ")"
		}
		return nil, errors.New(line)
	}
	return &Started{SandboxPID: sb.Process.Pid, GoferPIDs: pids[:len(pids)-1], Socket: sock, Cmd: sb}, nil
}

func unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	var out []syscall.SysProcIDMap
	for _, e := range m {
		out = append(out, syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)})
	}
	return out
}

// underSandboxMount reports whether m's destination is below a mount the sandbox makes
// itself (tmpfs, proc, /dev), which would hide a host bind mount.
func underSandboxMount(plan []specutils.PlannedMount, m specutils.PlannedMount) (string, bool) {
	for _, o := range plan {
		switch o.Kind {
		case specutils.MountTmpfs, specutils.MountProc, specutils.MountDev, specutils.MountKernelFS:
			if strings.HasPrefix(m.Destination, o.Destination+"/") {
				return o.Destination, true
			}
		}
	}
	if strings.HasPrefix(m.Destination, "/dev/") {
		return "/dev", true // the sandbox always has its own /dev
	}
	return "", false
}

// ownRlimits are the CLI's resource limits: what a container process gets for limits
// its spec does not set (as a runc container inherits runc's).
func ownRlimits() []control.Rlimit {
	var out []control.Rlimit
	for r := 0; r < 16; r++ {
		var l unix.Rlimit
		if err := unix.Getrlimit(r, &l); err == nil {
			out = append(out, control.Rlimit{Resource: r, Soft: l.Cur, Hard: l.Max})
		}
	}
	return out
}

// startWith starts cmd, after running prep in a private mount namespace (inherited by
// cmd) and/or joining the network namespace at netns. Both are per thread: the start
// happens on a locked OS thread that is thrown away afterwards.
func startWith(cmd *exec.Cmd, prep func() error, netns string) error {
	if prep == nil && netns == "" {
		return cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		// No UnlockOSThread: the thread's namespaces are not the process's any more, so
		// it must die with this goroutine.
		runtime.LockOSThread()
		if netns != "" {
			fd, err := unix.Open(netns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				errc <- fmt.Errorf("network namespace %s: %w", netns, err)
				return
			}
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
			if err != nil {
				errc <- fmt.Errorf("joining the network namespace %s: %w", netns, err)
				return
			}
		}
		if prep != nil {
			if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
				errc <- fmt.Errorf("creating a mount namespace: %w", err)
				return
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				errc <- fmt.Errorf("making mounts private: %w", err)
				return
			}
			if err := prep(); err != nil {
				errc <- err
				return
			}
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// bindFiles binds each bind-mounted file's source onto its destination in rootfs (in
// the caller's private mount namespace), creating the destination as runc does, and
// applies the mount's flags. Entries of kind MountSkip with Type "dir" only get their
// directory created.
func bindFiles(rootfs string, binds []specutils.PlannedMount) error {
	for _, m := range binds {
		target, err := SecureJoin(rootfs, m.Destination)
		if err != nil {
			return fmt.Errorf("mount destination %s: %w", m.Destination, err)
		}
		if m.Kind == specutils.MountSkip {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("creating mount point %s: %w", m.Destination, unwrap(err))
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("creating mount point %s: %w", m.Destination, unwrap(err))
		}
		if st, err := os.Lstat(target); err == nil {
			if st.IsDir() {
				return fmt.Errorf("mount destination %s is a directory and %s is not", m.Destination, m.Source)
			}
		} else {
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|unix.O_NOFOLLOW, 0o644)
			if err != nil {
				return fmt.Errorf("creating mount point %s: %w", m.Destination, unwrap(err))
			}
			f.Close()
		}
		if err := unix.Mount(m.Source, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mounting %s on %s: %w", m.Source, m.Destination, err)
		}
		flags := m.Flags & (unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
		if flags != 0 {
			var sf unix.Statfs_t
			unix.Statfs(target, &sf)
			if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|flags|lockedFlags(sf.Flags), ""); err != nil {
				return fmt.Errorf("remounting %s (%v): %w", m.Destination, flags, err)
			}
		}
	}
	return nil
}

// lockedFlags are the flags of an existing mount that a bind remount must keep.
func lockedFlags(st int64) uintptr {
	var ms uintptr
	for _, f := range []struct {
		st int64
		ms uintptr
	}{{unix.ST_RDONLY, unix.MS_RDONLY}, {unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC}} {
		if st&f.st != 0 {
			ms |= f.ms
		}
	}
	return ms
}

// SecureJoin resolves path inside root as if root were "/": symlinks (absolute ones
// relative to root) and ".." never leave root. Missing components are kept as given.
func SecureJoin(root, path string) (string, error) {
	var resolved []string
	rest := strings.Split(filepath.Clean("/"+path), "/")
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(resolved) > 0 {
				resolved = resolved[:len(resolved)-1]
			}
			continue
		}
		cur := filepath.Join(append([]string{root}, append(resolved, c)...)...)
		st, err := os.Lstat(cur)
		if err != nil || st.Mode()&os.ModeSymlink == 0 {
			resolved = append(resolved, c)
			continue
		}
		links++
		if links > 40 {
			return "", unix.ELOOP
		}
		target, err := os.Readlink(cur)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			resolved = nil
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return filepath.Join(append([]string{root}, resolved...)...), nil
}

// ProcessStart returns a process's start time (field 22 of /proc/PID/stat, in clock
// ticks since boot) and whether it is alive (not gone, not a zombie).
func ProcessStart(pid int) (uint64, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, false
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	start, _ := strconv.ParseUint(f[19], 10, 64)
	return start, true
}

// Alive reports whether the process pid is the one that started at start and is not
// dead or a zombie.
func Alive(pid int, start uint64) bool {
	s, ok := ProcessStart(pid)
	return ok && (start == 0 || s == start)
}

// WaitGone waits up to d for the process to die (or become a zombie).
func WaitGone(pid int, start uint64, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !Alive(pid, start) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// mappedRoot is the ID a process in the user namespace runs as: 0 if mapped, else the
// first mapped ID.
func mappedRoot(m []specs.LinuxIDMapping) uint32 {
	for _, e := range m {
		if e.ContainerID == 0 {
			return 0
		}
	}
	if len(m) > 0 {
		return m[0].ContainerID
	}
	return 0
}

// joinSandbox starts a subcontainer's gofers, creates the container in the running
// sandbox at a.JoinSocket, and starts the `runsc wait` process that stands for it.
func joinSandbox(a ContainerArgs, gofers []*goferProc, mounts []boot.ContainerMount, overlay string, rootWritable bool, cleanup func(), started *[]*exec.Cmd) (*Started, error) {
	for _, g := range gofers {
		if err := startWith(g.cmd, g.prep, ""); err != nil {
			cleanup()
			return nil, fmt.Errorf("starting the gofer: %w", err)
		}
		*started = append(*started, g.cmd)
	}
	var pids []int
	for _, c := range *started {
		pids = append(pids, c.Process.Pid)
	}
	if a.Joined != nil {
		if err := a.Joined(pids); err != nil {
			cleanup()
			return nil, err
		}
	}
	specJSON, err := json.Marshal(a.Spec)
	if err != nil {
		cleanup()
		return nil, err
	}
	mountsJSON, err := json.Marshal(&boot.PodMounts{Mounts: mounts, Overlay: overlay, RootGoferWritable: rootWritable})
	if err != nil {
		cleanup()
		return nil, err
	}
	init := boot.ProcessOf(a.Spec.Process)
	var fds []int
	for _, g := range gofers {
		fds = append(fds, int(g.end.Fd()))
	}
	if a.Terminal {
		fds = append(fds, int(a.Stdio[0].Fd()))
	} else {
		for _, f := range a.Stdio {
			fds = append(fds, int(f.Fd()))
		}
	}
	err = control.Call(a.JoinSocket, control.MethodCreate, &control.CreateArgs{
		ContainerID: a.ID, Spec: specJSON, Mounts: mountsJSON, Init: *init,
	}, nil, fds...)
	if err != nil {
		cleanup()
		return nil, err
	}
	// The waiter: its exit status is the container's, and it forwards signals.
	args := append(append([]string{}, a.WaiterFlags...), "wait", "--quiet", "--bound", "--ready-fd=3", "--socket="+a.JoinSocket, a.ID)
	w := exec.Command(selfExe, args...)
	w.Args[0] = "runsc-container-wait"
	if null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
		defer null.Close()
		w.Stdin, w.Stdout, w.Stderr = null, null, null
	}
	w.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := StartBoundWaiter(w); err != nil {
		control.Call(a.JoinSocket, control.MethodDestroy, &control.ContainerArgs{ContainerID: a.ID}, nil)
		cleanup()
		return nil, fmt.Errorf("starting the container's waiter: %w", err)
	}
	if a.Joined != nil {
		a.Joined([]int{w.Process.Pid})
	}
	return &Started{SandboxPID: w.Process.Pid, GoferPIDs: pids, Socket: a.JoinSocket, Cmd: w}, nil
}

// nsTypes are the CLONE_NEW* flag of each namespace type, as NS_GET_NSTYPE reports it.
var nsTypes = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace: unix.CLONE_NEWNS, specs.IPCNamespace: unix.CLONE_NEWIPC,
	specs.UTSNamespace: unix.CLONE_NEWUTS, specs.UserNamespace: unix.CLONE_NEWUSER,
	specs.CgroupNamespace: unix.CLONE_NEWCGROUP, specs.TimeNamespace: unix.CLONE_NEWTIME,
}

// checkNamespacePaths verifies that every namespace path of the spec is a namespace of
// the type it is given for.
func checkNamespacePaths(spec *specs.Spec) error {
	if spec.Linux == nil {
		return nil
	}
	for i, ns := range spec.Linux.Namespaces {
		if ns.Path == "" {
			continue
		}
		fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("linux.namespaces[%d].path: %s: %w", i, ns.Path, err)
		}
		typ, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("linux.namespaces[%d].path: %s is not a namespace: %w", i, ns.Path, err)
		}
		if want := nsTypes[ns.Type]; typ != want {
			got := "another"
			for t, f := range nsTypes {
				if f == typ {
					got = "a " + string(t)
				}
			}
			return fmt.Errorf("linux.namespaces[%d].path: %s is %s namespace, not a %s namespace", i, ns.Path, got, ns.Type)
		}
	}
	return nil
}
