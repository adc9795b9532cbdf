// Package console owns the host side of container terminals: allocating a pty pair,
// sending the master to a --console-socket by SCM_RIGHTS (as runc does, for conmon and
// the containerd shim), and, for a foreground `run`/`exec` with a terminal, copying
// between the caller's terminal and the master with the caller's terminal in raw mode
// and its window size followed.
//
// It holds no locks.
package console

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"

	"golang.org/x/sys/unix"
)

// NewPty opens a new pty pair: the master, and the replica (opened without making it
// the caller's controlling terminal).
func NewPty() (master, replica *os.File, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("unlocking the pty: %w", err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("getting the pty number: %w", err)
	}
	name := "/dev/pts/" + strconv.Itoa(n)
	rfd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("opening %s: %w", name, err)
	}
	return os.NewFile(uintptr(mfd), "/dev/ptmx"), os.NewFile(uintptr(rfd), name), nil
}

// SetSize sets a terminal's window size (0 leaves a dimension alone... as 0).
func SetSize(f *os.File, width, height uint) error {
	return unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(width), Row: uint16(height)})
}

// SendMaster connects to the unix socket at path and sends master over it.
func SendMaster(path string, master *os.File) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	addr := &unix.SockaddrUnix{Name: path}
	if len(path) >= 100 {
		// Reach long paths through their directory's fd.
		dir, base := splitDir(path)
		dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("console socket %s: %w", path, err)
		}
		defer unix.Close(dfd)
		addr.Name = "/proc/self/fd/" + strconv.Itoa(dfd) + "/" + base
	}
	if err := unix.Connect(fd, addr); err != nil {
		return fmt.Errorf("connecting to the console socket %s: %w", path, err)
	}
	name := []byte(master.Name())
	if err := unix.Sendmsg(fd, name, unix.UnixRights(int(master.Fd())), nil, 0); err != nil {
		return fmt.Errorf("sending the pty master to %s: %w", path, err)
	}
	return nil
}

func splitDir(p string) (string, string) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			if i == 0 {
				return "/", p[1:]
			}
			return p[:i], p[i+1:]
		}
	}
	return ".", p
}

// CheckSocket verifies that path is a unix socket (before anything is created).
func CheckSocket(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Errorf("console socket %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("console socket %s is not a socket", path)
	}
	return nil
}

// Proxy copies stdin to master and master to stdout until master reports EOF or EIO
// (the replica's last holder closed it). If stdin is a terminal it is put in raw mode
// and its window size is copied to the master now and on SIGWINCH; restore undoes that.
func Proxy(master *os.File) (wait func(), restore func()) {
	restore = func() {}
	in := int(os.Stdin.Fd())
	if old, err := unix.IoctlGetTermios(in, unix.TCGETS); err == nil {
		raw := *old
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Oflag &^= unix.OPOST
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
		unix.IoctlSetTermios(in, unix.TCSETS, &raw)
		copySize := func() {
			if ws, err := unix.IoctlGetWinsize(in, unix.TIOCGWINSZ); err == nil {
				unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
			}
		}
		copySize()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		go func() {
			for range winch {
				copySize()
			}
		}()
		restore = func() {
			signal.Stop(winch)
			unix.IoctlSetTermios(in, unix.TCSETS, old)
		}
	}
	go io.Copy(master, os.Stdin)
	done := make(chan struct{})
	go func() {
		io.Copy(os.Stdout, master)
		close(done)
	}()
	return func() { <-done }, restore
}
