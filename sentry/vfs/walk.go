package vfs

import (
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel/auth"
)

// openat2(2) resolve flags.
const (
	ResolveNoXdev       = 0x01
	ResolveNoMagiclinks = 0x02
	ResolveNoSymlinks   = 0x04
	ResolveBeneath      = 0x08
	ResolveInRoot       = 0x10
	ResolveCached       = 0x20
	// ResolveAll is every flag openat2 knows.
	ResolveAll = ResolveNoXdev | ResolveNoMagiclinks | ResolveNoSymlinks | ResolveBeneath | ResolveInRoot | ResolveCached
)

// resolver walks one path. It follows Linux's path_lookupat: every directory searched
// needs execute permission, symlinks are followed (at most MaxSymlinks in all), ".."
// never leaves root, and a trailing slash requires a directory. openat2's resolve
// flags restrict the walk further.
type resolver struct {
	v        *VirtualFilesystem
	ctx      Context
	root     VirtualDentry
	cur      VirtualDentry
	comps    []string
	trailing bool // the final component must be a directory
	symlinks int

	rflags uint32 // RESOLVE_* flags
	depth  int    // directories below the start, for RESOLVE_BENEATH
}

// splitPath splits path into components, dropping empty ones, and says whether it ends
// with a slash.
func splitPath(path string) ([]string, bool) {
	trailing := strings.HasSuffix(path, "/")
	var comps []string
	for len(path) > 0 {
		i := strings.IndexByte(path, '/')
		if i < 0 {
			comps = append(comps, path)
			break
		}
		if i > 0 {
			comps = append(comps, path[:i])
		}
		path = path[i+1:]
	}
	return comps, trailing
}

func (v *VirtualFilesystem) newResolver(ctx Context, root, start VirtualDentry, path string) (*resolver, error) {
	return v.newResolverFlags(ctx, root, start, path, 0)
}

// newResolverFlags is newResolver with openat2's resolve flags.
func (v *VirtualFilesystem) newResolverFlags(ctx Context, root, start VirtualDentry, path string, resolve uint32) (*resolver, error) {
	if path == "" {
		return nil, unix.ENOENT
	}
	if len(path) >= MaxPathLen {
		return nil, unix.ENAMETOOLONG
	}
	if resolve&ResolveInRoot != 0 {
		// The start is the root: absolute paths, absolute symlinks and ".." stay in it.
		root = start
	}
	r := &resolver{v: v, ctx: ctx, root: root, cur: start, rflags: resolve}
	if path[0] == '/' {
		if resolve&ResolveBeneath != 0 {
			return nil, unix.EXDEV
		}
		r.cur = root
	}
	r.comps, r.trailing = splitPath(path)
	return r, nil
}

// cross moves cur onto vd, through the mounts on it: EXDEV with RESOLVE_NO_XDEV if that
// means entering another mount.
func (r *resolver) cross(vd VirtualDentry) error {
	n := r.v.crossMounts(vd)
	if r.rflags&ResolveNoXdev != 0 && n.Mount != vd.Mount {
		return unix.EXDEV
	}
	r.cur = n
	return nil
}

// dotdot moves to the parent (RESOLVE_BENEATH: never above the start).
func (r *resolver) dotdot() error {
	if r.rflags&ResolveBeneath != 0 {
		if r.depth == 0 {
			return unix.EXDEV
		}
		r.depth--
	}
	return r.goUp()
}

// mayLookup checks search permission on the current directory.
func (r *resolver) mayLookup() error {
	if !r.cur.Dentry.IsDir() {
		return unix.ENOTDIR
	}
	// Either capability lets its holder search any directory: skip the attributes.
	if c := r.ctx.Credentials(); c.HasCapability(auth.CapDacReadSearch) || c.HasCapability(auth.CapDacOverride) {
		return nil
	}
	return r.v.checkPermission(r.ctx, r.cur, MayExec)
}

// checkPermission checks ats on vd (no read-only-mount check).
func (v *VirtualFilesystem) checkPermission(ctx Context, vd VirtualDentry, ats AccessTypes) error {
	st, err := vd.Dentry.inode.Stat(ctx)
	if err != nil {
		return err
	}
	return CheckPermissions(ctx.Credentials(), ats, st.Mode, st.UID, st.GID)
}

// goUp moves to the parent of the current directory, staying at the root and crossing
// mount points upwards (EXDEV for that with RESOLVE_NO_XDEV).
func (r *resolver) goUp() error {
	for {
		if r.cur == r.root {
			return nil
		}
		m := r.cur.Mount
		if r.cur.Dentry != m.root {
			break
		}
		parent, point := m.attachment()
		if parent == nil {
			return nil
		}
		if r.rflags&ResolveNoXdev != 0 {
			return unix.EXDEV
		}
		r.cur = VirtualDentry{Mount: parent, Dentry: point}
	}
	p := r.cur.Dentry.Parent()
	if p == nil {
		return nil
	}
	return r.cross(VirtualDentry{Mount: r.cur.Mount, Dentry: p})
}

// plainRun returns the leading components of comps that are neither "." nor "..", at
// least comps[0], for a batched lookup.
func plainRun(comps []string) []string {
	n := 1
	for n < len(comps) && comps[n] != "." && comps[n] != ".." {
		n++
	}
	return comps[:n]
}

