package devpts

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/kernel/auth"
	"runsc.dev/sentry/vfs"
)

// iter walks the buffers of a read or write.
type iter struct {
	bs [][]byte
}

func (it *iter) left() int {
	n := 0
	for _, b := range it.bs {
		n += len(b)
	}
	return n
}

// copyOut copies from src into the buffers, returning the bytes copied.
func (it *iter) copyOut(src []byte) int {
	n := 0
	for len(src) > 0 && len(it.bs) > 0 {
		k := copy(it.bs[0], src)
		it.bs[0] = it.bs[0][k:]
		src = src[k:]
		n += k
		if len(it.bs[0]) == 0 {
			it.bs = it.bs[1:]
		}
	}
	return n
}

func concat(src [][]byte) []byte {
	var b []byte
	for _, s := range src {
		b = append(b, s...)
	}
	return b
}

// waiter registers on a terminal's queue for one blocking operation.
type waiter struct {
	e  *vfs.WaitEntry
	ch chan struct{}
	q  *vfs.WaitQueue
}

func (w *waiter) arm(q *vfs.WaitQueue, mask vfs.EventMask) {
	if w.e == nil {
		w.e, w.ch = vfs.NewChannelEntry(mask)
		w.q = q
		q.EventRegister(w.e)
	}
}

func (w *waiter) done() {
	if w.e != nil {
		w.q.EventUnregister(w.e)
	}
}

// wait blocks until the waiter fires, the deadline passes (timedOut) or a signal
// interrupts (ERESTARTSYS).
func (w *waiter) wait(ctx vfs.Context, deadline time.Time) (timedOut bool, err error) {
	if b, ok := vfs.Unwrap(ctx).(vfs.Blocker); ok {
		ok, interrupted := b.Block(w.ch, deadline)
		if interrupted {
			return false, vfs.ERESTARTSYS
		}
		return !ok, nil
	}
	if deadline.IsZero() {
		<-w.ch
		return false, nil
	}
	select {
	case <-w.ch:
		return false, nil
	case <-time.After(time.Until(deadline)):
		return true, nil
	}
}

// masterFile is an open master (from ptmx).
type masterFile struct {
	vfs.NoFileOps
	t        *Terminal
	nonblock atomic.Bool
	once     sync.Once
}

// StatusFlagsChanged implements vfs.StatusFlagsObserver.
func (f *masterFile) StatusFlagsChanged(flags uint32) { f.nonblock.Store(flags&unix.O_NONBLOCK != 0) }

// Release implements vfs.FileImpl.Release: the terminal hangs up.
func (f *masterFile) Release() {
	f.once.Do(func() { f.t.hangup() })
}

// Read implements vfs.FileImpl.Read: the slave's output.
func (f *masterFile) Read(ctx vfs.Context, dst [][]byte, off int64) (int64, error) {
	t := f.t
	it := iter{dst}
	if it.left() == 0 {
		return 0, nil
	}
	var w waiter
	defer w.done()
	for {
		t.mu.Lock()
		if len(t.out) > 0 {
			n := it.copyOut(t.out)
			t.out = t.out[n:]
			if len(t.out) == 0 {
				t.out = nil
			}
			t.mu.Unlock()
			t.notify()
			return int64(n), nil
		}
		if t.slaveClosed {
			t.mu.Unlock()
			return 0, unix.EIO
		}
		if f.nonblock.Load() {
			t.mu.Unlock()
			return 0, unix.EAGAIN
		}
		w.arm(&t.queue, vfs.ReadableEvents|vfs.EventHUp)
		t.mu.Unlock()
		if _, err := w.wait(ctx, time.Time{}); err != nil {
			return 0, err
		}
	}
}

