package ptrace

import (
	"encoding/binary"
	"fmt"
)

// The stub program is one page of hand-assembled x86-64 code wrapped in a minimal static
// ELF64 executable, loaded R+X at stubBase. It is built once per platform by buildStub and
// exec'd from a sealed memfd. Page layout (offsets from stubBase):
//
//	0x000  ELF header and two program headers (PT_LOAD R+X, PT_GNU_STACK RW)
//	0x0c0  entry:   close_range(1, ~0, 0); prctl(PR_SET_NO_NEW_PRIVS, 1);
//	                seccomp(SECCOMP_SET_MODE_FILTER, 0, &fprog); int3 (the "ready" stop)
//	       fail:    ud2               (setup failed: rax = -errno, ebx = failing step)
//	       inject:  syscall; int3     (every injected host syscall)
//	       clone:   syscall; test rax,rax; jz child; int3
//	       child:   mov eax, SYS_pause; syscall; jmp child
//	                (a new thread sleeps here until its tracer seizes and interrupts it)
//	       fork:    syscall; int3     (a new stub process, cloned from the template)
//	       fprog, then the BPF program
//
// The seccomp filter kills the process for any host syscall but these: mmap, munmap,
// mprotect and exit at the injection point (inject+2), clone with exactly stubCloneFlags
// at the clone point, clone with exactly stubForkFlags at the fork point, and pause at the
// park point (the child's syscall). It is defense in depth: stub threads
// only ever run application code under PTRACE_SYSEMU, whose syscall-entry stop happens
// before seccomp runs and skips the call, so application syscalls never reach the filter.

const (
	pageSize = 0x1000

	// stubBase is where the stub page is loaded. It lies below the stack of a process
	// exec'd with ADDR_NO_RANDOMIZE (which ends at 0x7ffffffff000) and above its mmap base,
	// so the kernel's own placements never collide with it.
	stubBase = 0x7fffff000000

	// taskSize is the end of the x86-64 user address space (47-bit, 4-level paging).
	taskSize = 0x7ffffffff000

	// minUserAddress is the lowest address an application may map (the usual mmap_min_addr).
	minUserAddress = 0x10000
	// maxUserAddress is the end of the application's part of the address space.
	maxUserAddress = stubBase

	codeOffset = 0xc0
)

// Linux x86-64 constants used by the stub and the injections.
const (
	sysMmap       = 9
	sysMprotect   = 10
	sysMunmap     = 11
	sysPause      = 34
	sysClone      = 56
	sysExit       = 60
	sysPrctl      = 157
	sysSeccomp    = 317
	sysCloseRange = 436

	prSetNoNewPrivs       = 38
	seccompSetModeFilter  = 1
	seccompRetKillProcess = 0x80000000
	seccompRetAllow       = 0x7fff0000
	auditArchX86_64       = 0xc000003e

	cloneVM      = 0x100
	cloneFS      = 0x200
	cloneFiles   = 0x400
	cloneSighand = 0x800
	cloneThread  = 0x10000
	cloneSysvsem = 0x40000
	clonePtrace  = 0x2000
	cloneParent  = 0x8000

	// stubCloneFlags makes a new thread of the stub sharing everything, untraced at birth
	// (no CLONE_PTRACE): the task's own OS thread seizes it (see addressSpace.newThread).
	stubCloneFlags = cloneVM | cloneFS | cloneFiles | cloneSighand | cloneThread | cloneSysvsem

	// stubForkFlags makes a new stub process from the template (see master.newStub): a
	// copy of its address space (the stub page only) and of its file table (the memory
	// file only), its seccomp filter and no_new_privs. CLONE_PTRACE makes the child
	// traced from birth by the template's tracer, the master thread, with the same
	// options (PTRACE_O_EXITKILL); CLONE_PARENT makes the child the master thread's own,
	// for it to reap, and gives it the template's exit signal (SIGCHLD).
	stubForkFlags = cloneParent | clonePtrace
)

// stubLayout holds the addresses of the stub's entry points, filled in by buildStub.
type stubLayout struct {
	entry  uintptr
	ready  uintptr // the int3 that ends set-up; the stop reports rip = ready+1
	fail   uintptr // ud2 reached when set-up fails
	inject uintptr // syscall; int3: the injection point (the stop reports rip = inject+3)
	clone  uintptr // syscall; ...: the thread-creation point
	// cloneTrap is the address right after the parent's int3 at the clone point.
	cloneTrap uintptr
	child     uintptr
	// park is the syscall instruction of the child's pause loop.
	park uintptr
	// fork is the template's clone point for new stub processes; forkTrap is the address
	// after the int3 that follows it.
	fork     uintptr
	forkTrap uintptr
}

