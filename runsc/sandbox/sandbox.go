// Package sandbox owns starting and supervising the processes of a sandbox from the
// host side: the gofer (one per container, serving its root) and the sandbox process
// (`runsc boot`, hosting the sentry), the socketpairs and fds that connect them, and
// reaping both so that nothing is left behind.
//
// Lock order: no locks; a Sandbox is used by one goroutine of the CLI.
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/boot"
	"runsc.dev/runsc/config"
)

// DoArgs describe an ad hoc sandbox over the host's root filesystem.
type DoArgs struct {
	Spec *boot.Spec
	Conf *config.Config
}

// selfExe is the runsc binary, re-executed for each process role.
const selfExe = "/proc/self/exe"

// Do runs the sandbox to completion and returns the exit code for the CLI.
func Do(a DoArgs) (int, error) {
	goferEnd, sentryEnd, err := seqpacketPair()
	if err != nil {
		return 0, fmt.Errorf("creating the gofer socket: %w", err)
	}
	defer goferEnd.Close()
	defer sentryEnd.Close()

	logs, err := openLogs(a.Conf)
	if err != nil {
		return 0, err
	}
	defer logs.close()

	newGofer := func(root string, ro bool, end *os.File) *exec.Cmd {
		args := append(a.Conf.ToFlags(), "gofer", "--root="+root, "--io-fd=3")
		if ro {
			args = append(args, "--ro")
		}
		g := exec.Command(selfExe, args...)
		g.Args[0] = "runsc-gofer"
		g.ExtraFiles = []*os.File{end}
		g.Stderr = logs.goferOut()
		g.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNET,
			Pdeathsig:  unix.SIGKILL,
		}
		return g
	}
	gofer := newGofer("/", true, goferEnd)
	// One gofer per volume, serving its host directory.
	var volGofers []*exec.Cmd
	var volGoferEnds, volSentryEnds []*os.File
	defer func() {
		for _, f := range append(volGoferEnds, volSentryEnds...) {
			f.Close()
		}
	}()
	for _, v := range a.Spec.Volumes {
		ge, se, err := seqpacketPair()
		if err != nil {
			return 0, fmt.Errorf("creating a gofer socket for volume %s: %w", v.Host, err)
		}
		volGoferEnds, volSentryEnds = append(volGoferEnds, ge), append(volSentryEnds, se)
		volGofers = append(volGofers, newGofer(v.Host, v.ReadOnly, ge))
	}

	specR, specW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("creating the spec pipe: %w", err)
	}
	defer specR.Close()
	defer specW.Close()
	bootArgs := append(a.Conf.ToFlags(), "boot", "--spec-fd=3", "--gofer-fd=4")
	extra := []*os.File{specR, sentryEnd}
	if len(volSentryEnds) > 0 {
		var fds []string
		for _, se := range volSentryEnds {
			fds = append(fds, strconv.Itoa(3+len(extra)))
			extra = append(extra, se)
		}
		bootArgs = append(bootArgs, "--mount-fds="+strings.Join(fds, ","))
	}
	if logs.boot != nil {
		bootArgs = append(bootArgs, fmt.Sprintf("--log-fd=%d", 3+len(extra)))
		extra = append(extra, logs.boot)
	}
	if a.Conf.Report.Enabled {
		a.Spec.Report = true
		if logs.report != nil {
			bootArgs = append(bootArgs, fmt.Sprintf("--report-fd=%d", 3+len(extra)))
			extra = append(extra, logs.report)
		}
	}
	sb := exec.Command(selfExe, bootArgs...)
	sb.Args[0] = "runsc-sandbox"
	sb.Stdin, sb.Stdout, sb.Stderr = os.Stdin, os.Stdout, os.Stderr
	sb.ExtraFiles = extra
	sb.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNET,
		Pdeathsig:  unix.SIGKILL,
	}

	// Start both, then forward signals to the sandbox, which gives them to the
	// container's init.
	if err := gofer.Start(); err != nil {
		return 0, fmt.Errorf("starting gofer: %w", err)
	}
	goferEnd.Close()
	all := []*exec.Cmd{gofer}
	killAll := func() {
		for _, g := range all {
			g.Process.Kill()
			g.Wait()
		}
	}
	for i, g := range volGofers {
		if err := g.Start(); err != nil {
			killAll()
			return 0, fmt.Errorf("starting the gofer of volume %s: %w", a.Spec.Volumes[i].Host, err)
		}
		all = append(all, g)
		volGoferEnds[i].Close()
	}
	if err := sb.Start(); err != nil {
		killAll()
		return 0, fmt.Errorf("starting sandbox: %w", err)
	}
	sentryEnd.Close()
	for _, se := range volSentryEnds {
		se.Close()
	}
	specR.Close()
	go func() {
		boot.WriteSpec(specW, a.Spec)
		specW.Close()
	}()

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGCONT)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			sb.Process.Signal(s)
		}
	}()

	waitErr := sb.Wait()
	code := exitCode(sb.ProcessState)
	// The gofer exits when the sandbox's end of its socket closes; give it a moment.
	done := make(chan struct{})
	go func() {
		for _, g := range all {
			g.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		for _, g := range all {
			g.Process.Kill()
		}
		<-done
	}
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) {
		return 0, fmt.Errorf("waiting for sandbox: %w", waitErr)
	}
	return code, nil
}

