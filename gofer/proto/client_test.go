package proto

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeGofer is the server end of a socketpair driven by the test.
type fakeGofer struct {
	t    *testing.T
	conn *Conn
	buf  []byte
}

func newPair(t *testing.T) (*Client, *fakeGofer) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	conn, err := NewConn(fds[1])
	if err != nil {
		t.Fatal(err)
	}
	g := &fakeGofer{t: t, conn: conn, buf: make([]byte, MaxMessageSize)}
	t.Cleanup(func() {
		c.Shutdown()
		conn.Close()
	})
	return c, g
}

// recv reads one request.
func (g *fakeGofer) recv() (Header, Message) {
	n, fds, err := g.conn.Recv(g.buf)
	if err != nil {
		g.t.Errorf("fake gofer: %v", err)
		return Header{}, nil
	}
	if len(fds) != 0 {
		g.t.Errorf("request carried %d fds", len(fds))
	}
	h, m, err := Decode(g.buf[:n])
	if err != nil {
		g.t.Errorf("fake gofer: %v", err)
	}
	return h, m
}

func (g *fakeGofer) send(b []byte, fds ...int) {
	if err := g.conn.Send(b, fds); err != nil {
		g.t.Errorf("fake gofer send: %v", err)
	}
}

func (g *fakeGofer) reply(tag uint32, errno unix.Errno, m Message, fds ...int) {
	b, err := Encode(tag, errno, m)
	if err != nil {
		g.t.Fatal(err)
	}
	g.send(b, fds...)
}

func TestNewClientRejectsNonSeqpacket(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	if _, err := NewClient(fds[0]); err == nil {
		t.Fatal("NewClient accepted a stream socket")
	}
	if _, err := NewClient(-1); err == nil {
		t.Fatal("NewClient accepted fd -1")
	}
}

func TestClientBasic(t *testing.T) {
	c, g := newPair(t)
	go func() {
		h, m := g.recv()
		if tm, ok := m.(*TMount); !ok || tm.Version != Version {
			t.Errorf("got %+v", m)
		}
		g.reply(h.Tag, 0, &RMount{H: 1, Stat: testStat})
		h, _ = g.recv()
		g.reply(h.Tag, unix.ENOENT, &RStat{})
		h, _ = g.recv()
		f, err := os.CreateTemp(t.TempDir(), "x")
		if err != nil {
			t.Error(err)
			return
		}
		g.reply(h.Tag, 0, &ROpen{}, int(f.Fd()))
		f.Close()
	}()
	hd, st, err := c.Mount()
	if err != nil || hd != 1 || st != testStat {
		t.Fatalf("Mount = %v, %+v, %v", hd, st, err)
	}
	if _, err := c.Stat(1); err != unix.ENOENT {
		t.Fatalf("Stat error %v, want ENOENT", err)
	}
	fd, err := c.Open(1, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	var s unix.Stat_t
	if err := unix.Fstat(fd, &s); err != nil || s.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Fatalf("received fd: %v %o", err, s.Mode)
	}
	unix.Close(fd)
}

func TestClientNamesTooLong(t *testing.T) {
	c, _ := newPair(t)
	long := string(make([]byte, MaxNameLen+1))
	if _, _, err := c.Walk(1, []string{long}); err != unix.ENAMETOOLONG {
		t.Errorf("Walk: %v", err)
	}
	if _, _, _, err := c.Create(1, long, 0, 0, 0, 0); err != unix.ENAMETOOLONG {
		t.Errorf("Create: %v", err)
	}
	if _, _, err := c.Symlink(1, "a", string(make([]byte, MaxSymlinkLen+1)), 0, 0); err != unix.ENAMETOOLONG {
		t.Errorf("Symlink: %v", err)
	}
}

// TestClientWalkSplit checks that a walk longer than MaxWalkNames is split
// and continued from the last handle.
func TestClientWalkSplit(t *testing.T) {
	c, g := newPair(t)
	names := make([]string, MaxWalkNames+10)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	dirStat := Stat{Mode: unix.S_IFDIR | 0o755}
	go func() {
		next := Handle(100)
		for _, want := range []struct {
			dir Handle
			n   int
		}{{1, MaxWalkNames}, {Handle(100 + MaxWalkNames - 1), 10}} {
			h, m := g.recv()
			w, ok := m.(*TWalk)
			if !ok || w.Dir != want.dir || len(w.Names) != want.n {
				t.Errorf("walk request %+v, want dir %d with %d names", m, want.dir, want.n)
				return
			}
			r := &RWalk{}
			for range w.Names {
				r.Handles = append(r.Handles, next)
				r.Stats = append(r.Stats, dirStat)
				next++
			}
			g.reply(h.Tag, 0, r)
		}
	}()
	hs, ss, err := c.Walk(1, names)
	if err != nil || len(hs) != len(names) || len(ss) != len(names) {
		t.Fatalf("Walk = %d handles, %d stats, %v", len(hs), len(ss), err)
	}
	if hs[len(hs)-1] != Handle(100+len(names)-1) {
		t.Errorf("last handle %d", hs[len(hs)-1])
	}
}

