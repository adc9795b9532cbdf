package gofer

import (
	"bytes"
	"encoding/binary"
	"strings"

	"golang.org/x/sys/unix"

	"runsc.dev/gofer/proto"
)

const (
	// oLargefile is x86-64's O_LARGEFILE as applications pass it
	// (unix.O_LARGEFILE is 0 on amd64); it is meaningless here and ignored.
	oLargefile = 0x8000

	// openFlags are the open(2) flags Open accepts.
	openFlags = unix.O_ACCMODE | unix.O_TRUNC | unix.O_APPEND | unix.O_DIRECTORY |
		unix.O_NONBLOCK | unix.O_SYNC | unix.O_DSYNC | unix.O_DIRECT | unix.O_NOATIME |
		unix.O_CLOEXEC | unix.O_NOFOLLOW | unix.O_NOCTTY

	// createFlags are the flags Create accepts (O_CREAT|O_EXCL are implied).
	createFlags = (openFlags &^ unix.O_DIRECTORY) | unix.O_CREAT | unix.O_EXCL

	// fsetflFlags are the flags F_SETFL can change.
	fsetflFlags = unix.O_APPEND | unix.O_ASYNC | unix.O_DIRECT | unix.O_NOATIME | unix.O_NONBLOCK

	// getdentsBufSize bounds one Getdents reply (each entry encodes smaller
	// than its linux_dirent64).
	getdentsBufSize = 32 << 10

	permBits = 0o7777
)

// validName reports whether name is a single path component the gofer may
// resolve.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

func toStat(st *unix.Stat_t) proto.Stat {
	return proto.Stat{
		Dev: st.Dev, Ino: st.Ino, Mode: st.Mode, Nlink: uint64(st.Nlink),
		UID: st.Uid, GID: st.Gid, Rdev: st.Rdev,
		Size: st.Size, Blksize: int64(st.Blksize), Blocks: st.Blocks,
		Atime: proto.Timespec{Sec: st.Atim.Sec, Nsec: st.Atim.Nsec},
		Mtime: proto.Timespec{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec},
		Ctime: proto.Timespec{Sec: st.Ctim.Sec, Nsec: st.Ctim.Nsec},
	}
}

func fstat(fd int) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstat(fd, &st)
	return st, err
}

// lookupDir returns the directory node of h (with a reference).
func (s *server) lookupDir(h proto.Handle) (*node, unix.Errno) {
	n, err := s.t.lookup(h)
	if err != nil {
		return nil, unix.EBADF
	}
	if !n.isDir() {
		s.t.release(n)
		return nil, unix.ENOTDIR
	}
	return n, 0
}

