package host

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

// blockCtx is a context whose waits end when intr is closed.
type blockCtx struct {
	*vfs.KernelContext
	intr chan struct{}
}

func (c *blockCtx) Block(ch <-chan struct{}, deadline time.Time) (bool, bool) {
	select {
	case <-ch:
		return true, false
	case <-c.intr:
		return false, true
	}
}

func TestReadiness(t *testing.T) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	v := vfs.New()
	r, err := NewFile(v, p[0])
	if err != nil {
		t.Fatal(err)
	}
	defer r.DecRef()
	if got := r.Readiness(vfs.AllEvents); got&vfs.EventIn != 0 {
		t.Errorf("empty host pipe readable: %#x", got)
	}
	e, ch := vfs.NewChannelEntry(vfs.ReadableEvents)
	if err := r.EventRegister(e); err != nil {
		t.Fatal(err)
	}
	unix.Write(p[1], []byte("x"))
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification for host data")
	}
	r.EventUnregister(e)
	if got := r.Readiness(vfs.AllEvents); got&vfs.EventIn == 0 {
		t.Errorf("host pipe with data: %#x", got)
	}
	b := make([]byte, 8)
	r.Read(vfs.NewKernelContext(), [][]byte{b})

	// A blocking read waits for data without spinning, and a signal interrupts it.
	c := &blockCtx{KernelContext: vfs.NewKernelContext(), intr: make(chan struct{})}
	errc := make(chan error)
	go func() {
		_, err := r.Read(c, [][]byte{b})
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	close(c.intr)
	if err := <-errc; err != vfs.ERESTARTSYS {
		t.Fatalf("interrupted host read: %v, want ERESTARTSYS", err)
	}
	c = &blockCtx{KernelContext: vfs.NewKernelContext(), intr: make(chan struct{})}
	go func() {
		n, err := r.Read(c, [][]byte{b})
		if n != 2 {
			t.Errorf("read %d bytes", n)
		}
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	unix.Write(p[1], []byte("yz"))
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	unix.Close(p[1])
	if got := r.Readiness(vfs.AllEvents); got&vfs.EventHUp == 0 {
		t.Errorf("host pipe without writers: %#x", got)
	}
}

func TestRegularFileCannotWait(t *testing.T) {
	fd, err := unix.Open(t.TempDir()+"/f", unix.O_RDWR|unix.O_CREAT, 0600)
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFile(vfs.New(), fd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.DecRef()
	if got := f.Readiness(vfs.AllEvents); got != vfs.DefaultEvents {
		t.Errorf("regular file readiness %#x", got)
	}
	e, _ := vfs.NewChannelEntry(vfs.ReadableEvents)
	if err := f.EventRegister(e); err != unix.EPERM {
		t.Errorf("EventRegister on a regular file: %v, want EPERM", err)
	}
	null, err := unix.Open("/dev/null", unix.O_RDWR, 0)
	if err != nil {
		t.Skip(err)
	}
	n, _ := NewFile(vfs.New(), null)
	defer n.DecRef()
	if err := n.EventRegister(e); err != unix.EPERM {
		t.Errorf("EventRegister on /dev/null: %v, want EPERM", err)
	}
	if got := n.Readiness(vfs.AllEvents); got&vfs.DefaultEvents != vfs.DefaultEvents {
		t.Errorf("/dev/null readiness %#x", got)
	}
}

// Opening a host pipe again (as /proc/self/fd/0 does for `cat /dev/stdin`) gives a file
// without a position: reads are plain reads, not preads (ESPIPE).
func TestReopenPipeIsStream(t *testing.T) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	v := vfs.New()
	r, err := NewFile(v, p[0])
	if err != nil {
		t.Fatal(err)
	}
	defer r.DecRef()
	ctx := vfs.NewKernelContext()
	r2, err := v.OpenDentry(ctx, r.VirtualDentry(), unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.DecRef()
	unix.Write(p[1], []byte("again"))
	b := make([]byte, 8)
	if n, err := r2.Read(ctx, [][]byte{b}); n != 5 || err != nil {
		t.Fatalf("read of the reopened pipe = %d, %v", n, err)
	}
}
