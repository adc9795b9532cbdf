package mm

import (
	"testing"

	"runsc.dev/platform"
)

// TestAnonSharedAcrossFork: MAP_SHARED|MAP_ANONYMOUS pages are shared with a child of
// fork even when neither side touched them before, futex keys agree, and the pages are
// freed with the last mapping.
func TestAnonSharedAcrossFork(t *testing.T) {
	m, _, mf := newTestMM(t)
	addr, err := m.MMap(MMapOpts{Length: 2 * pageSize, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess})
	if err != nil {
		t.Fatal(err)
	}
	child, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := child.CopyOut(addr+pageSize+8, []byte("shared")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 6)
	if _, err := m.CopyIn(addr+pageSize+8, got); err != nil || string(got) != "shared" {
		t.Errorf("parent reads %q, %v; want the child's store", got, err)
	}
	k1, err1 := m.FutexKey(addr+pageSize+8, false)
	k2, err2 := child.FutexKey(addr+pageSize+8, false)
	if err1 != nil || err2 != nil || k1 != k2 || k1.MM != nil {
		t.Errorf("shared futex keys %+v (%v) and %+v (%v) differ", k1, err1, k2, err2)
	}
	if kp, _ := m.FutexKey(addr+pageSize+8, true); kp == k1 {
		t.Errorf("the private key equals the shared one")
	}
	// A second mapping of the same pages (mremap old_size 0).
	dup, err := m.Mremap(addr, 0, pageSize*2, MremapMaymove, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CopyIn(dup+pageSize+8, got); err != nil || string(got) != "shared" {
		t.Errorf("duplicate mapping reads %q, %v", got, err)
	}
	child.DecUsers()
	m.DecUsers()
	if used := mf.UsedBytes(); used != 0 {
		t.Errorf("%d bytes still allocated after the last mapping", used)
	}
}
