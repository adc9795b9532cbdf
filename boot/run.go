package boot

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/gofer/proto"
	"runsc.dev/platform"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/kernel/auth"
	"runsc.dev/sentry/memory"
	"runsc.dev/sentry/syscalls"
	"runsc.dev/sentry/vdso"
	"runsc.dev/sentry/vfs"

	// The platforms this build offers register themselves.
	_ "runsc.dev/platform/ptrace"
)

// Args are the sandbox process's inputs: fds the CLI passed and the spec.
type Args struct {
	Spec    *Spec
	GoferFD int
	// MountGoferFDs are the connections to the gofers of Spec.Volumes, in order.
	MountGoferFDs []int
	Log           io.Writer // debug log and strace; nil discards
	Report        io.Writer // where --report goes; nil when not asked
	Confine       bool      // set up the empty root (false only in tests)
}

// Exit codes the sandbox uses for its own failures, as a shell would.
const (
	ExitNotFound      = 127
	ExitNotExecutable = 126
	ExitFailure       = 125 // the sandbox itself failed (like docker run's 125)
)

// Run builds the sandbox and runs the container's first process; it returns the exit
// code the CLI should exit with: the process's, 128+N if it died of signal N, or one of
// the codes above.
func Run(a Args) int {
	if a.Confine {
		if err := confine(); err != nil {
			fmt.Fprintf(stderr, "runsc: confining the sandbox: %v\n", err)
			return ExitFailure
		}
		if err := dropPrivileges(); err != nil {
			fmt.Fprintf(stderr, "runsc: %v\n", err)
			return ExitFailure
		}
	}
	var logger *log.Logger
	if a.Log != nil {
		logger = log.New(a.Log, "", log.Lmicroseconds)
	}
	s := a.Spec

	mf, err := memory.New(0)
	if err != nil {
		fmt.Fprintf(stderr, "runsc: %v\n", err)
		return ExitFailure
	}
	// The vDSO every process gets, and the goroutine that keeps its clock page current.
	vd, err := vdso.New(mf)
	if err != nil {
		fmt.Fprintf(stderr, "runsc: %v\n", err)
		return ExitFailure
	}
	vd.Start()
	defer vd.Stop()
	p, err := platform.New(s.Platform, platform.Options{MemoryFD: mf.FD()})
	if err != nil {
		fmt.Fprintf(stderr, "runsc: starting platform: %v\n", err)
		return ExitFailure
	}
	client, err := proto.NewClient(a.GoferFD)
	if err != nil {
		fmt.Fprintf(stderr, "runsc: connecting to the gofer: %v\n", err)
		return ExitFailure
	}
	defer client.Shutdown()

	if len(a.MountGoferFDs) != len(s.Volumes) {
		fmt.Fprintf(stderr, "runsc: %d volumes but %d gofer connections\n", len(s.Volumes), len(a.MountGoferFDs))
		return ExitFailure
	}
	var volumes []MountSpec
	for i, vol := range s.Volumes {
		c, err := proto.NewClient(a.MountGoferFDs[i])
		if err != nil {
			fmt.Fprintf(stderr, "runsc: connecting to the gofer of volume %s: %v\n", vol.Host, err)
			return ExitFailure
		}
		defer c.Shutdown()
		ms := MountSpec{Destination: vol.Container, Type: "bind", Source: vol.Host, Client: c, GoferWritable: !vol.ReadOnly}
		if vol.ReadOnly {
			ms.Options = []string{"ro"}
		}
		volumes = append(volumes, ms)
	}
	v, root, err := buildMounts(client, s.Overlay, volumes)
	if err != nil {
		fmt.Fprintf(stderr, "runsc: building the container's filesystem: %v\n", err)
		return ExitFailure
	}
	k := kernel.New(kernel.Options{
		Platform: p, MemoryFile: mf, VFS: v, Syscalls: syscalls.Table(),
		Hostname: s.Hostname, Strace: s.Strace, Log: logger, VDSO: vd,
	})

	creds := auth.NewUserCredentials(auth.KUID(s.UID), auth.KGID(s.GID), nil)
	if b := s.BoundingCaps; b != nil {
		creds.BoundingCaps &= *b
		creds.PermittedCaps &= *b
		creds.EffectiveCaps &= *b
	}
	ctx := &vfs.KernelContext{Creds: creds}
	fsctx, err := newFSContext(ctx, v, root, s.Cwd)
	if err != nil {
		fmt.Fprintf(stderr, "runsc: working directory %q: %v\n", s.Cwd, err)
		return ExitFailure
	}
	fdt, err := stdioTable(v)
	if err != nil {
		fmt.Fprintf(stderr, "runsc: %v\n", err)
		return ExitFailure
	}
	rl := kernel.DefaultRlimits()
	if s.NoFile[1] != 0 {
		rl[unix.RLIMIT_NOFILE] = kernel.Rlimit{Cur: s.NoFile[0], Max: s.NoFile[1]}
	}
	fdt.SetLimit(rl[unix.RLIMIT_NOFILE].Cur)

	file, execPath, code, err := lookPath(ctx, v, fsctx, s.Argv[0], s.Env)
	if err != nil {
		fmt.Fprintf(stderr, "runsc: %s: %v\n", s.Argv[0], err)
		return code
	}
	tg, err := k.CreateProcess(kernel.CreateProcessArgs{
		Argv: s.Argv, Envv: s.Env, Executable: file, ExecPath: execPath, Filename: s.Argv[0],
		Credentials: creds, FDTable: fdt, FSContext: fsctx, Rlimits: rl,
	})
	file.DecRef()
	if err != nil {
		fmt.Fprintf(stderr, "runsc: %s: %v\n", s.Argv[0], describeExecError(err))
		if errors.Is(err, unix.ENOEXEC) || errors.Is(err, unix.EACCES) {
			return ExitNotExecutable
		}
		return ExitFailure
	}

	// Signals sent to the sandbox (forwarded by the CLI) go to the container's init.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGCONT)
	go func() {
		for sig := range sigs {
			k.SignalInit(int(sig.(unix.Signal)))
		}
	}()

	k.Start(tg)
	status := k.WaitInit()
	signal.Stop(sigs)
	if s.Report && a.Report != nil {
		if rep := k.UnsupportedReport(); rep != "" {
			fmt.Fprintf(a.Report, "runsc: unsupported syscalls made by the application:\n%s", indent(rep))
		} else {
			fmt.Fprintf(a.Report, "runsc: the application made no unsupported syscalls\n")
		}
	}
	return status.ShellCode()
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

// describeExecError words an exec failure as a shell would.
func describeExecError(err error) string {
	switch {
	case errors.Is(err, unix.ENOEXEC):
		return "cannot execute: not a valid executable (exec format error)"
	case errors.Is(err, unix.EACCES):
		return "cannot execute: permission denied"
	case errors.Is(err, unix.E2BIG):
		return "argument list too long"
	}
	return err.Error()
}

// lookPath finds name as execvp(3) does, in the container's filesystem: a name with a
// slash is used as is, otherwise each PATH directory is tried. It returns the open file,
// its absolute path, and on failure the shell's exit code (127 not found, 126 found but
// not executable).
func lookPath(ctx vfs.Context, v *vfs.VirtualFilesystem, fsctx *vfs.FSContext, name string, env []string) (*vfs.FileDescription, string, int, error) {
	if strings.Contains(name, "/") {
		f, p, err := v.OpenExecutable(ctx, fsctx, name)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
				return nil, "", ExitNotFound, fmt.Errorf("no such file or directory")
			}
			return nil, "", ExitNotExecutable, errors.New(describeExecError(err))
		}
		return f, p, 0, nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			pathEnv = e[len("PATH="):]
		}
	}
	var denied error
	for _, dir := range strings.Split(pathEnv, ":") {
		if dir == "" {
			dir = "."
		}
		f, p, err := v.OpenExecutable(ctx, fsctx, path.Join(dir, name))
		if err == nil {
			return f, p, 0, nil
		}
		if errors.Is(err, unix.EACCES) && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		return nil, "", ExitNotExecutable, errors.New(describeExecError(denied))
	}
	return nil, "", ExitNotFound, fmt.Errorf("executable file not found in PATH")
}
