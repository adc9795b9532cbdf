package vdso

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestScale(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10000; i++ {
		delta, mult, shift := r.Uint64()>>r.IntN(64), r.Uint64()>>r.IntN(64), uint32(r.IntN(64))
		want := new(big.Int).Mul(new(big.Int).SetUint64(delta), new(big.Int).SetUint64(mult))
		want.Rsh(want, uint(shift))
		want.And(want, new(big.Int).SetUint64(math.MaxUint64))
		if got := scale(delta, mult, shift); got != want.Uint64() {
			t.Fatalf("scale(%d, %d, %d) = %d, want %d", delta, mult, shift, got, want.Uint64())
		}
	}
}

func TestParamsAt(t *testing.T) {
	p := Params{Valid: true, ClockMask: 1<<ClockMonotonic | 1<<ClockRealtime, Shift: 32, TSCBase: 1000, Mult: 1 << 31}
	p.Base[ClockMonotonic] = 500
	p.Base[ClockRealtime] = 1e18
	for _, c := range []struct {
		id   int
		tsc  uint64
		want int64
		ok   bool
	}{
		{ClockMonotonic, 1000, 500, true},
		{ClockMonotonic, 3000, 1500, true}, // half a ns per cycle
		{ClockMonotonic, 10, 500, true},    // before the base: clamped
		{ClockRealtime, 1002, 1e18 + 1, true},
		{ClockBoottime, 1000, 0, false}, // not published
		{-1, 1000, 0, false},
		{16, 1000, 0, false},
	} {
		got, ok := p.At(c.id, c.tsc)
		if got != c.want || ok != c.ok {
			t.Errorf("At(%d, %d) = %d, %v; want %d, %v", c.id, c.tsc, got, ok, c.want, c.ok)
		}
	}
	p.Valid = false
	if _, ok := p.At(ClockMonotonic, 2000); ok {
		t.Error("invalid parameters used")
	}
}

// fakeHost is a host whose CLOCK_MONOTONIC runs at nsPerCycle ns per TSC cycle (changing
// when the test says, as NTP would change it) and whose samples carry pairing noise.
type fakeHost struct {
	tsc        uint64
	mono       float64 // exact host CLOCK_MONOTONIC at tsc
	nsPerCycle float64
	realOff    int64
	noise      float64 // ns of pairing error, uniform in [-noise, noise]
	r          *rand.Rand
}

func (h *fakeHost) advance(ns float64) {
	cycles := ns / h.nsPerCycle
	h.tsc += uint64(cycles)
	h.mono += float64(uint64(cycles)) * h.nsPerCycle
}

func (h *fakeHost) sample() sample {
	e := (h.r.Float64()*2 - 1) * h.noise
	return sample{
		tsc: h.tsc, mono: int64(h.mono + e),
		realOff: h.realOff + int64(e), realErr: int64(h.noise) + 1,
		bootOff: 5e9, bootErr: int64(h.noise) + 1, taiSec: 37,
	}
}

// run drives the timekeeper as the refresher does for total ns with refreshes every
// interval ns, checking between refreshes that CLOCK_MONOTONIC never goes backwards (also
// across a refresh) and measuring its largest error against the host after warm-up.
func (h *fakeHost) run(t *testing.T, k *timekeeper, total, interval float64, warm float64) (worst float64) {
	t.Helper()
	var prev int64
	for elapsed := 0.0; elapsed < total; elapsed += interval {
		s := h.sample()
		h.advance(500) // the anchor is read a little after the sample
		p := k.next(s, h.tsc, int64(interval))
		if !p.Valid {
			h.advance(interval - 500)
			continue
		}
		// Readers between this refresh and the next.
		for i := 0; i < 10; i++ {
			got, ok := p.At(ClockMonotonic, h.tsc)
			if !ok {
				t.Fatal("monotonic not published")
			}
			if got < prev {
				t.Fatalf("at %.0f ns: monotonic went back from %d to %d", elapsed, prev, got)
			}
			prev = got
			if elapsed > warm {
				worst = math.Max(worst, math.Abs(float64(got)-h.mono))
			}
			if rt, _ := p.At(ClockRealtime, h.tsc); elapsed > warm && math.Abs(float64(rt-got-h.realOff)) > 2*h.noise+2 {
				t.Fatalf("realtime - monotonic = %d, want %d", rt-got, h.realOff)
			}
			if tai, _ := p.At(ClockTAI, h.tsc); elapsed > warm && tai-got-37e9 != k.realOff {
				t.Fatalf("tai offset wrong")
			}
			h.advance((interval - 500) / 10)
		}
	}
	return worst
}

