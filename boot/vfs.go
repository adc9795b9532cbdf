package boot

import (
	"fmt"

	"golang.org/x/sys/unix"

	"runsc.dev/gofer/proto"
	"runsc.dev/sentry/fs/dev"
	"runsc.dev/sentry/fs/gofer"
	"runsc.dev/sentry/fs/host"
	"runsc.dev/sentry/fs/proc"
	"runsc.dev/sentry/fs/tmpfs"
	"runsc.dev/sentry/vfs"
)

// buildMounts builds the container's mount tree for `runsc do`: the gofer's root,
// read-only, with the sandbox's own tmpfs on /tmp and /dev/shm, proc on /proc, and
// devices on /dev.
func buildMounts(client *proto.Client) (*vfs.VirtualFilesystem, vfs.VirtualDentry, error) {
	ctx := vfs.NewKernelContext()
	v := vfs.New()
	rootfs, err := gofer.NewFilesystem(client, true)
	if err != nil {
		return nil, vfs.VirtualDentry{}, fmt.Errorf("mounting the root from the gofer: %w", err)
	}
	if err := v.MountRoot(ctx, rootfs, vfs.MountReadOnly); err != nil {
		return nil, vfs.VirtualDentry{}, fmt.Errorf("mounting the root: %w", err)
	}
	devfs, err := dev.New(ctx)
	if err != nil {
		return nil, vfs.VirtualDentry{}, fmt.Errorf("creating /dev: %w", err)
	}
	mounts := []struct {
		path  string
		fs    vfs.Filesystem
		flags uint32
	}{
		{"/tmp", tmpfs.New(tmpfs.Options{Mode: 0o1777}), vfs.MountNoSUID | vfs.MountNoDev},
		{"/proc", proc.New(), vfs.MountNoSUID | vfs.MountNoDev | vfs.MountNoExec},
		{"/dev", devfs, vfs.MountNoSUID},
		{"/dev/shm", tmpfs.New(tmpfs.Options{Mode: 0o1777}), vfs.MountNoSUID | vfs.MountNoDev},
	}
	for _, m := range mounts {
		if err := v.Mount(ctx, m.path, m.fs, m.flags); err != nil {
			return nil, vfs.VirtualDentry{}, fmt.Errorf("mounting %s: %w", m.path, err)
		}
	}
	return v, v.Root(), nil
}

// newFSContext gives the first process its root and working directory.
func newFSContext(ctx vfs.Context, v *vfs.VirtualFilesystem, root vfs.VirtualDentry, cwd string) (*vfs.FSContext, error) {
	d, err := v.GetDentryAt(ctx, root, root, cwd, true)
	if err != nil {
		return nil, err
	}
	if !d.Dentry.IsDir() {
		return nil, unix.ENOTDIR
	}
	return vfs.NewFSContext(root, d, 0o022), nil
}

// stdioTable makes the caller's stdin, stdout and stderr the first process's fds 0-2.
func stdioTable(v *vfs.VirtualFilesystem) (*vfs.FDTable, error) {
	fdt := vfs.NewFDTable()
	for i := 0; i < 3; i++ {
		hfd, err := unix.FcntlInt(uintptr(i), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			// A closed stdio fd stays closed in the sandbox too.
			continue
		}
		f, err := host.NewFile(v, hfd)
		if err != nil {
			unix.Close(hfd)
			return nil, fmt.Errorf("wrapping stdio fd %d: %w", i, err)
		}
		err = fdt.NewFDAt(int32(i), f, false)
		f.DecRef()
		if err != nil {
			return nil, fmt.Errorf("installing stdio fd %d: %w", i, err)
		}
	}
	return fdt, nil
}
