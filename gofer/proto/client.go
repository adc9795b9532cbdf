package proto

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultTimeout bounds how long a call waits for its reply (and a request
// for room in the socket) before it fails with EIO. See Client.SetTimeout.
const DefaultTimeout = 2 * time.Minute

// Client is the sentry's end of a gofer connection. It is safe for concurrent
// use: requests are tagged and many may be in flight at once.
//
// Every failure that is not the gofer's own errno answer (a closed or broken
// connection, a malformed reply, a timeout) is reported as unix.EIO; after
// the connection breaks every call fails with EIO at once.
type Client struct {
	conn    *Conn
	timeout atomic.Int64 // time.Duration; 0 means wait forever

	// sendMu serializes sends so that the write deadline applies to one
	// request at a time.
	sendMu sync.Mutex

	mu        sync.Mutex
	dead      bool
	nextTag   uint32
	pending   map[uint32]chan reply // calls waiting for their reply
	abandoned map[uint32]struct{}   // calls that timed out; their late reply is cleaned up

	readerDone chan struct{}
}

// reply is a raw reply routed to its caller.
type reply struct {
	b   []byte
	fds []int
	err error
}

var errBroken = errors.New("gofer connection broken")

// NewClient takes ownership of fd, a SOCK_SEQPACKET unix socket connected to
// a gofer, and starts the goroutine that reads replies.
func NewClient(fd int) (*Client, error) {
	conn, err := NewConn(fd)
	if err != nil {
		return nil, err
	}
	c := &Client{
		conn:       conn,
		pending:    make(map[uint32]chan reply),
		abandoned:  make(map[uint32]struct{}),
		readerDone: make(chan struct{}),
	}
	c.timeout.Store(int64(DefaultTimeout))
	go c.readLoop()
	return c, nil
}

// SetTimeout sets how long later calls wait for the gofer; 0 waits forever. A
// call that times out fails with EIO (its late reply is discarded and any
// handle or fd in it released); a request that cannot even be sent in time
// breaks the connection.
func (c *Client) SetTimeout(d time.Duration) {
	if d < 0 {
		d = 0
	}
	c.timeout.Store(int64(d))
}

// Shutdown closes the connection. Calls in flight and later calls fail with
// EIO. The gofer sees the close and exits.
func (c *Client) Shutdown() error {
	c.fail()
	<-c.readerDone
	return nil
}

// fail marks the connection dead, fails every waiting call and closes the
// socket (which stops the reader).
func (c *Client) fail() {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	c.dead = true
	for tag, ch := range c.pending {
		ch <- reply{err: errBroken}
		delete(c.pending, tag)
	}
	c.mu.Unlock()
	c.conn.Close()
}

func (c *Client) readLoop() {
	defer close(c.readerDone)
	defer c.fail()
	buf := make([]byte, MaxMessageSize)
	for {
		n, fds, err := c.conn.Recv(buf)
		if err != nil && !(errors.Is(err, ErrTruncated) && n >= HeaderSize) {
			return
		}
		h, herr := DecodeHeader(buf[:n])
		if herr != nil && n < HeaderSize {
			closeAll(fds)
			return // not even a tag: the gofer is broken
		}
		r := reply{fds: fds, err: err}
		if err == nil {
			r.b = append([]byte(nil), buf[:n]...)
		}
		c.mu.Lock()
		ch, ok := c.pending[h.Tag]
		if ok {
			delete(c.pending, h.Tag)
			ch <- r
			c.mu.Unlock()
			continue
		}
		_, late := c.abandoned[h.Tag]
		delete(c.abandoned, h.Tag)
		c.mu.Unlock()
		if !late {
			// A reply nobody asked for: the gofer is confused.
			closeAll(fds)
			return
		}
		c.cleanupLate(r)
	}
}

// cleanupLate releases what a reply to a timed-out call carries: fds are
// closed, handles are closed on the gofer in the background.
func (c *Client) cleanupLate(r reply) {
	closeAll(r.fds)
	if r.err != nil {
		return
	}
	_, m, err := Decode(r.b)
	if err != nil || m == nil {
		return
	}
	var hs []Handle
	switch m := m.(type) {
	case *RMount:
		hs = append(hs, m.H)
	case *RWalk:
		hs = append(hs, m.Handles...)
	case *RCreate:
		hs = append(hs, m.H)
	case *RMkdir:
		hs = append(hs, m.H)
	case *RMknod:
		hs = append(hs, m.H)
	case *RSymlink:
		hs = append(hs, m.H)
	}
	if len(hs) > 0 {
		go c.Close(hs...)
	}
}

// roundTrip sends req and waits for its reply. It returns the reply message
// (nil for a failed reply other than Walk), the received fds, the gofer's errno
// (as unix.Errno) or EIO for any transport or protocol failure.
func (c *Client) roundTrip(req Message) (Message, []int, error) {
	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return nil, nil, unix.EIO
	}
	tag := c.nextTag
	for {
		_, p := c.pending[tag]
		_, a := c.abandoned[tag]
		if !p && !a {
			break
		}
		tag++
	}
	c.nextTag = tag + 1
	c.pending[tag] = ch
	c.mu.Unlock()

	b, err := Encode(tag, 0, req)
	if err != nil {
		c.forget(tag)
		// Only reachable through oversized arguments.
		return nil, nil, unix.ENAMETOOLONG
	}
	timeout := time.Duration(c.timeout.Load())
	c.sendMu.Lock()
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	c.conn.SetWriteDeadline(deadline)
	err = c.conn.Send(b, nil)
	c.sendMu.Unlock()
	if err != nil {
		c.forget(tag)
		c.fail()
		return nil, nil, unix.EIO
	}

	var r reply
	if timeout > 0 {
		t := time.NewTimer(timeout)
		select {
		case r = <-ch:
			t.Stop()
		case <-t.C:
			c.mu.Lock()
			if _, ok := c.pending[tag]; ok {
				delete(c.pending, tag)
				c.abandoned[tag] = struct{}{}
				c.mu.Unlock()
				return nil, nil, unix.EIO
			}
			c.mu.Unlock()
			r = <-ch // delivered just now
		}
	} else {
		r = <-ch
	}
	if r.err != nil {
		closeAll(r.fds)
		return nil, nil, unix.EIO
	}
	h, m, err := Decode(r.b)
	if err != nil || h.Type != req.Type()|ReplyBit || int(h.NFDs) != len(r.fds) {
		closeAll(r.fds)
		return nil, nil, unix.EIO
	}
	if h.Errno != 0 {
		closeAll(r.fds)
		return m, nil, h.Errno
	}
	return m, r.fds, nil
}