// TestClientGoferGone checks that calls fail with EIO, not hang, when the
// gofer dies with requests in flight and afterwards.
func TestClientGoferGone(t *testing.T) {
	c, g := newPair(t)
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Stat(1); err != unix.EIO {
				t.Errorf("Stat: %v, want EIO", err)
			}
		}()
	}
	g.recv()
	g.conn.Close()
	wg.Wait()
	if _, _, err := c.Mount(); err != unix.EIO {
		t.Errorf("Mount after close: %v", err)
	}
}

// TestClientBadReplies checks that a misbehaving gofer makes calls fail with
// EIO and never panics the client.
func TestClientBadReplies(t *testing.T) {
	cases := map[string]func(g *fakeGofer, h Header){
		"wrong type": func(g *fakeGofer, h Header) {
			g.reply(h.Tag, 0, &RMount{})
		},
		"malformed body": func(g *fakeGofer, h Header) {
			b, _ := Encode(h.Tag, 0, &RStat{Stat: testStat})
			g.send(b[:len(b)-1])
		},
		"fd count mismatch": func(g *fakeGofer, h Header) {
			b, _ := Encode(h.Tag, 0, &RStat{Stat: testStat})
			g.send(b, 0) // an fd the header does not announce
		},
		"no fd for open": func(g *fakeGofer, h Header) {
			b, _ := Encode(h.Tag, 0, &ROpen{})
			g.send(b) // header announces one fd, none attached
		},
		"short datagram": func(g *fakeGofer, h Header) {
			g.send([]byte{1, 2, 3})
		},
		"unknown tag": func(g *fakeGofer, h Header) {
			g.reply(h.Tag+1000, 0, &RStat{})
		},
		"trailing bytes": func(g *fakeGofer, h Header) {
			b, _ := Encode(h.Tag, 0, &RStat{})
			// Within the socket buffer, beyond what an RStat holds.
			g.send(append(b, make([]byte, 150<<10)...))
		},
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			c, g := newPair(t)
			done := make(chan struct{})
			go func() {
				defer close(done)
				h, _ := g.recv()
				bad(g, h)
			}()
			var err error
			if name == "no fd for open" {
				_, err = c.Open(1, 0)
			} else {
				_, err = c.Stat(1)
			}
			if err != unix.EIO {
				t.Errorf("got %v, want EIO", err)
			}
			<-done
		})
	}
}

// TestClientTimeout checks that an unresponsive gofer makes a call fail with
// EIO after the timeout, and that the late reply's handles are released.
func TestClientTimeout(t *testing.T) {
	c, g := newPair(t)
	c.SetTimeout(50 * time.Millisecond)
	var late Header
	got := make(chan struct{})
	go func() {
		late, _ = g.recv()
		close(got)
	}()
	start := time.Now()
	if _, _, err := c.Walk(1, []string{"a"}); err != unix.EIO {
		t.Fatalf("Walk: %v, want EIO", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	<-got
	c.SetTimeout(0)
	// The late reply arrives: the client must close handle 42.
	g.reply(late.Tag, 0, &RWalk{Handles: []Handle{42}, Stats: []Stat{testStat}})
	h, m := g.recv()
	if cl, ok := m.(*TClose); !ok || len(cl.Handles) != 1 || cl.Handles[0] != 42 {
		t.Fatalf("after late reply got %+v", m)
	}
	g.reply(h.Tag, 0, &RClose{})
	// The connection still works.
	go func() {
		h, _ := g.recv()
		g.reply(h.Tag, 0, &RStat{Stat: testStat})
	}()
	if st, err := c.Stat(1); err != nil || st != testStat {
		t.Fatalf("Stat after timeout: %+v, %v", st, err)
	}
}

// TestClientConcurrent answers many concurrent requests out of order.
func TestClientConcurrent(t *testing.T) {
	c, g := newPair(t)
	const n = 200
	go func() {
		var held []Header
		for i := 0; i < n; i++ {
			h, m := g.recv()
			if m == nil {
				return
			}
			h.Errno = unix.Errno(m.(*TStat).H) // remember which handle it was
			held = append(held, h)
			if len(held) == 10 || i == n-1 {
				for j := len(held) - 1; j >= 0; j-- {
					st := testStat
					st.Ino = uint64(held[j].Errno)
					g.reply(held[j].Tag, 0, &RStat{Stat: st})
				}
				held = held[:0]
			}
		}
	}()
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := c.Stat(Handle(i))
			if err != nil || st.Ino != uint64(i) {
				t.Errorf("Stat(%d) = ino %d, %v", i, st.Ino, err)
			}
		}()
	}
	wg.Wait()
}

func TestShutdown(t *testing.T) {
	c, g := newPair(t)
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat(1); err != unix.EIO {
		t.Fatalf("Stat after Shutdown: %v", err)
	}
	if _, _, err := g.conn.Recv(g.buf); !errors.Is(err, io.EOF) {
		t.Fatalf("gofer side after Shutdown: %v", err)
	}
	c.Shutdown() // idempotent
}
