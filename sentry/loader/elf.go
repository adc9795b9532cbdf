// Package loader owns turning an executable file into a fresh address space's initial
// contents: ELF64 parsing (validated as untrusted input), mapping PT_LOAD segments and the
// bss, loading the PT_INTERP interpreter, and building the initial stack (argv, envp,
// auxv, AT_RANDOM bytes) as Linux's binfmt_elf does on x86-64.
//
// It holds no locks of its own; it works on an address space no task runs in yet.
package loader

import (
	"encoding/binary"
	"io"

	"golang.org/x/sys/unix"
)

// ELF constants (elf.h).
const (
	etExec      = 2
	etDyn       = 3
	emX86_64    = 62
	ptLoad      = 1
	ptInterp    = 3
	ptPhdr      = 6
	ptGnuStack  = 0x6474e551
	pfX         = 1
	pfW         = 2
	pfR         = 4
	ehdrSize    = 64
	phdrSize    = 56
	maxPhdrs    = 65536 / phdrSize
	maxInterpSz = 4096
)

// elfFile is the parsed header of an ELF64 executable.
type elfFile struct {
	typ    uint16
	entry  uint64
	phoff  uint64
	phdrs  []phdr
	interp string
}

type phdr struct {
	typ, flags                     uint32
	off, vaddr, filesz, memsz, aln uint64
}

// Reader is what the loader needs of a file.
type Reader interface {
	ReadAt(p []byte, off int64) (int, error)
}

// readFull reads exactly len(p) bytes at off; a short file is ENOEXEC.
func readFull(r Reader, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		return unix.ENOEXEC
	}
	if e, ok := err.(unix.Errno); ok {
		return e
	}
	return unix.EIO
}

// parseELF reads and validates the ELF header and program headers. Anything malformed is
// ENOEXEC (as execve reports), never a panic.
func parseELF(r Reader) (*elfFile, error) {
	var h [ehdrSize]byte
	if err := readFull(r, h[:], 0); err != nil {
		return nil, err
	}
	return parseELFHeader(h[:], r)
}

func parseELFHeader(h []byte, r Reader) (*elfFile, error) {
	if len(h) < ehdrSize || string(h[:4]) != "\x7fELF" {
		return nil, unix.ENOEXEC
	}
	le := binary.LittleEndian
	if h[4] != 2 /* ELFCLASS64 */ || h[5] != 1 /* ELFDATA2LSB */ || h[6] != 1 /* EV_CURRENT */ {
		return nil, unix.ENOEXEC
	}
	f := &elfFile{typ: le.Uint16(h[16:]), entry: le.Uint64(h[24:]), phoff: le.Uint64(h[32:])}
	if f.typ != etExec && f.typ != etDyn {
		return nil, unix.ENOEXEC
	}
	if le.Uint16(h[18:]) != emX86_64 {
		return nil, unix.ENOEXEC
	}
	phentsize, phnum := le.Uint16(h[54:]), le.Uint16(h[56:])
	if phentsize != phdrSize || phnum == 0 || int(phnum) > maxPhdrs {
		return nil, unix.ENOEXEC
	}
	if f.phoff > 1<<40 {
		return nil, unix.ENOEXEC
	}
	buf := make([]byte, int(phnum)*phdrSize)
	if err := readFull(r, buf, int64(f.phoff)); err != nil {
		return nil, err
	}
	for i := 0; i < int(phnum); i++ {
		b := buf[i*phdrSize:]
		p := phdr{
			typ: le.Uint32(b[0:]), flags: le.Uint32(b[4:]), off: le.Uint64(b[8:]),
			vaddr: le.Uint64(b[16:]), filesz: le.Uint64(b[32:]), memsz: le.Uint64(b[40:]), aln: le.Uint64(b[48:]),
		}
		switch p.typ {
		case ptLoad:
			if p.filesz > p.memsz || p.vaddr+p.memsz < p.vaddr || p.off+p.filesz < p.off ||
				(p.vaddr-p.off)%pageSize != 0 || p.vaddr+p.memsz > 1<<47 {
				return nil, unix.ENOEXEC
			}
		case ptInterp:
			if f.interp != "" || p.filesz < 2 || p.filesz > maxInterpSz {
				return nil, unix.ENOEXEC
			}
			s := make([]byte, p.filesz)
			if err := readFull(r, s, int64(p.off)); err != nil {
				return nil, err
			}
			if s[len(s)-1] != 0 {
				return nil, unix.ENOEXEC
			}
			f.interp = string(s[:len(s)-1])
			for i := 0; i < len(f.interp); i++ {
				if f.interp[i] == 0 {
					return nil, unix.ENOEXEC
				}
			}
		}
		f.phdrs = append(f.phdrs, p)
	}
	hasLoad := false
	for _, p := range f.phdrs {
		hasLoad = hasLoad || p.typ == ptLoad
	}
	if !hasLoad {
		return nil, unix.ENOEXEC
	}
	return f, nil
}

// span returns the page-aligned range the PT_LOAD segments cover.
func (f *elfFile) span() (lo, hi uint64) {
	lo = ^uint64(0)
	for _, p := range f.phdrs {
		if p.typ != ptLoad {
			continue
		}
		lo = min(lo, p.vaddr&^(pageSize-1))
		hi = max(hi, (p.vaddr+p.memsz+pageSize-1)&^(pageSize-1))
	}
	return lo, hi
}

// phdrAddr is the unbiased address of the program headers in memory: PT_PHDR, or the
// load segment that contains them in the file.
func (f *elfFile) phdrAddr() uint64 {
	for _, p := range f.phdrs {
		if p.typ == ptPhdr {
			return p.vaddr
		}
	}
	for _, p := range f.phdrs {
		if p.typ == ptLoad && p.off <= f.phoff && f.phoff < p.off+p.filesz {
			return p.vaddr + (f.phoff - p.off)
		}
	}
	return 0
}

const pageSize = 4096