// forget drops a pending call that was never sent.
func (c *Client) forget(tag uint32) {
	c.mu.Lock()
	delete(c.pending, tag)
	c.mu.Unlock()
}

// call is roundTrip for replies without fds; a nil message with no error
// cannot happen after Decode, but is turned into EIO rather than a panic.
func (c *Client) call(req Message) (Message, error) {
	m, fds, err := c.roundTrip(req)
	closeAll(fds)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, unix.EIO
	}
	return m, nil
}

// Mount returns a handle to the root of the tree the gofer serves.
func (c *Client) Mount() (Handle, Stat, error) {
	m, err := c.call(&TMount{Version: Version})
	if err != nil {
		return 0, Stat{}, err
	}
	r := m.(*RMount)
	return r.H, r.Stat, nil
}

// Walk walks names from dir one component at a time, never following
// symlinks: a symlink component is returned as a handle and stat of the link
// itself, and the walk stops there unless it is the last. It returns handles
// and stats for the components walked; fewer than len(names) when it stopped
// early, with the error (unix.ENOENT, ENOTDIR, ...) that stopped it, or nil if
// it stopped at a symlink or non-directory that was not last. Walks of more
// than MaxWalkNames components take several requests.
func (c *Client) Walk(dir Handle, names []string) ([]Handle, []Stat, error) {
	var (
		hs []Handle
		ss []Stat
	)
	for len(names) > 0 {
		chunk := names
		if len(chunk) > MaxWalkNames {
			chunk = chunk[:MaxWalkNames]
		}
		for _, n := range chunk {
			if len(n) > MaxNameLen {
				return hs, ss, unix.ENAMETOOLONG
			}
		}
		m, _, err := c.roundTrip(&TWalk{Dir: dir, Names: chunk})
		r, _ := m.(*RWalk)
		if r != nil {
			if len(r.Handles) > len(chunk) {
				// A gofer answering more than asked is broken; release.
				go c.Close(r.Handles...)
				return hs, ss, unix.EIO
			}
			hs = append(hs, r.Handles...)
			ss = append(ss, r.Stats...)
		}
		if err != nil {
			return hs, ss, err
		}
		if r == nil {
			return hs, ss, unix.EIO
		}
		if len(r.Handles) < len(chunk) {
			return hs, ss, nil // stopped at a symlink or non-directory
		}
		names = names[len(chunk):]
		if len(names) > 0 {
			last := ss[len(ss)-1]
			if last.Mode&unix.S_IFMT != unix.S_IFDIR {
				return hs, ss, nil
			}
			dir = hs[len(hs)-1]
		}
	}
	if hs == nil {
		hs, ss = []Handle{}, []Stat{}
	}
	return hs, ss, nil
}

