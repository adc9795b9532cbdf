package vdso

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"testing"
)

// sourceFiles are gen.go's inputs, in its hashing order.
var sourceFiles = []string{"gen.go", "c/vdso.c", "c/vdso.lds"}

// TestBlobUpToDate fails when vdso.so is stale: when gen.go, c/vdso.c or c/vdso.lds changed
// since vdso.so was generated, or vdso.so itself was edited.
func TestBlobUpToDate(t *testing.T) {
	h := sha256.New()
	for _, f := range sourceFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sourceHash {
		t.Errorf("vdso.so is stale: its sources hash to %s, it was built from %s; run `go generate ./sentry/vdso` (or make vdso) and commit vdso.so and vdso_gen.go", got, sourceHash)
	}
	sum := sha256.Sum256(blob)
	if got := hex.EncodeToString(sum[:]); got != blobHash {
		t.Errorf("the embedded vdso.so (sha256 %s) is not the one gen.go built (%s); run `go generate ./sentry/vdso`", got, blobHash)
	}
}

// TestVvarABI checks vvar.go's offsets and constants against vdso.c's.
func TestVvarABI(t *testing.T) {
	src, err := os.ReadFile("c/vdso.c")
	if err != nil {
		t.Fatal(err)
	}
	at := map[string]int{}
	for _, m := range regexp.MustCompile(`VVAR_AT\((\w+), (0x[0-9a-f]+)\);`).FindAllSubmatch(src, -1) {
		n, _ := strconv.ParseInt(string(m[2]), 0, 64)
		at[string(m[1])] = int(n)
	}
	want := map[string]int{
		"seq": offSeq, "version": offVersion, "flags": offFlags, "clock_mask": offClockMask,
		"cpu_mode": offCPUMode, "shift": offShift, "tsc_base": offTSCBase, "mult": offMult,
		"base": offBase, "res_ns": offRes,
	}
	for f, off := range want {
		if got, ok := at[f]; !ok || got != off {
			t.Errorf("vdso.c puts %s at %#x (found %v), vvar.go at %#x", f, got, ok, off)
		}
	}
	if len(at) != len(want) {
		t.Errorf("vdso.c checks %d fields, vvar.go knows %d", len(at), len(want))
	}
	defines := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^#define (\w+) (\d+)u?\b`).FindAllSubmatch(src, -1) {
		n, _ := strconv.Atoi(string(m[2]))
		defines[string(m[1])] = n
	}
	for name, v := range map[string]int{
		"VVAR_VERSION": layoutVersion, "VVAR_TSC_VALID": flagTSCValid, "VVAR_CLOCKS": numClocks,
		"CPU_MODE_ZERO": cpuModeZero, "CPU_MODE_RDTSCP": cpuModeRDTSCP, "CPU_MODE_RDPID": cpuModeRDPID,
	} {
		if defines[name] != v {
			t.Errorf("vdso.c: %s = %d, vvar.go: %d", name, defines[name], v)
		}
	}
	if !bytes.Contains(src, []byte(fmt.Sprintf("sizeof(struct vvar) == %#x", vvarUsed))) {
		t.Errorf("vdso.c does not check sizeof(struct vvar) == %#x", vvarUsed)
	}
}

// TestELF checks what loaders need of the image: one read+execute PT_LOAD at 0 with file
// offsets equal to addresses (the Go runtime reads the dynamic section by file offset),
// the dynamic tables glibc and Go use, no relocations or dependencies, and every symbol
// exported with version LINUX_2.6.
func TestELF(t *testing.T) {
	f, err := elf.NewFile(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != elf.ET_DYN || f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 {
		t.Errorf("type %v machine %v class %v, want ET_DYN x86-64 ELF64", f.Type, f.Machine, f.Class)
	}
	loads := 0
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			loads++
			if p.Off != 0 || p.Vaddr != 0 || p.Flags != elf.PF_R|elf.PF_X || p.Filesz != p.Memsz || p.Filesz > uint64(len(blob)) {
				t.Errorf("PT_LOAD off %#x vaddr %#x flags %v filesz %#x memsz %#x: want one R+X segment from offset 0 at 0, no bss", p.Off, p.Vaddr, p.Flags, p.Filesz, p.Memsz)
			}
		case elf.PT_DYNAMIC, elf.PT_NOTE, elf.PT_GNU_EH_FRAME:
			if p.Off != p.Vaddr {
				t.Errorf("%v at offset %#x, address %#x", p.Type, p.Off, p.Vaddr)
			}
		case elf.PT_GNU_STACK:
		default:
			t.Errorf("unexpected program header %v", p.Type)
		}
	}
	if loads != 1 {
		t.Errorf("%d PT_LOAD segments, want 1", loads)
	}
	if f.Section(".data") != nil || f.Section(".bss") != nil || f.Section(".got") != nil {
		t.Error("the image has writable data sections")
	}
	for _, tag := range []elf.DynTag{elf.DT_HASH, elf.DT_GNU_HASH, elf.DT_SYMTAB, elf.DT_STRTAB, elf.DT_VERSYM, elf.DT_VERDEF, elf.DT_SONAME} {
		if v, err := f.DynValue(tag); err != nil || len(v) != 1 {
			t.Errorf("dynamic section: %v missing (%v)", tag, err)
		}
	}
	for _, tag := range []elf.DynTag{elf.DT_REL, elf.DT_RELA, elf.DT_JMPREL, elf.DT_TEXTREL, elf.DT_NEEDED, elf.DT_INIT, elf.DT_FINI, elf.DT_INIT_ARRAY} {
		if v, _ := f.DynValue(tag); len(v) != 0 {
			t.Errorf("dynamic section has %v: the vDSO must need no loader work", tag)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) != 0 {
		t.Errorf("depends on %v", libs)
	}
	if soname, _ := f.DynString(elf.DT_SONAME); len(soname) != 1 || soname[0] != "linux-vdso.so.1" {
		t.Errorf("soname %v", soname)
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]elf.Symbol{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			got[s.Name] = s
		}
	}
	var names []string
	for _, name := range []string{"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time", "__vdso_getcpu", "__vdso_clock_getres",
		"clock_gettime", "gettimeofday", "time", "getcpu", "clock_getres"} {
		s, ok := got[name]
		names = append(names, name)
		if !ok {
			t.Errorf("symbol %s missing", name)
			continue
		}
		bind := elf.ST_BIND(s.Info)
		wantBind := elf.STB_GLOBAL
		if name[0] != '_' {
			wantBind = elf.STB_WEAK
			if s.Value != got["__vdso_"+name].Value {
				t.Errorf("%s is not an alias of __vdso_%s", name, name)
			}
		}
		if bind != wantBind || s.Section == elf.SHN_UNDEF || s.Version != "LINUX_2.6" {
			t.Errorf("%s: bind %v section %v version %q, want %v, defined, LINUX_2.6", name, bind, s.Section, s.Version, wantBind)
		}
	}
	sort.Strings(names)
	if len(got) != len(names) {
		t.Errorf("%d function symbols exported, want %d (%v)", len(got), len(names), names)
	}
}
