package gofer

import (
	"bytes"

	"golang.org/x/sys/unix"
)

// The node fd cache. The sentry keeps a handle for every file it has looked
// up, so a gofer that kept an fd per node would run out of fds walking a
// large tree. Instead nodes stay (they are small) but their host fds are a
// cache: when more than table.maxOpen node fds are open, the fds of the least
// recently used nodes that no request uses are closed, and reopened on
// demand by name from the parent node (reopened itself if needed), or
// through rootFD for the served root.
//
// A reopened fd must name the same file the node was made for: same type,
// dev and ino, and, when the filesystem gives one, the same file handle
// (name_to_handle_at, recorded when the fd was closed; it includes the inode
// generation, so an inode number reused by a new file is told apart). A file
// removed or replaced behind the gofer's back makes the operation fail with
// ESTALE. The sentry does not retry or revalidate on ESTALE, and, unlike
// ENOENT, does not cache it as a negative entry.
//
// A node that can no longer be reopened (detached: unlinked or renamed over
// through the gofer) keeps its fd open for its life; requests that may detach
// nodes first make sure their fds are open (table.holdOpen).
//
// Every use of a node's fd or dirFD is pinned (acquireFD ... unpin): a pinned
// fd is never closed, so its number cannot be reused for another file while a
// request uses it.

const (
	// maxOpenCap and maxOpenMin bound table.maxOpen (see defaultMaxOpen).
	maxOpenCap = 4096
	maxOpenMin = 16

	// maxReopenDepth bounds the chain of parents reopened for one node.
	maxReopenDepth = 4096

	// atHandleFID is AT_HANDLE_FID (Linux 6.5): name_to_handle_at returns a
	// file id fit for comparison even where handles cannot be decoded.
	atHandleFID = 0x200
)

// defaultMaxOpen is the bound on open node fds: a quarter of RLIMIT_NOFILE,
// at most maxOpenCap, leaving room for the fds requests open and send.
func defaultMaxOpen() int {
	n := maxOpenCap
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil && rl.Cur/4 < uint64(n) {
		n = int(rl.Cur / 4)
	}
	if n < maxOpenMin {
		n = maxOpenMin
	}
	return n
}

func (t *table) lruPushLocked(n *node) {
	n.prev = &t.lru
	n.next = t.lru.next
	n.next.prev = n
	t.lru.next = n
	n.inLRU = true
}

func (t *table) lruRemoveLocked(n *node) {
	n.prev.next = n.next
	n.next.prev = n.prev
	n.prev, n.next = nil, nil
	n.inLRU = false
}

// pinLocked pins n's open fd and marks it most recently used.
func (t *table) pinLocked(n *node) {
	n.pins++
	if n.inLRU && t.lru.next != n {
		t.lruRemoveLocked(n)
		t.lruPushLocked(n)
	}
}

// unpin drops a pin taken by acquireFD or newNode.
func (t *table) unpin(n *node) {
	t.mu.Lock()
	n.pins--
	var victims []int
	if n.pins == 0 && t.open > t.maxOpen {
		victims = t.evictLocked()
	}
	t.mu.Unlock()
	closeFDs(victims)
}

// evictLocked closes the fds of least recently used nodes until at most
// maxOpen are open or no unpinned node is left on the list. It returns the
// fds to close once mu is released.
func (t *table) evictLocked() []int {
	var fds []int
	for v := t.lru.prev; t.open > t.maxOpen && v != &t.lru; {
		prev := v.prev
		if v.pins == 0 {
			fds = t.evictNodeLocked(v, fds)
		}
		v = prev
	}
	return fds
}

// evictNodeLocked takes n's fds off it (n is unpinned and on the list) and
// appends them to fds.
func (t *table) evictNodeLocked(n *node, fds []int) []int {
	t.lruRemoveLocked(n)
	// name_to_handle_at only encodes the in-memory inode: no I/O under mu.
	n.fid = fileIDOf(n.fd)
	fds = append(fds, n.fd)
	n.fd = -1
	t.open--
	// Unpinned, so no Getdents holds dirMu; TryLock only to say so.
	if n.dirMu.TryLock() {
		if n.dirFD >= 0 {
			fds = append(fds, n.dirFD)
			n.dirFD = -1
			t.open--
		}
		n.dirMu.Unlock()
	}
	return fds
}

// fileID is a file handle as name_to_handle_at gives it for an fd.
type fileID struct {
	flags int // AT_HANDLE_FID, or 0 on kernels without it
	typ   int32
	b     []byte
}

