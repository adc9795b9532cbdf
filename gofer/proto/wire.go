package proto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Version is the protocol version sent in a Mount request. A gofer that does
// not speak it answers EPROTONOSUPPORT.
const Version = 2

// Limits of the protocol. Decode rejects anything beyond them.
const (
	// MaxMessageSize is the largest datagram either side accepts. The
	// largest message either side builds is about 64 KiB, well within the
	// default socket buffer (a unix datagram larger than SO_SNDBUF cannot be
	// sent at all).
	MaxMessageSize = 1 << 20
	// HeaderSize is the size of the fixed message header.
	HeaderSize = 8
	// MaxNameLen is the longest path component (NAME_MAX).
	MaxNameLen = 255
	// MaxSymlinkLen is the longest symlink target (PATH_MAX - 1).
	MaxSymlinkLen = 4095
	// MaxWalkNames is the most components in one Walk request. Client.Walk
	// splits longer walks into several requests.
	MaxWalkNames = 256
	// MaxCloseHandles is the most handles in one Close request. Client.Close
	// splits longer lists.
	MaxCloseHandles = 1 << 13
	// MaxDirents is the most entries in one Getdents reply.
	MaxDirents = 1 << 14
	// MaxFDs is the most file descriptors attached to one message.
	MaxFDs = 1
	// MaxXattrSize is the largest extended attribute value (XATTR_SIZE_MAX).
	MaxXattrSize = 65536
	// MaxXattrNames is the most names in one Listxattr reply (XATTR_LIST_MAX
	// bytes of names of at least one byte and a NUL).
	MaxXattrNames = 65536 / 2
	// maxErrno bounds the errno field (Linux errnos are below 4096).
	maxErrno = 4095
)

// Handle names a file on the gofer side. The gofer hands them out (Mount,
// Walk, Create, ...) and forgets them on Close. Zero is never a valid handle.
type Handle uint64

// Timespec is a time as seconds and nanoseconds since the epoch.
type Timespec struct{ Sec, Nsec int64 }

// Stat is the attributes of a file, as stat(2) reports them.
type Stat struct {
	Dev, Ino              uint64
	Mode                  uint32 // S_IFMT|perm, as st_mode
	Nlink                 uint64
	UID, GID              uint32
	Rdev                  uint64
	Size, Blksize, Blocks int64
	Atime, Mtime, Ctime   Timespec
}

// statSize is the encoded size of a Stat.
const statSize = 8 + 8 + 4 + 8 + 4 + 4 + 8 + 8 + 8 + 8 + 3*16

// Dirent is one directory entry.
type Dirent struct {
	Name string
	Ino  uint64
	Type uint8  // DT_*
	Off  uint64 // cookie to resume after this entry
}

// Statfs is the attributes of a filesystem, as statfs(2) reports them.
type Statfs struct {
	Type, Bsize, Blocks, Bfree, Bavail, Files, Ffree, Namelen, Frsize, Flags uint64
}

// SetStat mask bits.
const (
	SetStatMode = 1 << iota
	SetStatUID
	SetStatGID
	SetStatSize
	SetStatAtime
	SetStatMtime
	SetStatAtimeNow
	SetStatMtimeNow

	// SetStatAll is every defined mask bit.
	SetStatAll = SetStatMode | SetStatUID | SetStatGID | SetStatSize | SetStatAtime |
		SetStatMtime | SetStatAtimeNow | SetStatMtimeNow
)

// SetStatArgs says which attributes SetStat changes (Mask) and to what.
type SetStatArgs struct {
	Mask     uint32
	Mode     uint32
	UID, GID uint32
	Size     int64
	Atime    Timespec
	Mtime    Timespec
}

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed gofer message")

// ErrTooLarge is returned by Encode for a message beyond the protocol's limits.
var ErrTooLarge = errors.New("gofer message exceeds protocol limits")

// encoder appends little-endian fields to a buffer. The first field that
// cannot be encoded sets err; later calls are no-ops.
type encoder struct {
	b   []byte
	err error
}

func (e *encoder) fail(format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf("%w: "+format, append([]any{ErrTooLarge}, args...)...)
	}
}

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) i64(v int64)  { e.u64(uint64(v)) }

