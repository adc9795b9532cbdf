package vdso

import (
	"math"
	"time"

	"golang.org/x/sys/unix"
)

// Tries per measurement: the tightest bracket wins, so that an interrupt or a preemption
// in one try does not spoil the sample.
const sampleTries = 5

// takeSample reads the host's clocks, pairing CLOCK_MONOTONIC with the TSC and measuring
// the other clocks' offsets from it.
func takeSample() sample {
	var s sample
	best := uint64(math.MaxUint64)
	for i := 0; i < sampleTries; i++ {
		t1 := rdtsc()
		m := nanotime()
		t2 := rdtsc()
		if t2 > t1 && t2-t1 < best {
			best = t2 - t1
			s.tsc, s.mono = t1+(t2-t1)/2, m
		}
	}
	s.realOff, s.realErr = measureOffset(func() int64 { return time.Now().UnixNano() })
	var ts unix.Timespec
	if s.noBoot = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil; !s.noBoot {
		s.bootOff, s.bootErr = measureOffset(func() int64 {
			unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
			return ts.Nano()
		})
	}
	if s.noTAI = unix.ClockGettime(unix.CLOCK_TAI, &ts) != nil; !s.noTAI {
		d := ts.Nano() - time.Now().UnixNano()
		s.taiSec = (d + nsPerSec/2) / nsPerSec
		if d < 0 {
			s.taiSec = (d - nsPerSec/2) / nsPerSec
		}
	}
	return s
}

// measureOffset returns read() - CLOCK_MONOTONIC and its uncertainty.
func measureOffset(read func() int64) (off, err int64) {
	err = math.MaxInt64
	for i := 0; i < sampleTries; i++ {
		m1 := nanotime()
		v := read()
		m2 := nanotime()
		if e := (m2-m1)/2 + 1; e < err {
			err, off = e, v-(m1+(m2-m1)/2)
		}
	}
	return off, err
}
