// Package arch owns the x86-64 machine state that the sentry and the platforms share:
// the general register file (laid out as ptrace's user_regs_struct), the extended
// floating-point state (the XSAVE area), and syscall argument decoding.
//
// It holds no locks; a Context belongs to one task and is used by that task's goroutine only.
package arch

// Registers is the general register file, in the order of Linux's struct user_regs_struct
// on x86-64 so that platforms can exchange it with the host kernel unchanged.
type Registers struct {
	R15     uint64
	R14     uint64
	R13     uint64
	R12     uint64
	Rbp     uint64
	Rbx     uint64
	R11     uint64
	R10     uint64
	R9      uint64
	R8      uint64
	Rax     uint64
	Rcx     uint64
	Rdx     uint64
	Rsi     uint64
	Rdi     uint64
	OrigRax uint64
	Rip     uint64
	Cs      uint64
	Eflags  uint64
	Rsp     uint64
	Ss      uint64
	FsBase  uint64
	GsBase  uint64
	Ds      uint64
	Es      uint64
	Fs      uint64
	Gs      uint64
}

// User-mode segment selectors and the initial flags of a new thread, as Linux sets them.
const (
	UserCS     = 0x33
	UserDS     = 0x2b
	InitEflags = 0x202 // IF | reserved bit 1
)

// SyscallNo returns the number of the system call the thread trapped on.
func (r *Registers) SyscallNo() uintptr { return uintptr(r.OrigRax) }

// SyscallArgs returns the six argument registers of the x86-64 syscall ABI.
func (r *Registers) SyscallArgs() SyscallArguments {
	return SyscallArguments{uintptr(r.Rdi), uintptr(r.Rsi), uintptr(r.Rdx), uintptr(r.R10), uintptr(r.R8), uintptr(r.R9)}
}

// SetReturn stores a syscall's return value (a negative errno on failure).
func (r *Registers) SetReturn(v uintptr) { r.Rax = uint64(v) }

// SyscallArguments are the six raw arguments of a system call.
type SyscallArguments [6]uintptr

// Int returns argument i as a C int (the low 32 bits, sign-extended), as Linux reads int args.
func (a *SyscallArguments) Int(i int) int32 { return int32(a[i]) }

// Uint returns argument i as a C unsigned int.
func (a *SyscallArguments) Uint(i int) uint32 { return uint32(a[i]) }

// Int64 returns argument i as a signed 64-bit value (off_t, long).
func (a *SyscallArguments) Int64(i int) int64 { return int64(a[i]) }

// Addr returns argument i as a user address.
func (a *SyscallArguments) Addr(i int) uintptr { return a[i] }
