package gofer

import (
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/gofer/proto"
)

// node is one open file on the gofer side. Several handles never share a
// node; a node may outlive its handle while a request or a child uses it.
type node struct {
	fd   int    // O_PATH|O_NOFOLLOW; immutable; closed when refs drops to 0
	dev  uint64 // identity of the file, checked when reopening
	ino  uint64
	mode uint32 // S_IFMT bits at the time the node was made
	root bool   // the served root: reopened through rootFD

	// Guarded by server.mu.
	refs   int    // the handle table's reference, requests', children's
	parent *node  // non-directories only: where to reopen from (nil if detached)
	name   string // non-directories only: the name in parent
	key    childKey

	// dirMu guards dirFD, an O_RDONLY|O_DIRECTORY fd kept for Getdents.
	dirMu sync.Mutex
	dirFD int
}

func (n *node) isDir() bool     { return n.mode&unix.S_IFMT == unix.S_IFDIR }
func (n *node) isSymlink() bool { return n.mode&unix.S_IFMT == unix.S_IFLNK }

// childKey names a directory entry by the directory's identity, so that every
// handle reached through any handle of that directory is found on rename.
type childKey struct {
	dev, ino uint64
	name     string
}

// table is the server's handle table and name index.
type table struct {
	mu       sync.Mutex
	handles  map[proto.Handle]*node
	next     proto.Handle
	children map[childKey]map[*node]struct{}
}

func newTable() *table {
	return &table{
		handles:  make(map[proto.Handle]*node),
		next:     1,
		children: make(map[childKey]map[*node]struct{}),
	}
}

// newNode makes a node for fd (which it takes over) with one reference, the
// caller's. parent and name are recorded for non-directories.
func (t *table) newNode(fd int, st *unix.Stat_t, parent *node, name string) *node {
	n := &node{fd: fd, dev: st.Dev, ino: st.Ino, mode: st.Mode, refs: 1, dirFD: -1}
	if !n.isDir() && parent != nil {
		t.mu.Lock()
		t.attachLocked(n, parent, name)
		t.mu.Unlock()
	}
	return n
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
}

// detachLocked forgets n's parent/name: it can no longer be reopened.
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
	t.releaseLocked(p)
}

// takeLocked removes and returns the nodes named key (they are still
// attached to their parents; the caller re-attaches or detaches them).
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
		unix.Close(n.fd)
		if n.dirFD >= 0 {
			// No one else holds n, so dirMu is free.
			unix.Close(n.dirFD)
			n.dirFD = -1
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
	for _, n := range src {
		t.detachLocked(n)
	}
	for _, n := range dst {
		t.detachLocked(n)
	}
	// A node taken from the index is still referenced by its handle (or a
	// request), so re-attaching after detaching is safe.
	for _, n := range src {
		if n.refs > 0 {
			t.attachLocked(n, newDir, newName)
		}
	}
	if exchange {
		for _, n := range dst {
			if n.refs > 0 {
				t.attachLocked(n, oldDir, oldName)
			}
		}
	}
}

// unlinked forgets the nodes named dir/name after it was removed.
func (t *table) unlinked(dir *node, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range t.takeLocked(childKey{dev: dir.dev, ino: dir.ino, name: name}) {
		t.detachLocked(n)
	}
}
