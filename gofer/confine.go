package gofer

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Confine locks the calling process into root. It must run in a process that
// was started in a fresh mount namespace (the CLI starts `runsc gofer` with
// CLONE_NEWNS) and before any other file is opened. It
//   - makes every mount private (so nothing propagates back to the host),
//   - bind-mounts root onto itself and remounts it nodev,nosuid (and read-only
//     if readOnly), keeping the flags the source mount already locks,
//   - pivot_roots into it and detaches the old root, so that "/.." is root
//     and no host path outside it is reachable,
//   - drops every capability but those the server needs, in every thread,
//     and sets no_new_privs.
//
// It returns an O_PATH|O_DIRECTORY fd of the new root for Serve.
func Confine(root string, readOnly bool) (rootFD int, err error) {
	if err := confineMounts(root, readOnly); err != nil {
		return -1, err
	}
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening the new root: %w", err)
	}
	if err := dropPrivileges(readOnly); err != nil {
		unix.Close(fd)
		return -1, err
	}
	// TODO(gofer-seccomp): install the gofer's seccomp allow-list of host
	// system calls here. Not implemented yet: the gofer currently runs with
	// no seccomp filter.
	return fd, nil
}

// confineMounts does the mount namespace part of Confine.
func confineMounts(root string, readOnly bool) error {
	if !filepath.IsAbs(root) {
		return fmt.Errorf("root %q is not an absolute path", root)
	}
	root = filepath.Clean(root)
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		return fmt.Errorf("root %q: %w", root, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("root %q is not a directory", root)
	}
	if same, err := sameMountNamespaceAsInit(); err == nil && same {
		return fmt.Errorf("refusing to change mounts in the host's mount namespace (start the gofer with CLONE_NEWNS)")
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private (is this a new mount namespace?): %w", err)
	}
	// Bind the root onto a staging directory rather than onto itself: a mount on top of
	// the process's own root (root "/") is not reachable by chdir("/"), so pivot_root
	// into it would fail with EBUSY. The staging directory lives on a tmpfs mounted over
	// /proc, which exists on every host and is private to this namespace.
	const stage = "/proc"
	if err := unix.Mount("runsc-gofer-stage", stage, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700,size=64k"); err != nil {
		return fmt.Errorf("mounting the staging tmpfs: %w", err)
	}
	staged := stage + "/root"
	if err := unix.Mkdir(staged, 0o700); err != nil {
		return fmt.Errorf("creating the staging directory: %w", err)
	}
	if err := unix.Mount(root, staged, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting root %q: %w", root, err)
	}
	root = staged
	var sf unix.Statfs_t
	if err := unix.Statfs(root, &sf); err != nil {
		return fmt.Errorf("statfs root %q: %w", root, err)
	}
	flags := uintptr(unix.MS_REMOUNT|unix.MS_BIND|unix.MS_NODEV|unix.MS_NOSUID) | lockedMountFlags(sf.Flags)
	if readOnly {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount("", root, "", flags, ""); err != nil {
		return fmt.Errorf("remounting root %q (nodev,nosuid,ro=%v): %w", root, readOnly, err)
	}
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("chdir to root %q: %w", root, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root into the staged root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir to the new root: %w", err)
	}
	return nil
}

// sameMountNamespaceAsInit reports whether this process shares the mount
// namespace of pid 1 (an error if /proc cannot tell).
func sameMountNamespaceAsInit() (bool, error) {
	var self, init unix.Stat_t
	if err := unix.Stat("/proc/self/ns/mnt", &self); err != nil {
		return false, err
	}
	if err := unix.Stat("/proc/1/ns/mnt", &init); err != nil {
		return false, err
	}
	return self.Dev == init.Dev && self.Ino == init.Ino, nil
}

// lockedMountFlags returns the MS_* flags matching the ST_* flags that a bind
// remount must keep (in a user namespace they are locked and dropping them
// fails with EPERM).
func lockedMountFlags(st int64) uintptr {
	var ms uintptr
	for _, f := range []struct {
		st int64
		ms uintptr
	}{
		{unix.ST_RDONLY, unix.MS_RDONLY},
		{unix.ST_NOSUID, unix.MS_NOSUID},
		{unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st&f.st != 0 {
			ms |= f.ms
		}
	}
	return ms
}

// keptCaps returns the capabilities the gofer keeps. CAP_MKNOD is not among
// them: the gofer creates no device nodes.
func keptCaps(readOnly bool) []int {
	if readOnly {
		return []int{unix.CAP_DAC_OVERRIDE, unix.CAP_DAC_READ_SEARCH}
	}
	return []int{unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_DAC_READ_SEARCH, unix.CAP_FOWNER, unix.CAP_FSETID}
}
