package gofer

import (
	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

// Extended attributes are cached per inode, as attributes are (the filesystem is
// exclusive to the sandbox): the first call fetches the list of names, values are
// fetched on first use, and changes made through this filesystem update the cache. A
// file without attributes (the usual case) answers every getxattr with no round trip.

// loadXattrNamesLocked fetches the list of names (i.xmu held).
func (i *inode) loadXattrNamesLocked() error {
	if i.xnames != nil {
		return nil
	}
	names, err := i.fs.client.Listxattr(i.h)
	if err != nil {
		return err
	}
	i.xnames = make(map[string][]byte, len(names))
	for _, n := range names {
		i.xnames[n] = nil
	}
	return nil
}

// Getxattr implements vfs.XattrInode.Getxattr.
func (i *inode) Getxattr(ctx vfs.Context, name string) (string, error) {
	i.xmu.Lock()
	defer i.xmu.Unlock()
	if err := i.loadXattrNamesLocked(); err != nil {
		return "", err
	}
	v, ok := i.xnames[name]
	if !ok {
		return "", unix.ENODATA
	}
	if v == nil {
		b, err := i.fs.client.Getxattr(i.h, name)
		if err != nil {
			return "", err
		}
		if b == nil {
			b = []byte{}
		}
		i.xnames[name] = b
		v = b
	}
	return string(v), nil
}

// Listxattr implements vfs.XattrInode.Listxattr.
func (i *inode) Listxattr(ctx vfs.Context) ([]string, error) {
	i.xmu.Lock()
	defer i.xmu.Unlock()
	if err := i.loadXattrNamesLocked(); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(i.xnames))
	for n := range i.xnames {
		out = append(out, n)
	}
	return out, nil
}

// Setxattr implements vfs.XattrInode.Setxattr.
func (i *inode) Setxattr(ctx vfs.Context, name, value string, flags uint32) error {
	if i.fs.readOnly {
		return unix.EROFS
	}
	i.xmu.Lock()
	defer i.xmu.Unlock()
	if err := i.fs.client.Setxattr(i.h, name, []byte(value), flags); err != nil {
		return err
	}
	i.stale.Store(true)
	if i.xnames != nil {
		i.xnames[name] = []byte(value)
	}
	return nil
}

// Removexattr implements vfs.XattrInode.Removexattr.
func (i *inode) Removexattr(ctx vfs.Context, name string) error {
	if i.fs.readOnly {
		return unix.EROFS
	}
	i.xmu.Lock()
	defer i.xmu.Unlock()
	if err := i.fs.client.Removexattr(i.h, name); err != nil {
		return err
	}
	i.stale.Store(true)
	if i.xnames != nil {
		delete(i.xnames, name)
	}
	return nil
}
