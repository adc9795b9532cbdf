package vdso

import "math/bits"

// The timekeeper turns readings of the host's clocks, each paired with the TSC, into the
// parameters the vDSO publishes. It is a small frequency- and phase-locked loop:
//
//   - the frequency (mult, ns per TSC cycle in 1/2^multShift units) is the slope of
//     CLOCK_MONOTONIC against the TSC over the last few seconds of samples, so it follows
//     the host's NTP frequency corrections;
//   - at each refresh the new line starts exactly where the old one is at the anchor (so
//     CLOCK_MONOTONIC never jumps, in particular never backwards), and its slope is the
//     frequency plus a correction that removes half of the measured phase error (host minus
//     published) over the next interval, limited to maxSlewPPM;
//   - an error beyond stepThreshold (a misbehaving TSC: a migrated VM, a host clock step
//     of CLOCK_MONOTONIC, which Linux never does) is stepped instead, and after maxSteps
//     steps in a row the TSC is given up and the vDSO falls back to the syscall for good.
//
// The other clocks are CLOCK_MONOTONIC plus an offset measured at each refresh: REALTIME
// (so that steps of the host's wall clock show on the next refresh), BOOTTIME (the host's
// time in suspend) and TAI (REALTIME plus the host's whole-second TAI offset). An offset
// is replaced only when a measurement disagrees with it by more than both measurements'
// uncertainties (a step), or agrees with it and is more precise: the jitter of sampling
// never shows as jitter of the clock.

const (
	// multShift is the fixed-point shift of mult: mult is ns per cycle times 2^32, which
	// resolves the rate to 2^-32 ns per cycle: 1e-9 of it for a 4 GHz TSC.
	multShift = 32
	// histLen samples give the frequency; at 100 ms refreshes, a 2 s baseline, over which
	// a 20 ns pairing error is a 1e-8 frequency error (10 ns per second).
	histLen = 21
	// stepThreshold is the largest phase error slewed rather than stepped, in ns.
	stepThreshold = 1_000_000
	// maxSlewPPM bounds the phase correction's share of the rate, in parts per million.
	maxSlewPPM = 500
	// maxSteps consecutive steps mean the TSC cannot be trusted.
	maxSteps = 3

	nsPerSec = 1_000_000_000
)

// sample is one reading of the host's clocks paired with the TSC.
type sample struct {
	tsc  uint64 // the TSC at the instant mono was read
	mono int64  // host CLOCK_MONOTONIC, ns
	// Offsets of the other host clocks from CLOCK_MONOTONIC, each with the uncertainty of
	// its measurement (half the width of the bracket around it), in ns.
	realOff, realErr int64
	bootOff, bootErr int64
	// taiSec is CLOCK_TAI - CLOCK_REALTIME, in whole seconds (the kernel keeps it so).
	taiSec int64
	// noBoot, noTAI: the host would not say (the clock is then left to the syscall).
	noBoot, noTAI bool
}

// timekeeper holds the loop's state. It is used by one goroutine at a time.
type timekeeper struct {
	cur  Params
	hist [histLen]sample
	n    int // samples in hist
	pos  int // where the next sample goes

	haveOffsets      bool
	realOff, realErr int64
	bootOff, bootErr int64
	taiSec           int64
	noBoot, noTAI    bool

	steps    int
	disabled bool
}

func (k *timekeeper) push(s sample) {
	k.hist[k.pos] = s
	k.pos = (k.pos + 1) % histLen
	if k.n < histLen {
		k.n++
	}
}

// oldest returns the oldest sample in the history.
func (k *timekeeper) oldest() sample {
	if k.n < histLen {
		return k.hist[0]
	}
	return k.hist[k.pos]
}

func (k *timekeeper) reset(s sample) {
	k.n, k.pos = 0, 0
	k.push(s)
}

// mergeOffset applies the rule of the comment above to one offset.
func mergeOffset(cur, curErr, got, gotErr int64) (int64, int64) {
	d := got - cur
	if d < 0 {
		d = -d
	}
	if d > curErr+gotErr || gotErr < curErr {
		return got, gotErr
	}
	return cur, curErr
}

