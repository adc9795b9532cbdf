package proto

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// MsgType identifies a message. A reply carries its request's type | ReplyBit.
type MsgType uint8

// Request types.
const (
	MsgMount MsgType = iota + 1
	MsgWalk
	MsgStat
	MsgOpen
	MsgCreate
	MsgMkdir
	MsgMknod
	MsgSymlink
	MsgLink
	MsgUnlink
	MsgRename
	MsgReadlink
	MsgSetStat
	MsgGetdents
	MsgStatfs
	MsgClose
	MsgGetxattr
	MsgSetxattr
	MsgListxattr
	MsgRemovexattr
	msgEnd
)

// ReplyBit is set in the type of every reply.
const ReplyBit MsgType = 0x80

// IsReply reports whether t is a reply type.
func (t MsgType) IsReply() bool { return t&ReplyBit != 0 }

// Request returns the request type of t (t itself for a request).
func (t MsgType) Request() MsgType { return t &^ ReplyBit }

var msgNames = [...]string{
	MsgMount: "Mount", MsgWalk: "Walk", MsgStat: "Stat", MsgOpen: "Open",
	MsgCreate: "Create", MsgMkdir: "Mkdir", MsgMknod: "Mknod", MsgSymlink: "Symlink",
	MsgLink: "Link", MsgUnlink: "Unlink", MsgRename: "Rename", MsgReadlink: "Readlink",
	MsgSetStat: "SetStat", MsgGetdents: "Getdents", MsgStatfs: "Statfs", MsgClose: "Close",
	MsgGetxattr: "Getxattr", MsgSetxattr: "Setxattr", MsgListxattr: "Listxattr", MsgRemovexattr: "Removexattr",
}

func (t MsgType) String() string {
	r := t.Request()
	if r == 0 || r >= msgEnd {
		return fmt.Sprintf("MsgType(%#x)", uint8(t))
	}
	if t.IsReply() {
		return "R" + msgNames[r]
	}
	return "T" + msgNames[r]
}

// Header is the fixed part of every message.
type Header struct {
	Tag   uint32
	Type  MsgType
	NFDs  uint8
	Errno unix.Errno // 0 in requests and successful replies
}

// Message is a request or reply body.
type Message interface {
	// Type is the message's type (with ReplyBit for replies).
	Type() MsgType
	encode(e *encoder)
	decode(d *decoder)
}

// Requests. Names and fields mirror the Client methods.
type (
	TMount struct{ Version uint32 }
	TWalk  struct {
		Dir   Handle
		Names []string
	}
	TStat struct{ H Handle }
	TOpen struct {
		H     Handle
		Flags uint32
	}
	TCreate struct {
		Dir                   Handle
		Flags, Mode, UID, GID uint32
		Name                  string
	}
	TMkdir struct {
		Dir            Handle
		Mode, UID, GID uint32
		Name           string
	}
	TMknod struct {
		Dir      Handle
		Mode     uint32
		Rdev     uint64
		UID, GID uint32
		Name     string
	}
	TSymlink struct {
		Dir          Handle
		UID, GID     uint32
		Name, Target string
	}
	TLink struct {
		Dir, Target Handle
		Name        string
	}
	TUnlink struct {
		Dir   Handle
		Flags uint32
		Name  string
	}
	TRename struct {
		OldDir, NewDir   Handle
		Flags            uint32
		OldName, NewName string
	}
	TReadlink struct{ H Handle }
	TSetStat  struct {
		H    Handle
		Args SetStatArgs
	}
	TGetdents struct {
		Dir    Handle
		Cookie uint64
	}
	TStatfs struct{ H Handle }
	TClose  struct{ Handles []Handle }
	// Xattr names are at most MaxNameLen bytes, values at most MaxXattrSize.
	TGetxattr struct {
		H    Handle
		Name string
	}
	TSetxattr struct {
		H     Handle
		Flags uint32
		Name  string
		Value []byte
	}
	TListxattr   struct{ H Handle }
	TRemovexattr struct {
		H    Handle
		Name string
	}
)

