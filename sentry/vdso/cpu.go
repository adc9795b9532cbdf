package vdso

import (
	"runtime"

	"golang.org/x/sys/unix"

	"runsc.dev/pkg/arch"
)

// tscInvariant reports whether the CPU says its TSC runs at a constant rate in every
// P-, C- and T-state (CPUID 0x80000007 EDX bit 8), which Linux also requires before it
// trusts the TSC as a clock source. Without it the vDSO never uses the TSC.
func tscInvariant() bool {
	maxExt, _, _, _ := arch.CPUID(0x80000000, 0)
	if maxExt < 0x80000007 {
		return false
	}
	_, _, _, edx := arch.CPUID(0x80000007, 0)
	return edx&(1<<8) != 0
}

// hostCPUMode returns how getcpu reports the CPU. The host's CPU number (Linux keeps
// node<<12 | cpu in TSC_AUX, read by RDPID or RDTSCP) is reported only when it is honest
// in the sandbox: when the sentry may run on CPUs 0..N-1 exactly, the set that
// sched_getaffinity shows the application. Otherwise getcpu reports CPU 0, node 0.
func hostCPUMode() uint32 {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return cpuModeZero
	}
	n := runtime.NumCPU()
	if set.Count() != n {
		return cpuModeZero
	}
	for c := 0; c < n; c++ {
		if !set.IsSet(c) {
			return cpuModeZero
		}
	}
	if _, _, ecx, _ := arch.CPUID(7, 0); ecx&(1<<22) != 0 {
		return cpuModeRDPID
	}
	maxExt, _, _, _ := arch.CPUID(0x80000000, 0)
	if maxExt >= 0x80000001 {
		if _, _, _, edx := arch.CPUID(0x80000001, 0); edx&(1<<27) != 0 {
			return cpuModeRDTSCP
		}
	}
	return cpuModeZero
}
