package gofer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/gofer/proto"
)

// seedRequests are valid requests of every type against the handles a fuzz
// server starts with (1 = root, 2 = dir "d", 3 = file "d/f", 4 = symlink
// "l").
func seedRequests() []proto.Message {
	return []proto.Message{
		&proto.TMount{Version: proto.Version},
		&proto.TMount{Version: 99},
		&proto.TWalk{Dir: 1, Names: []string{"d", "f"}},
		&proto.TWalk{Dir: 1, Names: []string{"..", "etc"}},
		&proto.TWalk{Dir: 1, Names: []string{"l", "x"}},
		&proto.TStat{H: 3},
		&proto.TOpen{H: 3, Flags: unix.O_RDWR | unix.O_TRUNC},
		&proto.TOpen{H: 4, Flags: unix.O_RDONLY},
		&proto.TOpen{H: 2, Flags: unix.O_RDONLY | unix.O_DIRECTORY},
		&proto.TCreate{Dir: 2, Flags: unix.O_RDWR, Mode: 0o644, Name: "new"},
		&proto.TMkdir{Dir: 1, Mode: 0o755, Name: "sub"},
		&proto.TMknod{Dir: 2, Mode: unix.S_IFIFO | 0o600, Name: "p"},
		&proto.TMknod{Dir: 2, Mode: unix.S_IFBLK | 0o600, Rdev: 0x801, Name: "sda"},
		&proto.TSymlink{Dir: 2, Name: "s", Target: "/etc/passwd"},
		&proto.TLink{Dir: 1, Target: 3, Name: "hard"},
		&proto.TUnlink{Dir: 2, Name: "f"},
		&proto.TUnlink{Dir: 1, Flags: unix.AT_REMOVEDIR, Name: "d"},
		&proto.TRename{OldDir: 2, NewDir: 1, OldName: "f", NewName: "g"},
		&proto.TRename{OldDir: 1, NewDir: 2, Flags: unix.RENAME_EXCHANGE, OldName: "l", NewName: "f"},
		&proto.TReadlink{H: 4},
		&proto.TSetStat{H: 3, Args: proto.SetStatArgs{Mask: proto.SetStatAll, Mode: 0o4777, Size: 10}},
		&proto.TGetdents{Dir: 1},
		&proto.TGetdents{Dir: 2, Cookie: 1 << 63},
		&proto.TStatfs{H: 1},
		&proto.TClose{Handles: []proto.Handle{2, 3, 4, 5}},
		&proto.TSetxattr{H: 3, Name: "user.k", Value: []byte("v")},
		&proto.TSetxattr{H: 3, Flags: 7, Name: "user.k"},
		&proto.TGetxattr{H: 2, Name: "user.k"},
		&proto.TGetxattr{H: 4, Name: "user.k"},
		&proto.TListxattr{H: 3},
		&proto.TRemovexattr{H: 3, Name: "user.nope"},
		&proto.RStat{}, // a reply sent as a request
	}
}

// newFuzzServer makes a server over a fresh tree with handles 1-4 open.
func newFuzzServer(tb testing.TB) *server {
	dir := tb.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "d"), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "d/f"), []byte("x"), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "l")); err != nil {
		tb.Fatal(err)
	}
	rootFD, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := newServer(rootFD, false)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		s.t.closeAll()
		unix.Close(rootFD)
	})
	for _, m := range []proto.Message{
		&proto.TMount{Version: proto.Version},
		&proto.TWalk{Dir: 1, Names: []string{"d", "f"}},
		&proto.TWalk{Dir: 1, Names: []string{"l"}},
	} {
		if _, _, errno := s.handle(m); errno != 0 {
			tb.Fatalf("setting up %T: %v", m, errno)
		}
	}
	return s
}

