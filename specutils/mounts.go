package specutils

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// MountKind says who provides a mount of the spec.
type MountKind int

// Mount kinds.
const (
	// MountBind is a bind mount of a host path: the CLI binds it into the tree the gofer
	// serves, and the sandbox mounts that subtree (directories) with the mount's flags.
	MountBind MountKind = iota
	// MountTmpfs, MountProc and MountDev are the sandbox's own filesystems.
	MountTmpfs
	MountProc
	MountDev
	// MountKernelFS is another filesystem of the sandbox's kernel: devpts, sysfs,
	// cgroup/cgroup2 and mqueue (an empty read-only directory: POSIX message queues are
	// not implemented).
	MountKernelFS
	// MountSkip is not mounted; Reason says why.
	MountSkip
)

// PlannedMount is one entry of spec.mounts as runsc will realise it.
type PlannedMount struct {
	Index       int // in spec.mounts
	Kind        MountKind
	Destination string // cleaned, absolute
	Source      string
	Type        string
	Flags       uintptr  // MS_* flags from the options
	Data        []string // filesystem options (mode=, size=, ...)
	Reason      string   // for MountSkip
}

// ReadOnly reports whether the mount is read-only.
func (m *PlannedMount) ReadOnly() bool { return m.Flags&unix.MS_RDONLY != 0 }

// sandboxOwned are the directories whose contents the sandbox provides itself when the
// spec mounts them: a bind mount below them would be hidden.
func internal(kind MountKind) bool {
	return kind == MountTmpfs || kind == MountProc || kind == MountDev || kind == MountKernelFS
}

// PlanMounts decides, for every mount of the spec, how runsc realises it. The CLI (which
// prepares bind mounts for the gofer) and the sandbox (which builds its mount tree) both
// follow this plan, so they agree.
func PlanMounts(spec *specs.Spec) []PlannedMount {
	plan := make([]PlannedMount, 0, len(spec.Mounts))
	for i, m := range spec.Mounts {
		flags, data, _ := MountOptions(m.Options)
		p := PlannedMount{
			Index: i, Destination: filepath.Clean(m.Destination), Source: m.Source,
			Type: m.Type, Flags: flags, Data: data,
		}
		switch {
		case p.Destination == "/":
			p.Kind, p.Reason = MountSkip, "a mount on / is not supported (root.path is the root)"
		case IsBindMount(&m) && p.Destination == "/dev/shm":
			// The sandbox's shared memory is its own: a host directory cannot back it.
			p.Kind, p.Flags = MountTmpfs, flags&^(unix.MS_BIND|unix.MS_REC)
			p.Data = nil
		case IsBindMount(&m):
			p.Kind = MountBind
			p.Source = filepath.Clean(m.Source)
		case m.Type == "tmpfs" && p.Destination == "/dev":
			p.Kind = MountDev
		case m.Type == "tmpfs":
			p.Kind = MountTmpfs
		case m.Type == "proc":
			p.Kind = MountProc
		case m.Type == "devpts" || m.Type == "sysfs" || m.Type == "cgroup" || m.Type == "cgroup2" || m.Type == "mqueue":
			p.Kind = MountKernelFS
		case m.Type == "":
			p.Kind, p.Reason = MountSkip, "no type and not a bind mount"
		default:
			p.Kind, p.Reason = MountSkip, fmt.Sprintf("filesystem type %q is not supported in the sandbox", m.Type)
		}
		plan = append(plan, p)
	}
	// A bind mount below a directory that the sandbox mounts itself would be hidden by it.
	for i := range plan {
		if plan[i].Kind != MountBind {
			continue
		}
		for j := range plan {
			if internal(plan[j].Kind) && strings.HasPrefix(plan[i].Destination, plan[j].Destination+"/") {
				plan[i].Kind = MountSkip
				plan[i].Reason = fmt.Sprintf("bind mounts below %s (which the sandbox provides itself) are not supported", plan[j].Destination)
				break
			}
		}
	}
	return plan
}

// TmpfsOptions parses the data options of a tmpfs mount: mode (octal), size (bytes, with
// k, m, g or % suffix; % is not supported), uid and gid. Others are ignored.
func TmpfsOptions(data []string) (mode uint32, size int64, uid, gid uint32, err error) {
	mode = 0o1777
	for _, o := range data {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			continue
		}
		switch k {
		case "mode":
			n, e := strconv.ParseUint(v, 8, 32)
			if e != nil || n > 0o7777 {
				return 0, 0, 0, 0, fmt.Errorf("tmpfs option %q: not an octal mode", o)
			}
			mode = uint32(n)
		case "size":
			n, e := parseSize(v)
			if e != nil {
				return 0, 0, 0, 0, fmt.Errorf("tmpfs option %q: %v", o, e)
			}
			size = n
		case "uid", "gid":
			n, e := strconv.ParseUint(v, 10, 32)
			if e != nil {
				return 0, 0, 0, 0, fmt.Errorf("tmpfs option %q: not a number", o)
			}
			if k == "uid" {
				uid = uint32(n)
			} else {
				gid = uint32(n)
			}
		}
	}
	return mode, size, uid, gid, nil
}

func parseSize(v string) (int64, error) {
	if v == "" {
		return 0, fmt.Errorf("empty size")
	}
	mult := int64(1)
	switch v[len(v)-1] {
	case 'k', 'K':
		mult = 1 << 10
	case 'm', 'M':
		mult = 1 << 20
	case 'g', 'G':
		mult = 1 << 30
	case '%':
		return 0, nil // a share of memory: no fixed bound
	}
	if mult != 1 {
		v = v[:len(v)-1]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size", v)
	}
	return n * mult, nil
}
