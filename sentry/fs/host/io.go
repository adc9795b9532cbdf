package host

import (
	"golang.org/x/sys/unix"
)

// maxIov is the most iovecs one host readv/writev takes (IOV_MAX).
const maxIov = 1024

// Readv reads from a host fd into bufs, at off or (off < 0) at the fd's own position,
// as one readv/preadv per 1024 buffers, stopping at a short read. It retries EINTR.
func Readv(fd int, bufs [][]byte, off int64) (int64, error) {
	var done int64
	for len(bufs) > 0 {
		chunk := bufs
		if len(chunk) > maxIov {
			chunk = chunk[:maxIov]
		}
		var want int64
		for _, b := range chunk {
			want += int64(len(b))
		}
		var n int
		var err error
		for {
			if off < 0 {
				n, err = unix.Readv(fd, chunk)
			} else {
				n, err = unix.Preadv(fd, chunk, off+done)
			}
			if err != unix.EINTR {
				break
			}
		}
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, errno(err)
		}
		done += int64(n)
		if int64(n) < want {
			break
		}
		bufs = bufs[len(chunk):]
	}
	return done, nil
}

// Writev writes bufs to a host fd, at off or (off < 0) at the fd's own position, as one
// writev/pwritev per 1024 buffers, stopping at a short write. It retries EINTR.
func Writev(fd int, bufs [][]byte, off int64) (int64, error) {
	var done int64
	for len(bufs) > 0 {
		chunk := bufs
		if len(chunk) > maxIov {
			chunk = chunk[:maxIov]
		}
		var want int64
		for _, b := range chunk {
			want += int64(len(b))
		}
		var n int
		var err error
		for {
			if off < 0 {
				n, err = unix.Writev(fd, chunk)
			} else {
				n, err = unix.Pwritev(fd, chunk, off+done)
			}
			if err != unix.EINTR {
				break
			}
		}
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, errno(err)
		}
		done += int64(n)
		if int64(n) < want {
			break
		}
		bufs = bufs[len(chunk):]
	}
	return done, nil
}
