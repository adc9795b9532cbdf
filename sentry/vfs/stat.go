package vfs

import (
	"time"

	"golang.org/x/sys/unix"
)

// Timespec is a time as seconds and nanoseconds since the epoch.
type Timespec struct {
	Sec, Nsec int64
}

// Now returns the current time.
func Now() Timespec {
	t := time.Now()
	return Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// Statx mask bits (linux/stat.h).
const (
	StatxType       = unix.STATX_TYPE
	StatxMode       = unix.STATX_MODE
	StatxNlink      = unix.STATX_NLINK
	StatxUID        = unix.STATX_UID
	StatxGID        = unix.STATX_GID
	StatxAtime      = unix.STATX_ATIME
	StatxMtime      = unix.STATX_MTIME
	StatxCtime      = unix.STATX_CTIME
	StatxIno        = unix.STATX_INO
	StatxSize       = unix.STATX_SIZE
	StatxBlocks     = unix.STATX_BLOCKS
	StatxBasicStats = unix.STATX_BASIC_STATS
	StatxBtime      = unix.STATX_BTIME
	StatxMntID      = unix.STATX_MNT_ID
)

// Stat is a file's attributes, as statx(2) reports them. Mask says which fields the
// filesystem filled (StatxBasicStats for most).
type Stat struct {
	Mask                       uint32
	Blksize                    uint32
	Attributes                 uint64
	Nlink                      uint32
	UID, GID                   uint32
	Mode                       uint32 // S_IFMT | permission bits
	Ino                        uint64
	Size                       uint64
	Blocks                     uint64
	AttributesMask             uint64
	Atime, Btime, Ctime, Mtime Timespec
	RdevMajor, RdevMinor       uint32
	DevMajor, DevMinor         uint32
	MountID                    uint64
}

// Type returns the S_IFMT bits of Mode.
func (s *Stat) Type() uint32 { return s.Mode & unix.S_IFMT }

// Dev returns the device number as st_dev encodes it.
func (s *Stat) Dev() uint64 { return unix.Mkdev(s.DevMajor, s.DevMinor) }

// Rdev returns the represented device as st_rdev encodes it.
func (s *Stat) Rdev() uint64 { return unix.Mkdev(s.RdevMajor, s.RdevMinor) }

// SetStat mask bits: which fields of SetStatOptions apply.
const (
	SetStatMode = 1 << iota
	SetStatUID
	SetStatGID
	SetStatSize
	SetStatAtime
	SetStatMtime
	SetStatAtimeNow
	SetStatMtimeNow
	SetStatCtime // set by the VFS whenever any of the above changes something
)

// SetStatOptions describe an attribute change (chmod, chown, truncate, utimes). The VFS
// checks permissions and validity before handing them to a filesystem.
type SetStatOptions struct {
	Mask         uint32
	Mode         uint32 // permission bits only (07777)
	UID, GID     uint32
	Size         int64
	Atime, Mtime Timespec
}

// Dirent is one directory entry produced by FileImpl.Getdents.
type Dirent struct {
	Name    string
	Ino     uint64
	Type    uint8 // DT_*
	NextOff int64 // the directory offset just after this entry
}

// DirentType returns the DT_* type of a file with the given S_IFMT mode.
func DirentType(mode uint32) uint8 {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return unix.DT_REG
	case unix.S_IFDIR:
		return unix.DT_DIR
	case unix.S_IFLNK:
		return unix.DT_LNK
	case unix.S_IFCHR:
		return unix.DT_CHR
	case unix.S_IFBLK:
		return unix.DT_BLK
	case unix.S_IFIFO:
		return unix.DT_FIFO
	case unix.S_IFSOCK:
		return unix.DT_SOCK
	}
	return unix.DT_UNKNOWN
}

// Statfs is a filesystem's attributes, as statfs(2) reports them.
type Statfs struct {
	Type, Bsize, Blocks, Bfree, Bavail, Files, Ffree, Namelen, Frsize, Flags uint64
}