// Write implements vfs.FileImpl.Write: input to the slave through the line discipline.
func (f *masterFile) Write(ctx vfs.Context, src [][]byte, off int64, appendMode bool) (int64, int64, error) {
	t := f.t
	b := concat(src)
	var w waiter
	defer w.done()
	var done int64
	for len(b) > 0 {
		t.mu.Lock()
		n, sigs := t.inputLocked(b)
		k := t.k
		t.mu.Unlock()
		t.sendSignals(k, sigs)
		if n > 0 {
			t.notify()
		}
		b = b[n:]
		done += int64(n)
		if len(b) == 0 {
			break
		}
		if f.nonblock.Load() {
			if done == 0 {
				return 0, off, unix.EAGAIN
			}
			break
		}
		t.mu.Lock()
		if t.inBytes+len(t.edit) < maxInput {
			t.mu.Unlock()
			continue
		}
		w.arm(&t.queue, vfs.WritableEvents)
		t.mu.Unlock()
		if _, err := w.wait(ctx, time.Time{}); err != nil {
			if done > 0 {
				break
			}
			return 0, off, err
		}
	}
	return done, off + done, nil
}

// Readiness implements vfs.Waitable.
func (f *masterFile) Readiness(mask vfs.EventMask) vfs.EventMask {
	t := f.t
	t.mu.Lock()
	defer t.mu.Unlock()
	var m vfs.EventMask
	if len(t.out) > 0 {
		m |= vfs.ReadableEvents
	}
	if t.slaveClosed {
		m |= vfs.EventHUp | vfs.ReadableEvents
	}
	if t.inBytes+len(t.edit) < maxInput {
		m |= vfs.WritableEvents
	}
	return m
}

// EventRegister implements vfs.Waitable.
func (f *masterFile) EventRegister(e *vfs.WaitEntry) error {
	f.t.queue.EventRegister(e)
	return nil
}

// EventUnregister implements vfs.Waitable.
func (f *masterFile) EventUnregister(e *vfs.WaitEntry) { f.t.queue.EventUnregister(e) }

// Ioctl implements vfs.FileImpl.Ioctl.
func (f *masterFile) Ioctl(ctx vfs.Context, fd *vfs.FileDescription, cmd uint32, arg uintptr) (uintptr, error) {
	t := f.t
	switch cmd {
	case unix.TIOCGPTN:
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], t.index)
		_, err := ctx.CopyOut(arg, b[:])
		return 0, err
	case unix.TIOCSPTLCK:
		var b [4]byte
		if _, err := ctx.CopyIn(arg, b[:]); err != nil {
			return 0, err
		}
		t.mu.Lock()
		t.locked = binary.LittleEndian.Uint32(b[:]) != 0
		t.mu.Unlock()
		return 0, nil
	case unix.TIOCGPTLCK:
		t.mu.Lock()
		l := t.locked
		t.mu.Unlock()
		v := uint32(0)
		if l {
			v = 1
		}
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], v)
		_, err := ctx.CopyOut(arg, b[:])
		return 0, err
	case unix.TIOCGPTPEER:
		return f.openPeer(ctx, uint32(arg))
	case unix.TIOCINQ:
		t.mu.Lock()
		n := len(t.out)
		t.mu.Unlock()
		return 0, copyOutInt(ctx, arg, n)
	case unix.TIOCOUTQ:
		return 0, copyOutInt(ctx, arg, 0)
	case unix.TIOCPKT:
		if task := taskOf(ctx); task != nil {
			task.Unsupported("ioctl TIOCPKT (pseudo-terminal packet mode)")
		}
		return 0, unix.EINVAL
	}
	return t.ioctl(ctx, cmd, arg, true)
}

