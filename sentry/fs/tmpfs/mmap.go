package tmpfs

import (
	"runsc.dev/sentry/memory"
	"runsc.dev/sentry/mm"
)

// Shared mappings of a tmpfs file map its page cache (inode.cache, an mm.PageCache that
// exists while the file is mapped): memory-file pages holding a copy of the file's data,
// which read(2) prefers to the file's own pages and write(2) updates along with them.
// What mappings store reaches the file's pages on msync, munmap and fsync, and when the
// last mapping goes (then the cache is dropped). The inode's lock guards the cache.

// Mappable implements mm.MappableFile.
func (f *regularFile) Mappable() mm.Mappable { return f.inode }

// AddMapping implements mm.Mappable.
func (i *inode) AddMapping(ms mm.MappingSpace, writable bool) {
	i.mu.Lock()
	if i.cache == nil {
		i.cache = new(mm.PageCache)
	}
	i.cache.AddMapping(ms, writable)
	i.mu.Unlock()
}

// RemoveMapping implements mm.Mappable.
func (i *inode) RemoveMapping(ms mm.MappingSpace, writable bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cache == nil || !i.cache.RemoveMapping(ms, writable) {
		return
	}
	i.cache.WriteBack(0, ^uint64(0), uint64(i.size), i.writePageLocked)
	i.cache.Release()
	i.cache = nil
}

// Translate implements mm.Mappable.
func (i *inode) Translate(mf *memory.MemoryFile, off uint64, dst []uint64, write bool) (int, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cache == nil {
		i.cache = new(mm.PageCache)
	}
	return i.cache.Translate(mf, off, uint64(i.size), dst, write, i.readPageLocked)
}

// MarkDirty implements mm.Mappable.
func (i *inode) MarkDirty(off, n uint64) {
	i.mu.Lock()
	if i.cache != nil {
		i.cache.MarkDirty(off, n)
	}
	i.mu.Unlock()
}

// Sync implements mm.Mappable.
func (i *inode) Sync(off, n uint64) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cache == nil {
		return nil
	}
	return i.cache.WriteBack(off, n, uint64(i.size), i.writePageLocked)
}

// readPageLocked fills dst with the file's data at off (within one page).
func (i *inode) readPageLocked(dst []byte, off uint64) error {
	if pg := i.pages[int64(off/pageSize)]; pg != nil {
		in := off % pageSize
		copy(dst, pg[in:])
	}
	return nil
}

// writePageLocked stores src, the cached data at off (within one page), in the file's
// pages.
func (i *inode) writePageLocked(src []byte, off uint64) error {
	p := int64(off / pageSize)
	pg := i.pages[p]
	if pg == nil {
		if allZero(src) {
			return nil
		}
		if err := i.fs.charge(pageSize); err != nil {
			return err
		}
		if i.pages == nil {
			i.pages = make(map[int64]*[pageSize]byte)
		}
		pg = new([pageSize]byte)
		i.pages[p] = pg
	}
	copy(pg[off%pageSize:], src)
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// invalidateFrom drops the mappings' pages of the file from size on, after a truncation
// (called without the inode's lock: mm.MappingSpace.Invalidate takes the address
// space's).
func (i *inode) invalidateFrom(mappers []mm.MappingSpace, size int64) {
	from := (uint64(size) + pageSize - 1) &^ (pageSize - 1)
	mm.InvalidateAll(i, mappers, from, ^uint64(0))
}

// SyncCache implements vfs.CacheSyncer.
func (f *regularFile) SyncCache() error { return f.inode.Sync(0, ^uint64(0)) }
