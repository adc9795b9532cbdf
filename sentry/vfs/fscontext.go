package vfs

import "sync"

// FSContext is a task's filesystem context: its root, working directory and umask,
// shared by threads (and by processes created with CLONE_FS).
type FSContext struct {
	mu    sync.Mutex
	root  VirtualDentry
	cwd   VirtualDentry
	umask uint32
}

// NewFSContext returns a context with the given root, working directory and umask.
func NewFSContext(root, cwd VirtualDentry, umask uint32) *FSContext {
	return &FSContext{root: root, cwd: cwd, umask: umask & 0777}
}

// Root returns the task's root directory.
func (c *FSContext) Root() VirtualDentry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.root
}

// Cwd returns the working directory.
func (c *FSContext) Cwd() VirtualDentry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cwd
}

// RootAndCwd returns both at once.
func (c *FSContext) RootAndCwd() (VirtualDentry, VirtualDentry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.root, c.cwd
}

// SetCwd changes the working directory.
func (c *FSContext) SetCwd(vd VirtualDentry) {
	c.mu.Lock()
	c.cwd = vd
	c.mu.Unlock()
}

// SetRoot changes the root directory (chroot).
func (c *FSContext) SetRoot(vd VirtualDentry) {
	c.mu.Lock()
	c.root = vd
	c.mu.Unlock()
}

// Umask returns the file mode creation mask.
func (c *FSContext) Umask() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.umask
}

// SwapUmask sets the mask to mask&0777 and returns the old one.
func (c *FSContext) SwapUmask(mask uint32) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.umask
	c.umask = mask & 0777
	return old
}

// Fork returns a copy for a child that does not share its filesystem context.
func (c *FSContext) Fork() *FSContext {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &FSContext{root: c.root, cwd: c.cwd, umask: c.umask}
}