// name encodes a path component: u8 length, bytes.
func (e *encoder) name(s string) {
	if len(s) > MaxNameLen {
		e.fail("name of %d bytes", len(s))
		return
	}
	e.u8(uint8(len(s)))
	e.b = append(e.b, s...)
}

// target encodes a symlink target: u16 length, bytes.
func (e *encoder) target(s string) {
	if len(s) > MaxSymlinkLen {
		e.fail("symlink target of %d bytes", len(s))
		return
	}
	e.u16(uint16(len(s)))
	e.b = append(e.b, s...)
}

// xattrName encodes an extended attribute name: u8 length (1 to MaxNameLen),
// bytes without NUL.
func (e *encoder) xattrName(s string) {
	if len(s) == 0 || len(s) > MaxNameLen || strings.IndexByte(s, 0) >= 0 {
		e.fail("xattr name %q", s)
		return
	}
	e.name(s)
}

// blob encodes an xattr value: u32 length (at most MaxXattrSize), bytes.
func (e *encoder) blob(b []byte) {
	if len(b) > MaxXattrSize {
		e.fail("xattr value of %d bytes", len(b))
		return
	}
	e.u32(uint32(len(b)))
	e.b = append(e.b, b...)
}

func (e *encoder) timespec(t Timespec) {
	e.i64(t.Sec)
	e.i64(t.Nsec)
}

func (e *encoder) stat(s *Stat) {
	e.u64(s.Dev)
	e.u64(s.Ino)
	e.u32(s.Mode)
	e.u64(s.Nlink)
	e.u32(s.UID)
	e.u32(s.GID)
	e.u64(s.Rdev)
	e.i64(s.Size)
	e.i64(s.Blksize)
	e.i64(s.Blocks)
	e.timespec(s.Atime)
	e.timespec(s.Mtime)
	e.timespec(s.Ctime)
}

// decoder reads little-endian fields from a buffer. The first short or invalid
// field sets err; later reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
	d.b = nil
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.fail("truncated (need %d bytes, have %d)", n, len(d.b))
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) u8() uint8 {
	p := d.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *decoder) u16() uint16 {
	p := d.take(2)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(p)
}

func (d *decoder) u32() uint32 {
	p := d.take(4)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

func (d *decoder) u64() uint64 {
	p := d.take(8)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(p)
}

func (d *decoder) i64() int64 { return int64(d.u64()) }

func (d *decoder) name() string {
	n := int(d.u8())
	return string(d.take(n))
}

func (d *decoder) xattrName() string {
	s := d.name()
	if d.err == nil && (len(s) == 0 || strings.IndexByte(s, 0) >= 0) {
		d.fail("bad xattr name %q", s)
	}
	return s
}

func (d *decoder) blob() []byte {
	n := int(d.u32())
	if n > MaxXattrSize {
		d.fail("xattr value of %d bytes", n)
		return nil
	}
	p := d.take(n)
	if p == nil {
		return nil
	}
	return append([]byte{}, p...)
}

func (d *decoder) target() string {
	n := int(d.u16())
	if n > MaxSymlinkLen {
		d.fail("symlink target of %d bytes", n)
		return ""
	}
	return string(d.take(n))
}

// count checks a list length against its limit and against the bytes left
// (each element takes at least minSize bytes), so that a hostile count can
// never cause a large allocation.
func (d *decoder) count(n, max, minSize int) int {
	if d.err != nil {
		return 0
	}
	if n > max {
		d.fail("list of %d elements exceeds %d", n, max)
		return 0
	}
	if n*minSize > len(d.b) {
		d.fail("list of %d elements in %d bytes", n, len(d.b))
		return 0
	}
	return n
}

func (d *decoder) timespec() Timespec {
	return Timespec{Sec: d.i64(), Nsec: d.i64()}
}

func (d *decoder) stat() Stat {
	var s Stat
	s.Dev = d.u64()
	s.Ino = d.u64()
	s.Mode = d.u32()
	s.Nlink = d.u64()
	s.UID = d.u32()
	s.GID = d.u32()
	s.Rdev = d.u64()
	s.Size = d.i64()
	s.Blksize = d.i64()
	s.Blocks = d.i64()
	s.Atime = d.timespec()
	s.Mtime = d.timespec()
	s.Ctime = d.timespec()
	return s
}

func (d *decoder) handle() Handle { return Handle(d.u64()) }