func (s *server) mount(m *proto.TMount) (proto.Message, []int, unix.Errno) {
	if m.Version != proto.Version {
		return nil, nil, unix.EPROTONOSUPPORT
	}
	fd, err := unix.Openat(s.rootFD, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	st, err := fstat(fd)
	if err != nil {
		unix.Close(fd)
		return nil, nil, errnoOf(err)
	}
	n, unpin := s.t.newNode(fd, &st, nil, "")
	unpin()
	h := s.t.insert(n)
	s.t.release(n)
	return &proto.RMount{H: h, Stat: toStat(&st)}, nil, 0
}

func (s *server) walk(m *proto.TWalk) (proto.Message, []int, unix.Errno) {
	for _, name := range m.Names {
		if !validName(name) {
			return nil, nil, unix.EINVAL
		}
	}
	dir, err := s.t.lookup(m.Dir)
	if err != nil {
		return nil, nil, unix.EBADF
	}
	defer s.t.release(dir)
	if len(m.Names) > 0 && !dir.isDir() {
		return nil, nil, unix.ENOTDIR
	}
	var (
		nodes []*node
		stats []proto.Stat
		errno unix.Errno
	)
	cur := dir
	var curFD int
	var unpin func()
	if len(m.Names) > 0 {
		curFD, unpin, err = s.t.acquireFD(dir)
		if err != nil {
			return nil, nil, errnoOf(err)
		}
	}
	s.t.nameMu.RLock()
	for _, name := range m.Names {
		fd, err := unix.Openat(curFD, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			errno = errnoOf(err)
			break
		}
		st, err := fstat(fd)
		if err != nil {
			unix.Close(fd)
			errno = errnoOf(err)
			break
		}
		n, nunpin := s.t.newNode(fd, &st, cur, name)
		unpin()
		curFD, unpin = fd, nunpin
		nodes = append(nodes, n)
		stats = append(stats, toStat(&st))
		if !n.isDir() {
			break // a symlink or non-directory ends the walk
		}
		cur = n
	}
	s.t.nameMu.RUnlock()
	if unpin != nil {
		unpin()
	}
	r := &proto.RWalk{Handles: make([]proto.Handle, len(nodes)), Stats: stats}
	for i, n := range nodes {
		r.Handles[i] = s.t.insert(n)
	}
	for _, n := range nodes {
		s.t.release(n)
	}
	if r.Stats == nil {
		r.Stats = []proto.Stat{}
	}
	return r, nil, errno
}

func (s *server) stat(m *proto.TStat) (proto.Message, []int, unix.Errno) {
	n, err := s.t.lookup(m.H)
	if err != nil {
		return nil, nil, unix.EBADF
	}
	defer s.t.release(n)
	fd, unpin, err := s.t.acquireFD(n)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	st, err := fstat(fd)
	unpin()
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	return &proto.RStat{Stat: toStat(&st)}, nil, 0
}

// checkOpenFlags validates open flags and returns them without the ones
// that are ignored.
func checkOpenFlags(flags, allowed uint32) (uint32, unix.Errno) {
	flags &^= oLargefile
	if flags&^allowed != 0 || flags&unix.O_ACCMODE == unix.O_ACCMODE {
		return 0, unix.EINVAL
	}
	return flags &^ (unix.O_CLOEXEC | unix.O_NOFOLLOW | unix.O_NOCTTY), 0
}

func (s *server) open(m *proto.TOpen) (proto.Message, []int, unix.Errno) {
	flags, errno := checkOpenFlags(m.Flags, openFlags)
	if errno != 0 {
		return nil, nil, errno
	}
	n, err := s.t.lookup(m.H)
	if err != nil {
		return nil, nil, unix.EBADF
	}
	defer s.t.release(n)
	if s.readOnly && (flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0) {
		if n.isDir() {
			return nil, nil, unix.EISDIR
		}
		return nil, nil, unix.EROFS
	}
	fd, err := s.reopen(n, flags)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	return &proto.ROpen{}, []int{fd}, 0
}

// reopen opens the file of n with real open flags (no O_CREAT). A directory
// reopens itself through "."; anything else is opened by name from its parent
// and must still be the same file (dev/ino), else ESTALE. FIFOs are opened
// non-blocking (the gofer never waits for a peer); O_NONBLOCK is then cleared
// unless it was asked for.
func (s *server) reopen(n *node, flags uint32) (int, error) {
	fl := int(flags) | unix.O_CLOEXEC | unix.O_NOCTTY
	if n.isDir() {
		nfd, unpin, err := s.t.acquireFD(n)
		if err != nil {
			return -1, err
		}
		defer unpin()
		return unix.Openat(nfd, ".", fl, 0)
	}
	switch n.mode & unix.S_IFMT {
	case unix.S_IFLNK:
		return -1, unix.ELOOP
	case unix.S_IFCHR, unix.S_IFBLK:
		return -1, unix.EPERM // the sentry has its own devices
	case unix.S_IFSOCK:
		return -1, unix.ENXIO
	}
	if flags&unix.O_DIRECTORY != 0 {
		return -1, unix.ENOTDIR
	}
	trunc := flags&unix.O_TRUNC != 0
	fl &^= unix.O_TRUNC // truncate only once we know it is the same file
	if trunc && fl&unix.O_ACCMODE == unix.O_RDONLY {
		// Linux truncates on O_RDONLY|O_TRUNC; ftruncate needs a writable fd.
		fl = fl&^unix.O_ACCMODE | unix.O_RDWR
	}
	// Pinning n's O_PATH fd (reopened and checked if need be) keeps the
	// file alive, so that no other file can have its dev/ino meanwhile.
	_, unpin, err := s.t.acquireFD(n)
	if err != nil {
		return -1, err
	}
	defer unpin()
	fd, st, err := s.openByName(n, fl)
	if err == unix.ESTALE {
		// Perhaps renamed meanwhile: try again with the names settled.
		s.t.nameMu.RLock()
		fd, st, err = s.openByName(n, fl)
		s.t.nameMu.RUnlock()
	}
	if err != nil {
		return -1, err
	}
	if trunc && st.Mode&unix.S_IFMT == unix.S_IFREG {
		err = unix.Ftruncate(fd, 0)
	}
	if err == nil && flags&unix.O_NONBLOCK == 0 {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&fsetflFlags&^unix.O_NONBLOCK)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// openByName opens n's parent/name with flags fl (O_NOFOLLOW|O_NONBLOCK
// added) and checks that it is n's file (the caller pins n's fd).
func (s *server) openByName(n *node, fl int) (int, unix.Stat_t, error) {
	p, name, err := s.t.parentOf(n)
	if err != nil {
		return -1, unix.Stat_t{}, err
	}
	defer s.t.release(p)
	pfd, punpin, err := s.t.acquireFDOnce(p)
	if err != nil {
		return -1, unix.Stat_t{}, err
	}
	fd, err := unix.Openat(pfd, name, fl|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	punpin()
	if err != nil {
		if err == unix.ENOENT || err == unix.ELOOP {
			err = unix.ESTALE
		}
		return -1, unix.Stat_t{}, err
	}
	st, err := fstat(fd)
	if err == nil && (st.Dev != n.dev || st.Ino != n.ino) {
		err = unix.ESTALE
	}
	if err != nil {
		unix.Close(fd)
		return -1, unix.Stat_t{}, err
	}
	return fd, st, nil
}

// chownNew gives a file just created by the gofer the requested owner (as
// root only) and restores set-id bits that chown clears. fd is an O_PATH fd
// to it.
func (s *server) chownNew(fd int, st *unix.Stat_t, uid, gid, mode uint32) error {
	if !s.chown || (st.Uid == uid && st.Gid == gid) {
		return nil
	}
	if err := unix.Fchownat(fd, "", int(uid), int(gid), unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if mode&(unix.S_ISUID|unix.S_ISGID) != 0 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.Fchmodat(fd, "", mode&permBits, unix.AT_EMPTY_PATH)
	}
	return nil
}

// newChild finishes a Mkdir, Mknod or Symlink: it opens name in dir with
// O_PATH, checks that it is of type want, applies the owner and returns a new
// handle. On failure the new file is removed again.
func (s *server) newChild(dir *node, dirFD int, name string, want, uid, gid, mode uint32) (proto.Handle, proto.Stat, unix.Errno) {
	var fd int
	st, err := func() (unix.Stat_t, error) {
		var err error
		fd, err = unix.Openat(dirFD, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			fd = -1
			return unix.Stat_t{}, err
		}
		st, err := fstat(fd)
		if err != nil {
			return st, err
		}
		if st.Mode&unix.S_IFMT != want {
			// Replaced under us: not ours to remove.
			return st, unix.ESTALE
		}
		if err := s.chownNew(fd, &st, uid, gid, mode); err != nil {
			rm := 0
			if want == unix.S_IFDIR {
				rm = unix.AT_REMOVEDIR
			}
			unix.Unlinkat(dirFD, name, rm)
			return st, err
		}
		return fstat(fd)
	}()
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return 0, proto.Stat{}, errnoOf(err)
	}
	n, unpin := s.t.newNode(fd, &st, dir, name)
	unpin()
	h := s.t.insert(n)
	s.t.release(n)
	return h, toStat(&st), 0
}

func (s *server) create(m *proto.TCreate) (proto.Message, []int, unix.Errno) {
	flags, errno := checkOpenFlags(m.Flags, createFlags)
	if errno != 0 {
		return nil, nil, errno
	}
	if !validName(m.Name) {
		return nil, nil, unix.EINVAL
	}
	if s.readOnly {
		return nil, nil, unix.EROFS
	}
	dir, errno := s.lookupDir(m.Dir)
	if errno != 0 {
		return nil, nil, errno
	}
	defer s.t.release(dir)
	dirFD, unpin, err := s.t.acquireFD(dir)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	defer unpin()
	s.t.nameMu.RLock()
	defer s.t.nameMu.RUnlock()
	fl := int(flags) | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NOCTTY
	fd, err := unix.Openat(dirFD, m.Name, fl, m.Mode&permBits)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	pfd := -1
	fail := func(err error, remove bool) (proto.Message, []int, unix.Errno) {
		if remove {
			unix.Unlinkat(dirFD, m.Name, 0)
		}
		unix.Close(fd)
		if pfd >= 0 {
			unix.Close(pfd)
		}
		return nil, nil, errnoOf(err)
	}
	st, err := fstat(fd)
	if err != nil {
		return fail(err, true)
	}
	if s.chown && (st.Uid != m.UID || st.Gid != m.GID) {
		if err := unix.Fchown(fd, int(m.UID), int(m.GID)); err != nil {
			return fail(err, true)
		}
		if m.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
			if err := unix.Fchmod(fd, m.Mode&permBits); err != nil {
				return fail(err, true)
			}
		}
	}
	pfd, err = unix.Openat(dirFD, m.Name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		pfd = -1
		return fail(err, false)
	}
	pst, err := fstat(pfd)
	if err != nil {
		return fail(err, false)
	}
	if pst.Dev != st.Dev || pst.Ino != st.Ino {
		return fail(unix.ESTALE, false)
	}
	n, nunpin := s.t.newNode(pfd, &pst, dir, m.Name)
	nunpin()
	h := s.t.insert(n)
	s.t.release(n)
	return &proto.RCreate{H: h, Stat: toStat(&pst)}, []int{fd}, 0
}

func (s *server) mkdir(m *proto.TMkdir) (proto.Message, []int, unix.Errno) {
	if !validName(m.Name) {
		return nil, nil, unix.EINVAL
	}
	if s.readOnly {
		return nil, nil, unix.EROFS
	}
	dir, errno := s.lookupDir(m.Dir)
	if errno != 0 {
		return nil, nil, errno
	}
	defer s.t.release(dir)
	dirFD, unpin, err := s.t.acquireFD(dir)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	defer unpin()
	s.t.nameMu.RLock()
	defer s.t.nameMu.RUnlock()
	if err := unix.Mkdirat(dirFD, m.Name, m.Mode&permBits); err != nil {
		return nil, nil, errnoOf(err)
	}
	h, st, errno := s.newChild(dir, dirFD, m.Name, unix.S_IFDIR, m.UID, m.GID, m.Mode)
	if errno != 0 {
		return nil, nil, errno
	}
	return &proto.RMkdir{H: h, Stat: st}, nil, 0
}

func (s *server) mknod(m *proto.TMknod) (proto.Message, []int, unix.Errno) {
	typ := m.Mode & unix.S_IFMT
	switch typ {
	case 0:
		typ = unix.S_IFREG
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK:
		// Device nodes would open host devices; the sentry has its own.
		return nil, nil, unix.EPERM
	default:
		return nil, nil, unix.EINVAL
	}
	if !validName(m.Name) {
		return nil, nil, unix.EINVAL
	}
	if s.readOnly {
		return nil, nil, unix.EROFS
	}
	dir, errno := s.lookupDir(m.Dir)
	if errno != 0 {
		return nil, nil, errno
	}
	defer s.t.release(dir)
	dirFD, unpin, err := s.t.acquireFD(dir)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	defer unpin()
	s.t.nameMu.RLock()
	defer s.t.nameMu.RUnlock()
	if err := unix.Mknodat(dirFD, m.Name, typ|m.Mode&permBits, 0); err != nil {
		return nil, nil, errnoOf(err)
	}
	h, st, errno := s.newChild(dir, dirFD, m.Name, typ, m.UID, m.GID, m.Mode)
	if errno != 0 {
		return nil, nil, errno
	}
	return &proto.RMknod{H: h, Stat: st}, nil, 0
}

func (s *server) symlink(m *proto.TSymlink) (proto.Message, []int, unix.Errno) {
	if !validName(m.Name) || strings.IndexByte(m.Target, 0) >= 0 {
		return nil, nil, unix.EINVAL
	}
	if m.Target == "" {
		return nil, nil, unix.ENOENT
	}
	if s.readOnly {
		return nil, nil, unix.EROFS
	}
	dir, errno := s.lookupDir(m.Dir)
	if errno != 0 {
		return nil, nil, errno
	}
	defer s.t.release(dir)
	dirFD, unpin, err := s.t.acquireFD(dir)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	defer unpin()
	s.t.nameMu.RLock()
	defer s.t.nameMu.RUnlock()
	if err := unix.Symlinkat(m.Target, dirFD, m.Name); err != nil {
		return nil, nil, errnoOf(err)
	}
	h, st, errno := s.newChild(dir, dirFD, m.Name, unix.S_IFLNK, m.UID, m.GID, 0)
	if errno != 0 {
		return nil, nil, errno
	}
	return &proto.RSymlink{H: h, Stat: st}, nil, 0
}

func (s *server) link(m *proto.TLink) (proto.Message, []int, unix.Errno) {
	if !validName(m.Name) {
		return nil, nil, unix.EINVAL
	}
	if s.readOnly {
		return nil, nil, unix.EROFS
	}
	dir, errno := s.lookupDir(m.Dir)
	if errno != 0 {
		return nil, nil, errno
	}
	defer s.t.release(dir)
	target, err := s.t.lookup(m.Target)
	if err != nil {
		return nil, nil, unix.EBADF
	}
	defer s.t.release(target)
	if target.isDir() {
		return nil, nil, unix.EPERM
	}
	dirFD, unpin, err := s.t.acquireFD(dir)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	defer unpin()
	targetFD, tunpin, err := s.t.acquireFD(target)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	defer tunpin()
	err = unix.ENOENT
	if !s.noEmptyPathLink {
		// Needs CAP_DAC_READ_SEARCH; ENOENT without it.
		err = unix.Linkat(targetFD, "", dirFD, m.Name, unix.AT_EMPTY_PATH)
	}
	if err == unix.ENOENT {
		err = s.linkByName(target, dirFD, m.Name)
	}
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	st, err := fstat(targetFD)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	return &proto.RLink{Stat: toStat(&st)}, nil, 0
}

// linkByName links target's parent/name to dirFD/name and checks that the
// link is to target (whose fd the caller pins).
func (s *server) linkByName(target *node, dirFD int, name string) error {
	s.t.nameMu.RLock()
	defer s.t.nameMu.RUnlock()
	p, oldName, err := s.t.parentOf(target)
	if err != nil {
		return unix.ENOENT
	}
	defer s.t.release(p)
	pfd, unpin, err := s.t.acquireFDOnce(p)
	if err != nil {
		return err
	}
	defer unpin()
	if err := unix.Linkat(pfd, oldName, dirFD, name, 0); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dirFD, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Dev != target.dev || st.Ino != target.ino {
		unix.Unlinkat(dirFD, name, 0)
		return unix.ESTALE
	}
	return nil
}

func (s *server) unlink(m *proto.TUnlink) (proto.Message, []int, unix.Errno) {
	if m.Flags&^unix.AT_REMOVEDIR != 0 || !validName(m.Name) {
		return nil, nil, unix.EINVAL
	}
	if s.readOnly {
		return nil, nil, unix.EROFS
	}
	dir, errno := s.lookupDir(m.Dir)
	if errno != 0 {
		return nil, nil, errno
	}
	defer s.t.release(dir)
	dirFD, unpin, err := s.t.acquireFD(dir)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	defer unpin()
	s.t.nameMu.Lock()
	defer s.t.nameMu.Unlock()
	// The nodes of the name keep their fds: they cannot be reopened after.
	unhold := s.t.holdOpen(dir, m.Name)
	defer unhold()
	if err := unix.Unlinkat(dirFD, m.Name, int(m.Flags)); err != nil {
		return nil, nil, errnoOf(err)
	}
	s.t.unlinked(dir, m.Name)
	return &proto.RUnlink{}, nil, 0
}

func (s *server) rename(m *proto.TRename) (proto.Message, []int, unix.Errno) {
	if m.Flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE) != 0 ||
		!validName(m.OldName) || !validName(m.NewName) {
		return nil, nil, unix.EINVAL
	}
	if s.readOnly {
		return nil, nil, unix.EROFS
	}
	oldDir, errno := s.lookupDir(m.OldDir)
	if errno != 0 {
		return nil, nil, errno
	}
	defer s.t.release(oldDir)
	newDir, errno := s.lookupDir(m.NewDir)
	if errno != 0 {
		return nil, nil, errno
	}
	defer s.t.release(newDir)
	oldFD, unpin, err := s.t.acquireFD(oldDir)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	defer unpin()
	newFD, nunpin, err := s.t.acquireFD(newDir)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	defer nunpin()
	s.t.nameMu.Lock()
	defer s.t.nameMu.Unlock()
	if m.Flags&unix.RENAME_EXCHANGE == 0 {
		// The nodes of a replaced file keep their fds: they cannot be
		// reopened after.
		unhold := s.t.holdOpen(newDir, m.NewName)
		defer unhold()
	}
	if err := unix.Renameat2(oldFD, m.OldName, newFD, m.NewName, uint(m.Flags)); err != nil {
		return nil, nil, errnoOf(err)
	}
	s.t.moved(oldDir, m.OldName, newDir, m.NewName, m.Flags&unix.RENAME_EXCHANGE != 0)
	return &proto.RRename{}, nil, 0
}

