package mm

import (
	"sort"

	"runsc.dev/sentry/memory"
)

// PageCache is the building block of a Mappable: the memory-file pages that cache an
// object's data while it is mapped, which of them mappings may have written (dirty), and
// the address spaces mapping it. It has no lock of its own: its owner (a file) guards it
// with its lock, which it holds across every call.
//
// A file with a cache keeps it coherent with its own storage: read(2) overlays the cached
// pages on what it reads from storage (Overlay), write(2) writes storage and the cached
// pages (Update), truncation drops and zeroes cached pages (Truncate, then the owner
// invalidates the Mappers), and WriteBack copies dirty pages to storage.
type PageCache struct {
	mf *memory.MemoryFile
	// pages maps a page index of the object to its memory-file offset, with pcDirty.
	pages map[uint64]uint64
	// mappers counts the vmas of each address space that map the object; writable counts
	// the vmas that may be writable.
	mappers  map[MappingSpace]int
	writable int
}

const pcDirty = 1 // in PageCache.pages values: mappings may have written the page

// AddMapping records a vma of ms mapping the object.
func (c *PageCache) AddMapping(ms MappingSpace, writable bool) {
	if c.mappers == nil {
		c.mappers = make(map[MappingSpace]int)
	}
	c.mappers[ms]++
	if writable {
		c.writable++
	}
}

// RemoveMapping undoes AddMapping and reports whether it was the last mapping.
func (c *PageCache) RemoveMapping(ms MappingSpace, writable bool) bool {
	if c.mappers[ms]--; c.mappers[ms] <= 0 {
		delete(c.mappers, ms)
	}
	if writable {
		c.writable--
	}
	return len(c.mappers) == 0
}

// Mapped reports whether any vma maps the object.
func (c *PageCache) Mapped() bool { return len(c.mappers) > 0 }

// Mappers returns the address spaces that map the object.
func (c *PageCache) Mappers() []MappingSpace {
	out := make([]MappingSpace, 0, len(c.mappers))
	for ms := range c.mappers {
		out = append(out, ms)
	}
	return out
}

// Translate implements Mappable.Translate for an object of the given size: pages not yet
// cached are allocated and filled by fill (which reads the object's data at off into
// dst, the part of the page before the end of the object; nil leaves them zero).
func (c *PageCache) Translate(mf *memory.MemoryFile, off, size uint64, dst []uint64, write bool, fill func(dst []byte, off uint64) error) (int, error) {
	if c.mf == nil {
		c.mf = mf
	}
	if c.pages == nil {
		c.pages = make(map[uint64]uint64)
	}
	first := off / memory.PageSize
	n := 0
	for ; n < len(dst); n++ {
		p := first + uint64(n)
		if p*memory.PageSize >= size {
			break
		}
		e, ok := c.pages[p]
		if !ok {
			o, err := c.mf.Allocate(memory.PageSize)
			if err == nil && fill != nil {
				valid := min(memory.PageSize, size-p*memory.PageSize)
				if err = fill(c.mf.Slice(o, valid), p*memory.PageSize); err != nil {
					c.mf.DecRef(o, memory.PageSize)
				}
			}
			if err != nil {
				if n > 0 {
					break
				}
				return 0, err
			}
			e = o
		}
		if write {
			e |= pcDirty
		}
		c.pages[p] = e
		c.mf.IncRef(e&^pcDirty, memory.PageSize)
		dst[n] = e &^ pcDirty
	}
	return n, nil
}

// MarkDirty implements Mappable.MarkDirty.
func (c *PageCache) MarkDirty(off, n uint64) {
	for p := off / memory.PageSize; p*memory.PageSize < off+n; p++ {
		if e, ok := c.pages[p]; ok {
			c.pages[p] = e | pcDirty
		}
	}
}

// Cached reports whether any page is cached.
func (c *PageCache) Cached() bool { return len(c.pages) > 0 }