func TestTimekeeperTracksHost(t *testing.T) {
	h := &fakeHost{tsc: 1 << 40, mono: 1e12, nsPerCycle: 1 / 2.9, noise: 20, r: rand.New(rand.NewPCG(3, 4)), realOff: 1.7e18}
	k := &timekeeper{}
	// Warm-up as the refresher does it, then steady 100 ms refreshes for a minute.
	for _, w := range warmup {
		s := h.sample()
		h.advance(500)
		k.next(s, h.tsc, w.Nanoseconds())
		h.advance(float64(w.Nanoseconds()))
	}
	worst := h.run(t, k, 60e9, 100e6, 5e9)
	t.Logf("worst |monotonic - host| after 5 s: %.0f ns", worst)
	if worst > 200 {
		t.Errorf("monotonic strays %.0f ns from the host, want < 200", worst)
	}
	// The host's rate changes by 50 ppm (NTP): the loop follows it.
	h.nsPerCycle *= 1 + 50e-6
	worst = h.run(t, k, 30e9, 100e6, 5e9)
	t.Logf("after a 50 ppm rate change: worst %.0f ns", worst)
	if worst > 300 {
		t.Errorf("monotonic strays %.0f ns from the host after a rate change, want < 300", worst)
	}
	// A step of the wall clock shows at the next refresh; monotonic does not move.
	h.realOff += 3600e9
	s := h.sample()
	h.advance(500)
	p := k.next(s, h.tsc, 100e6)
	mono, _ := p.At(ClockMonotonic, h.tsc)
	real, _ := p.At(ClockRealtime, h.tsc)
	if d := real - mono - h.realOff; d > 50 || d < -50 {
		t.Errorf("after a realtime step: realtime - monotonic is off by %d ns", d)
	}
}

func TestTimekeeperContinuity(t *testing.T) {
	// A 5 us phase error is slewed, never stepped: the new line starts where the old one
	// is at the anchor, and the rate change is within maxSlewPPM.
	h := &fakeHost{tsc: 1 << 40, mono: 1e12, nsPerCycle: 0.4, r: rand.New(rand.NewPCG(5, 6))}
	k := &timekeeper{}
	for i := 0; i < 30; i++ {
		s := h.sample()
		k.next(s, h.tsc, 100e6)
		h.advance(100e6)
	}
	old := k.cur
	h.mono += 5000 // the host is now 5 us ahead of us
	s := h.sample()
	h.advance(500)
	p := k.next(s, h.tsc, 100e6)
	before, _ := old.At(ClockMonotonic, h.tsc)
	after, _ := p.At(ClockMonotonic, h.tsc)
	if before != after {
		t.Errorf("at the anchor: old parameters give %d, new %d; want equal", before, after)
	}
	rel := float64(p.Mult)/float64(old.Mult) - 1
	if rel <= 0 || rel > maxSlewPPM*1e-6*1.01 {
		t.Errorf("rate changed by %.2g, want a speed-up within %d ppm", rel, maxSlewPPM)
	}
	// A 10 ms error is stepped.
	h.mono += 10e6
	s = h.sample()
	h.advance(500)
	p = k.next(s, h.tsc, 100e6)
	got, _ := p.At(ClockMonotonic, h.tsc)
	if d := float64(got) - h.mono; math.Abs(d) > 1000 {
		t.Errorf("after a 10 ms jump the clock is %.0f ns off, want stepped", d)
	}
	// Repeated steps (the clock jumping back and forth against the TSC) give the TSC up.
	for i := 0; i < 10 && !k.disabled; i++ {
		h.mono += float64(20e6 * (i%2*2 - 1))
		p = k.next(h.sample(), h.tsc, 100e6)
		h.advance(100e6)
	}
	if p.Valid || !k.disabled {
		t.Error("after repeated steps the TSC is still used")
	}
}

func TestMergeOffset(t *testing.T) {
	for _, c := range []struct{ cur, curErr, got, gotErr, want, wantErr int64 }{
		{100, 30, 110, 40, 100, 30},   // agrees, less precise: keep
		{100, 30, 110, 20, 110, 20},   // agrees, more precise: take
		{100, 30, 500, 40, 500, 40},   // disagrees: a step
		{100, 30, -500, 40, -500, 40}, // a step back
	} {
		if got, gotErr := mergeOffset(c.cur, c.curErr, c.got, c.gotErr); got != c.want || gotErr != c.wantErr {
			t.Errorf("mergeOffset(%d±%d, %d±%d) = %d±%d, want %d±%d", c.cur, c.curErr, c.got, c.gotErr, got, gotErr, c.want, c.wantErr)
		}
	}
}

func TestTimekeeperUnpublishesMissingClocks(t *testing.T) {
	h := &fakeHost{tsc: 1 << 40, mono: 1e12, nsPerCycle: 0.4, r: rand.New(rand.NewPCG(7, 8))}
	k := &timekeeper{}
	var p Params
	for i := 0; i < 3; i++ {
		s := h.sample()
		s.noBoot, s.noTAI = true, true
		p = k.next(s, h.tsc, 100e6)
		h.advance(100e6)
	}
	if !p.Valid || p.ClockMask&(1<<ClockBoottime) != 0 || p.ClockMask&(1<<ClockTAI) != 0 || p.ClockMask&(1<<ClockMonotonic) == 0 {
		t.Errorf("mask %#x: want monotonic published, boottime and TAI left to the syscall", p.ClockMask)
	}
	// A wall clock before 1970 cannot be published (the page keeps seconds unsigned).
	k = &timekeeper{}
	h.realOff = -int64(h.mono) - 5e9
	for i := 0; i < 3; i++ {
		p = k.next(h.sample(), h.tsc, 100e6)
		h.advance(100e6)
	}
	if !p.Valid || p.ClockMask&(1<<ClockRealtime) != 0 || p.ClockMask&(1<<ClockRealtimeCoarse) != 0 || p.ClockMask&(1<<ClockMonotonic) == 0 {
		t.Errorf("mask %#x with realtime before 1970: want realtime left to the syscall", p.ClockMask)
	}
}
