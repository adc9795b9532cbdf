package kernel

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
)

// The x86-64 signal frame, laid out as Linux lays it out (arch/x86/include/asm/sigframe.h):
//
//	sp ->  pretcode (the handler's return address: sa_restorer)
//	       struct ucontext { uc_flags, uc_link, uc_stack, uc_mcontext (sigcontext), uc_sigmask }
//	       siginfo_t
//	       ... (padding)
//	fpstate (64-byte aligned): XSAVE area, sw_reserved describing it, then FP_XSTATE_MAGIC2
const (
	ucFlagsOff    = 8
	ucLinkOff     = 16
	ucStackOff    = 24
	ucMcontextOff = 48
	ucSigmaskOff  = 48 + 256
	siginfoOff    = ucSigmaskOff + 8
	frameSize     = siginfoOff + 128

	ucFPXState        = 0x1
	ucSigcontextSS    = 0x2
	ucStrictRestoreSS = 0x4

	fpXStateMagic1 = 0x46505853
	fpXStateMagic2 = 0x46505845
	redZone        = 128
)

// siginfoBytes encodes info as siginfo_t.
func (info *SignalInfo) siginfoBytes() [128]byte {
	var b [128]byte
	le := binary.LittleEndian
	if info.Raw != nil {
		// rt_sigqueueinfo: what the sender gave, with the signal it was sent as.
		b = *info.Raw
		le.PutUint32(b[0:], uint32(info.Signo))
		return b
	}
	le.PutUint32(b[0:], uint32(info.Signo))
	le.PutUint32(b[4:], uint32(info.Errno))
	le.PutUint32(b[8:], uint32(info.Code))
	switch info.Code {
	case SI_TIMER:
		// _timer: si_tid (the timer ID), si_overrun, si_sigval.
		le.PutUint32(b[16:], uint32(info.TimerID))
		le.PutUint32(b[20:], uint32(info.Overrun))
		le.PutUint64(b[24:], info.Value)
		return b
	case SI_QUEUE, SI_MESGQ:
		// _rt: si_pid, si_uid, si_sigval.
		le.PutUint32(b[16:], uint32(info.PID))
		le.PutUint32(b[20:], info.UID)
		le.PutUint64(b[24:], info.Value)
		return b
	}
	switch unix.Signal(info.Signo) {
	case unix.SIGSEGV, unix.SIGBUS, unix.SIGILL, unix.SIGFPE, unix.SIGTRAP:
		if info.Code > 0 {
			le.PutUint64(b[16:], uint64(info.Addr))
			break
		}
		fallthrough
	default:
		le.PutUint32(b[16:], uint32(info.PID))
		le.PutUint32(b[20:], info.UID)
		if info.Signo == int32(unix.SIGCHLD) {
			le.PutUint32(b[24:], uint32(info.Status))
		}
	}
	return b
}

// sigcontext register order.
func putSigcontext(b []byte, r *arch.Registers, mask SignalSet, fpAddr uint64) {
	le := binary.LittleEndian
	for i, v := range []uint64{r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15, r.Rdi, r.Rsi,
		r.Rbp, r.Rbx, r.Rdx, r.Rax, r.Rcx, r.Rsp, r.Rip, r.Eflags} {
		le.PutUint64(b[8*i:], v)
	}
	le.PutUint16(b[144:], uint16(r.Cs))
	le.PutUint16(b[146:], 0) // gs
	le.PutUint16(b[148:], 0) // fs
	le.PutUint16(b[150:], uint16(r.Ss))
	// err, trapno: 0; oldmask; cr2: 0.
	le.PutUint64(b[168:], uint64(mask))
	le.PutUint64(b[184:], fpAddr)
}

