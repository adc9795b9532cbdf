package proto

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrTruncated is returned by Conn.Recv for a datagram larger than the buffer
// or with more file descriptors than MaxFDs. The bytes that did arrive (at
// least the header, when n >= HeaderSize) are still returned so that the
// message can be answered; its fds have been closed.
var ErrTruncated = errors.New("gofer message truncated")

// Conn is one end of a SOCK_SEQPACKET unix socket carrying one message per
// datagram. Send and Recv may be called concurrently with each other and with
// Close; concurrent Sends are serialized.
type Conn struct {
	f  *os.File
	rc syscall.RawConn
}

// NewConn takes ownership of fd, which must be a SOCK_SEQPACKET unix socket.
// On error fd is closed.
func NewConn(fd int) (*Conn, error) {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("gofer socket fd %d: %w", fd, err)
	}
	if typ != unix.SOCK_SEQPACKET {
		unix.Close(fd)
		return nil, fmt.Errorf("gofer socket fd %d: socket type %d is not SOCK_SEQPACKET", fd, typ)
	}
	unix.CloseOnExec(fd)
	// Non-blocking so that the runtime poller owns it and Close wakes a
	// blocked Recv.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("gofer socket fd %d: %w", fd, err)
	}
	f := os.NewFile(uintptr(fd), "gofer-socket")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("gofer socket fd %d: %w", fd, err)
	}
	return &Conn{f: f, rc: rc}, nil
}

// Close closes the socket; blocked Send and Recv calls return an error.
func (c *Conn) Close() error { return c.f.Close() }

// SetWriteDeadline bounds Sends, as os.File.SetWriteDeadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// Send sends b as one datagram with fds attached. The caller keeps ownership
// of fds (the kernel duplicates them into the message).
func (c *Conn) Send(b []byte, fds []int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	var serr error
	err := c.rc.Write(func(fd uintptr) bool {
		for {
			serr = unix.Sendmsg(int(fd), b, oob, nil, unix.MSG_NOSIGNAL)
			if serr != unix.EINTR {
				break
			}
		}
		return serr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return serr
}

// Recv receives one datagram into buf, which should hold MaxMessageSize bytes.
// It returns the length and the received fds (close-on-exec), which the
// caller owns. A zero-length datagram or the peer's close is io.EOF.
func (c *Conn) Recv(buf []byte) (int, []int, error) {
	oob := make([]byte, unix.CmsgSpace(4*(MaxFDs+1)))
	var (
		n, oobn, flags int
		rerr           error
	)
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, flags, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
			if rerr != unix.EINTR {
				break
			}
		}
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, nil, err
	}
	fds, ferr := parseRights(oob[:oobn])
	if ferr != nil || flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 || len(fds) > MaxFDs {
		closeAll(fds)
		if ferr == nil {
			ferr = ErrTruncated
		}
		return n, nil, ferr
	}
	if n == 0 {
		closeAll(fds)
		return 0, nil, io.EOF
	}
	return n, fds, nil
}

// parseRights returns every fd carried by SCM_RIGHTS in oob. Any other
// control message is an error (after the fds found are returned anyway so
// that the caller can close them).
func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("%w: control message: %v", ErrMalformed, err)
	}
	var fds []int
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			err = fmt.Errorf("%w: unexpected control message %d/%d", ErrMalformed, m.Header.Level, m.Header.Type)
			continue
		}
		got, perr := unix.ParseUnixRights(&m)
		if perr != nil {
			err = fmt.Errorf("%w: SCM_RIGHTS: %v", ErrMalformed, perr)
			continue
		}
		fds = append(fds, got...)
	}
	return fds, err
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
