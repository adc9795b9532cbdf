package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// setStatAt applies opts to what pa names.
func setStatAt(t *kernel.Task, pa pathAt, follow bool, opts vfs.SetStatOptions) error {
	vd, err := pa.target(t, follow)
	if err != nil {
		return err
	}
	return t.Kernel().VFS().SetStatDentry(t, vd, opts)
}

// fchmodat implements chmod, fchmodat and fchmodat2.
func fchmodat(t *kernel.Task, dirfd int32, pathAddr uintptr, mode uint32, flags int32) (uintptr, error) {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	pa, err := resolveAt(t, dirfd, pathAddr, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return 0, err
	}
	return 0, setStatAt(t, pa, flags&unix.AT_SYMLINK_NOFOLLOW == 0, vfs.SetStatOptions{Mask: vfs.SetStatMode, Mode: mode & 07777})
}

// Chmod implements chmod(2).
func Chmod(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return fchmodat(t, atFDCWD, args.Addr(0), args.Uint(1), 0)
}

// Fchmodat implements fchmodat(2) (the syscall has no flags).
func Fchmodat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return fchmodat(t, args.Int(0), args.Addr(1), args.Uint(2), 0)
}

// Fchmodat2 implements fchmodat2(2).
func Fchmodat2(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return fchmodat(t, args.Int(0), args.Addr(1), args.Uint(2), args.Int(3))
}

