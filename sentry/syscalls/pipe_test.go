package syscalls

import (
	"testing"

	"runsc.dev/sentry/kernel"
	"runsc.dev/sentry/vfs"
)

// File implementations return vfs.ERESTARTSYS from interrupted waits; the kernel must read
// it as its own.
func TestRestartErrno(t *testing.T) {
	if vfs.ERESTARTSYS != kernel.ERESTARTSYS {
		t.Fatalf("vfs.ERESTARTSYS = %d, kernel.ERESTARTSYS = %d", vfs.ERESTARTSYS, kernel.ERESTARTSYS)
	}
}

func TestAccessOK(t *testing.T) {
	for _, tc := range []struct {
		addr uintptr
		n    uint64
		ok   bool
	}{
		{0, 12, true},
		{0x1000, 1 << 40, true},
		{taskSize - 12, 12, true},
		{taskSize - 12, 13, false},
		{0xffffffffff600000, 12, false},
		{1, ^uint64(0), false},
	} {
		if got := accessOK(tc.addr, tc.n); got != tc.ok {
			t.Errorf("accessOK(%#x, %d) = %v", tc.addr, tc.n, got)
		}
	}
}
