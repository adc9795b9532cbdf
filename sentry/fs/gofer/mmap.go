package gofer

import (
	"golang.org/x/sys/unix"

	"runsc.dev/sentry/memory"
	"runsc.dev/sentry/mm"
)

// Shared mappings of a gofer file map its page cache (inode.cache, an mm.PageCache that
// exists while the file is mapped): memory-file pages filled from the host file. read(2)
// overlays the cached pages on what it reads from the host fd, write(2) writes the host
// fd and the cached pages (under cmu, so that a write-back cannot interleave), and what
// mappings store is written back to the host file on msync, munmap, fsync and when the
// last mapping goes (then the cache is dropped). The cache reads and writes the host file
// through cfd, a duplicate of the fd of an open file that was mapped (a writable one once
// a writable open was mapped), kept until the inode is released.

// Mappable implements mm.MappableFile.
func (f *regularFile) Mappable() mm.Mappable {
	i := f.inode
	i.cmu.Lock()
	if i.cfd < 0 || (f.rw && !i.cfdRW) {
		if nfd, err := unix.FcntlInt(uintptr(f.fd), unix.F_DUPFD_CLOEXEC, 0); err == nil {
			if i.cfd >= 0 {
				unix.Close(i.cfd)
			}
			i.cfd, i.cfdRW = nfd, f.rw
		}
	}
	i.cmu.Unlock()
	return i
}

// SyncCache implements vfs.CacheSyncer.
func (f *regularFile) SyncCache() error {
	if !f.inode.cached.Load() {
		return nil
	}
	return f.inode.Sync(0, ^uint64(0))
}

// AddMapping implements mm.Mappable.
func (i *inode) AddMapping(ms mm.MappingSpace, writable bool) {
	i.cmu.Lock()
	if i.cache == nil {
		i.cache = new(mm.PageCache)
		i.cached.Store(true)
	}
	i.cache.AddMapping(ms, writable)
	i.cmu.Unlock()
}

// RemoveMapping implements mm.Mappable.
func (i *inode) RemoveMapping(ms mm.MappingSpace, writable bool) {
	i.cmu.Lock()
	defer i.cmu.Unlock()
	if i.cache == nil || !i.cache.RemoveMapping(ms, writable) {
		return
	}
	i.writeBackLocked(0, ^uint64(0))
	i.cache.Release()
	i.cache = nil
	i.cached.Store(false)
}

// sizeLocked is the host file's size.
func (i *inode) sizeLocked() (uint64, error) {
	var st unix.Stat_t
	if i.cfd < 0 || unix.Fstat(i.cfd, &st) != nil {
		return 0, unix.EIO
	}
	return uint64(st.Size), nil
}

// Translate implements mm.Mappable.
func (i *inode) Translate(mf *memory.MemoryFile, off uint64, dst []uint64, write bool) (int, error) {
	i.cmu.Lock()
	defer i.cmu.Unlock()
	if i.cache == nil {
		return 0, unix.EIO
	}
	size, err := i.sizeLocked()
	if err != nil {
		return 0, err
	}
	return i.cache.Translate(mf, off, size, dst, write, func(b []byte, off uint64) error {
		for len(b) > 0 {
			n, err := unix.Pread(i.cfd, b, int64(off))
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return unix.EIO
			}
			if n == 0 {
				return nil // the rest reads as zero
			}
			b, off = b[n:], off+uint64(n)
		}
		return nil
	})
}

// MarkDirty implements mm.Mappable.
func (i *inode) MarkDirty(off, n uint64) {
	i.cmu.Lock()
	if i.cache != nil {
		i.cache.MarkDirty(off, n)
	}
	i.cmu.Unlock()
}

// Sync implements mm.Mappable.
func (i *inode) Sync(off, n uint64) error {
	i.cmu.Lock()
	defer i.cmu.Unlock()
	return i.writeBackLocked(off, n)
}

// writeBackLocked writes the cache's dirty pages of [off, off+n) to the host file.
func (i *inode) writeBackLocked(off, n uint64) error {
	if i.cache == nil {
		return nil
	}
	size, err := i.sizeLocked()
	if err != nil {
		return err
	}
	err = i.cache.WriteBack(off, n, size, func(src []byte, off uint64) error {
		if !i.cfdRW {
			return unix.EBADF
		}
		for len(src) > 0 {
			n, err := unix.Pwrite(i.cfd, src, int64(off))
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return unix.EIO
			}
			src, off = src[n:], off+uint64(n)
		}
		return nil
	})
	i.stale.Store(true)
	return err
}

// truncateCache drops the cached pages beyond a new size and the mappings' pages of them.
func (i *inode) truncateCache(size uint64) {
	if !i.cached.Load() {
		return
	}
	i.cmu.Lock()
	var mappers []mm.MappingSpace
	if i.cache != nil {
		i.cache.Truncate(size)
		mappers = i.cache.Mappers()
	}
	i.cmu.Unlock()
	mm.InvalidateAll(i, mappers, (size+pageSize-1)&^(pageSize-1), ^uint64(0))
}

// zeroCache zeroes the cached data of [start, end) (fallocate's punch and zero ranges).
func (i *inode) zeroCache(start, end int64) {
	if !i.cached.Load() {
		return
	}
	i.cmu.Lock()
	if i.cache != nil {
		i.cache.Zero(start, end)
	}
	i.cmu.Unlock()
}

const pageSize = memory.PageSize
