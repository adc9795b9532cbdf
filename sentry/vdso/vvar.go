package vdso

import "math/bits"

// The vvar page: the data the vDSO reads, one page mapped read-only just below the vDSO
// text. It mirrors struct vvar in vdso.c; TestLayout checks the offsets against the
// compiled object's behaviour and TestVvarABI against the constants below.
//
//	off   size  field
//	0x00  u32   seq         seqlock sequence: odd while the sentry writes tsc_base..base_ns
//	0x04  u32   version     layoutVersion once New has filled the page
//	0x08  u32   flags       flagTSCValid: the TSC parameters may be used
//	0x0c  u32   clock_mask  bit i: clock id i is computed by the vDSO (else: syscall)
//	0x10  u32   cpu_mode    cpuMode*: what getcpu reports
//	0x14  u32   shift       ns = base_ns[id] + ((tsc - tsc_base) * mult) >> shift
//	0x18  u64   tsc_base
//	0x20  u64   mult
//	0x28  u64   reserved
//	0x30  {s64 sec; u64 nsec} base[16]
//	                  clock id i at tsc_base: sec >= 0, nsec < 10^9
//	0x130 u32   res_ns[16]  clock_getres of clock id i; 0: ask the syscall
//
// The product (tsc - tsc_base) * mult is taken in 128 bits, and tsc - tsc_base is
// clamped at 0, so the result never wraps and never goes below the base. The base is
// split so that the vDSO makes a timespec with a carry instead of a 64-bit division.
const (
	// VvarSize is the size of the vvar page.
	VvarSize = 4096

	offSeq       = 0x00
	offVersion   = 0x04
	offFlags     = 0x08
	offClockMask = 0x0c
	offCPUMode   = 0x10
	offShift     = 0x14
	offTSCBase   = 0x18
	offMult      = 0x20
	offBase      = 0x30 // 16 bytes per clock
	offRes       = 0x130
	vvarUsed     = 0x170

	numClocks     = 16
	layoutVersion = 1
	flagTSCValid  = 1

	cpuModeZero   = 0 // getcpu reports CPU 0, node 0
	cpuModeRDTSCP = 1 // getcpu reads TSC_AUX (node<<12 | cpu, as Linux sets it) with RDTSCP
	cpuModeRDPID  = 2 // the same with RDPID
)

// Clock IDs (linux/time.h).
const (
	ClockRealtime        = 0
	ClockMonotonic       = 1
	ClockMonotonicRaw    = 4
	ClockRealtimeCoarse  = 5
	ClockMonotonicCoarse = 6
	ClockBoottime        = 7
	ClockTAI             = 11
)

// publishedClocks are the clocks the vDSO computes; the others (the CPU-time clocks, the
// alarm clocks, bad ids) go to the syscall. MONOTONIC_RAW is CLOCK_MONOTONIC, as it is for
// the sentry's clock_gettime; the coarse clocks are their fine clocks (finer than they
// promise, never ahead of them).
var publishedClocks = []int{ClockRealtime, ClockMonotonic, ClockMonotonicRaw, ClockRealtimeCoarse,
	ClockMonotonicCoarse, ClockBoottime, ClockTAI}

// Params are the time parameters the vvar page publishes under the sequence.
type Params struct {
	Valid     bool   // flagTSCValid
	ClockMask uint32 // bit i: clock i is computed from the fields below
	Shift     uint32 // < 64
	TSCBase   uint64
	Mult      uint64
	Base      [numClocks]int64 // ns; a published clock's is never negative
}

// scale returns (delta * mult) >> shift, the product taken in 128 bits, as vdso.c does.
// The result is truncated to 64 bits, which it fits unless delta spans centuries.
func scale(delta, mult uint64, shift uint32) uint64 {
	hi, lo := bits.Mul64(delta, mult)
	if shift == 0 {
		return lo
	}
	return lo>>shift | hi<<(64-shift)
}

// At returns clock id at TSC value tsc exactly as the vDSO computes it; false if the vDSO
// would ask the syscall instead.
func (p *Params) At(id int, tsc uint64) (int64, bool) {
	if !p.Valid || id < 0 || id >= numClocks || p.ClockMask&(1<<id) == 0 {
		return 0, false
	}
	var delta uint64
	if tsc > p.TSCBase {
		delta = tsc - p.TSCBase
	}
	ns := p.Base[id] + int64(scale(delta, p.Mult, p.Shift))
	return ns, ns >= 0
}
