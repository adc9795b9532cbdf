package vfs

import "golang.org/x/sys/unix"

// Changes to the mount tree after it is built: bind mounts, unmounting, remounting,
// moving and pivot_root, for mount(2), umount2(2) and pivot_root(2) inside the sandbox.
// They hold renameMu for writing (so that path-to-root computations and walks that
// cross mounts see a consistent tree) and then mountMu.

// isUnder reports whether d is a or a descendant of a, within one filesystem (renameMu
// held).
func isUnder(d, a *Dentry) bool {
	for ; d != nil; d = d.Parent() {
		if d == a {
			return true
		}
	}
	return false
}

// attachLocked attaches m at point (mountMu held).
func (v *VirtualFilesystem) attachLocked(m *Mount, point VirtualDentry) {
	m.at.Store(&mountPoint{parent: point.Mount, point: point.Dentry})
	v.mounts[mountKey{point.Mount, point.Dentry}] = m
	point.Dentry.mounted.Add(1)
}

// detachLocked detaches m from its parent (mountMu held).
func (v *VirtualFilesystem) detachLocked(m *Mount) {
	p, d := m.attachment()
	if p == nil {
		return
	}
	k := mountKey{p, d}
	if v.mounts[k] == m {
		delete(v.mounts, k)
	}
	d.mounted.Add(-1)
	m.at.Store(nil)
}

// removeLocked forgets m from the namespace's list (mountMu held).
func (v *VirtualFilesystem) removeLocked(m *Mount) {
	for i, x := range v.all {
		if x == m {
			v.all = append(v.all[:i:i], v.all[i+1:]...)
			return
		}
	}
}

// childrenLocked returns the mounts attached to m (mountMu held).
func (v *VirtualFilesystem) childrenLocked(m *Mount) []*Mount {
	var out []*Mount
	for _, c := range v.all {
		if p, _ := c.attachment(); p == m {
			out = append(out, c)
		}
	}
	return out
}

// BindMount mounts the tree at source on point (mount --bind), with the source mount's
// flags; recursive (MS_REC) binds the mounts below source too.
func (v *VirtualFilesystem) BindMount(ctx Context, source, point VirtualDentry, recursive bool) error {
	if source.Dentry.IsDir() != point.Dentry.IsDir() {
		return unix.ENOTDIR
	}
	if !source.Dentry.IsDir() {
		// Mount points are directories in this VFS: files cannot be bind-mounted.
		return unix.EINVAL
	}
	v.renameMu.Lock()
	defer v.renameMu.Unlock()
	v.mountMu.Lock()
	defer v.mountMu.Unlock()
	if point.Dentry.dead.Load() || source.Dentry.dead.Load() {
		return unix.ENOENT
	}
	v.bindLocked(source, point, recursive)
	return nil
}

func (v *VirtualFilesystem) bindLocked(source, point VirtualDentry, recursive bool) *Mount {
	m := &Mount{vfs: v, fs: source.Mount.fs, root: source.Dentry, id: v.nextMountID.Add(1), source: source.Mount.source}
	m.flags.Store(source.Mount.Flags())
	v.attachLocked(m, point)
	v.all = append(v.all, m)
	if recursive {
		for _, c := range v.childrenLocked(source.Mount) {
			_, d := c.attachment()
			if c != m && isUnder(d, source.Dentry) {
				v.bindLocked(VirtualDentry{Mount: c, Dentry: c.root}, VirtualDentry{Mount: m, Dentry: d}, true)
			}
		}
	}
	return m
}

// Unmount removes m from the tree: EINVAL if it is the namespace root or not attached,
// EBUSY if mounts are attached below it (unless detach, MNT_DETACH, which takes them
// too). Files open in it and directories in use stay usable, as after a lazy unmount.
func (v *VirtualFilesystem) Unmount(m *Mount, detach bool) error {
	v.renameMu.Lock()
	defer v.renameMu.Unlock()
	v.mountMu.Lock()
	defer v.mountMu.Unlock()
	if m == v.root.Mount {
		return unix.EBUSY
	}
	if p, _ := m.attachment(); p == nil {
		return unix.EINVAL
	}
	if len(v.childrenLocked(m)) > 0 && !detach {
		return unix.EBUSY
	}
	v.unmountLocked(m)
	return nil
}

func (v *VirtualFilesystem) unmountLocked(m *Mount) {
	for _, c := range v.childrenLocked(m) {
		v.unmountLocked(c)
	}
	v.detachLocked(m)
	v.removeLocked(m)
}

// Remount changes m's flags (the filesystem's own read-only state stays).
func (m *Mount) Remount(flags uint32) {
	if ro, ok := m.fs.(interface{ ReadOnly() bool }); ok && ro.ReadOnly() {
		flags |= MountReadOnly
	}
	m.flags.Store(flags)
}

// MoveMount moves m (attached somewhere) to point (MS_MOVE): EINVAL if m is the root,
// not attached, or point is inside m.
func (v *VirtualFilesystem) MoveMount(m *Mount, point VirtualDentry) error {
	v.renameMu.Lock()
	defer v.renameMu.Unlock()
	v.mountMu.Lock()
	defer v.mountMu.Unlock()
	if m == v.root.Mount {
		return unix.EINVAL
	}
	if p, _ := m.attachment(); p == nil {
		return unix.EINVAL
	}
	for x := point.Mount; x != nil; x = x.Parent() {
		if x == m {
			return unix.ELOOP
		}
	}
	v.detachLocked(m)
	v.attachLocked(m, point)
	return nil
}

// PivotRoot makes the mount whose root is newRoot the namespace root and attaches the
// old root at putOld, which must be at or under newRoot (pivot_root(2)). It returns the
// old root, so that the caller moves the processes whose root or working directory it
// was.
func (v *VirtualFilesystem) PivotRoot(newRoot, putOld VirtualDentry) (VirtualDentry, error) {
	v.renameMu.Lock()
	defer v.renameMu.Unlock()
	v.mountMu.Lock()
	defer v.mountMu.Unlock()
	old := v.root
	nm := newRoot.Mount
	// Linux's order: the same mount as the root is EBUSY, then EINVAL for the rest.
	if nm == old.Mount || putOld.Mount == old.Mount {
		return VirtualDentry{}, unix.EBUSY
	}
	if newRoot.Dentry != nm.root || !newRoot.Dentry.IsDir() || !putOld.Dentry.IsDir() {
		return VirtualDentry{}, unix.EINVAL
	}
	if p, _ := nm.attachment(); p == nil {
		return VirtualDentry{}, unix.EINVAL
	}
	// put_old must be under new_root: its mount chain reaches nm, and within nm it is
	// below nm's root.
	x, d := putOld.Mount, putOld.Dentry
	for x != nil && x != nm {
		x, d = x.attachment()
	}
	if x != nm || !isUnder(d, nm.root) {
		return VirtualDentry{}, unix.EINVAL
	}
	v.detachLocked(nm)
	v.root = VirtualDentry{Mount: nm, Dentry: nm.root}
	v.attachLocked(old.Mount, putOld)
	return old, nil
}