// asm is a tiny assembler for the few instructions the stub needs, with rel8 and
// rip-relative disp32 label fixups.
type asm struct {
	base   uintptr // address of b[0]
	b      []byte
	labels map[string]int
	fixups []fixup
}

type fixup struct {
	at    int // offset of the displacement
	size  int // 1 (rel8) or 4 (disp32)
	end   int // offset of the end of the instruction (displacements are relative to it)
	label string
}

func newAsm(base uintptr) *asm { return &asm{base: base, labels: map[string]int{}} }

func (a *asm) emit(bs ...byte) { a.b = append(a.b, bs...) }

func (a *asm) label(name string) { a.labels[name] = len(a.b) }

func (a *asm) addr(name string) uintptr { return a.base + uintptr(a.labels[name]) }

// movImm32 emits mov r32, imm32 for a register numbered 0-7 (eax=0 ... edi=7).
func (a *asm) movImm32(reg byte, v uint32) {
	a.emit(0xb8 + reg)
	a.b = binary.LittleEndian.AppendUint32(a.b, v)
}

func (a *asm) jcc8(op byte, label string) {
	a.emit(op, 0)
	a.fixups = append(a.fixups, fixup{at: len(a.b) - 1, size: 1, end: len(a.b), label: label})
}

// leaRDX emits lea rdx, [rip+label].
func (a *asm) leaRDX(label string) {
	a.emit(0x48, 0x8d, 0x15, 0, 0, 0, 0)
	a.fixups = append(a.fixups, fixup{at: len(a.b) - 4, size: 4, end: len(a.b), label: label})
}

func (a *asm) align(n int) {
	for len(a.b)%n != 0 {
		a.emit(0xcc) // int3 padding
	}
}

func (a *asm) resolve() error {
	for _, f := range a.fixups {
		t, ok := a.labels[f.label]
		if !ok {
			return fmt.Errorf("stub: undefined label %q", f.label)
		}
		d := t - f.end
		switch f.size {
		case 1:
			if d < -128 || d > 127 {
				return fmt.Errorf("stub: jump to %q out of rel8 range", f.label)
			}
			a.b[f.at] = byte(int8(d))
		case 4:
			binary.LittleEndian.PutUint32(a.b[f.at:], uint32(int32(d)))
		}
	}
	return nil
}

const (
	regEAX = 0
	regEDX = 2
	regEBX = 3
	regESI = 6
	regEDI = 7
)

var (
	insSyscall = []byte{0x0f, 0x05}
	insInt3    = []byte{0xcc}
	insUd2     = []byte{0x0f, 0x0b}
	insTestRAX = []byte{0x48, 0x85, 0xc0} // test rax, rax
	insXorEDX  = []byte{0x31, 0xd2}
	insXorESI  = []byte{0x31, 0xf6}
	insXorR10D = []byte{0x45, 0x31, 0xd2}
	insXorR8D  = []byte{0x45, 0x31, 0xc0}
	opJZ8      = byte(0x74)
	opJNZ8     = byte(0x75)
	opJMP8     = byte(0xeb)
)

const (
	elfHdrSize  = 64
	elfPhdrSize = 56
)

// bpf instruction encodings (struct sock_filter).
const (
	bpfLdWAbs = 0x20 // BPF_LD | BPF_W | BPF_ABS
	bpfJeqK   = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
	bpfRetK   = 0x06 // BPF_RET | BPF_K

	// offsets in struct seccomp_data
	sdNr     = 0
	sdArch   = 4
	sdIPLow  = 8
	sdIPHigh = 12
	sdArg0   = 16
)

type bpfInsn struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

// bpfProg assembles a classic BPF program whose jumps name labels.
type bpfProg struct {
	insns  []bpfInsn
	labels map[string]int
	jumps  []bpfJump
}

type bpfJump struct {
	at     int
	jt, jf string // "" means the next instruction
}

func (b *bpfProg) label(name string) { b.labels[name] = len(b.insns) }

func (b *bpfProg) load(off uint32) { b.insns = append(b.insns, bpfInsn{bpfLdWAbs, 0, 0, off}) }

func (b *bpfProg) ret(k uint32) { b.insns = append(b.insns, bpfInsn{bpfRetK, 0, 0, k}) }

