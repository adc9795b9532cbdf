package devpts

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// Termios is the kernel's struct termios.
type Termios struct {
	Iflag, Oflag, Cflag, Lflag uint32
	Line                       uint8
	Cc                         [19]uint8
}

// termiosSize is the size of struct termios.
const termiosSize = 36

func (t *Termios) encode() []byte {
	b := make([]byte, termiosSize)
	binary.LittleEndian.PutUint32(b[0:], t.Iflag)
	binary.LittleEndian.PutUint32(b[4:], t.Oflag)
	binary.LittleEndian.PutUint32(b[8:], t.Cflag)
	binary.LittleEndian.PutUint32(b[12:], t.Lflag)
	b[16] = t.Line
	copy(b[17:], t.Cc[:])
	return b
}

func decodeTermios(b []byte) Termios {
	var t Termios
	t.Iflag = binary.LittleEndian.Uint32(b[0:])
	t.Oflag = binary.LittleEndian.Uint32(b[4:])
	t.Cflag = binary.LittleEndian.Uint32(b[8:])
	t.Lflag = binary.LittleEndian.Uint32(b[12:])
	t.Line = b[16]
	copy(t.Cc[:], b[17:])
	return t
}

// Control character indexes.
const (
	vintr    = 0
	vquit    = 1
	verase   = 2
	vkill    = 3
	veof     = 4
	vtime    = 5
	vmin     = 6
	vstart   = 8
	vstop    = 9
	vsusp    = 10
	veol     = 11
	vreprint = 12
	vwerase  = 14
	vlnext   = 15
	veol2    = 16
)

// defaultTermios is Linux's tty_std_termios: cooked mode with echo and signals.
func defaultTermios() Termios {
	t := Termios{
		Iflag: unix.ICRNL | unix.IXON,
		Oflag: unix.OPOST | unix.ONLCR,
		Cflag: unix.B38400 | unix.CS8 | unix.CREAD | unix.HUPCL,
		Lflag: unix.ISIG | unix.ICANON | unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHOCTL | unix.ECHOKE | unix.IEXTEN,
	}
	copy(t.Cc[:], []uint8{3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0})
	return t
}

// Buffer limits: a full input queue blocks the master's writes, a full output queue the
// slave's.
const (
	maxInput  = 64 << 10
	maxOutput = 64 << 10
	maxCanon  = 4095 // N_TTY_BUF_SIZE - 1: the longest line being edited
)

// Terminal is a pseudo-terminal pair: the line discipline between the master (the
// terminal emulator's side) and the slave (the application's terminal), the termios
// and window size, and the job-control state (session and foreground process group).
type Terminal struct {
	index uint32
	fs    *Filesystem

	mu      sync.Mutex
	termios Termios
	winsize [8]byte
	// lines are the complete input lines (canonical mode) or chunks (raw mode) the
	// slave may read; an empty line is an end of file (VEOF on an empty line).
	lines   [][]byte
	inBytes int
	edit    []byte // the line being edited (canonical mode)
	lnext   bool   // the next input byte is taken literally (VLNEXT)
	out     []byte // output for the master to read
	locked  bool   // TIOCSPTLCK
	// masterOpen is cleared when the master's last descriptor closes (hangup);
	// slaveOpens counts the slave's open descriptions; slaveClosed is set when it drops
	// to zero after having been opened.
	masterOpen  bool
	slaveOpens  int
	slaveClosed bool

	// Job control, guarded by mu: the session whose controlling terminal this is (0:
	// none), its leader, and the foreground process group.
	k       *kernel.Kernel
	sid     int32
	leader  *kernel.ThreadGroup
	fgPgrp  int32
	queue   vfs.WaitQueue // both sides' waiters
	uid     uint32
	gid     uint32
	mode    uint32
	times   [3]vfs.Timespec
	slaveID uint64 // inode number
}

