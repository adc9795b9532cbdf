package vfs

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// DefaultNOFILE is the RLIMIT_NOFILE soft limit a new table starts with.
const DefaultNOFILE = 1024

// MaxNOFILE is the largest limit a table accepts (Linux's fs.nr_open default).
const MaxNOFILE = 1 << 20

type fdEntry struct {
	file    *FileDescription
	cloexec bool
}

// fdSlots is one published generation of the table's slots. Readers load it and a slot
// without locking; writers hold FDTable.mu and publish a new, larger generation (copying
// the slot values) when the table grows.
type fdSlots []atomic.Pointer[fdEntry]

// FDTable maps file descriptors to file descriptions with their FD_CLOEXEC flag. It is
// shared by the threads of a process (and by processes created with CLONE_FILES). Get,
// the hot path, takes no lock.
type FDTable struct {
	slots atomic.Pointer[fdSlots]

	mu    sync.Mutex // serializes changes
	limit int        // RLIMIT_NOFILE soft limit: fds must be below it
	next  int        // no free fd below next
}

// NewFDTable returns an empty table with the default limit.
func NewFDTable() *FDTable {
	t := &FDTable{limit: DefaultNOFILE}
	t.slots.Store(&fdSlots{})
	return t
}

// SetLimit sets the RLIMIT_NOFILE soft limit used for new descriptors.
func (t *FDTable) SetLimit(n uint64) {
	if n > MaxNOFILE {
		n = MaxNOFILE
	}
	t.mu.Lock()
	t.limit = int(n)
	t.mu.Unlock()
}

// Limit returns the RLIMIT_NOFILE soft limit.
func (t *FDTable) Limit() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.limit
}

// entryLocked returns the entry at fd (t.mu held), or nil.
func (t *FDTable) entryLocked(fd int) *fdEntry {
	s := *t.slots.Load()
	if fd < 0 || fd >= len(s) {
		return nil
	}
	return s[fd].Load()
}

// setLocked stores e at fd (t.mu held), growing the table as needed.
func (t *FDTable) setLocked(fd int, e *fdEntry) {
	s := *t.slots.Load()
	if fd >= len(s) {
		n := 16
		for n <= fd {
			n *= 2
		}
		ns := make(fdSlots, n)
		for i := range s {
			ns[i].Store(s[i].Load())
		}
		t.slots.Store(&ns)
		s = ns
	}
	s[fd].Store(e)
}

// NewFD installs f at the lowest free descriptor not below minFD, taking a reference.
// EMFILE if none is free below the limit; EINVAL if minFD is negative or at least the
// limit (as F_DUPFD).
func (t *FDTable) NewFD(minFD int32, f *FileDescription, cloexec bool) (int32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if minFD < 0 || int(minFD) >= t.limit {
		return -1, unix.EINVAL
	}
	fd := int(minFD)
	if fd < t.next {
		fd = t.next
	}
	for fd < t.limit && t.entryLocked(fd) != nil {
		fd++
	}
	if fd >= t.limit {
		return -1, unix.EMFILE
	}
	f.IncRef()
	t.setLocked(fd, &fdEntry{file: f, cloexec: cloexec})
	if int(minFD) <= t.next {
		t.next = fd + 1
	}
	return int32(fd), nil
}

// NewFDAt installs f at fd (closing what was there), taking a reference. EBADF if fd is
// negative or not below the limit.
func (t *FDTable) NewFDAt(fd int32, f *FileDescription, cloexec bool) error {
	t.mu.Lock()
	if fd < 0 || int(fd) >= t.limit {
		t.mu.Unlock()
		return unix.EBADF
	}
	old := t.entryLocked(int(fd))
	f.IncRef()
	t.setLocked(int(fd), &fdEntry{file: f, cloexec: cloexec})
	t.mu.Unlock()
	if old != nil {
		t.dropFile(old.file)
	}
	return nil
}

// dropFile drops the table's reference to a file whose descriptor was closed, after
// releasing the POSIX locks the table holds on its inode (closing any descriptor of a
// file releases them all, as on Linux).
func (t *FDTable) dropFile(f *FileDescription) {
	if locks.count.Load() != 0 {
		releaseOwnerLocks(f.Inode(), t)
	}
	f.DecRef()
}

