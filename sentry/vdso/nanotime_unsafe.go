package vdso

import _ "unsafe" // for go:linkname

// nanotime is the host's CLOCK_MONOTONIC in ns, read through the host's own vDSO by the Go
// runtime: the cheapest and most stable reading the sentry can pair with the TSC (a
// syscall takes ten times longer, and its latency varies more). The runtime keeps this
// linkname working (go.dev/issue/67401).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64