func newTerminal(fs *Filesystem, index uint32, uid, gid uint32) *Terminal {
	now := vfs.Now()
	t := &Terminal{index: index, fs: fs, termios: defaultTermios(), locked: true, masterOpen: true,
		uid: uid, gid: gid, mode: fs.slaveMode, times: [3]vfs.Timespec{now, now, now}, slaveID: uint64(index) + 3}
	if fs.gidSet {
		t.gid = fs.slaveGID
	}
	return t
}

// Rdev returns the slave's device number.
func (t *Terminal) Rdev() uint64 {
	return unix.Mkdev(slaveMajor+t.index/256, t.index%256)
}

func (t *Terminal) canonLocked() bool { return t.termios.Lflag&unix.ICANON != 0 }

// readableLocked reports whether a slave read would not block.
func (t *Terminal) readableLocked() bool {
	if len(t.lines) > 0 {
		return true
	}
	return !t.masterOpen
}

// pushLocked queues input for the slave.
func (t *Terminal) pushLocked(b []byte) {
	if !t.canonLocked() && len(t.lines) > 0 && len(b) > 0 {
		last := &t.lines[len(t.lines)-1]
		*last = append(*last, b...)
	} else {
		t.lines = append(t.lines, append([]byte(nil), b...))
	}
	t.inBytes += len(b)
}

// outputLocked applies output processing (OPOST) and queues b for the master.
func (t *Terminal) outputLocked(b []byte) {
	o := t.termios.Oflag
	if o&unix.OPOST == 0 {
		t.out = append(t.out, b...)
		return
	}
	for _, c := range b {
		switch {
		case c == '\n' && o&unix.ONLCR != 0:
			t.out = append(t.out, '\r', '\n')
		case c == '\r' && o&unix.OCRNL != 0:
			t.out = append(t.out, '\n')
		default:
			t.out = append(t.out, c)
		}
	}
}

// echoLocked echoes an input byte as the ECHO* flags say.
func (t *Terminal) echoLocked(c byte) {
	l := t.termios.Lflag
	if l&unix.ECHO == 0 {
		if c == '\n' && l&unix.ECHONL != 0 && t.canonLocked() {
			t.outputLocked([]byte{'\n'})
		}
		return
	}
	if l&unix.ECHOCTL != 0 && (c < 0x20 || c == 0x7f) && c != '\n' && c != '\t' {
		t.outputLocked([]byte{'^', c ^ 0x40})
		return
	}
	t.outputLocked([]byte{c})
}

// eraseLocked removes the last character of the line being edited, echoing the erase.
func (t *Terminal) eraseLocked() bool {
	if len(t.edit) == 0 {
		return false
	}
	c := t.edit[len(t.edit)-1]
	t.edit = t.edit[:len(t.edit)-1]
	l := t.termios.Lflag
	if l&unix.ECHO != 0 && l&unix.ECHOE != 0 {
		n := 1
		if l&unix.ECHOCTL != 0 && (c < 0x20 || c == 0x7f) && c != '\t' {
			n = 2
		}
		for i := 0; i < n; i++ {
			t.outputLocked([]byte("\b \b"))
		}
	}
	return true
}

// signal is a job-control signal the input asked for.
type signal struct {
	sig  int
	pgrp int32
}

