package vfs

import (
	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel/auth"
)

// isWritableType reports whether writes to a file of this type are refused on a read-only
// mount (devices, FIFOs and sockets are not stored in the filesystem).
func isWritableType(typ uint32) bool {
	return typ == unix.S_IFREG || typ == unix.S_IFDIR || typ == unix.S_IFLNK
}

// CheckAccess checks ats on vd as inode_permission does: EROFS for a write to a file
// stored on a read-only mount, then the DAC check.
func (v *VirtualFilesystem) CheckAccess(ctx Context, vd VirtualDentry, ats AccessTypes) error {
	if ats&MayWrite != 0 && vd.Mount.ReadOnly() && isWritableType(vd.Dentry.typ) {
		return unix.EROFS
	}
	return v.checkPermission(ctx, vd, ats)
}

// newFileOwner returns the owner and group of a file created in dir, and the mode
// adjusted for a set-group-ID directory (inode_init_owner).
func newFileOwner(ctx Context, dir VirtualDentry, mode uint32) (uint32, uint32, uint32, error) {
	creds := ctx.Credentials()
	st, err := dir.Dentry.inode.Stat(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	uid, gid := uint32(creds.FSUID), uint32(creds.FSGID)
	if st.Mode&unix.S_ISGID != 0 {
		gid = st.GID
		if mode&unix.S_IFMT == unix.S_IFDIR {
			mode |= unix.S_ISGID
		} else if mode&unix.S_ISGID != 0 && mode&unix.S_IXGRP != 0 &&
			!creds.InGroup(auth.KGID(gid)) && !creds.HasCapability(auth.CapFsetid) {
			mode &^= unix.S_ISGID
		}
	}
	return mode, uid, gid, nil
}

// mayCreate checks that an entry may be added to dir (may_create).
func (v *VirtualFilesystem) mayCreate(ctx Context, dir VirtualDentry) error {
	if dir.Dentry.dead.Load() {
		return unix.ENOENT
	}
	return v.checkPermission(ctx, dir, MayWrite|MayExec)
}

// mayDelete checks that child may be removed from dir (may_delete), isDir saying whether
// the operation wants a directory.
func (v *VirtualFilesystem) mayDelete(ctx Context, dir VirtualDentry, child *Dentry, isDir bool) error {
	if err := v.checkPermission(ctx, dir, MayWrite|MayExec); err != nil {
		return err
	}
	dst, err := dir.Dentry.inode.Stat(ctx)
	if err != nil {
		return err
	}
	cst, err := child.inode.Stat(ctx)
	if err != nil {
		return err
	}
	if err := CheckSticky(ctx.Credentials(), dst.Mode, dst.UID, cst.UID); err != nil {
		return err
	}
	if isDir {
		if !child.IsDir() {
			return unix.ENOTDIR
		}
	} else if child.IsDir() {
		return unix.EISDIR
	}
	if dir.Dentry.dead.Load() {
		return unix.ENOENT
	}
	return nil
}

// OpenAt opens path relative to start. flags are open(2)'s, already validated by the
// caller; mode is the creation mode with the umask applied.
func (v *VirtualFilesystem) OpenAt(ctx Context, root, start VirtualDentry, path string, flags, mode uint32) (*FileDescription, error) {
	return v.OpenAtResolve(ctx, root, start, path, flags, mode, 0)
}

// OpenAtResolve is OpenAt with openat2's resolve flags.
func (v *VirtualFilesystem) OpenAtResolve(ctx Context, root, start VirtualDentry, path string, flags, mode, resolve uint32) (*FileDescription, error) {
	if flags&unix.O_PATH != 0 {
		flags &= unix.O_PATH | unix.O_CLOEXEC | unix.O_DIRECTORY | unix.O_NOFOLLOW
	}
	follow := flags&unix.O_NOFOLLOW == 0
	if flags&unix.O_CREAT == 0 {
		vd, err := v.GetDentryAtResolve(ctx, root, start, path, follow, resolve)
		if err != nil {
			return nil, err
		}
		return v.OpenDentry(ctx, vd, flags)
	}
	r, err := v.newResolverFlags(ctx, root, start, path, resolve)
	if err != nil {
		return nil, err
	}
	for {
		if err := r.walkToParent(); err != nil {
			return nil, err
		}
		if len(r.comps) == 0 || r.comps[0] == "." || r.comps[0] == ".." || r.trailing {
			return nil, unix.EISDIR
		}
		name := r.comps[0]
		dir := r.cur
		dir.Dentry.mu.Lock()
		child, err := dir.Dentry.lookupLocked(ctx, r.comps)
		if err == nil {
			dir.Dentry.mu.Unlock()
			if flags&unix.O_EXCL != 0 {
				return nil, unix.EEXIST
			}
			vd := VirtualDentry{Mount: dir.Mount, Dentry: child}
			if child.IsSymlink() {
				if !follow {
					return nil, unix.ELOOP
				}
				r.comps = nil
				if err := r.follow(vd, true); err != nil {
					return nil, err
				}
				if _, ok := child.inode.(MagicLink); ok {
					return v.OpenDentry(ctx, r.cur, flags)
				}
				continue
			}
			if err := r.cross(vd); err != nil {
				return nil, err
			}
			return v.OpenDentry(ctx, r.cur, flags)
		}
		if err != unix.ENOENT {
			dir.Dentry.mu.Unlock()
			return nil, err
		}
		fd, err := v.createLocked(ctx, dir, name, flags, mode)
		dir.Dentry.mu.Unlock()
		return fd, err
	}
}

// TmpfileCreator is implemented by directory inodes of filesystems that support
// O_TMPFILE: an unnamed regular file on the directory's filesystem.
type TmpfileCreator interface {
	CreateTmpfile(ctx Context, opts CreateOptions) (Inode, FileImpl, error)
}

// OpenTmpfile implements open(O_TMPFILE) in the directory at path; mode has the umask
// applied. The file has no name and a link count of zero.
func (v *VirtualFilesystem) OpenTmpfile(ctx Context, root, start VirtualDentry, path string, flags, mode uint32) (*FileDescription, error) {
	dir, err := v.GetDentryAt(ctx, root, start, path, true)
	if err != nil {
		return nil, err
	}
	if !dir.Dentry.IsDir() {
		return nil, unix.ENOTDIR
	}
	tc, ok := dir.Dentry.inode.(TmpfileCreator)
	if !ok {
		return nil, unix.EOPNOTSUPP
	}
	if dir.Mount.ReadOnly() {
		return nil, unix.EROFS
	}
	if err := v.mayCreate(ctx, dir); err != nil {
		return nil, err
	}
	m, uid, gid, err := newFileOwner(ctx, dir, unix.S_IFREG|mode&07777)
	if err != nil {
		return nil, err
	}
	opts := CreateOptions{Mode: m, UID: uid, GID: gid, Linkable: flags&unix.O_EXCL == 0}
	inode, impl, err := tc.CreateTmpfile(ctx, opts)
	if err != nil {
		return nil, err
	}
	st, _ := inode.Stat(ctx)
	d := newChild(ctx, dir.Dentry, "#"+itoa(st.Ino), inode)
	d.dead.Store(true)
	flags &^= unix.O_TMPFILE &^ unix.O_DIRECTORY
	flags &^= unix.O_DIRECTORY | unix.O_CREAT | unix.O_EXCL
	return NewFileDescription(VirtualDentry{Mount: dir.Mount, Dentry: d}, impl, flags, FileOptions{}), nil
}

func itoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// createLocked creates and opens regular file name in dir (dir's mu held).
func (v *VirtualFilesystem) createLocked(ctx Context, dir VirtualDentry, name string, flags, mode uint32) (*FileDescription, error) {
	if dir.Mount.ReadOnly() {
		return nil, unix.EROFS
	}
	if err := v.mayCreate(ctx, dir); err != nil {
		return nil, err
	}
	m, uid, gid, err := newFileOwner(ctx, dir, unix.S_IFREG|mode&07777)
	if err != nil {
		return nil, err
	}
	inode, impl, err := dir.Dentry.inode.Create(ctx, name, flags, CreateOptions{Mode: m, UID: uid, GID: gid})
	if err != nil {
		return nil, err
	}
	child := newChild(ctx, dir.Dentry, name, inode)
	dir.Dentry.putChild(name, child)
	vd := VirtualDentry{Mount: dir.Mount, Dentry: child}
	if impl == nil {
		impl, err = inode.Open(ctx, vd, flags&^unix.O_TRUNC)
		if err != nil {
			return nil, err
		}
	}
	return NewFileDescription(vd, impl, flags, FileOptions{}), nil
}

// accessTypesForOpen returns the permissions open(2) with flags needs.
func accessTypesForOpen(flags uint32) AccessTypes {
	var ats AccessTypes
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		ats = MayRead
	case unix.O_WRONLY:
		ats = MayWrite
	default:
		ats = MayRead | MayWrite
	}
	if flags&unix.O_TRUNC != 0 {
		ats |= MayWrite
	}
	return ats
}

