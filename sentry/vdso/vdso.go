// Package vdso owns the sandbox's vDSO: the shared object (vdso.so, built from vdso.c by
// gen.go and embedded) that every process gets at AT_SYSINFO_EHDR, and the vvar page below
// it that the sentry keeps current, so that clock_gettime, gettimeofday, time, clock_getres
// and getcpu never trap. One copy of both lives in the memory file, shared read-only by
// every address space (mm.MapSpecial maps them; the loader places them at exec).
//
// The vDSO computes time from the TSC: ns = base + ((tsc - tsc_base) * mult) >> shift,
// with the parameters published under a seqlock (vvar.go has the page's layout). A
// goroutine (Start) re-measures the host's clocks every 100 ms and steers the parameters
// so that the sandbox's CLOCK_MONOTONIC tracks the host's within tens of nanoseconds and
// never goes backwards, and CLOCK_REALTIME follows the host's, steps included
// (timekeeper.go). Where the TSC cannot be trusted the page says so and the vDSO makes
// the syscall instead.
//
// Lock order: VDSO.mu is a leaf lock; the refresher goroutine alone writes the page.
package vdso

//go:generate go run gen.go

import (
	_ "embed"
	"errors"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/memory"
)

// blob is the vDSO image: an ELF shared object whose file layout is its memory layout.
//
//go:embed vdso.so
var blob []byte

// Blob returns the vDSO image (not a copy: do not modify).
func Blob() []byte { return blob }

// RefreshInterval is how often the parameters are re-measured once calibrated.
const RefreshInterval = 100 * time.Millisecond

// The first refreshes come sooner: the first calibration is published 2 ms after Start
// (while the sandbox is still booting: the first process should not start on syscalls),
// with a frequency good to about 1e-5, and the following ones refine it within a second.
var warmup = []time.Duration{2 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond}

// VDSO is the vDSO's pages in the memory file and the refresher that keeps the vvar page
// current.
type VDSO struct {
	mf      *memory.MemoryFile
	off     uint64 // memory-file offset of the vvar page; the text follows it
	textLen uint64
	page    page
	useTSC  bool

	// interval replaces RefreshInterval (tests).
	interval time.Duration

	mu   sync.Mutex
	stop chan struct{}
	done chan struct{}
	tk   timekeeper // owned by the refresher goroutine
}

// New copies the vDSO into mf and fills its vvar page. Until Start, and until the first
// calibration is done, the page tells the vDSO to make syscalls.
func New(mf *memory.MemoryFile) (*VDSO, error) {
	if len(blob) < 64 || string(blob[:4]) != "\x7fELF" {
		return nil, errors.New("vdso: the embedded vdso.so is not an ELF object (run go generate ./sentry/vdso)")
	}
	textLen := (uint64(len(blob)) + memory.PageSize - 1) &^ (memory.PageSize - 1)
	off, err := mf.Allocate(VvarSize + textLen)
	if err != nil {
		return nil, err
	}
	copy(mf.Slice(off+VvarSize, textLen), blob)
	v := &VDSO{
		mf: mf, off: off, textLen: textLen, page: page{mf.Slice(off, VvarSize)},
		useTSC: tscInvariant(), interval: RefreshInterval,
	}
	var res [numClocks]uint32
	for _, id := range publishedClocks {
		var ts unix.Timespec
		if err := unix.ClockGetres(int32(id), &ts); err == nil && ts.Nano() > 0 && ts.Nano() < 1<<31 {
			res[id] = uint32(ts.Nano())
		}
	}
	v.page.init(res, hostCPUMode())
	return v, nil
}

// VvarOffset is the memory-file offset of the vvar page (VvarSize bytes, mapped read-only
// just below the text).
func (v *VDSO) VvarOffset() uint64 { return v.off }

// TextOffset is the memory-file offset of the vDSO image; AT_SYSINFO_EHDR points at it.
func (v *VDSO) TextOffset() uint64 { return v.off + VvarSize }

// TextLength is the size of the vDSO image in whole pages.
func (v *VDSO) TextLength() uint64 { return v.textLen }

// UsesTSC reports whether the vDSO computes time itself (else every call is a syscall).
func (v *VDSO) UsesTSC() bool { return v.useTSC }

// Start starts the refresher; it does nothing if the TSC is not usable or it runs already.
func (v *VDSO) Start() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.useTSC || v.stop != nil {
		return
	}
	v.stop, v.done = make(chan struct{}), make(chan struct{})
	go v.run(v.stop, v.done)
}

// Stop stops the refresher and tells the vDSO to make syscalls from now on (the
// parameters would go stale).
func (v *VDSO) Stop() {
	v.mu.Lock()
	stop, done := v.stop, v.done
	v.stop, v.done = nil, nil
	v.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-done
}

// Release returns the pages to the memory file; the VDSO must be stopped, and address
// spaces that map it keep their own references.
func (v *VDSO) Release() {
	v.Stop()
	v.mf.DecRef(v.off, VvarSize+v.textLen)
}

func (v *VDSO) run(stop, done chan struct{}) {
	defer close(done)
	v.tk = timekeeper{}
	t := time.NewTimer(0)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			v.page.write(func(uint64) Params { return Params{} })
			return
		case <-t.C:
		}
		interval := v.interval
		if i < len(warmup) && warmup[i] < interval {
			interval = warmup[i]
		}
		s := takeSample()
		v.page.write(func(anchor uint64) Params { return v.tk.next(s, anchor, interval.Nanoseconds()) })
		t.Reset(interval)
	}
}

// Now returns clock id as the vDSO computes it at this instant; false when the vDSO would
// make the syscall instead (the clock is not published, or the TSC is not in use).
func (v *VDSO) Now(id int) (int64, bool) {
	p, tsc := v.page.read(true)
	return p.At(id, tsc)
}

// Params returns the published parameters.
func (v *VDSO) Params() Params {
	p, _ := v.page.read(false)
	return p
}
