package host

import (
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/vfs"
)

// Readiness of host fds. Regular files and directories are always ready. Other host fds
// (pipes, sockets, terminals) report what a zero-timeout host poll says, and a waiter
// on one is woken by a single host epoll instance, shared by the sandbox, that one
// goroutine watches: each such fd is added to it (edge-triggered) with its first waiter
// and removed before it is closed. Blocking reads and writes on them first wait for
// readiness that way, so that a signal interrupts them, then do the host call.
//
// Lock order: hostPoll.mu, then notifier.mu; the notifying goroutine holds neither while
// it notifies.

// hostPoll is an inode's readiness state.
type hostPoll struct {
	queue vfs.WaitQueue

	mu    sync.Mutex
	state int // pollUnknown, pollWatched or pollNever
}

const (
	pollUnknown = iota // not added to the host epoll yet
	pollWatched        // in the host epoll
	pollNever          // the host cannot wait on it (EPERM: /dev/null and the like)
)

// notifier is the host epoll instance and the fds in it.
var notifier struct {
	once  sync.Once
	epfd  int
	err   error
	mu    sync.Mutex
	inode map[int32]*inode
}

func startNotifier() error {
	notifier.once.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			notifier.err = err
			return
		}
		notifier.epfd = fd
		notifier.inode = make(map[int32]*inode)
		go notifyLoop(fd)
	})
	return notifier.err
}

// notifyLoop waits for host events and passes them to the inodes' queues.
func notifyLoop(epfd int) {
	events := make([]unix.EpollEvent, 64)
	for {
		n, err := unix.EpollWait(epfd, events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			notifier.mu.Lock()
			i := notifier.inode[ev.Fd]
			notifier.mu.Unlock()
			if i != nil {
				i.poll.queue.Notify(vfs.EventMask(ev.Events) | vfs.EventErr | vfs.EventHUp)
			}
		}
	}
}

// mayBlock reports whether I/O on the inode's host fd can block.
func (i *inode) mayBlock() bool {
	return i.typ != unix.S_IFREG && i.typ != unix.S_IFDIR
}

// hostPollEvents are the events a host poll asks for: every readiness bit.
const hostPollEvents = int16(vfs.DefaultEvents | vfs.EventPri | vfs.EventRdBand | vfs.EventWrBand | vfs.EventMsg | vfs.EventRdHUp)

// pollNow returns the fd's readiness by a zero-timeout host poll.
func (i *inode) pollNow() vfs.EventMask {
	if !i.mayBlock() {
		return vfs.DefaultEvents
	}
	fds := []unix.PollFd{{Fd: int32(i.fd), Events: hostPollEvents}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0
		}
		return vfs.EventMask(uint16(fds[0].Revents))
	}
}

// watch adds the fd to the host epoll if it is not there yet: EPERM if the host cannot
// wait on it.
func (i *inode) watch() error {
	if !i.mayBlock() {
		return unix.EPERM
	}
	i.poll.mu.Lock()
	defer i.poll.mu.Unlock()
	switch i.poll.state {
	case pollWatched:
		return nil
	case pollNever:
		return unix.EPERM
	}
	if err := startNotifier(); err != nil {
		return unix.EPERM
	}
	notifier.mu.Lock()
	defer notifier.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLPRI | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(i.fd)}
	if err := unix.EpollCtl(notifier.epfd, unix.EPOLL_CTL_ADD, i.fd, &ev); err != nil {
		i.poll.state = pollNever
		return unix.EPERM
	}
	notifier.inode[int32(i.fd)] = i
	i.poll.state = pollWatched
	return nil
}

// unwatch removes the fd from the host epoll before it is closed.
func (i *inode) unwatch() {
	i.poll.mu.Lock()
	defer i.poll.mu.Unlock()
	if i.poll.state != pollWatched {
		return
	}
	notifier.mu.Lock()
	unix.EpollCtl(notifier.epfd, unix.EPOLL_CTL_DEL, i.fd, nil)
	if notifier.inode[int32(i.fd)] == i {
		delete(notifier.inode, int32(i.fd))
	}
	notifier.mu.Unlock()
	i.poll.state = pollUnknown
}

// Readiness implements vfs.Waitable.
func (f *file) Readiness(mask vfs.EventMask) vfs.EventMask { return f.inode.pollNow() }

// EventRegister implements vfs.Waitable: EPERM for a file the host cannot wait on
// (regular files, directories, /dev/null), as epoll_ctl says for them.
func (f *file) EventRegister(e *vfs.WaitEntry) error {
	if err := f.inode.watch(); err != nil {
		return err
	}
	f.inode.poll.queue.EventRegister(e)
	return nil
}

// EventUnregister implements vfs.Waitable.
func (f *file) EventUnregister(e *vfs.WaitEntry) { f.inode.poll.queue.EventUnregister(e) }

// waitReady waits, interruptibly, until a blocking read (events POLLIN) or write
// (POLLOUT) on the host fd would not block, or the fd has an error or hangup. Files the
// host cannot wait on return at once and the I/O blocks in the host, as before.
func (f *file) waitReady(ctx vfs.Context, events vfs.EventMask) error {
	if !f.inode.mayBlock() {
		return nil
	}
	want := events | vfs.EventErr | vfs.EventHUp | vfs.EventNVal
	if f.inode.pollNow()&want != 0 {
		return nil
	}
	e, ch := vfs.NewChannelEntry(want)
	if err := f.EventRegister(e); err != nil {
		return nil
	}
	defer f.EventUnregister(e)
	for f.inode.pollNow()&want == 0 {
		if err := vfs.Wait(ctx, ch); err != nil {
			return err
		}
	}
	return nil
}
