package ptrace

import (
	"encoding/binary"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/platform"
)

// The test harness: a memfd standing in for the sentry's memory file, mapped in the test
// process too, so tests write code into it and read back what the application stored.

const (
	memSize = 1 << 20

	codeAddr  = 0x400000 // memfd offset 0 (two pages)
	dataAddr  = 0x500000 // memfd offset dataOff
	stackAddr = 0x600000 // memfd offset stackOff
	extraAddr = 0x700000 // memfd offset extraOff, mapped by tests that fault first

	dataOff  = 0x2000
	stackOff = 0x3000
	extraOff = 0x4000
)

type harness struct {
	t     testing.TB
	memFD int
	mem   []byte
	p     platform.Platform
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	if os.Geteuid() != 0 {
		// ptrace of our own children works unprivileged too, but keep the failure clear.
		t.Logf("not root; ptrace may be restricted")
	}
	fd, err := unix.MemfdCreate("ptrace-test-mem", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatalf("memfd_create: %v", err)
	}
	if err := unix.Ftruncate(fd, memSize); err != nil {
		t.Fatalf("ftruncate: %v", err)
	}
	mem, err := unix.Mmap(fd, 0, memSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	p, err := platform.New("ptrace", platform.Options{MemoryFD: fd})
	if err != nil {
		t.Fatalf("platform.New: %v", err)
	}
	h := &harness{t: t, memFD: fd, mem: mem, p: p}
	t.Cleanup(func() {
		unix.Munmap(mem)
		unix.Close(fd)
		p.(*ptracePlatform).close()
	})
	return h
}

// newAS returns an address space with the code, data and stack pages mapped.
func (h *harness) newAS() platform.AddressSpace {
	h.t.Helper()
	as, err := h.p.NewAddressSpace()
	if err != nil {
		h.t.Fatalf("NewAddressSpace: %v", err)
	}
	h.t.Cleanup(as.Release)
	h.mapFile(as, codeAddr, 0, 2*pageSize, platform.Access{Read: true, Execute: true})
	h.mapFile(as, dataAddr, dataOff, pageSize, platform.ReadWrite)
	h.mapFile(as, stackAddr, stackOff, pageSize, platform.ReadWrite)
	return as
}

func (h *harness) mapFile(as platform.AddressSpace, addr uintptr, off, length uint64, perms platform.Access) {
	h.t.Helper()
	if err := as.MapFile(addr, h.memFD, off, length, perms); err != nil {
		h.t.Fatalf("MapFile(%#x): %v", addr, err)
	}
}

func (h *harness) newContext() platform.Context {
	h.t.Helper()
	c, err := h.p.NewContext()
	if err != nil {
		h.t.Fatalf("NewContext: %v", err)
	}
	return c
}

// setCode writes code at codeAddr+off.
func (h *harness) setCode(off int, code []byte) { copy(h.mem[off:], code) }

// data returns the i-th 8-byte word of the data page.
func (h *harness) data(i int) uint64 {
	return binary.LittleEndian.Uint64(h.mem[dataOff+8*i:])
}

// regsAt returns the registers of a fresh thread starting at rip with the test stack.
func regsAt(rip uint64) arch.Registers {
	return arch.Registers{
		Rip:    rip,
		Rsp:    stackAddr + pageSize - 16,
		Cs:     arch.UserCS,
		Ss:     arch.UserDS,
		Eflags: arch.InitEflags,
	}
}

// lockThread locks the calling goroutine (a test or benchmark) to its OS thread for good:
// the thread is then the tracer of the context's stub threads, and ends with the test.
func lockThread() { runtime.LockOSThread() }

// A few instruction encodings for the test programs.
type code []byte

func (c code) movEAX(v uint32) code { return binary.LittleEndian.AppendUint32(append(c, 0xb8), v) }
func (c code) movEDI(v uint32) code { return binary.LittleEndian.AppendUint32(append(c, 0xbf), v) }
func (c code) movEDX(v uint32) code { return binary.LittleEndian.AppendUint32(append(c, 0xba), v) }
func (c code) movRBX(v uint64) code {
	return binary.LittleEndian.AppendUint64(append(c, 0x48, 0xbb), v)
}
func (c code) movRSI(v uint64) code {
	return binary.LittleEndian.AppendUint64(append(c, 0x48, 0xbe), v)
}
func (c code) movRAX64(v uint64) code {
	return binary.LittleEndian.AppendUint64(append(c, 0x48, 0xb8), v)
}
func (c code) syscall() code       { return append(c, 0x0f, 0x05) }
func (c code) storeRAXAtRBX() code { return append(c, 0x48, 0x89, 0x03) } // mov [rbx], rax
func (c code) loadRAXFromRBX() code {
	return append(c, 0x48, 0x8b, 0x03) // mov rax, [rbx]
}
func (c code) jmpSelf() code       { return append(c, 0xeb, 0xfe) }
func (c code) jmpRBX() code        { return append(c, 0xff, 0xe3) }
func (c code) ud2() code           { return append(c, 0x0f, 0x0b) }
func (c code) int3() code          { return append(c, 0xcc) }
func (c code) incR12() code        { return append(c, 0x49, 0xff, 0xc4) }
func (c code) movqXMM0RAX() code   { return append(c, 0x66, 0x48, 0x0f, 0x6e, 0xc0) }
func (c code) movqRAXXMM0() code   { return append(c, 0x66, 0x48, 0x0f, 0x7e, 0xc0) }
func (c code) loadRAXFromFS() code { return append(c, 0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0) }

// divZero: xor ecx, ecx; mov eax, 1; xor edx, edx; div ecx
func (c code) divZero() code {
	return append(c.append(0x31, 0xc9).movEAX(1), 0x31, 0xd2, 0xf7, 0xf1)
}

func (c code) append(b ...byte) code { return append(c, b...) }

// jmpTo appends a rel8 jmp to offset target (relative to the start of c).
func (c code) jmpTo(target int) code {
	d := target - (len(c) + 2)
	return append(c, 0xeb, byte(int8(d)))
}
