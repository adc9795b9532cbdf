package proc

import (
	"strconv"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// pidDir returns /proc/<tid>.
func (fs *Filesystem) pidDir(tid int32) vfs.Inode {
	d := &dirInode{base: base{fs: fs, ino: inoOf(tid, 0), tid: tid, mode: unix.S_IFDIR | 0555}}
	d.lookup = func(ctx vfs.Context, name string) (vfs.Inode, error) {
		for i, e := range pidEntries {
			if e.name == name {
				if target(ctx, tid) == nil {
					return nil, unix.ENOENT
				}
				return e.make(fs, tid, inoOf(tid, i+1)), nil
			}
		}
		return nil, unix.ENOENT
	}
	d.list = func(ctx vfs.Context) []entry {
		var ents []entry
		for i, e := range pidEntries {
			ents = append(ents, entry{e.name, inoOf(tid, i+1), e.dtype})
		}
		return ents
	}
	return d
}

var pidEntries = []struct {
	name  string
	dtype uint8
	make  func(fs *Filesystem, tid int32, ino uint64) vfs.Inode
}{
	{"exe", unix.DT_LNK, func(fs *Filesystem, tid int32, ino uint64) vfs.Inode {
		return fs.newLink(ino, tid, func(ctx vfs.Context) (string, error) {
			t := target(ctx, tid)
			if t == nil {
				return "", unix.ENOENT
			}
			return t.ExecutablePath(), nil
		}, nil)
	}},
	{"cwd", unix.DT_LNK, func(fs *Filesystem, tid int32, ino uint64) vfs.Inode {
		return fs.newLink(ino, tid, func(ctx vfs.Context) (string, error) {
			t := target(ctx, tid)
			if t == nil {
				return "", unix.ENOENT
			}
			root, cwd := t.FSContext().RootAndCwd()
			return t.Kernel().VFS().PathForProc(root, cwd), nil
		}, func(ctx vfs.Context) (vfs.VirtualDentry, error) {
			t := target(ctx, tid)
			if t == nil {
				return vfs.VirtualDentry{}, unix.ENOENT
			}
			return t.FSContext().Cwd(), nil
		})
	}},
	{"root", unix.DT_LNK, func(fs *Filesystem, tid int32, ino uint64) vfs.Inode {
		return fs.newLink(ino, tid, func(ctx vfs.Context) (string, error) {
			if target(ctx, tid) == nil {
				return "", unix.ENOENT
			}
			return "/", nil
		}, func(ctx vfs.Context) (vfs.VirtualDentry, error) {
			t := target(ctx, tid)
			if t == nil {
				return vfs.VirtualDentry{}, unix.ENOENT
			}
			return t.FSContext().Root(), nil
		})
	}},
	{"fd", unix.DT_DIR, func(fs *Filesystem, tid int32, ino uint64) vfs.Inode {
		return fs.fdDir(tid, ino)
	}},
	{"cmdline", unix.DT_REG, func(fs *Filesystem, tid int32, ino uint64) vfs.Inode {
		return &fileInode{base: base{fs: fs, ino: ino, tid: tid, mode: unix.S_IFREG | 0444}, gen: func(ctx vfs.Context) ([]byte, error) {
			t := target(ctx, tid)
			if t == nil {
				return nil, unix.ESRCH
			}
			return cmdline(t), nil
		}}
	}},
	{"comm", unix.DT_REG, func(fs *Filesystem, tid int32, ino uint64) vfs.Inode {
		return &fileInode{base: base{fs: fs, ino: ino, tid: tid, mode: unix.S_IFREG | 0644}, gen: func(ctx vfs.Context) ([]byte, error) {
			t := target(ctx, tid)
			if t == nil {
				return nil, unix.ESRCH
			}
			return []byte(t.Name() + "\n"), nil
		}}
	}},
}

// cmdline reads the task's argument area.
func cmdline(t *kernel.Task) []byte {
	m := t.MemoryManager()
	if m == nil || m.ArgvEnd <= m.ArgvStart {
		return nil
	}
	n := int(m.ArgvEnd - m.ArgvStart)
	if n > 1<<20 {
		n = 1 << 20
	}
	b := make([]byte, n)
	k, _ := m.CopyIn(m.ArgvStart, b)
	return b[:k]
}

// fdDir returns /proc/<tid>/fd.
func (fs *Filesystem) fdDir(tid int32, ino uint64) vfs.Inode {
	d := &dirInode{base: base{fs: fs, ino: ino, tid: tid, mode: unix.S_IFDIR | 0500}}
	d.lookup = func(ctx vfs.Context, name string) (vfs.Inode, error) {
		n, err := strconv.ParseInt(name, 10, 32)
		if err != nil || n < 0 || strconv.Itoa(int(n)) != name {
			return nil, unix.ENOENT
		}
		fd := int32(n)
		t := target(ctx, tid)
		if t == nil {
			return nil, unix.ENOENT
		}
		f, _, err := t.FDTable().Get(fd)
		if err != nil {
			return nil, unix.ENOENT
		}
		f.DecRef()
		l := fs.newLink(inoOf(tid, 0x8000|int(fd&0x7fff)), tid, func(ctx vfs.Context) (string, error) {
			vd, err := fdTarget(ctx, tid, fd)
			if err != nil {
				return "", err
			}
			t := target(ctx, tid)
			return t.Kernel().VFS().PathForProc(t.FSContext().Root(), vd), nil
		}, func(ctx vfs.Context) (vfs.VirtualDentry, error) {
			return fdTarget(ctx, tid, fd)
		})
		return l, nil
	}
	d.list = func(ctx vfs.Context) []entry {
		t := target(ctx, tid)
		if t == nil {
			return nil
		}
		var ents []entry
		for _, fd := range t.FDTable().FDs() {
			ents = append(ents, entry{strconv.Itoa(int(fd)), inoOf(tid, 0x8000|int(fd&0x7fff)), unix.DT_LNK})
		}
		return ents
	}
	return d
}

// fdTarget returns where descriptor fd of task tid leads.
func fdTarget(ctx vfs.Context, tid, fd int32) (vfs.VirtualDentry, error) {
	t := target(ctx, tid)
	if t == nil {
		return vfs.VirtualDentry{}, unix.ENOENT
	}
	f, _, err := t.FDTable().Get(fd)
	if err != nil {
		return vfs.VirtualDentry{}, unix.ENOENT
	}
	defer f.DecRef()
	return f.VirtualDentry(), nil
}
