package loader

import (
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/platform"
	"runsc.dev/sentry/mm"
	"runsc.dev/sentry/vdso"
)

// File is an executable or interpreter opened for reading.
type File interface {
	Reader
	IncRef()
	DecRef()
}

// Args describe what to load.
type Args struct {
	MM        *mm.MemoryManager
	File      File
	Name      string // path, for /proc/PID/maps
	Dev, Ino  uint64
	Argv      []string
	Envv      []string
	ExecFn    string // AT_EXECFN: the path execve was given
	StackSize uint64 // RLIMIT_STACK
	UID, EUID uint32
	GID, EGID uint32
	// OpenInterpreter opens the PT_INTERP path for reading; nil means dynamic executables
	// are refused with ENOEXEC.
	OpenInterpreter func(path string) (File, string, uint64, uint64, error)
	// VDSO is mapped into every new image, at AT_SYSINFO_EHDR (vdso.go); nil: none.
	VDSO *vdso.VDSO
}

// Image is the loaded program.
type Image struct {
	Entry uintptr // where the first thread starts (the interpreter's entry if any)
	Stack uintptr // initial stack pointer
}

// Auxiliary vector keys (elf.h).
const (
	atNull          = 0
	atPhdr          = 3
	atPhent         = 4
	atPhnum         = 5
	atPagesz        = 6
	atBase          = 7
	atFlags         = 8
	atEntry         = 9
	atUID           = 11
	atEUID          = 12
	atGID           = 13
	atEGID          = 14
	atPlatform      = 15
	atHwcap         = 16
	atClktck        = 17
	atSecure        = 23
	atRandom        = 25
	atHwcap2        = 26
	atExecfn        = 31
	atSysinfoEhdr   = 33
	atMinsigstksz   = 51
	maxArgStrlen    = 32 * pageSize
	maxStack        = 8 << 20
	etDynBaseFactor = 3 // ET_DYN programs load at 2/3 of the address space, as Linux does
)

// Load maps the executable (and its interpreter) into a.MM and builds the initial stack.
func Load(a Args) (Image, error) {
	f, err := parseELF(a.File)
	if err != nil {
		return Image{}, err
	}
	l := a.MM.Layout()
	var bias uint64
	if f.typ == etDyn {
		lo, hi := f.span()
		base := (uint64(l.MaxAddr)/etDynBaseFactor*2 + mrand.Uint64N(1<<28)) &^ (pageSize - 1)
		bias = base - lo
		if hi-lo > uint64(l.MaxAddr)/4 {
			return Image{}, unix.ENOMEM
		}
	}
	end, err := mapSegments(a.MM, a.File, f, bias, a.Name, a.Dev, a.Ino)
	if err != nil {
		return Image{}, err
	}
	brk := (end + mrand.Uint64N(32<<20)) &^ (pageSize - 1)
	if f.typ == etExec {
		brk = end
	}
	a.MM.SetBrkStart(uintptr(brk))

	entry := f.entry + bias
	var interpBase uint64
	if f.interp != "" {
		if a.OpenInterpreter == nil {
			return Image{}, unix.ENOEXEC
		}
		ifile, name, dev, ino, err := a.OpenInterpreter(f.interp)
		if err != nil {
			return Image{}, err
		}
		defer ifile.DecRef()
		ie, err := parseELF(ifile)
		if err != nil {
			return Image{}, err
		}
		if ie.interp != "" {
			return Image{}, unix.ELIBBAD
		}
		lo, hi := ie.span()
		ibias := uint64(0)
		if ie.typ == etDyn {
			// Let the address space pick room for it below the mmap base.
			at, err := a.MM.MMap(mm.MMapOpts{Length: uintptr(hi - lo), Perms: platform.NoAccess, Private: true})
			if err != nil {
				return Image{}, err
			}
			ibias = uint64(at) - lo
		}
		if _, err := mapSegments(a.MM, ifile, ie, ibias, name, dev, ino); err != nil {
			return Image{}, err
		}
		interpBase = ibias + lo
		entry = ie.entry + ibias
	}

	ehdr, err := mapVDSO(a.MM, a.VDSO) // vdso.go
	if err != nil {
		return Image{}, err
	}
	sp, err := buildStack(a, f, bias, interpBase, ehdr)
	if err != nil {
		return Image{}, err
	}
	return Image{Entry: uintptr(entry), Stack: uintptr(sp)}, nil
}

// mapSegments maps f's PT_LOAD segments at bias and returns the end of the highest one.
func mapSegments(m *mm.MemoryManager, file File, f *elfFile, bias uint64, name string, dev, ino uint64) (uint64, error) {
	var end uint64
	for _, p := range f.phdrs {
		if p.typ != ptLoad || p.memsz == 0 {
			continue
		}
		perms := platform.Access{Read: p.flags&pfR != 0, Write: p.flags&pfW != 0, Execute: p.flags&pfX != 0}
		start := (p.vaddr + bias) &^ (pageSize - 1)
		fileEnd := p.vaddr + bias + p.filesz
		memEnd := p.vaddr + bias + p.memsz
		pageOff := p.off &^ (pageSize - 1)
		if p.filesz > 0 {
			mapEnd := (fileEnd + pageSize - 1) &^ (pageSize - 1)
			if _, err := m.MMap(mm.MMapOpts{
				Addr: uintptr(start), Length: uintptr(mapEnd - start), Perms: perms, MaxPerms: platform.AnyAccess,
				Private: true, Fixed: true, File: file, Offset: pageOff, Name: name, Dev: dev, Ino: ino,
			}); err != nil {
				return 0, err
			}
			// The bss starts inside the last file page: zero the rest of that page, all
			// of it as Linux does (ld.so's early malloc uses the page's tail past _end).
			if memEnd > fileEnd && fileEnd%pageSize != 0 {
				n := int(pageSize - fileEnd%pageSize)
				if _, err := m.ZeroOutForce(uintptr(fileEnd), n); err != nil {
					return 0, err
				}
			}
			start = mapEnd
		}
		bssEnd := (memEnd + pageSize - 1) &^ (pageSize - 1)
		if bssEnd > start {
			if _, err := m.MMap(mm.MMapOpts{
				Addr: uintptr(start), Length: uintptr(bssEnd - start), Perms: perms, MaxPerms: platform.AnyAccess,
				Private: true, Fixed: true,
			}); err != nil {
				return 0, err
			}
		}
		end = max(end, memEnd)
	}
	return (end + pageSize - 1) &^ (pageSize - 1), nil
}