// Replies. A reply that carries a host fd (ROpen, RCreate) has it attached
// with SCM_RIGHTS and NFDs = 1 in the header.
type (
	RMount struct {
		H    Handle
		Stat Stat
	}
	// RWalk is also sent with a non-zero errno, holding the components
	// walked before the error.
	RWalk struct {
		Handles []Handle
		Stats   []Stat
	}
	RStat   struct{ Stat Stat }
	ROpen   struct{}
	RCreate struct {
		H    Handle
		Stat Stat
	}
	RMkdir struct {
		H    Handle
		Stat Stat
	}
	RMknod struct {
		H    Handle
		Stat Stat
	}
	RSymlink struct {
		H    Handle
		Stat Stat
	}
	RLink        struct{ Stat Stat }
	RUnlink      struct{}
	RRename      struct{}
	RReadlink    struct{ Target string }
	RSetStat     struct{}
	RGetdents    struct{ Dirents []Dirent }
	RStatfs      struct{ Statfs Statfs }
	RClose       struct{}
	RGetxattr    struct{ Value []byte }
	RSetxattr    struct{}
	RListxattr   struct{ Names []string }
	RRemovexattr struct{}
)

func (*TMount) Type() MsgType    { return MsgMount }
func (*TWalk) Type() MsgType     { return MsgWalk }
func (*TStat) Type() MsgType     { return MsgStat }
func (*TOpen) Type() MsgType     { return MsgOpen }
func (*TCreate) Type() MsgType   { return MsgCreate }
func (*TMkdir) Type() MsgType    { return MsgMkdir }
func (*TMknod) Type() MsgType    { return MsgMknod }
func (*TSymlink) Type() MsgType  { return MsgSymlink }
func (*TLink) Type() MsgType     { return MsgLink }
func (*TUnlink) Type() MsgType   { return MsgUnlink }
func (*TRename) Type() MsgType   { return MsgRename }
func (*TReadlink) Type() MsgType { return MsgReadlink }
func (*TSetStat) Type() MsgType  { return MsgSetStat }
func (*TGetdents) Type() MsgType { return MsgGetdents }
func (*TStatfs) Type() MsgType   { return MsgStatfs }
func (*TClose) Type() MsgType    { return MsgClose }

func (*TGetxattr) Type() MsgType    { return MsgGetxattr }
func (*TSetxattr) Type() MsgType    { return MsgSetxattr }
func (*TListxattr) Type() MsgType   { return MsgListxattr }
func (*TRemovexattr) Type() MsgType { return MsgRemovexattr }
func (*RGetxattr) Type() MsgType    { return MsgGetxattr | ReplyBit }
func (*RSetxattr) Type() MsgType    { return MsgSetxattr | ReplyBit }
func (*RListxattr) Type() MsgType   { return MsgListxattr | ReplyBit }
func (*RRemovexattr) Type() MsgType { return MsgRemovexattr | ReplyBit }

func (*RMount) Type() MsgType    { return MsgMount | ReplyBit }
func (*RWalk) Type() MsgType     { return MsgWalk | ReplyBit }
func (*RStat) Type() MsgType     { return MsgStat | ReplyBit }
func (*ROpen) Type() MsgType     { return MsgOpen | ReplyBit }
func (*RCreate) Type() MsgType   { return MsgCreate | ReplyBit }
func (*RMkdir) Type() MsgType    { return MsgMkdir | ReplyBit }
func (*RMknod) Type() MsgType    { return MsgMknod | ReplyBit }
func (*RSymlink) Type() MsgType  { return MsgSymlink | ReplyBit }
func (*RLink) Type() MsgType     { return MsgLink | ReplyBit }
func (*RUnlink) Type() MsgType   { return MsgUnlink | ReplyBit }
func (*RRename) Type() MsgType   { return MsgRename | ReplyBit }
func (*RReadlink) Type() MsgType { return MsgReadlink | ReplyBit }
func (*RSetStat) Type() MsgType  { return MsgSetStat | ReplyBit }
func (*RGetdents) Type() MsgType { return MsgGetdents | ReplyBit }
func (*RStatfs) Type() MsgType   { return MsgStatfs | ReplyBit }
func (*RClose) Type() MsgType    { return MsgClose | ReplyBit }

