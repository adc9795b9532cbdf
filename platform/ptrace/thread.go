package ptrace

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
)

// interruptSignal is the signal Interrupt sends to a running stub thread. SIGCHLD is never
// raised for a stub otherwise (a stub has no children, and its threads' exits do not
// signal), and its default action is to be ignored, so a stray one that reaches a stub
// thread no tracer holds (a thread being handed over) does no harm. Traced threads report
// even ignored signals to their tracer, which suppresses them.
const interruptSignal = unix.SIGCHLD

// errStubDead is wrapped by the errors returned once a stub process has gone.
var errStubDead = errors.New("stub process is gone")

// stubThread is one thread of a stub process, traced by one OS thread of the sentry. All its
// fields are used only by its tracer, except as, tid and tracer, which are immutable.
type stubThread struct {
	as     *addressSpace
	tid    int32
	tracer int32 // the OS thread (tid) tracing this thread

	// kregs is the kernel's copy of the registers when kregsValid: Switch skips
	// PTRACE_SETREGS when the registers it would write are these.
	kregs      arch.Registers
	kregsValid bool

	scratch arch.Registers // for injections
	status  int32          // wait status
	si      siginfo
	dead    bool // the thread has exited and been reaped
}

// Wait status decoding (see wait(2)).
func wStopped(s int32) bool     { return s&0xff == 0x7f }
func wStopSig(s int32) int      { return int(s>>8) & 0xff }
func wEvent(s int32) int        { return int(s>>16) & 0xff }
func wExited(s int32) bool      { return s&0x7f == 0 }
func wExitCode(s int32) int     { return int(s>>8) & 0xff }
func wSignaled(s int32) bool    { return !wStopped(s) && !wExited(s) && s&0x7f != 0 }
func wTermSig(s int32) int      { return int(s & 0x7f) }
func wSyscallStop(s int32) bool { return wStopped(s) && (s>>8)&0xffff == int32(unix.SIGTRAP|0x80) }

// describeExit says how a thread that is no longer stopped ended.
func describeExit(s int32) string {
	switch {
	case wExited(s):
		return fmt.Sprintf("exited with status %d", wExitCode(s))
	case wSignaled(s):
		return fmt.Sprintf("killed by signal %v", syscall.Signal(wTermSig(s)))
	}
	return fmt.Sprintf("wait status %#x", s)
}

// injection describes one host syscall to run in a stub thread.
type injection struct {
	site   uintptr // the syscall instruction: layout.inject or layout.clone
	trapAt uintptr // rip reported by the int3 that follows a completed call
	nr     uintptr
	args   [6]uintptr
}

// inject runs inj in thread tid, which must be in a ptrace-stop traced by the calling OS
// thread, and returns the raw result (rax). The thread's registers are clobbered; regs is
// scratch space. Signals that arrive meanwhile are suppressed. If the thread dies, the error
// wraps errStubDead.
func inject(tid int32, regs *arch.Registers, status *int32, inj *injection) (uintptr, error) {
	*regs = arch.Registers{
		Rip:     uint64(inj.site),
		Rax:     uint64(inj.nr),
		Rdi:     uint64(inj.args[0]),
		Rsi:     uint64(inj.args[1]),
		Rdx:     uint64(inj.args[2]),
		R10:     uint64(inj.args[3]),
		R8:      uint64(inj.args[4]),
		R9:      uint64(inj.args[5]),
		OrigRax: ^uint64(0), // no syscall to restart
		Cs:      arch.UserCS,
		Ss:      arch.UserDS,
		Eflags:  arch.InitEflags,
	}
	if err := setRegs(tid, regs); err != nil {
		return 0, fmt.Errorf("PTRACE_SETREGS on stub thread %d: %w", tid, err)
	}
	for {
		if err := ptraceReq(unix.PTRACE_CONT, tid, 0, 0); err != nil {
			return 0, fmt.Errorf("PTRACE_CONT on stub thread %d: %w", tid, err)
		}
		if _, err := wait4(tid, status, 0); err != nil {
			return 0, fmt.Errorf("waiting for stub thread %d: %w", tid, err)
		}
		s := *status
		if !wStopped(s) {
			if inj.nr == sysExit && wExited(s) {
				return 0, nil
			}
			return 0, fmt.Errorf("stub thread %d %s during injected syscall %d: %w", tid, describeExit(s), inj.nr, errStubDead)
		}
		if wStopSig(s) != int(unix.SIGTRAP) || wEvent(s) != 0 || wSyscallStop(s) {
			continue // a stray signal or an interrupt: suppress it and go on
		}
		if err := getRegs(tid, regs); err != nil {
			return 0, fmt.Errorf("PTRACE_GETREGS on stub thread %d: %w", tid, err)
		}
		if uintptr(regs.Rip) != inj.trapAt {
			// A SIGTRAP that is not our int3 (sent by someone): carry on.
			continue
		}
		return uintptr(regs.Rax), nil
	}
}

// errnoResult converts a raw syscall return to an error if it is -errno.
func errnoResult(r uintptr) error {
	if v := int64(r); v < 0 && v > -4096 {
		return syscall.Errno(-v)
	}
	return nil
}