// jeq jumps to jt if A == k, else to jf.
func (b *bpfProg) jeq(k uint32, jt, jf string) {
	b.jumps = append(b.jumps, bpfJump{len(b.insns), jt, jf})
	b.insns = append(b.insns, bpfInsn{bpfJeqK, 0, 0, k})
}

func (b *bpfProg) resolve() []bpfInsn {
	off := func(from int, to string) uint8 {
		if to == "" {
			return 0
		}
		t, ok := b.labels[to]
		if !ok || t <= from || t-from-1 > 255 {
			panic("stub: bad BPF jump to " + to)
		}
		return uint8(t - from - 1)
	}
	for _, j := range b.jumps {
		b.insns[j.at].jt = off(j.at, j.jt)
		b.insns[j.at].jf = off(j.at, j.jf)
	}
	return b.insns
}

// injectSyscalls are the syscalls the injection point allows: what MapFile, Unmap,
// Protect and the exit of a thread need.
var injectSyscalls = []uint32{sysMmap, sysMunmap, sysMprotect, sysExit}

// stubFilter returns the seccomp program: allow a syscall only at one of the stub's own
// syscall instructions, and there only the syscalls (and clone flags) that point is for;
// kill the process otherwise.
func stubFilter(l *stubLayout) []bpfInsn {
	inj := uint64(l.inject + 2)
	sites := []uint64{uint64(l.clone + 2), uint64(l.fork + 2), uint64(l.park + 2)}
	for _, s := range sites {
		if s>>32 != inj>>32 {
			panic("stub: syscall points straddle a 4 GiB boundary")
		}
	}
	b := &bpfProg{labels: map[string]int{}}
	b.load(sdArch)
	b.jeq(auditArchX86_64, "", "kill")
	b.load(sdIPHigh)
	b.jeq(uint32(inj>>32), "", "kill")
	b.load(sdIPLow)
	b.jeq(uint32(inj), "", "notInject")
	b.load(sdNr)
	for _, nr := range injectSyscalls {
		b.jeq(nr, "allow", "")
	}
	b.ret(seccompRetKillProcess)

	b.label("notInject") // A is still the low half of the instruction pointer
	b.jeq(uint32(l.clone+2), "", "notClone")
	b.load(sdNr)
	b.jeq(sysClone, "", "kill")
	b.load(sdArg0) // clone truncates its flags to 32 bits
	b.jeq(stubCloneFlags, "allow", "kill")

	b.label("notClone")
	b.jeq(uint32(l.fork+2), "", "notFork")
	b.load(sdNr)
	b.jeq(sysClone, "", "kill")
	b.load(sdArg0)
	b.jeq(stubForkFlags, "allow", "kill")

	b.label("notFork")
	b.jeq(uint32(l.park+2), "", "kill")
	b.load(sdNr)
	b.jeq(sysPause, "allow", "kill")

	b.label("kill")
	b.ret(seccompRetKillProcess)
	b.label("allow")
	b.ret(seccompRetAllow)
	return b.resolve()
}