// newMessage returns an empty message of type t, or nil for an unknown type.
func newMessage(t MsgType) Message {
	switch t {
	case MsgMount:
		return new(TMount)
	case MsgWalk:
		return new(TWalk)
	case MsgStat:
		return new(TStat)
	case MsgOpen:
		return new(TOpen)
	case MsgCreate:
		return new(TCreate)
	case MsgMkdir:
		return new(TMkdir)
	case MsgMknod:
		return new(TMknod)
	case MsgSymlink:
		return new(TSymlink)
	case MsgLink:
		return new(TLink)
	case MsgUnlink:
		return new(TUnlink)
	case MsgRename:
		return new(TRename)
	case MsgReadlink:
		return new(TReadlink)
	case MsgSetStat:
		return new(TSetStat)
	case MsgGetdents:
		return new(TGetdents)
	case MsgStatfs:
		return new(TStatfs)
	case MsgClose:
		return new(TClose)
	case MsgMount | ReplyBit:
		return new(RMount)
	case MsgWalk | ReplyBit:
		return new(RWalk)
	case MsgStat | ReplyBit:
		return new(RStat)
	case MsgOpen | ReplyBit:
		return new(ROpen)
	case MsgCreate | ReplyBit:
		return new(RCreate)
	case MsgMkdir | ReplyBit:
		return new(RMkdir)
	case MsgMknod | ReplyBit:
		return new(RMknod)
	case MsgSymlink | ReplyBit:
		return new(RSymlink)
	case MsgLink | ReplyBit:
		return new(RLink)
	case MsgUnlink | ReplyBit:
		return new(RUnlink)
	case MsgRename | ReplyBit:
		return new(RRename)
	case MsgReadlink | ReplyBit:
		return new(RReadlink)
	case MsgSetStat | ReplyBit:
		return new(RSetStat)
	case MsgGetdents | ReplyBit:
		return new(RGetdents)
	case MsgStatfs | ReplyBit:
		return new(RStatfs)
	case MsgClose | ReplyBit:
		return new(RClose)
	case MsgGetxattr:
		return new(TGetxattr)
	case MsgSetxattr:
		return new(TSetxattr)
	case MsgListxattr:
		return new(TListxattr)
	case MsgRemovexattr:
		return new(TRemovexattr)
	case MsgGetxattr | ReplyBit:
		return new(RGetxattr)
	case MsgSetxattr | ReplyBit:
		return new(RSetxattr)
	case MsgListxattr | ReplyBit:
		return new(RListxattr)
	case MsgRemovexattr | ReplyBit:
		return new(RRemovexattr)
	}
	return nil
}

// ExpectedFDs is the number of file descriptors a message with this header
// must carry: one for a successful Open or Create reply, none otherwise.
func ExpectedFDs(t MsgType, errno unix.Errno) int {
	if errno == 0 && (t == MsgOpen|ReplyBit || t == MsgCreate|ReplyBit) {
		return 1
	}
	return 0
}

// Encode returns the datagram for message m with the given tag. errno must be
// zero for requests; for a failed reply m may be nil (or, for Walk, the
// components walked before the error). The number of fds to attach is derived
// from the type and errno (see ExpectedFDs).
func Encode(tag uint32, errno unix.Errno, m Message) ([]byte, error) {
	return AppendEncode(make([]byte, 0, 64), tag, errno, m)
}

// AppendEncode is Encode appending to buf.
func AppendEncode(buf []byte, tag uint32, errno unix.Errno, m Message) ([]byte, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil message", ErrTooLarge)
	}
	t := m.Type()
	if errno < 0 || errno > maxErrno || (errno != 0 && !t.IsReply()) {
		return nil, fmt.Errorf("%w: errno %d in %v", ErrTooLarge, int(errno), t)
	}
	e := encoder{b: buf}
	e.u32(tag)
	e.u8(uint8(t))
	e.u8(uint8(ExpectedFDs(t, errno)))
	e.u16(uint16(errno))
	if errno == 0 || (t == MsgWalk|ReplyBit && len(m.(*RWalk).Handles) > 0) {
		m.encode(&e)
	}
	if e.err != nil {
		return nil, e.err
	}
	if len(e.b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %v of %d bytes", ErrTooLarge, t, len(e.b))
	}
	return e.b, nil
}

