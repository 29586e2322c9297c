//go:build !purego

#include "textflag.h"

// func prefetchRows(p *uint16, stride, rows, lines int)
// stride is in bytes; each row's first lines cache lines are fetched.
TEXT ·prefetchRows(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ stride+8(FP), DX
	MOVQ rows+16(FP), CX
	MOVQ lines+24(FP), R8
	TESTQ CX, CX
	JLE  done

row:
	MOVQ SI, AX
	MOVQ R8, BX

line:
	PREFETCHT0 (AX)
	ADDQ $64, AX
	DECQ BX
	JG   line
	ADDQ DX, SI
	DECQ CX
	JNZ  row

done:
	RET
