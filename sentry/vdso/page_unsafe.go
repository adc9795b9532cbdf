package vdso

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

// page is the sentry's view of the vvar page (through its mapping of the memory file, the
// same physical page every process maps). Fields are accessed atomically: the page is
// shared with application threads running the vDSO on other CPUs.
type page struct{ b []byte }

func (p page) u32(off int) *uint32 { return (*uint32)(unsafe.Pointer(&p.b[off])) }
func (p page) u64(off int) *uint64 { return (*uint64)(unsafe.Pointer(&p.b[off])) }

// init writes the fields that never change, with the TSC parameters invalid. Nothing maps
// the page yet.
func (p page) init(res [numClocks]uint32, cpuMode uint32) {
	for i, r := range res {
		atomic.StoreUint32(p.u32(offRes+4*i), r)
	}
	atomic.StoreUint32(p.u32(offCPUMode), cpuMode)
	atomic.StoreUint32(p.u32(offFlags), 0)
	atomic.StoreUint32(p.u32(offVersion), layoutVersion)
}

// write publishes the parameters compute returns under the seqlock. compute gets the
// TSC read after the sequence became odd, for the base of the new parameters: any
// reader that sees the old parameters read the TSC before it (see timekeeper.next). There
// is one writer at a time.
func (p page) write(compute func(anchor uint64) Params) Params {
	seq := atomic.LoadUint32(p.u32(offSeq))
	// On amd64 an atomic store is an XCHG: a full barrier, so the odd sequence is visible
	// to every CPU before the TSC is read.
	atomic.StoreUint32(p.u32(offSeq), seq+1)
	n := compute(rdtsc())
	var flags uint32
	if n.Valid {
		flags = flagTSCValid
	}
	atomic.StoreUint32(p.u32(offFlags), flags)
	atomic.StoreUint32(p.u32(offClockMask), n.ClockMask)
	atomic.StoreUint32(p.u32(offShift), n.Shift)
	atomic.StoreUint64(p.u64(offTSCBase), n.TSCBase)
	atomic.StoreUint64(p.u64(offMult), n.Mult)
	for i, b := range n.Base {
		// Published bases are never negative (timekeeper.next), so this is floor division.
		atomic.StoreUint64(p.u64(offBase+16*i), uint64(b/nsPerSec))
		atomic.StoreUint64(p.u64(offBase+16*i+8), uint64(b%nsPerSec))
	}
	atomic.StoreUint32(p.u32(offSeq), seq+2)
	return n
}

// readOnce reads the parameters once; ok is false if the sequence was odd or changed.
func (p page) readOnce(withTSC bool) (n Params, tsc uint64, ok bool) {
	seq := atomic.LoadUint32(p.u32(offSeq))
	if seq&1 != 0 {
		return Params{}, 0, false
	}
	n.Valid = atomic.LoadUint32(p.u32(offFlags))&flagTSCValid != 0
	n.ClockMask = atomic.LoadUint32(p.u32(offClockMask))
	n.Shift = atomic.LoadUint32(p.u32(offShift))
	n.TSCBase = atomic.LoadUint64(p.u64(offTSCBase))
	n.Mult = atomic.LoadUint64(p.u64(offMult))
	for i := range n.Base {
		sec, nsec := atomic.LoadUint64(p.u64(offBase+16*i)), atomic.LoadUint64(p.u64(offBase+16*i+8))
		n.Base[i] = int64(sec)*nsPerSec + int64(nsec)
	}
	if withTSC {
		tsc = rdtsc()
	}
	return n, tsc, atomic.LoadUint32(p.u32(offSeq)) == seq
}

// read returns the published parameters and, if withTSC, a TSC value read while they were
// current, as the vDSO reads them.
func (p page) read(withTSC bool) (Params, uint64) {
	for {
		if n, tsc, ok := p.readOnce(withTSC); ok {
			return n, tsc
		}
		runtime.Gosched()
	}
}

// seq returns the sequence.
func (p page) seq() uint32 { return atomic.LoadUint32(p.u32(offSeq)) }

// res returns clock_getres of clock id as the page says it.
func (p page) res(id int) uint32 { return atomic.LoadUint32(p.u32(offRes + 4*id)) }
