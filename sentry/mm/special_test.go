package mm

import (
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/platform"
)

var readExec = platform.Access{Read: true, Execute: true}

// specialPages allocates n pages in mf filled with the byte b+i for page i, as the vDSO's
// owner would, and returns their offset.
func specialPages(t *testing.T, m *MemoryManager, n int, b byte) uint64 {
	t.Helper()
	off, err := m.mf.Allocate(uint64(n) * pageSize)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		s := m.mf.Slice(off+uint64(i)*pageSize, pageSize)
		for j := range s {
			s[j] = b + byte(i)
		}
	}
	return off
}

func TestMapSpecial(t *testing.T) {
	m, as, mf := newTestMM(t)
	off := specialPages(t, m, 3, 'a')
	hint := uintptr(0x7e0000000000)
	addr, err := m.MapSpecial(hint,
		SpecialMapping{Offset: off, Length: pageSize, Perms: platform.Read, Name: "[vvar]"},
		SpecialMapping{Offset: off + pageSize, Length: 2 * pageSize, Perms: readExec, Name: "[vdso]"})
	if err != nil || addr != hint {
		t.Fatalf("MapSpecial = %#x, %v; want %#x", addr, err, hint)
	}
	vmas := m.VMAs()
	if len(vmas) != 2 || vmas[0].Name != "[vvar]" || vmas[1].Name != "[vdso]" || vmas[1].Start != addr+pageSize ||
		vmas[1].End != addr+3*pageSize || vmas[0].Perms != platform.Read || vmas[1].Perms != readExec || !vmas[1].Private {
		t.Fatalf("VMAs = %+v", vmas)
	}
	// Nothing is mapped or referenced until touched; a touch maps the whole vma.
	if len(as.mapped) != 0 || mf.RefCount(off+pageSize) != 1 {
		t.Fatalf("mapped %d pages, refcount %d before any touch", len(as.mapped), mf.RefCount(off+pageSize))
	}
	if r := m.HandleFault(addr+2*pageSize+8, platform.Access{Execute: true}, true); r != FaultResolved {
		t.Fatalf("exec fault in [vdso]: %v", r)
	}
	if as.mapped[addr+pageSize] != readExec || as.mapped[addr+2*pageSize] != readExec || len(as.mapped) != 2 {
		t.Fatalf("after the fault: mapped %v", as.mapped)
	}
	for i := 1; i < 3; i++ {
		if got := mf.RefCount(off + uint64(i)*pageSize); got != 2 {
			t.Errorf("page %d: refcount %d, want 2 (owner + this address space)", i, got)
		}
	}
	// The sentry reads it; nobody writes it.
	b := make([]byte, 2)
	if _, err := m.CopyIn(addr+pageSize-1, b); err != nil || string(b) != "ab" {
		t.Errorf("CopyIn across [vvar]/[vdso] = %q, %v", b, err)
	}
	if _, err := m.CopyOut(addr, []byte("x")); err != unix.EFAULT {
		t.Errorf("CopyOut to [vvar]: %v, want EFAULT", err)
	}
	if _, err := m.ZeroOutForce(addr+pageSize, 1); err != unix.EFAULT {
		t.Errorf("ZeroOutForce on [vdso]: %v, want EFAULT", err)
	}
	if r := m.HandleFault(addr+pageSize, platform.Access{Write: true}, true); r != FaultAccErr {
		t.Errorf("write fault in [vdso]: %v, want FaultAccErr", r)
	}
	if err := m.Mprotect(addr+pageSize, pageSize, platform.AnyAccess, false); err != unix.EACCES {
		t.Errorf("mprotect(PROT_WRITE) of [vdso]: %v, want EACCES", err)
	}
	if mf.Slice(off+pageSize, 1)[0] != 'b' {
		t.Error("the shared page was written")
	}
	// MADV_DONTNEED drops the pages; they come back from the same memory-file pages.
	if err := m.Madvise(addr+pageSize, 2*pageSize, unix.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if got := mf.RefCount(off + pageSize); got != 1 {
		t.Errorf("after MADV_DONTNEED: refcount %d, want 1", got)
	}
	if _, err := m.CopyIn(addr+2*pageSize, b[:1]); err != nil || b[0] != 'c' {
		t.Errorf("CopyIn after MADV_DONTNEED = %q, %v", b[:1], err)
	}
	// Unmapping part of [vdso] keeps the rest at the right offset.
	if err := m.Munmap(addr+pageSize, pageSize); err != nil {
		t.Fatal(err)
	}
	if got := mf.RefCount(off + pageSize); got != 1 {
		t.Errorf("after munmap: refcount %d, want 1", got)
	}
	if _, err := m.CopyIn(addr+2*pageSize, b[:1]); err != nil || b[0] != 'c' {
		t.Errorf("CopyIn of the rest of [vdso] = %q, %v", b[:1], err)
	}
	m.DecUsers()
	for i := 0; i < 3; i++ {
		if got := mf.RefCount(off + uint64(i)*pageSize); got != 1 {
			t.Errorf("after exit: page %d refcount %d, want the owner's 1", i, got)
		}
	}
}

func TestMapSpecialFork(t *testing.T) {
	m, _, mf := newTestMM(t)
	off := specialPages(t, m, 2, 'v')
	addr, err := m.MapSpecial(0,
		SpecialMapping{Offset: off, Length: pageSize, Perms: platform.Read, Name: "[vvar]"},
		SpecialMapping{Offset: off + pageSize, Length: pageSize, Perms: readExec, Name: "[vdso]"})
	if err != nil {
		t.Fatal(err)
	}
	if addr >= m.Layout().MmapBase || addr < m.Layout().MinAddr {
		t.Errorf("placed at %#x without a hint, want below the mmap base", addr)
	}
	if r := m.HandleFault(addr, platform.Read, true); r != FaultResolved {
		t.Fatal(r)
	}
	child, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	if got := mf.RefCount(off); got != 2 {
		t.Errorf("after fork: refcount %d, want 2 (the child takes its own on first touch)", got)
	}
	b := make([]byte, 1)
	if _, err := child.CopyIn(addr+pageSize, b); err != nil || b[0] != 'w' {
		t.Errorf("child reads [vdso]: %q, %v", b, err)
	}
	if got := mf.RefCount(off + pageSize); got != 2 {
		t.Errorf("child touched [vdso]: refcount %d, want 2", got)
	}
	child.DecUsers()
	m.DecUsers()
	if mf.RefCount(off) != 1 || mf.RefCount(off+pageSize) != 1 {
		t.Errorf("after both exit: refcounts %d %d, want 1 1", mf.RefCount(off), mf.RefCount(off+pageSize))
	}
}

func TestMapSpecialInvalid(t *testing.T) {
	m, _, _ := newTestMM(t)
	for _, p := range []SpecialMapping{
		{Offset: 0x1000, Length: 0, Perms: platform.Read},
		{Offset: 0x1000, Length: 100, Perms: platform.Read},
		{Offset: 0x1001, Length: pageSize, Perms: platform.Read},
		{Offset: 0x1000, Length: pageSize, Perms: platform.ReadWrite},
	} {
		if _, err := m.MapSpecial(0, p); err != unix.EINVAL {
			t.Errorf("MapSpecial(%+v) = %v, want EINVAL", p, err)
		}
	}
}

// TestMremapSpecial: a special mapping can move (CRIU moves the vDSO) but never grow,
// which would map memory-file pages that are not its own.
func TestMremapSpecial(t *testing.T) {
	m, _, mf := newTestMM(t)
	off := specialPages(t, m, 3, 'p')
	addr, err := m.MapSpecial(0, SpecialMapping{Offset: off, Length: 3 * pageSize, Perms: readExec, Name: "[vdso]"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Mremap(addr, 3*pageSize, 4*pageSize, MremapMaymove, 0); err != unix.EFAULT {
		t.Errorf("growing [vdso]: %v, want EFAULT", err)
	}
	if _, err := m.Mremap(addr+pageSize, pageSize, 2*pageSize, MremapMaymove, 0); err != unix.EFAULT {
		t.Errorf("growing part of [vdso]: %v, want EFAULT", err)
	}
	// Move the last two pages elsewhere: they keep their contents.
	to := uintptr(0x7d0000000000)
	got, err := m.Mremap(addr+pageSize, 2*pageSize, 2*pageSize, MremapMaymove|MremapFixed, to)
	if err != nil || got != to {
		t.Fatalf("moving part of [vdso] = %#x, %v", got, err)
	}
	b := make([]byte, 1)
	for i, want := range []byte{'q', 'r'} {
		if _, err := m.CopyIn(to+uintptr(i)*pageSize, b); err != nil || b[0] != want {
			t.Errorf("moved page %d reads %q, %v; want %q", i, b, err, want)
		}
	}
	m.DecUsers()
	for i := 0; i < 3; i++ {
		if got := mf.RefCount(off + uint64(i)*pageSize); got != 1 {
			t.Errorf("after exit: page %d refcount %d, want 1", i, got)
		}
	}
}
