package mm

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
	"runsc.dev/platform"
	"runsc.dev/sentry/memory"
)

// fakePlatform records what the address space is asked to map.
type fakePlatform struct{ as *fakeAS }

type fakeAS struct {
	mapped map[uintptr]platform.Access // page -> perms
}

func (p *fakePlatform) Name() string                                    { return "fake" }
func (p *fakePlatform) MinUserAddress() uintptr                         { return 0x10000 }
func (p *fakePlatform) MaxUserAddress() uintptr                         { return 0x7fff00000000 }
func (p *fakePlatform) NewContext() (platform.Context, error)           { return nil, errors.New("no contexts") }
func (p *fakePlatform) NewAddressSpace() (platform.AddressSpace, error) { return p.as, nil }
func (a *fakeAS) MapFile(addr uintptr, fd int, off, n uint64, perms platform.Access) error {
	for p := addr; p < addr+uintptr(n); p += pageSize {
		a.mapped[p] = perms
	}
	return nil
}
func (a *fakeAS) Unmap(addr, n uintptr) {
	for p := addr; p < addr+n; p += pageSize {
		delete(a.mapped, p)
	}
}
func (a *fakeAS) Release() {}

var _ = arch.Registers{}

func newTestMM(t *testing.T) (*MemoryManager, *fakeAS, *memory.MemoryFile) {
	mf, err := memory.New(1 << 28)
	if err != nil {
		t.Fatal(err)
	}
	as := &fakeAS{mapped: map[uintptr]platform.Access{}}
	m, err := New(mf, &fakePlatform{as}, Layout{MinAddr: 0x10000, MaxAddr: 0x7fff00000000, StackTop: 0x7ffe00000000, MmapBase: 0x7f0000000000})
	if err != nil {
		t.Fatal(err)
	}
	return m, as, mf
}

type bytesFile struct{ b []byte }

func (f *bytesFile) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(f.b).ReadAt(p, off)
}
func (f *bytesFile) IncRef() {}
func (f *bytesFile) DecRef() {}

func TestAnonymousMapCopyFault(t *testing.T) {
	m, as, mf := newTestMM(t)
	addr, err := m.MMap(MMapOpts{Length: 3 * pageSize, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess, Private: true})
	if err != nil {
		t.Fatal(err)
	}
	if addr >= 0x7f0000000000 || addr%pageSize != 0 {
		t.Fatalf("placed at %#x, want page aligned below the mmap base", addr)
	}
	if _, err := m.CopyOut(addr+pageSize-2, []byte("abcd")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := m.CopyIn(addr+pageSize-2, got); err != nil || string(got) != "abcd" {
		t.Fatalf("CopyIn = %q, %v", got, err)
	}
	if len(as.mapped) != 3 {
		t.Fatalf("fault-around mapped %d pages, want the whole 3-page vma", len(as.mapped))
	}
	if r := m.HandleFault(addr, platform.Read, true); r != FaultAccErr {
		t.Fatalf("fault on a page mapped with full permissions = %v, want FaultAccErr", r)
	}
	if r := m.HandleFault(addr+10*pageSize, platform.Read, true); r != FaultMapErr {
		t.Fatalf("fault outside any vma = %v, want FaultMapErr", r)
	}
	if err := m.Munmap(addr, 3*pageSize); err != nil {
		t.Fatal(err)
	}
	if len(as.mapped) != 0 || mf.UsedBytes() != 0 {
		t.Fatalf("after munmap: %d pages mapped, %d bytes used", len(as.mapped), mf.UsedBytes())
	}
	if _, err := m.CopyIn(addr, got); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("CopyIn after munmap: %v, want EFAULT", err)
	}
}

func TestPrivateFileMappingAndSigbus(t *testing.T) {
	m, _, _ := newTestMM(t)
	content := bytes.Repeat([]byte("x"), pageSize+10)
	addr, err := m.MMap(MMapOpts{Length: 4 * pageSize, Perms: platform.Read, MaxPerms: platform.AnyAccess, Private: true, File: &bytesFile{content}})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 12)
	if _, err := m.CopyIn(addr+pageSize, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != "xxxxxxxxxx\x00\x00" {
		t.Fatalf("second page = %q, want the file's tail then zeros", got)
	}
	if r := m.HandleFault(addr+3*pageSize, platform.Read, true); r != FaultBusErr {
		t.Fatalf("fault beyond end of file = %v, want FaultBusErr", r)
	}
	if _, err := m.CopyOut(addr, []byte("y")); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("CopyOut into a read-only mapping: %v, want EFAULT", err)
	}
}