// openPeer implements TIOCGPTPEER: a new descriptor for the slave.
func (f *masterFile) openPeer(ctx vfs.Context, flags uint32) (uintptr, error) {
	if flags&^(unix.O_ACCMODE|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	task := taskOf(ctx)
	if task == nil {
		return 0, unix.EINVAL
	}
	sf, err := openSlave(ctx, f.t, flags)
	if err != nil {
		return 0, err
	}
	v := task.Kernel().VFS()
	vd := v.NewAnonVirtualDentry(ctx, &slaveInode{t: f.t})
	file := vfs.NewFileDescription(vd, sf, flags&^unix.O_CLOEXEC, vfs.FileOptions{Stream: true})
	defer file.DecRef()
	nfd, err := task.FDTable().NewFD(0, file, flags&unix.O_CLOEXEC != 0)
	if err != nil {
		return 0, err
	}
	return uintptr(nfd), nil
}

// slaveFile is an open slave (or /dev/tty).
type slaveFile struct {
	vfs.NoFileOps
	t        *Terminal
	nonblock atomic.Bool
	once     sync.Once
}

// StatusFlagsChanged implements vfs.StatusFlagsObserver.
func (f *slaveFile) StatusFlagsChanged(flags uint32) { f.nonblock.Store(flags&unix.O_NONBLOCK != 0) }

// Release implements vfs.FileImpl.Release.
func (f *slaveFile) Release() {
	f.once.Do(func() {
		t := f.t
		t.mu.Lock()
		t.slaveOpens--
		if t.slaveOpens == 0 {
			t.slaveClosed = true
		}
		t.mu.Unlock()
		t.notify()
	})
}

// Read implements vfs.FileImpl.Read: input through the line discipline.
func (f *slaveFile) Read(ctx vfs.Context, dst [][]byte, off int64) (int64, error) {
	t := f.t
	if err := t.jobControl(ctx, int(unix.SIGTTIN)); err != nil {
		return 0, err
	}
	it := iter{dst}
	want := it.left()
	if want == 0 {
		return 0, nil
	}
	var w waiter
	defer w.done()
	var deadline time.Time
	for {
		t.mu.Lock()
		canon := t.canonLocked()
		vmin, vt := int(t.termios.Cc[vmin]), int(t.termios.Cc[vtime])
		if len(t.lines) > 0 {
			need := 1
			if !canon && vmin > 0 {
				need = min(vmin, want)
			}
			if canon || t.inBytes >= need || !t.masterOpen || f.nonblock.Load() || (vt > 0 && !deadline.IsZero()) {
				n := t.takeLocked(&it, canon)
				t.mu.Unlock()
				t.notify()
				return int64(n), nil
			}
		}
		if !t.masterOpen {
			t.mu.Unlock()
			return 0, nil
		}
		if !canon && vmin == 0 && vt == 0 {
			t.mu.Unlock()
			return 0, nil
		}
		if f.nonblock.Load() {
			t.mu.Unlock()
			return 0, unix.EAGAIN
		}
		if !canon && vt > 0 && deadline.IsZero() && (vmin == 0 || len(t.lines) > 0) {
			deadline = time.Now().Add(time.Duration(vt) * 100 * time.Millisecond)
		}
		w.arm(&t.queue, vfs.ReadableEvents|vfs.EventHUp)
		t.mu.Unlock()
		timedOut, err := w.wait(ctx, deadline)
		if err != nil {
			return 0, err
		}
		if timedOut {
			t.mu.Lock()
			n := 0
			if len(t.lines) > 0 {
				n = t.takeLocked(&it, false)
			}
			t.mu.Unlock()
			return int64(n), nil
		}
	}
}

// takeLocked moves queued input into the read's buffers: one line in canonical mode,
// as much as fits otherwise.
func (t *Terminal) takeLocked(it *iter, canon bool) int {
	total := 0
	for len(t.lines) > 0 && it.left() > 0 {
		line := t.lines[0]
		if len(line) == 0 {
			// End of file: consumed alone.
			if total == 0 {
				t.lines = t.lines[1:]
			}
			break
		}
		n := it.copyOut(line)
		total += n
		t.inBytes -= n
		if n < len(line) {
			t.lines[0] = line[n:]
			break
		}
		t.lines = t.lines[1:]
		if canon {
			break
		}
	}
	if len(t.lines) == 0 {
		t.lines = nil
	}
	return total
}

// Write implements vfs.FileImpl.Write: output through output processing.
func (f *slaveFile) Write(ctx vfs.Context, src [][]byte, off int64, appendMode bool) (int64, int64, error) {
	t := f.t
	t.mu.Lock()
	tostop := t.termios.Lflag&unix.TOSTOP != 0
	t.mu.Unlock()
	if tostop {
		if err := t.jobControl(ctx, int(unix.SIGTTOU)); err != nil {
			return 0, off, err
		}
	}
	b := concat(src)
	var w waiter
	defer w.done()
	var done int64
	for len(b) > 0 {
		t.mu.Lock()
		if !t.masterOpen {
			t.mu.Unlock()
			if done > 0 {
				break
			}
			return 0, off, unix.EIO
		}
		room := maxOutput - len(t.out)
		if room > 0 {
			n := min(room, len(b))
			t.outputLocked(b[:n])
			t.mu.Unlock()
			t.notify()
			b = b[n:]
			done += int64(n)
			continue
		}
		if f.nonblock.Load() {
			t.mu.Unlock()
			if done > 0 {
				break
			}
			return 0, off, unix.EAGAIN
		}
		w.arm(&t.queue, vfs.WritableEvents|vfs.EventHUp)
		t.mu.Unlock()
		if _, err := w.wait(ctx, time.Time{}); err != nil {
			if done > 0 {
				break
			}
			return 0, off, err
		}
	}
	return done, off + done, nil
}

// Readiness implements vfs.Waitable.
func (f *slaveFile) Readiness(mask vfs.EventMask) vfs.EventMask {
	t := f.t
	t.mu.Lock()
	defer t.mu.Unlock()
	var m vfs.EventMask
	if t.readableLocked() {
		m |= vfs.ReadableEvents
	}
	if !t.masterOpen {
		m |= vfs.EventHUp
	} else if len(t.out) < maxOutput {
		m |= vfs.WritableEvents
	}
	return m
}

// EventRegister implements vfs.Waitable.
func (f *slaveFile) EventRegister(e *vfs.WaitEntry) error {
	f.t.queue.EventRegister(e)
	return nil
}

// EventUnregister implements vfs.Waitable.
func (f *slaveFile) EventUnregister(e *vfs.WaitEntry) { f.t.queue.EventUnregister(e) }

// Ioctl implements vfs.FileImpl.Ioctl.
func (f *slaveFile) Ioctl(ctx vfs.Context, fd *vfs.FileDescription, cmd uint32, arg uintptr) (uintptr, error) {
	t := f.t
	switch cmd {
	case unix.TIOCINQ:
		t.mu.Lock()
		n := 0
		if t.canonLocked() {
			for _, l := range t.lines {
				n += len(l)
			}
		} else {
			n = t.inBytes
		}
		t.mu.Unlock()
		return 0, copyOutInt(ctx, arg, n)
	case unix.TIOCOUTQ:
		t.mu.Lock()
		n := len(t.out)
		t.mu.Unlock()
		return 0, copyOutInt(ctx, arg, n)
	}
	return t.ioctl(ctx, cmd, arg, false)
}

func copyOutInt(ctx vfs.Context, arg uintptr, n int) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(n))
	_, err := ctx.CopyOut(arg, b[:])
	return err
}