// Stat returns the attributes of h.
func (c *Client) Stat(h Handle) (Stat, error) {
	m, err := c.call(&TStat{H: h})
	if err != nil {
		return Stat{}, err
	}
	return m.(*RStat).Stat, nil
}

// Open opens the file h with open(2) flags (O_RDONLY/O_WRONLY/O_RDWR,
// O_TRUNC, O_APPEND, O_DIRECTORY, O_NONBLOCK, O_SYNC, O_DSYNC, O_DIRECT,
// O_NOATIME; O_CLOEXEC, O_NOFOLLOW, O_NOCTTY and O_LARGEFILE are ignored,
// anything else is EINVAL) and returns a host fd that the caller owns. The
// gofer never waits for a FIFO's peer: a FIFO is opened as with O_NONBLOCK
// (so O_WRONLY without a reader fails with ENXIO), and the returned fd is
// blocking unless O_NONBLOCK was asked for. Device nodes are refused (EPERM),
// a symlink is ELOOP, and a file that was replaced or removed since it was
// walked is ESTALE.
func (c *Client) Open(h Handle, flags uint32) (int, error) {
	_, fds, err := c.roundTrip(&TOpen{H: h, Flags: flags})
	if err != nil {
		return -1, err
	}
	if len(fds) != 1 {
		closeAll(fds)
		return -1, unix.EIO
	}
	return fds[0], nil
}

// Create creates and opens a regular file name in dir with O_CREAT|O_EXCL
// semantics, owned by uid:gid when the gofer can chown. It returns the new
// file's handle, stat and an open host fd that the caller owns.
func (c *Client) Create(dir Handle, name string, flags, mode, uid, gid uint32) (Handle, Stat, int, error) {
	if len(name) > MaxNameLen {
		return 0, Stat{}, -1, unix.ENAMETOOLONG
	}
	m, fds, err := c.roundTrip(&TCreate{Dir: dir, Name: name, Flags: flags, Mode: mode, UID: uid, GID: gid})
	if err != nil {
		return 0, Stat{}, -1, err
	}
	r, ok := m.(*RCreate)
	if !ok || len(fds) != 1 {
		closeAll(fds)
		if ok {
			go c.Close(r.H)
		}
		return 0, Stat{}, -1, unix.EIO
	}
	return r.H, r.Stat, fds[0], nil
}

// Mkdir creates directory name in dir.
func (c *Client) Mkdir(dir Handle, name string, mode, uid, gid uint32) (Handle, Stat, error) {
	if len(name) > MaxNameLen {
		return 0, Stat{}, unix.ENAMETOOLONG
	}
	m, err := c.call(&TMkdir{Dir: dir, Name: name, Mode: mode, UID: uid, GID: gid})
	if err != nil {
		return 0, Stat{}, err
	}
	r := m.(*RMkdir)
	return r.H, r.Stat, nil
}

// Mknod creates a regular file, FIFO or socket node name in dir (the gofer
// refuses device nodes with EPERM).
func (c *Client) Mknod(dir Handle, name string, mode uint32, rdev uint64, uid, gid uint32) (Handle, Stat, error) {
	if len(name) > MaxNameLen {
		return 0, Stat{}, unix.ENAMETOOLONG
	}
	m, err := c.call(&TMknod{Dir: dir, Name: name, Mode: mode, Rdev: rdev, UID: uid, GID: gid})
	if err != nil {
		return 0, Stat{}, err
	}
	r := m.(*RMknod)
	return r.H, r.Stat, nil
}

// Symlink creates symlink name in dir pointing to target.
func (c *Client) Symlink(dir Handle, name, target string, uid, gid uint32) (Handle, Stat, error) {
	if len(name) > MaxNameLen || len(target) > MaxSymlinkLen {
		return 0, Stat{}, unix.ENAMETOOLONG
	}
	m, err := c.call(&TSymlink{Dir: dir, Name: name, Target: target, UID: uid, GID: gid})
	if err != nil {
		return 0, Stat{}, err
	}
	r := m.(*RSymlink)
	return r.H, r.Stat, nil
}

