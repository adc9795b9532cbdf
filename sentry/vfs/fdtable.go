package vfs

import (
	"sync"

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

// FDTable maps file descriptors to file descriptions with their FD_CLOEXEC flag. It is
// shared by the threads of a process (and by processes created with CLONE_FILES).
type FDTable struct {
	mu    sync.Mutex
	files []fdEntry // index is the fd; nil file is free
	limit int       // RLIMIT_NOFILE soft limit: fds must be below it
	next  int       // no free fd below next
}

// NewFDTable returns an empty table with the default limit.
func NewFDTable() *FDTable {
	return &FDTable{limit: DefaultNOFILE}
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

// NewFD installs f at the lowest free descriptor not below minFD, taking a reference.
// EMFILE if none is free below the limit; EINVAL if minFD is negative or at least the
// limit (as F_DUPFD).
func (t *FDTable) NewFD(minFD int32, f *FileDescription, cloexec bool) (int32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if minFD < 0 || int(minFD) >= t.limit {
		return -1, unix.EINVAL
	}
	start := int(minFD)
	if start < t.next {
		start = t.next
	}
	fd := start
	for fd < len(t.files) && t.files[fd].file != nil {
		fd++
	}
	if fd >= t.limit {
		return -1, unix.EMFILE
	}
	if fd >= len(t.files) {
		t.grow(fd + 1)
	}
	f.IncRef()
	t.files[fd] = fdEntry{file: f, cloexec: cloexec}
	if int(minFD) <= t.next {
		t.next = fd + 1
	}
	return int32(fd), nil
}

func (t *FDTable) grow(n int) {
	if n <= len(t.files) {
		return
	}
	c := cap(t.files)
	if n <= c {
		t.files = t.files[:n]
		return
	}
	if c < 16 {
		c = 16
	}
	for c < n {
		c *= 2
	}
	nf := make([]fdEntry, n, c)
	copy(nf, t.files)
	t.files = nf
}

// NewFDAt installs f at fd (closing what was there), taking a reference. EBADF if fd is
// negative or not below the limit.
func (t *FDTable) NewFDAt(fd int32, f *FileDescription, cloexec bool) error {
	t.mu.Lock()
	if fd < 0 || int(fd) >= t.limit {
		t.mu.Unlock()
		return unix.EBADF
	}
	if int(fd) >= len(t.files) {
		t.grow(int(fd) + 1)
	}
	old := t.files[fd].file
	f.IncRef()
	t.files[fd] = fdEntry{file: f, cloexec: cloexec}
	t.mu.Unlock()
	if old != nil {
		old.DecRef()
	}
	return nil
}

// Get returns the file at fd with a reference the caller drops, and its FD_CLOEXEC flag.
func (t *FDTable) Get(fd int32) (*FileDescription, bool, error) {
	t.mu.Lock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].file == nil {
		t.mu.Unlock()
		return nil, false, unix.EBADF
	}
	e := t.files[fd]
	e.file.IncRef()
	t.mu.Unlock()
	return e.file, e.cloexec, nil
}

// SetCloexec sets or clears fd's FD_CLOEXEC flag.
func (t *FDTable) SetCloexec(fd int32, cloexec bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].file == nil {
		return unix.EBADF
	}
	t.files[fd].cloexec = cloexec
	return nil
}

// Remove closes fd, returning its file (whose table reference the caller drops).
func (t *FDTable) Remove(fd int32) (*FileDescription, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if fd < 0 || int(fd) >= len(t.files) || t.files[fd].file == nil {
		return nil, unix.EBADF
	}
	f := t.files[fd].file
	t.files[fd] = fdEntry{}
	if int(fd) < t.next {
		t.next = int(fd)
	}
	return f, nil
}

// Close closes fd, dropping the table's reference.
func (t *FDTable) Close(fd int32) error {
	f, err := t.Remove(fd)
	if err != nil {
		return err
	}
	f.DecRef()
	return nil
}

// Dup2 makes newFD refer to the file at oldFD (dup2/dup3). It returns EBADF for a bad
// oldFD or an out-of-range newFD.
func (t *FDTable) Dup2(oldFD, newFD int32, cloexec bool) error {
	t.mu.Lock()
	if oldFD < 0 || int(oldFD) >= len(t.files) || t.files[oldFD].file == nil {
		t.mu.Unlock()
		return unix.EBADF
	}
	if newFD < 0 || int(newFD) >= t.limit {
		t.mu.Unlock()
		return unix.EBADF
	}
	f := t.files[oldFD].file
	if int(newFD) >= len(t.files) {
		t.grow(int(newFD) + 1)
	}
	old := t.files[newFD].file
	f.IncRef()
	t.files[newFD] = fdEntry{file: f, cloexec: cloexec}
	t.mu.Unlock()
	if old != nil {
		old.DecRef()
	}
	return nil
}

// Fork returns a copy of the table for a child process (references taken).
func (t *FDTable) Fork() *FDTable {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &FDTable{limit: t.limit, next: t.next}
	n.files = make([]fdEntry, len(t.files))
	copy(n.files, t.files)
	for _, e := range n.files {
		if e.file != nil {
			e.file.IncRef()
		}
	}
	return n
}

// CloseOnExec closes every descriptor with FD_CLOEXEC set (execve).
func (t *FDTable) CloseOnExec() {
	var drop []*FileDescription
	t.mu.Lock()
	for i, e := range t.files {
		if e.file != nil && e.cloexec {
			drop = append(drop, e.file)
			t.files[i] = fdEntry{}
			if i < t.next {
				t.next = i
			}
		}
	}
	t.mu.Unlock()
	for _, f := range drop {
		f.DecRef()
	}
}

// RemoveAll closes every descriptor (process exit).
func (t *FDTable) RemoveAll() {
	t.mu.Lock()
	files := t.files
	t.files = nil
	t.next = 0
	t.mu.Unlock()
	for _, e := range files {
		if e.file != nil {
			e.file.DecRef()
		}
	}
}

// FDs returns the open descriptors in increasing order (for /proc/self/fd).
func (t *FDTable) FDs() []int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var fds []int32
	for i, e := range t.files {
		if e.file != nil {
			fds = append(fds, int32(i))
		}
	}
	return fds
}
