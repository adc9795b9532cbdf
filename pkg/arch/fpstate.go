package arch

import "sync"

// FPState is the task's extended floating-point state in XSAVE format, exactly as
// PTRACE_GETREGSET NT_X86_XSTATE returns it and as a signal frame stores it.
type FPState []byte

var (
	fpSizeOnce sync.Once
	fpSize     int
)

// FPStateSize is the size in bytes of the host's XSAVE area for the user-visible features
// (CPUID leaf 0xD, sub-leaf 0, EBX), at least the 576 bytes of the legacy area plus header.
func FPStateSize() int {
	fpSizeOnce.Do(func() {
		_, ebx, _, _ := cpuid(0xd, 0)
		fpSize = int(ebx)
		if fpSize < 576 {
			fpSize = 576
		}
	})
	return fpSize
}

// NewFPState returns the state of a freshly exec'd thread: x87 control word 0x37f, MXCSR
// 0x1f80 and everything else zero, with the XSAVE header saying only x87 and SSE are in use.
func NewFPState() FPState {
	s := make(FPState, FPStateSize())
	s.Reset()
	return s
}

// Reset restores the initial state in place.
func (s FPState) Reset() {
	clear(s)
	s[0], s[1] = 0x7f, 0x03 // FCW = 0x037f
	// MXCSR at offset 24, MXCSR_MASK at 28.
	s[24], s[25] = 0x80, 0x1f
	s[28], s[29] = 0xff, 0xff
	if len(s) >= 520 {
		s[512] = 0x3 // XSTATE_BV: x87 | SSE
	}
}

// Context is the machine state of one task: its registers and its floating-point state.
// FP is fetched from the platform lazily: FPValid says whether FP holds the current state
// (the platform keeps it otherwise, in the host thread that runs the task).
type Context struct {
	Regs    Registers
	FP      FPState
	FPValid bool
}
