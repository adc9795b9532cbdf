package ptrace

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
)

// This file holds the raw system call wrappers that pass pointers to the kernel. The
// non-blocking ptrace requests use RawSyscall (no scheduler hand-off: they return at once);
// wait4 uses Syscall so that the Go scheduler can run other goroutines while it blocks.

// Compile-time check that arch.Registers has the size of struct user_regs_struct.
var _ [27 * 8]byte = [unsafe.Sizeof(arch.Registers{})]byte{}

// siginfo is the head of a kernel siginfo_t (128 bytes) for the synchronous signals that
// carry a fault address.
type siginfo struct {
	Signo int32
	Errno int32
	Code  int32
	_     int32
	Addr  uint64
	_     [104]byte
}

var _ [128]byte = [unsafe.Sizeof(siginfo{})]byte{}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// ptraceReq issues a ptrace request that passes no pointer.
func ptraceReq(req int, tid int32, addr, data uintptr) error {
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid), addr, data, 0, 0)
	return errnoErr(e)
}

func getRegs(tid int32, r *arch.Registers) error {
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GETREGS, uintptr(tid), 0, uintptr(unsafe.Pointer(r)), 0, 0)
	return errnoErr(e)
}

func setRegs(tid int32, r *arch.Registers) error {
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_SETREGS, uintptr(tid), 0, uintptr(unsafe.Pointer(r)), 0, 0)
	return errnoErr(e)
}

// peekUser reads one word of the tracee's struct user at offset off.
func peekUser(tid int32, off uintptr) (uint64, error) {
	var v uint64
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_PEEKUSR, uintptr(tid), off, uintptr(unsafe.Pointer(&v)), 0, 0)
	return v, errnoErr(e)
}

func getSiginfo(tid int32, si *siginfo) error {
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(tid), 0, uintptr(unsafe.Pointer(si)), 0, 0)
	return errnoErr(e)
}

// getXState reads the tracee's XSAVE area into buf (whose length must be a multiple of 8)
// and returns how many bytes the kernel wrote.
func getXState(tid int32, buf []byte) (int, error) {
	iov := unix.Iovec{Base: &buf[0], Len: uint64(len(buf))}
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GETREGSET, uintptr(tid), unix.NT_X86_XSTATE, uintptr(unsafe.Pointer(&iov)), 0, 0)
	return int(iov.Len), errnoErr(e)
}

// setXState loads buf into the tracee's XSAVE area. The kernel requires the whole area:
// len(buf) must be at least its size.
func setXState(tid int32, buf []byte) error {
	iov := unix.Iovec{Base: &buf[0], Len: uint64(len(buf))}
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_SETREGSET, uintptr(tid), unix.NT_X86_XSTATE, uintptr(unsafe.Pointer(&iov)), 0, 0)
	return errnoErr(e)
}

// wait4 waits for a state change of thread tid (__WALL) and stores the status in *ws. It
// retries on EINTR.
func wait4(tid int32, ws *int32, flags int) (int32, error) {
	for {
		r, _, e := unix.Syscall6(unix.SYS_WAIT4, uintptr(tid), uintptr(unsafe.Pointer(ws)), uintptr(flags|unix.WALL), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		return int32(r), errnoErr(e)
	}
}

// getcpu returns the CPU the calling thread runs on.
func getcpu() int {
	var cpu uint32
	_, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0)
	if e != 0 {
		return -1
	}
	return int(cpu)
}

const saNoCldStop = 1 // SA_NOCLDSTOP

// sigactionT is the kernel's struct sigaction on x86-64.
type sigactionT struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// setNoCldStop adds SA_NOCLDSTOP to the process's SIGCHLD disposition, keeping its handler
// (the Go runtime's). Without it every ptrace stop of every stub thread sends SIGCHLD to
// the sentry, whose handler then runs on the tracer thread for nothing: ptrace stops are
// collected with wait4, which the kernel wakes whether or not SIGCHLD is sent. Child exits
// still raise SIGCHLD.
func setNoCldStop() error {
	var sa sigactionT
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD), 0, uintptr(unsafe.Pointer(&sa)), 8, 0, 0); e != 0 {
		return e
	}
	if sa.handler == 0 /* SIG_DFL */ || sa.handler == 1 /* SIG_IGN */ || sa.flags&saNoCldStop != 0 {
		return nil // no handler runs for ptrace stops anyway
	}
	sa.flags |= saNoCldStop
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD), uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0)
	return errnoErr(e)
}
