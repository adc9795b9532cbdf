// Package platform defines how the sentry runs application code: an AddressSpace holds an
// application's mappings of host file pages (the sentry's memory file), and a Context runs
// one application thread in an AddressSpace until it traps back to the sentry. Concrete
// platforms (ptrace, systrap, kvm) live in subpackages and register themselves by name;
// the sentry only ever sees these interfaces.
//
// Lock order: registryMu is a leaf lock.
package platform

import (
	"fmt"
	"sort"
	"sync"

	"runsc.dev/pkg/arch"
)

// Access is a set of memory access permissions.
type Access struct {
	Read, Write, Execute bool
}

// Common access sets.
var (
	NoAccess  = Access{}
	Read      = Access{Read: true}
	ReadWrite = Access{Read: true, Write: true}
	AnyAccess = Access{Read: true, Write: true, Execute: true}
)

// Prot returns the PROT_* bits of a.
func (a Access) Prot() int {
	p := 0
	if a.Read {
		p |= 1
	}
	if a.Write {
		p |= 2
	}
	if a.Execute {
		p |= 4
	}
	return p
}

// AccessFromProt converts PROT_* bits.
func AccessFromProt(prot int) Access {
	return Access{Read: prot&1 != 0, Write: prot&2 != 0, Execute: prot&4 != 0}
}

// TrapKind says why Switch returned.
type TrapKind int

// Trap kinds.
const (
	// TrapSyscall: the thread executed a syscall instruction. The registers hold the
	// syscall number (OrigRax) and arguments; Rip already points past the instruction.
	TrapSyscall TrapKind = iota
	// TrapFault: a memory fault (SIGSEGV or SIGBUS) at Addr that the sentry may resolve by
	// mapping memory, or else deliver as a signal.
	TrapFault
	// TrapSignal: another synchronous signal raised by the thread's own instructions
	// (SIGILL, SIGFPE, SIGTRAP, ...), to be delivered to the application.
	TrapSignal
	// TrapInterrupted: Interrupt was called.
	TrapInterrupted
)

// Trap describes why a thread stopped running application code.
type Trap struct {
	Kind  TrapKind
	Signo int32   // host signal number for TrapFault and TrapSignal
	Code  int32   // si_code
	Addr  uintptr // si_addr: the faulting address, or the instruction for SIGILL/SIGFPE
	// Access is what the faulting access needed, when the platform can tell; a platform
	// that cannot tell (ptrace) sets AccessKnown false and the sentry assumes the most
	// permissive access the mapping allows.
	Access      Access
	AccessKnown bool
}

// Platform creates address spaces and contexts.
type Platform interface {
	// Name is the name the platform registered under.
	Name() string
	// MinUserAddress and MaxUserAddress bound the addresses an application may map:
	// [Min, Max). The platform may keep its own stub code above Max.
	MinUserAddress() uintptr
	MaxUserAddress() uintptr
	// NewAddressSpace returns an empty address space.
	NewAddressSpace() (AddressSpace, error)
	// NewContext returns a context to run one task. A context is used only by the
	// goroutine of its task, which the sentry keeps locked to one OS thread (at least
	// until Context.Release).
	NewContext() (Context, error)
}

// AddressSpace is the host-side realisation of one application address space.
// Its methods may be called from any goroutine.
type AddressSpace interface {
	// MapFile maps [offset, offset+length) of host file fd at addr with perms, replacing
	// whatever was mapped there. The platform accepts the memory file it was created with
	// (Options.MemoryFD); other fds may be refused with an error.
	MapFile(addr uintptr, fd int, offset, length uint64, perms Access) error
	// Unmap removes any mappings in [addr, addr+length).
	Unmap(addr, length uintptr)
	// Release destroys the address space once no Context runs in it.
	Release()
}

// Protector is implemented by address spaces that can change the permissions of mapped
// pages in place (one host mprotect instead of unmapping and faulting pages back).
type Protector interface {
	Protect(addr, length uintptr, perms Access) error
}

// Context runs one application thread.
type Context interface {
	// Switch runs the thread with state ac in as until it makes a syscall, faults, is
	// signalled, or Interrupt is called. On return ac.Regs holds the thread's registers.
	// If ac.FPValid is true on entry, ac.FP is loaded into the thread first; on return
	// FPValid is false: the platform holds the current FP state until PullFP.
	Switch(as AddressSpace, ac *arch.Context) (Trap, error)
	// PullFP copies the thread's current FP state into ac.FP and sets ac.FPValid. It is
	// called between Switches, by the task goroutine, when the sentry needs the state
	// (signal frames, fork).
	PullFP(ac *arch.Context) error
	// Interrupt makes a concurrent Switch return TrapInterrupted soon, or the next
	// Switch return it at once if none is running. Any goroutine may call it.
	Interrupt()
	// Release frees the context's host resources; the task is gone. Called on the task
	// goroutine after its last Switch, it leaves nothing of the platform's tied to that
	// goroutine's OS thread (ptrace: the thread traces nothing any more and has its CPU
	// affinity back), so the goroutine may then unlock it (runtime.UnlockOSThread) and
	// let the Go runtime reuse the thread rather than end it with the goroutine.
	Release()
}

// Options configure a platform.
type Options struct {
	// MemoryFD is the sentry's memory file, from which all application memory comes.
	MemoryFD int
}

// Constructor builds a platform.
type Constructor func(Options) (Platform, error)

var (
	registryMu sync.Mutex
	registry   = map[string]Constructor{}
)

// Register makes a platform available by name; concrete platforms call it from init.
func Register(name string, c Constructor) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[name] = c
}

// Names lists the registered platforms.
func Names() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	var ns []string
	for n := range registry {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// New builds the named platform.
func New(name string, opts Options) (Platform, error) {
	registryMu.Lock()
	c, ok := registry[name]
	registryMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown platform %q (available: %v)", name, Names())
	}
	return c(opts)
}
