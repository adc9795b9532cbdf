package proc

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel/auth"
	"runsc.dev/sentry/vfs"
)

// sysNode is a file or directory of /proc/sys: a directory has children; a file has a
// value generator and, if writable by root, a setter.
type sysNode struct {
	name     string
	children []sysNode
	value    func(ctx vfs.Context) string
}

func constant(s string) func(vfs.Context) string { return func(vfs.Context) string { return s } }

func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// bootID is /proc/sys/kernel/random/boot_id: one per sandbox.
var bootID = uuid()

// sysTree is /proc/sys: the entries programs commonly read.
var sysTree = sysNode{name: "sys", children: []sysNode{
	{name: "fs", children: []sysNode{
		{name: "file-max", value: constant("9223372036854775807")},
		{name: "file-nr", value: constant("0\t0\t9223372036854775807")},
		{name: "nr_open", value: constant("1048576")},
		{name: "pipe-max-size", value: constant("1048576")},
		{name: "protected_hardlinks", value: constant("1")},
		{name: "protected_symlinks", value: constant("1")},
		{name: "inotify", children: []sysNode{
			{name: "max_queued_events", value: constant("16384")},
			{name: "max_user_instances", value: constant("128")},
			{name: "max_user_watches", value: constant("65536")},
		}},
	}},
	{name: "kernel", children: []sysNode{
		{name: "cap_last_cap", value: constant(strconv.Itoa(auth.CapLastCap))},
		{name: "domainname", value: constant("(none)")},
		{name: "hostname", value: func(ctx vfs.Context) string {
			if k := kernelOf(ctx); k != nil {
				return k.Hostname()
			}
			return "localhost"
		}},
		{name: "ngroups_max", value: constant("65536")},
		{name: "osrelease", value: constant(osRelease)},
		{name: "ostype", value: constant("Linux")},
		{name: "overflowgid", value: constant("65534")},
		{name: "overflowuid", value: constant("65534")},
		{name: "pid_max", value: func(ctx vfs.Context) string {
			if k := kernelOf(ctx); k != nil {
				return strconv.Itoa(int(k.PIDMax()))
			}
			return "4194304"
		}},
		{name: "random", children: []sysNode{
			{name: "boot_id", value: constant(bootID)},
			{name: "entropy_avail", value: constant("256")},
			{name: "poolsize", value: constant("256")},
			{name: "uuid", value: func(vfs.Context) string { return uuid() }},
		}},
		{name: "shmall", value: constant("18446744073692774399")},
		{name: "shmmax", value: constant("18446744073692774399")},
		{name: "shmmni", value: constant("4096")},
		{name: "threads-max", value: constant("127431")},
		{name: "version", value: constant(osVersion)},
		{name: "yama", children: []sysNode{
			{name: "ptrace_scope", value: constant("1")},
		}},
	}},
	{name: "vm", children: []sysNode{
		{name: "max_map_count", value: constant("65530")},
		{name: "mmap_min_addr", value: constant("65536")},
		{name: "overcommit_kbytes", value: constant("0")},
		{name: "overcommit_memory", value: constant("0")},
		{name: "overcommit_ratio", value: constant("50")},
		{name: "swappiness", value: constant("60")},
	}},
}}

// sysDir returns /proc/sys.
func (fs *Filesystem) sysDir(ino uint64) vfs.Inode {
	return fs.sysInode("sys", &sysTree, ino)
}

// sysInode returns the inode of node n at path p (relative to /proc).
func (fs *Filesystem) sysInode(p string, n *sysNode, ino uint64) vfs.Inode {
	if n.children == nil {
		f := fs.newFile(ino, 0, 0644, func(ctx vfs.Context) ([]byte, error) {
			return []byte(n.value(ctx) + "\n"), nil
		})
		f.write = func(ctx vfs.Context, data []byte) error {
			if t := taskOf(ctx); t != nil {
				t.Unsupported("write to /proc/" + p)
			}
			return unix.EPERM
		}
		return f
	}
	d := &dirInode{base: base{fs: fs, ino: ino, mode: unix.S_IFDIR | 0555}}
	static := n
	// The directory as the container's sysctls (linux.sysctl) extend it.
	current := func(ctx vfs.Context) *sysNode {
		if k := kernelOf(ctx); k != nil {
			if ov := k.Sysctls(); len(ov) > 0 {
				if m := withSysctls(&sysTree, ov).at(p); m != nil {
					return m
				}
			}
		}
		return static
	}
	d.lookup = func(ctx vfs.Context, name string) (vfs.Inode, error) {
		n := current(ctx)
		for i := range n.children {
			c := &n.children[i]
			if c.name == name {
				cp := p + "/" + name
				return fs.sysInode(cp, c, fs.inoForPath(cp)), nil
			}
		}
		return nil, unix.ENOENT
	}
	d.list = func(ctx vfs.Context) []entry {
		n := current(ctx)
		out := make([]entry, 0, len(n.children))
		for _, c := range n.children {
			t := uint8(unix.DT_REG)
			if c.children != nil {
				t = unix.DT_DIR
			}
			out = append(out, entry{c.name, fs.inoForPath(p + "/" + c.name), t})
		}
		return out
	}
	return d
}

// withSysctls returns a copy of tree with the given sysctls (dotted keys such as
// net.ipv4.ip_forward) set: existing files show the given value, missing files and
// directories are added.
func withSysctls(tree *sysNode, sysctls map[string]string) *sysNode {
	root := tree.clone()
	for key, val := range sysctls {
		n := root
		parts := strings.Split(key, ".")
		for i, name := range parts {
			var c *sysNode
			for j := range n.children {
				if n.children[j].name == name {
					c = &n.children[j]
					break
				}
			}
			last := i == len(parts)-1
			if c == nil {
				n.children = append(n.children, sysNode{name: name})
				c = &n.children[len(n.children)-1]
				if !last {
					c.children = []sysNode{}
				}
			}
			if last {
				if c.children == nil {
					c.value = constant(val)
				}
				break
			}
			if c.children == nil {
				break // a file in the way: the key names nothing
			}
			n = c
		}
	}
	return root
}

// clone copies n deeply.
func (n *sysNode) clone() *sysNode {
	c := *n
	if n.children != nil {
		c.children = make([]sysNode, len(n.children))
		for i := range n.children {
			c.children[i] = *n.children[i].clone()
		}
	}
	return &c
}

// at returns the node at p ("sys" or "sys/a/b"), or nil.
func (n *sysNode) at(p string) *sysNode {
	parts := strings.Split(p, "/")
	if len(parts) == 0 || parts[0] != n.name {
		return nil
	}
	for _, name := range parts[1:] {
		var next *sysNode
		for i := range n.children {
			if n.children[i].name == name {
				next = &n.children[i]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}
