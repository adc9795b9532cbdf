package arch

// HWCap is the value of AT_HWCAP for x86-64: CPUID leaf 1 EDX, as Linux reports it.
func HWCap() uint64 {
	_, _, _, edx := cpuid(1, 0)
	return uint64(edx)
}

// CPUID exposes the instruction for /proc/cpuinfo and AT_HWCAP2-style queries.
func CPUID(eax, ecx uint32) (a, b, c, d uint32) { return cpuid(eax, ecx) }
