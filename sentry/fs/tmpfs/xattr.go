package tmpfs

import (
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

// maxXattrBytes bounds the names and values of the user.* attributes of one inode, as
// Linux's tmpfs bounds them (its per-inode quota of 128 KiB less overhead).
const maxXattrBytes = 128 << 10

// storedNamespace reports whether tmpfs keeps attributes of name's namespace (security,
// trusted and user; system.* would be POSIX ACLs, which are not implemented).
func storedNamespace(name string) bool {
	return strings.HasPrefix(name, vfs.XattrUserPrefix) || strings.HasPrefix(name, vfs.XattrTrustedPrefix) ||
		strings.HasPrefix(name, vfs.XattrSecurityPrefix)
}

// Getxattr implements vfs.XattrInode.Getxattr.
func (i *inode) Getxattr(ctx vfs.Context, name string) (string, error) {
	if !storedNamespace(name) {
		if strings.HasPrefix(name, vfs.XattrSystemPrefix) {
			return "", unix.ENODATA
		}
		return "", unix.EOPNOTSUPP
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.xattrs.Get(name)
}

// Setxattr implements vfs.XattrInode.Setxattr.
func (i *inode) Setxattr(ctx vfs.Context, name, value string, flags uint32) error {
	if !storedNamespace(name) {
		return unix.EOPNOTSUPP
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if strings.HasPrefix(name, vfs.XattrUserPrefix) {
		old, _ := i.xattrs.Get(name)
		if i.xattrs.Size()-len(old)+len(name)+len(value) > maxXattrBytes {
			return unix.ENOSPC
		}
	}
	if err := i.xattrs.Set(name, value, flags); err != nil {
		return err
	}
	i.ctime = vfs.Now()
	return nil
}

// Listxattr implements vfs.XattrInode.Listxattr.
func (i *inode) Listxattr(ctx vfs.Context) ([]string, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.xattrs.List(), nil
}

// Removexattr implements vfs.XattrInode.Removexattr.
func (i *inode) Removexattr(ctx vfs.Context, name string) error {
	if !storedNamespace(name) {
		return unix.EOPNOTSUPP
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if err := i.xattrs.Remove(name); err != nil {
		return err
	}
	i.ctime = vfs.Now()
	return nil
}
