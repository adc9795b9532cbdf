package boot

import (
	"fmt"
	"path"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"runsc.dev/gofer/proto"
	"runsc.dev/sentry/fs/tmpfs"
	"runsc.dev/sentry/vfs"
)

// The mount tree of an OCI container, built with BuildMountTree (boot/vfs.go) from what
// the CLI planned with specutils.PlanMounts:
//   - the root gofer serves root.path; the CLI has already bound every bind-mounted
//     *file* into that tree on the host (in the gofer's private mount namespace, with
//     the host's read-only flag where asked), so those need nothing here;
//   - every bind-mounted directory has its own gofer connection;
//   - tmpfs, proc and /dev are the sandbox's own;
//   - /dev and /dev/shm are added when the spec has none;
// then maskedPaths and readonlyPaths are applied here.

// ContainerMount is one mount of a container as the CLI passes it to the sandbox.
type ContainerMount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type"`
	Source      string   `json:"source"`
	Options     []string `json:"options,omitempty"`
	// GoferFD is the index, among the gofer fds passed to the sandbox, of the gofer
	// serving a bind-mounted directory; -1 for other mounts.
	GoferFD       int  `json:"goferFD"`
	GoferWritable bool `json:"goferWritable,omitempty"`
}

// containerMountSpecs turns the CLI's mounts into MountSpecs, attaching gofer clients.
func containerMountSpecs(mounts []ContainerMount, clients []*proto.Client) ([]MountSpec, error) {
	var out []MountSpec
	haveDev, haveShm := false, false
	for i, m := range mounts {
		ms := MountSpec{Destination: m.Destination, Type: m.Type, Source: m.Source, Options: m.Options, GoferWritable: m.GoferWritable}
		if m.GoferFD >= 0 {
			if m.GoferFD >= len(clients) {
				return nil, fmt.Errorf("mount %d (%s): no gofer connection %d", i, m.Destination, m.GoferFD)
			}
			ms.Client = clients[m.GoferFD]
			ms.Type = "bind"
		}
		haveDev = haveDev || m.Destination == "/dev"
		haveShm = haveShm || m.Destination == "/dev/shm"
		out = append(out, ms)
	}
	if !haveDev {
		out = append(out, MountSpec{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}})
	}
	if !haveShm {
		out = append(out, MountSpec{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "nodev", "mode=1777"}})
	}
	return out, nil
}

// subtree is a directory of a mounted filesystem presented as a filesystem of its own:
// the sandbox's equivalent of a bind mount of that directory.
type subtree struct {
	vfs.Filesystem
	root vfs.Inode
}

// Root implements vfs.Filesystem.
func (s *subtree) Root() vfs.Inode { return s.root }

// warnFunc records something of the spec that could not be done as asked.
type warnFunc func(format string, args ...any)

// maskPath hides a directory under an empty read-only tmpfs, and a file under the
// sandbox's /dev/null (as runc does). A missing path needs nothing.
func maskPath(ctx vfs.Context, v *vfs.VirtualFilesystem, p string, warn warnFunc) {
	root := v.Root()
	vd, err := v.GetDentryAt(ctx, root, root, p, true)
	if err != nil {
		return
	}
	var fs vfs.Filesystem = tmpfs.New(tmpfs.Options{Mode: 0o555, MaxBytes: 1})
	flags := uint32(vfs.MountReadOnly | vfs.MountNoSUID | vfs.MountNoDev | vfs.MountNoExec)
	if !vd.Dentry.IsDir() {
		// /dev/null as /dev has it: readable (empty) and writable (discarding).
		flags = vfs.MountNoSUID | vfs.MountNoExec
		null, err := v.GetDentryAt(ctx, root, root, "/dev/null", true)
		if err != nil {
			warn("linux.maskedPaths: %s: no /dev/null to mask the file with: %v", p, err)
			return
		}
		fs = &subtree{Filesystem: null.Mount.Filesystem(), root: null.Dentry.Inode()}
	}
	if err := v.MountAt(ctx, vd, fs, flags); err != nil {
		warn("linux.maskedPaths: %s: %v", p, err)
	}
}

// readonlyPath mounts a directory or file again over itself, read-only.
func readonlyPath(ctx vfs.Context, v *vfs.VirtualFilesystem, p string, warn warnFunc) {
	root := v.Root()
	vd, err := v.GetDentryAt(ctx, root, root, p, true)
	if err != nil {
		return
	}
	fs := &subtree{Filesystem: vd.Mount.Filesystem(), root: vd.Dentry.Inode()}
	if err := v.MountAt(ctx, vd, fs, vd.Mount.Flags()|vfs.MountReadOnly); err != nil {
		warn("linux.readonlyPaths: %s: %v", p, err)
	}
}

// createDevices makes the spec's linux.devices nodes (as runc does with mknod): a node
// whose major the sandbox's kernel has no driver for opens with ENXIO, as on Linux
// without the driver. An existing node of another type or number is replaced.
func createDevices(ctx vfs.Context, v *vfs.VirtualFilesystem, devices []specs.LinuxDevice, warn warnFunc) {
	root := v.Root()
	for i, d := range devices {
		var typ uint32
		switch d.Type {
		case "c", "u":
			typ = unix.S_IFCHR
		case "b":
			typ = unix.S_IFBLK
		case "p":
			typ = unix.S_IFIFO
		default:
			warn("linux.devices[%d] (%s): unknown type %q", i, d.Path, d.Type)
			continue
		}
		mode := uint32(0o666)
		if d.FileMode != nil {
			mode = uint32(*d.FileMode) & 0o7777
		}
		rdev := unix.Mkdev(uint32(d.Major), uint32(d.Minor))
		same := false
		if st, err := v.StatAt(ctx, root, root, d.Path, false); err == nil {
			same = st.Mode&unix.S_IFMT == typ && (typ == unix.S_IFIFO || st.Rdev() == rdev)
			if !same {
				if err := v.UnlinkAt(ctx, root, root, d.Path); err != nil {
					warn("linux.devices[%d] (%s): replacing the existing file: %v", i, d.Path, err)
					continue
				}
			}
		}
		if !same {
			if err := makeMountPoint(ctx, v, root, path.Dir(d.Path)); err != nil {
				warn("linux.devices[%d] (%s): %v", i, d.Path, err)
				continue
			}
			if err := v.MknodAt(ctx, root, root, d.Path, typ|mode, rdev); err != nil {
				warn("linux.devices[%d] (%s): %v", i, d.Path, err)
				continue
			}
		}
		opts := vfs.SetStatOptions{Mask: vfs.SetStatMode, Mode: mode}
		if d.UID != nil {
			opts.Mask |= vfs.SetStatUID
			opts.UID = *d.UID
		}
		if d.GID != nil {
			opts.Mask |= vfs.SetStatGID
			opts.GID = *d.GID
		}
		if err := v.SetStatAt(ctx, root, root, d.Path, false, opts); err != nil {
			warn("linux.devices[%d] (%s): %v", i, d.Path, err)
		}
	}
}