// Link creates name in dir as a hard link to target and returns target's
// updated stat.
func (c *Client) Link(dir Handle, name string, target Handle) (Stat, error) {
	if len(name) > MaxNameLen {
		return Stat{}, unix.ENAMETOOLONG
	}
	m, err := c.call(&TLink{Dir: dir, Name: name, Target: target})
	if err != nil {
		return Stat{}, err
	}
	return m.(*RLink).Stat, nil
}

// Unlink removes name from dir; flags is 0 or AT_REMOVEDIR.
func (c *Client) Unlink(dir Handle, name string, flags uint32) error {
	if len(name) > MaxNameLen {
		return unix.ENAMETOOLONG
	}
	_, err := c.call(&TUnlink{Dir: dir, Name: name, Flags: flags})
	return err
}

// Rename renames oldDir/oldName to newDir/newName with renameat2 flags
// (RENAME_NOREPLACE, RENAME_EXCHANGE). Handles to the renamed file stay valid.
func (c *Client) Rename(oldDir Handle, oldName string, newDir Handle, newName string, flags uint32) error {
	if len(oldName) > MaxNameLen || len(newName) > MaxNameLen {
		return unix.ENAMETOOLONG
	}
	_, err := c.call(&TRename{OldDir: oldDir, OldName: oldName, NewDir: newDir, NewName: newName, Flags: flags})
	return err
}

// Readlink returns the target of the symlink h.
func (c *Client) Readlink(h Handle) (string, error) {
	m, err := c.call(&TReadlink{H: h})
	if err != nil {
		return "", err
	}
	return m.(*RReadlink).Target, nil
}

// SetStat changes the attributes of h selected by a.Mask.
func (c *Client) SetStat(h Handle, a SetStatArgs) error {
	_, err := c.call(&TSetStat{H: h, Args: a})
	return err
}

// Getdents returns the entries of directory dir after cookie (0 = from the
// start), "." and ".." included as the host kernel returns them; resume with
// the Off of the last entry. An empty slice means the end.
func (c *Client) Getdents(dir Handle, cookie uint64) ([]Dirent, error) {
	m, err := c.call(&TGetdents{Dir: dir, Cookie: cookie})
	if err != nil {
		return nil, err
	}
	return m.(*RGetdents).Dirents, nil
}

// Statfs returns the attributes of the filesystem holding h.
func (c *Client) Statfs(h Handle) (Statfs, error) {
	m, err := c.call(&TStatfs{H: h})
	if err != nil {
		return Statfs{}, err
	}
	return m.(*RStatfs).Statfs, nil
}

// Close releases handles. Every known handle is released even if some are
// unknown, in which case the error is EBADF.
func (c *Client) Close(hs ...Handle) error {
	var first error
	for len(hs) > 0 {
		chunk := hs
		if len(chunk) > MaxCloseHandles {
			chunk = chunk[:MaxCloseHandles]
		}
		hs = hs[len(chunk):]
		if _, err := c.call(&TClose{Handles: chunk}); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Getxattr returns the value of the extended attribute name of h.
func (c *Client) Getxattr(h Handle, name string) ([]byte, error) {
	if name == "" || len(name) > MaxNameLen {
		return nil, unix.ERANGE
	}
	m, err := c.call(&TGetxattr{H: h, Name: name})
	if err != nil {
		return nil, err
	}
	return m.(*RGetxattr).Value, nil
}

// Setxattr sets the extended attribute name of h (flags: XATTR_CREATE,
// XATTR_REPLACE).
func (c *Client) Setxattr(h Handle, name string, value []byte, flags uint32) error {
	if name == "" || len(name) > MaxNameLen {
		return unix.ERANGE
	}
	if len(value) > MaxXattrSize {
		return unix.E2BIG
	}
	_, err := c.call(&TSetxattr{H: h, Name: name, Value: value, Flags: flags})
	return err
}

// Listxattr returns the names of the extended attributes of h.
func (c *Client) Listxattr(h Handle) ([]string, error) {
	m, err := c.call(&TListxattr{H: h})
	if err != nil {
		return nil, err
	}
	return m.(*RListxattr).Names, nil
}

// Removexattr removes the extended attribute name of h.
func (c *Client) Removexattr(h Handle, name string) error {
	if name == "" || len(name) > MaxNameLen {
		return unix.ERANGE
	}
	_, err := c.call(&TRemovexattr{H: h, Name: name})
	return err
}