// inputLocked runs the line discipline over bytes the master wrote and returns how
// many it took (fewer when the input queue is full) and the signals to send.
func (t *Terminal) inputLocked(b []byte) (int, []signal) {
	var sigs []signal
	n := 0
	for _, c := range b {
		if t.inBytes+len(t.edit) >= maxInput {
			break
		}
		n++
		io, lf := t.termios.Iflag, t.termios.Lflag
		cc := &t.termios.Cc
		if io&unix.ISTRIP != 0 {
			c &= 0x7f
		}
		if t.lnext {
			t.lnext = false
			t.addLocked(c)
			continue
		}
		switch {
		case c == '\r' && io&unix.IGNCR != 0:
			continue
		case c == '\r' && io&unix.ICRNL != 0:
			c = '\n'
		case c == '\n' && io&unix.INLCR != 0:
			c = '\r'
		}
		if lf&unix.ISIG != 0 {
			sig := 0
			switch {
			case c == cc[vintr] && c != 0:
				sig = int(unix.SIGINT)
			case c == cc[vquit] && c != 0:
				sig = int(unix.SIGQUIT)
			case c == cc[vsusp] && c != 0:
				sig = int(unix.SIGTSTP)
			}
			if sig != 0 {
				if lf&unix.NOFLSH == 0 {
					t.lines, t.inBytes, t.edit = nil, 0, nil
				}
				t.echoLocked(c)
				if t.fgPgrp > 0 {
					sigs = append(sigs, signal{sig, t.fgPgrp})
				}
				continue
			}
		}
		if lf&unix.IEXTEN != 0 && c == cc[vlnext] && c != 0 && t.canonLocked() {
			t.lnext = true
			if lf&unix.ECHO != 0 && lf&unix.ECHOCTL != 0 {
				t.outputLocked([]byte("^\b"))
			}
			continue
		}
		if !t.canonLocked() {
			t.echoLocked(c)
			t.pushLocked([]byte{c})
			continue
		}
		switch {
		case c == cc[verase] && c != 0:
			t.eraseLocked()
		case c == cc[vwerase] && c != 0 && lf&unix.IEXTEN != 0:
			for len(t.edit) > 0 && t.edit[len(t.edit)-1] == ' ' {
				t.eraseLocked()
			}
			for len(t.edit) > 0 && t.edit[len(t.edit)-1] != ' ' {
				t.eraseLocked()
			}
		case c == cc[vkill] && c != 0:
			if lf&unix.ECHO != 0 && lf&unix.ECHOK != 0 && lf&unix.ECHOKE == 0 {
				t.echoLocked(c)
				t.outputLocked([]byte{'\n'})
				t.edit = t.edit[:0]
			} else {
				for t.eraseLocked() {
				}
			}
		case c == cc[veof] && c != 0:
			// The line so far, without the EOF character; alone, an end of file.
			t.pushLocked(t.edit)
			t.edit = nil
		case c == '\n' || (c == cc[veol] && c != 0) || (c == cc[veol2] && c != 0 && lf&unix.IEXTEN != 0):
			t.echoLocked(c)
			t.edit = append(t.edit, c)
			t.pushLocked(t.edit)
			t.edit = nil
		default:
			t.addLocked(c)
		}
	}
	return n, sigs
}

// addLocked adds an ordinary byte to the line being edited (or the raw queue).
func (t *Terminal) addLocked(c byte) {
	if !t.canonLocked() {
		t.echoLocked(c)
		t.pushLocked([]byte{c})
		return
	}
	if len(t.edit) >= maxCanon {
		return
	}
	t.echoLocked(c)
	t.edit = append(t.edit, c)
}

// setTermiosLocked changes the termios; leaving canonical mode makes the line being
// edited readable.
func (t *Terminal) setTermiosLocked(n Termios) {
	wasCanon := t.canonLocked()
	t.termios = n
	if wasCanon && !t.canonLocked() && len(t.edit) > 0 {
		t.pushLocked(t.edit)
		t.edit = nil
	}
}

// sendSignals sends job-control signals to process groups (no lock held).
func (t *Terminal) sendSignals(k *kernel.Kernel, sigs []signal) {
	if k == nil {
		return
	}
	for _, s := range sigs {
		for _, tg := range k.ProcessGroupMembers(s.pgrp) {
			tg.SendSignal(&kernel.SignalInfo{Signo: int32(s.sig), Code: siKernel})
		}
	}
}

// siKernel is SI_KERNEL: the signal came from the kernel (the line discipline).
const siKernel = 0x80

// notify wakes both sides' waiters.
func (t *Terminal) notify() {
	t.queue.Notify(vfs.AllEvents)
}