// Fchmod implements fchmod(2).
func Fchmod(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	f, err := getFileNoPath(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return 0, t.Kernel().VFS().SetStatDentry(t, f.VirtualDentry(), vfs.SetStatOptions{Mask: vfs.SetStatMode, Mode: args.Uint(1) & 07777})
}

// chownOpts builds the options of a chown: -1 leaves an ID alone.
func chownOpts(uid, gid uint32) vfs.SetStatOptions {
	var o vfs.SetStatOptions
	if uid != ^uint32(0) {
		o.Mask |= vfs.SetStatUID
		o.UID = uid
	}
	if gid != ^uint32(0) {
		o.Mask |= vfs.SetStatGID
		o.GID = gid
	}
	return o
}

// fchownat implements chown, lchown and fchownat.
func fchownat(t *kernel.Task, dirfd int32, pathAddr uintptr, uid, gid uint32, flags int32) (uintptr, error) {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	pa, err := resolveAt(t, dirfd, pathAddr, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return 0, err
	}
	opts := chownOpts(uid, gid)
	if opts.Mask == 0 {
		_, err := pa.target(t, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
		return 0, err
	}
	return 0, setStatAt(t, pa, flags&unix.AT_SYMLINK_NOFOLLOW == 0, opts)
}

// Chown implements chown(2).
func Chown(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return fchownat(t, atFDCWD, args.Addr(0), args.Uint(1), args.Uint(2), 0)
}

// Lchown implements lchown(2).
func Lchown(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return fchownat(t, atFDCWD, args.Addr(0), args.Uint(1), args.Uint(2), unix.AT_SYMLINK_NOFOLLOW)
}

// Fchownat implements fchownat(2).
func Fchownat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return fchownat(t, args.Int(0), args.Addr(1), args.Uint(2), args.Uint(3), args.Int(4))
}

// Fchown implements fchown(2).
func Fchown(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	f, err := getFileNoPath(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	opts := chownOpts(args.Uint(1), args.Uint(2))
	if opts.Mask == 0 {
		return 0, nil
	}
	return 0, t.Kernel().VFS().SetStatDentry(t, f.VirtualDentry(), opts)
}

// Truncate implements truncate(2).
func Truncate(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	length := args.Int64(1)
	if length < 0 {
		return 0, unix.EINVAL
	}
	pa, err := resolveAt(t, atFDCWD, args.Addr(0), false)
	if err != nil {
		return 0, err
	}
	return 0, setStatAt(t, pa, true, vfs.SetStatOptions{Mask: vfs.SetStatSize, Size: length})
}

// Ftruncate implements ftruncate(2): the file must be a regular file open for writing.
func Ftruncate(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	length := args.Int64(1)
	if length < 0 {
		return 0, unix.EINVAL
	}
	f, err := getFileNoPath(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.Dentry().Type() != unix.S_IFREG || !f.Writable() {
		return 0, unix.EINVAL
	}
	return 0, f.Inode().SetStat(t, vfs.SetStatOptions{Mask: vfs.SetStatSize | vfs.SetStatCtime, Size: length})
}

// utimeOmit and utimeNow are UTIME_OMIT and UTIME_NOW.
const (
	utimeNow  = (1 << 30) - 1
	utimeOmit = (1 << 30) - 2
)

// Utimensat implements utimensat(2).
func Utimensat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	dirfd, pathAddr, timesAddr, flags := args.Int(0), args.Addr(1), args.Addr(2), args.Int(3)
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	opts := vfs.SetStatOptions{Mask: vfs.SetStatAtimeNow | vfs.SetStatMtimeNow}
	if timesAddr != 0 {
		var b [32]byte
		if _, err := t.CopyIn(timesAddr, b[:]); err != nil {
			return 0, err
		}
		opts.Mask = 0
		for i := 0; i < 2; i++ {
			sec := int64(binary.LittleEndian.Uint64(b[16*i:]))
			nsec := int64(binary.LittleEndian.Uint64(b[16*i+8:]))
			var set, now uint32 = vfs.SetStatAtime, vfs.SetStatAtimeNow
			if i == 1 {
				set, now = vfs.SetStatMtime, vfs.SetStatMtimeNow
			}
			switch {
			case nsec == utimeOmit:
			case nsec == utimeNow:
				opts.Mask |= now
			case nsec < 0 || nsec >= 1e9:
				return 0, unix.EINVAL
			default:
				opts.Mask |= set
				if i == 0 {
					opts.Atime = vfs.Timespec{Sec: sec, Nsec: nsec}
				} else {
					opts.Mtime = vfs.Timespec{Sec: sec, Nsec: nsec}
				}
			}
		}
	}
	var pa pathAt
	var err error
	if pathAddr == 0 {
		// utimensat(fd, NULL, ...) is futimens: it applies to dirfd.
		if dirfd == atFDCWD {
			return 0, unix.EFAULT
		}
		pa, err = startAt(t, dirfd, "", true)
	} else {
		pa, err = resolveAt(t, dirfd, pathAddr, flags&unix.AT_EMPTY_PATH != 0)
	}
	if err != nil {
		return 0, err
	}
	if opts.Mask == 0 {
		_, err := pa.target(t, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
		return 0, err
	}
	return 0, setStatAt(t, pa, flags&unix.AT_SYMLINK_NOFOLLOW == 0, opts)
}

// Fsync implements fsync(2) and fdatasync(2): data written goes to the host file (or
// memory) at once, so there is nothing to wait for but what shared mappings stored, which
// is written back.
func Fsync(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	f, err := getFileNoPath(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if s, ok := f.Impl().(vfs.CacheSyncer); ok {
		if err := s.SyncCache(); err != nil {
			return 0, unix.EIO
		}
	}
	return 0, nil
}

// encodeStatfs lays out a struct statfs.
func encodeStatfs(s *vfs.Statfs) [120]byte {
	var b [120]byte
	le := binary.LittleEndian
	for i, v := range []uint64{s.Type, s.Bsize, s.Blocks, s.Bfree, s.Bavail, s.Files, s.Ffree} {
		le.PutUint64(b[8*i:], v)
	}
	// f_fsid (8 bytes at 56) stays zero.
	le.PutUint64(b[64:], s.Namelen)
	le.PutUint64(b[72:], s.Frsize)
	le.PutUint64(b[80:], s.Flags)
	return b
}

// Statfs implements statfs(2).
func Statfs(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	pa, err := resolveAt(t, atFDCWD, args.Addr(0), false)
	if err != nil {
		return 0, err
	}
	vd, err := pa.target(t, true)
	if err != nil {
		return 0, err
	}
	return statfsVD(t, vd, args.Addr(1))
}

// Fstatfs implements fstatfs(2).
func Fstatfs(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	f, err := getFile(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return statfsVD(t, f.VirtualDentry(), args.Addr(1))
}

func statfsVD(t *kernel.Task, vd vfs.VirtualDentry, addr uintptr) (uintptr, error) {
	s, err := vd.Mount.Filesystem().Statfs(t)
	if err != nil {
		return 0, err
	}
	mf := vd.Mount.Flags()
	if mf&vfs.MountReadOnly != 0 {
		s.Flags |= unix.ST_RDONLY
	}
	if mf&vfs.MountNoSUID != 0 {
		s.Flags |= unix.ST_NOSUID
	}
	if mf&vfs.MountNoDev != 0 {
		s.Flags |= unix.ST_NODEV
	}
	if mf&vfs.MountNoExec != 0 {
		s.Flags |= unix.ST_NOEXEC
	}
	s.Flags |= 0x20 // ST_VALID: f_flags is meaningful
	b := encodeStatfs(&s)
	_, err = t.CopyOut(addr, b[:])
	return 0, err
}

func init() {
	register(unix.SYS_CHMOD, "chmod", Chmod, kernel.Supported, "")
	register(unix.SYS_FCHMOD, "fchmod", Fchmod, kernel.Supported, "")
	register(unix.SYS_FCHMODAT, "fchmodat", Fchmodat, kernel.Supported, "")
	register(unix.SYS_FCHMODAT2, "fchmodat2", Fchmodat2, kernel.Supported, "")
	register(unix.SYS_CHOWN, "chown", Chown, kernel.Supported, "")
	register(unix.SYS_LCHOWN, "lchown", Lchown, kernel.Supported, "")
	register(unix.SYS_FCHOWN, "fchown", Fchown, kernel.Supported, "")
	register(unix.SYS_FCHOWNAT, "fchownat", Fchownat, kernel.Supported, "")
	register(unix.SYS_TRUNCATE, "truncate", Truncate, kernel.Supported, "")
	register(unix.SYS_FTRUNCATE, "ftruncate", Ftruncate, kernel.Supported, "")
	register(unix.SYS_UTIMENSAT, "utimensat", Utimensat, kernel.Supported, "")
	register(unix.SYS_FSYNC, "fsync", Fsync, kernel.Supported, "")
	register(unix.SYS_FDATASYNC, "fdatasync", Fsync, kernel.Supported, "")
	register(unix.SYS_STATFS, "statfs", Statfs, kernel.Supported, "")
	register(unix.SYS_FSTATFS, "fstatfs", Fstatfs, kernel.Supported, "")
}