// ratio returns (dns << multShift) / dcycles: the slope of the clock in mult units.
func ratio(dns int64, dcycles uint64) uint64 {
	hi, lo := uint64(dns)>>(64-multShift), uint64(dns)<<multShift
	if hi >= dcycles {
		return ^uint64(0)
	}
	q, _ := bits.Div64(hi, lo, dcycles)
	return q
}

// next takes a fresh sample s and returns the parameters to publish with the TSC value
// anchor as their base. anchor must be read after the sequence is made odd (so that every
// reader of the old parameters read the TSC before it) and after s was taken. interval is
// when the following refresh is due, in ns.
func (k *timekeeper) next(s sample, anchor uint64, interval int64) Params {
	if k.disabled {
		return Params{}
	}
	k.updateOffsets(s)
	if k.n == 0 {
		// No frequency yet.
		k.push(s)
		k.cur = Params{}
		return k.cur
	}
	old := k.oldest()
	if s.tsc <= old.tsc || s.mono <= old.mono {
		// The TSC or the clock went backwards against the other: measure the frequency
		// again from s, and meanwhile keep the current parameters.
		k.step(s)
		return k.cur
	}
	freq := ratio(s.mono-old.mono, s.tsc-old.tsc)
	if freq == 0 {
		k.step(s)
		return k.cur
	}
	k.push(s)
	// The host's CLOCK_MONOTONIC at the anchor, extrapolated over the few microseconds
	// since the sample.
	host := s.mono
	if anchor >= s.tsc {
		host += int64(scale(anchor-s.tsc, freq, multShift))
	} else {
		host -= int64(scale(s.tsc-anchor, freq, multShift))
	}

	mono, mult := host, freq
	if cur, ok := k.cur.At(ClockMonotonic, anchor); ok {
		e := host - cur
		if e > stepThreshold || e < -stepThreshold {
			if p := k.step(s); !p.Valid {
				return p
			}
		} else {
			k.steps = 0
			mono = cur
			cycles := ratio(interval, freq) // interval in cycles: (ns << 32) / (ns per cycle << 32)
			corr := int64(0)
			if cycles > 0 {
				// Half the error over the next interval: (e/2) / cycles, in mult units.
				corr = (e << multShift) / int64(2*cycles)
			}
			limit := int64(freq / 1_000_000 * maxSlewPPM)
			corr = max(min(corr, limit), -limit)
			mult = uint64(int64(freq) + corr)
		}
	}

	p := Params{Valid: true, Shift: multShift, TSCBase: anchor, Mult: mult}
	real := mono + k.realOff
	p.Base[ClockRealtime] = real
	p.Base[ClockRealtimeCoarse] = real
	p.Base[ClockMonotonic] = mono
	p.Base[ClockMonotonicRaw] = mono
	p.Base[ClockMonotonicCoarse] = mono
	p.Base[ClockBoottime] = mono + k.bootOff
	p.Base[ClockTAI] = real + k.taiSec*nsPerSec
	for _, id := range publishedClocks {
		if (id == ClockBoottime && k.noBoot) || (id == ClockTAI && k.noTAI) || p.Base[id] < 0 {
			// Unknown, or before 1970 (the page cannot say): the syscall answers.
			p.Base[id] = 0
			continue
		}
		p.ClockMask |= 1 << id
	}
	k.cur = p
	return p
}

// step counts a step and restarts the frequency measurement from s; it returns invalid
// parameters if the TSC is given up, else valid ones (to be filled in by the caller).
func (k *timekeeper) step(s sample) Params {
	k.steps++
	k.reset(s)
	if k.steps > maxSteps {
		k.disabled = true
		k.cur = Params{}
		return k.cur
	}
	return Params{Valid: true}
}

func (k *timekeeper) updateOffsets(s sample) {
	if !k.haveOffsets {
		k.realOff, k.realErr = s.realOff, s.realErr
		k.bootOff, k.bootErr = s.bootOff, s.bootErr
		k.haveOffsets = true
	} else {
		k.realOff, k.realErr = mergeOffset(k.realOff, k.realErr, s.realOff, s.realErr)
		k.bootOff, k.bootErr = mergeOffset(k.bootOff, k.bootErr, s.bootOff, s.bootErr)
	}
	k.taiSec = s.taiSec
	k.noBoot, k.noTAI = s.noBoot, s.noTAI
}