// EncodeError returns a failed reply of request type req (a request or reply
// type) with the given tag and errno, and no body.
func EncodeError(tag uint32, req MsgType, errno unix.Errno) []byte {
	if errno <= 0 || errno > maxErrno {
		errno = unix.EIO
	}
	b := make([]byte, HeaderSize)
	binary.LittleEndian.PutUint32(b, tag)
	b[4] = uint8(req.Request() | ReplyBit)
	b[5] = 0
	binary.LittleEndian.PutUint16(b[6:], uint16(errno))
	return b
}

// DecodeHeader decodes the fixed header of b.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d-byte message is shorter than the header", ErrMalformed, len(b))
	}
	h := Header{
		Tag:   binary.LittleEndian.Uint32(b),
		Type:  MsgType(b[4]),
		NFDs:  b[5],
		Errno: unix.Errno(binary.LittleEndian.Uint16(b[6:])),
	}
	if r := h.Type.Request(); r == 0 || r >= msgEnd {
		return h, fmt.Errorf("%w: unknown message type %#x", ErrMalformed, uint8(h.Type))
	}
	if h.Errno > maxErrno || (h.Errno != 0 && !h.Type.IsReply()) {
		return h, fmt.Errorf("%w: errno %d in %v", ErrMalformed, int(h.Errno), h.Type)
	}
	if int(h.NFDs) != ExpectedFDs(h.Type, h.Errno) {
		return h, fmt.Errorf("%w: %v with %d fds", ErrMalformed, h.Type, h.NFDs)
	}
	return h, nil
}

// Decode decodes one datagram. For a failed reply other than Walk the message
// is nil; a failed Walk reply always yields an *RWalk (empty if the body is). Any truncation, trailing byte, unknown type or out-of-limit field is
// an error wrapping ErrMalformed; the header is returned whenever it could be
// decoded so that the server can answer the tag.
func Decode(b []byte) (Header, Message, error) {
	h, err := DecodeHeader(b)
	if err != nil {
		return h, nil, err
	}
	if len(b) > MaxMessageSize {
		return h, nil, fmt.Errorf("%w: %d-byte message", ErrMalformed, len(b))
	}
	body := b[HeaderSize:]
	walkErr := h.Errno != 0 && h.Type == MsgWalk|ReplyBit
	if h.Errno != 0 && (!walkErr || len(body) == 0) {
		if len(body) != 0 {
			return h, nil, fmt.Errorf("%w: %v error reply with a body", ErrMalformed, h.Type)
		}
		if walkErr {
			return h, &RWalk{Handles: []Handle{}, Stats: []Stat{}}, nil
		}
		return h, nil, nil
	}
	m := newMessage(h.Type)
	d := decoder{b: body}
	m.decode(&d)
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err == nil && walkErr && len(m.(*RWalk).Handles) == 0 {
		// A failed walk that got nowhere is sent without a body.
		d.fail("empty body spelled out in a failed walk")
	}
	if d.err != nil {
		return h, nil, fmt.Errorf("%v: %w", h.Type, d.err)
	}
	return h, m, nil
}

// Bodies.

func (m *TMount) encode(e *encoder) { e.u32(m.Version) }
func (m *TMount) decode(d *decoder) { m.Version = d.u32() }

func (m *TWalk) encode(e *encoder) {
	if len(m.Names) > MaxWalkNames {
		e.fail("walk of %d names", len(m.Names))
		return
	}
	e.u64(uint64(m.Dir))
	e.u16(uint16(len(m.Names)))
	for _, n := range m.Names {
		e.name(n)
	}
}

func (m *TWalk) decode(d *decoder) {
	m.Dir = d.handle()
	n := d.count(int(d.u16()), MaxWalkNames, 1)
	m.Names = make([]string, n)
	for i := range m.Names {
		m.Names[i] = d.name()
	}
}

