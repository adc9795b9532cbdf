package pipe

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

// ctx is a test context whose waits can be interrupted by closing intr.
type ctx struct {
	*vfs.KernelContext
	intr   chan struct{}
	blocks atomic.Int32 // waits begun
}

func newCtx() *ctx { return &ctx{KernelContext: vfs.NewKernelContext(), intr: make(chan struct{})} }

func (c *ctx) Block(ch <-chan struct{}, deadline time.Time) (bool, bool) {
	c.blocks.Add(1)
	select {
	case <-ch:
		return true, false
	case <-c.intr:
		return false, true
	}
}

func newPipeFiles(t *testing.T, flags uint32) (r, w *vfs.FileDescription) {
	t.Helper()
	return NewPipe(newCtx(), vfs.New(), flags)
}

func read(f *vfs.FileDescription, c vfs.Context, n int) ([]byte, error) {
	b := make([]byte, n)
	m, err := f.Read(c, [][]byte{b})
	return b[:m], err
}

func write(f *vfs.FileDescription, c vfs.Context, b []byte) (int64, error) {
	return f.Write(c, [][]byte{b})
}

func TestReadWriteEOF(t *testing.T) {
	r, w := newPipeFiles(t, 0)
	c := newCtx()
	if n, err := write(w, c, []byte("hello")); n != 5 || err != nil {
		t.Fatalf("write = %d, %v", n, err)
	}
	if got := r.Impl().(*File).Pipe().Queued(); got != 5 {
		t.Errorf("queued = %d, want 5", got)
	}
	b, err := read(r, c, 3)
	if string(b) != "hel" || err != nil {
		t.Fatalf("read = %q, %v", b, err)
	}
	b, _ = read(r, c, 100)
	if string(b) != "lo" {
		t.Fatalf("read = %q", b)
	}
	w.DecRef()
	b, err = read(r, c, 100)
	if len(b) != 0 || err != nil {
		t.Fatalf("read at EOF = %q, %v", b, err)
	}
	r.DecRef()
}

func TestEPIPE(t *testing.T) {
	r, w := newPipeFiles(t, 0)
	r.DecRef()
	if _, err := write(w, newCtx(), []byte("x")); err != unix.EPIPE {
		t.Fatalf("write without readers: %v, want EPIPE", err)
	}
	if n, err := write(w, newCtx(), nil); n != 0 || err != nil {
		t.Fatalf("empty write without readers = %d, %v, want 0", n, err)
	}
	w.DecRef()
}

func TestNonblock(t *testing.T) {
	r, w := newPipeFiles(t, unix.O_NONBLOCK)
	c := newCtx()
	if _, err := read(r, c, 10); err != unix.EAGAIN {
		t.Fatalf("empty read: %v, want EAGAIN", err)
	}
	big := make([]byte, 3*DefaultSize)
	n, err := write(w, c, big)
	if n != DefaultSize || err != nil {
		t.Fatalf("big write = %d, %v, want %d", n, err, DefaultSize)
	}
	if _, err := write(w, c, []byte("x")); err != unix.EAGAIN {
		t.Fatalf("write to full pipe: %v, want EAGAIN", err)
	}
	// Free one page: a PIPE_BUF write fits again, a larger one only partly.
	read(r, c, PageSize)
	n, err = write(w, c, make([]byte, PageSize+10))
	if n != PageSize || err != nil {
		t.Fatalf("write = %d, %v, want %d", n, err, PageSize)
	}
	r.DecRef()
	w.DecRef()
}

func TestMergeSmallWrites(t *testing.T) {
	c := newCtx()
	// The figures are Linux's (see the pipe conformance case).
	for _, tc := range []struct {
		written, read int
		write         int
		want          int64
	}{
		// A write's last partial page merges into the last buffer if it fits there.
		{1, 0, 2*DefaultSize - 1, DefaultSize - 1},
		// A whole number of pages does not merge: the first page stays with one byte.
		{1, 0, 2 * DefaultSize, DefaultSize - PageSize},
		// Bytes already read from a page are not reused.
		{100, 50, 2*DefaultSize - 1, DefaultSize - PageSize},
		{100, 50, 2*DefaultSize - 100, DefaultSize - 100},
	} {
		r, w := newPipeFiles(t, unix.O_NONBLOCK)
		write(w, c, make([]byte, tc.written))
		read(r, c, tc.read)
		if n, _ := write(w, c, make([]byte, tc.write)); n != tc.want {
			t.Errorf("%+v: wrote %d", tc, n)
		}
		r.DecRef()
		w.DecRef()
	}
}

