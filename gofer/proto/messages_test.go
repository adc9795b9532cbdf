package proto

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

var testStat = Stat{
	Dev: 1, Ino: 2, Mode: unix.S_IFREG | 0o644, Nlink: 3, UID: 4, GID: 5, Rdev: 6,
	Size: 7, Blksize: 8, Blocks: 9,
	Atime: Timespec{10, 11}, Mtime: Timespec{12, 13}, Ctime: Timespec{-14, 15},
}

// sampleMessages returns one filled-in message of every type.
func sampleMessages() []Message {
	long := strings.Repeat("n", MaxNameLen)
	return []Message{
		&TMount{Version: Version},
		&TWalk{Dir: 1, Names: []string{"a", long, ""}},
		&TWalk{Dir: 1, Names: []string{}},
		&TStat{H: 3},
		&TOpen{H: 4, Flags: unix.O_RDWR | unix.O_TRUNC},
		&TCreate{Dir: 5, Flags: unix.O_WRONLY, Mode: 0o640, UID: 1000, GID: 1001, Name: "f"},
		&TMkdir{Dir: 6, Mode: 0o755, UID: 1, GID: 2, Name: "d"},
		&TMknod{Dir: 7, Mode: unix.S_IFIFO | 0o600, Rdev: 0x0102, UID: 3, GID: 4, Name: "p"},
		&TSymlink{Dir: 8, UID: 5, GID: 6, Name: "l", Target: strings.Repeat("t", MaxSymlinkLen)},
		&TLink{Dir: 9, Target: 10, Name: "h"},
		&TUnlink{Dir: 11, Flags: unix.AT_REMOVEDIR, Name: "x"},
		&TRename{OldDir: 12, NewDir: 13, Flags: unix.RENAME_NOREPLACE, OldName: "o", NewName: "n"},
		&TReadlink{H: 14},
		&TSetStat{H: 15, Args: SetStatArgs{Mask: SetStatAll, Mode: 0o777, UID: 1, GID: 2, Size: 3, Atime: Timespec{4, 5}, Mtime: Timespec{6, 7}}},
		&TGetdents{Dir: 16, Cookie: 1 << 62},
		&TStatfs{H: 17},
		&TClose{Handles: []Handle{1, 2, 3}},
		&RMount{H: 1, Stat: testStat},
		&RWalk{Handles: []Handle{1, 2}, Stats: []Stat{testStat, testStat}},
		&RWalk{Handles: []Handle{}, Stats: []Stat{}},
		&RStat{Stat: testStat},
		&ROpen{},
		&RCreate{H: 2, Stat: testStat},
		&RMkdir{H: 3, Stat: testStat},
		&RMknod{H: 4, Stat: testStat},
		&RSymlink{H: 5, Stat: testStat},
		&RLink{Stat: testStat},
		&RUnlink{},
		&RRename{},
		&RReadlink{Target: "/etc/passwd"},
		&RSetStat{},
		&RGetdents{Dirents: []Dirent{{Name: ".", Ino: 1, Type: unix.DT_DIR, Off: 1}, {Name: "..", Ino: 2, Type: unix.DT_DIR, Off: 2}, {Name: long, Ino: 3, Type: unix.DT_REG, Off: 1 << 63}}},
		&RGetdents{Dirents: []Dirent{}},
		&RStatfs{Statfs: Statfs{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		&RClose{},
		&TGetxattr{H: 18, Name: "user.a"},
		&TSetxattr{H: 19, Flags: 1, Name: long, Value: bytes.Repeat([]byte{0, 1}, MaxXattrSize/2)},
		&TSetxattr{H: 19, Name: "user.empty", Value: []byte{}},
		&TListxattr{H: 20},
		&TRemovexattr{H: 21, Name: "security.x"},
		&RGetxattr{Value: []byte("v\x00w")},
		&RSetxattr{},
		&RListxattr{Names: []string{"user.a", long}},
		&RListxattr{Names: []string{}},
		&RRemovexattr{},
	}
}

func TestRoundTrip(t *testing.T) {
	seen := map[MsgType]bool{}
	for i, m := range sampleMessages() {
		b, err := Encode(uint32(i)+100, 0, m)
		if err != nil {
			t.Fatalf("Encode(%T): %v", m, err)
		}
		h, got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(%T): %v", m, err)
		}
		if h.Tag != uint32(i)+100 || h.Type != m.Type() || h.Errno != 0 || int(h.NFDs) != ExpectedFDs(m.Type(), 0) {
			t.Errorf("%T: header %+v", m, h)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%T: decoded %+v, want %+v", m, got, m)
		}
		seen[m.Type()] = true
	}
	for typ := MsgMount; typ < msgEnd; typ++ {
		if !seen[typ] || !seen[typ|ReplyBit] {
			t.Errorf("%v or its reply not covered", typ)
		}
	}
}

func TestErrorReply(t *testing.T) {
	b := EncodeError(7, MsgStat, unix.ENOENT)
	h, m, err := Decode(b)
	if err != nil || m != nil || h.Tag != 7 || h.Type != MsgStat|ReplyBit || h.Errno != unix.ENOENT {
		t.Fatalf("Decode(error reply) = %+v, %v, %v", h, m, err)
	}
	// A partial walk carries its body with the errno.
	w := &RWalk{Handles: []Handle{9}, Stats: []Stat{testStat}}
	b, err = Encode(8, unix.ENOTDIR, w)
	if err != nil {
		t.Fatal(err)
	}
	h, m, err = Decode(b)
	if err != nil || h.Errno != unix.ENOTDIR || !reflect.DeepEqual(m, w) {
		t.Fatalf("Decode(partial walk) = %+v, %+v, %v", h, m, err)
	}
	// A walk that failed at once has no body, and decodes to an empty RWalk.
	b, err = Encode(8, unix.ENOENT, &RWalk{})
	if err != nil || len(b) != HeaderSize {
		t.Fatalf("Encode(empty failed walk) = %x, %v", b, err)
	}
	if !bytes.Equal(b, EncodeError(8, MsgWalk, unix.ENOENT)) {
		t.Fatalf("Encode and EncodeError disagree")
	}
	if _, m, err = Decode(b); err != nil || m == nil || len(m.(*RWalk).Handles) != 0 {
		t.Fatalf("Decode(empty failed walk) = %+v, %v", m, err)
	}
	if _, _, err := Decode(append(b, 0, 0)); err == nil {
		t.Fatal("a failed walk with an explicit empty body decoded")
	}
	// An error reply other than Walk has no body and no fds.
	b, err = Encode(9, unix.EACCES, &ROpen{})
	if err != nil || len(b) != HeaderSize || b[5] != 0 {
		t.Fatalf("Encode(failed ROpen) = %x, %v", b, err)
	}
	if _, err := Encode(1, unix.EIO, &TStat{}); err == nil {
		t.Error("Encode accepted an errno in a request")
	}
}

func TestEncodeLimits(t *testing.T) {
	for _, m := range []Message{
		&TWalk{Names: []string{strings.Repeat("x", MaxNameLen+1)}},
		&TWalk{Names: make([]string, MaxWalkNames+1)},
		&TCreate{Name: strings.Repeat("x", 256)},
		&TSymlink{Name: "l", Target: strings.Repeat("x", MaxSymlinkLen+1)},
		&TClose{Handles: make([]Handle, MaxCloseHandles+1)},
		&RWalk{Handles: []Handle{1}},
		&RGetdents{Dirents: []Dirent{{Name: "a/b"}}},
		&RGetdents{Dirents: []Dirent{{Name: ""}}},
	} {
		if b, err := Encode(1, 0, m); err == nil {
			t.Errorf("Encode(%T) = %d bytes, want error", m, len(b))
		} else if !errors.Is(err, ErrTooLarge) {
			t.Errorf("Encode(%T) error %v does not wrap ErrTooLarge", m, err)
		}
	}
}

// TestLargestMessagesFit checks that the largest messages either side builds
// stay within a default unix socket buffer (a larger datagram cannot be sent).
func TestLargestMessagesFit(t *testing.T) {
	names := make([]string, MaxWalkNames)
	stats := make([]Stat, MaxWalkNames)
	hs := make([]Handle, MaxWalkNames)
	for i := range names {
		names[i] = strings.Repeat("x", MaxNameLen)
	}
	for _, m := range []Message{
		&TWalk{Names: names},
		&RWalk{Handles: hs, Stats: stats},
		&TClose{Handles: make([]Handle, MaxCloseHandles)},
	} {
		b, err := Encode(1, 0, m)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 100<<10 {
			t.Errorf("%T is %d bytes", m, len(b))
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	for i, m := range sampleMessages() {
		b, err := Encode(uint32(i), 0, m)
		if err != nil {
			t.Fatal(err)
		}
		// Every strict prefix is truncated, except that a reply with an
		// empty body has nothing to truncate past the header.
		for n := 0; n < len(b); n++ {
			if _, _, err := Decode(b[:n]); err == nil {
				t.Errorf("%T: %d-byte prefix of %d decoded", m, n, len(b))
			} else if !errors.Is(err, ErrMalformed) {
				t.Errorf("%T: error %v does not wrap ErrMalformed", m, err)
			}
		}
		if _, _, err := Decode(append(b[:len(b):len(b)], 0)); err == nil {
			t.Errorf("%T: trailing byte accepted", m)
		}
	}
	hdr := func(typ MsgType, nfds uint8, errno uint16) []byte {
		return []byte{1, 0, 0, 0, byte(typ), nfds, byte(errno), byte(errno >> 8)}
	}
	bad := map[string][]byte{
		"empty":              {},
		"type 0":             hdr(0, 0, 0),
		"type end":           hdr(msgEnd, 0, 0),
		"reply type end":     hdr(msgEnd|ReplyBit, 0, 0),
		"errno in request":   append(hdr(MsgStat, 0, 2), make([]byte, 8)...),
		"errno too big":      hdr(MsgStat|ReplyBit, 0, 5000),
		"fds in request":     append(hdr(MsgStat, 1, 0), make([]byte, 8)...),
		"open reply w/o fd":  hdr(MsgOpen|ReplyBit, 0, 0),
		"failed open w/ fd":  hdr(MsgOpen|ReplyBit, 1, 2),
		"error with body":    append(hdr(MsgStat|ReplyBit, 0, 2), 0),
		"walk count too big": append(append(hdr(MsgWalk, 0, 0), make([]byte, 8)...), 0xff, 0xff),
		"walk count > body":  append(append(hdr(MsgWalk, 0, 0), make([]byte, 8)...), 3, 0, 0),
		"name past end":      append(append(hdr(MsgWalk, 0, 0), make([]byte, 8)...), 1, 0, 5, 'a'),
		"close count huge":   append(hdr(MsgClose, 0, 0), 0xff, 0xff, 0xff, 0xff),
		"dirents huge":       append(hdr(MsgGetdents|ReplyBit, 0, 0), 0xff, 0xff, 0xff, 0x7f),
		"target too long":    append(append(hdr(MsgReadlink|ReplyBit, 0, 0), 0x00, 0x10), make([]byte, 4096)...),
		"dirent with slash":  append(append(hdr(MsgGetdents|ReplyBit, 0, 0), 1, 0, 0, 0), append(make([]byte, 17), 3, 'a', '/', 'b')...),
		"dirent empty name":  append(append(hdr(MsgGetdents|ReplyBit, 0, 0), 1, 0, 0, 0), append(make([]byte, 17), 0, 'x', 'x')...),
		"oversized":          append(append(hdr(MsgStat, 0, 0), make([]byte, 8)...), make([]byte, MaxMessageSize)...),
	}
	for name, b := range bad {
		if _, m, err := Decode(b); err == nil {
			t.Errorf("%s: decoded %+v", name, m)
		}
	}
}

func TestCanonical(t *testing.T) {
	for i, m := range sampleMessages() {
		b, _ := Encode(uint32(i), 0, m)
		checkCanonical(t, b)
	}
}

// checkCanonical checks that a message that decodes re-encodes to the same
// bytes.
func checkCanonical(t *testing.T, b []byte) {
	h, m, err := Decode(b)
	if err != nil {
		return
	}
	var again []byte
	if m == nil {
		again = EncodeError(h.Tag, h.Type, h.Errno)
	} else {
		again, err = Encode(h.Tag, h.Errno, m)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", m, err)
		}
	}
	if !bytes.Equal(again, b) {
		t.Fatalf("re-encoding %x gave %x", b, again)
	}
}

func FuzzDecode(f *testing.F) {
	for i, m := range sampleMessages() {
		b, err := Encode(uint32(i), 0, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(EncodeError(1, MsgWalk, unix.ENOENT))
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := DecodeHeader(b); err != nil {
			if _, _, err2 := Decode(b); err2 == nil {
				t.Fatalf("Decode accepted a bad header: %v", err)
			}
		}
		checkCanonical(t, b)
	})
}

func TestMsgTypeString(t *testing.T) {
	if s := MsgWalk.String(); s != "TWalk" {
		t.Error(s)
	}
	if s := (MsgWalk | ReplyBit).String(); s != "RWalk" {
		t.Error(s)
	}
	if s := MsgType(0x7f).String(); !strings.HasPrefix(s, "MsgType(") {
		t.Error(s)
	}
}