func (m *TStat) encode(e *encoder) { e.u64(uint64(m.H)) }
func (m *TStat) decode(d *decoder) { m.H = d.handle() }

func (m *TOpen) encode(e *encoder) {
	e.u64(uint64(m.H))
	e.u32(m.Flags)
}

func (m *TOpen) decode(d *decoder) {
	m.H = d.handle()
	m.Flags = d.u32()
}

func (m *TCreate) encode(e *encoder) {
	e.u64(uint64(m.Dir))
	e.u32(m.Flags)
	e.u32(m.Mode)
	e.u32(m.UID)
	e.u32(m.GID)
	e.name(m.Name)
}

func (m *TCreate) decode(d *decoder) {
	m.Dir = d.handle()
	m.Flags = d.u32()
	m.Mode = d.u32()
	m.UID = d.u32()
	m.GID = d.u32()
	m.Name = d.name()
}

func (m *TMkdir) encode(e *encoder) {
	e.u64(uint64(m.Dir))
	e.u32(m.Mode)
	e.u32(m.UID)
	e.u32(m.GID)
	e.name(m.Name)
}

func (m *TMkdir) decode(d *decoder) {
	m.Dir = d.handle()
	m.Mode = d.u32()
	m.UID = d.u32()
	m.GID = d.u32()
	m.Name = d.name()
}

func (m *TMknod) encode(e *encoder) {
	e.u64(uint64(m.Dir))
	e.u32(m.Mode)
	e.u64(m.Rdev)
	e.u32(m.UID)
	e.u32(m.GID)
	e.name(m.Name)
}

func (m *TMknod) decode(d *decoder) {
	m.Dir = d.handle()
	m.Mode = d.u32()
	m.Rdev = d.u64()
	m.UID = d.u32()
	m.GID = d.u32()
	m.Name = d.name()
}

func (m *TSymlink) encode(e *encoder) {
	e.u64(uint64(m.Dir))
	e.u32(m.UID)
	e.u32(m.GID)
	e.name(m.Name)
	e.target(m.Target)
}

func (m *TSymlink) decode(d *decoder) {
	m.Dir = d.handle()
	m.UID = d.u32()
	m.GID = d.u32()
	m.Name = d.name()
	m.Target = d.target()
}

func (m *TLink) encode(e *encoder) {
	e.u64(uint64(m.Dir))
	e.u64(uint64(m.Target))
	e.name(m.Name)
}

func (m *TLink) decode(d *decoder) {
	m.Dir = d.handle()
	m.Target = d.handle()
	m.Name = d.name()
}

func (m *TUnlink) encode(e *encoder) {
	e.u64(uint64(m.Dir))
	e.u32(m.Flags)
	e.name(m.Name)
}

func (m *TUnlink) decode(d *decoder) {
	m.Dir = d.handle()
	m.Flags = d.u32()
	m.Name = d.name()
}

func (m *TRename) encode(e *encoder) {
	e.u64(uint64(m.OldDir))
	e.u64(uint64(m.NewDir))
	e.u32(m.Flags)
	e.name(m.OldName)
	e.name(m.NewName)
}

func (m *TRename) decode(d *decoder) {
	m.OldDir = d.handle()
	m.NewDir = d.handle()
	m.Flags = d.u32()
	m.OldName = d.name()
	m.NewName = d.name()
}

func (m *TReadlink) encode(e *encoder) { e.u64(uint64(m.H)) }
func (m *TReadlink) decode(d *decoder) { m.H = d.handle() }

func (m *TSetStat) encode(e *encoder) {
	e.u64(uint64(m.H))
	e.u32(m.Args.Mask)
	e.u32(m.Args.Mode)
	e.u32(m.Args.UID)
	e.u32(m.Args.GID)
	e.i64(m.Args.Size)
	e.timespec(m.Args.Atime)
	e.timespec(m.Args.Mtime)
}

func (m *TSetStat) decode(d *decoder) {
	m.H = d.handle()
	m.Args.Mask = d.u32()
	m.Args.Mode = d.u32()
	m.Args.UID = d.u32()
	m.Args.GID = d.u32()
	m.Args.Size = d.i64()
	m.Args.Atime = d.timespec()
	m.Args.Mtime = d.timespec()
}