func TestPacketMode(t *testing.T) {
	r, w := newPipeFiles(t, unix.O_DIRECT)
	c := newCtx()
	write(w, c, []byte("one"))
	write(w, c, []byte("two!"))
	write(w, c, make([]byte, PageSize+5)) // two packets: a page and 5 bytes
	b, _ := read(r, c, 100)
	if string(b) != "one" {
		t.Fatalf("first packet = %q", b)
	}
	b, _ = read(r, c, 2)
	if string(b) != "tw" {
		t.Fatalf("short read of a packet = %q", b)
	}
	b, _ = read(r, c, 3*PageSize)
	if len(b) != PageSize {
		t.Fatalf("packet of a page: %d bytes", len(b))
	}
	b, _ = read(r, c, 3*PageSize)
	if len(b) != 5 {
		t.Fatalf("last packet: %d bytes", len(b))
	}
	r.DecRef()
	w.DecRef()
}

func TestBlockingReadWakes(t *testing.T) {
	r, w := newPipeFiles(t, 0)
	c := newCtx()
	done := make(chan []byte)
	go func() {
		b, _ := read(r, c, 10)
		done <- b
	}()
	time.Sleep(10 * time.Millisecond)
	write(w, c, []byte("wake"))
	if b := <-done; string(b) != "wake" {
		t.Fatalf("read = %q", b)
	}
	go func() {
		b, _ := read(r, c, 10)
		done <- b
	}()
	time.Sleep(10 * time.Millisecond)
	w.DecRef()
	if b := <-done; len(b) != 0 {
		t.Fatalf("read after close = %q", b)
	}
	r.DecRef()
}