// step resolves comps[0], which is not the final component, moving cur to it (following
// a symlink).
func (r *resolver) step() error {
	if err := r.mayLookup(); err != nil {
		return err
	}
	name := r.comps[0]
	switch name {
	case ".":
		r.comps = r.comps[1:]
		return nil
	case "..":
		r.comps = r.comps[1:]
		return r.dotdot()
	}
	c, err := r.cur.Dentry.lookup(r.ctx, plainRun(r.comps))
	if err != nil {
		return err
	}
	r.comps = r.comps[1:]
	if c.IsSymlink() {
		return r.follow(VirtualDentry{Mount: r.cur.Mount, Dentry: c}, false)
	}
	if !c.IsDir() {
		return unix.ENOTDIR
	}
	r.depth++
	return r.cross(VirtualDentry{Mount: r.cur.Mount, Dentry: c})
}

// follow splices the target of symlink link (a child of cur) in front of the remaining
// components. final says the link was the final component.
func (r *resolver) follow(link VirtualDentry, final bool) error {
	r.symlinks++
	if r.symlinks > MaxSymlinks {
		return unix.ELOOP
	}
	if r.rflags&ResolveNoSymlinks != 0 {
		return unix.ELOOP
	}
	if ml, ok := link.Dentry.inode.(MagicLink); ok {
		switch {
		case r.rflags&ResolveNoMagiclinks != 0:
			return unix.ELOOP
		case r.rflags&(ResolveBeneath|ResolveInRoot) != 0:
			return unix.EXDEV
		}
		target, err := ml.Follow(r.ctx)
		if err != nil {
			return err
		}
		if r.rflags&ResolveNoXdev != 0 && target.Mount != link.Mount {
			return unix.EXDEV
		}
		if !final && !target.Dentry.IsDir() {
			return unix.ENOTDIR
		}
		r.cur = target
		return nil
	}
	target, err := link.Dentry.inode.Readlink(r.ctx)
	if err != nil {
		return err
	}
	if target == "" {
		return unix.ENOENT
	}
	if target[0] == '/' {
		if r.rflags&ResolveBeneath != 0 {
			return unix.EXDEV
		}
		if r.rflags&ResolveNoXdev != 0 && r.root.Mount != r.cur.Mount {
			return unix.EXDEV
		}
		r.cur = r.root
		r.depth = 0
	}
	tcomps, ttrailing := splitPath(target)
	if final {
		r.trailing = r.trailing || ttrailing
	}
	r.comps = append(tcomps, r.comps...)
	return nil
}

// walkToParent resolves every component but the last, leaving cur at the directory
// that holds it (search permission checked) and comps with at most one element. With
// no component left (the path was "/" or a link to it), cur is the result.
func (r *resolver) walkToParent() error {
	for len(r.comps) > 1 {
		if err := r.step(); err != nil {
			return err
		}
	}
	if len(r.comps) == 1 {
		return r.mayLookup()
	}
	return nil
}

// resolve resolves the whole path. follow says whether a final symlink is followed (a
// trailing slash always follows it).
func (r *resolver) resolve(follow bool) (VirtualDentry, error) {
	for {
		if err := r.walkToParent(); err != nil {
			return VirtualDentry{}, err
		}
		if len(r.comps) == 0 {
			break
		}
		name := r.comps[0]
		if name == "." {
			r.comps = nil
			break
		}
		if name == ".." {
			r.comps = nil
			if err := r.dotdot(); err != nil {
				return VirtualDentry{}, err
			}
			break
		}
		c, err := r.cur.Dentry.lookup(r.ctx, r.comps)
		if err != nil {
			return VirtualDentry{}, err
		}
		r.comps = nil
		vd := VirtualDentry{Mount: r.cur.Mount, Dentry: c}
		if c.IsSymlink() && (follow || r.trailing) {
			if err := r.follow(vd, true); err != nil {
				return VirtualDentry{}, err
			}
			if _, ok := c.inode.(MagicLink); ok {
				break
			}
			continue
		}
		if err := r.cross(vd); err != nil {
			return VirtualDentry{}, err
		}
		break
	}
	if r.trailing && !r.cur.Dentry.IsDir() {
		return VirtualDentry{}, unix.ENOTDIR
	}
	return r.cur, nil
}

// GetDentryAt resolves path relative to start (or root for an absolute path).
func (v *VirtualFilesystem) GetDentryAt(ctx Context, root, start VirtualDentry, path string, follow bool) (VirtualDentry, error) {
	return v.GetDentryAtResolve(ctx, root, start, path, follow, 0)
}

// GetDentryAtResolve is GetDentryAt with openat2's resolve flags.
func (v *VirtualFilesystem) GetDentryAtResolve(ctx Context, root, start VirtualDentry, path string, follow bool, resolve uint32) (VirtualDentry, error) {
	r, err := v.newResolverFlags(ctx, root, start, path, resolve)
	if err != nil {
		return VirtualDentry{}, err
	}
	return r.resolve(follow)
}

// parentResult is a resolved parent directory and the final name in it.
type parentResult struct {
	dir      VirtualDentry
	name     string // "" for the root ("/"), "." or ".." as given
	trailing bool
}

// getParent resolves all of path but its final component.
func (v *VirtualFilesystem) getParent(ctx Context, root, start VirtualDentry, path string) (parentResult, error) {
	r, err := v.newResolver(ctx, root, start, path)
	if err != nil {
		return parentResult{}, err
	}
	if err := r.walkToParent(); err != nil {
		return parentResult{}, err
	}
	pr := parentResult{dir: r.cur, trailing: r.trailing}
	if len(r.comps) == 1 {
		pr.name = r.comps[0]
	}
	return pr, nil
}