// OpenDentry opens the file at vd (may_open, then the filesystem's Open, then O_TRUNC).
func (v *VirtualFilesystem) OpenDentry(ctx Context, vd VirtualDentry, flags uint32) (*FileDescription, error) {
	d := vd.Dentry
	if flags&unix.O_PATH != 0 {
		if flags&unix.O_DIRECTORY != 0 && !d.IsDir() {
			return nil, unix.ENOTDIR
		}
		return NewFileDescription(vd, pathFile{}, flags, FileOptions{}), nil
	}
	ats := accessTypesForOpen(flags)
	switch d.typ {
	case unix.S_IFLNK:
		return nil, unix.ELOOP
	case unix.S_IFDIR:
		if ats&MayWrite != 0 {
			return nil, unix.EISDIR
		}
	case unix.S_IFBLK, unix.S_IFCHR:
		if vd.Mount.Flags()&MountNoDev != 0 {
			return nil, unix.EACCES
		}
		flags &^= unix.O_TRUNC
	case unix.S_IFIFO, unix.S_IFSOCK:
		flags &^= unix.O_TRUNC
	}
	if flags&unix.O_DIRECTORY != 0 && !d.IsDir() {
		return nil, unix.ENOTDIR
	}
	if err := v.CheckAccess(ctx, vd, ats); err != nil {
		return nil, err
	}
	if d.typ == unix.S_IFSOCK {
		return nil, unix.ENXIO
	}
	if flags&unix.O_NOATIME != 0 {
		st, err := d.inode.Stat(ctx)
		if err != nil {
			return nil, err
		}
		if !IsOwner(ctx.Credentials(), st.UID) {
			return nil, unix.EPERM
		}
	}
	var impl FileImpl
	var opts FileOptions
	var err error
	if d.typ == unix.S_IFIFO {
		if impl, opts, err = v.openFIFO(ctx, vd, flags); err != nil {
			return nil, err
		}
	}
	if impl != nil {
		// A FIFO, opened by the FIFO opener (waiter.go).
	} else if d.typ == unix.S_IFCHR && vd.Mount != v.anon {
		st, err := d.inode.Stat(ctx)
		if err != nil {
			return nil, err
		}
		open := lookupCharDevice(st.Rdev())
		if open == nil {
			return nil, unix.ENXIO
		}
		impl, opts, err = open(ctx, vd, flags)
		if err != nil {
			return nil, err
		}
	} else if impl, err = d.inode.Open(ctx, vd, flags); err != nil {
		return nil, err
	} else if vd.Mount == v.anon && (d.typ == unix.S_IFIFO || d.typ == unix.S_IFSOCK || d.typ == unix.S_IFCHR) {
		// A pathless pipe, socket or terminal opened again (/proc/self/fd/N of a host
		// fd): it has no file position.
		opts.Stream = true
	}
	fd := NewFileDescription(vd, impl, flags, opts)
	if flags&unix.O_TRUNC != 0 && d.typ == unix.S_IFREG {
		if err := d.inode.SetStat(ctx, SetStatOptions{Mask: SetStatSize | SetStatCtime, Size: 0}); err != nil {
			fd.DecRef()
			return nil, err
		}
	}
	return fd, nil
}

