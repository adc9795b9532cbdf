package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"runsc.dev/boot/control"
	"runsc.dev/runsc/logging"
	"runsc.dev/specutils"
)

// runHooks runs the hooks of one kind on the host (the runtime namespace), each with the
// container's state on its stdin, in order; the first that fails (or outlives its
// timeout) stops the others and is returned.
func (c *Container) runHooks(kind string) error {
	hooks := specutils.Hooks(c.Spec.Hooks, kind)
	if len(hooks) == 0 {
		return nil
	}
	state, err := json.Marshal(c.OCI())
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if err := runHostHook(h, state); err != nil {
			return fmt.Errorf("%s hook #%d (%s): %w", kind, i, h.Path, err)
		}
		logging.Debugf("ran %s hook #%d (%s)", kind, i, h.Path)
	}
	return nil
}

func runHostHook(h specs.Hook, state []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	var args []string
	if len(h.Args) > 1 {
		args = h.Args[1:]
	}
	cmd := exec.CommandContext(ctx, h.Path, args...)
	if len(h.Args) > 0 {
		cmd.Args[0] = h.Args[0]
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		if msg := strings.TrimSpace(out.String()); msg != "" {
			return fmt.Errorf("%v: %s", err, msg)
		}
		return err
	}
	return nil
}

// runStartContainerHooks runs the startContainer hooks inside the container (their
// path resolves there), each with the state on stdin.
func (c *Container) runStartContainerHooks() error {
	hooks := specutils.Hooks(c.Spec.Hooks, "startContainer")
	if len(hooks) == 0 {
		return nil
	}
	state, err := json.Marshal(c.OCI())
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if err := c.runSandboxHook(h, state); err != nil {
			return fmt.Errorf("startContainer hook #%d (%s): %w", i, h.Path, err)
		}
	}
	return nil
}

func (c *Container) runSandboxHook(h specs.Hook, state []byte) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	go func() {
		w.Write(state)
		w.Close()
	}()
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	argv := append([]string{h.Path}, args[1:]...)
	p := control.Process{Argv: argv, Env: h.Env, Cwd: "/"}
	var timeout time.Duration
	if h.Timeout != nil {
		timeout = time.Duration(*h.Timeout) * time.Second
	}
	var res control.WaitResult
	err = control.Call(c.Socket, control.MethodRunHook, &control.HookArgs{ContainerID: c.ID, Process: p, Timeout: timeout}, &res,
		int(r.Fd()), int(os.Stderr.Fd()), int(os.Stderr.Fd()))
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("exit status %d", res.ExitCode)
	}
	return nil
}