func copyInInt(ctx vfs.Context, arg uintptr) (int32, error) {
	var b [4]byte
	if _, err := ctx.CopyIn(arg, b[:]); err != nil {
		return 0, err
	}
	return int32(binary.LittleEndian.Uint32(b[:])), nil
}

// termios2 ioctls (asm-generic/ioctls.h): struct termios2 adds the speeds.
const (
	tcgets2  = 0x802c542a
	tcsets2  = 0x402c542b
	tcsetsw2 = 0x402c542c
	tcsetsf2 = 0x402c542d
)

// ioctl implements the terminal ioctls common to both sides (the master's apply to the
// slave's terminal, as Linux's do).
func (t *Terminal) ioctl(ctx vfs.Context, cmd uint32, arg uintptr, master bool) (uintptr, error) {
	switch cmd {
	case unix.TCGETS, tcgets2:
		t.mu.Lock()
		b := t.termios.encode()
		t.mu.Unlock()
		if cmd == tcgets2 {
			b = binary.LittleEndian.AppendUint32(b, 38400)
			b = binary.LittleEndian.AppendUint32(b, 38400)
		}
		_, err := ctx.CopyOut(arg, b)
		return 0, err
	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF, tcsets2, tcsetsw2, tcsetsf2:
		b := make([]byte, termiosSize)
		if _, err := ctx.CopyIn(arg, b); err != nil {
			return 0, err
		}
		if !master {
			if err := t.jobControl(ctx, int(unix.SIGTTOU)); err != nil {
				return 0, err
			}
		}
		t.mu.Lock()
		if cmd == unix.TCSETSF || cmd == tcsetsf2 {
			t.lines, t.inBytes, t.edit = nil, 0, nil
		}
		t.setTermiosLocked(decodeTermios(b))
		t.mu.Unlock()
		t.notify()
		return 0, nil
	case unix.TIOCGWINSZ:
		t.mu.Lock()
		ws := t.winsize
		t.mu.Unlock()
		_, err := ctx.CopyOut(arg, ws[:])
		return 0, err
	case unix.TIOCSWINSZ:
		var ws [8]byte
		if _, err := ctx.CopyIn(arg, ws[:]); err != nil {
			return 0, err
		}
		t.mu.Lock()
		changed := ws != t.winsize
		t.winsize = ws
		pg, k := t.fgPgrp, t.k
		t.mu.Unlock()
		if changed && pg > 0 {
			t.sendSignals(k, []signal{{int(unix.SIGWINCH), pg}})
		}
		return 0, nil
	case unix.TCFLSH:
		t.mu.Lock()
		switch arg {
		case unix.TCIFLUSH:
			t.lines, t.inBytes, t.edit = nil, 0, nil
		case unix.TCOFLUSH:
			t.out = nil
		case unix.TCIOFLUSH:
			t.lines, t.inBytes, t.edit, t.out = nil, 0, nil, nil
		default:
			t.mu.Unlock()
			return 0, unix.EINVAL
		}
		t.mu.Unlock()
		t.notify()
		return 0, nil
	case unix.TCSBRK, unix.TCSBRKP, unix.TIOCSBRK, unix.TIOCCBRK, unix.TCXONC:
		// Breaks and flow control mean nothing on a pseudo-terminal; output is never
		// held back, so a drain has nothing to wait for.
		return 0, nil
	case unix.TIOCGETD:
		return 0, copyOutInt(ctx, arg, 0)
	case unix.TIOCSETD:
		d, err := copyInInt(ctx, arg)
		if err != nil {
			return 0, err
		}
		if d != 0 {
			if task := taskOf(ctx); task != nil {
				task.Unsupported("ioctl TIOCSETD: line discipline other than N_TTY")
			}
			return 0, unix.EINVAL
		}
		return 0, nil
	case unix.TIOCEXCL, unix.TIOCNXCL:
		return 0, nil
	case unix.TIOCSCTTY:
		return 0, t.setCtty(ctx, arg == 1)
	case unix.TIOCNOTTY:
		return 0, t.noCtty(ctx, master)
	case unix.TIOCGPGRP, unix.TIOCGSID:
		task := taskOf(ctx)
		if !master && (task == nil || cttyOf(task) != t) {
			return 0, unix.ENOTTY
		}
		t.mu.Lock()
		v := t.fgPgrp
		if cmd == unix.TIOCGSID {
			v = t.sid
		}
		t.mu.Unlock()
		if cmd == unix.TIOCGSID && v == 0 {
			return 0, unix.ENOTTY
		}
		return 0, copyOutInt(ctx, arg, int(v))
	case unix.TIOCSPGRP:
		return 0, t.setForeground(ctx, arg, master)
	case unix.TIOCSTI:
		if task := taskOf(ctx); task != nil {
			task.Unsupported("ioctl TIOCSTI")
		}
		return 0, unix.EIO
	}
	return 0, unix.ENOTTY
}

