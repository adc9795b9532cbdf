// Package container owns the OCI lifecycle of runsc's containers on the host side: the
// state kept per container under --root (one directory per container holding
// state.json, written atomically, and guarded by an flock on the directory so that
// concurrent commands on one container are serialised), the statuses and their legal
// transitions (creating -> created -> running <-> paused -> stopped), detecting a
// sandbox that died (the container is then stopped), hooks, and the operations the CLI
// commands perform: create, start, kill, delete, exec, pause, resume, wait.
//
// Lock order: the per-container directory flock is the only lock; a command holds at
// most one container's lock at a time, except that a subcontainer's command may read
// (without locking) its sandbox's state.
package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"runsc.dev/boot/control"
	"runsc.dev/runsc/cgroup"
	"runsc.dev/runsc/sandbox"
	"runsc.dev/specutils"
)

// Status is an OCI container status.
type Status string

// The OCI statuses.
const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

// stateFile is the name of the state inside a container's directory.
const stateFile = "state.json"

// SavedConfig is what later commands need of the global flags given at create, so that
// they work without them (podman's cleanup runs `delete --force` with none).
type SavedConfig struct {
	Platform      string `json:"platform"`
	Network       string `json:"network"`
	Overlay       string `json:"overlay"`
	DebugLog      string `json:"debugLog,omitempty"`
	Debug         bool   `json:"debug,omitempty"`
	Strace        bool   `json:"strace,omitempty"`
	SystemdCgroup bool   `json:"systemdCgroup,omitempty"`
}

// State is what runsc keeps of a container.
type State struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`

	// SandboxPID is the sandbox process: the container's PID as the host sees it.
	SandboxPID   int    `json:"sandboxPid"`
	SandboxStart uint64 `json:"sandboxStart"`
	GoferPIDs    []int  `json:"goferPids,omitempty"`
	// Socket is the controller socket.
	Socket string `json:"socket"`
	// PodSandbox is the ID of the pod's sandbox container this container runs in; for
	// such a container, SandboxPID is its waiter (`runsc wait`), not a sandbox.
	PodSandbox string `json:"podSandbox,omitempty"`
	// Cgroup is the container's cgroup, if runsc made one.
	Cgroup *cgroup.Cgroup `json:"cgroup,omitempty"`
	// Spec is the spec the container was created with (hooks at delete, exec defaults).
	Spec   *specs.Spec `json:"spec"`
	Config SavedConfig `json:"config"`
}

// Container is a container whose state was loaded, possibly with its lock held.
type Container struct {
	State
	dir    string
	lockFD int // -1 when not locked
}

// Dir is the container's state directory.
func (c *Container) Dir() string { return c.dir }

// ErrNotExist is returned for an unknown container ID.
var ErrNotExist = errors.New("container does not exist")

// lockDir takes the flock of a container directory.
func lockDir(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// Load reads a container's state; with lock it takes the container's lock first (and
// keeps it until Unlock). A container whose sandbox is gone is reported stopped (and
// saved so when locked).
func Load(root, id string, lock bool) (*Container, error) {
	if err := specutils.ValidateID(id); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, id)
	c := &Container{dir: dir, lockFD: -1}
	if lock {
		fd, err := lockDir(dir)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
				return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
			}
			return nil, fmt.Errorf("locking container %q: %w", id, err)
		}
		c.lockFD = fd
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		c.Unlock()
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
		}
		return nil, fmt.Errorf("reading the state of container %q: %w", id, err)
	}
	if err := json.Unmarshal(b, &c.State); err != nil {
		c.Unlock()
		return nil, fmt.Errorf("container %q: corrupt state file: %w", id, err)
	}
	c.refresh()
	return c, nil
}

// refresh turns a container whose sandbox died, or whose init has exited, into
// stopped.
func (c *Container) refresh() {
	switch c.Status {
	case Created, Running, Paused:
		stopped := !sandbox.Alive(c.SandboxPID, c.SandboxStart)
		if !stopped && c.Status != Created {
			// The sandbox outlives its container's init by the moments it takes to
			// shut down: ask it.
			var st control.ContainerStatus
			err := control.Call(c.Socket, control.MethodStatus, &control.ContainerArgs{ContainerID: c.ID}, &st)
			switch {
			case err == nil:
				stopped = st.Exited
			case errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.ENOENT):
				stopped = true // the controller is gone: the sandbox is exiting
			}
		}
		if stopped {
			c.Status = Stopped
			if c.lockFD >= 0 {
				c.save()
			}
		}
	case Creating:
		// A create that died half-way is stopped once its sandbox is gone; delete
		// (with --force while it runs) cleans it up.
		if c.SandboxPID == 0 || !sandbox.Alive(c.SandboxPID, c.SandboxStart) {
			c.Status = Stopped
		}
	}
}

// Unlock releases the container's lock.
func (c *Container) Unlock() {
	if c.lockFD >= 0 {
		unix.Close(c.lockFD)
		c.lockFD = -1
	}
}

// save writes the state atomically (temporary file, fsync, rename).
func (c *Container) save() error {
	b, err := json.Marshal(&c.State)
	if err != nil {
		return err
	}
	tmp := filepath.Join(c.dir, "."+stateFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("saving the state: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("saving the state: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("saving the state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, stateFile)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("saving the state: %w", err)
	}
	return nil
}

// PID is the container's PID as `state` reports it: the sandbox's, or 0 once stopped.
func (c *Container) PID() int {
	if c.Status == Stopped {
		return 0
	}
	return c.SandboxPID
}

// OCIState is the state in the OCI form, as `state` prints it and hooks receive it.
type OCIState struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	PID         int               `json:"pid"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

// OCI returns the container's OCI state.
func (c *Container) OCI() OCIState {
	return OCIState{
		Version: c.Version, ID: c.ID, PID: c.PID(), Status: c.Status, Bundle: c.Bundle,
		Rootfs: c.Rootfs, Created: c.Created, Annotations: c.Annotations, Owner: c.Owner,
	}
}

// List loads every container under root (without locking), sorted by creation time.
func List(root string) ([]*Container, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []*Container
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		c, err := Load(root, e.Name(), false)
		if err != nil {
			continue
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}
