package mm

import (
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/memory"
)

// Shared mappings. A MAP_SHARED mapping maps the pages of a Mappable: a file's page cache
// (tmpfs, gofer) or an anonymous shared memory object (MAP_SHARED|MAP_ANONYMOUS, shared
// /dev/zero). The Mappable owns memory-file pages, one per page of the object that
// someone touched; every mapping of the object (in any address space) maps those same
// pages, and the file's read(2) and write(2) use them too, so that a store through one
// mapping is seen at once by the others and by read(2), and write(2) by the mappings.
//
// References: a page-table entry of a shared vma holds one reference to its page, as for
// private memory; the Mappable holds one more while the page is cached. Each vma mapping
// a Mappable is registered with it (AddMapping/RemoveMapping), which lets the Mappable
// invalidate the pages that every address space maps (truncation) and drop its cache
// when the last mapping goes (after writing back what the mappings stored).
//
// Locks: mm calls AddMapping, RemoveMapping, Translate and MarkDirty with
// MemoryManager.mu held, so a Mappable takes its own lock after it and must never call
// Invalidate with that lock held: it collects the address spaces (Mappers) under its
// lock and invalidates after releasing it.

// Mappable is an object whose pages shared mappings map.
type Mappable interface {
	// AddMapping records one more vma of ms mapping the object; writable says the vma
	// may be made writable (its file was opened for writing).
	AddMapping(ms MappingSpace, writable bool)
	// RemoveMapping undoes one AddMapping. The last one writes back and drops the cache.
	RemoveMapping(ms MappingSpace, writable bool)
	// Translate fills dst with the memory-file offsets of the pages at the object offsets
	// off, off+PageSize, ..., stopping at the end of the object, and returns how many it
	// filled. Each page comes with one reference the caller owns. write says the caller
	// maps them writable: their data must be written back.
	Translate(mf *memory.MemoryFile, off uint64, dst []uint64, write bool) (int, error)
	// MarkDirty says the cached pages of [off, off+n) are mapped writable from now on.
	MarkDirty(off, n uint64)
	// Sync writes the data stored through mappings in [off, off+n) back to the object's
	// storage (msync, munmap, fsync).
	Sync(off, n uint64) error
}

// MappableFile is implemented by open files (vfs.FileImpl) that can be mapped shared.
type MappableFile interface {
	// Mappable returns the object behind the file: the same one for every open file
	// of the same inode.
	Mappable() Mappable
}

// MappingSpace is an address space that maps a Mappable: a *MemoryManager.
type MappingSpace interface {
	// Invalidate drops the pages of the mappings of mp that map the object range
	// [off, end): touching them again asks mp (and faults with SIGBUS beyond its end).
	Invalidate(mp Mappable, off, end uint64)
}

// Invalidate implements MappingSpace.
func (m *MemoryManager) Invalidate(mp Mappable, off, end uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.vmas {
		if v.mappable != mp {
			continue
		}
		vEnd := v.off + uint64(v.end-v.start)
		lo, hi := max(off, v.off), min(end, vEnd)
		if lo >= hi {
			continue
		}
		m.dropPagesLocked(v.start+uintptr(lo-v.off), v.start+uintptr(hi-v.off), true)
	}
}

// InvalidateAll calls Invalidate on each of mappers (a Mappable's helper).
func InvalidateAll(mp Mappable, mappers []MappingSpace, off, end uint64) {
	for _, ms := range mappers {
		ms.Invalidate(mp, off, end)
	}
}

// vmaRefLocked takes what a new vma v holds: a reference to its file, a registration
// with its Mappable.
func (m *MemoryManager) vmaRefLocked(v *vma) {
	if v.file != nil {
		v.file.IncRef()
	}
	if v.mappable != nil {
		v.mappable.AddMapping(m, v.maxPerms.Write)
	}
}

// vmaUnrefLocked releases what vma v holds, writing back what it stored into a file.
func (m *MemoryManager) vmaUnrefLocked(v *vma) {
	if v.mappable != nil {
		if v.maxPerms.Write {
			v.mappable.Sync(v.off, uint64(v.end-v.start))
		}
		v.mappable.RemoveMapping(m, v.maxPerms.Write)
	}
	if v.file != nil {
		v.file.DecRef()
	}
}