func TestMprotectSplitsAndRemaps(t *testing.T) {
	m, as, _ := newTestMM(t)
	addr, _ := m.MMap(MMapOpts{Length: 4 * pageSize, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess, Private: true})
	m.CopyOut(addr, make([]byte, 4*pageSize))
	if err := m.Mprotect(addr+pageSize, pageSize, platform.Read, false); err != nil {
		t.Fatal(err)
	}
	if n := len(m.VMAs()); n != 3 {
		t.Fatalf("%d vmas after mprotect of the middle, want 3", n)
	}
	if _, ok := as.mapped[addr+pageSize]; ok {
		t.Fatal("page still mapped with old permissions after mprotect")
	}
	if r := m.HandleFault(addr+pageSize, platform.Read, true); r != FaultResolved || as.mapped[addr+pageSize].Write {
		t.Fatalf("refault = %v, perms %+v; want resolved read-only", r, as.mapped[addr+pageSize])
	}
	if err := m.Mprotect(addr+8*pageSize, pageSize, platform.Read, false); !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("mprotect of unmapped range: %v, want ENOMEM", err)
	}
}

func TestBrk(t *testing.T) {
	m, _, _ := newTestMM(t)
	m.SetBrkStart(0x600000)
	if got := m.Brk(0); got != 0x600000 {
		t.Fatalf("brk(0) = %#x", got)
	}
	if got := m.Brk(0x600000 + 3*pageSize + 1); got != 0x600000+3*pageSize+1 {
		t.Fatalf("grow = %#x", got)
	}
	if _, err := m.CopyOut(0x600000+3*pageSize, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if got := m.Brk(0x600000); got != 0x600000 {
		t.Fatalf("shrink = %#x", got)
	}
	if _, err := m.CopyOut(0x600000+pageSize, []byte{1}); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("write above a shrunk break: %v, want EFAULT", err)
	}
	if got := m.Brk(0x1000); got != 0x600000 {
		t.Fatalf("brk below the start = %#x, want unchanged", got)
	}
}

func TestCopyInString(t *testing.T) {
	m, _, _ := newTestMM(t)
	addr, _ := m.MMap(MMapOpts{Length: pageSize, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess, Private: true})
	m.CopyOut(addr+pageSize-5, []byte("abcd\x00"))
	if s, err := m.CopyInString(addr+pageSize-5, 100); err != nil || s != "abcd" {
		t.Fatalf("got %q, %v", s, err)
	}
	m.CopyOut(addr+pageSize-3, []byte("xyz"))
	if _, err := m.CopyInString(addr+pageSize-3, 100); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("unterminated at end of mapping: %v, want EFAULT", err)
	}
	if _, err := m.CopyInString(addr+pageSize-3, 2); !errors.Is(err, unix.ENAMETOOLONG) {
		t.Fatalf("too long: %v, want ENAMETOOLONG", err)
	}
	_ = io.EOF
}

func TestForkCopyOnWrite(t *testing.T) {
	m, _, mf := newTestMM(t)
	addr, _ := m.MMap(MMapOpts{Length: 2 * pageSize, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess, Private: true})
	shared, _ := m.MMap(MMapOpts{Length: pageSize, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess})
	m.CopyOut(addr, []byte("parent"))
	m.CopyOut(shared, []byte("shared"))
	used := mf.UsedBytes()
	c, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	if mf.UsedBytes() != used {
		t.Fatal("fork copied pages eagerly")
	}
	c.CopyOut(addr, []byte("child!"))
	m.CopyOut(shared, []byte("SHARED"))
	got := make([]byte, 6)
	m.CopyIn(addr, got)
	if string(got) != "parent" {
		t.Fatalf("parent sees %q after the child's write", got)
	}
	c.CopyIn(addr, got)
	if string(got) != "child!" {
		t.Fatalf("child sees %q", got)
	}
	c.CopyIn(shared, got)
	if string(got) != "SHARED" {
		t.Fatalf("child sees %q in a shared mapping, want the parent's write", got)
	}
	c.DecUsers()
	m.DecUsers()
	if mf.UsedBytes() != 0 {
		t.Fatalf("%d bytes still allocated after both exit", mf.UsedBytes())
	}
}

func TestPlacementNeverOverlaps(t *testing.T) {
	m, _, _ := newTestMM(t)
	var got [][2]uintptr
	for i := 1; i <= 20; i++ {
		a, err := m.MMap(MMapOpts{Length: uintptr(i%3+1) * pageSize, Perms: platform.Read, MaxPerms: platform.AnyAccess, Private: true})
		if err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			m.Munmap(a, pageSize)
		}
		got = append(got, [2]uintptr{a, a + uintptr(i%3+1)*pageSize})
	}
	vmas := m.VMAs()
	for i := 1; i < len(vmas); i++ {
		if vmas[i].Start < vmas[i-1].End {
			t.Fatalf("vmas overlap: %+v and %+v", vmas[i-1], vmas[i])
		}
	}
}