func (m *TGetdents) encode(e *encoder) {
	e.u64(uint64(m.Dir))
	e.u64(m.Cookie)
}

func (m *TGetdents) decode(d *decoder) {
	m.Dir = d.handle()
	m.Cookie = d.u64()
}

func (m *TStatfs) encode(e *encoder) { e.u64(uint64(m.H)) }
func (m *TStatfs) decode(d *decoder) { m.H = d.handle() }

func (m *TClose) encode(e *encoder) {
	if len(m.Handles) > MaxCloseHandles {
		e.fail("close of %d handles", len(m.Handles))
		return
	}
	e.u32(uint32(len(m.Handles)))
	for _, h := range m.Handles {
		e.u64(uint64(h))
	}
}

func (m *TClose) decode(d *decoder) {
	n := d.count(int(d.u32()), MaxCloseHandles, 8)
	m.Handles = make([]Handle, n)
	for i := range m.Handles {
		m.Handles[i] = d.handle()
	}
}

func (m *RMount) encode(e *encoder) {
	e.u64(uint64(m.H))
	e.stat(&m.Stat)
}

func (m *RMount) decode(d *decoder) {
	m.H = d.handle()
	m.Stat = d.stat()
}

func (m *RWalk) encode(e *encoder) {
	if len(m.Handles) != len(m.Stats) || len(m.Handles) > MaxWalkNames {
		e.fail("walk reply of %d handles and %d stats", len(m.Handles), len(m.Stats))
		return
	}
	e.u16(uint16(len(m.Handles)))
	for i := range m.Handles {
		e.u64(uint64(m.Handles[i]))
		e.stat(&m.Stats[i])
	}
}

func (m *RWalk) decode(d *decoder) {
	n := d.count(int(d.u16()), MaxWalkNames, 8+statSize)
	m.Handles = make([]Handle, n)
	m.Stats = make([]Stat, n)
	for i := 0; i < n; i++ {
		m.Handles[i] = d.handle()
		m.Stats[i] = d.stat()
	}
}

func (m *RStat) encode(e *encoder) { e.stat(&m.Stat) }
func (m *RStat) decode(d *decoder) { m.Stat = d.stat() }

func (m *ROpen) encode(e *encoder) {}
func (m *ROpen) decode(d *decoder) {}

func (m *RCreate) encode(e *encoder) {
	e.u64(uint64(m.H))
	e.stat(&m.Stat)
}

func (m *RCreate) decode(d *decoder) {
	m.H = d.handle()
	m.Stat = d.stat()
}

func (m *RMkdir) encode(e *encoder) {
	e.u64(uint64(m.H))
	e.stat(&m.Stat)
}

func (m *RMkdir) decode(d *decoder) {
	m.H = d.handle()
	m.Stat = d.stat()
}

func (m *RMknod) encode(e *encoder) {
	e.u64(uint64(m.H))
	e.stat(&m.Stat)
}

func (m *RMknod) decode(d *decoder) {
	m.H = d.handle()
	m.Stat = d.stat()
}

func (m *RSymlink) encode(e *encoder) {
	e.u64(uint64(m.H))
	e.stat(&m.Stat)
}

func (m *RSymlink) decode(d *decoder) {
	m.H = d.handle()
	m.Stat = d.stat()
}

func (m *RLink) encode(e *encoder) { e.stat(&m.Stat) }
func (m *RLink) decode(d *decoder) { m.Stat = d.stat() }

func (m *RUnlink) encode(e *encoder) {}
func (m *RUnlink) decode(d *decoder) {}

func (m *RRename) encode(e *encoder) {}
func (m *RRename) decode(d *decoder) {}

func (m *RReadlink) encode(e *encoder) { e.target(m.Target) }
func (m *RReadlink) decode(d *decoder) { m.Target = d.target() }

func (m *RSetStat) encode(e *encoder) {}
func (m *RSetStat) decode(d *decoder) {}

// direntMinSize is the smallest encoded Dirent: ino, off, type, name length
// and a one-byte name.
const direntMinSize = 8 + 8 + 1 + 1 + 1

