package overlay

import (
	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

// listDir returns the entries of directory in, without "." and "..".
func listDir(ctx vfs.Context, in vfs.Inode) ([]vfs.Dirent, error) {
	f, err := in.Open(ctx, vfs.VirtualDentry{}, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer f.Release()
	// With an emit that takes everything, one call lists the whole directory.
	var out []vfs.Dirent
	_, err = f.Getdents(ctx, 0, func(d vfs.Dirent) bool {
		if d.Name != "." && d.Name != ".." {
			out = append(out, d)
		}
		return true
	})
	return out, err
}

// readDir returns the merged entries of directory i, taking fs.mu if the upper layer
// may change under the listing.
func (i *inode) readDir(ctx vfs.Context) ([]vfs.Dirent, error) {
	u, _ := i.layers()
	if u == nil {
		return i.readDirLocked(ctx)
	}
	i.fs.mu.Lock()
	defer i.fs.mu.Unlock()
	return i.readDirLocked(ctx)
}

// readDirLocked merges the upper directory's entries (without whiteouts) with the lower
// directory's (without the names the upper one has or hides).
func (i *inode) readDirLocked(ctx vfs.Context) ([]vfs.Dirent, error) {
	i.mu.Lock()
	u, l, opaque := i.upper, i.lower, i.opaque
	i.mu.Unlock()
	var out []vfs.Dirent
	seen := map[string]int{} // name -> index in out, or -1 for a whiteout
	if u != nil {
		ents, err := listDir(ctx, u)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.Type == unix.DT_CHR {
				if us, err := u.Lookup(ctx, []string{e.Name}); err == nil && isWhiteout(ctx, us[0]) {
					seen[e.Name] = -1
					continue
				}
			}
			e.Ino |= upperInoBit
			seen[e.Name] = len(out)
			out = append(out, e)
		}
	}
	if l != nil && !opaque {
		ents, err := listDir(ctx, l)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if k, ok := seen[e.Name]; ok {
				if k >= 0 && out[k].Type == e.Type {
					// Most likely the same file, copied up: it keeps its lower number.
					out[k].Ino = e.Ino
				}
				continue
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// dirFile is an open overlay directory: a snapshot of the merged listing, taken at the
// first getdents and again at offset 0 (after a rewind). Offsets index the snapshot.
type dirFile struct {
	vfs.DirFileOps
	inode *inode
	ents  []vfs.Dirent // with "." and ".." first
	valid bool
}

// Getdents implements vfs.FileImpl.Getdents.
func (f *dirFile) Getdents(ctx vfs.Context, off int64, emit func(vfs.Dirent) bool) (int64, error) {
	if off == 0 || !f.valid {
		ents, err := f.inode.readDir(ctx)
		if err != nil {
			return off, err
		}
		parent := f.inode
		f.inode.mu.Lock()
		if f.inode.parent != nil {
			parent = f.inode.parent
		}
		f.inode.mu.Unlock()
		f.ents = append([]vfs.Dirent{
			{Name: ".", Ino: f.inode.ino, Type: unix.DT_DIR},
			{Name: "..", Ino: parent.ino, Type: unix.DT_DIR},
		}, ents...)
		f.valid = true
	}
	for ; off < int64(len(f.ents)); off++ {
		d := f.ents[off]
		d.NextOff = off + 1
		if !emit(d) {
			break
		}
	}
	return off, nil
}
