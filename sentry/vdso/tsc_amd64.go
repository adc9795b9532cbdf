package vdso

// rdtsc reads the time-stamp counter between two LFENCEs (tsc_amd64.s).
func rdtsc() uint64
