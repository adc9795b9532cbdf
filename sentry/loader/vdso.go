package loader

import (
	mrand "math/rand/v2"

	"runsc.dev/platform"
	"runsc.dev/sentry/mm"
	"runsc.dev/sentry/vdso"
)

// vdsoSpread is how far below the mmap base the vDSO may land, in pages (256 MiB): on top
// of the base's own randomisation, so that the vDSO is not at a fixed distance from the
// interpreter.
const vdsoSpread = 1 << 16

// mapVDSO maps v's vvar page and text, back to back, at a random address in the mmap
// area, and returns the address of the text (AT_SYSINFO_EHDR); 0 if v is nil.
func mapVDSO(m *mm.MemoryManager, v *vdso.VDSO) (uint64, error) {
	if v == nil {
		return 0, nil
	}
	l := m.Layout()
	length := uintptr(vdso.VvarSize + v.TextLength())
	var hint uintptr
	if below := length + uintptr(mrand.Uint64N(vdsoSpread))*pageSize; l.MmapBase > below && l.MmapBase-below >= l.MinAddr {
		hint = l.MmapBase - below
	}
	at, err := m.MapSpecial(hint,
		mm.SpecialMapping{Offset: v.VvarOffset(), Length: vdso.VvarSize, Perms: platform.Read, Name: "[vvar]"},
		mm.SpecialMapping{Offset: v.TextOffset(), Length: uintptr(v.TextLength()), Perms: platform.Access{Read: true, Execute: true}, Name: "[vdso]"})
	if err != nil {
		return 0, err
	}
	return uint64(at) + vdso.VvarSize, nil
}
