package cmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"runsc.dev/boot"
	"runsc.dev/runsc/sandbox"
)

// Do runs a command in a sandbox over the host's root filesystem.
type Do struct {
	cwd     string
	env     stringList
	volumes stringList
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// Name implements subcommands.Command.
func (*Do) Name() string { return "do" }

// Synopsis implements subcommands.Command.
func (*Do) Synopsis() string {
	return "run a command sandboxed on the host's root filesystem (writes stay in memory, private /tmp)"
}

// Usage implements subcommands.Command.
func (*Do) Usage() string {
	return "do [--cwd DIR] [--env K=V]... [--volume HOST:CONTAINER[:ro]]... CMD [ARG...]\n"
}

// SetFlags implements subcommands.Command.
func (d *Do) SetFlags(f *flag.FlagSet) {
	f.StringVar(&d.cwd, "cwd", "", "working directory inside the sandbox (default: the current one)")
	f.Var(&d.env, "env", "set an environment variable K=V (repeatable); the caller's environment is passed otherwise")
	f.Var(&d.volumes, "volume", "bind-mount the host directory HOST on CONTAINER, read-write (writes reach the host) or with :ro read-only (repeatable)")
}

// Execute implements subcommands.Command.
func (d *Do) Execute(_ context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := confOf(args)
	if f.NArg() == 0 {
		errorf("do: missing command to run (usage: runsc do [flags] CMD [ARG...])")
		return subcommands.ExitUsageError
	}
	if os.Geteuid() != 0 {
		errorf("do: must run as root (the sandbox needs namespaces)")
		return subcommands.ExitFailure
	}
	cwd := d.cwd
	if cwd == "" {
		cwd, _ = os.Getwd()
		if cwd == "" {
			cwd = "/"
		}
	}
	env := os.Environ()
	for _, kv := range d.env {
		if !strings.Contains(kv, "=") || strings.HasPrefix(kv, "=") {
			errorf("do: --env %q: want KEY=VALUE", kv)
			return subcommands.ExitUsageError
		}
		env = setEnv(env, kv)
	}
	var volumes []boot.Volume
	for _, v := range d.volumes {
		vol, err := parseVolume(v)
		if err != nil {
			errorf("do: --volume %q: %v", v, err)
			return subcommands.ExitUsageError
		}
		volumes = append(volumes, vol)
	}
	hostname, _ := os.Hostname()
	var nofile unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile)
	spec := &boot.Spec{
		Argv: f.Args(), Env: env, Cwd: cwd, Hostname: hostname,
		UID: uint32(os.Getuid()), GID: uint32(os.Getgid()),
		Platform: conf.Platform, Strace: conf.Strace, Debug: conf.Debug,
		NoFile: [2]uint64{nofile.Cur, nofile.Max}, Overlay: conf.Overlay,
		BoundingCaps: callerBoundingCaps(), Volumes: volumes,
	}
	code, err := sandbox.Do(sandbox.DoArgs{Spec: spec, Conf: conf})
	if err != nil {
		errorf("do: %v", err)
		return subcommands.ExitFailure
	}
	return subcommands.ExitStatus(code)
}

// setEnv replaces or appends KEY=VALUE.
func setEnv(env []string, kv string) []string {
	key := kv[:strings.IndexByte(kv, '=')+1]
	for i, e := range env {
		if strings.HasPrefix(e, key) {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

// callerBoundingCaps is the caller's capability bounding set (nil if it cannot be read):
// `do` runs the command as the caller would exec it, so it gets no capability the
// caller's bounding set lacks (a container runtime often drops some, e.g.
// CAP_SYS_RESOURCE).
func callerBoundingCaps() *uint64 {
	var set uint64
	for c := 0; c < 64; c++ {
		r, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
		if err != nil {
			if c == 0 {
				return nil
			}
			break // past the last capability the host kernel knows
		}
		if r == 1 {
			set |= 1 << c
		}
	}
	return &set
}

// parseVolume parses HOST:CONTAINER[:ro|:rw]: both absolute paths, HOST an existing
// directory (the gofer serves directories).
func parseVolume(v string) (boot.Volume, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return boot.Volume{}, errors.New("want HOST:CONTAINER or HOST:CONTAINER:ro")
	}
	vol := boot.Volume{Host: filepath.Clean(parts[0]), Container: filepath.Clean(parts[1])}
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			vol.ReadOnly = true
		case "rw":
		default:
			return boot.Volume{}, fmt.Errorf("unknown option %q (want ro or rw)", parts[2])
		}
	}
	if !filepath.IsAbs(parts[0]) || !filepath.IsAbs(parts[1]) {
		return boot.Volume{}, errors.New("HOST and CONTAINER must be absolute paths")
	}
	if vol.Container == "/" {
		return boot.Volume{}, errors.New("CONTAINER cannot be / (the root is the host's root)")
	}
	st, err := os.Stat(vol.Host)
	if err != nil {
		return boot.Volume{}, err
	}
	if !st.IsDir() {
		return boot.Volume{}, fmt.Errorf("%s is not a directory (only directories can be volumes)", vol.Host)
	}
	return vol, nil
}
