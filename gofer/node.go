package gofer

import (
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/gofer/proto"
)

// node is one file on the gofer side. Several handles never share a node; a
// node may outlive its handle while a request or a child uses it.
//
// A node's host fds are a cache (fdcache.go): the node records how to reopen
// its file (its parent node and name, or rootFD for the served root) and the
// file's identity, and the table closes the fds of the least recently used
// nodes when too many are open. Code that uses a node's fd pins it with
// table.acquireFD, so that it is never closed (and its number never reused
// for another file) while a request uses it.
type node struct {
	dev  uint64 // identity of the file, checked when reopening
	ino  uint64
	mode uint32 // S_IFMT bits at the time the node was made
	root bool   // the served root: reopened through rootFD

	// Guarded by table.mu.
	refs   int    // the handle table's reference, requests', children's
	parent *node  // where to reopen from (nil for the root and detached nodes)
	name   string // the name in parent
	key    childKey

	// The fd cache, guarded by table.mu. fd is an O_PATH|O_NOFOLLOW fd of
	// the file or -1 while closed; it is closed only when pins is 0. A node
	// with fd >= 0 that can be reopened (the root or attached) is on the
	// table's LRU list.
	fd         int
	pins       int
	prev, next *node // LRU links
	inLRU      bool
	fid        *fileID // file handle recorded when fd was last closed, or nil

	// dirMu guards dirFD, an O_RDONLY|O_DIRECTORY fd kept for Getdents (-1 if
	// none). It is opened and used with dirMu held and the node's fd pinned;
	// the table closes it (with fd) only when pins is 0, so never under a
	// running Getdents. It counts in the table's open fds.
	dirMu sync.Mutex
	dirFD int
}

func (n *node) isDir() bool     { return n.mode&unix.S_IFMT == unix.S_IFDIR }
func (n *node) isSymlink() bool { return n.mode&unix.S_IFMT == unix.S_IFLNK }

// reopenable reports whether n's fd can be reopened after being closed.
// table.mu is held.
func (n *node) reopenable() bool { return n.root || n.parent != nil }

// childKey names a directory entry by the directory's identity, so that every
// handle reached through any handle of that directory is found on rename.
type childKey struct {
	dev, ino uint64
	name     string
}

// table is the server's handle table, name index and node fd cache.
type table struct {
	// nameMu orders the requests that bind names to nodes with those that
	// change names, so that the name index follows the host's order: Walk
	// and the requests that create a file hold it shared from their first
	// system call on a name until the node is attached; Rename and Unlink
	// hold it exclusively from their system call until the index is
	// updated. It comes before mu and is never held while taking dirMu.
	nameMu sync.RWMutex

	mu       sync.Mutex
	handles  map[proto.Handle]*node
	next     proto.Handle
	children map[childKey]map[*node]struct{}

	// The fd cache (fdcache.go), guarded by mu.
	rootFD  int  // the served root, reopened through "."
	maxOpen int  // bound on open node fds (fd and dirFD), unless pinned or not reopenable
	open    int  // node fds (fd and dirFD) open
	lru     node // sentinel of the LRU list: lru.next is the most recently used
}

func newTable(rootFD, maxOpen int) *table {
	t := &table{
		handles:  make(map[proto.Handle]*node),
		next:     1,
		children: make(map[childKey]map[*node]struct{}),
		rootFD:   rootFD,
		maxOpen:  maxOpen,
	}
	t.lru.next, t.lru.prev = &t.lru, &t.lru
	return t
}

// newNode makes a node for fd (which it takes over) with one reference, the
// caller's, and fd pinned: the caller calls the returned unpin when it no
// longer uses fd. parent and name say where the file was found; a nil parent
// makes the served root.
func (t *table) newNode(fd int, st *unix.Stat_t, parent *node, name string) (*node, func()) {
	n := &node{fd: fd, dev: st.Dev, ino: st.Ino, mode: st.Mode, refs: 1, pins: 1, dirFD: -1}
	t.mu.Lock()
	if parent != nil {
		t.attachLocked(n, parent, name)
	} else {
		n.root = true
		t.lruPushLocked(n)
	}
	t.open++
	victims := t.evictLocked()
	t.mu.Unlock()
	closeFDs(victims)
	return n, func() { t.unpin(n) }
}

// attachLocked records parent/name for n and indexes it.
func (t *table) attachLocked(n, parent *node, name string) {
	parent.refs++
	n.parent = parent
	n.name = name
	n.key = childKey{dev: parent.dev, ino: parent.ino, name: name}
	set := t.children[n.key]
	if set == nil {
		set = make(map[*node]struct{})
		t.children[n.key] = set
	}
	set[n] = struct{}{}
	if n.fd >= 0 && !n.inLRU {
		t.lruPushLocked(n)
	}
}

// detachLocked forgets n's parent/name: it can no longer be reopened, so its
// fd (if still open) stays open for as long as the node lives.
func (t *table) detachLocked(n *node) {
	if n.parent == nil {
		return
	}
	if set := t.children[n.key]; set != nil {
		delete(set, n)
		if len(set) == 0 {
			delete(t.children, n.key)
		}
	}
	p := n.parent
	n.parent, n.name, n.key = nil, "", childKey{}
	if n.inLRU && !n.root {
		t.lruRemoveLocked(n)
	}
	t.releaseLocked(p)
}

