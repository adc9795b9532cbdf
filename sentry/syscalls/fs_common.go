package syscalls

import (
	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// maxRWCount is MAX_RW_COUNT: the most bytes one read or write transfers.
const maxRWCount = 0x7ffff000

// atFDCWD is AT_FDCWD as the int the syscall receives.
const atFDCWD = int32(unix.AT_FDCWD)

// copyInPath reads a path argument: EFAULT for a bad pointer, ENAMETOOLONG for one of
// PATH_MAX bytes or more.
func copyInPath(t *kernel.Task, addr uintptr) (string, error) {
	return t.CopyInString(addr, vfs.MaxPathLen)
}

// getFile returns the file at fd with a reference (EBADF).
func getFile(t *kernel.Task, fd int32) (*vfs.FileDescription, error) {
	f, _, err := t.FDTable().Get(fd)
	return f, err
}

// getFileNoPath is getFile for calls that refuse O_PATH descriptors (EBADF).
func getFileNoPath(t *kernel.Task, fd int32) (*vfs.FileDescription, error) {
	f, _, err := t.FDTable().Get(fd)
	if err != nil {
		return nil, err
	}
	if f.IsPath() {
		f.DecRef()
		return nil, unix.EBADF
	}
	return f, nil
}

// pathAt is a resolved *at() path argument: where to start, and the path.
type pathAt struct {
	root, start vfs.VirtualDentry
	path        string
	// empty is set when the path was empty and AT_EMPTY_PATH allowed it: the call
	// applies to start itself.
	empty bool
}

// resolveAt reads the path at addr and works out where it starts: the root for an
// absolute path, the working directory for AT_FDCWD, else dirfd (EBADF, ENOTDIR). An
// empty path is ENOENT unless allowEmpty (AT_EMPTY_PATH).
func resolveAt(t *kernel.Task, dirfd int32, addr uintptr, allowEmpty bool) (pathAt, error) {
	var path string
	if addr != 0 || !allowEmpty {
		p, err := copyInPath(t, addr)
		if err != nil {
			return pathAt{}, err
		}
		path = p
	}
	return startAt(t, dirfd, path, allowEmpty)
}

// startAt is resolveAt for a path already read.
func startAt(t *kernel.Task, dirfd int32, path string, allowEmpty bool) (pathAt, error) {
	if path == "" && !allowEmpty {
		return pathAt{}, unix.ENOENT
	}
	root, cwd := t.FSContext().RootAndCwd()
	pa := pathAt{root: root, start: cwd, path: path, empty: path == ""}
	if path != "" && path[0] == '/' {
		pa.start = root
		return pa, nil
	}
	if dirfd == atFDCWD {
		return pa, nil
	}
	f, err := getFile(t, dirfd)
	if err != nil {
		return pathAt{}, err
	}
	defer f.DecRef()
	pa.start = f.VirtualDentry()
	if path != "" && !pa.start.Dentry.IsDir() {
		return pathAt{}, unix.ENOTDIR
	}
	return pa, nil
}

// target returns what pa names: start itself for an empty path, else the walk's result.
func (pa *pathAt) target(t *kernel.Task, follow bool) (vfs.VirtualDentry, error) {
	if pa.empty {
		return pa.start, nil
	}
	return t.Kernel().VFS().GetDentryAt(t, pa.root, pa.start, pa.path, follow)
}

// blocks returns the views of [addr, addr+n) of the task's memory, clamped to
// MAX_RW_COUNT: EFAULT if not even the first byte is accessible.
func blocks(t *kernel.Task, addr uintptr, n uint64, write bool) ([][]byte, error) {
	if n > maxRWCount {
		n = maxRWCount
	}
	if n == 0 {
		return nil, nil
	}
	bs, err := t.MemoryManager().Blocks(addr, int(n), write)
	if len(bs) == 0 && err != nil {
		return nil, unix.EFAULT
	}
	return bs, nil
}

// iovecBlocks returns the views of the buffers of an iovec array, up to the first
// inaccessible byte and MAX_RW_COUNT in all (EFAULT if none is accessible but some
// length is non-zero).
func iovecBlocks(t *kernel.Task, addr uintptr, cnt int32, write bool) ([][]byte, error) {
	iovs, err := t.CopyInIovecs(addr, int(cnt))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	var total uint64
	for _, iov := range iovs {
		n := iov.Len
		if total+n > maxRWCount {
			n = maxRWCount - total
		}
		if n == 0 {
			continue
		}
		if iov.Base+uintptr(n) < iov.Base {
			return nil, unix.EFAULT
		}
		bs, err := t.MemoryManager().Blocks(iov.Base, int(n), write)
		out = append(out, bs...)
		if err != nil {
			if len(out) == 0 {
				return nil, unix.EFAULT
			}
			break
		}
		total += n
		if total >= maxRWCount {
			break
		}
	}
	return out, nil
}

// sigpipe sends SIGPIPE to the task after a write that failed with EPIPE, as Linux does.
func sigpipe(t *kernel.Task, err error) {
	if err == unix.EPIPE {
		t.SendSignal(&kernel.SignalInfo{Signo: int32(unix.SIGPIPE), PID: t.ThreadGroupID(), UID: uint32(t.Credentials().RealUID)})
	}
}

// isStream reports whether a file has no positions (pipes, sockets): pread and pwrite
// on it fail with ESPIPE.
func isStream(f *vfs.FileDescription) bool {
	typ := f.Dentry().Type()
	return typ == unix.S_IFIFO || typ == unix.S_IFSOCK
}

// fileRef is a file reference the caller drops with DecRef.
type fileRef struct {
	*vfs.FileDescription
}