// checkDispatch sends one datagram to the server's dispatch and checks the
// answer: a decodable reply to the same tag, with the fds it announces.
func checkDispatch(t *testing.T, s *server, b []byte) {
	reply, fds, err := s.dispatch(b, 0)
	defer closeFDs(fds)
	if err != nil {
		if _, herr := proto.DecodeHeader(b); herr == nil {
			t.Fatalf("dispatch refused a good header: %v", err)
		}
		return
	}
	h, _, derr := proto.Decode(reply)
	if derr != nil {
		t.Fatalf("undecodable reply %x: %v", reply, derr)
	}
	req, _ := proto.DecodeHeader(b)
	if h.Tag != req.Tag || !h.Type.IsReply() || h.Type.Request() != req.Type.Request() || int(h.NFDs) != len(fds) {
		t.Fatalf("reply header %+v to %+v with %d fds", h, req, len(fds))
	}
}

func FuzzServer(f *testing.F) {
	for i, m := range seedRequests() {
		b, err := proto.Encode(uint32(i), 0, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, byte(proto.MsgWalk), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})
	f.Add([]byte(strings.Repeat("\xff", 64)))
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDispatch(t, s, b)
	})
}

// TestServerSeeds runs every seed against a fresh server and checks what a
// hostile client can achieve stays inside the root.
func TestServerSeeds(t *testing.T) {
	s := newFuzzServer(t)
	before, _ := os.ReadFile("/etc/passwd")
	for i, m := range seedRequests() {
		b, err := proto.Encode(uint32(i), 0, m)
		if err != nil {
			t.Fatal(err)
		}
		checkDispatch(t, s, b)
	}
	if after, _ := os.ReadFile("/etc/passwd"); string(after) != string(before) {
		t.Fatal("/etc/passwd changed")
	}
	// The block device was refused; dispatch with fds attached is EINVAL.
	b, _ := proto.Encode(1, 0, &proto.TStat{H: 1})
	reply, _, _ := s.dispatch(b, 1)
	if h, _ := proto.DecodeHeader(reply); h.Errno != unix.EINVAL {
		t.Errorf("request with an fd: errno %v", h.Errno)
	}
}

// rawConn returns a raw socket to a running Serve and a channel with Serve's
// result.
func rawConn(t *testing.T) (*proto.Conn, chan error) {
	dir := tree(t)
	rootFD, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(rootFD) })
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(fds[1], rootFD, false) }()
	c, err := proto.NewConn(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, done
}

func TestHostileClient(t *testing.T) {
	c, done := rawConn(t)
	buf := make([]byte, proto.MaxMessageSize)
	roundTrip := func(b []byte, fds ...int) proto.Header {
		t.Helper()
		if err := c.Send(b, fds); err != nil {
			t.Fatal(err)
		}
		n, rfds, err := c.Recv(buf)
		if err != nil {
			t.Fatal(err)
		}
		closeFDs(rfds)
		h, err := proto.DecodeHeader(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	// A malformed body: EINVAL for that tag, the connection lives on.
	good, _ := proto.Encode(5, 0, &proto.TWalk{Dir: 1, Names: []string{"a"}})
	if h := roundTrip(good[:len(good)-1]); h.Tag != 5 || h.Errno != unix.EINVAL {
		t.Errorf("truncated body: %+v", h)
	}
	// An fd attached to a request: EINVAL, and the fd is not kept.
	stat, _ := proto.Encode(6, 0, &proto.TStat{H: 1})
	if h := roundTrip(stat, 0); h.Tag != 6 || h.Errno != unix.EINVAL {
		t.Errorf("request with fd: %+v", h)
	}
	// A valid request still works: Mount.
	mount, _ := proto.Encode(7, 0, &proto.TMount{Version: proto.Version})
	if h := roundTrip(mount); h.Tag != 7 || h.Errno != 0 {
		t.Errorf("mount: %+v", h)
	}
	// An undecodable header ends the connection with an error.
	if err := c.Send([]byte{1, 2, 3}, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Error("Serve returned nil after a bad header")
	}
}
