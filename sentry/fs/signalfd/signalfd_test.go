package signalfd

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"runsc.dev/sentry/kernel"
)

func TestEncode(t *testing.T) {
	le := binary.LittleEndian
	for _, tc := range []struct {
		name string
		info kernel.SignalInfo
		want map[int]uint64 // offset -> value (4 bytes below 48 except ssi_ptr etc.)
	}{
		{"kill", kernel.SignalInfo{Signo: int32(unix.SIGUSR1), Code: kernel.SI_USER, PID: 7, UID: 1000},
			map[int]uint64{0: 10, 8: 0, 12: 7, 16: 1000}},
		{"sigchld", kernel.SignalInfo{Signo: int32(unix.SIGCHLD), Code: 1, PID: 9, UID: 5, Status: 3},
			map[int]uint64{0: 17, 8: 1, 12: 9, 16: 5, 40: 3}},
		{"sigqueue", kernel.SignalInfo{Signo: 34, Code: kernel.SI_QUEUE, PID: 4, UID: 2, Value: 0x1234},
			map[int]uint64{0: 34, 12: 4, 16: 2, 44: 0x1234, 48: 0x1234}},
		{"timer", kernel.SignalInfo{Signo: 14, Code: kernel.SI_TIMER, TimerID: 6, Overrun: 2, Value: 8},
			map[int]uint64{24: 6, 32: 2, 44: 8, 48: 8}},
		{"segv", kernel.SignalInfo{Signo: int32(unix.SIGSEGV), Code: kernel.SEGV_MAPER, Addr: 0xdead000},
			map[int]uint64{0: 11, 8: 1, 72: 0xdead000, 12: 0}},
	} {
		b := Encode(&tc.info)
		for off, want := range tc.want {
			var got uint64
			if off >= 48 && off < 80 {
				got = le.Uint64(b[off:])
			} else {
				got = uint64(le.Uint32(b[off:]))
			}
			if got != want {
				t.Errorf("%s: offset %d = %#x, want %#x", tc.name, off, got, want)
			}
		}
	}
	// rt_sigqueueinfo's raw siginfo: si_pid, si_uid and si_value as the sender gave them.
	var raw [128]byte
	le.PutUint32(raw[8:], uint32(0xffffffff)) // SI_QUEUE
	le.PutUint32(raw[16:], 11)
	le.PutUint32(raw[20:], 12)
	le.PutUint64(raw[24:], 99)
	b := Encode(&kernel.SignalInfo{Signo: 40, Raw: &raw})
	if le.Uint32(b[0:]) != 40 || le.Uint32(b[12:]) != 11 || le.Uint32(b[16:]) != 12 || le.Uint32(b[44:]) != 99 {
		t.Errorf("raw: %x", b[:56])
	}
}
