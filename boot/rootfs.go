package boot

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// confine gives the sandbox process an empty root: a private tmpfs holding only a proc
// mount of the sandbox's own PID namespace (the ptrace platform starts its stubs through
// /proc/self/fd). The CLI started this process in fresh mount, PID, IPC, UTS and network
// namespaces, so none of this is visible on the host and nothing needs cleaning up.
func confine() error {
	if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	// /proc exists on every host and is only a mount point here.
	const newRoot = "/proc"
	if err := unix.Mount("runsc-root", newRoot, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m"); err != nil {
		return fmt.Errorf("mounting the sandbox root: %w", err)
	}
	for _, d := range []string{"proc", "oldroot"} {
		if err := os.Mkdir(newRoot+"/"+d, 0o755); err != nil {
			return fmt.Errorf("creating %s in the sandbox root: %w", d, err)
		}
	}
	if err := unix.Mount("proc", newRoot+"/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting proc in the sandbox root: %w", err)
	}
	if err := unix.PivotRoot(newRoot, newRoot+"/oldroot"); err != nil {
		return fmt.Errorf("pivot_root into the sandbox root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir to the sandbox root: %w", err)
	}
	if err := unix.Unmount("/oldroot", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the host root: %w", err)
	}
	if err := os.Remove("/oldroot"); err != nil {
		return fmt.Errorf("removing the old root mount point: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("making the sandbox root read-only: %w", err)
	}
	return nil
}
