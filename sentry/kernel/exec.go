package kernel

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/loader"
	"runsc.dev/sentry/mm"
	"runsc.dev/sentry/vfs"
)

// Limits of #! interpretation, as binfmt_script.
const (
	shebangBufSize  = 256
	maxShebangDepth = 4
)

// ExecArgs are execve's inputs.
type ExecArgs struct {
	// File is the opened executable; Path its absolute path; Filename the path as given.
	File     *vfs.FileDescription
	Path     string
	Filename string
	Argv     []string
	Envv     []string
	// Resolve opens an interpreter named by #! for execution.
	Resolve func(path string) (*vfs.FileDescription, string, error)
}

// Execve replaces the task's program. On success the task runs the new program when it
// returns to the application (the caller returns EJUSTRETURN); on failure nothing changed.
func (t *Task) Execve(a ExecArgs) error {
	file, path, argv, err := resolveInterpreterScript(a)
	if err != nil {
		return err
	}
	defer file.DecRef()
	st, err := file.Stat()
	if err != nil {
		return toErrno(err)
	}
	rl := t.tg.Rlimit(unix.RLIMIT_STACK)
	m, err := mm.New(t.k.mf, t.k.platform, t.k.newLayout(rl.Cur))
	if err != nil {
		return unix.ENOMEM
	}
	creds := t.Credentials()
	img, err := loader.Load(loader.Args{
		MM: m, File: file, Name: path, Dev: st.Dev(), Ino: st.Ino,
		Argv: argv, Envv: a.Envv, ExecFn: a.Filename, StackSize: rl.Cur,
		UID: uint32(creds.RealUID), EUID: uint32(creds.EffectiveUID),
		GID: uint32(creds.RealGID), EGID: uint32(creds.EffectiveGID),
		OpenInterpreter: t.k.interpreterOpener(t, t.fs),
		VDSO:            t.k.vdso,
	})
	if err != nil {
		m.DecUsers()
		return toErrno(err)
	}

	// Point of no return: the other threads go away and the task takes the new image.
	t.killOtherThreads()
	old := t.mm
	t.mm = m
	old.DecUsers()
	if t.fdtUsers.n.Load() > 1 {
		// A table shared with another process is unshared first (as unshare_files).
		nt := t.fdt.Fork()
		if t.fdtUsers.n.Add(-1) == 0 {
			t.fdt.RemoveAll()
		}
		t.fdt, t.fdtUsers = nt, newSharedCount()
	}
	t.fdt.CloseOnExec()
	tg := t.tg
	tg.mu.Lock()
	h := tg.handlers.Copy()
	h.ResetForExec()
	tg.handlers = h
	t.altStack = SignalStack{Flags: SS_DISABLE}
	tg.exe = path
	tg.didExec = true
	tg.mu.Unlock()
	tg.execTimers()
	t.mu.Lock()
	t.clearChildTID, t.robustList, t.robustLen = 0, 0, 0
	t.name = baseName(a.Filename)
	t.mu.Unlock()
	t.ac.Regs = arch.Registers{Rip: uint64(img.Entry), Rsp: uint64(img.Stack), Cs: arch.UserCS, Ss: arch.UserDS, Eflags: arch.InitEflags}
	if t.ac.FP == nil {
		t.ac.FP = arch.NewFPState()
	}
	t.ac.FP.Reset()
	t.ac.FPValid = true
	t.releaseVfork()
	return nil
}

// killOtherThreads makes every other thread of the group exit and waits until they have,
// then makes the caller the group leader (taking the group's PID as its TID).
func (t *Task) killOtherThreads() {
	tg := t.tg
	tg.mu.Lock()
	others := make([]*Task, 0, len(tg.tasks))
	for _, o := range tg.tasks {
		if o != t {
			others = append(others, o)
		}
	}
	tg.mu.Unlock()
	for _, o := range others {
		o.RequestExit(ExitedStatus(0))
		o.mu.Lock()
		o.execKilled = true
		o.mu.Unlock()
		o.interrupt()
	}
	for {
		tg.mu.Lock()
		n := len(tg.tasks)
		ch := tg.childCh
		tg.mu.Unlock()
		if n == 1 {
			break
		}
		<-ch
	}
	if t.tid != tg.pid {
		k := t.k
		k.mu.Lock()
		delete(k.tasks, t.tid)
		t.tid = tg.pid
		k.tasks[t.tid] = t
		k.mu.Unlock()
		tg.mu.Lock()
		tg.leader = t
		tg.mu.Unlock()
	}
}

// parseShebang returns the interpreter and its optional single argument.
func parseShebang(b []byte) (string, string, error) {
	line := b[2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	s := strings.Trim(string(line), " \t")
	if s == "" {
		return "", "", unix.ENOEXEC
	}
	interp, arg := s, ""
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		interp, arg = s[:i], strings.Trim(s[i:], " \t")
	}
	return interp, arg, nil
}

func toErrno(err error) error {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return unix.ENOEXEC
	}
	return unix.EIO
}

// interpreterOpener returns the loader's way to open a PT_INTERP path: for reading, as
// the task, relative to its root and working directory.
func (k *Kernel) interpreterOpener(ctx vfs.Context, fs *vfs.FSContext) func(string) (loader.File, string, uint64, uint64, error) {
	return func(p string) (loader.File, string, uint64, uint64, error) {
		root, cwd := fs.RootAndCwd()
		f, err := k.vfs.OpenAt(ctx, root, cwd, p, unix.O_RDONLY, 0)
		if err != nil {
			return nil, "", 0, 0, err
		}
		st, err := f.Stat()
		if err != nil {
			f.DecRef()
			return nil, "", 0, 0, err
		}
		name, _ := k.vfs.PathFrom(root, f.VirtualDentry())
		return f, name, st.Dev(), st.Ino, nil
	}
}

// resolveInterpreterScript follows #! lines (up to maxShebangDepth) from a.File and
// returns the binary to load, its path and the argv it gets, with a reference held.
func resolveInterpreterScript(a ExecArgs) (*vfs.FileDescription, string, []string, error) {
	file, path, argv := a.File, a.Path, a.Argv
	// filename is the name the current level was executed by: the script's path as the
	// caller gave it, then each interpreter's path as its #! line gives it.
	filename := a.Filename
	file.IncRef()
	for depth := 0; ; depth++ {
		var buf [shebangBufSize]byte
		n, err := file.ReadAt(buf[:], 0)
		if err != nil && err != io.EOF && n == 0 {
			file.DecRef()
			return nil, "", nil, toErrno(err)
		}
		if n < 2 || buf[0] != '#' || buf[1] != '!' {
			return file, path, argv, nil
		}
		if depth >= maxShebangDepth || a.Resolve == nil {
			file.DecRef()
			return nil, "", nil, unix.ELOOP
		}
		interp, arg, err := parseShebang(buf[:n])
		if err != nil {
			file.DecRef()
			return nil, "", nil, err
		}
		nf, npath, err := a.Resolve(interp)
		file.DecRef()
		if err != nil {
			return nil, "", nil, err
		}
		// argv becomes: interpreter [arg] script-path original-argv[1:]
		nargv := []string{interp}
		if arg != "" {
			nargv = append(nargv, arg)
		}
		nargv = append(nargv, filename)
		if len(argv) > 1 {
			nargv = append(nargv, argv[1:]...)
		}
		argv = nargv
		file, path, filename = nf, npath, interp
	}
}
