package mm

import (
	"io"

	"golang.org/x/sys/unix"

	"runsc.dev/platform"
)

// FaultResult says how a fault ended.
type FaultResult int

// Fault results: resolved, or the signal and si_code the application gets.
const (
	FaultResolved FaultResult = iota
	FaultMapErr               // SIGSEGV, SEGV_MAPERR: no mapping
	FaultAccErr               // SIGSEGV, SEGV_ACCERR: the mapping forbids the access
	FaultBusErr               // SIGBUS, BUS_ADRERR: beyond the end of a file mapping
)

// HandleFault resolves an application page fault at addr. access is what the faulting
// instruction needed when known (trap.AccessKnown).
func (m *MemoryManager) HandleFault(addr uintptr, access platform.Access, known bool) FaultResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.findOrGrowLocked(addr)
	if i < 0 {
		return FaultMapErr
	}
	v := m.vmas[i]
	if !v.perms.Read && !v.perms.Write && !v.perms.Execute {
		return FaultAccErr
	}
	if known && ((access.Write && !v.perms.Write) || (access.Execute && !v.perms.Execute) || (access.Read && !v.perms.Read && !v.perms.Write)) {
		return FaultAccErr
	}
	page := pageDown(addr)
	e := *m.pte(page, true)
	if e == 0 {
		return m.populateLocked(v, page)
	}
	if e&pteMapped != 0 && (e&pteWritable != 0 || !v.perms.Write) {
		// Mapped with every permission the mapping allows: a real violation.
		return FaultAccErr
	}
	// Not mapped: map it, read-only if it is shared copy-on-write (unless the access is
	// known to be a write). Mapped read-only in a writable mapping: the access was a
	// write, so break the sharing.
	write := e&pteMapped != 0 || (known && access.Write)
	if _, err := m.makePresentLocked(v, page, write); err != nil {
		return FaultBusErr
	}
	return FaultResolved
}

// makePresentLocked maps an already backed page into the address space with the vma's
// permissions, first breaking copy-on-write sharing if write. It returns the page's
// memory-file offset.
func (m *MemoryManager) makePresentLocked(v *vma, page uintptr, write bool) (uint64, error) {
	slot := m.pte(page, true)
	off := *slot &^ pteFlags
	if write && v.private && m.mf.RefCount(off) > 1 {
		n, err := m.mf.Allocate(pageSize)
		if err != nil {
			return 0, unix.ENOMEM
		}
		copy(m.mf.Slice(n, pageSize), m.mf.Slice(off, pageSize))
		m.mf.DecRef(off, pageSize)
		off = n
	}
	perms := v.perms
	writable := perms.Write && (!v.private || m.mf.RefCount(off) == 1)
	perms.Write = writable
	if writable && v.mappable != nil {
		m.markDirtyLocked(v, page)
	}
	if err := m.as.MapFile(page, m.mf.FD(), off, pageSize, perms); err != nil {
		*slot = off
		return 0, err
	}
	*slot = off | pteMapped
	if writable {
		*slot |= pteWritable
	}
	return off, nil
}

// populateLocked allocates backing for the absent page at page and for absent neighbours
// in the fault-around window, fills it (zero, or file data), and maps it.
func (m *MemoryManager) populateLocked(v *vma, page uintptr) FaultResult {
	if v.special {
		return m.populateSpecialLocked(v) // special.go
	}
	if v.mappable != nil {
		return m.populateSharedLocked(v, page) // mappable.go
	}
	window := uintptr(anonFaultAround)
	if v.file != nil {
		window = fileFaultAround
	}
	ws := page &^ (window*pageSize - 1)
	we := ws + window*pageSize
	ws, we = max(ws, v.start), min(we, v.end)
	start, end := page, page+pageSize
	for start > ws && *m.pte(start-pageSize, true) == 0 {
		start -= pageSize
	}
	for end < we && *m.pte(end, true) == 0 {
		end += pageSize
	}
	n := uint64(end - start)
	off, err := m.mf.Allocate(n)
	if err != nil {
		// Fall back to the single page.
		start, end, n = page, page+pageSize, pageSize
		if off, err = m.mf.Allocate(n); err != nil {
			return FaultBusErr
		}
	}
	if v.file != nil {
		buf := m.mf.Slice(off, n)
		fileOff := v.off + uint64(start-v.start)
		got, err := v.file.ReadAt(buf, int64(fileOff))
		if err != nil && err != io.EOF && got == 0 {
			m.mf.DecRef(off, n)
			return FaultBusErr
		}
		// Pages wholly beyond the end of the file are not mapped: touching them is SIGBUS.
		valid := (uint64(got) + pageSize - 1) &^ (pageSize - 1)
		if uint64(page-start) >= valid {
			m.mf.DecRef(off, n)
			return FaultBusErr
		}
		if valid < n {
			m.mf.DecRef(off+valid, n-valid)
			n = valid
			end = start + uintptr(n)
		}
	}
	flags := uint64(pteMapped)
	if v.perms.Write {
		flags |= pteWritable
	}
	for a, o := start, off; a < end; a, o = a+pageSize, o+pageSize {
		*m.pte(a, true) = o | flags
	}
	if err := m.as.MapFile(start, m.mf.FD(), off, n, v.perms); err != nil {
		for a := start; a < end; a += pageSize {
			*m.pte(a, true) &^= pteFlags
		}
		return FaultBusErr
	}
	return FaultResolved
}

// translateLocked returns the memory-file offset backing the page at page for a sentry
// access (a copy in or out), populating it and breaking copy-on-write as needed.
func (m *MemoryManager) translateLocked(page uintptr, write bool) (uint64, error) {
	i := m.findOrGrowLocked(page)
	if i < 0 {
		return 0, errFault
	}
	v := m.vmas[i]
	if write && !v.perms.Write || !write && !v.perms.Read && !v.perms.Write {
		return 0, errFault
	}
	e := *m.pte(page, true)
	if e == 0 {
		if m.populateLocked(v, page) != FaultResolved {
			return 0, errFault
		}
		e = *m.pte(page, true)
	}
	if write && e&pteWritable == 0 && v.private {
		off, err := m.makePresentLocked(v, page, true)
		if err != nil {
			return 0, errFault
		}
		return off, nil
	}
	if write && e&pteWritable == 0 {
		m.markDirtyLocked(v, page)
	}
	return e &^ pteFlags, nil
}

// Remap maps again the page at addr, as the page table says it is mapped, and reports
// whether it did. A fault that HandleFault calls an access error can be stale: another
// thread of the address space may have mapped the page (or broken its copy-on-write
// sharing) between the host fault and its handling, and the platform cannot always say
// which access faulted. The caller remaps once and lets the thread retry; a second
// fault at the same address is then a real violation.
func (m *MemoryManager) Remap(addr uintptr) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.findLocked(addr)
	if i < 0 {
		return false
	}
	v := m.vmas[i]
	page := pageDown(addr)
	slot := m.pte(page, false)
	if slot == nil || *slot&pteMapped == 0 {
		return false
	}
	perms := v.perms
	perms.Write = *slot&pteWritable != 0
	return m.as.MapFile(page, m.mf.FD(), *slot&^pteFlags, pageSize, perms) == nil
}
