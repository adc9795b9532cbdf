package kernel

import (
	_ "unsafe" // for go:linkname
)

// nanotime is the Go runtime's monotonic clock (one vDSO read, without the wall clock
// that time.Now also reads): it times every trap for CPU accounting.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64
