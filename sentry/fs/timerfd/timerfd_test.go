package timerfd

import (
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

func newFile(t *testing.T, nonblock bool) *File {
	t.Helper()
	c, ok := kernel.WallClock(unix.CLOCK_MONOTONIC)
	if !ok {
		t.Fatal("no monotonic clock")
	}
	f := &File{}
	f.nonblock.Store(nonblock)
	f.timer = kernel.NewTimer(c, f.expired)
	t.Cleanup(f.Release)
	return f
}

func read8(t *testing.T, f *File) (uint64, error) {
	t.Helper()
	b := make([]byte, 8)
	n, err := f.Read(&vfs.KernelContext{}, [][]byte{b}, -1)
	if err != nil {
		return 0, err
	}
	if n != 8 {
		t.Fatalf("read %d bytes", n)
	}
	return binary.LittleEndian.Uint64(b), nil
}

func TestReadCountsAndResets(t *testing.T) {
	f := newFile(t, true)
	if _, err := read8(t, f); err != unix.EAGAIN {
		t.Fatalf("disarmed read: %v, want EAGAIN", err)
	}
	if f.Readiness(vfs.AllEvents) != 0 {
		t.Fatal("disarmed timerfd is readable")
	}
	f.SetTime(int64(2*time.Millisecond), int64(2*time.Millisecond), false)
	time.Sleep(21 * time.Millisecond)
	if f.Readiness(vfs.AllEvents)&vfs.EventIn == 0 {
		t.Fatal("expired timerfd is not readable")
	}
	v, err := read8(t, f)
	if err != nil || v < 8 || v > 11 {
		t.Fatalf("read = %d, %v; want about 10", v, err)
	}
	f.SetTime(0, 0, false)
	if _, err := read8(t, f); err != unix.EAGAIN {
		t.Fatalf("read after disarm: %v, want EAGAIN", err)
	}
}

func TestBlockingReadWaits(t *testing.T) {
	f := newFile(t, false)
	f.SetTime(int64(10*time.Millisecond), 0, false)
	start := time.Now()
	v, err := read8(t, f)
	if err != nil || v != 1 {
		t.Fatalf("read = %d, %v; want 1", v, err)
	}
	if d := time.Since(start); d < 9*time.Millisecond {
		t.Fatalf("read returned after %v, before the timer expired", d)
	}
	if _, err := f.Read(&vfs.KernelContext{}, [][]byte{make([]byte, 4)}, -1); err != unix.EINVAL {
		t.Fatalf("short read: %v, want EINVAL", err)
	}
}
