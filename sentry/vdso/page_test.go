package vdso

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestSeqlock: readers never see a mix of two writes, and the sequence is even between
// writes and advances by two per write.
func TestSeqlock(t *testing.T) {
	p := page{make([]byte, VvarSize)}
	p.init([numClocks]uint32{}, cpuModeZero)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads atomic.Int64
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				n, tsc := p.read(true)
				if tsc == 0 {
					t.Error("no TSC read")
					return
				}
				v := n.TSCBase
				if n.Mult != v || uint64(n.Shift) != v%64 || n.ClockMask != uint32(v) {
					t.Errorf("torn read: %+v", n)
					return
				}
				for _, b := range n.Base {
					if uint64(b) != v {
						t.Errorf("torn read: %+v", n)
						return
					}
				}
				reads.Add(1)
			}
		}()
	}
	const writes = 200000
	for i := uint64(1); i <= writes; i++ {
		seq := p.seq()
		p.write(func(anchor uint64) Params {
			if p.seq()&1 == 0 {
				t.Fatal("sequence even during a write")
			}
			n := Params{Valid: true, TSCBase: i, Mult: i, Shift: uint32(i % 64), ClockMask: uint32(i)}
			for j := range n.Base {
				n.Base[j] = int64(i)
			}
			return n
		})
		if got := p.seq(); got != seq+2 {
			t.Fatalf("sequence %d after a write from %d", got, seq)
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d consistent reads during %d writes", reads.Load(), writes)
	if n, _ := p.read(false); n.TSCBase != writes || !n.Valid {
		t.Errorf("last write not visible: %+v", n)
	}
}
