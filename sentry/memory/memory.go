// Package memory owns the sentry's memory file: one memfd from which every page of
// application memory is allocated, mapped once into the sentry (so the sentry reads and
// writes application memory through its own view) and mapped by the platform into the
// application's address spaces. Pages are reference counted so that copy-on-write after
// fork can share them; freed pages are punched out of the file so host memory follows use.
//
// Lock order: MemoryFile.mu is a leaf lock.
package memory

import (
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

// PageSize is the host and application page size.
const PageSize = 4096

// DefaultSize is the size of the file's address range: sparse, so it costs nothing until
// pages are touched.
const DefaultSize = 64 << 30

// MemoryFile is the allocator over the memfd.
type MemoryFile struct {
	fd   int
	size uint64
	// view is the sentry's MAP_SHARED mapping of the whole file.
	view []byte

	mu sync.Mutex
	// free is the sorted list of free extents; extents never touch (they are coalesced).
	free []extent
	// refs counts references of allocated pages, in chunks allocated on demand.
	refs map[uint64]*[refChunkPages]uint32
	// used is the number of allocated pages.
	used uint64
}

type extent struct{ start, end uint64 } // byte offsets, page aligned, end exclusive

const refChunkPages = 512

// New creates a memory file of the given size (0 means DefaultSize).
func New(size uint64) (*MemoryFile, error) {
	if size == 0 {
		size = DefaultSize
	}
	fd, err := unix.MemfdCreate("runsc-memory", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating memory file: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sizing memory file: %w", err)
	}
	view, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mapping memory file: %w", err)
	}
	return &MemoryFile{
		fd:   fd,
		size: size,
		view: view,
		// Offset 0 is never handed out, so a zero offset can mean "none".
		free: []extent{{PageSize, size}},
		refs: make(map[uint64]*[refChunkPages]uint32),
	}, nil
}

// FD is the memfd, for the platform to map.
func (f *MemoryFile) FD() int { return f.fd }

// Slice returns the sentry's view of [off, off+n).
func (f *MemoryFile) Slice(off, n uint64) []byte { return f.view[off : off+n : off+n] }

// Allocate returns the offset of n contiguous fresh (zeroed) bytes, n a multiple of
// PageSize, each page with one reference.
func (f *MemoryFile) Allocate(n uint64) (uint64, error) {
	if n == 0 || n%PageSize != 0 {
		return 0, unix.EINVAL
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.free {
		e := &f.free[i]
		if e.end-e.start < n {
			continue
		}
		off := e.start
		e.start += n
		if e.start == e.end {
			f.free = append(f.free[:i], f.free[i+1:]...)
		}
		for p := off; p < off+n; p += PageSize {
			*f.ref(p) = 1
		}
		f.used += n / PageSize
		return off, nil
	}
	return 0, unix.ENOMEM
}

// ref returns the reference count slot of the page at off; f.mu must be held.
func (f *MemoryFile) ref(off uint64) *uint32 {
	page := off / PageSize
	c := f.refs[page/refChunkPages]
	if c == nil {
		c = new([refChunkPages]uint32)
		f.refs[page/refChunkPages] = c
	}
	return &c[page%refChunkPages]
}

// IncRef adds a reference to each page of [off, off+n).
func (f *MemoryFile) IncRef(off, n uint64) {
	f.mu.Lock()
	for p := off; p < off+n; p += PageSize {
		*f.ref(p)++
	}
	f.mu.Unlock()
}

// RefCount returns the reference count of the page at off.
func (f *MemoryFile) RefCount(off uint64) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.ref(off)
}

// DecRef drops a reference from each page of [off, off+n); pages reaching zero are freed
// and their memory returned to the host.
func (f *MemoryFile) DecRef(off, n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	runStart, runEnd := uint64(0), uint64(0)
	flush := func() {
		if runEnd > runStart {
			f.release(runStart, runEnd)
		}
		runStart, runEnd = 0, 0
	}
	for p := off; p < off+n; p += PageSize {
		r := f.ref(p)
		if *r == 0 {
			panic(fmt.Sprintf("memory: DecRef of free page %#x", p))
		}
		*r--
		if *r != 0 {
			continue
		}
		if runEnd != p {
			flush()
			runStart = p
		}
		runEnd = p + PageSize
	}
	flush()
}

// release frees [start, end); f.mu must be held.
func (f *MemoryFile) release(start, end uint64) {
	// Give the memory back so that freed pages read as zero when reused.
	if err := unix.Fallocate(f.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(start), int64(end-start)); err != nil {
		clear(f.view[start:end])
	}
	f.used -= (end - start) / PageSize
	i := sort.Search(len(f.free), func(i int) bool { return f.free[i].start >= end })
	// Coalesce with the neighbours.
	mergePrev := i > 0 && f.free[i-1].end == start
	mergeNext := i < len(f.free) && f.free[i].start == end
	switch {
	case mergePrev && mergeNext:
		f.free[i-1].end = f.free[i].end
		f.free = append(f.free[:i], f.free[i+1:]...)
	case mergePrev:
		f.free[i-1].end = end
	case mergeNext:
		f.free[i].start = start
	default:
		f.free = append(f.free, extent{})
		copy(f.free[i+1:], f.free[i:])
		f.free[i] = extent{start, end}
	}
}

// UsedBytes is the memory currently allocated to the application.
func (f *MemoryFile) UsedBytes() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.used * PageSize
}

// TotalBytes is the size of the file's range.
func (f *MemoryFile) TotalBytes() uint64 { return f.size }
