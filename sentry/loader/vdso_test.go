package loader

import (
	"errors"
	"testing"

	"runsc.dev/platform"
	"runsc.dev/sentry/memory"
	"runsc.dev/sentry/mm"
	"runsc.dev/sentry/vdso"
)

type nopAS struct{}

func (nopAS) MapFile(addr uintptr, fd int, off, n uint64, perms platform.Access) error { return nil }
func (nopAS) Unmap(addr, n uintptr)                                                    {}
func (nopAS) Release()                                                                 {}

type nopPlatform struct{}

func (nopPlatform) Name() string                                    { return "nop" }
func (nopPlatform) MinUserAddress() uintptr                         { return 0x10000 }
func (nopPlatform) MaxUserAddress() uintptr                         { return 0x7ffffffff000 }
func (nopPlatform) NewContext() (platform.Context, error)           { return nil, errors.New("none") }
func (nopPlatform) NewAddressSpace() (platform.AddressSpace, error) { return nopAS{}, nil }

type memFile struct{ byteReader }

func (memFile) IncRef() {}
func (memFile) DecRef() {}

// TestLoadMapsVDSO: every image gets [vvar] and [vdso] back to back in the mmap area, at a
// random address, and AT_SYSINFO_EHDR points at the vDSO's ELF header.
func TestLoadMapsVDSO(t *testing.T) {
	mf, err := memory.New(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vdso.New(mf)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for i := 0; i < 4; i++ {
		l := mm.Layout{MinAddr: 0x10000, MaxAddr: 0x7ffffffff000, StackTop: 0x7ffff0000000, MmapBase: 0x7ff000000000}
		m, err := mm.New(mf, nopPlatform{}, l)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Load(Args{MM: m, File: memFile{minimalELF("")}, Name: "/bin/x", Argv: []string{"x"}, VDSO: v}); err != nil {
			t.Fatal(err)
		}
		if len(m.Auxv) < 2 || m.Auxv[0] != atSysinfoEhdr {
			t.Fatalf("auxv starts %v, want AT_SYSINFO_EHDR first", m.Auxv[:2])
		}
		ehdr := m.Auxv[1]
		seen[ehdr] = true
		var vvar, text *mm.VMAInfo
		vmas := m.VMAs()
		for i := range vmas {
			switch vmas[i].Name {
			case "[vvar]":
				vvar = &vmas[i]
			case "[vdso]":
				text = &vmas[i]
			}
		}
		if vvar == nil || text == nil || uint64(text.Start) != ehdr || vvar.End != text.Start || vvar.End-vvar.Start != vdso.VvarSize ||
			uint64(text.End-text.Start) != v.TextLength() || text.Perms != (platform.Access{Read: true, Execute: true}) || vvar.Perms != platform.Read {
			t.Fatalf("AT_SYSINFO_EHDR %#x, mappings %+v", ehdr, vmas)
		}
		if text.Start >= l.MmapBase || text.Start < l.MmapBase-(vdsoSpread+4)*pageSize {
			t.Errorf("[vdso] at %#x, want within %d pages below the mmap base %#x", text.Start, vdsoSpread, l.MmapBase)
		}
		b := make([]byte, 4)
		if _, err := m.CopyIn(uintptr(ehdr), b); err != nil || string(b) != "\x7fELF" {
			t.Errorf("at AT_SYSINFO_EHDR: %q, %v", b, err)
		}
		m.DecUsers()
	}
	if len(seen) < 2 {
		t.Errorf("the vDSO landed at the same address in 4 execs")
	}
	// Without a VDSO: no mapping, no AT_SYSINFO_EHDR.
	m, _ := mm.New(mf, nopPlatform{}, mm.Layout{MinAddr: 0x10000, MaxAddr: 0x7ffffffff000, StackTop: 0x7ffff0000000, MmapBase: 0x7ff000000000})
	if _, err := Load(Args{MM: m, File: memFile{minimalELF("")}, Argv: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(m.Auxv); i += 2 {
		if m.Auxv[i] == atSysinfoEhdr {
			t.Error("AT_SYSINFO_EHDR without a vDSO")
		}
	}
}