func (s *server) readlink(m *proto.TReadlink) (proto.Message, []int, unix.Errno) {
	n, err := s.t.lookup(m.H)
	if err != nil {
		return nil, nil, unix.EBADF
	}
	defer s.t.release(n)
	if !n.isSymlink() {
		return nil, nil, unix.EINVAL
	}
	fd, unpin, err := s.t.acquireFD(n)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	defer unpin()
	buf := make([]byte, proto.MaxSymlinkLen+2)
	sz, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	if sz > proto.MaxSymlinkLen {
		return nil, nil, unix.ENAMETOOLONG
	}
	return &proto.RReadlink{Target: string(buf[:sz])}, nil, 0
}

func (s *server) setStat(m *proto.TSetStat) (proto.Message, []int, unix.Errno) {
	a := &m.Args
	if a.Mask&^proto.SetStatAll != 0 {
		return nil, nil, unix.EINVAL
	}
	if s.readOnly {
		return nil, nil, unix.EROFS
	}
	n, err := s.t.lookup(m.H)
	if err != nil {
		return nil, nil, unix.EBADF
	}
	defer s.t.release(n)
	fd, unpin, err := s.t.acquireFD(n)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	defer unpin()
	// Owner first: chown clears set-id bits that a mode change may set.
	if a.Mask&(proto.SetStatUID|proto.SetStatGID) != 0 {
		uid, gid := -1, -1
		if a.Mask&proto.SetStatUID != 0 {
			uid = int(a.UID)
		}
		if a.Mask&proto.SetStatGID != 0 {
			gid = int(a.GID)
		}
		if err := unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, nil, errnoOf(err)
		}
	}
	if a.Mask&proto.SetStatMode != 0 {
		if err := s.chmod(n, fd, a.Mode&permBits); err != nil {
			return nil, nil, errnoOf(err)
		}
	}
	if a.Mask&proto.SetStatSize != 0 {
		switch {
		case n.isDir():
			return nil, nil, unix.EISDIR
		case n.mode&unix.S_IFMT != unix.S_IFREG || a.Size < 0:
			return nil, nil, unix.EINVAL
		}
		fd, err := s.reopen(n, unix.O_WRONLY)
		if err != nil {
			return nil, nil, errnoOf(err)
		}
		err = unix.Ftruncate(fd, a.Size)
		unix.Close(fd)
		if err != nil {
			return nil, nil, errnoOf(err)
		}
	}
	if a.Mask&(proto.SetStatAtime|proto.SetStatMtime|proto.SetStatAtimeNow|proto.SetStatMtimeNow) != 0 {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		switch {
		case a.Mask&proto.SetStatAtimeNow != 0:
			ts[0] = unix.Timespec{Nsec: unix.UTIME_NOW}
		case a.Mask&proto.SetStatAtime != 0:
			ts[0] = unix.Timespec{Sec: a.Atime.Sec, Nsec: a.Atime.Nsec}
		}
		switch {
		case a.Mask&proto.SetStatMtimeNow != 0:
			ts[1] = unix.Timespec{Nsec: unix.UTIME_NOW}
		case a.Mask&proto.SetStatMtime != 0:
			ts[1] = unix.Timespec{Sec: a.Mtime.Sec, Nsec: a.Mtime.Nsec}
		}
		for _, t := range ts {
			if t.Nsec != unix.UTIME_NOW && t.Nsec != unix.UTIME_OMIT && (t.Nsec < 0 || t.Nsec >= 1e9) {
				return nil, nil, unix.EINVAL
			}
		}
		if err := unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, nil, errnoOf(err)
		}
	}
	return &proto.RSetStat{}, nil, 0
}