// Controlling terminals, by session.
var ctty struct {
	mu sync.Mutex
	m  map[cttyKey]cttyEntry
}

type cttyKey struct {
	k   *kernel.Kernel
	sid int32
}

type cttyEntry struct {
	leader *kernel.ThreadGroup
	t      *Terminal
}

// cttyOf returns the controlling terminal of the task's session, or nil. A session
// whose leader has gone has none (Linux disassociates it when the leader exits).
func cttyOf(task *kernel.Task) *Terminal {
	_, sid := task.ThreadGroup().ProcessGroup()
	k := task.Kernel()
	ctty.mu.Lock()
	defer ctty.mu.Unlock()
	e, ok := ctty.m[cttyKey{k, sid}]
	if !ok {
		return nil
	}
	if k.ThreadGroupByPID(sid) != e.leader {
		delete(ctty.m, cttyKey{k, sid})
		return nil
	}
	return e.t
}

// sessionValidLocked reports whether t is still some live session's terminal (t.mu
// held).
func (t *Terminal) sessionValidLocked() bool {
	return t.sid != 0 && t.k != nil && t.k.ThreadGroupByPID(t.sid) == t.leader
}

// attachLocked makes t the controlling terminal of task's session (t.mu held).
func (t *Terminal) attachLocked(task *kernel.Task) {
	tg := task.ThreadGroup()
	pgid, sid := tg.ProcessGroup()
	if t.sessionValidLocked() {
		ctty.mu.Lock()
		delete(ctty.m, cttyKey{t.k, t.sid})
		ctty.mu.Unlock()
	}
	t.k, t.sid, t.leader, t.fgPgrp = task.Kernel(), sid, tg, pgid
	ctty.mu.Lock()
	if ctty.m == nil {
		ctty.m = map[cttyKey]cttyEntry{}
	}
	ctty.m[cttyKey{t.k, sid}] = cttyEntry{tg, t}
	ctty.mu.Unlock()
}