// populateSharedLocked resolves a fault (or a sentry access) at page in the shared vma v:
// it asks v's Mappable for the pages of a fault-around window of absent pages, and maps
// them. A page beyond the end of the object is SIGBUS.
func (m *MemoryManager) populateSharedLocked(v *vma, page uintptr) FaultResult {
	const window = fileFaultAround
	ws := page &^ (window*pageSize - 1)
	ws, we := max(ws, v.start), min(ws+window*pageSize, v.end)
	start, end := page, page+pageSize
	for start > ws && *m.pte(start-pageSize, true) == 0 {
		start -= pageSize
	}
	for end < we && *m.pte(end, true) == 0 {
		end += pageSize
	}
	var buf [window]uint64
	n, err := v.mappable.Translate(m.mf, v.off+uint64(start-v.start), buf[:(end-start)/pageSize], v.perms.Write)
	if err != nil {
		return FaultBusErr
	}
	if page >= start+uintptr(n)*pageSize {
		for _, off := range buf[:n] {
			m.mf.DecRef(off, pageSize)
		}
		return FaultBusErr
	}
	flags := uint64(pteMapped)
	if v.perms.Write {
		flags |= pteWritable
	}
	// Map runs of pages contiguous in the memory file with one call each. A page whose
	// mapping failed keeps its reference, unmapped; the fault is SIGBUS if it is the
	// faulting one.
	res := FaultResolved
	for i := 0; i < n; {
		j := i + 1
		for j < n && buf[j] == buf[j-1]+pageSize {
			j++
		}
		a := start + uintptr(i)*pageSize
		err := m.as.MapFile(a, m.mf.FD(), buf[i], uint64(j-i)*pageSize, v.perms)
		if err != nil && page >= a && page < a+uintptr(j-i)*pageSize {
			res = FaultBusErr
		}
		for k := i; k < j; k++ {
			if err != nil {
				*m.pte(a+uintptr(k-i)*pageSize, true) = buf[k]
			} else {
				*m.pte(a+uintptr(k-i)*pageSize, true) = buf[k] | flags
			}
		}
		i = j
	}
	return res
}

// markDirtyLocked tells v's Mappable that the page at page is about to be written
// through a mapping that was not writable when it was translated.
func (m *MemoryManager) markDirtyLocked(v *vma, page uintptr) {
	if v.mappable != nil && !v.private {
		v.mappable.MarkDirty(v.off+uint64(page-v.start), pageSize)
	}
}

// anonShared is the object behind MAP_SHARED|MAP_ANONYMOUS memory (and shared mappings
// of /dev/zero): zero-filled pages shared by every mapping of it, through fork too, freed
// with the last mapping. It has no end: mremap may grow its mappings.
type anonShared struct {
	mu sync.Mutex
	c  PageCache
}

func newAnonShared() *anonShared { return &anonShared{} }

// AddMapping implements Mappable.
func (s *anonShared) AddMapping(ms MappingSpace, writable bool) {
	s.mu.Lock()
	s.c.AddMapping(ms, writable)
	s.mu.Unlock()
}

// RemoveMapping implements Mappable.
func (s *anonShared) RemoveMapping(ms MappingSpace, writable bool) {
	s.mu.Lock()
	if s.c.RemoveMapping(ms, writable) {
		s.c.Release()
	}
	s.mu.Unlock()
}

// Translate implements Mappable.
func (s *anonShared) Translate(mf *memory.MemoryFile, off uint64, dst []uint64, write bool) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.Translate(mf, off, ^uint64(0), dst, false, nil)
}

// MarkDirty implements Mappable: there is nothing to write back.
func (s *anonShared) MarkDirty(off, n uint64) {}

// Sync implements Mappable: there is nothing to write back.
func (s *anonShared) Sync(off, n uint64) error { return nil }

// Msync implements msync(2) on [addr, addr+length) (addr page aligned): the data stored
// through shared file mappings in the range is written back when sync is set (MS_SYNC or
// MS_ASYNC: both write at once). ENOMEM if part of the range is unmapped; the mapped parts
// are still written back.
func (m *MemoryManager) Msync(addr, length uintptr, sync bool) error {
	end, ok := pageUp(addr + length)
	if !ok || addr+length < addr {
		return unix.ENOMEM
	}
	type part struct {
		mp     Mappable
		off, n uint64
	}
	var parts []part
	var err error
	m.mu.Lock()
	for a := addr; a < end; {
		i := m.findLocked(a)
		if i < 0 {
			err = unix.ENOMEM
			// On to the next vma.
			j := sort.Search(len(m.vmas), func(j int) bool { return m.vmas[j].start > a })
			if j == len(m.vmas) {
				break
			}
			a = m.vmas[j].start
			continue
		}
		v := m.vmas[i]
		vEnd := min(v.end, end)
		if v.mappable != nil && v.maxPerms.Write {
			parts = append(parts, part{v.mappable, v.off + uint64(a-v.start), uint64(vEnd - a)})
		}
		a = vEnd
	}
	m.mu.Unlock()
	if sync {
		for _, p := range parts {
			if e := p.mp.Sync(p.off, p.n); e != nil && err == nil {
				err = unix.EIO
			}
		}
	}
	return err
}