func (m *RGetdents) encode(e *encoder) {
	if len(m.Dirents) > MaxDirents {
		e.fail("%d dirents", len(m.Dirents))
		return
	}
	e.u32(uint32(len(m.Dirents)))
	for i := range m.Dirents {
		de := &m.Dirents[i]
		if !validDirentName(de.Name) {
			e.fail("bad dirent name %q", de.Name)
			return
		}
		e.u64(de.Ino)
		e.u64(de.Off)
		e.u8(de.Type)
		e.name(de.Name)
	}
}

func (m *RGetdents) decode(d *decoder) {
	n := d.count(int(d.u32()), MaxDirents, direntMinSize)
	m.Dirents = make([]Dirent, n)
	for i := 0; i < n; i++ {
		de := &m.Dirents[i]
		de.Ino = d.u64()
		de.Off = d.u64()
		de.Type = d.u8()
		de.Name = d.name()
		if d.err == nil && !validDirentName(de.Name) {
			d.fail("bad dirent name %q", de.Name)
		}
	}
}

// validDirentName reports whether s can be a directory entry's name: 1 to
// MaxNameLen bytes without '/' or NUL ("." and ".." are fine).
func validDirentName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '/' || s[i] == 0 {
			return false
		}
	}
	return true
}

func (m *RStatfs) encode(e *encoder) {
	s := &m.Statfs
	for _, v := range [...]uint64{s.Type, s.Bsize, s.Blocks, s.Bfree, s.Bavail, s.Files, s.Ffree, s.Namelen, s.Frsize, s.Flags} {
		e.u64(v)
	}
}

func (m *RStatfs) decode(d *decoder) {
	s := &m.Statfs
	for _, p := range [...]*uint64{&s.Type, &s.Bsize, &s.Blocks, &s.Bfree, &s.Bavail, &s.Files, &s.Ffree, &s.Namelen, &s.Frsize, &s.Flags} {
		*p = d.u64()
	}
}

func (m *RClose) encode(e *encoder) {}
func (m *RClose) decode(d *decoder) {}

func (m *TGetxattr) encode(e *encoder) {
	e.u64(uint64(m.H))
	e.xattrName(m.Name)
}

func (m *TGetxattr) decode(d *decoder) {
	m.H = d.handle()
	m.Name = d.xattrName()
}

func (m *TSetxattr) encode(e *encoder) {
	e.u64(uint64(m.H))
	e.u32(m.Flags)
	e.xattrName(m.Name)
	e.blob(m.Value)
}

func (m *TSetxattr) decode(d *decoder) {
	m.H = d.handle()
	m.Flags = d.u32()
	m.Name = d.xattrName()
	m.Value = d.blob()
}

func (m *TListxattr) encode(e *encoder) { e.u64(uint64(m.H)) }
func (m *TListxattr) decode(d *decoder) { m.H = d.handle() }

func (m *TRemovexattr) encode(e *encoder) {
	e.u64(uint64(m.H))
	e.xattrName(m.Name)
}

func (m *TRemovexattr) decode(d *decoder) {
	m.H = d.handle()
	m.Name = d.xattrName()
}

func (m *RGetxattr) encode(e *encoder) { e.blob(m.Value) }
func (m *RGetxattr) decode(d *decoder) { m.Value = d.blob() }

func (m *RSetxattr) encode(e *encoder) {}
func (m *RSetxattr) decode(d *decoder) {}

func (m *RListxattr) encode(e *encoder) {
	if len(m.Names) > MaxXattrNames {
		e.fail("%d xattr names", len(m.Names))
		return
	}
	e.u32(uint32(len(m.Names)))
	for _, n := range m.Names {
		e.xattrName(n)
	}
}

func (m *RListxattr) decode(d *decoder) {
	n := d.count(int(d.u32()), MaxXattrNames, 2)
	m.Names = make([]string, n)
	for i := range m.Names {
		m.Names[i] = d.xattrName()
	}
}

func (m *RRemovexattr) encode(e *encoder) {}
func (m *RRemovexattr) decode(d *decoder) {}