// forEach calls f for each cached page overlapping the object range [off, off+n), with
// the part of the page in the range and its object offset.
func (c *PageCache) forEach(off, n int64, f func(page []byte, at int64)) {
	if len(c.pages) == 0 || n <= 0 {
		return
	}
	for p := off / memory.PageSize; p*memory.PageSize < off+n; p++ {
		e, ok := c.pages[uint64(p)]
		if !ok {
			continue
		}
		ps := p * memory.PageSize
		lo, hi := max(off, ps), min(off+n, ps+memory.PageSize)
		f(c.mf.Slice((e&^pcDirty)+uint64(lo-ps), uint64(hi-lo)), lo)
	}
}

// copyVec copies between the object range starting at at and the buffers bufs, which
// hold the object range starting at off: toBufs copies page into bufs, else bufs into
// page.
func copyVec(bufs [][]byte, off int64, page []byte, at int64, toBufs bool) {
	skip := at - off
	for _, b := range bufs {
		if len(page) == 0 {
			return
		}
		if skip >= int64(len(b)) {
			skip -= int64(len(b))
			continue
		}
		b = b[skip:]
		skip = 0
		var k int
		if toBufs {
			k = copy(b, page)
		} else {
			k = copy(page, b)
		}
		page = page[k:]
	}
}

// Overlay copies the cached data of [off, off+n) over dst, which read(2) filled from
// storage with that range.
func (c *PageCache) Overlay(dst [][]byte, off, n int64) {
	c.forEach(off, n, func(page []byte, at int64) { copyVec(dst, off, page, at, true) })
}

// Update copies the first n bytes of src, written to storage at off by write(2), into the
// cached pages.
func (c *PageCache) Update(src [][]byte, off, n int64) {
	c.forEach(off, n, func(page []byte, at int64) { copyVec(src, off, page, at, false) })
}

// Zero zeroes the cached data of [start, end) (fallocate's punch and zero ranges).
func (c *PageCache) Zero(start, end int64) {
	c.forEach(start, end-start, func(page []byte, at int64) { clear(page) })
}

// Truncate drops the cached pages wholly beyond size and zeroes the rest of the last
// page. The owner then invalidates the mappers' pages from the rounded-up size on.
func (c *PageCache) Truncate(size uint64) {
	keep := (size + memory.PageSize - 1) / memory.PageSize
	for p, e := range c.pages {
		if p >= keep {
			c.mf.DecRef(e&^pcDirty, memory.PageSize)
			delete(c.pages, p)
		}
	}
	if size%memory.PageSize != 0 {
		if e, ok := c.pages[size/memory.PageSize]; ok {
			in := size % memory.PageSize
			clear(c.mf.Slice((e&^pcDirty)+in, memory.PageSize-in))
		}
	}
}

// WriteBack writes the dirty pages of [off, off+n) before size to storage with write
// (which gets the part of each page before size and its object offset). Pages stay dirty
// while a writable mapping may still store into them without a fault.
func (c *PageCache) WriteBack(off, n, size uint64, write func(src []byte, off uint64) error) error {
	var dirty []uint64
	for p, e := range c.pages {
		ps := p * memory.PageSize
		if e&pcDirty != 0 && ps < size && ps+memory.PageSize > off && ps < off+n {
			dirty = append(dirty, p)
		}
	}
	sort.Slice(dirty, func(i, j int) bool { return dirty[i] < dirty[j] })
	var firstErr error
	for _, p := range dirty {
		e := c.pages[p]
		ps := p * memory.PageSize
		if err := write(c.mf.Slice(e&^pcDirty, min(memory.PageSize, size-ps)), ps); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if c.writable == 0 {
			c.pages[p] = e &^ pcDirty
		}
	}
	return firstErr
}

// Release drops every cached page.
func (c *PageCache) Release() {
	for _, e := range c.pages {
		c.mf.DecRef(e&^pcDirty, memory.PageSize)
	}
	c.pages = nil
}