// pathFile is the implementation of O_PATH file descriptions: nothing but fstat, fchdir
// and use as a directory fd works.
type pathFile struct{ NoFileOps }

// Read implements FileImpl.Read.
func (pathFile) Read(ctx Context, dst [][]byte, off int64) (int64, error) { return 0, unix.EBADF }

// Write implements FileImpl.Write.
func (pathFile) Write(ctx Context, src [][]byte, off int64, appendMode bool) (int64, int64, error) {
	return 0, off, unix.EBADF
}

// OpenExecutable resolves path (relative to fsctx's cwd, following symlinks) and opens it
// read-only for execve: EACCES unless it is a regular file with execute permission for
// ctx's credentials (and the mount is not noexec), ENOENT, ENOTDIR, ELOOP as path walk
// gives. It returns the absolute path of what it opened.
func (v *VirtualFilesystem) OpenExecutable(ctx Context, fsctx *FSContext, path string) (*FileDescription, string, error) {
	root, cwd := fsctx.RootAndCwd()
	vd, err := v.GetDentryAt(ctx, root, cwd, path, true)
	if err != nil {
		return nil, "", err
	}
	fd, err := v.OpenDentryForExec(ctx, vd)
	if err != nil {
		return nil, "", err
	}
	p, _ := v.PathFrom(root, vd)
	return fd, p, nil
}

