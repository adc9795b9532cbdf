// Package control is the wire protocol between the runsc CLI and the controller inside a
// sandbox (DESIGN.md §7): one request and one reply per connection on a unix stream
// socket, each a 4-byte little-endian length and a JSON document, with file descriptors
// (stdio, pty replicas, gofer sockets) attached by SCM_RIGHTS to the request's first
// bytes. Methods and their argument and result types are declared here so that both
// sides agree.
//
// Our own small protocol rather than gVisor's urpc: urpc would pull gVisor's logging and
// sync packages (with their runtime linkname hooks) and a large module graph into go.mod
// for what is ~300 lines here.
//
// Nothing here panics on malformed input: lengths are bounded, JSON errors are returned,
// and received descriptors that are not used are closed.
//
// It holds no locks; a Server runs one goroutine per connection and counts them with a
// WaitGroup.
package control

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Limits on what one message may carry.
const (
	MaxMessage = 4 << 20
	MaxFDs     = 16
)

// Methods.
const (
	MethodStartRoot = "StartRoot" // start the root container's init (created at boot)
	MethodCreate    = "Create"    // create a subcontainer (pods): CreateArgs + gofer fd + stdio
	MethodStart     = "Start"     // start a subcontainer's init: ContainerArgs
	MethodExec      = "Exec"      // ExecArgs + stdio fds -> ExecResult
	MethodWait      = "Wait"      // ContainerArgs -> WaitResult (a container's init)
	MethodWaitPID   = "WaitPID"   // WaitPIDArgs -> WaitResult
	MethodSignal    = "Signal"    // SignalArgs
	MethodProcesses = "Processes" // ContainerArgs -> []Process
	MethodEvent     = "Event"     // ContainerArgs -> Stats
	MethodPause     = "Pause"     // pause every task of the sandbox
	MethodResume    = "Resume"    // resume them
	MethodDestroy   = "Destroy"   // ContainerArgs: kill the container (the sandbox for the root)
	MethodStatus    = "Status"    // ContainerArgs -> ContainerStatus
	MethodRunHook   = "RunHook"   // HookArgs + stdin fd -> WaitResult (startContainer hooks)
)

// ContainerArgs names a container of the sandbox.
type ContainerArgs struct {
	ContainerID string `json:"containerID"`
}