// maybeBecomeCtty makes t the controlling terminal of the opener's session if the
// opener leads a session without one and t belongs to no session.
func (t *Terminal) maybeBecomeCtty(task *kernel.Task) {
	tg := task.ThreadGroup()
	if _, sid := tg.ProcessGroup(); sid != tg.PID() || cttyOf(task) != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sessionValidLocked() || !t.masterOpen {
		return
	}
	t.attachLocked(task)
}

// setCtty implements TIOCSCTTY.
func (t *Terminal) setCtty(ctx vfs.Context, steal bool) error {
	task := taskOf(ctx)
	if task == nil {
		return unix.EPERM
	}
	tg := task.ThreadGroup()
	if _, sid := tg.ProcessGroup(); sid != tg.PID() {
		return unix.EPERM
	}
	if cur := cttyOf(task); cur != nil {
		if cur == t {
			return nil
		}
		return unix.EPERM
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sessionValidLocked() {
		if !steal || !task.Credentials().HasCapability(auth.CapSysAdmin) {
			return unix.EPERM
		}
	}
	t.attachLocked(task)
	return nil
}

// noCtty implements TIOCNOTTY.
func (t *Terminal) noCtty(ctx vfs.Context, master bool) error {
	task := taskOf(ctx)
	if task == nil || cttyOf(task) != t {
		return unix.ENOTTY
	}
	tg := task.ThreadGroup()
	if _, sid := tg.ProcessGroup(); sid != tg.PID() {
		return nil
	}
	t.mu.Lock()
	pg, k := t.fgPgrp, t.k
	ctty.mu.Lock()
	delete(ctty.m, cttyKey{t.k, t.sid})
	ctty.mu.Unlock()
	t.sid, t.leader, t.fgPgrp = 0, nil, 0
	t.mu.Unlock()
	if pg > 0 {
		t.sendSignals(k, []signal{{int(unix.SIGHUP), pg}, {int(unix.SIGCONT), pg}})
	}
	return nil
}

// setForeground implements TIOCSPGRP.
func (t *Terminal) setForeground(ctx vfs.Context, arg uintptr, master bool) error {
	task := taskOf(ctx)
	if task == nil || (!master && cttyOf(task) != t) {
		return unix.ENOTTY
	}
	pgrp, err := copyInInt(ctx, arg)
	if err != nil {
		return err
	}
	if !master {
		if err := t.jobControl(ctx, int(unix.SIGTTOU)); err != nil {
			return err
		}
	}
	if pgrp < 0 {
		return unix.EINVAL
	}
	members := task.Kernel().ProcessGroupMembers(pgrp)
	if len(members) == 0 {
		return unix.ESRCH
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, sid := members[0].ProcessGroup(); sid != t.sid {
		return unix.EPERM
	}
	t.fgPgrp = pgrp
	return nil
}

// jobControl stops a background process that reads (SIGTTIN) or, with TOSTOP, writes
// or changes the terminal (SIGTTOU), as Linux's job control does: the signal goes to
// its process group and the call restarts; if the signal is ignored or blocked, a read
// fails with EIO and the rest go ahead; in an orphaned process group, which nobody would
// continue, the call fails with EIO.
func (t *Terminal) jobControl(ctx vfs.Context, sig int) error {
	task := taskOf(ctx)
	if task == nil || cttyOf(task) != t {
		return nil
	}
	tg := task.ThreadGroup()
	pgid, _ := tg.ProcessGroup()
	t.mu.Lock()
	fg, k := t.fgPgrp, t.k
	t.mu.Unlock()
	if fg == 0 || pgid == fg {
		return nil
	}
	ignored, _ := tg.SignalDispositions()
	bit := kernel.SigBit(sig)
	if ignored&bit != 0 || task.SignalMask()&bit != 0 {
		if sig == int(unix.SIGTTIN) {
			return unix.EIO
		}
		return nil
	}
	if tg.ProcessGroupOrphaned() {
		return unix.EIO
	}
	t.sendSignals(k, []signal{{sig, pgid}})
	return vfs.ERESTARTSYS
}

// hangup runs when the master's last descriptor closes: the slave side hangs up, the
// session loses its terminal, and its leader and foreground group get SIGHUP.
func (t *Terminal) hangup() {
	t.mu.Lock()
	t.masterOpen = false
	pg, k, sid, valid := t.fgPgrp, t.k, t.sid, t.sessionValidLocked()
	if valid {
		ctty.mu.Lock()
		delete(ctty.m, cttyKey{t.k, t.sid})
		ctty.mu.Unlock()
	}
	t.sid, t.leader, t.fgPgrp = 0, nil, 0
	t.mu.Unlock()
	t.fs.remove(t)
	t.notify()
	if valid {
		var sigs []signal
		if pg > 0 {
			sigs = append(sigs, signal{int(unix.SIGHUP), pg}, signal{int(unix.SIGCONT), pg})
		}
		if sid != pg {
			sigs = append(sigs, signal{int(unix.SIGHUP), sid}, signal{int(unix.SIGCONT), sid})
		}
		t.sendSignals(k, sigs)
	}
}

// openTTY opens /dev/tty: the caller's controlling terminal (ENXIO without one).
func openTTY(ctx vfs.Context, vd vfs.VirtualDentry, flags uint32) (vfs.FileImpl, vfs.FileOptions, error) {
	task := taskOf(ctx)
	if task == nil {
		return nil, vfs.FileOptions{}, unix.ENXIO
	}
	t := cttyOf(task)
	if t == nil {
		return nil, vfs.FileOptions{}, unix.ENXIO
	}
	f, err := openSlave(ctx, t, flags|unix.O_NOCTTY)
	if err != nil {
		return nil, vfs.FileOptions{}, err
	}
	return f, vfs.FileOptions{Stream: true}, nil
}