// OpenDentryForExec opens vd for execve (execveat with AT_EMPTY_PATH, or after a walk).
func (v *VirtualFilesystem) OpenDentryForExec(ctx Context, vd VirtualDentry) (*FileDescription, error) {
	if vd.Dentry.typ != unix.S_IFREG || vd.Mount.Flags()&MountNoExec != 0 {
		return nil, unix.EACCES
	}
	if err := v.checkPermission(ctx, vd, MayExec); err != nil {
		return nil, err
	}
	impl, err := vd.Dentry.inode.Open(ctx, vd, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	return NewFileDescription(vd, impl, unix.O_RDONLY, FileOptions{}), nil
}

// StatAt returns the attributes of the file at path.
func (v *VirtualFilesystem) StatAt(ctx Context, root, start VirtualDentry, path string, follow bool) (Stat, error) {
	vd, err := v.GetDentryAt(ctx, root, start, path, follow)
	if err != nil {
		return Stat{}, err
	}
	return v.StatDentry(ctx, vd)
}

// StatDentry returns vd's attributes.
func (v *VirtualFilesystem) StatDentry(ctx Context, vd VirtualDentry) (Stat, error) {
	st, err := vd.Dentry.inode.Stat(ctx)
	if err != nil {
		return Stat{}, err
	}
	st.MountID = vd.Mount.id
	return st, nil
}

// AccessAt implements faccessat: mode is a set of R_OK|W_OK|X_OK (0 for F_OK); ctx carries
// the credentials to check with.
func (v *VirtualFilesystem) AccessAt(ctx Context, root, start VirtualDentry, path string, follow bool, mode uint32) error {
	vd, err := v.GetDentryAt(ctx, root, start, path, follow)
	if err != nil {
		return err
	}
	return v.AccessDentry(ctx, vd, mode)
}

// AccessDentry checks access(2)'s mode on vd.
func (v *VirtualFilesystem) AccessDentry(ctx Context, vd VirtualDentry, mode uint32) error {
	if mode == 0 {
		return nil
	}
	return v.CheckAccess(ctx, vd, AccessTypes(mode))
}

// ReadlinkAt returns the target of the symlink at path (EINVAL if it is not one).
func (v *VirtualFilesystem) ReadlinkAt(ctx Context, root, start VirtualDentry, path string) (string, error) {
	vd, err := v.GetDentryAt(ctx, root, start, path, false)
	if err != nil {
		return "", err
	}
	return v.ReadlinkDentry(ctx, vd)
}

// ReadlinkDentry returns vd's target (EINVAL if it is not a symlink).
func (v *VirtualFilesystem) ReadlinkDentry(ctx Context, vd VirtualDentry) (string, error) {
	if !vd.Dentry.IsSymlink() {
		return "", unix.EINVAL
	}
	return vd.Dentry.inode.Readlink(ctx)
}

// createEntry is the common part of mkdir, mknod and symlink (filename_create): it
// resolves the parent, refuses existing names, checks permissions and calls make with the
// parent's mu held.
func (v *VirtualFilesystem) createEntry(ctx Context, root, start VirtualDentry, path string, wantDir bool, make func(dir VirtualDentry, name string) (Inode, error)) error {
	pr, err := v.getParent(ctx, root, start, path)
	if err != nil {
		return err
	}
	if pr.name == "" || pr.name == "." || pr.name == ".." {
		return unix.EEXIST
	}
	dir := pr.dir
	dir.Dentry.mu.Lock()
	defer dir.Dentry.mu.Unlock()
	_, err = dir.Dentry.lookupLocked(ctx, []string{pr.name})
	if err == nil {
		return unix.EEXIST
	}
	if err != unix.ENOENT {
		return err
	}
	if pr.trailing && !wantDir {
		return unix.ENOENT
	}
	if dir.Mount.ReadOnly() {
		return unix.EROFS
	}
	if err := v.mayCreate(ctx, dir); err != nil {
		return err
	}
	inode, err := make(dir, pr.name)
	if err != nil {
		return err
	}
	dir.Dentry.putChild(pr.name, newChild(ctx, dir.Dentry, pr.name, inode))
	return nil
}

// MkdirAt creates a directory; mode has the umask applied.
func (v *VirtualFilesystem) MkdirAt(ctx Context, root, start VirtualDentry, path string, mode uint32) error {
	return v.createEntry(ctx, root, start, path, true, func(dir VirtualDentry, name string) (Inode, error) {
		m, uid, gid, err := newFileOwner(ctx, dir, unix.S_IFDIR|mode&(0777|unix.S_ISVTX))
		if err != nil {
			return nil, err
		}
		return dir.Dentry.inode.Mkdir(ctx, name, CreateOptions{Mode: m, UID: uid, GID: gid})
	})
}

// MknodAt creates a file of type mode&S_IFMT (regular, FIFO, socket or device; the
// caller checks privileges for devices); mode has the umask applied.
func (v *VirtualFilesystem) MknodAt(ctx Context, root, start VirtualDentry, path string, mode uint32, rdev uint64) error {
	return v.createEntry(ctx, root, start, path, false, func(dir VirtualDentry, name string) (Inode, error) {
		m, uid, gid, err := newFileOwner(ctx, dir, mode)
		if err != nil {
			return nil, err
		}
		return dir.Dentry.inode.Mknod(ctx, name, CreateOptions{Mode: m, UID: uid, GID: gid, Rdev: rdev})
	})
}

// SymlinkAt creates a symlink at path pointing to target.
func (v *VirtualFilesystem) SymlinkAt(ctx Context, root, start VirtualDentry, target, path string) error {
	if target == "" {
		return unix.ENOENT
	}
	return v.createEntry(ctx, root, start, path, false, func(dir VirtualDentry, name string) (Inode, error) {
		_, uid, gid, err := newFileOwner(ctx, dir, unix.S_IFLNK|0777)
		if err != nil {
			return nil, err
		}
		return dir.Dentry.inode.Symlink(ctx, name, target, CreateOptions{Mode: unix.S_IFLNK | 0777, UID: uid, GID: gid})
	})
}

// mayLink checks Linux's protected_hardlinks rule: a caller who does not own the target
// (or hold CAP_FOWNER) may link only a regular, non-set-ID file it can read and write.
func (v *VirtualFilesystem) mayLink(ctx Context, vd VirtualDentry) error {
	creds := ctx.Credentials()
	st, err := vd.Dentry.inode.Stat(ctx)
	if err != nil {
		return err
	}
	if IsOwner(creds, st.UID) {
		return nil
	}
	if st.Type() != unix.S_IFREG || st.Mode&unix.S_ISUID != 0 ||
		st.Mode&(unix.S_ISGID|unix.S_IXGRP) == unix.S_ISGID|unix.S_IXGRP {
		return unix.EPERM
	}
	if CheckPermissions(creds, MayRead|MayWrite, st.Mode, st.UID, st.GID) != nil {
		return unix.EPERM
	}
	return nil
}

// LinkAt makes newPath a hard link to the file at oldPath.
func (v *VirtualFilesystem) LinkAt(ctx Context, root, oldStart VirtualDentry, oldPath string, newStart VirtualDentry, newPath string, follow bool) error {
	old, err := v.GetDentryAt(ctx, root, oldStart, oldPath, follow)
	if err != nil {
		return err
	}
	return v.LinkDentry(ctx, root, old, newStart, newPath)
}

// LinkDentry makes newPath a hard link to old.
func (v *VirtualFilesystem) LinkDentry(ctx Context, root, old, newStart VirtualDentry, newPath string) error {
	pr, err := v.getParent(ctx, root, newStart, newPath)
	if err != nil {
		return err
	}
	if pr.name == "" || pr.name == "." || pr.name == ".." {
		return unix.EEXIST
	}
	if pr.dir.Mount != old.Mount {
		return unix.EXDEV
	}
	dir := pr.dir
	dir.Dentry.mu.Lock()
	defer dir.Dentry.mu.Unlock()
	_, err = dir.Dentry.lookupLocked(ctx, []string{pr.name})
	if err == nil {
		return unix.EEXIST
	}
	if err != unix.ENOENT {
		return err
	}
	if pr.trailing {
		return unix.ENOENT
	}
	if dir.Mount.ReadOnly() {
		return unix.EROFS
	}
	if err := v.mayCreate(ctx, dir); err != nil {
		return err
	}
	if old.Dentry.IsDir() {
		return unix.EPERM
	}
	if err := v.mayLink(ctx, old); err != nil {
		return err
	}
	if old.Dentry.dead.Load() {
		li, ok := old.Dentry.inode.(LinkableInode)
		if st, err := old.Dentry.inode.Stat(ctx); err == nil && st.Nlink == 0 && !(ok && li.Linkable()) {
			return unix.ENOENT
		}
	}
	if err := dir.Dentry.inode.Link(ctx, pr.name, old.Dentry.inode); err != nil {
		return err
	}
	dir.Dentry.putChild(pr.name, newChild(ctx, dir.Dentry, pr.name, old.Dentry.inode))
	return nil
}

// isMountPoint reports whether d (in mount m) has something mounted on it.
func (v *VirtualFilesystem) isMountPoint(m *Mount, d *Dentry) bool {
	if d.mounted.Load() == 0 {
		return false
	}
	v.mountMu.RLock()
	defer v.mountMu.RUnlock()
	return v.mounts[mountKey{m, d}] != nil
}

// UnlinkAt removes the non-directory at path.
func (v *VirtualFilesystem) UnlinkAt(ctx Context, root, start VirtualDentry, path string) error {
	pr, err := v.getParent(ctx, root, start, path)
	if err != nil {
		return err
	}
	if pr.name == "" || pr.name == "." || pr.name == ".." {
		return unix.EISDIR
	}
	dir := pr.dir
	if dir.Mount.ReadOnly() {
		return unix.EROFS
	}
	dir.Dentry.mu.Lock()
	defer dir.Dentry.mu.Unlock()
	child, err := dir.Dentry.lookupLocked(ctx, []string{pr.name})
	if err != nil {
		return err
	}
	if pr.trailing {
		if child.IsDir() {
			return unix.EISDIR
		}
		return unix.ENOTDIR
	}
	if err := v.mayDelete(ctx, dir, child, false); err != nil {
		return err
	}
	if v.isMountPoint(dir.Mount, child) {
		return unix.EBUSY
	}
	if err := dir.Dentry.inode.Unlink(ctx, pr.name, child.inode); err != nil {
		return err
	}
	dir.Dentry.removeChildLocked(pr.name, child)
	return nil
}

// RmdirAt removes the empty directory at path.
func (v *VirtualFilesystem) RmdirAt(ctx Context, root, start VirtualDentry, path string) error {
	pr, err := v.getParent(ctx, root, start, path)
	if err != nil {
		return err
	}
	switch pr.name {
	case "":
		return unix.EBUSY
	case ".":
		return unix.EINVAL
	case "..":
		return unix.ENOTEMPTY
	}
	dir := pr.dir
	if dir.Mount.ReadOnly() {
		return unix.EROFS
	}
	dir.Dentry.mu.Lock()
	defer dir.Dentry.mu.Unlock()
	child, err := dir.Dentry.lookupLocked(ctx, []string{pr.name})
	if err != nil {
		return err
	}
	if err := v.mayDelete(ctx, dir, child, true); err != nil {
		return err
	}
	if v.isMountPoint(dir.Mount, child) {
		return unix.EBUSY
	}
	child.mu.Lock()
	defer child.mu.Unlock()
	if child.hasCachedChildren() {
		return unix.ENOTEMPTY
	}
	if err := dir.Dentry.inode.Rmdir(ctx, pr.name, child.inode); err != nil {
		return err
	}
	child.children = nil
	dir.Dentry.removeChildLocked(pr.name, child)
	return nil
}

// Rename flags (renameat2).
const (
	RenameNoReplace = unix.RENAME_NOREPLACE
	RenameExchange  = unix.RENAME_EXCHANGE
	RenameWhiteout  = unix.RENAME_WHITEOUT
)

// isAncestor reports whether a is d or one of its ancestors (renameMu held).
func isAncestor(a, d *Dentry) bool {
	for ; d != nil; d = d.Parent() {
		if d == a {
			return true
		}
	}
	return false
}

// RenameAt implements renameat2.
func (v *VirtualFilesystem) RenameAt(ctx Context, root, oldStart VirtualDentry, oldPath string, newStart VirtualDentry, newPath string, flags uint32) error {
	if flags&^(RenameNoReplace|RenameExchange|RenameWhiteout) != 0 {
		return unix.EINVAL
	}
	if flags&RenameNoReplace != 0 && flags&RenameExchange != 0 {
		return unix.EINVAL
	}
	if flags&RenameWhiteout != 0 {
		if flags&RenameExchange != 0 {
			return unix.EINVAL
		}
		return unix.EPERM
	}
	op, err := v.getParent(ctx, root, oldStart, oldPath)
	if err != nil {
		return err
	}
	np, err := v.getParent(ctx, root, newStart, newPath)
	if err != nil {
		return err
	}
	if op.dir.Mount != np.dir.Mount {
		return unix.EXDEV
	}
	if op.name == "" || op.name == "." || op.name == ".." {
		return unix.EBUSY
	}
	if np.name == "" || np.name == "." || np.name == ".." {
		if flags&RenameNoReplace != 0 {
			return unix.EEXIST
		}
		return unix.EBUSY
	}
	if op.dir.Mount.ReadOnly() {
		return unix.EROFS
	}

	v.renameMu.Lock()
	defer v.renameMu.Unlock()
	oldDir, newDir := op.dir.Dentry, np.dir.Dentry
	// Lock an ancestor before its descendant, as rmdir does (parent, then child).
	first, second := oldDir, newDir
	if newDir != oldDir && isAncestor(newDir, oldDir) {
		first, second = newDir, oldDir
	}
	first.mu.Lock()
	defer first.mu.Unlock()
	if second != first {
		second.mu.Lock()
		defer second.mu.Unlock()
	}
	child, err := oldDir.lookupLocked(ctx, []string{op.name})
	if err != nil {
		return err
	}
	replaced, err := newDir.lookupLocked(ctx, []string{np.name})
	if err != nil && err != unix.ENOENT {
		return err
	}
	if flags&RenameExchange != 0 && replaced == nil {
		return unix.ENOENT
	}
	if flags&RenameNoReplace != 0 && replaced != nil {
		return unix.EEXIST
	}
	if !child.IsDir() {
		if op.trailing || (flags&RenameExchange == 0 && np.trailing) {
			return unix.ENOTDIR
		}
	}
	if isAncestor(child, newDir) {
		return unix.EINVAL
	}
	if replaced != nil && isAncestor(replaced, oldDir) {
		return unix.ENOTEMPTY
	}
	if replaced != nil && replaced.inode == child.inode {
		return nil
	}
	isDir := child.IsDir()
	if err := v.mayDelete(ctx, op.dir, child, isDir); err != nil {
		return err
	}
	if replaced != nil {
		if flags&RenameExchange != 0 {
			isDir = replaced.IsDir()
		}
		if err := v.mayDelete(ctx, np.dir, replaced, isDir); err != nil {
			return err
		}
	} else if err := v.mayCreate(ctx, np.dir); err != nil {
		return err
	}
	if newDir != oldDir {
		if child.IsDir() {
			if err := v.checkPermission(ctx, VirtualDentry{op.dir.Mount, child}, MayWrite); err != nil {
				return err
			}
		}
		if flags&RenameExchange != 0 && replaced.IsDir() {
			if err := v.checkPermission(ctx, VirtualDentry{np.dir.Mount, replaced}, MayWrite); err != nil {
				return err
			}
		}
	}
	if v.isMountPoint(op.dir.Mount, child) || (replaced != nil && v.isMountPoint(np.dir.Mount, replaced)) {
		return unix.EBUSY
	}
	if replaced != nil && replaced.IsDir() && flags&RenameExchange == 0 {
		replaced.mu.Lock()
		busy := replaced.hasCachedChildren()
		replaced.mu.Unlock()
		if busy {
			return unix.ENOTEMPTY
		}
	}
	var rinode Inode
	if replaced != nil {
		rinode = replaced.inode
	}
	if err := oldDir.inode.Rename(ctx, op.name, child.inode, newDir.inode, np.name, rinode, flags); err != nil {
		return err
	}
	delete(oldDir.children, op.name)
	if flags&RenameExchange != 0 {
		delete(newDir.children, np.name)
		replaced.link.Store(&dentryLink{parent: oldDir, name: op.name})
		oldDir.putChild(op.name, replaced)
	} else if replaced != nil {
		newDir.removeChildLocked(np.name, replaced)
	}
	child.link.Store(&dentryLink{parent: newDir, name: np.name})
	newDir.putChild(np.name, child)
	return nil
}

// SetStatAt changes attributes of the file at path (chmod, chown, truncate, utimes); the
// caller has done the permission checks specific to each (see CheckSetStat).
func (v *VirtualFilesystem) SetStatAt(ctx Context, root, start VirtualDentry, path string, follow bool, opts SetStatOptions) error {
	vd, err := v.GetDentryAt(ctx, root, start, path, follow)
	if err != nil {
		return err
	}
	return v.SetStatDentry(ctx, vd, opts)
}

// SetStatDentry checks and applies opts to vd: EROFS on a read-only mount, EPERM for a
// mode change by a non-owner (clearing S_ISGID for a caller outside the group), EISDIR,
// EINVAL and EACCES for a size change as truncate(2) gives them.
func (v *VirtualFilesystem) SetStatDentry(ctx Context, vd VirtualDentry, opts SetStatOptions) error {
	if vd.Mount.ReadOnly() {
		return unix.EROFS
	}
	creds := ctx.Credentials()
	st, err := vd.Dentry.inode.Stat(ctx)
	if err != nil {
		return err
	}
	if opts.Mask&SetStatSize != 0 {
		if opts.Size < 0 {
			return unix.EINVAL
		}
		switch st.Type() {
		case unix.S_IFDIR:
			return unix.EISDIR
		case unix.S_IFREG:
		default:
			return unix.EINVAL
		}
		if err := CheckPermissions(creds, MayWrite, st.Mode, st.UID, st.GID); err != nil {
			return err
		}
	}
	if opts.Mask&SetStatMode != 0 {
		if st.Type() == unix.S_IFLNK {
			return unix.EOPNOTSUPP
		}
		if !IsOwner(creds, st.UID) {
			return unix.EPERM
		}
		opts.Mode &= 07777
		if !creds.InGroup(auth.KGID(st.GID)) && !creds.HasCapability(auth.CapFsetid) {
			opts.Mode &^= unix.S_ISGID
		}
	}
	if opts.Mask&(SetStatUID|SetStatGID) != 0 {
		if err := checkChown(creds, &st, &opts); err != nil {
			return err
		}
	}
	if opts.Mask&(SetStatAtime|SetStatMtime) != 0 {
		if !IsOwner(creds, st.UID) {
			return unix.EPERM
		}
	}
	if opts.Mask&(SetStatAtimeNow|SetStatMtimeNow) != 0 && opts.Mask&(SetStatAtime|SetStatMtime) == 0 {
		if !IsOwner(creds, st.UID) && CheckPermissions(creds, MayWrite, st.Mode, st.UID, st.GID) != nil {
			return unix.EACCES
		}
	}
	opts.Mask |= SetStatCtime
	return vd.Dentry.inode.SetStat(ctx, opts)
}

// checkChown is chown_ok/chgrp_ok: CAP_CHOWN may do anything; the owner may set the
// owner to itself and the group to one it is in. A non-privileged change clears the
// set-ID bits of non-directories.
func checkChown(creds *auth.Credentials, st *Stat, opts *SetStatOptions) error {
	priv := creds.HasCapability(auth.CapChown)
	owner := uint32(creds.FSUID) == st.UID
	if opts.Mask&SetStatUID != 0 && !(owner && opts.UID == st.UID) && !priv {
		return unix.EPERM
	}
	if opts.Mask&SetStatGID != 0 && !(owner && (opts.GID == st.GID || creds.InGroup(auth.KGID(opts.GID)))) && !priv {
		return unix.EPERM
	}
	if st.Type() != unix.S_IFDIR {
		mode := st.Mode & 07777
		n := mode &^ unix.S_ISUID
		if mode&unix.S_IXGRP != 0 {
			n &^= unix.S_ISGID
		}
		if n != mode {
			opts.Mask |= SetStatMode
			opts.Mode = n
		}
	}
	return nil
}

// StatfsAt returns the attributes of the filesystem holding path.
func (v *VirtualFilesystem) StatfsAt(ctx Context, root, start VirtualDentry, path string) (Statfs, error) {
	vd, err := v.GetDentryAt(ctx, root, start, path, true)
	if err != nil {
		return Statfs{}, err
	}
	return vd.Mount.fs.Statfs(ctx)
}