// setupSignalFrame arranges for the task to run the handler act for info: it saves the
// registers, signal mask and FP state in a frame on the (alternate) stack and points the
// registers at the handler.
func (t *Task) setupSignalFrame(info *SignalInfo, act *SigAction) error {
	if act.Flags&SA_RESTORER == 0 {
		// x86-64 has no default restorer: Linux fails the delivery.
		return unix.EFAULT
	}
	if !t.ac.FPValid {
		if err := t.pctx.PullFP(&t.ac); err != nil {
			return err
		}
	}
	regs := &t.ac.Regs
	sp := regs.Rsp - redZone
	tg := t.tg
	tg.mu.Lock()
	alt := t.altStack
	oldMask := t.sigMask
	if t.haveSavedMask {
		// After rt_sigsuspend the frame restores the mask from before the call.
		oldMask, t.haveSavedMask = t.savedMask, false
	}
	tg.mu.Unlock()
	onAlt := alt.Flags&SS_DISABLE == 0 && alt.Size != 0 && regs.Rsp-alt.Addr < alt.Size
	if act.Flags&SA_ONSTACK != 0 && alt.Flags&SS_DISABLE == 0 && alt.Size != 0 && !onAlt {
		sp = alt.Addr + alt.Size
	}
	fp := t.ac.FP
	fpSize := uint64(len(fp)) + 4
	fpAddr := (sp - fpSize) &^ 63
	frame := ((fpAddr - frameSize) &^ 15) - 8

	fpBuf := make([]byte, fpSize)
	copy(fpBuf, fp)
	le := binary.LittleEndian
	// sw_reserved (bytes 464..511) tells the handler, and rt_sigreturn, what follows.
	le.PutUint32(fpBuf[464:], fpXStateMagic1)
	le.PutUint32(fpBuf[468:], uint32(fpSize))
	le.PutUint64(fpBuf[472:], le.Uint64(fp[512:])) // xfeatures = XSTATE_BV
	le.PutUint32(fpBuf[480:], uint32(len(fp)))
	le.PutUint32(fpBuf[len(fp):], fpXStateMagic2)
	if _, err := t.CopyOut(uintptr(fpAddr), fpBuf); err != nil {
		return err
	}

	var b [frameSize]byte
	le.PutUint64(b[0:], act.Restorer)
	le.PutUint64(b[ucFlagsOff:], ucFPXState|ucSigcontextSS|ucStrictRestoreSS)
	le.PutUint64(b[ucStackOff:], alt.Addr)
	stFlags := alt.Flags
	if onAlt {
		stFlags |= SS_ONSTACK
	}
	le.PutUint32(b[ucStackOff+8:], stFlags)
	le.PutUint64(b[ucStackOff+16:], alt.Size)
	putSigcontext(b[ucMcontextOff:], regs, oldMask, fpAddr)
	le.PutUint64(b[ucSigmaskOff:], uint64(oldMask))
	si := info.siginfoBytes()
	copy(b[siginfoOff:], si[:])
	if _, err := t.CopyOut(uintptr(frame), b[:]); err != nil {
		return err
	}

	regs.Rsp = frame
	regs.Rip = act.Handler
	regs.Rdi = uint64(info.Signo)
	regs.Rsi = frame + siginfoOff
	regs.Rdx = frame + ucFlagsOff
	regs.Rax = 0
	regs.Eflags &^= 0x400 | 0x100 // DF, TF
	regs.Cs, regs.Ss = arch.UserCS, arch.UserDS
	// The handler starts with a clean FP state, as on Linux.
	t.ac.FP.Reset()
	t.ac.FPValid = true

	tg.mu.Lock()
	newMask := oldMask | act.Mask
	if act.Flags&SA_NODEFER == 0 {
		newMask |= SigBit(int(info.Signo))
	}
	t.sigMask = newMask &^ Unblockable
	if act.Flags&SA_RESETHAND != 0 {
		tg.handlers.Actions[info.Signo-1] = SigAction{}
	}
	if alt.Flags&SS_AUTODISARM != 0 && sp == alt.Addr+alt.Size {
		t.altStack = SignalStack{Flags: SS_DISABLE}
	}
	tg.mu.Unlock()
	return nil
}

// SignalReturn implements rt_sigreturn: it restores what setupSignalFrame saved. A
// corrupt frame kills the task with SIGSEGV, as on Linux.
func (t *Task) SignalReturn() error {
	regs := &t.ac.Regs
	frame := regs.Rsp - 8
	var b [frameSize]byte
	if _, err := t.CopyIn(uintptr(frame), b[:]); err != nil {
		t.forceSignal(&SignalInfo{Signo: int32(unix.SIGSEGV), Code: SI_KERNEL})
		return EJUSTRETURN
	}
	le := binary.LittleEndian
	mc := b[ucMcontextOff:]
	g := func(i int) uint64 { return le.Uint64(mc[8*i:]) }
	restored := *regs
	restored.R8, restored.R9, restored.R10, restored.R11 = g(0), g(1), g(2), g(3)
	restored.R12, restored.R13, restored.R14, restored.R15 = g(4), g(5), g(6), g(7)
	restored.Rdi, restored.Rsi, restored.Rbp, restored.Rbx = g(8), g(9), g(10), g(11)
	restored.Rdx, restored.Rax, restored.Rcx, restored.Rsp = g(12), g(13), g(14), g(15)
	restored.Rip = g(16)
	// Only the flags user code may change come back (AC, OF, DF, TF, SF, ZF, AF, PF, CF, RF).
	const userFlags = 0x40000 | 0x800 | 0x400 | 0x100 | 0x80 | 0x40 | 0x10 | 0x4 | 0x1 | 0x10000
	restored.Eflags = regs.Eflags&^userFlags | g(17)&userFlags
	restored.Cs, restored.Ss = arch.UserCS, arch.UserDS
	restored.OrigRax = ^uint64(0) // no syscall restart from a restored context

	fpAddr := le.Uint64(mc[184:])
	if fpAddr != 0 {
		fp := make([]byte, len(t.ac.FP))
		if _, err := t.CopyIn(uintptr(fpAddr), fp); err != nil || le.Uint32(fp[464:]) != fpXStateMagic1 {
			t.forceSignal(&SignalInfo{Signo: int32(unix.SIGSEGV), Code: SI_KERNEL})
			return EJUSTRETURN
		}
		clear(fp[464:512]) // the software bytes are not part of the hardware state
		if t.ac.FP == nil {
			t.ac.FP = arch.NewFPState()
		}
		copy(t.ac.FP, fp)
		t.ac.FPValid = true
	}
	*regs = restored

	mask := SignalSet(le.Uint64(b[ucSigmaskOff:]))
	tg := t.tg
	tg.mu.Lock()
	t.sigMask = mask &^ Unblockable
	// uc_stack restores the alternate stack, as sigaltstack would.
	st := SignalStack{Addr: le.Uint64(b[ucStackOff:]), Flags: le.Uint32(b[ucStackOff+8:]) &^ SS_ONSTACK, Size: le.Uint64(b[ucStackOff+16:])}
	if st.Flags&SS_DISABLE != 0 || st.Size >= MINSIGSTKSZ {
		t.altStack = st
	}
	tg.mu.Unlock()
	return EJUSTRETURN
}