// exitCode is a finished process's status as a shell reports it.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func seqpacketPair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "gofer"), os.NewFile(uintptr(fds[1]), "sentry"), nil
}

// logFiles are the files the CLI opens on behalf of the sandbox and gofer, which cannot
// open host paths themselves.
type logFiles struct {
	boot, gofer, report *os.File
}

func (l *logFiles) goferOut() *os.File {
	if l.gofer != nil {
		return l.gofer
	}
	return os.Stderr
}

func (l *logFiles) close() {
	for _, f := range []*os.File{l.boot, l.gofer, l.report} {
		if f != nil && f != os.Stderr {
			f.Close()
		}
	}
}

// openLogs opens --debug-log files (DIR/ gets one file per process) and the --report file.
func openLogs(c *config.Config) (*logFiles, error) {
	l := &logFiles{}
	open := func(p string) (*os.File, error) {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return nil, fmt.Errorf("opening log file: %w", err)
		}
		return f, nil
	}
	var err error
	if c.Debug || c.Strace {
		switch {
		case c.DebugLog == "":
			l.boot = os.Stderr
		case isDir(c.DebugLog):
			stamp := time.Now().Format("20060102-150405.000000")
			if l.boot, err = open(filepath.Join(c.DebugLog, "runsc.log."+stamp+".boot")); err != nil {
				return nil, err
			}
			if l.gofer, err = open(filepath.Join(c.DebugLog, "runsc.log."+stamp+".gofer")); err != nil {
				l.close()
				return nil, err
			}
		default:
			if l.boot, err = open(c.DebugLog); err != nil {
				return nil, err
			}
		}
	}
	if c.Report.Enabled && c.Report.File != "" {
		f, err := os.OpenFile(c.Report.File, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|unix.O_CLOEXEC, 0o644)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("opening report file: %w", err)
		}
		l.report = f
	}
	return l, nil
}

func isDir(p string) bool {
	if len(p) > 0 && p[len(p)-1] == '/' {
		os.MkdirAll(p, 0o755)
		return true
	}
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// StartBoundWaiter starts a `runsc wait --bound --ready-fd=3 ...` process (cmd, whose
// arguments must include those flags) and returns once its wait is registered with the
// sandbox, so that killing the waiter from then on kills what it stands for: a client
// that SIGKILLs the PID it was given right away must not find it unbound.
func StartBoundWaiter(w *exec.Cmd) error {
	r, wr, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("creating the waiter's ready pipe: %w", err)
	}
	defer r.Close()
	w.ExtraFiles = []*os.File{wr}
	err = w.Start()
	wr.Close()
	if err != nil {
		return err
	}
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	if n, _ := r.Read(b[:]); n != 1 {
		w.Process.Kill()
		w.Wait()
		return errors.New("the waiter exited (or hung) before registering its wait with the sandbox")
	}
	return nil
}
