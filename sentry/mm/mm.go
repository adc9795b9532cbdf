// Package mm owns application address spaces: the list of VMAs (what the application
// mapped, with which permissions, backed by what), the page table that says which page of
// the memory file backs each present application page, page-fault resolution (allocation,
// file reads for private file mappings, copy-on-write), and the sentry's access to
// application memory (CopyIn/CopyOut/Blocks) through its own mapping of the memory file,
// never through the platform.
//
// Lock order: MemoryManager.mu, then a Mappable's lock (a file's, for shared mappings:
// mappable.go), then memory.MemoryFile.mu. File reads for private file mappings, and a
// Mappable's reads and write-backs, happen with MemoryManager.mu held.
package mm

import (
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/platform"
	"runsc.dev/sentry/memory"
)

const (
	pageSize  = memory.PageSize
	pageShift = 12
	// chunkShift: the page table is a map of chunks of 512 pages (2 MiB of address space).
	chunkShift = 21
	chunkPages = 1 << (chunkShift - pageShift)

	// Page-table entries are memory-file offsets (page aligned) with flags in the low bits.
	pteMapped   = 1 << 0 // mapped into the platform address space
	pteWritable = 1 << 1 // mapped writable
	pteFlags    = pteMapped | pteWritable

	// Fault-around windows: anonymous memory costs nothing until the application touches
	// it (the host allocates memory-file pages lazily), so map generously; private file
	// pages must be read in, so map less.
	anonFaultAround = 128 // pages
	fileFaultAround = 16
)

// File is what a private file mapping needs of its file.
type File interface {
	// ReadAt reads as io.ReaderAt does; a short read means end of file.
	ReadAt(p []byte, off int64) (int, error)
	IncRef()
	DecRef()
}

// vma is one mapping.
type vma struct {
	start, end uintptr
	perms      platform.Access
	maxPerms   platform.Access
	private    bool
	growsDown  bool
	// dontFork (MADV_DONTFORK): a child of fork does not get the mapping; wipeOnFork
	// (MADV_WIPEONFORK): it gets the mapping empty (zero pages).
	dontFork, wipeOnFork bool
	file                 File // nil for anonymous memory
	// mappable, for a shared mapping, is the object whose pages it maps (mappable.go);
	// off is then the object offset of start.
	mappable Mappable
	off      uint64 // file offset of start
	name     string // for /proc/PID/maps: a path, [heap], [stack], or ""
	dev, ino uint64
	// special: the pages are the memory file's at off, shared read-only (special.go).
	special bool
}

// MemoryManager is one application address space.
type MemoryManager struct {
	mf *memory.MemoryFile
	p  platform.Platform

	mu   sync.Mutex
	as   platform.AddressSpace
	vmas []*vma // sorted by start, non-overlapping
	pt   map[uintptr]*[chunkPages]uint64
	// users counts tasks using this address space (CLONE_VM shares it).
	users int

	layout Layout
	// stackLimit bounds the size of a MAP_GROWSDOWN mapping grown by faults
	// (RLIMIT_STACK; ^0 for none).
	stackLimit uint64
	brkStart   uintptr
	brk        uintptr

	// Ranges of the initial stack holding argv and envp, for /proc/PID/cmdline and environ.
	ArgvStart, ArgvEnd, EnvStart, EnvEnd uintptr
	// Auxv is the auxiliary vector given at exec, for /proc/PID/auxv.
	Auxv []uint64
}

// Layout says where things go in a fresh address space.
type Layout struct {
	MinAddr, MaxAddr uintptr
	StackTop         uintptr // highest stack address (exclusive)
	MmapBase         uintptr // top-down mmap allocation starts below this
}

// New creates an empty address space with the given layout.
func New(mf *memory.MemoryFile, p platform.Platform, l Layout) (*MemoryManager, error) {
	as, err := p.NewAddressSpace()
	if err != nil {
		return nil, err
	}
	return &MemoryManager{mf: mf, p: p, as: as, pt: make(map[uintptr]*[chunkPages]uint64), layout: l, users: 1, stackLimit: ^uint64(0)}, nil
}

