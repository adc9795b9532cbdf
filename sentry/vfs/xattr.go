package vfs

import (
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel/auth"
)

// Extended attribute limits (linux/limits.h).
const (
	XattrNameMax = 255   // XATTR_NAME_MAX
	XattrSizeMax = 65536 // XATTR_SIZE_MAX
	XattrListMax = 65536 // XATTR_LIST_MAX
)

// setxattr(2) flags.
const (
	XattrCreate  = 1 // XATTR_CREATE
	XattrReplace = 2 // XATTR_REPLACE
)

// XattrInode is implemented by inodes that store extended attributes. The VFS has
// checked the name's namespace and the caller's permissions; the filesystem refuses
// namespaces it does not store with EOPNOTSUPP.
type XattrInode interface {
	// Getxattr returns the value of name: ENODATA if it is not set.
	Getxattr(ctx Context, name string) (string, error)
	// Setxattr sets name to value. flags are XattrCreate (EEXIST if set) or
	// XattrReplace (ENODATA if not set).
	Setxattr(ctx Context, name, value string, flags uint32) error
	// Listxattr returns the names set, in any namespace.
	Listxattr(ctx Context) ([]string, error)
	// Removexattr removes name: ENODATA if it is not set.
	Removexattr(ctx Context, name string) error
}

// Xattr namespaces.
const (
	XattrUserPrefix     = "user."
	XattrTrustedPrefix  = "trusted."
	XattrSecurityPrefix = "security."
	XattrSystemPrefix   = "system."
)

// checkXattrName validates an attribute name as setxattr/getxattr do: ERANGE for an
// empty or too long one.
func checkXattrName(name string) error {
	if name == "" || len(name) > XattrNameMax {
		return unix.ERANGE
	}
	return nil
}

// xattrPermission is Linux's xattr_permission: what the namespace of name requires of
// the caller to read (write=false) or change it on vd.
func (v *VirtualFilesystem) xattrPermission(ctx Context, vd VirtualDentry, name string, write bool) error {
	creds := ctx.Credentials()
	switch {
	case strings.HasPrefix(name, XattrSecurityPrefix), strings.HasPrefix(name, XattrSystemPrefix):
		return nil
	case strings.HasPrefix(name, XattrTrustedPrefix):
		if !creds.HasCapability(auth.CapSysAdmin) {
			if write {
				return unix.EPERM
			}
			return unix.ENODATA
		}
		return nil
	case strings.HasPrefix(name, XattrUserPrefix):
		typ := vd.Dentry.typ
		if typ != unix.S_IFREG && typ != unix.S_IFDIR {
			if write {
				return unix.EPERM
			}
			return unix.ENODATA
		}
		if write && typ == unix.S_IFDIR {
			st, err := vd.Dentry.inode.Stat(ctx)
			if err != nil {
				return err
			}
			if st.Mode&unix.S_ISVTX != 0 && !IsOwner(creds, st.UID) {
				return unix.EPERM
			}
		}
	default:
		return unix.EOPNOTSUPP
	}
	ats := MayRead
	if write {
		ats = MayWrite
	}
	return v.checkPermission(ctx, vd, ats)
}

// GetxattrDentry implements getxattr(2) on vd.
func (v *VirtualFilesystem) GetxattrDentry(ctx Context, vd VirtualDentry, name string) (string, error) {
	if err := checkXattrName(name); err != nil {
		return "", err
	}
	if err := v.xattrPermission(ctx, vd, name, false); err != nil {
		return "", err
	}
	xi, ok := vd.Dentry.inode.(XattrInode)
	if !ok {
		return "", unix.EOPNOTSUPP
	}
	return xi.Getxattr(ctx, name)
}

// SetxattrDentry implements setxattr(2) on vd.
func (v *VirtualFilesystem) SetxattrDentry(ctx Context, vd VirtualDentry, name, value string, flags uint32) error {
	if flags&^(XattrCreate|XattrReplace) != 0 {
		return unix.EINVAL
	}
	if err := checkXattrName(name); err != nil {
		return err
	}
	if len(value) > XattrSizeMax {
		return unix.E2BIG
	}
	if vd.Mount.ReadOnly() {
		return unix.EROFS
	}
	if err := v.xattrPermission(ctx, vd, name, true); err != nil {
		return err
	}
	xi, ok := vd.Dentry.inode.(XattrInode)
	if !ok {
		return unix.EOPNOTSUPP
	}
	return xi.Setxattr(ctx, name, value, flags)
}

// RemovexattrDentry implements removexattr(2) on vd.
func (v *VirtualFilesystem) RemovexattrDentry(ctx Context, vd VirtualDentry, name string) error {
	if err := checkXattrName(name); err != nil {
		return err
	}
	if vd.Mount.ReadOnly() {
		return unix.EROFS
	}
	if err := v.xattrPermission(ctx, vd, name, true); err != nil {
		return err
	}
	xi, ok := vd.Dentry.inode.(XattrInode)
	if !ok {
		return unix.EOPNOTSUPP
	}
	return xi.Removexattr(ctx, name)
}

// ListxattrDentry implements listxattr(2) on vd: the names the caller may see (trusted.*
// only with CAP_SYS_ADMIN).
func (v *VirtualFilesystem) ListxattrDentry(ctx Context, vd VirtualDentry) ([]string, error) {
	xi, ok := vd.Dentry.inode.(XattrInode)
	if !ok {
		return nil, nil
	}
	names, err := xi.Listxattr(ctx)
	if err != nil {
		return nil, err
	}
	admin := ctx.Credentials().HasCapability(auth.CapSysAdmin)
	out := names[:0:0]
	for _, n := range names {
		if strings.HasPrefix(n, XattrTrustedPrefix) && !admin {
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

// XattrMap is a simple in-memory attribute store for filesystems to embed: it
// implements the storage half of XattrInode for the namespaces it is told to accept.
// The zero value is empty; the caller synchronizes access.
type XattrMap struct {
	m map[string]string
}

// Get returns name's value (ENODATA).
func (x *XattrMap) Get(name string) (string, error) {
	v, ok := x.m[name]
	if !ok {
		return "", unix.ENODATA
	}
	return v, nil
}

// Set sets name as setxattr does with flags.
func (x *XattrMap) Set(name, value string, flags uint32) error {
	_, ok := x.m[name]
	if ok && flags&XattrCreate != 0 {
		return unix.EEXIST
	}
	if !ok && flags&XattrReplace != 0 {
		return unix.ENODATA
	}
	if x.m == nil {
		x.m = make(map[string]string)
	}
	x.m[name] = value
	return nil
}

// List returns the names set.
func (x *XattrMap) List() []string {
	out := make([]string, 0, len(x.m))
	for n := range x.m {
		out = append(out, n)
	}
	return out
}

// Remove removes name (ENODATA).
func (x *XattrMap) Remove(name string) error {
	if _, ok := x.m[name]; !ok {
		return unix.ENODATA
	}
	delete(x.m, name)
	return nil
}

// Len returns the number of attributes set.
func (x *XattrMap) Len() int { return len(x.m) }

// Size returns the bytes the attributes take (names and values), for quotas.
func (x *XattrMap) Size() int {
	n := 0
	for k, v := range x.m {
		n += len(k) + len(v)
	}
	return n
}
