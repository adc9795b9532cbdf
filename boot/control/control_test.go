package control

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// serve starts a Server on a socket in a temporary directory (with a long path, to go
// through the /proc/self/fd form) and returns the path.
func serve(t *testing.T, h Handler) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 90))
	os.MkdirAll(dir, 0o700)
	path := filepath.Join(dir, "sandbox.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var s Server
	go s.Serve(int(l.Fd()), h)
	return path
}

func TestCallRoundTrip(t *testing.T) {
	path := serve(t, func(method string, args json.RawMessage, files []*os.File, _ <-chan struct{}) (any, error) {
		defer closeAll(files)
		switch method {
		case MethodWaitPID:
			var a WaitPIDArgs
			if err := DecodeArgs(method, args, &a); err != nil {
				return nil, err
			}
			return &WaitResult{ExitCode: int(a.PID) + len(files)}, nil
		case MethodExec:
			// Echo what comes on the first fd.
			b := make([]byte, 16)
			n, _ := files[0].Read(b)
			return &ExecResult{PID: int32(n)}, nil
		}
		return nil, errors.New("no such method")
	})
	var res WaitResult
	if err := Call(path, MethodWaitPID, &WaitPIDArgs{ContainerID: "c", PID: 40}, &res); err != nil || res.ExitCode != 40 {
		t.Fatalf("WaitPID: %+v, %v", res, err)
	}
	r, w, _ := os.Pipe()
	w.Write([]byte("hello"))
	w.Close()
	var er ExecResult
	if err := Call(path, MethodExec, &ExecArgs{ContainerID: "c"}, &er, int(r.Fd()), int(r.Fd())); err != nil || er.PID != 5 {
		t.Fatalf("Exec with fds: %+v, %v", er, err)
	}
	r.Close()
	err := Call(path, "Bogus", nil, nil)
	var re *RemoteError
	if !errors.As(err, &re) || re.Msg != "no such method" {
		t.Fatalf("unknown method: %v", err)
	}
	if err := Call(filepath.Join(t.TempDir(), "none.sock"), MethodWait, nil, nil); err == nil {
		t.Fatalf("call to a missing socket succeeded")
	}
}

// rawRequest sends bytes as a request and returns the reply's error text.
func rawRequest(t *testing.T, path string, data []byte) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	addr, done, _ := socketAddress(path)
	defer done()
	if err := unix.Connect(fd, addr); err != nil {
		t.Fatal(err)
	}
	unix.Write(fd, data)
	unix.Shutdown(fd, unix.SHUT_WR)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5})
	body, files, err := readMessage(fd)
	closeAll(files)
	if err != nil {
		return "no reply: " + err.Error()
	}
	var resp response
	json.Unmarshal(body, &resp)
	return resp.Error
}

func TestMalformedRequests(t *testing.T) {
	called := make(chan string, 8)
	path := serve(t, func(method string, args json.RawMessage, files []*os.File, _ <-chan struct{}) (any, error) {
		closeAll(files)
		called <- method
		return nil, nil
	})
	frame := func(body string) []byte {
		b := make([]byte, 4+len(body))
		binary.LittleEndian.PutUint32(b, uint32(len(body)))
		copy(b[4:], body)
		return b
	}
	huge := make([]byte, 4)
	binary.LittleEndian.PutUint32(huge, MaxMessage+1)
	for _, c := range []struct {
		data []byte
		want string
	}{
		{frame("not json"), "bad request"},
		{huge, "larger than"},
		{[]byte{1, 2}, "bad request"},            // a truncated header
		{frame(`{"method":`)[:8], "bad request"}, // a truncated body
	} {
		if got := rawRequest(t, path, c.data); !strings.Contains(got, c.want) {
			t.Errorf("request %q: reply %q, want %q", c.data, got, c.want)
		}
	}
	select {
	case m := <-called:
		t.Errorf("the handler was called for a malformed request (%q)", m)
	case <-time.After(50 * time.Millisecond):
	}
	if err := DecodeArgs("X", nil, &WaitPIDArgs{}); err == nil {
		t.Errorf("DecodeArgs of no arguments succeeded")
	}
	if err := DecodeArgs("X", json.RawMessage(`{"pid":"x"}`), &WaitPIDArgs{}); err == nil {
		t.Errorf("DecodeArgs of a bad type succeeded")
	}
}

// FuzzReadMessage: whatever bytes come on the socket, reading a message neither panics
// nor leaks the descriptors that came with it.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte("\x05\x00\x00\x00{\"a\"}"))
	f.Add([]byte("\xff\xff\xff\xff"))
	f.Add([]byte{})
	f.Add([]byte("\x02\x00\x00\x00{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Skip(err)
		}
		defer unix.Close(fds[0])
		if len(data) > 0 {
			unix.Write(fds[1], data[:min(len(data), 1<<16)])
		}
		unix.Close(fds[1])
		body, files, err := readMessage(fds[0])
		closeAll(files)
		if err == nil {
			var req request
			json.Unmarshal(body, &req)
		}
	})
}

func TestHangup(t *testing.T) {
	saw := make(chan bool, 1)
	path := serve(t, func(method string, args json.RawMessage, files []*os.File, hangup <-chan struct{}) (any, error) {
		closeAll(files)
		select {
		case <-hangup:
			saw <- true
		case <-time.After(10 * time.Second):
			saw <- false
		}
		return nil, nil
	})
	fd, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	addr, done, _ := socketAddress(path)
	if err := unix.Connect(fd, addr); err != nil {
		t.Fatal(err)
	}
	done()
	writeMessage(fd, request{Method: MethodWaitPID}, nil)
	time.Sleep(20 * time.Millisecond)
	unix.Close(fd) // the waiter dies
	if !<-saw {
		t.Errorf("the handler did not see the client hang up")
	}
	// A client that waits for its reply is not seen as gone.
	path = serve(t, func(method string, args json.RawMessage, files []*os.File, hangup <-chan struct{}) (any, error) {
		select {
		case <-hangup:
			return nil, errors.New("hung up")
		case <-time.After(50 * time.Millisecond):
			return nil, nil
		}
	})
	if err := Call(path, MethodWaitPID, nil, nil); err != nil {
		t.Errorf("a waiting client: %v", err)
	}
}