// Caps are capability sets as bit masks.
type Caps struct {
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// Rlimit is one resource limit.
type Rlimit struct {
	Resource int    `json:"resource"`
	Soft     uint64 `json:"soft"`
	Hard     uint64 `json:"hard"`
}

// Process describes a process to run in a container.
type Process struct {
	Argv           []string `json:"argv"`
	Env            []string `json:"env"`
	Cwd            string   `json:"cwd"`
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	AdditionalGIDs []uint32 `json:"additionalGids,omitempty"`
	Umask          *uint32  `json:"umask,omitempty"`
	Caps           *Caps    `json:"caps,omitempty"` // nil: as Linux gives uid
	NoNewPrivs     bool     `json:"noNewPrivs,omitempty"`
	OOMScoreAdj    *int     `json:"oomScoreAdj,omitempty"`
	Rlimits        []Rlimit `json:"rlimits,omitempty"`
	// Terminal: one fd is passed, a terminal, that becomes stdin, stdout and stderr.
	// Otherwise three fds are passed (stdin, stdout, stderr); StdioClosed marks the ones
	// that were closed in the caller (a placeholder fd is sent for them).
	Terminal    bool    `json:"terminal,omitempty"`
	StdioClosed [3]bool `json:"stdioClosed,omitempty"`
}

// ExecArgs start a process in a running container.
type ExecArgs struct {
	ContainerID string  `json:"containerID"`
	Process     Process `json:"process"`
}

// ExecResult is the sandbox PID of the new process.
type ExecResult struct {
	PID int32 `json:"pid"`
}

// WaitPIDArgs wait for one process of a container (PID 0: its init). With KillOnHangup
// the process is killed if the waiter goes away first: the waiter stands for it on the
// host (exec --detach, a pod's container), and SIGKILL to the waiter must not leave it
// running.
type WaitPIDArgs struct {
	ContainerID  string `json:"containerID"`
	PID          int32  `json:"pid"`
	KillOnHangup bool   `json:"killOnHangup,omitempty"`
}

// WaitResult is how a process ended.
type WaitResult struct {
	// Status is the wait(2) status word; ExitCode is the shell's view (128+N for signal N).
	Status   uint32 `json:"status"`
	ExitCode int    `json:"exitCode"`
}

// SignalArgs send a signal to a container's init (PID 0), to one of its processes, or
// with All to every process of the container.
type SignalArgs struct {
	ContainerID string `json:"containerID"`
	PID         int32  `json:"pid,omitempty"`
	Signo       int    `json:"signo"`
	All         bool   `json:"all,omitempty"`
}

// ProcessInfo is one process of a container, for ps.
type ProcessInfo struct {
	PID     int32    `json:"pid"`
	PPID    int32    `json:"ppid"`
	UID     uint32   `json:"uid"`
	Threads int      `json:"threads"`
	Cmd     string   `json:"cmd"`
	Args    []string `json:"args,omitempty"`
	// Start is when the process started (Unix nanoseconds; 0 if unknown).
	Start int64 `json:"start"`
	// TTY is the controlling terminal as ps names it, or "?".
	TTY string `json:"tty"`
}

// Stats are a container's resource figures as the sandbox sees them.
type Stats struct {
	Pids        uint64 `json:"pids"`
	Threads     uint64 `json:"threads"`
	MemoryBytes uint64 `json:"memoryBytes"`
}

// ContainerStatus is where a container's init is in its life.
type ContainerStatus struct {
	Created  bool `json:"created"`
	Started  bool `json:"started"`
	Exited   bool `json:"exited"`
	Paused   bool `json:"paused"`
	ExitCode int  `json:"exitCode"`
}

// HookArgs run a hook inside a container (startContainer hooks resolve there).
type HookArgs struct {
	ContainerID string        `json:"containerID"`
	Process     Process       `json:"process"`
	Timeout     time.Duration `json:"timeout"`
}

// CreateArgs create a subcontainer in a running sandbox: its OCI spec and planned mounts
// (JSON, decoded by the sandbox), its init process, and as fds the root gofer, the
// gofers of bind-mounted directories, then the stdio.
type CreateArgs struct {
	ContainerID string          `json:"containerID"`
	Spec        json.RawMessage `json:"spec"`
	Mounts      json.RawMessage `json:"mounts"`
	Init        Process         `json:"init"`
}

// replyTimeouts bound how long Call waits for the methods that answer at once; the
// others (Wait, WaitPID, RunHook, which take as long as the process they wait for) wait
// as long as it takes.
var replyTimeouts = map[string]time.Duration{
	MethodStatus: 5 * time.Second, MethodSignal: 10 * time.Second, MethodProcesses: 10 * time.Second,
	MethodEvent: 10 * time.Second, MethodPause: 30 * time.Second, MethodResume: 10 * time.Second,
	MethodDestroy: 10 * time.Second, MethodStartRoot: 30 * time.Second, MethodStart: 30 * time.Second,
	MethodExec: 60 * time.Second, MethodCreate: 60 * time.Second,
}

// request and response are the envelopes.
type request struct {
	Method string          `json:"method"`
	Args   json.RawMessage `json:"args,omitempty"`
}

type response struct {
	Error  string          `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// RemoteError is an error the controller returned.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }

// writeMessage sends one frame with fds attached.
func writeMessage(fd int, v any, fds []int) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(body) > MaxMessage {
		return fmt.Errorf("control message of %d bytes is larger than %d", len(body), MaxMessage)
	}
	if len(fds) > MaxFDs {
		return fmt.Errorf("%d file descriptors is more than %d", len(fds), MaxFDs)
	}
	buf := make([]byte, 4+len(body))
	binary.LittleEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[4:], body)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	for len(buf) > 0 {
		n, err := unix.SendmsgN(fd, buf, oob, nil, unix.MSG_NOSIGNAL)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		buf, oob = buf[n:], nil
	}
	return nil
}

// readMessage reads one frame and the fds that came with it. Received fds are returned
// as files with close-on-exec set.
func readMessage(fd int) ([]byte, []*os.File, error) {
	var files []*os.File
	oob := make([]byte, unix.CmsgSpace(4*MaxFDs))
	hdr := make([]byte, 4)
	got := 0
	for got < 4 {
		n, oobn, flags, _, err := unix.Recvmsg(fd, hdr[got:], oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			closeAll(files)
			return nil, nil, err
		}
		fs, perr := parseRights(oob[:oobn])
		files = append(files, fs...)
		if perr != nil {
			closeAll(files)
			return nil, nil, perr
		}
		if flags&unix.MSG_CTRUNC != 0 {
			closeAll(files)
			return nil, nil, errors.New("control message: too many file descriptors")
		}
		if n == 0 {
			closeAll(files)
			if got == 0 {
				return nil, nil, io.EOF
			}
			return nil, nil, io.ErrUnexpectedEOF
		}
		got += n
	}
	size := binary.LittleEndian.Uint32(hdr)
	if size > MaxMessage {
		closeAll(files)
		return nil, nil, fmt.Errorf("control message of %d bytes is larger than %d", size, MaxMessage)
	}
	body := make([]byte, size)
	for off := 0; off < len(body); {
		n, err := unix.Read(fd, body[off:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			closeAll(files)
			return nil, nil, err
		}
		if n == 0 {
			closeAll(files)
			return nil, nil, io.ErrUnexpectedEOF
		}
		off += n
	}
	return body, files, nil
}

func parseRights(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, f := range fds {
			files = append(files, os.NewFile(uintptr(f), "control-fd"))
		}
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// socketAddress returns an address for the socket at path that fits sun_path: long
// paths are reached through /proc/self/fd of their directory, which the caller closes.
func socketAddress(path string) (*unix.SockaddrUnix, func(), error) {
	if len(path) < 100 {
		return &unix.SockaddrUnix{Name: path}, func() {}, nil
	}
	dfd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	name := "/proc/self/fd/" + strconv.Itoa(dfd) + "/" + filepath.Base(path)
	return &unix.SockaddrUnix{Name: name}, func() { unix.Close(dfd) }, nil
}

// Listen creates the controller's listening socket at path (mode 0600) and returns it
// as a file to pass to the sandbox.
func Listen(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	addr, done, err := socketAddress(path)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	defer done()
	old := unix.Umask(0o177)
	err = unix.Bind(fd, addr)
	unix.Umask(old)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding the controller socket %s: %w", path, err)
	}
	if err := unix.Listen(fd, 64); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "controller"), nil
}

// Call connects to the controller at path, sends a request with fds and decodes the
// result into result (if not nil). The connection stays open until the reply comes, so
// Wait-like methods block here.
func Call(path, method string, args, result any, fds ...int) error {
	return CallNotify(path, method, args, result, nil, fds...)
}

// CallNotify is Call that runs sent (if not nil) once the request has been written to
// the sandbox: for a long call (a wait), the caller can tell others it is registered.
func CallNotify(path, method string, args, result any, sent func(), fds ...int) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	addr, done, err := socketAddress(path)
	if err != nil {
		return fmt.Errorf("connecting to the sandbox: %w", err)
	}
	err = unix.Connect(fd, addr)
	done()
	if err != nil {
		return fmt.Errorf("connecting to the sandbox: %w", err)
	}
	if d, ok := replyTimeouts[method]; ok {
		// A sandbox that does not answer must not hang the CLI.
		tv := unix.NsecToTimeval(d.Nanoseconds())
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	}
	var raw json.RawMessage
	if args != nil {
		if raw, err = json.Marshal(args); err != nil {
			return err
		}
	}
	if err := writeMessage(fd, request{Method: method, Args: raw}, fds); err != nil {
		return fmt.Errorf("sending %s to the sandbox: %w", method, err)
	}
	if sent != nil {
		sent()
	}
	body, files, err := readMessage(fd)
	closeAll(files)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF || err == unix.ECONNRESET {
			return fmt.Errorf("%s: the sandbox closed the connection (did it exit?)", method)
		}
		if err == unix.EAGAIN {
			return fmt.Errorf("%s: the sandbox did not answer within %v", method, replyTimeouts[method])
		}
		return fmt.Errorf("%s: reading the sandbox's reply: %w", method, err)
	}
	var resp response
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("%s: malformed reply from the sandbox: %w", method, err)
	}
	if resp.Error != "" {
		return &RemoteError{Msg: resp.Error}
	}
	if result != nil && len(resp.Result) > 0 {
		if err := json.Unmarshal(resp.Result, result); err != nil {
			return fmt.Errorf("%s: malformed result from the sandbox: %w", method, err)
		}
	}
	return nil
}

// Handler serves one request: it decodes args itself and owns files (closing those it
// does not keep). A nil result with a nil error is an empty success.
//
// hangup is closed if the client goes away before the reply (a waiter that was killed):
// handlers that wait may act on it.
type Handler func(method string, args json.RawMessage, files []*os.File, hangup <-chan struct{}) (any, error)

// Server serves the controller socket and counts the requests in flight, so that the
// sandbox can let its last replies (to Wait) go out before it exits.
type Server struct {
	wg sync.WaitGroup
}

// Serve accepts connections on the listening socket lfd until it is closed, serving
// each connection's one request on its own goroutine.
func (s *Server) Serve(lfd int, h Handler) error {
	for {
		cfd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
		if err == unix.EINTR || err == unix.ECONNABORTED {
			continue
		}
		if err != nil {
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			serveConn(cfd, h)
		}()
	}
}

// Drain waits until no request is being served, or for at most d.
func (s *Server) Drain(d time.Duration) {
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}

func serveConn(fd int, h Handler) {
	defer unix.Close(fd)
	body, files, err := readMessage(fd)
	if err != nil {
		if err != io.EOF {
			writeMessage(fd, response{Error: "bad request: " + err.Error()}, nil)
		}
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		closeAll(files)
		writeMessage(fd, response{Error: "bad request: " + err.Error()}, nil)
		return
	}
	// Watch for the client hanging up while the request is served.
	hangup := make(chan struct{})
	watched := make(chan struct{})
	var finished atomic.Bool
	go func() {
		defer close(watched)
		b := make([]byte, 1)
		for {
			n, _, err := unix.Recvfrom(fd, b, unix.MSG_PEEK)
			if err == unix.EINTR {
				continue
			}
			if !finished.Load() && (n == 0 || err != nil) {
				close(hangup)
			}
			return
		}
	}()
	res, err := h(req.Method, req.Args, files, hangup)
	finished.Store(true)
	unix.Shutdown(fd, unix.SHUT_RD) // wakes the watcher
	<-watched
	var resp response
	if err != nil {
		resp.Error = err.Error()
	} else if res != nil {
		b, merr := json.Marshal(res)
		if merr != nil {
			resp.Error = "encoding the result: " + merr.Error()
		} else {
			resp.Result = b
		}
	}
	writeMessage(fd, resp, nil)
}

// DecodeArgs decodes a request's args into v, naming the method on error.
func DecodeArgs(method string, args json.RawMessage, v any) error {
	if len(args) == 0 {
		return fmt.Errorf("%s: missing arguments", method)
	}
	if err := json.Unmarshal(args, v); err != nil {
		return fmt.Errorf("%s: bad arguments: %w", method, err)
	}
	return nil
}
