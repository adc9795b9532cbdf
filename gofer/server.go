package gofer

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/gofer/proto"
)

// maxInFlight bounds the requests served at once on one connection. The
// reader stops taking requests while this many are being served.
const maxInFlight = 32

// server serves one connection.
type server struct {
	rootFD   int
	readOnly bool
	chown    bool // apply the requested uid/gid (we run as root)
	t        *table

	// noEmptyPathLink makes Link use the parent/name fallback, as an
	// unprivileged gofer must (tests only).
	noEmptyPathLink bool
}

// Serve serves the tree rooted at rootFD (an O_PATH|O_DIRECTORY fd, which the
// caller keeps) on sockFD, a SOCK_SEQPACKET unix socket that Serve takes over
// and closes, until the peer closes the socket. It returns nil then, or the
// error that ended the connection: an undecodable message header (after
// which the connection is closed) or a socket error. Serve sets the process
// umask to 0: the sentry sends modes already masked.
func Serve(sockFD int, rootFD int, readOnly bool) error {
	conn, err := proto.NewConn(sockFD)
	if err != nil {
		return err
	}
	defer conn.Close()
	s, err := newServer(rootFD, readOnly)
	if err != nil {
		return err
	}
	unix.Umask(0)
	return s.serve(conn)
}

func newServer(rootFD int, readOnly bool) (*server, error) {
	var st unix.Stat_t
	if err := unix.Fstat(rootFD, &st); err != nil {
		return nil, fmt.Errorf("gofer root fd %d: %w", rootFD, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, fmt.Errorf("gofer root fd %d: not a directory", rootFD)
	}
	return &server{
		rootFD:   rootFD,
		readOnly: readOnly,
		chown:    unix.Geteuid() == 0,
		t:        newTable(rootFD, defaultMaxOpen()),
	}, nil
}

func (s *server) serve(conn *proto.Conn) error {
	defer s.t.closeAll()
	var wg sync.WaitGroup
	defer wg.Wait()
	// Closed before waiting, so that a worker blocked sending to a peer that
	// stopped reading fails instead of holding Serve forever.
	defer conn.Close()
	sem := make(chan struct{}, maxInFlight)
	buf := make([]byte, proto.MaxMessageSize)
	for {
		n, fds, err := conn.Recv(buf)
		truncated := errors.Is(err, proto.ErrTruncated) && n >= proto.HeaderSize
		if err == io.EOF {
			return nil
		}
		if err != nil && !truncated {
			return fmt.Errorf("gofer: receiving request: %w", err)
		}
		// Requests never carry fds.
		closeFDs(fds)
		h, herr := proto.DecodeHeader(buf[:n])
		if herr != nil {
			// Without a trustworthy header there is nothing to answer.
			return fmt.Errorf("gofer: bad request: %w", herr)
		}
		var req []byte
		if !truncated {
			req = append([]byte(nil), buf[:n]...)
		}
		nfds := len(fds)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var reply []byte
			var rfds []int
			if truncated {
				reply = proto.EncodeError(h.Tag, h.Type, unix.EMSGSIZE)
			} else {
				reply, rfds, _ = s.dispatch(req, nfds)
			}
			// A send error means the peer is gone; the reader sees it too.
			conn.Send(reply, rfds)
			closeFDs(rfds)
		}()
	}
}

// dispatch serves one request datagram that arrived with nfds descriptors and
// returns the reply datagram and the fds to attach (which the caller closes
// after sending). A message whose header cannot be decoded gets no reply and
// an error (the connection should be closed); any other bad message gets an
// EINVAL reply.
func (s *server) dispatch(b []byte, nfds int) ([]byte, []int, error) {
	h, m, err := proto.Decode(b)
	if _, herr := proto.DecodeHeader(b); herr != nil {
		return nil, nil, herr
	}
	if err != nil || m == nil || h.Type.IsReply() || nfds != 0 {
		return proto.EncodeError(h.Tag, h.Type, unix.EINVAL), nil, nil
	}
	r, fds, errno := s.handle(m)
	if r == nil {
		closeFDs(fds)
		if errno == 0 {
			errno = unix.EIO
		}
		return proto.EncodeError(h.Tag, h.Type, errno), nil, nil
	}
	out, err := proto.Encode(h.Tag, errno, r)
	if err != nil || len(fds) != proto.ExpectedFDs(r.Type(), errno) {
		closeFDs(fds)
		return proto.EncodeError(h.Tag, h.Type, unix.EIO), nil, nil
	}
	return out, fds, nil
}

// handle runs one decoded request. It returns the reply (nil on error, except
// a partial Walk), the fds to attach, and the errno.
func (s *server) handle(m proto.Message) (proto.Message, []int, unix.Errno) {
	switch m := m.(type) {
	case *proto.TMount:
		return s.mount(m)
	case *proto.TWalk:
		return s.walk(m)
	case *proto.TStat:
		return s.stat(m)
	case *proto.TOpen:
		return s.open(m)
	case *proto.TCreate:
		return s.create(m)
	case *proto.TMkdir:
		return s.mkdir(m)
	case *proto.TMknod:
		return s.mknod(m)
	case *proto.TSymlink:
		return s.symlink(m)
	case *proto.TLink:
		return s.link(m)
	case *proto.TUnlink:
		return s.unlink(m)
	case *proto.TRename:
		return s.rename(m)
	case *proto.TReadlink:
		return s.readlink(m)
	case *proto.TSetStat:
		return s.setStat(m)
	case *proto.TGetdents:
		return s.getdents(m)
	case *proto.TStatfs:
		return s.statfs(m)
	case *proto.TClose:
		return s.close(m)
	case *proto.TGetxattr:
		return s.getxattr(m)
	case *proto.TSetxattr:
		return s.setxattr(m)
	case *proto.TListxattr:
		return s.listxattr(m)
	case *proto.TRemovexattr:
		return s.removexattr(m)
	}
	return nil, nil, unix.EINVAL
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// errnoOf turns an error into the errno sent to the sentry.
func errnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) && e != 0 {
		return e
	}
	return unix.EIO
}
