package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// statSize is sizeof(struct stat) on x86-64; statxSize is sizeof(struct statx).
const (
	statSize  = 144
	statxSize = 256
)

// statxAttrMountRoot is STATX_ATTR_MOUNT_ROOT; atStatxSyncType is AT_STATX_SYNC_TYPE.
const (
	statxAttrMountRoot = 0x2000
	atStatxSyncType    = 0x6000
)

// encodeStat lays out a struct stat.
func encodeStat(st *vfs.Stat) [statSize]byte {
	var b [statSize]byte
	le := binary.LittleEndian
	le.PutUint64(b[0:], st.Dev())
	le.PutUint64(b[8:], st.Ino)
	le.PutUint64(b[16:], uint64(st.Nlink))
	le.PutUint32(b[24:], st.Mode)
	le.PutUint32(b[28:], st.UID)
	le.PutUint32(b[32:], st.GID)
	le.PutUint64(b[40:], st.Rdev())
	le.PutUint64(b[48:], st.Size)
	le.PutUint64(b[56:], uint64(st.Blksize))
	le.PutUint64(b[64:], st.Blocks)
	le.PutUint64(b[72:], uint64(st.Atime.Sec))
	le.PutUint64(b[80:], uint64(st.Atime.Nsec))
	le.PutUint64(b[88:], uint64(st.Mtime.Sec))
	le.PutUint64(b[96:], uint64(st.Mtime.Nsec))
	le.PutUint64(b[104:], uint64(st.Ctime.Sec))
	le.PutUint64(b[112:], uint64(st.Ctime.Nsec))
	return b
}

func putStatxTimestamp(b []byte, ts vfs.Timespec) {
	binary.LittleEndian.PutUint64(b[0:], uint64(ts.Sec))
	binary.LittleEndian.PutUint32(b[8:], uint32(ts.Nsec))
}

// encodeStatx lays out a struct statx.
func encodeStatx(st *vfs.Stat) [statxSize]byte {
	var b [statxSize]byte
	le := binary.LittleEndian
	le.PutUint32(b[0:], st.Mask)
	le.PutUint32(b[4:], st.Blksize)
	le.PutUint64(b[8:], st.Attributes)
	le.PutUint32(b[16:], st.Nlink)
	le.PutUint32(b[20:], st.UID)
	le.PutUint32(b[24:], st.GID)
	le.PutUint16(b[28:], uint16(st.Mode))
	le.PutUint64(b[32:], st.Ino)
	le.PutUint64(b[40:], st.Size)
	le.PutUint64(b[48:], st.Blocks)
	le.PutUint64(b[56:], st.AttributesMask)
	putStatxTimestamp(b[64:], st.Atime)
	if st.Mask&vfs.StatxBtime != 0 {
		putStatxTimestamp(b[80:], st.Btime)
	}
	putStatxTimestamp(b[96:], st.Ctime)
	putStatxTimestamp(b[112:], st.Mtime)
	le.PutUint32(b[128:], st.RdevMajor)
	le.PutUint32(b[132:], st.RdevMinor)
	le.PutUint32(b[136:], st.DevMajor)
	le.PutUint32(b[140:], st.DevMinor)
	le.PutUint64(b[144:], st.MountID)
	return b
}

// statVD returns the attributes of vd, with the statx extras Linux fills.
func statVD(t *kernel.Task, vd vfs.VirtualDentry) (vfs.Stat, error) {
	st, err := t.Kernel().VFS().StatDentry(t, vd)
	if err != nil {
		return vfs.Stat{}, err
	}
	st.Mask |= vfs.StatxMntID
	st.AttributesMask |= statxAttrMountRoot
	if vd.Mount != nil && vd.Dentry == vd.Mount.Root() {
		st.Attributes |= statxAttrMountRoot
	}
	return st, nil
}

func copyOutStat(t *kernel.Task, addr uintptr, st *vfs.Stat) error {
	b := encodeStat(st)
	_, err := t.CopyOut(addr, b[:])
	return err
}

// Fstat implements fstat(2).
func Fstat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	f, err := getFile(t, args.Int(0))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	st, err := statVD(t, f.VirtualDentry())
	if err != nil {
		return 0, err
	}
	return 0, copyOutStat(t, args.Addr(1), &st)
}

// fstatat is the common part of stat, lstat and newfstatat.
func fstatat(t *kernel.Task, dirfd int32, pathAddr, statAddr uintptr, flags int32) (uintptr, error) {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT) != 0 {
		return 0, unix.EINVAL
	}
	pa, err := resolveAt(t, dirfd, pathAddr, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return 0, err
	}
	vd, err := pa.target(t, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if err != nil {
		return 0, err
	}
	st, err := statVD(t, vd)
	if err != nil {
		return 0, err
	}
	return 0, copyOutStat(t, statAddr, &st)
}

// Stat implements stat(2).
func Stat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return fstatat(t, atFDCWD, args.Addr(0), args.Addr(1), 0)
}

// Lstat implements lstat(2).
func Lstat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return fstatat(t, atFDCWD, args.Addr(0), args.Addr(1), unix.AT_SYMLINK_NOFOLLOW)
}

// Newfstatat implements newfstatat(2) (fstatat).
func Newfstatat(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	return fstatat(t, args.Int(0), args.Addr(1), args.Addr(2), args.Int(3))
}

// Statx implements statx(2). Every filesystem fills the basic fields whatever the mask
// asks, as Linux's do; the mask returned says which are valid.
func Statx(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	dirfd, pathAddr, flags, mask, bufAddr := args.Int(0), args.Addr(1), args.Int(2), args.Uint(3), args.Addr(4)
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT|atStatxSyncType) != 0 {
		return 0, unix.EINVAL
	}
	if flags&atStatxSyncType == atStatxSyncType {
		return 0, unix.EINVAL
	}
	if mask&unix.STATX__RESERVED != 0 {
		return 0, unix.EINVAL
	}
	pa, err := resolveAt(t, dirfd, pathAddr, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return 0, err
	}
	vd, err := pa.target(t, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if err != nil {
		return 0, err
	}
	st, err := statVD(t, vd)
	if err != nil {
		return 0, err
	}
	b := encodeStatx(&st)
	_, err = t.CopyOut(bufAddr, b[:])
	return 0, err
}

func init() {
	register(unix.SYS_FSTAT, "fstat", Fstat, kernel.Supported, "")
	register(unix.SYS_STAT, "stat", Stat, kernel.Supported, "")
	register(unix.SYS_LSTAT, "lstat", Lstat, kernel.Supported, "")
	register(unix.SYS_NEWFSTATAT, "newfstatat", Newfstatat, kernel.Supported, "")
	register(unix.SYS_STATX, "statx", Statx, kernel.Supported, "")
}