// Get returns the file at fd with a reference the caller drops, and its FD_CLOEXEC flag.
func (t *FDTable) Get(fd int32) (*FileDescription, bool, error) {
	for {
		s := *t.slots.Load()
		if fd < 0 || int(fd) >= len(s) {
			return nil, false, unix.EBADF
		}
		e := s[fd].Load()
		if e == nil {
			return nil, false, unix.EBADF
		}
		if e.file.TryIncRef() {
			return e.file, e.cloexec, nil
		}
		// Closed under us: look again (it is gone, or replaced by dup2).
		if s2 := *t.slots.Load(); int(fd) < len(s2) && s2[fd].Load() == e {
			return nil, false, unix.EBADF
		}
	}
}

// SetCloexec sets or clears fd's FD_CLOEXEC flag.
func (t *FDTable) SetCloexec(fd int32, cloexec bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entryLocked(int(fd))
	if e == nil {
		return unix.EBADF
	}
	t.setLocked(int(fd), &fdEntry{file: e.file, cloexec: cloexec})
	return nil
}

// Remove closes fd, returning its file (whose table reference the caller drops; Close
// also releases the table's POSIX locks on it).
func (t *FDTable) Remove(fd int32) (*FileDescription, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entryLocked(int(fd))
	if e == nil {
		return nil, unix.EBADF
	}
	t.setLocked(int(fd), nil)
	if int(fd) < t.next {
		t.next = int(fd)
	}
	return e.file, nil
}

// Close closes fd, dropping the table's reference.
func (t *FDTable) Close(fd int32) error {
	f, err := t.Remove(fd)
	if err != nil {
		return err
	}
	t.dropFile(f)
	return nil
}

// Dup2 makes newFD refer to the file at oldFD (dup2/dup3). It returns EBADF for a bad
// oldFD or an out-of-range newFD.
func (t *FDTable) Dup2(oldFD, newFD int32, cloexec bool) error {
	t.mu.Lock()
	e := t.entryLocked(int(oldFD))
	if e == nil || newFD < 0 || int(newFD) >= t.limit {
		t.mu.Unlock()
		return unix.EBADF
	}
	old := t.entryLocked(int(newFD))
	e.file.IncRef()
	t.setLocked(int(newFD), &fdEntry{file: e.file, cloexec: cloexec})
	t.mu.Unlock()
	if old != nil {
		t.dropFile(old.file)
	}
	return nil
}

// Fork returns a copy of the table for a child process (references taken).
func (t *FDTable) Fork() *FDTable {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &FDTable{limit: t.limit, next: t.next}
	s := *t.slots.Load()
	ns := make(fdSlots, len(s))
	for i := range s {
		if e := s[i].Load(); e != nil {
			e.file.IncRef()
			ns[i].Store(e)
		}
	}
	n.slots.Store(&ns)
	return n
}

// CloseOnExec closes every descriptor with FD_CLOEXEC set (execve).
func (t *FDTable) CloseOnExec() {
	var drop []*FileDescription
	t.mu.Lock()
	s := *t.slots.Load()
	for i := range s {
		if e := s[i].Load(); e != nil && e.cloexec {
			drop = append(drop, e.file)
			s[i].Store(nil)
			if i < t.next {
				t.next = i
			}
		}
	}
	t.mu.Unlock()
	for _, f := range drop {
		t.dropFile(f)
	}
}

// CloseRange closes the descriptors first to last (or sets FD_CLOEXEC on them, for
// close_range's CLOSE_RANGE_CLOEXEC).
func (t *FDTable) CloseRange(first, last uint32, cloexec bool) {
	var drop []*FileDescription
	t.mu.Lock()
	s := *t.slots.Load()
	for i := uint64(first); i <= uint64(last) && i < uint64(len(s)); i++ {
		e := s[i].Load()
		if e == nil {
			continue
		}
		if cloexec {
			s[i].Store(&fdEntry{file: e.file, cloexec: true})
			continue
		}
		drop = append(drop, e.file)
		s[i].Store(nil)
		if int(i) < t.next {
			t.next = int(i)
		}
	}
	t.mu.Unlock()
	for _, f := range drop {
		t.dropFile(f)
	}
}

// RemoveAll closes every descriptor (process exit).
func (t *FDTable) RemoveAll() {
	var drop []*FileDescription
	t.mu.Lock()
	s := *t.slots.Load()
	for i := range s {
		if e := s[i].Load(); e != nil {
			drop = append(drop, e.file)
			s[i].Store(nil)
		}
	}
	t.next = 0
	t.mu.Unlock()
	for _, f := range drop {
		t.dropFile(f)
	}
}

// FDs returns the open descriptors in increasing order (for /proc/self/fd).
func (t *FDTable) FDs() []int32 {
	s := *t.slots.Load()
	var fds []int32
	for i := range s {
		if s[i].Load() != nil {
			fds = append(fds, int32(i))
		}
	}
	return fds
}
