package tmpfs

import (
	"math"
	"sort"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel/auth"
	"runsc.dev/sentry/vfs"
)

// regularFile is an open regular file.
type regularFile struct {
	vfs.NoFileOps
	inode *inode
}

// Release implements vfs.FileImpl.Release.
func (f *regularFile) Release() {
	i := f.inode
	i.mu.Lock()
	i.opens--
	i.freeIfUnusedLocked()
	i.mu.Unlock()
}

// Read implements vfs.FileImpl.Read.
func (f *regularFile) Read(ctx vfs.Context, dst [][]byte, off int64) (int64, error) {
	i := f.inode
	i.mu.RLock()
	defer i.mu.RUnlock()
	n, err := i.readLocked(dst, off)
	if i.cache != nil {
		// Mappings may have stored into the cached pages.
		i.cache.Overlay(dst, off, n)
	}
	return n, err
}

func (i *inode) readLocked(dst [][]byte, off int64) (int64, error) {
	var done int64
	for _, b := range dst {
		for len(b) > 0 {
			pos := off + done
			if pos >= i.size {
				return done, nil
			}
			n := int64(len(b))
			if rem := i.size - pos; n > rem {
				n = rem
			}
			pi, po := pos/pageSize, pos%pageSize
			if n > pageSize-po {
				n = pageSize - po
			}
			if pg := i.pages[pi]; pg != nil {
				copy(b[:n], pg[po:po+n])
			} else {
				clear(b[:n])
			}
			b = b[n:]
			done += n
		}
	}
	return done, nil
}

// Write implements vfs.FileImpl.Write.
func (f *regularFile) Write(ctx vfs.Context, src [][]byte, off int64, appendMode bool) (int64, int64, error) {
	i := f.inode
	i.mu.Lock()
	defer i.mu.Unlock()
	if appendMode {
		off = i.size
	}
	var total int64
	for _, b := range src {
		total += int64(len(b))
	}
	if total == 0 {
		return 0, off, nil
	}
	if off > math.MaxInt64-total {
		if off == math.MaxInt64 {
			return 0, off, unix.EFBIG
		}
		total = math.MaxInt64 - off
	}
	if i.pages == nil {
		i.pages = make(map[int64]*[pageSize]byte)
	}
	var done int64
	var err error
	for _, b := range src {
		for len(b) > 0 && done < total {
			pos := off + done
			pi, po := pos/pageSize, pos%pageSize
			n := int64(len(b))
			if n > pageSize-po {
				n = pageSize - po
			}
			if n > total-done {
				n = total - done
			}
			pg := i.pages[pi]
			if pg == nil {
				if err = i.fs.charge(pageSize); err != nil {
					break
				}
				pg = new([pageSize]byte)
				i.pages[pi] = pg
			}
			copy(pg[po:po+n], b[:n])
			b = b[n:]
			done += n
		}
		if err != nil {
			break
		}
	}
	if end := off + done; end > i.size {
		i.size = end
	}
	if i.cache != nil {
		i.cache.Update(src, off, done)
	}
	if done > 0 {
		now := vfs.Now()
		i.mtime, i.ctime = now, now
		// A write by anyone clears the set-user-ID bit (and set-group-ID with group
		// execute), as Linux's file_remove_privs does for callers without CAP_FSETID.
		if i.perm&unix.S_ISUID != 0 || i.perm&(unix.S_ISGID|unix.S_IXGRP) == unix.S_ISGID|unix.S_IXGRP {
			if ctx == nil || !ctx.Credentials().HasCapability(auth.CapFsetid) {
				i.perm &^= unix.S_ISUID
				if i.perm&unix.S_IXGRP != 0 {
					i.perm &^= unix.S_ISGID
				}
			}
		}
		return done, off + done, nil
	}
	return 0, off, err
}

// Seek implements vfs.FileImpl.Seek.
func (f *regularFile) Seek(ctx vfs.Context, cur, offset int64, whence int) (int64, error) {
	f.inode.mu.RLock()
	size := f.inode.size
	f.inode.mu.RUnlock()
	return vfs.GenericSeek(cur, offset, whence, size)
}

// dirFile is an open directory.
type dirFile struct {
	vfs.DirFileOps
	inode *inode
}

// Getdents implements vfs.FileImpl.Getdents. Offsets 0 and 1 are "." and ".."; each
// entry has a position given when it was added, so removals never disturb a listing in
// progress.
func (f *dirFile) Getdents(ctx vfs.Context, off int64, emit func(vfs.Dirent) bool) (int64, error) {
	i := f.inode
	i.mu.RLock()
	defer i.mu.RUnlock()
	if off == 0 {
		if !emit(vfs.Dirent{Name: ".", Ino: i.ino, Type: unix.DT_DIR, NextOff: 1}) {
			return off, nil
		}
		off = 1
	}
	if off == 1 {
		p := i.parent.Load()
		if p == nil {
			p = i
		}
		if !emit(vfs.Dirent{Name: "..", Ino: p.ino, Type: unix.DT_DIR, NextOff: 2}) {
			return off, nil
		}
		off = 2
	}
	k := sort.Search(len(i.order), func(k int) bool { return i.order[k].pos >= off })
	for ; k < len(i.order); k++ {
		e := i.order[k]
		d := vfs.Dirent{Name: e.name, Ino: e.inode.ino, Type: vfs.DirentType(e.inode.typ), NextOff: e.pos + 1}
		if !emit(d) {
			return off, nil
		}
		off = e.pos + 1
	}
	return off, nil
}

// Allocate implements vfs.Allocator: pages are allocated (charged against the size
// limit), zeroed or released as the mode says; collapsing and inserting ranges is not
// supported (EOPNOTSUPP, as Linux's tmpfs).
func (f *regularFile) Allocate(ctx vfs.Context, mode uint32, off, length int64) error {
	const (
		keepSize  = 0x01
		punchHole = 0x02
		zeroRange = 0x10
	)
	if mode&^(keepSize|punchHole|zeroRange) != 0 {
		return unix.EOPNOTSUPP
	}
	i := f.inode
	i.mu.Lock()
	defer i.mu.Unlock()
	end := off + length
	if mode&punchHole != 0 {
		i.zeroLocked(off, min(end, i.size), true)
	} else {
		if mode&zeroRange != 0 {
			i.zeroLocked(off, min(end, i.size), false)
		}
		if i.pages == nil {
			i.pages = make(map[int64]*[pageSize]byte)
		}
		for p := off / pageSize; p*pageSize < end; p++ {
			if i.pages[p] != nil {
				continue
			}
			if err := i.fs.charge(pageSize); err != nil {
				return err
			}
			i.pages[p] = new([pageSize]byte)
		}
		if mode&keepSize == 0 && end > i.size {
			i.size = end
		}
	}
	now := vfs.Now()
	i.mtime, i.ctime = now, now
	return nil
}

// zeroLocked zeroes [start, end): whole pages are released if release is set, else
// cleared.
func (i *inode) zeroLocked(start, end int64, release bool) {
	if i.cache != nil {
		i.cache.Zero(start, end)
	}
	for p := start / pageSize; p*pageSize < end; p++ {
		pg := i.pages[p]
		if pg == nil {
			continue
		}
		ps, pe := p*pageSize, (p+1)*pageSize
		if release && start <= ps && pe <= end {
			delete(i.pages, p)
			i.fs.charge(-pageSize)
			continue
		}
		clear(pg[max(start, ps)-ps : min(end, pe)-ps])
	}
}