// takeLocked returns the nodes named key (they are still attached to their
// parents; the caller re-attaches or detaches them).
func (t *table) takeLocked(key childKey) []*node {
	set := t.children[key]
	ns := make([]*node, 0, len(set))
	for n := range set {
		ns = append(ns, n)
	}
	return ns
}

// lookup returns the node of h with a reference the caller must release.
func (t *table) lookup(h proto.Handle) (*node, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.handles[h]
	if n == nil {
		return nil, unix.EBADF
	}
	n.refs++
	return n, nil
}

// insert gives n a handle; the table takes its own reference.
func (t *table) insert(n *node) proto.Handle {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.next
	t.next++
	t.handles[h] = n
	n.refs++
	return h
}

// remove drops handle h; false if it was unknown.
func (t *table) remove(h proto.Handle) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.handles[h]
	if n == nil {
		return false
	}
	delete(t.handles, h)
	t.releaseLocked(n)
	return true
}

func (t *table) release(n *node) {
	if n == nil {
		return
	}
	t.mu.Lock()
	t.releaseLocked(n)
	t.mu.Unlock()
}

func (t *table) releaseLocked(n *node) {
	for n != nil {
		n.refs--
		if n.refs > 0 {
			return
		}
		if n.refs < 0 {
			return // cannot happen; never close an fd twice
		}
		// No one else holds n: no pin (a pin comes with a reference) and
		// dirMu is free.
		if n.inLRU {
			t.lruRemoveLocked(n)
		}
		if n.fd >= 0 {
			unix.Close(n.fd)
			n.fd = -1
			t.open--
		}
		if n.dirFD >= 0 {
			unix.Close(n.dirFD)
			n.dirFD = -1
			t.open--
		}
		p := n.parent
		if p != nil {
			if set := t.children[n.key]; set != nil {
				delete(set, n)
				if len(set) == 0 {
					delete(t.children, n.key)
				}
			}
			n.parent = nil
		}
		n = p // drop the child's reference on its parent
	}
}

// closeAll drops every handle (the connection is gone).
func (t *table) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for h, n := range t.handles {
		delete(t.handles, h)
		t.releaseLocked(n)
	}
}

// parentOf returns n's parent (with a reference) and name, or ESTALE if n
// cannot be reopened by name.
func (t *table) parentOf(n *node) (*node, string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n.parent == nil {
		return nil, "", unix.ESTALE
	}
	n.parent.refs++
	return n.parent, n.name, nil
}

// named returns the nodes named dir/name with a reference each, for
// holdOpen.
func (t *table) named(dir *node, name string) []*node {
	t.mu.Lock()
	defer t.mu.Unlock()
	ns := t.takeLocked(childKey{dev: dir.dev, ino: dir.ino, name: name})
	for _, n := range ns {
		n.refs++
	}
	return ns
}

// holdOpen makes sure that the nodes named dir/name have their fds open and
// pinned until the returned function is called: a request that may unlink
// or replace that name calls it first (holding nameMu exclusively), since a
// node that loses its name can no longer be reopened and must keep its fd.
func (t *table) holdOpen(dir *node, name string) func() {
	ns := t.named(dir, name)
	var unpins []func()
	for _, n := range ns {
		if _, unpin, err := t.acquireFDOnce(n); err == nil {
			unpins = append(unpins, unpin)
		}
	}
	return func() {
		for _, unpin := range unpins {
			unpin()
		}
		t.mu.Lock()
		for _, n := range ns {
			t.releaseLocked(n)
		}
		t.mu.Unlock()
	}
}

// moved updates the name index after a successful rename of
// oldDir/oldName to newDir/newName.
func (t *table) moved(oldDir *node, oldName string, newDir *node, newName string, exchange bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	oldKey := childKey{dev: oldDir.dev, ino: oldDir.ino, name: oldName}
	newKey := childKey{dev: newDir.dev, ino: newDir.ino, name: newName}
	if oldKey == newKey {
		return
	}
	src := t.takeLocked(oldKey)
	dst := t.takeLocked(newKey)
	// Keep every node alive while it is between parents.
	for _, n := range src {
		n.refs++
	}
	for _, n := range dst {
		n.refs++
	}
	for _, n := range src {
		t.detachLocked(n)
	}
	for _, n := range dst {
		t.detachLocked(n)
	}
	for _, n := range src {
		t.reattachLocked(n, newDir, newName)
	}
	if exchange {
		for _, n := range dst {
			t.reattachLocked(n, oldDir, oldName)
		}
	}
	for _, n := range src {
		t.releaseLocked(n)
	}
	for _, n := range dst {
		t.releaseLocked(n)
	}
}

// reattachLocked attaches n, detached by a rename, to its new parent/name.
// If parent is n or one of n's descendants as far as the table knows (its
// records can be out of date when the host tree changed behind the gofer's
// back), n stays detached instead: reopening must never loop.
func (t *table) reattachLocked(n, parent *node, name string) {
	for p := parent; p != nil; p = p.parent {
		if p == n {
			return
		}
	}
	t.attachLocked(n, parent, name)
}

// unlinked forgets the nodes named dir/name after it was removed.
func (t *table) unlinked(dir *node, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range t.takeLocked(childKey{dev: dir.dev, ino: dir.ino, name: name}) {
		t.detachLocked(n)
	}
}
