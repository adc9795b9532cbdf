package eventfd

import (
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

type ctx struct {
	*vfs.KernelContext
	intr chan struct{}
}

func (c *ctx) Block(ch <-chan struct{}, deadline time.Time) (bool, bool) {
	select {
	case <-ch:
		return true, false
	case <-c.intr:
		return false, true
	}
}

func newCtx() *ctx { return &ctx{KernelContext: vfs.NewKernelContext(), intr: make(chan struct{})} }

func rd(f *vfs.FileDescription, c vfs.Context) (uint64, error) {
	var b [8]byte
	_, err := f.Read(c, [][]byte{b[:]})
	return binary.LittleEndian.Uint64(b[:]), err
}

func wr(f *vfs.FileDescription, c vfs.Context, v uint64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	_, err := f.Write(c, [][]byte{b[:4], b[4:]})
	return err
}

func TestCounter(t *testing.T) {
	c := newCtx()
	f := New(c, vfs.New(), 3, Nonblock)
	defer f.DecRef()
	if fl := f.StatusFlags(); fl != unix.O_RDWR|unix.O_NONBLOCK {
		t.Errorf("flags %#x", fl)
	}
	if v, err := rd(f, c); v != 3 || err != nil {
		t.Fatalf("read = %d, %v", v, err)
	}
	if _, err := rd(f, c); err != unix.EAGAIN {
		t.Fatalf("read of zero: %v", err)
	}
	if _, err := f.Read(c, [][]byte{make([]byte, 7)}); err != unix.EINVAL {
		t.Fatalf("short read: %v", err)
	}
	if err := wr(f, c, ^uint64(0)); err != unix.EINVAL {
		t.Fatalf("write of ULLONG_MAX: %v", err)
	}
	if err := wr(f, c, Max); err != nil {
		t.Fatal(err)
	}
	if got := f.Readiness(vfs.AllEvents); got != vfs.ReadableEvents {
		t.Errorf("readiness at Max: %#x", got)
	}
	if err := wr(f, c, 1); err != unix.EAGAIN {
		t.Fatalf("overflowing write: %v", err)
	}
	if err := wr(f, c, 0); err != nil {
		t.Fatalf("write of 0: %v", err)
	}
}

func TestSemaphoreAndBlocking(t *testing.T) {
	c := newCtx()
	f := New(c, vfs.New(), 2, Semaphore)
	defer f.DecRef()
	for range 2 {
		if v, _ := rd(f, c); v != 1 {
			t.Fatalf("semaphore read = %d", v)
		}
	}
	got := make(chan uint64)
	go func() {
		v, _ := rd(f, c)
		got <- v
	}()
	time.Sleep(10 * time.Millisecond)
	wr(f, c, 5)
	if v := <-got; v != 1 {
		t.Fatalf("woken read = %d", v)
	}
	if n := f.Impl().(*File).Count(); n != 4 {
		t.Fatalf("count = %d", n)
	}
	// A blocked writer waits for a read; a signal interrupts it.
	wr(f, c, Max-4)
	errc := make(chan error)
	c2 := newCtx()
	go func() { errc <- wr(f, c2, 10) }()
	time.Sleep(10 * time.Millisecond)
	rd(f, c)
	rd(f, c)
	select {
	case err := <-errc:
		t.Fatalf("write of 10 with room for 2 returned %v", err)
	case <-time.After(10 * time.Millisecond):
	}
	close(c2.intr)
	if err := <-errc; err != vfs.ERESTARTSYS {
		t.Fatalf("interrupted write: %v", err)
	}
}
