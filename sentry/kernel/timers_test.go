package kernel

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// manualClock is a clock the test moves.
type manualClock struct{ now atomic.Int64 }

func (c *manualClock) Now() int64 { return c.now.Load() }

func TestTimerPassiveCountsWhenRead(t *testing.T) {
	c := &manualClock{}
	c.now.Store(1000)
	tm := NewTimer(c, nil)
	if v, i := tm.Get(); v != 0 || i != 0 {
		t.Fatalf("new timer: Get = %d, %d; want 0, 0", v, i)
	}
	tm.Set(100, 50, false, nil)
	if v, i := tm.Get(); v != 100 || i != 50 {
		t.Fatalf("armed: Get = %d, %d; want 100, 50", v, i)
	}
	c.now.Store(1000 + 100 + 3*50 + 20) // the first expiry and three intervals passed
	if v, _ := tm.Get(); v != 30 {
		t.Fatalf("after expiries: left %d, want 30", v)
	}
	ov, oi := tm.Set(0, 0, false, nil)
	if ov != 30 || oi != 50 {
		t.Fatalf("Set returned %d, %d; want 30, 50", ov, oi)
	}
	if v, _ := tm.Get(); v != 0 {
		t.Fatalf("disarmed: left %d", v)
	}
	// Absolute, in the past: a one-shot timer is simply expired when read.
	tm.Set(10, 0, true, nil)
	if v, _ := tm.Get(); v != 0 {
		t.Fatalf("past absolute one-shot: left %d", v)
	}
}

func TestTimerExpireCountsOverruns(t *testing.T) {
	tm := &Timer{armed: true, next: 100, interval: 10}
	if n := tm.expireLocked(99); n != 0 {
		t.Fatalf("early: %d expirations", n)
	}
	if n := tm.expireLocked(135); n != 4 || tm.next != 140 {
		t.Fatalf("expireLocked(135) = %d, next %d; want 4, 140", n, tm.next)
	}
	one := &Timer{armed: true, next: 100}
	if n := one.expireLocked(500); n != 1 || one.armed {
		t.Fatalf("one-shot: %d expirations, armed %v", n, one.armed)
	}
}

func TestTimerWallClockFires(t *testing.T) {
	var mu sync.Mutex
	var total uint64
	done := make(chan struct{}, 100)
	c, _ := WallClock(1) // CLOCK_MONOTONIC
	tm := NewTimer(c, func(n uint64) {
		mu.Lock()
		total += n
		mu.Unlock()
		done <- struct{}{}
	})
	tm.Set(int64(5*time.Millisecond), int64(5*time.Millisecond), false, nil)
	time.Sleep(52 * time.Millisecond)
	tm.Stop(nil)
	mu.Lock()
	got := total
	mu.Unlock()
	if got < 8 || got > 11 {
		t.Fatalf("periodic 5ms timer over 52ms: %d expirations", got)
	}
	// Stopped: nothing more, and Set cannot arm it again.
	tm.Set(int64(time.Millisecond), 0, false, nil)
	time.Sleep(10 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if total != got {
		t.Fatalf("stopped timer fired: %d -> %d", got, total)
	}
}

func TestDropTimerSignal(t *testing.T) {
	pt := &PosixTimer{}
	other := &PosixTimer{}
	q := []SignalInfo{{Signo: 34, timer: pt}, {Signo: 34, timer: other}, {Signo: 10}}
	pending := SigBit(34) | SigBit(10)
	pending = dropTimerSignal(pending, &q, pt)
	if len(q) != 2 || pending != SigBit(34)|SigBit(10) {
		t.Fatalf("after dropping one of two: queue %d, pending %#x", len(q), pending)
	}
	pending = dropTimerSignal(pending, &q, other)
	if len(q) != 1 || pending != SigBit(10) {
		t.Fatalf("after dropping the last: queue %d, pending %#x", len(q), pending)
	}
}

func TestAddOverrunSaturates(t *testing.T) {
	if got := addOverrun(5, 3); got != 8 {
		t.Fatalf("addOverrun(5, 3) = %d", got)
	}
	if got := addOverrun(1<<31-2, 10); got != 1<<31-1 {
		t.Fatalf("addOverrun near the limit = %d", got)
	}
}