// fileIDOf returns fd's file handle, or nil if the filesystem has none.
func fileIDOf(fd int) *fileID {
	for _, flags := range []int{atHandleFID, 0} {
		fh, _, err := unix.NameToHandleAt(fd, "", unix.AT_EMPTY_PATH|flags)
		if err == nil {
			return &fileID{flags: flags, typ: fh.Type(), b: append([]byte(nil), fh.Bytes()...)}
		}
		if err != unix.EINVAL {
			break // EINVAL: no AT_HANDLE_FID before Linux 6.5
		}
	}
	return nil
}

// identity is what a reopened fd of a node must match.
type identity struct {
	dev, ino uint64
	typ      uint32
	fid      *fileID
}

func (id *identity) check(fd int) error {
	st, err := fstat(fd)
	if err != nil {
		return err
	}
	if st.Dev != id.dev || st.Ino != id.ino || st.Mode&unix.S_IFMT != id.typ {
		return unix.ESTALE
	}
	if id.fid != nil {
		fh, _, err := unix.NameToHandleAt(fd, "", unix.AT_EMPTY_PATH|id.fid.flags)
		if err != nil || fh.Type() != id.fid.typ || !bytes.Equal(fh.Bytes(), id.fid.b) {
			return unix.ESTALE
		}
	}
	return nil
}

// acquireFD returns n's O_PATH|O_NOFOLLOW fd, reopened if the cache closed
// it, pinned until the caller calls unpin. The caller holds a reference on n
// and does not hold nameMu. A node that cannot be reopened, or whose name now
// leads to no file or to another file, is ESTALE.
//
// A reopen races with renames and unlinks through the gofer, which change
// names before the table hears of it: a failed reopen is tried again under
// nameMu, where the table's names are those of the host for everything done
// through the gofer.
func (t *table) acquireFD(n *node) (fd int, unpin func(), err error) {
	fd, unpin, err = t.acquireFDDepth(n, 0)
	if err == unix.ESTALE {
		t.nameMu.RLock()
		fd, unpin, err = t.acquireFDDepth(n, 0)
		t.nameMu.RUnlock()
	}
	return fd, unpin, err
}

// acquireFDOnce is acquireFD without the second try, for callers that hold
// nameMu or try again themselves.
func (t *table) acquireFDOnce(n *node) (fd int, unpin func(), err error) {
	return t.acquireFDDepth(n, 0)
}

func (t *table) acquireFDDepth(n *node, depth int) (int, func(), error) {
	t.mu.Lock()
	if n.fd >= 0 {
		t.pinLocked(n)
		fd := n.fd
		t.mu.Unlock()
		return fd, func() { t.unpin(n) }, nil
	}
	if !n.reopenable() || depth > maxReopenDepth {
		t.mu.Unlock()
		return -1, nil, unix.ESTALE
	}
	id := identity{dev: n.dev, ino: n.ino, typ: n.mode & unix.S_IFMT, fid: n.fid}
	root, p, name := n.root, n.parent, n.name
	if p != nil {
		p.refs++
	}
	t.mu.Unlock()

	var fd int
	var err error
	if root {
		fd, err = unix.Openat(t.rootFD, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	} else {
		pfd, punpin, perr := t.acquireFDDepth(p, depth+1)
		if perr == nil {
			fd, err = unix.Openat(pfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			punpin()
		} else {
			err = perr
		}
		t.release(p)
	}
	if err != nil {
		if err == unix.ENOENT || err == unix.ENOTDIR {
			err = unix.ESTALE
		}
		return -1, nil, err
	}
	if err := id.check(fd); err != nil {
		unix.Close(fd)
		return -1, nil, err
	}

	t.mu.Lock()
	extra := -1
	if n.fd >= 0 {
		extra = fd // reopened meanwhile by another request
	} else {
		n.fd = fd
		t.open++
		if n.reopenable() && !n.inLRU {
			t.lruPushLocked(n)
		}
	}
	t.pinLocked(n)
	fd = n.fd
	victims := t.evictLocked()
	t.mu.Unlock()
	if extra >= 0 {
		unix.Close(extra)
	}
	closeFDs(victims)
	return fd, func() { t.unpin(n) }, nil
}

// dirFDOpened counts a dirFD that Getdents opened for n (n pinned, dirMu
// held) and evicts other fds if that makes too many.
func (t *table) dirFDOpened() {
	t.mu.Lock()
	t.open++
	victims := t.evictLocked()
	t.mu.Unlock()
	closeFDs(victims)
}
