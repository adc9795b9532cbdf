package boot

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"runsc.dev/boot/control"
	"runsc.dev/gofer/proto"
	"runsc.dev/sentry/fs/tmpfs"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// Subcontainers: the containers of a Kubernetes pod after the first share its sandbox
// (annotations io.kubernetes.cri.container-type=container and
// io.kubernetes.cri.sandbox-id). Each has its own gofers and its own mount tree, built
// in the sandbox's one VFS under an anonymous mount point (invisible from the other
// containers' trees), and its own init process, started by Start. The sandbox lives as
// long as its first container's init.

// PodMounts is CreateArgs.Mounts: the subcontainer's planned mounts and root settings.
type PodMounts struct {
	Mounts            []ContainerMount `json:"mounts"`
	Overlay           string           `json:"overlay"`
	RootGoferWritable bool             `json:"rootGoferWritable"`
}

// createSubcontainer builds a subcontainer from the Create request. files are the root
// gofer, the bind mounts' gofers, then the stdio (three, or one terminal).
func (s *sandbox) createSubcontainer(a *control.CreateArgs, files []*os.File) error {
	var spec specs.Spec
	if err := json.Unmarshal(a.Spec, &spec); err != nil {
		closeFiles(files)
		return fmt.Errorf("Create: the spec: %w", err)
	}
	var pm PodMounts
	if err := json.Unmarshal(a.Mounts, &pm); err != nil {
		closeFiles(files)
		return fmt.Errorf("Create: the mounts: %w", err)
	}
	if spec.Process == nil || a.ContainerID == "" {
		closeFiles(files)
		return errors.New("Create: no process or container ID")
	}
	nGofers := 1
	for _, m := range pm.Mounts {
		if m.GoferFD >= 0 {
			nGofers++
		}
	}
	nStdio := 3
	if a.Init.Terminal {
		nStdio = 1
	}
	if len(files) != nGofers+nStdio {
		closeFiles(files)
		return fmt.Errorf("Create: expected %d file descriptors, got %d", nGofers+nStdio, len(files))
	}
	s.mu.Lock()
	_, dup := s.containers[a.ContainerID]
	s.mu.Unlock()
	if dup {
		closeFiles(files)
		return fmt.Errorf("container %q already exists in this sandbox", a.ContainerID)
	}
	var clients []*proto.Client
	fail := func(err error) error {
		for _, c := range clients {
			c.Shutdown()
		}
		closeFiles(files[len(clients):])
		return err
	}
	for i := 0; i < nGofers; i++ {
		fd, err := dupFD(files[i])
		if err != nil {
			return fail(err)
		}
		files[i].Close()
		c, err := proto.NewClient(fd)
		if err != nil {
			return fail(fmt.Errorf("connecting to the gofer: %w", err))
		}
		clients = append(clients, c)
	}
	stdio := files[nGofers:]
	files = files[:nGofers] // closed already; fail() closes the stdio only
	root, err := s.buildSubcontainerTree(&spec, &pm, clients)
	if err != nil {
		return fail(err)
	}
	c := &container{
		id: a.ContainerID, spec: &spec, root: root, clients: clients,
		procs: map[int32]*kernel.ThreadGroup{}, starts: map[int32]time.Time{}, gone: make(chan struct{}),
	}
	fdt, err := s.fdTableOf(&a.Init, stdio)
	if err != nil {
		return fail(err)
	}
	init, err := s.newProcess(c, &a.Init, fdt)
	if err != nil {
		return fail(err)
	}
	c.init = init
	c.initCtx = s.pause.lastContext()
	s.mu.Lock()
	s.containers[a.ContainerID] = c
	s.mu.Unlock()
	return nil
}

// buildSubcontainerTree mounts the subcontainer's root and mounts in the sandbox's VFS,
// under an anonymous directory, and returns its root.
func (s *sandbox) buildSubcontainerTree(spec *specs.Spec, pm *PodMounts, clients []*proto.Client) (vfs.VirtualDentry, error) {
	// One subcontainer's mounts at a time: its root is found as the newest mount.
	s.mountMu.Lock()
	defer s.mountMu.Unlock()
	ctx := vfs.NewKernelContext()
	v := s.v
	rootCfg := RootConfig{
		Client: clients[0], Overlay: pm.Overlay, GoferWritable: pm.RootGoferWritable,
		ReadOnly: spec.Root != nil && spec.Root.Readonly,
	}
	rootfs, err := NewRootFilesystem(ctx, rootCfg)
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	point := v.NewAnonVirtualDentry(ctx, tmpfs.New(tmpfs.Options{Mode: 0o755}).Root())
	var flags uint32
	if rootCfg.ReadOnly {
		flags |= vfs.MountReadOnly
	}
	if err := v.MountAt(ctx, point, rootfs, flags); err != nil {
		return vfs.VirtualDentry{}, fmt.Errorf("mounting the root: %w", err)
	}
	all := v.Mounts()
	m := all[len(all)-1]
	root := vfs.VirtualDentry{Mount: m, Dentry: m.Root()}
	mounts, err := containerMountSpecs(pm.Mounts, clients[1:])
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	for _, ms := range mounts {
		if err := mountSpecAt(ctx, v, root, ms); err != nil {
			return vfs.VirtualDentry{}, fmt.Errorf("mount %s on %s: %w", ms.Type, ms.Destination, err)
		}
	}
	return root, nil
}

// startSubcontainer starts a subcontainer's init.
func (s *sandbox) startSubcontainer(id string) error {
	c, err := s.container(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
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

// destroySubcontainer kills a subcontainer's processes and forgets it once they are gone.
func (s *sandbox) destroySubcontainer(c *container) {
	for _, tg := range s.containerGroups(c) {
		tg.SendSignal(&kernel.SignalInfo{Signo: 9, Code: kernel.SI_KERNEL})
	}
	s.mu.Lock()
	started := c.started
	s.mu.Unlock()
	if started {
		select {
		case <-c.init.ExitedCh():
		case <-time.After(2 * time.Second):
		}
	}
	s.mu.Lock()
	first := !c.destroyed
	c.destroyed = true
	clients := c.clients
	c.clients = nil
	s.mu.Unlock()
	if first {
		close(c.gone)
		// The gofers exit when their connections close.
		for _, cl := range clients {
			cl.Shutdown()
		}
	}
}

func dupFD(f *os.File) (int, error) {
	return dupCloexec(int(f.Fd()))
}