// chmod changes the mode of n through its O_PATH fd (pinned by the caller;
// fchmodat2, Linux 6.6+), or through a reopened fd on older kernels.
func (s *server) chmod(n *node, pathFD int, mode uint32) error {
	err := unix.Fchmodat(pathFD, "", mode, unix.AT_EMPTY_PATH)
	if err != unix.ENOSYS && err != unix.EOPNOTSUPP {
		return err
	}
	if n.isSymlink() {
		return unix.EOPNOTSUPP
	}
	flags := uint32(unix.O_RDONLY)
	if n.mode&unix.S_IFMT == unix.S_IFIFO {
		flags |= unix.O_NONBLOCK
	}
	fd, err := s.reopen(n, flags)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fchmod(fd, mode)
}

func (s *server) getdents(m *proto.TGetdents) (proto.Message, []int, unix.Errno) {
	n, errno := s.lookupDir(m.Dir)
	if errno != 0 {
		return nil, nil, errno
	}
	defer s.t.release(n)
	// The pin keeps the fd cache off n's dirFD while dirMu is held; it is
	// dropped after dirMu (defers run last first).
	pathFD, unpin, err := s.t.acquireFD(n)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	defer unpin()
	n.dirMu.Lock()
	defer n.dirMu.Unlock()
	if n.dirFD < 0 {
		// A first read, or the fd cache closed the dirFD: the cookie is the
		// host's d_off, which lseek takes on a fresh fd too.
		fd, err := unix.Openat(pathFD, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, nil, errnoOf(err)
		}
		n.dirFD = fd
		s.t.dirFDOpened()
	}
	if _, err := unix.Seek(n.dirFD, int64(m.Cookie), 0); err != nil {
		return nil, nil, errnoOf(err)
	}
	buf := make([]byte, getdentsBufSize)
	sz, err := unix.Getdents(n.dirFD, buf)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	return &proto.RGetdents{Dirents: parseDirents(buf[:sz])}, nil, 0
}