// buildStub returns the stub ELF image (exactly one page) and the addresses of its entry
// points.
func buildStub() ([]byte, stubLayout, error) {
	a := newAsm(stubBase)
	a.b = make([]byte, codeOffset) // headers, filled in below
	var l stubLayout

	a.label("entry")
	// close_range(1, ~0U, 0): nothing but the memory file (fd 0) stays open.
	a.movImm32(regEBX, 1)
	a.movImm32(regEAX, sysCloseRange)
	a.movImm32(regEDI, 1)
	a.movImm32(regESI, 0xffffffff)
	a.emit(insXorEDX...)
	a.emit(insSyscall...)
	a.emit(insTestRAX...)
	a.jcc8(opJNZ8, "fail")
	// prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	a.movImm32(regEBX, 2)
	a.movImm32(regEAX, sysPrctl)
	a.movImm32(regEDI, prSetNoNewPrivs)
	a.movImm32(regESI, 1)
	a.emit(insXorEDX...)
	a.emit(insXorR10D...)
	a.emit(insXorR8D...)
	a.emit(insSyscall...)
	a.emit(insTestRAX...)
	a.jcc8(opJNZ8, "fail")
	// seccomp(SECCOMP_SET_MODE_FILTER, 0, &fprog)
	a.movImm32(regEBX, 3)
	a.movImm32(regEAX, sysSeccomp)
	a.movImm32(regEDI, seccompSetModeFilter)
	a.emit(insXorESI...)
	a.leaRDX("fprog")
	a.emit(insSyscall...)
	a.emit(insTestRAX...)
	a.jcc8(opJNZ8, "fail")
	a.label("ready")
	a.emit(insInt3...)
	a.label("fail")
	a.emit(insUd2...)

	a.align(16)
	a.label("inject")
	a.emit(insSyscall...)
	a.emit(insInt3...)
	a.emit(insUd2...)

	a.align(16)
	a.label("clone")
	a.emit(insSyscall...)
	a.emit(insTestRAX...)
	a.jcc8(opJZ8, "child")
	a.emit(insInt3...)
	a.label("cloneTrap")
	a.emit(insUd2...)
	a.label("child")
	a.movImm32(regEAX, sysPause)
	a.label("park")
	a.emit(insSyscall...)
	a.jcc8(opJMP8, "child")

	a.align(16)
	a.label("fork")
	a.emit(insSyscall...)
	a.emit(insInt3...)
	a.label("forkTrap")
	a.emit(insUd2...)

	// struct sock_fprog { unsigned short len; struct sock_filter *filter; }
	a.align(16)
	a.label("fprog")
	fprogAt := len(a.b)
	a.emit(make([]byte, 16)...)
	a.align(16)
	a.label("filter")
	if err := a.resolve(); err != nil {
		return nil, l, err
	}
	l = stubLayout{
		entry:     a.addr("entry"),
		ready:     a.addr("ready"),
		fail:      a.addr("fail"),
		inject:    a.addr("inject"),
		clone:     a.addr("clone"),
		cloneTrap: a.addr("cloneTrap"),
		child:     a.addr("child"),
		park:      a.addr("park"),
		fork:      a.addr("fork"),
		forkTrap:  a.addr("forkTrap"),
	}
	prog := stubFilter(&l)
	for _, in := range prog {
		a.b = binary.LittleEndian.AppendUint16(a.b, in.code)
		a.b = append(a.b, in.jt, in.jf)
		a.b = binary.LittleEndian.AppendUint32(a.b, in.k)
	}
	binary.LittleEndian.PutUint16(a.b[fprogAt:], uint16(len(prog)))
	binary.LittleEndian.PutUint64(a.b[fprogAt+8:], uint64(a.addr("filter")))
	if len(a.b) > pageSize {
		return nil, l, fmt.Errorf("stub: %d bytes do not fit in a page", len(a.b))
	}
	img := make([]byte, pageSize)
	copy(img, a.b)
	writeELFHeaders(img, l.entry)
	return img, l, nil
}

// writeELFHeaders fills in the ELF64 header and program headers at the start of img: one
// PT_LOAD mapping the whole page R+X at stubBase, and PT_GNU_STACK asking for a
// non-executable stack.
func writeELFHeaders(img []byte, entry uintptr) {
	le := binary.LittleEndian
	copy(img, []byte{0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* LE */, 1 /* version */, 0 /* SysV */})
	le.PutUint16(img[16:], 2)    // e_type: ET_EXEC
	le.PutUint16(img[18:], 0x3e) // e_machine: EM_X86_64
	le.PutUint32(img[20:], 1)    // e_version
	le.PutUint64(img[24:], uint64(entry))
	le.PutUint64(img[32:], elfHdrSize) // e_phoff
	le.PutUint64(img[40:], 0)          // e_shoff
	le.PutUint32(img[48:], 0)          // e_flags
	le.PutUint16(img[52:], elfHdrSize) // e_ehsize
	le.PutUint16(img[54:], elfPhdrSize)
	le.PutUint16(img[56:], 2) // e_phnum
	le.PutUint16(img[58:], 64)
	le.PutUint16(img[60:], 0)
	le.PutUint16(img[62:], 0)

	ph := img[elfHdrSize:]
	le.PutUint32(ph[0:], 1)         // PT_LOAD
	le.PutUint32(ph[4:], 5)         // PF_R | PF_X
	le.PutUint64(ph[8:], 0)         // p_offset
	le.PutUint64(ph[16:], stubBase) // p_vaddr
	le.PutUint64(ph[24:], stubBase) // p_paddr
	le.PutUint64(ph[32:], pageSize) // p_filesz
	le.PutUint64(ph[40:], pageSize) // p_memsz
	le.PutUint64(ph[48:], pageSize) // p_align

	ph = img[elfHdrSize+elfPhdrSize:]
	le.PutUint32(ph[0:], 0x6474e551) // PT_GNU_STACK
	le.PutUint32(ph[4:], 6)          // PF_R | PF_W
}