// AddressSpace is the platform address space, for Context.Switch.
func (m *MemoryManager) AddressSpace() platform.AddressSpace { return m.as }

// Layout returns the address-space layout.
func (m *MemoryManager) Layout() Layout { return m.layout }

// IncUsers records another task sharing this address space.
func (m *MemoryManager) IncUsers() {
	m.mu.Lock()
	m.users++
	m.mu.Unlock()
}

// DecUsers drops a user; the last one releases every page and the platform address space.
func (m *MemoryManager) DecUsers() {
	m.mu.Lock()
	m.users--
	last := m.users == 0
	m.mu.Unlock()
	if !last {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.vmas {
		m.vmaUnrefLocked(v)
		m.dropPagesLocked(v.start, v.end, false)
	}
	m.vmas = nil
	m.as.Release()
}

// findLocked returns the index of the vma containing addr, or -1.
func (m *MemoryManager) findLocked(addr uintptr) int {
	i := sort.Search(len(m.vmas), func(i int) bool { return m.vmas[i].end > addr })
	if i < len(m.vmas) && m.vmas[i].start <= addr {
		return i
	}
	return -1
}

// pte returns the page-table slot for addr, creating its chunk if create.
func (m *MemoryManager) pte(addr uintptr, create bool) *uint64 {
	c := m.pt[addr>>chunkShift]
	if c == nil {
		if !create {
			return nil
		}
		c = new([chunkPages]uint64)
		m.pt[addr>>chunkShift] = c
	}
	return &c[(addr>>pageShift)&(chunkPages-1)]
}

// dropPagesLocked releases the pages backing [start, end) and, if unmap, removes them
// from the platform address space.
func (m *MemoryManager) dropPagesLocked(start, end uintptr, unmap bool) {
	runOff, runLen := uint64(0), uint64(0)
	for a := start; a < end; {
		c := m.pt[a>>chunkShift]
		if c == nil {
			a = (a>>chunkShift + 1) << chunkShift
			continue
		}
		idx := (a >> pageShift) & (chunkPages - 1)
		if e := c[idx]; e != 0 {
			off := e &^ pteFlags
			if runLen != 0 && runOff+runLen == off {
				runLen += pageSize
			} else {
				if runLen != 0 {
					m.mf.DecRef(runOff, runLen)
				}
				runOff, runLen = off, pageSize
			}
			c[idx] = 0
		}
		a += pageSize
	}
	if runLen != 0 {
		m.mf.DecRef(runOff, runLen)
	}
	if unmap {
		m.as.Unmap(start, end-start)
	}
}

// VMAInfo describes a mapping for /proc/PID/maps.
type VMAInfo struct {
	Start, End uintptr
	Perms      platform.Access
	Private    bool
	Offset     uint64
	Dev, Ino   uint64
	Name       string
}

// VMAs returns the mappings in address order.
func (m *MemoryManager) VMAs() []VMAInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]VMAInfo, 0, len(m.vmas))
	for _, v := range m.vmas {
		out = append(out, VMAInfo{v.start, v.end, v.perms, v.private, v.off, v.dev, v.ino, v.name})
	}
	return out
}

// ResidentBytes is the number of bytes of present pages.
func (m *MemoryManager) ResidentBytes() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n uint64
	for _, c := range m.pt {
		for _, e := range c {
			if e != 0 {
				n += pageSize
			}
		}
	}
	return n
}

// VirtualBytes is the total size of the mappings.
func (m *MemoryManager) VirtualBytes() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n uint64
	for _, v := range m.vmas {
		n += uint64(v.end - v.start)
	}
	return n
}

func pageDown(a uintptr) uintptr { return a &^ (pageSize - 1) }

// pageUp rounds up; ok is false on overflow.
func pageUp(a uintptr) (uintptr, bool) {
	r := (a + pageSize - 1) &^ (pageSize - 1)
	return r, r >= a
}

var errFault = unix.EFAULT