// parseDirents decodes linux_dirent64 records: u64 ino, s64 off, u16 reclen,
// u8 type, NUL-terminated name.
func parseDirents(b []byte) []proto.Dirent {
	const hdr = 19
	ds := []proto.Dirent{}
	for len(b) >= hdr && len(ds) < proto.MaxDirents {
		reclen := int(binary.LittleEndian.Uint16(b[16:]))
		if reclen < hdr || reclen > len(b) {
			break
		}
		name := b[hdr:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if len(name) > 0 && len(name) <= proto.MaxNameLen {
			ds = append(ds, proto.Dirent{
				Ino:  binary.LittleEndian.Uint64(b),
				Off:  binary.LittleEndian.Uint64(b[8:]),
				Type: b[18],
				Name: string(name),
			})
		}
		b = b[reclen:]
	}
	return ds
}

func (s *server) statfs(m *proto.TStatfs) (proto.Message, []int, unix.Errno) {
	n, err := s.t.lookup(m.H)
	if err != nil {
		return nil, nil, unix.EBADF
	}
	defer s.t.release(n)
	fd, unpin, err := s.t.acquireFD(n)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	defer unpin()
	var sf unix.Statfs_t
	if err := unix.Fstatfs(fd, &sf); err != nil {
		return nil, nil, errnoOf(err)
	}
	return &proto.RStatfs{Statfs: proto.Statfs{
		Type: uint64(sf.Type), Bsize: uint64(sf.Bsize), Blocks: sf.Blocks, Bfree: sf.Bfree,
		Bavail: sf.Bavail, Files: sf.Files, Ffree: sf.Ffree, Namelen: uint64(sf.Namelen),
		Frsize: uint64(sf.Frsize), Flags: uint64(sf.Flags),
	}}, nil, 0
}

func (s *server) close(m *proto.TClose) (proto.Message, []int, unix.Errno) {
	var errno unix.Errno
	for _, h := range m.Handles {
		if !s.t.remove(h) {
			errno = unix.EBADF
		}
	}
	if errno != 0 {
		return nil, nil, errno
	}
	return &proto.RClose{}, nil, 0
}

// xattrFD opens n for an extended attribute call: directories through ".", regular
// files and FIFOs by reopening them. Other files (symlinks, sockets, devices) cannot be
// opened without following or activating them: ok is false and the caller answers as
// Linux does for a file without attributes.
func (s *server) xattrFD(n *node) (fd int, ok bool, err error) {
	switch n.mode & unix.S_IFMT {
	case unix.S_IFDIR:
		fd, err = s.reopen(n, unix.O_RDONLY|unix.O_DIRECTORY)
	case unix.S_IFREG:
		fd, err = s.reopen(n, unix.O_RDONLY)
	case unix.S_IFIFO:
		fd, err = s.reopen(n, unix.O_RDONLY|unix.O_NONBLOCK)
	default:
		return -1, false, nil
	}
	if err != nil {
		return -1, false, err
	}
	return fd, true, nil
}

func (s *server) getxattr(m *proto.TGetxattr) (proto.Message, []int, unix.Errno) {
	n, err := s.t.lookup(m.H)
	if err != nil {
		return nil, nil, unix.EBADF
	}
	defer s.t.release(n)
	fd, ok, err := s.xattrFD(n)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	if !ok {
		return nil, nil, unix.ENODATA
	}
	defer unix.Close(fd)
	buf := make([]byte, proto.MaxXattrSize)
	sz, err := unix.Fgetxattr(fd, m.Name, buf)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	return &proto.RGetxattr{Value: buf[:sz]}, nil, 0
}

func (s *server) setxattr(m *proto.TSetxattr) (proto.Message, []int, unix.Errno) {
	if m.Flags&^(unix.XATTR_CREATE|unix.XATTR_REPLACE) != 0 {
		return nil, nil, unix.EINVAL
	}
	if s.readOnly {
		return nil, nil, unix.EROFS
	}
	n, err := s.t.lookup(m.H)
	if err != nil {
		return nil, nil, unix.EBADF
	}
	defer s.t.release(n)
	fd, ok, err := s.xattrFD(n)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	if !ok {
		return nil, nil, unix.EPERM
	}
	defer unix.Close(fd)
	if err := unix.Fsetxattr(fd, m.Name, m.Value, int(m.Flags)); err != nil {
		return nil, nil, errnoOf(err)
	}
	return &proto.RSetxattr{}, nil, 0
}

func (s *server) listxattr(m *proto.TListxattr) (proto.Message, []int, unix.Errno) {
	n, err := s.t.lookup(m.H)
	if err != nil {
		return nil, nil, unix.EBADF
	}
	defer s.t.release(n)
	fd, ok, err := s.xattrFD(n)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	if !ok {
		return &proto.RListxattr{Names: []string{}}, nil, 0
	}
	defer unix.Close(fd)
	buf := make([]byte, proto.MaxXattrSize)
	sz, err := unix.Flistxattr(fd, buf)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	names := []string{}
	for _, b := range bytes.Split(buf[:sz], []byte{0}) {
		if len(b) > 0 && len(b) <= proto.MaxNameLen && len(names) < proto.MaxXattrNames {
			names = append(names, string(b))
		}
	}
	return &proto.RListxattr{Names: names}, nil, 0
}

func (s *server) removexattr(m *proto.TRemovexattr) (proto.Message, []int, unix.Errno) {
	if s.readOnly {
		return nil, nil, unix.EROFS
	}
	n, err := s.t.lookup(m.H)
	if err != nil {
		return nil, nil, unix.EBADF
	}
	defer s.t.release(n)
	fd, ok, err := s.xattrFD(n)
	if err != nil {
		return nil, nil, errnoOf(err)
	}
	if !ok {
		return nil, nil, unix.EPERM
	}
	defer unix.Close(fd)
	if err := unix.Fremovexattr(fd, m.Name); err != nil {
		return nil, nil, errnoOf(err)
	}
	return &proto.RRemovexattr{}, nil, 0
}
