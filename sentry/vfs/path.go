package vfs

import "strings"

// PathNamer is implemented by inodes of files without a path (host files, pipes) to name
// themselves in /proc/self/fd ("pipe:[42]", "/dev/pts/0").
type PathNamer interface {
	PathName() string
}

// PathFrom returns the absolute path of vd as seen from root, and whether vd is reachable
// from root at all (when it is not, the path is from the namespace root). A removed file
// gets Linux's " (deleted)" suffix only from PathForProc.
func (v *VirtualFilesystem) PathFrom(root, vd VirtualDentry) (string, bool) {
	if vd.Mount == v.anon {
		if n, ok := vd.Dentry.inode.(PathNamer); ok {
			return n.PathName(), false
		}
		return "anon_inode:[file]", false
	}
	v.renameMu.RLock()
	defer v.renameMu.RUnlock()
	var comps []string
	reachable := true
	for vd != root {
		if vd.Dentry == vd.Mount.root {
			p, d := vd.Mount.attachment()
			if p == nil {
				reachable = false
				break
			}
			vd = VirtualDentry{Mount: p, Dentry: d}
			continue
		}
		l := vd.Dentry.link.Load()
		if l == nil {
			reachable = false
			break
		}
		comps = append(comps, l.name)
		vd.Dentry = l.parent
	}
	if len(comps) == 0 {
		return "/", reachable
	}
	var b strings.Builder
	for i := len(comps) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(comps[i])
	}
	return b.String(), reachable
}

// PathForProc returns vd's path as /proc/self/fd and /proc/self/cwd show it: with
// " (deleted)" after a removed file.
func (v *VirtualFilesystem) PathForProc(root, vd VirtualDentry) string {
	p, _ := v.PathFrom(root, vd)
	if vd.Dentry.dead.Load() {
		p += " (deleted)"
	}
	return p
}
