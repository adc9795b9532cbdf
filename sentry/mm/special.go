package mm

import (
	"golang.org/x/sys/unix"

	"runsc.dev/platform"
)

// Special mappings map pages that already live in the memory file, owned by someone else
// and shared read-only by every address space: the vDSO's data page ([vvar]) and text
// ([vdso]). Such a vma (vma.special) is backed by the memory-file range starting at
// vma.off; it is never copied on write (it can never be written: its maximum permissions
// exclude writing) and never allocates. Its page-table entries hold one reference each,
// like any other: taken when the vma is first touched (populateSpecialLocked, which maps
// the whole vma at once), dropped by munmap, exec and exit as for other pages. Fork does
// not copy them; the child takes its own on first touch. The owner of the pages keeps its
// own reference, so they are never freed while it lives.

// SpecialMapping is one part of what MapSpecial maps.
type SpecialMapping struct {
	Offset uint64          // memory-file offset, page aligned
	Length uintptr         // page aligned, non-zero
	Perms  platform.Access // without Write; also the most mprotect may grant
	Name   string          // for /proc/PID/maps: "[vvar]", "[vdso]"
}

// MapSpecial maps parts back to back, the first at addr if that range is free (else where
// MMap would put a mapping without a hint), and returns the address of the first.
func (m *MemoryManager) MapSpecial(addr uintptr, parts ...SpecialMapping) (uintptr, error) {
	var total uintptr
	for _, p := range parts {
		if p.Length == 0 || p.Length%pageSize != 0 || p.Offset%pageSize != 0 || p.Perms.Write {
			return 0, unix.EINVAL
		}
		total += p.Length
	}
	if total == 0 {
		return 0, unix.EINVAL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	at, err := m.placeLocked(MMapOpts{Addr: addr &^ (pageSize - 1), Length: total})
	if err != nil {
		return 0, err
	}
	a := at
	for _, p := range parts {
		// Private, as Linux shows them ("r-xp"): harmless, since nothing can write them.
		m.insertLocked(&vma{
			start: a, end: a + p.Length, perms: p.Perms, maxPerms: p.Perms, private: true,
			special: true, off: p.Offset, name: p.Name,
		})
		a += p.Length
	}
	return at, nil
}

// populateSpecialLocked resolves a fault (or a sentry access) in the special vma v: every
// page of v not yet backed takes a reference to its memory-file page, and the whole vma is
// mapped with one platform call.
func (m *MemoryManager) populateSpecialLocked(v *vma) FaultResult {
	runStart, runOff := uintptr(0), uint64(0)
	flush := func(end uintptr) {
		if end > runStart {
			m.mf.IncRef(runOff, uint64(end-runStart))
		}
		runStart = 0
	}
	for a := v.start; a < v.end; a += pageSize {
		slot := m.pte(a, true)
		off := v.off + uint64(a-v.start)
		if *slot == 0 {
			if runStart == 0 {
				runStart, runOff = a, off
			}
		} else {
			flush(a)
		}
		*slot = off | pteMapped
	}
	flush(v.end)
	if err := m.as.MapFile(v.start, m.mf.FD(), v.off, uint64(v.end-v.start), v.perms); err != nil {
		for a := v.start; a < v.end; a += pageSize {
			*m.pte(a, true) &^= pteFlags
		}
		return FaultBusErr
	}
	return FaultResolved
}
