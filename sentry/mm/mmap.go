package mm

import (
	"golang.org/x/sys/unix"

	"runsc.dev/platform"
)

// MMapOpts describe a new mapping. The syscall layer validates flags; MMap places it.
type MMapOpts struct {
	Addr      uintptr // hint, or the address with Fixed
	Length    uintptr // page aligned, non-zero
	Perms     platform.Access
	MaxPerms  platform.Access // what mprotect may later grant (file open mode)
	Private   bool
	Fixed     bool // replace whatever is at Addr
	NoReplace bool // with Fixed: EEXIST if anything is at Addr
	GrowsDown bool
	File      File // nil for anonymous memory; MMap takes a reference
	// Mappable is what a shared file mapping maps (the file's, from MappableFile); a
	// shared mapping without File or Mappable maps a new anonymous shared object.
	Mappable Mappable
	Offset   uint64
	Name     string
	Dev, Ino uint64
}

// MMap creates a mapping and returns its address.
func (m *MemoryManager) MMap(o MMapOpts) (uintptr, error) {
	if o.Length == 0 || o.Length%pageSize != 0 {
		return 0, unix.EINVAL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	addr, err := m.placeLocked(o)
	if err != nil {
		return 0, err
	}
	v := &vma{
		start: addr, end: addr + o.Length, perms: o.Perms, maxPerms: o.MaxPerms,
		private: o.Private, growsDown: o.GrowsDown, file: o.File, off: o.Offset,
		name: o.Name, dev: o.Dev, ino: o.Ino, mappable: o.Mappable,
	}
	if !o.Private && v.mappable == nil {
		if o.File != nil {
			return 0, unix.ENODEV
		}
		v.mappable, v.off = newAnonShared(), 0
	}
	if v.private {
		v.mappable = nil
	}
	m.vmaRefLocked(v)
	m.insertLocked(v)
	return addr, nil
}

// Populate makes the pages of [addr, addr+length) present, as MAP_POPULATE asks; errors
// (a page beyond the end of a file) end it quietly, as in Linux.
func (m *MemoryManager) Populate(addr, length uintptr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for a := pageDown(addr); a < addr+length; a += pageSize {
		i := m.findLocked(a)
		if i < 0 {
			return
		}
		v := m.vmas[i]
		if !v.perms.Read && !v.perms.Write && !v.perms.Execute {
			return
		}
		if *m.pte(a, true) == 0 && m.populateLocked(v, a) != FaultResolved {
			return
		}
	}
}

// placeLocked picks the address of a new mapping, unmapping what MAP_FIXED replaces.
func (m *MemoryManager) placeLocked(o MMapOpts) (uintptr, error) {
	l := m.layout
	if o.Fixed {
		if o.Addr%pageSize != 0 {
			return 0, unix.EINVAL
		}
		end := o.Addr + o.Length
		if end < o.Addr || end > l.MaxAddr {
			return 0, unix.ENOMEM
		}
		if o.Addr < l.MinAddr {
			return 0, unix.EPERM
		}
		if o.NoReplace {
			if m.overlapsLocked(o.Addr, end) {
				return 0, unix.EEXIST
			}
		} else {
			m.unmapLocked(o.Addr, end)
		}
		return o.Addr, nil
	}
	if o.Addr != 0 {
		a := pageDown(o.Addr)
		if end := a + o.Length; a >= l.MinAddr && end > a && end <= l.MaxAddr && !m.overlapsLocked(a, end) {
			return a, nil
		}
	}
	return m.findAvailableLocked(o.Length)
}

// findAvailableLocked finds a free range of length bytes, top-down from MmapBase, then
// anywhere above it.
func (m *MemoryManager) findAvailableLocked(length uintptr) (uintptr, error) {
	l := m.layout
	top := l.MmapBase
	for i := len(m.vmas) - 1; i >= -1; i-- {
		lo := l.MinAddr
		if i >= 0 {
			lo = m.vmas[i].end
		}
		if lo < top && top-lo >= length {
			return top - length, nil
		}
		if i >= 0 {
			top = min(top, m.vmas[i].start)
		}
	}
	// Bottom-up above the base.
	a := l.MmapBase
	for _, v := range m.vmas {
		if v.end <= a {
			continue
		}
		if v.start >= a+length {
			break
		}
		a = v.end
	}
	if a+length <= l.MaxAddr && a+length > a {
		return a, nil
	}
	return 0, unix.ENOMEM
}

func (m *MemoryManager) overlapsLocked(start, end uintptr) bool {
	for _, v := range m.vmas {
		if v.start < end && start < v.end {
			return true
		}
	}
	return false
}

func (m *MemoryManager) insertLocked(v *vma) {
	i := 0
	for i < len(m.vmas) && m.vmas[i].start < v.start {
		i++
	}
	m.vmas = append(m.vmas, nil)
	copy(m.vmas[i+1:], m.vmas[i:])
	m.vmas[i] = v
}

// splitLocked makes addr a vma boundary if it falls strictly inside one.
func (m *MemoryManager) splitLocked(addr uintptr) {
	i := m.findLocked(addr)
	if i < 0 || m.vmas[i].start == addr {
		return
	}
	v := m.vmas[i]
	n := *v
	n.start = addr
	if v.file != nil || v.special || v.mappable != nil {
		n.off += uint64(addr - v.start)
	}
	m.vmaRefLocked(&n)
	v.end = addr
	m.insertLocked(&n)
}

// unmapLocked removes every mapping in [start, end).
func (m *MemoryManager) unmapLocked(start, end uintptr) {
	m.splitLocked(start)
	m.splitLocked(end)
	kept := m.vmas[:0]
	var dropped bool
	for _, v := range m.vmas {
		if v.start >= start && v.end <= end {
			m.vmaUnrefLocked(v)
			dropped = true
			continue
		}
		kept = append(kept, v)
	}
	clear(m.vmas[len(kept):])
	m.vmas = kept
	if dropped {
		m.dropPagesLocked(start, end, true)
	}
}

// Munmap implements munmap(2) on the address space.
func (m *MemoryManager) Munmap(addr, length uintptr) error {
	if addr%pageSize != 0 || length == 0 {
		return unix.EINVAL
	}
	end, ok := pageUp(addr + length)
	if !ok || addr+length < addr || end > m.layout.MaxAddr {
		return unix.EINVAL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unmapLocked(addr, end)
	return nil
}

// Mprotect implements mprotect(2).
func (m *MemoryManager) Mprotect(addr, length uintptr, perms platform.Access, growsDown bool) error {
	if addr%pageSize != 0 {
		return unix.EINVAL
	}
	end, ok := pageUp(addr + length)
	if !ok || addr+length < addr {
		return unix.ENOMEM
	}
	if length == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// The whole range must be mapped, and every part must allow the new permissions.
	for a := addr; a < end; {
		i := m.findLocked(a)
		if i < 0 {
			return unix.ENOMEM
		}
		v := m.vmas[i]
		if (perms.Write && !v.maxPerms.Write) || (perms.Read && !v.maxPerms.Read) || (perms.Execute && !v.maxPerms.Execute) {
			return unix.EACCES
		}
		a = v.end
	}
	m.splitLocked(addr)
	m.splitLocked(end)
	for _, v := range m.vmas {
		if v.start >= addr && v.end <= end {
			v.perms = perms
		}
	}
	// Pages are mapped again, with the new permissions, when next touched.
	for a := addr; a < end; a += pageSize {
		if s := m.pte(a, false); s != nil {
			*s &^= pteFlags
		}
	}
	m.as.Unmap(addr, end-addr)
	return nil
}

// SetBrkStart sets the start (and current value) of the heap; the loader calls it.
func (m *MemoryManager) SetBrkStart(a uintptr) {
	m.mu.Lock()
	m.brkStart, m.brk = a, a
	m.mu.Unlock()
}

// Brk implements brk(2): it returns the new break, or the old one on failure.
func (m *MemoryManager) Brk(addr uintptr) uintptr {
	m.mu.Lock()
	defer m.mu.Unlock()
	if addr < m.brkStart {
		return m.brk
	}
	oldEnd, _ := pageUp(m.brk)
	newEnd, ok := pageUp(addr)
	if !ok || newEnd > m.layout.MaxAddr {
		return m.brk
	}
	switch {
	case newEnd > oldEnd:
		if m.overlapsLocked(oldEnd, newEnd) {
			return m.brk
		}
		// Extend the heap vma when it ends where the new part starts.
		if i := m.findLocked(oldEnd - 1); i >= 0 && m.vmas[i].name == "[heap]" && m.vmas[i].end == oldEnd {
			m.vmas[i].end = newEnd
		} else {
			m.insertLocked(&vma{start: oldEnd, end: newEnd, perms: platform.ReadWrite, maxPerms: platform.AnyAccess, private: true, name: "[heap]"})
		}
	case newEnd < oldEnd:
		m.unmapLocked(newEnd, oldEnd)
	}
	m.brk = addr
	return addr
}

// Madvise implements the advice that changes contents: MADV_DONTNEED and MADV_FREE drop
// the pages, which read back as zero (anonymous) or as the file's data (private file).
// Other valid advice is accepted and has no effect.
func (m *MemoryManager) Madvise(addr, length uintptr, advice int) error {
	if addr%pageSize != 0 {
		return unix.EINVAL
	}
	end, ok := pageUp(addr + length)
	if !ok || addr+length < addr {
		return unix.EINVAL
	}
	switch advice {
	case unix.MADV_NORMAL, unix.MADV_RANDOM, unix.MADV_SEQUENTIAL, unix.MADV_WILLNEED,
		unix.MADV_DONTNEED, unix.MADV_FREE, unix.MADV_DONTFORK, unix.MADV_DOFORK,
		unix.MADV_MERGEABLE, unix.MADV_UNMERGEABLE, unix.MADV_HUGEPAGE, unix.MADV_NOHUGEPAGE,
		unix.MADV_DONTDUMP, unix.MADV_DODUMP, unix.MADV_WIPEONFORK, unix.MADV_KEEPONFORK,
		unix.MADV_COLD, unix.MADV_PAGEOUT:
	default:
		return unix.EINVAL
	}
	if length == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch advice {
	case unix.MADV_DONTFORK, unix.MADV_DOFORK, unix.MADV_WIPEONFORK, unix.MADV_KEEPONFORK:
		return m.setForkAdviceLocked(addr, end, advice)
	}
	mapped := true
	for a := addr; a < end; {
		i := m.findLocked(a)
		if i < 0 {
			mapped = false
			// Skip to the next vma.
			next := end
			for _, v := range m.vmas {
				if v.start > a {
					next = min(next, v.start)
					break
				}
			}
			a = next
			continue
		}
		v := m.vmas[i]
		vEnd := min(v.end, end)
		if (advice == unix.MADV_DONTNEED || advice == unix.MADV_FREE) && v.private {
			m.dropPagesLocked(a, vEnd, true)
		}
		a = vEnd
	}
	if !mapped {
		return unix.ENOMEM
	}
	return nil
}

// setForkAdviceLocked applies the fork-time advice to the mappings in [addr, end),
// splitting those that straddle its ends. ENOMEM if part of the range is unmapped (the
// mapped parts still take the advice), EINVAL for MADV_WIPEONFORK on anything but
// private anonymous memory, as Linux.
func (m *MemoryManager) setForkAdviceLocked(addr, end uintptr, advice int) error {
	if advice == unix.MADV_WIPEONFORK {
		for _, v := range m.vmas {
			if v.start < end && addr < v.end && (!v.private || v.file != nil || v.special) {
				return unix.EINVAL
			}
		}
	}
	m.splitLocked(addr)
	m.splitLocked(end)
	covered := uintptr(0)
	for _, v := range m.vmas {
		if v.start < addr || v.end > end {
			continue
		}
		covered += v.end - v.start
		switch advice {
		case unix.MADV_DONTFORK:
			v.dontFork = true
		case unix.MADV_DOFORK:
			v.dontFork = false
		case unix.MADV_WIPEONFORK:
			v.wipeOnFork = true
		case unix.MADV_KEEPONFORK:
			v.wipeOnFork = false
		}
	}
	if covered != end-addr {
		return unix.ENOMEM
	}
	return nil
}

// Mremap flags.
const (
	MremapMaymove   = 1
	MremapFixed     = 2
	MremapDontunmap = 4
)

// Mremap implements mremap(2): shrink in place, grow in place when the following range is
// free, or move (MREMAP_MAYMOVE) the pages without copying them.
func (m *MemoryManager) Mremap(oldAddr, oldSize, newSize uintptr, flags int, newAddr uintptr) (uintptr, error) {
	if flags&^(MremapMaymove|MremapFixed|MremapDontunmap) != 0 || oldAddr%pageSize != 0 {
		return 0, unix.EINVAL
	}
	if flags&MremapFixed != 0 && flags&MremapMaymove == 0 || flags&MremapDontunmap != 0 && (flags&MremapMaymove == 0 || oldSize != newSize) {
		return 0, unix.EINVAL
	}
	oldSize, ok1 := pageUp(oldSize)
	newSize, ok2 := pageUp(newSize)
	if !ok1 || !ok2 || newSize == 0 {
		return 0, unix.EINVAL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.findLocked(oldAddr)
	if i < 0 {
		return 0, unix.EFAULT
	}
	v := m.vmas[i]
	if oldSize == 0 {
		// old_size 0 makes a second mapping of the same pages of a shared mapping.
		if v.mappable == nil || flags&MremapMaymove == 0 || flags&MremapDontunmap != 0 {
			return 0, unix.EINVAL
		}
		to := newAddr
		if flags&MremapFixed != 0 {
			m.unmapLocked(newAddr, newAddr+newSize)
		} else {
			var err error
			if to, err = m.findAvailableLocked(newSize); err != nil {
				return 0, err
			}
		}
		n := *v
		n.start, n.end = to, to+newSize
		n.off = v.off + uint64(oldAddr-v.start)
		m.vmaRefLocked(&n)
		m.insertLocked(&n)
		return to, nil
	}
	if oldAddr+oldSize > v.end {
		// The old range must lie in one mapping.
		return 0, unix.EFAULT
	}
	if v.special && newSize > oldSize {
		// Special mappings cannot grow (Linux: VM_DONTEXPAND); special.go.
		return 0, unix.EFAULT
	}
	if flags&MremapFixed != 0 {
		if newAddr%pageSize != 0 || newAddr < m.layout.MinAddr || newAddr+newSize > m.layout.MaxAddr || newAddr+newSize < newAddr {
			return 0, unix.EINVAL
		}
		if newAddr < oldAddr+oldSize && oldAddr < newAddr+newSize {
			return 0, unix.EINVAL
		}
		m.unmapLocked(newAddr, newAddr+newSize)
		return m.moveLocked(v, oldAddr, oldSize, newAddr, newSize, flags&MremapDontunmap != 0)
	}
	switch {
	case newSize <= oldSize:
		m.unmapLocked(oldAddr+newSize, oldAddr+oldSize)
		return oldAddr, nil
	case oldAddr+oldSize == v.end && !m.overlapsLocked(v.end, oldAddr+newSize) && oldAddr+newSize <= m.layout.MaxAddr:
		v.end = oldAddr + newSize
		return oldAddr, nil
	case flags&MremapMaymove == 0:
		return 0, unix.ENOMEM
	}
	to, err := m.findAvailableLocked(newSize)
	if err != nil {
		return 0, err
	}
	return m.moveLocked(v, oldAddr, oldSize, to, newSize, flags&MremapDontunmap != 0)
}

// moveLocked moves [oldAddr, oldAddr+oldSize) of v to newAddr with size newSize (new
// space beyond the old size is fresh).
func (m *MemoryManager) moveLocked(v *vma, oldAddr, oldSize, newAddr, newSize uintptr, keepOld bool) (uintptr, error) {
	n := *v
	n.start, n.end = newAddr, newAddr+newSize
	if v.file != nil || v.special || v.mappable != nil {
		n.off = v.off + uint64(oldAddr-v.start)
	}
	m.vmaRefLocked(&n)
	// Move page-table entries; the new range maps again on first touch.
	for a := uintptr(0); a < oldSize; a += pageSize {
		s := m.pte(oldAddr+a, false)
		if s == nil || *s == 0 {
			continue
		}
		*m.pte(newAddr+a, true) = *s &^ pteFlags
		*s = 0
	}
	m.as.Unmap(oldAddr, oldSize)
	if keepOld {
		// MREMAP_DONTUNMAP: the old range stays mapped, empty.
	} else {
		// The pages now belong to the new range: drop the old range's vma without
		// releasing them.
		m.splitLocked(oldAddr)
		m.splitLocked(oldAddr + oldSize)
		kept := m.vmas[:0]
		for _, o := range m.vmas {
			if o.start >= oldAddr && o.end <= oldAddr+oldSize {
				if o.mappable != nil {
					// The pages moved with the mapping: nothing to write back.
					o.mappable.RemoveMapping(m, o.maxPerms.Write)
				}
				if o.file != nil {
					o.file.DecRef()
				}
				continue
			}
			kept = append(kept, o)
		}
		clear(m.vmas[len(kept):])
		m.vmas = kept
	}
	m.insertLocked(&n)
	return newAddr, nil
}

// Mincore implements mincore(2): a byte per page, 1 if present.
func (m *MemoryManager) Mincore(addr, length uintptr) ([]byte, error) {
	if addr%pageSize != 0 {
		return nil, unix.EINVAL
	}
	end, ok := pageUp(addr + length)
	if !ok || addr+length < addr {
		return nil, unix.ENOMEM
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]byte, (end-addr)/pageSize)
	for a := addr; a < end; a += pageSize {
		if m.findLocked(a) < 0 {
			return nil, unix.ENOMEM
		}
		if s := m.pte(a, false); s != nil && *s != 0 {
			out[(a-addr)/pageSize] = 1
		}
	}
	return out, nil
}

// CheckMapped returns ENOMEM unless all of [addr, addr+length) is mapped (mlock, msync).
func (m *MemoryManager) CheckMapped(addr, length uintptr) error {
	end, ok := pageUp(addr + length)
	if !ok || addr+length < addr {
		return unix.ENOMEM
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for a := pageDown(addr); a < end; {
		i := m.findLocked(a)
		if i < 0 {
			return unix.ENOMEM
		}
		a = m.vmas[i].end
	}
	return nil
}