// buildStack maps the stack and writes argc, argv, envp, auxv and the strings they point
// to, laid out as Linux does; it returns the initial stack pointer.
func buildStack(a Args, f *elfFile, bias, interpBase, vdsoEhdr uint64) (uint64, error) {
	l := a.MM.Layout()
	size := min(max(a.StackSize, 128<<10), maxStack)
	size &^= pageSize - 1
	top := uint64(l.StackTop)
	// The stack starts at 128 KiB (Linux's stack_expand) and grows down on faults (and as
	// the strings below are written) up to RLIMIT_STACK.
	a.MM.SetStackLimit(a.StackSize)
	initial := min(size, 128<<10)
	if _, err := a.MM.MMap(mm.MMapOpts{
		Addr: uintptr(top - initial), Length: uintptr(initial), Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess,
		Private: true, Fixed: true, GrowsDown: true, Name: "[stack]",
	}); err != nil {
		return 0, err
	}
	// Strings: argv and envp must fit in a quarter of the stack, each at most 32 pages.
	total := 0
	for _, s := range append(append([]string(nil), a.Argv...), a.Envv...) {
		if len(s)+1 > maxArgStrlen {
			return 0, unix.E2BIG
		}
		total += len(s) + 1
	}
	if uint64(total+8*(len(a.Argv)+len(a.Envv)+2)) > size/4 {
		return 0, unix.E2BIG
	}

	sp := top
	push := func(b []byte) (uint64, error) {
		sp -= uint64(len(b))
		_, err := a.MM.CopyOut(uintptr(sp), b)
		return sp, err
	}
	pushStr := func(s string) (uint64, error) { return push(append([]byte(s), 0)) }

	// Highest first: the exec path (AT_EXECFN), then envp and argv strings.
	execfn, err := pushStr(a.ExecFn)
	if err != nil {
		return 0, err
	}
	envStart := sp
	envp := make([]uint64, len(a.Envv))
	for i := len(a.Envv) - 1; i >= 0; i-- {
		if envp[i], err = pushStr(a.Envv[i]); err != nil {
			return 0, err
		}
	}
	argvEnd := sp
	argv := make([]uint64, len(a.Argv))
	for i := len(a.Argv) - 1; i >= 0; i-- {
		if argv[i], err = pushStr(a.Argv[i]); err != nil {
			return 0, err
		}
	}
	a.MM.ArgvStart, a.MM.ArgvEnd = uintptr(sp), uintptr(argvEnd)
	a.MM.EnvStart, a.MM.EnvEnd = uintptr(argvEnd), uintptr(envStart)
	platformStr, err := pushStr("x86_64")
	if err != nil {
		return 0, err
	}
	var rnd [16]byte
	rand.Read(rnd[:])
	sp &^= 15
	random, err := push(rnd[:])
	if err != nil {
		return 0, err
	}

	auxv := []uint64{
		atPhdr, f.phdrAddr() + bias,
		atPhent, phdrSize,
		atPhnum, uint64(len(f.phdrs)),
		atPagesz, pageSize,
		atBase, interpBase,
		atFlags, 0,
		atEntry, f.entry + bias,
		atUID, uint64(a.UID), atEUID, uint64(a.EUID),
		atGID, uint64(a.GID), atEGID, uint64(a.EGID),
		atSecure, 0,
		atRandom, random,
		atHwcap, arch.HWCap(),
		atHwcap2, 0,
		atClktck, 100,
		atPlatform, platformStr,
		atExecfn, execfn,
		atMinsigstksz, uint64(arch.FPStateSize() + 1024),
		atNull, 0,
	}
	if vdsoEhdr != 0 {
		// First, where Linux's x86-64 ARCH_DLINFO puts it.
		auxv = append([]uint64{atSysinfoEhdr, vdsoEhdr}, auxv...)
	}
	a.MM.Auxv = auxv
	// argc, argv..., NULL, envp..., NULL, auxv: sp must end 16-byte aligned.
	words := 1 + len(argv) + 1 + len(envp) + 1 + len(auxv)
	sp -= uint64(words * 8)
	sp &^= 15
	buf := make([]byte, 0, words*8)
	put := func(v uint64) { buf = binary.LittleEndian.AppendUint64(buf, v) }
	put(uint64(len(argv)))
	for _, p := range argv {
		put(p)
	}
	put(0)
	for _, p := range envp {
		put(p)
	}
	put(0)
	for _, v := range auxv {
		put(v)
	}
	if _, err := a.MM.CopyOut(uintptr(sp), buf); err != nil {
		return 0, err
	}
	return sp, nil
}
