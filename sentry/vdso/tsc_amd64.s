#include "textflag.h"

// func rdtsc() uint64
// The TSC, ordered as the vDSO orders it: after every earlier instruction, before any
// later load.
TEXT ·rdtsc(SB),NOSPLIT,$0-8
	LFENCE
	RDTSC
	LFENCE
	SHLQ $32, DX
	ORQ DX, AX
	MOVQ AX, ret+0(FP)
	RET