func TestBlockingWriteWakes(t *testing.T) {
	r, w := newPipeFiles(t, 0)
	c := newCtx()
	errc := make(chan error)
	go func() {
		n, err := write(w, c, make([]byte, DefaultSize+100))
		if n != DefaultSize+100 {
			t.Errorf("write = %d", n)
		}
		errc <- err
	}()
	got := 0
	for got < DefaultSize+100 {
		b, err := read(r, c, 1000)
		if err != nil {
			t.Fatal(err)
		}
		got += len(b)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	// A writer blocked on a full pipe gets EPIPE when the readers go (nothing written
	// by this call).
	write(w, c, make([]byte, DefaultSize))
	go func() {
		_, err := write(w, c, []byte("x"))
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	r.DecRef()
	if err := <-errc; err != unix.EPIPE {
		t.Fatalf("blocked write after readers closed: %v, want EPIPE", err)
	}
	w.DecRef()
}

func TestInterrupt(t *testing.T) {
	r, w := newPipeFiles(t, 0)
	c := newCtx()
	errc := make(chan error)
	go func() {
		_, err := read(r, c, 10)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	close(c.intr)
	if err := <-errc; err != vfs.ERESTARTSYS {
		t.Fatalf("interrupted read: %v, want ERESTARTSYS", err)
	}
	// An interrupted write returns what it wrote.
	c2 := newCtx()
	go func() {
		n, err := write(w, c2, make([]byte, DefaultSize+PageSize))
		if n != DefaultSize || err != nil {
			t.Errorf("interrupted write = %d, %v; want %d", n, err, DefaultSize)
		}
		errc <- nil
	}()
	time.Sleep(10 * time.Millisecond)
	close(c2.intr)
	<-errc
	r.DecRef()
	w.DecRef()
}

func TestAtomicWrites(t *testing.T) {
	r, w := newPipeFiles(t, 0)
	const writers, per = 8, 64
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newCtx()
			b := bytes.Repeat([]byte{byte('a' + i)}, PipeBuf)
			for range per {
				if n, err := write(w, c, b); n != PipeBuf || err != nil {
					t.Errorf("write = %d, %v", n, err)
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		w.DecRef()
	}()
	c := newCtx()
	var all []byte
	buf := make([]byte, 3000)
	for {
		n, err := r.Read(c, [][]byte{buf})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		all = append(all, buf[:n]...)
	}
	if len(all) != writers*per*PipeBuf {
		t.Fatalf("read %d bytes, want %d", len(all), writers*per*PipeBuf)
	}
	for i := 0; i < len(all); i += PipeBuf {
		chunk := all[i : i+PipeBuf]
		if bytes.Count(chunk, chunk[:1]) != PipeBuf {
			t.Fatalf("write at %d interleaved", i)
		}
	}
	r.DecRef()
}

func TestSetSize(t *testing.T) {
	r, w := newPipeFiles(t, unix.O_NONBLOCK)
	p := r.Impl().(*File).Pipe()
	for _, tc := range []struct {
		n          uint64
		privileged bool
		want       int64
		err        error
	}{
		{0, false, PageSize, nil},
		{5000, false, 2 * PageSize, nil},
		{MaxSize, false, MaxSize, nil},
		{MaxSize + 1, false, 0, unix.EPERM},
		{MaxSize + 1, true, 2 * MaxSize, nil},
		{1 << 31, false, 0, unix.EPERM},
		{1<<31 + 1, true, 0, unix.EINVAL},
		{DefaultSize, false, DefaultSize, nil},
	} {
		got, err := p.SetSize(tc.n, tc.privileged)
		if got != tc.want || err != tc.err {
			t.Errorf("SetSize(%d, %v) = %d, %v; want %d, %v", tc.n, tc.privileged, got, err, tc.want, tc.err)
		}
	}
	c := newCtx()
	write(w, c, make([]byte, 3*PageSize))
	if _, err := p.SetSize(2*PageSize, false); err != unix.EBUSY {
		t.Errorf("shrinking below the contents: %v, want EBUSY", err)
	}
	if n, err := p.SetSize(4*PageSize, false); n != 4*PageSize || err != nil {
		t.Errorf("SetSize(4 pages) = %d, %v", n, err)
	}
	b, _ := read(r, c, 4*PageSize)
	if len(b) != 3*PageSize {
		t.Errorf("data after resize: %d bytes", len(b))
	}
	r.DecRef()
	w.DecRef()
}

type recorder struct {
	mu     sync.Mutex
	events vfs.EventMask
}

func (rc *recorder) NotifyEvent(m vfs.EventMask) {
	rc.mu.Lock()
	rc.events |= m
	rc.mu.Unlock()
}

func (rc *recorder) take() vfs.EventMask {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	m := rc.events
	rc.events = 0
	return m
}

func TestReadiness(t *testing.T) {
	r, w := newPipeFiles(t, unix.O_NONBLOCK)
	c := newCtx()
	if got := r.Readiness(vfs.AllEvents); got != 0 {
		t.Errorf("empty read end: %#x", got)
	}
	if got := w.Readiness(vfs.AllEvents); got != vfs.WritableEvents {
		t.Errorf("empty write end: %#x", got)
	}
	var rec recorder
	e := &vfs.WaitEntry{Mask: vfs.ReadableEvents, Callback: &rec}
	if err := r.EventRegister(e); err != nil {
		t.Fatal(err)
	}
	write(w, c, []byte("x"))
	if got := rec.take(); got&vfs.EventIn == 0 {
		t.Errorf("write notified %#x", got)
	}
	if got := r.Readiness(vfs.AllEvents); got != vfs.ReadableEvents {
		t.Errorf("read end with data: %#x", got)
	}
	write(w, c, make([]byte, DefaultSize))
	if got := w.Readiness(vfs.AllEvents); got != 0 {
		t.Errorf("full write end: %#x", got)
	}
	rec.take()
	r.EventUnregister(e)
	write(w, c, []byte("y"))
	if got := rec.take(); got != 0 {
		t.Errorf("unregistered entry notified: %#x", got)
	}
	w.DecRef()
	if got := r.Readiness(vfs.AllEvents); got != vfs.ReadableEvents|vfs.EventHUp {
		t.Errorf("read end without writers: %#x", got)
	}
	r.DecRef()

	r, w = newPipeFiles(t, 0)
	r.DecRef()
	if got := w.Readiness(vfs.AllEvents); got != vfs.WritableEvents|vfs.EventErr {
		t.Errorf("write end without readers: %#x", got)
	}
	w.DecRef()
}

// fifoInode is a named FIFO's inode on some filesystem.
type fifoInode struct{ vfs.NoInodeOps }

func (*fifoInode) Stat(ctx vfs.Context) (vfs.Stat, error) {
	return vfs.Stat{Mode: unix.S_IFIFO | 0644}, nil
}

func TestFIFOOpen(t *testing.T) {
	v := vfs.New()
	vd := vfs.VirtualDentry{Mount: v.AnonMount(), Dentry: vfs.NewDentry(nil, &fifoInode{}, false)}
	c := newCtx()
	open := func(flags uint32) (*vfs.FileDescription, error) {
		impl, opts, err := openFIFO(c, vd, flags)
		if err != nil {
			return nil, err
		}
		return vfs.NewFileDescription(vd, impl, flags, opts), nil
	}
	if _, err := open(unix.O_WRONLY | unix.O_NONBLOCK); err != unix.ENXIO {
		t.Fatalf("O_WRONLY|O_NONBLOCK without reader: %v, want ENXIO", err)
	}
	r, err := open(unix.O_RDONLY | unix.O_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Readiness(vfs.AllEvents); got != 0 {
		t.Errorf("reader that never saw a writer: %#x, want no POLLHUP", got)
	}
	w, err := open(unix.O_WRONLY | unix.O_NONBLOCK)
	if err != nil {
		t.Fatalf("O_WRONLY|O_NONBLOCK with a reader: %v", err)
	}
	write(w, c, []byte("fifo"))
	b, _ := read(r, c, 10)
	if string(b) != "fifo" {
		t.Fatalf("read = %q", b)
	}
	w.DecRef()
	if got := r.Readiness(vfs.AllEvents); got != vfs.EventHUp {
		t.Errorf("reader after the writer left: %#x, want POLLHUP", got)
	}
	r.DecRef()

	// A blocking reader waits for a writer (without spinning), and the reverse.
	done := make(chan *vfs.FileDescription)
	rc := newCtx()
	go func() {
		impl, opts, err := openFIFO(rc, vd, unix.O_RDONLY)
		var f *vfs.FileDescription
		if err == nil {
			f = vfs.NewFileDescription(vd, impl, unix.O_RDONLY, opts)
		}
		if err != nil {
			t.Error(err)
		}
		done <- f
	}()
	time.Sleep(10 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("O_RDONLY open did not wait for a writer")
	default:
	}
	if n := rc.blocks.Load(); n > 2 {
		t.Errorf("a waiting open blocked %d times in 10ms: it spins", n)
	}
	w, err = open(unix.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	r = <-done
	write(w, c, []byte("x"))
	w.DecRef()
	r.DecRef()
	fifoTable.mu.Lock()
	n := len(fifoTable.m)
	fifoTable.mu.Unlock()
	if n != 0 {
		t.Errorf("fifo table keeps %d pipes after the last close", n)
	}

	// The data of a FIFO goes with its last file.
	rw, _ := open(unix.O_RDWR)
	write(rw, c, []byte("lost"))
	rw.DecRef()
	r, _ = open(unix.O_RDONLY | unix.O_NONBLOCK)
	if b, err := read(r, c, 10); len(b) != 0 || err != nil {
		t.Errorf("read of a reopened FIFO = %q, %v; want EOF", b, err)
	}
	r.DecRef()

	// An interrupted blocking open fails with ERESTARTSYS and leaves no reader.
	c2 := newCtx()
	errc := make(chan error)
	go func() {
		_, _, err := openFIFO(c2, vd, unix.O_WRONLY)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	close(c2.intr)
	if err := <-errc; err != vfs.ERESTARTSYS {
		t.Fatalf("interrupted open: %v", err)
	}
	if _, err := open(unix.O_WRONLY | unix.O_NONBLOCK); err != unix.ENXIO {
		t.Fatalf("after interrupted open: %v, want ENXIO", err)
	}
}

func TestStatAndReopen(t *testing.T) {
	v := vfs.New()
	r, w := NewPipe(newCtx(), v, 0)
	st, err := r.Stat()
	if err != nil || st.Mode != unix.S_IFIFO|0600 || st.Size != 0 || st.Blksize != PageSize {
		t.Fatalf("stat = %+v, %v", st, err)
	}
	if fl := r.StatusFlags(); fl != unix.O_RDONLY {
		t.Errorf("read end flags %#x", fl)
	}
	// Opening the pipe again through its dentry (as /proc/self/fd does) adds an end.
	w2, err := v.OpenDentry(newCtx(), w.VirtualDentry(), unix.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	w.DecRef()
	write(w2, newCtx(), []byte("again"))
	b, _ := read(r, newCtx(), 10)
	if string(b) != "again" {
		t.Fatalf("read = %q", b)
	}
	w2.DecRef()
	r.DecRef()
}
