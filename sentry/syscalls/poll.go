package syscalls

import (
	"encoding/binary"
	"math/bits"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// pollItem is one file that poll or select watches.
type pollItem struct {
	file    *vfs.FileDescription // nil: not watched (negative fd, bad fd)
	events  vfs.EventMask        // what counts as ready (the request, POLLERR, POLLHUP)
	revents vfs.EventMask
	entry   vfs.WaitEntry
}

// checkReady computes every item's revents and returns how many are ready.
func checkReady(items []pollItem) int {
	n := 0
	for i := range items {
		it := &items[i]
		if it.file == nil {
			continue
		}
		it.revents = it.file.Readiness(it.events) & it.events
		if it.revents != 0 {
			n++
		}
	}
	return n
}

// waitReady waits until one of items is ready, the deadline passes (zero: never) or a
// signal comes (ERESTARTNOHAND); poll only looks once. It returns the number of ready
// items; readiness wins over a signal, as in Linux.
func waitReady(t *kernel.Task, items []pollItem, deadline time.Time, poll bool) (int, error) {
	if n := checkReady(items); n > 0 || poll {
		return n, nil
	}
	ch := make(chan struct{}, 1)
	for i := range items {
		it := &items[i]
		if it.file == nil {
			continue
		}
		it.entry = vfs.WaitEntry{Mask: it.events, C: ch}
		if it.file.EventRegister(&it.entry) != nil {
			// A file that cannot wait is as ready as it will ever be.
			it.entry.C = nil
		}
	}
	defer func() {
		for i := range items {
			if it := &items[i]; it.file != nil && it.entry.C != nil {
				it.file.EventUnregister(&it.entry)
			}
		}
	}()
	for {
		if n := checkReady(items); n > 0 {
			return n, nil
		}
		fired, interrupted := t.Block(ch, deadline)
		if interrupted {
			if n := checkReady(items); n > 0 {
				return n, nil
			}
			return 0, kernel.ERESTARTNOHAND
		}
		if !fired {
			return checkReady(items), nil
		}
	}
}

// doPoll implements the body of poll and ppoll: it reads nfds struct pollfd at addr,
// waits, and writes every revents back.
func doPoll(t *kernel.Task, addr uintptr, nfds uint32, deadline time.Time, poll bool) (uintptr, error) {
	if uint64(nfds) > t.ThreadGroup().Rlimit(unix.RLIMIT_NOFILE).Cur {
		return 0, unix.EINVAL
	}
	buf := make([]byte, 8*int(nfds))
	if nfds > 0 {
		if _, err := t.CopyIn(addr, buf); err != nil {
			return 0, unix.EFAULT
		}
	}
	items := make([]pollItem, nfds)
	nval := 0
	for i := range items {
		fd := int32(binary.LittleEndian.Uint32(buf[8*i:]))
		if fd < 0 {
			continue
		}
		f, err := getFileNoPath(t, fd)
		if err != nil {
			items[i].revents = vfs.EventNVal
			nval++
			continue
		}
		items[i].file = f
		items[i].events = vfs.EventMask(binary.LittleEndian.Uint16(buf[8*i+4:])) | vfs.EventErr | vfs.EventHUp
	}
	defer func() {
		for i := range items {
			if items[i].file != nil {
				items[i].file.DecRef()
			}
		}
	}()
	n, err := waitReady(t, items, deadline, poll || nval > 0)
	for i := range items {
		binary.LittleEndian.PutUint16(buf[8*i+6:], uint16(items[i].revents))
	}
	if nfds > 0 {
		if _, err := t.CopyOut(addr, buf); err != nil {
			return 0, unix.EFAULT
		}
	}
	if err != nil {
		return 0, err
	}
	return uintptr(n + nval), nil
}

// Poll implements poll(2). An interrupted poll restarts with its whole timeout when no
// handler runs (Linux restarts it with what was left).
func Poll(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	deadline, poll := msTimeout(args.Int(2))
	return doPoll(t, args.Addr(0), args.Uint(1), deadline, poll)
}

// selectTimeout is a select-family timeout: where it is in application memory (0: none)
// and how it is written back.
type selectTimeout struct {
	addr     uintptr
	timeval  bool // struct timeval, else struct timespec
	deadline time.Time
	poll     bool // a zero timeout: no wait, nothing written back
}

// readTimeout reads and validates a timeval (usec normalized as Linux does) or
// timespec; EINVAL for a negative or out-of-range one.
func readTimeout(t *kernel.Task, addr uintptr, timeval bool) (selectTimeout, error) {
	to := selectTimeout{addr: addr, timeval: timeval}
	if addr == 0 {
		return to, nil
	}
	sec, nsec, err := copyInTimespec(t, addr)
	if err != nil {
		return to, unix.EFAULT
	}
	if timeval {
		usec := nsec
		sec, nsec = sec+usec/1_000_000, (usec%1_000_000)*1000
	}
	if sec < 0 || nsec < 0 || nsec >= nsecPerSec {
		return to, unix.EINVAL
	}
	if sec == 0 && nsec == 0 {
		to.poll = true
		return to, nil
	}
	to.deadline = timespecDeadline(sec, nsec)
	return to, nil
}

// finish writes the time left back (as poll_select_finish): not for a zero or absent
// timeout. If the write fails an interrupted call cannot restart and fails with EINTR.
func (to *selectTimeout) finish(t *kernel.Task, ret uintptr, err error) (uintptr, error) {
	if to.addr == 0 || to.poll || (err != nil && err != kernel.ERESTARTNOHAND) {
		return ret, err
	}
	left := time.Until(to.deadline)
	if left < 0 {
		left = 0
	}
	var b [16]byte
	sec, nsec := int64(left/time.Second), int64(left%time.Second)
	if to.timeval {
		nsec /= 1000
	}
	binary.LittleEndian.PutUint64(b[0:], uint64(sec))
	binary.LittleEndian.PutUint64(b[8:], uint64(nsec))
	if _, werr := t.CopyOut(to.addr, b[:]); werr != nil && err == kernel.ERESTARTNOHAND {
		return 0, unix.EINTR
	}
	return ret, err
}

// Ppoll implements ppoll(2).
func Ppoll(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	to, err := readTimeout(t, args.Addr(2), false)
	if err != nil {
		return 0, err
	}
	return withSigmask(t, args.Addr(3), uint64(args[4]), func() (uintptr, error) {
		ret, err := doPoll(t, args.Addr(0), args.Uint(1), to.deadline, to.poll)
		return to.finish(t, ret, err)
	}, func(err error) bool { return err == kernel.ERESTARTNOHAND })
}

// Select events (fs/select.c's POLLIN_SET, POLLOUT_SET, POLLEX_SET).
const (
	selectIn  = vfs.EventRdNorm | vfs.EventRdBand | vfs.EventIn | vfs.EventHUp | vfs.EventErr
	selectOut = vfs.EventWrBand | vfs.EventWrNorm | vfs.EventOut | vfs.EventErr
	selectEx  = vfs.EventPri
)

// selectMaxFDs is the size of the descriptor table as select sees it (fdt->max_fds): at
// least 64, a power of two covering the highest open descriptor. Bits past it are
// ignored, as Linux does.
func selectMaxFDs(t *kernel.Task) int {
	fds := t.FDTable().FDs()
	if len(fds) == 0 || fds[len(fds)-1] < 64 {
		return 64
	}
	return 1 << bits.Len(uint(fds[len(fds)-1]))
}

// doSelect implements select and pselect6 after the timeout and signal mask are read.
func doSelect(t *kernel.Task, n int32, inAddr, outAddr, exAddr uintptr, deadline time.Time, poll bool) (uintptr, error) {
	if n < 0 {
		return 0, unix.EINVAL
	}
	if n > 64 {
		n = int32(min(int(n), selectMaxFDs(t)))
	}
	words := (int(n) + 63) / 64
	nbytes := words * 8
	addrs := [3]uintptr{inAddr, outAddr, exAddr}
	var sets [3][]uint64
	for s, a := range addrs {
		sets[s] = make([]uint64, words)
		if a == 0 || nbytes == 0 {
			continue
		}
		b := make([]byte, nbytes)
		if _, err := t.CopyIn(a, b); err != nil {
			return 0, unix.EFAULT
		}
		for w := range sets[s] {
			sets[s][w] = binary.LittleEndian.Uint64(b[8*w:])
		}
	}
	// Every descriptor named must be open (EBADF), checked before any waits.
	var items []pollItem
	var fds []int32
	defer func() {
		for i := range items {
			if items[i].file != nil {
				items[i].file.DecRef()
			}
		}
	}()
	fdt := t.FDTable()
	for fd := int32(0); fd < n; fd++ {
		w, bit := fd/64, uint64(1)<<(fd%64)
		in, out, ex := sets[0][w]&bit != 0, sets[1][w]&bit != 0, sets[2][w]&bit != 0
		if !in && !out && !ex {
			continue
		}
		f, _, err := fdt.Get(fd)
		if err != nil {
			return 0, unix.EBADF
		}
		var mask vfs.EventMask
		if in {
			mask |= selectIn
		}
		if out {
			mask |= selectOut
		}
		if ex {
			mask |= selectEx
		}
		if f.IsPath() {
			// Open, but never ready.
			f.DecRef()
			f = nil
		}
		items = append(items, pollItem{file: f, events: mask})
		fds = append(fds, fd)
	}
	if _, err := waitReady(t, items, deadline, poll); err != nil {
		return 0, err
	}
	var res [3][]uint64
	for s := range res {
		res[s] = make([]uint64, words)
	}
	count := 0
	for i, it := range items {
		fd := fds[i]
		w, bit := fd/64, uint64(1)<<(fd%64)
		for s, m := range [3]vfs.EventMask{selectIn, selectOut, selectEx} {
			if sets[s][w]&bit != 0 && it.revents&m != 0 {
				res[s][w] |= bit
				count++
			}
		}
	}
	for s, a := range addrs {
		if a == 0 || nbytes == 0 {
			continue
		}
		b := make([]byte, nbytes)
		for w, v := range res[s] {
			binary.LittleEndian.PutUint64(b[8*w:], v)
		}
		if _, err := t.CopyOut(a, b); err != nil {
			return 0, unix.EFAULT
		}
	}
	return uintptr(count), nil
}

// Select implements select(2).
func Select(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	to, err := readTimeout(t, args.Addr(4), true)
	if err != nil {
		return 0, err
	}
	ret, err := doSelect(t, args.Int(0), args.Addr(1), args.Addr(2), args.Addr(3), to.deadline, to.poll)
	return to.finish(t, ret, err)
}

// Pselect6 implements pselect6(2): the sixth argument points to {sigset_t *, size_t}.
func Pselect6(t *kernel.Task, args *arch.SyscallArguments) (uintptr, error) {
	var maskAddr uintptr
	var maskSize uint64
	if pack := args.Addr(5); pack != 0 {
		var b [16]byte
		if _, err := t.CopyIn(pack, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		maskAddr = uintptr(binary.LittleEndian.Uint64(b[0:]))
		maskSize = binary.LittleEndian.Uint64(b[8:])
	}
	to, err := readTimeout(t, args.Addr(4), false)
	if err != nil {
		return 0, err
	}
	return withSigmask(t, maskAddr, maskSize, func() (uintptr, error) {
		ret, err := doSelect(t, args.Int(0), args.Addr(1), args.Addr(2), args.Addr(3), to.deadline, to.poll)
		return to.finish(t, ret, err)
	}, func(err error) bool { return err == kernel.ERESTARTNOHAND })
}

func init() {
	register(unix.SYS_POLL, "poll", Poll, kernel.Partial, "an interrupted poll that restarts (no handler ran) waits its whole timeout again")
	register(unix.SYS_PPOLL, "ppoll", Ppoll, kernel.Supported, "")
	register(unix.SYS_SELECT, "select", Select, kernel.Supported, "")
	register(unix.SYS_PSELECT6, "pselect6", Pselect6, kernel.Supported, "")
}
