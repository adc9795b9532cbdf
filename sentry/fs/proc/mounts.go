package proc

import (
	"bytes"
	"fmt"
	"strings"

	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// mountEntry is one mount as the task sees it.
type mountEntry struct {
	m     *vfs.Mount
	point string // the mount point, from the task's root
}

// visibleMounts returns the mounts under the task's root, in mount order.
func visibleMounts(t *kernel.Task) []mountEntry {
	v := t.Kernel().VFS()
	root := t.FSContext().Root()
	var out []mountEntry
	for _, m := range v.Mounts() {
		vd := vfs.VirtualDentry{Mount: m, Dentry: m.Root()}
		p, ok := v.PathFrom(root, vd)
		if !ok {
			continue
		}
		out = append(out, mountEntry{m, p})
	}
	return out
}

// mountFlags renders a mount's per-mount flags as /proc/mounts shows them.
func mountFlags(m *vfs.Mount) string {
	f := m.Flags()
	opts := "rw"
	if f&vfs.MountReadOnly != 0 {
		opts = "ro"
	}
	for _, o := range []struct {
		bit  uint32
		name string
	}{{vfs.MountNoSUID, "nosuid"}, {vfs.MountNoDev, "nodev"}, {vfs.MountNoExec, "noexec"}} {
		if f&o.bit != 0 {
			opts += "," + o.name
		}
	}
	return opts + ",relatime"
}

// superOptions renders the filesystem's own options.
func superOptions(m *vfs.Mount) string {
	opts := "rw"
	if m.Flags()&vfs.MountReadOnly != 0 {
		opts = "ro"
	}
	if op, ok := m.Filesystem().(vfs.OptionsProvider); ok {
		if s := op.MountOptions(); s != "" {
			opts += "," + s
		}
	}
	return opts
}

// escape escapes the characters /proc/mounts escapes (space, tab, newline, backslash).
func escape(s string) string {
	r := strings.NewReplacer(" ", `\040`, "\t", `\011`, "\n", `\012`, `\`, `\134`)
	return r.Replace(s)
}

func mounts(_ vfs.Context, t *kernel.Task) ([]byte, error) {
	var b bytes.Buffer
	for _, e := range visibleMounts(t) {
		flags := mountFlags(e.m)
		if op, ok := e.m.Filesystem().(vfs.OptionsProvider); ok {
			if s := op.MountOptions(); s != "" {
				flags += "," + s
			}
		}
		fmt.Fprintf(&b, "%s %s %s %s 0 0\n", escape(e.m.Source()), escape(e.point), e.m.Filesystem().Name(), flags)
	}
	return b.Bytes(), nil
}

func mountinfo(ctx vfs.Context, t *kernel.Task) ([]byte, error) {
	var b bytes.Buffer
	for _, e := range visibleMounts(t) {
		parent := e.m.ID()
		if p := e.m.Parent(); p != nil {
			parent = p.ID()
		}
		var major, minor uint32
		if st, err := e.m.Root().Inode().Stat(ctx); err == nil {
			major, minor = st.DevMajor, st.DevMinor
		}
		fmt.Fprintf(&b, "%d %d %d:%d / %s %s - %s %s %s\n", e.m.ID(), parent, major, minor,
			escape(e.point), mountFlags(e.m), e.m.Filesystem().Name(), escape(e.m.Source()), superOptions(e.m))
	}
	return b.Bytes(), nil
}
