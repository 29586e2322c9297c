//go:build !purego

#include "textflag.h"
#include "q4tile_amd64.h"

// Q8_0 kernels over packed weights (see pack.go), AVX-512 VNNI.
//
// A packed block of eight rows is 272 bytes at SI: 8 fp16 scales, then
// V_0..V_7, 32 bytes each, whose lane r holds bytes 4k..4k+3 of row r's
// weights plus 128 (w XOR 0x80, unsigned for VPDPBUSD). The activations
// are expanded (expandQ8_0Bias128) to 40-byte blocks: dx float32 |
// -128*sum(q) int32 | q[32], the layout of the Q4_0 kernels with the
// correction for a bias of 128 instead of 8.
//
// The float order is that of the Q4_0 kernels (q4_amd64.s): each lane
// ends a block holding its row's whole integer block sum, and
// acc = fma(float(sum), dw*dx, acc) block after block, one accumulator
// per row and token. llama.cpp's Q8_0 dot keeps eight partial lanes per
// row instead, which costs a conversion and an FMA per group of four
// weights rather than per block; the two agree to float rounding.

// PLOAD8 loads the current packed block: the scales as float32 into Y13,
// V_0..V_7 into Y4..Y11 (the registers q4tile_amd64.h's TOK8 reads).
#define PLOAD8 \
	VCVTPH2PS (SI), Y13; \
	VMOVDQU   16(SI), Y4; \
	VMOVDQU   48(SI), Y5; \
	VMOVDQU   80(SI), Y6; \
	VMOVDQU   112(SI), Y7; \
	VMOVDQU   144(SI), Y8; \
	VMOVDQU   176(SI), Y9; \
	VMOVDQU   208(SI), Y10; \
	VMOVDQU   240(SI), Y11

// func q8PackedRows8VNNI(out []float32, w []byte, xx []byte, nb int)
TEXT ·q8PackedRows8VNNI(SB), NOSPLIT, $0-80
	MOVQ w_base+24(FP), SI
	MOVQ xx_base+48(FP), DI
	MOVQ nb+72(FP), CX
	VXORPS Y12, Y12, Y12

q8p8loop:
	PREFETCHT0 4096(SI)
	PREFETCHT0 4160(SI)
	PREFETCHT0 4224(SI)
	PREFETCHT0 4288(SI)
	VCVTPH2PS (SI), Y13
	// Two chains of four, added at the end (integer sums: the order does
	// not change them).
	VPBROADCASTD  4(DI), Y0
	VPXOR         Y1, Y1, Y1
	VMOVDQU       16(SI), Y2
	VMOVDQU       144(SI), Y3
	VPDPBUSD.BCST 8(DI), Y2, Y0
	VPDPBUSD.BCST 24(DI), Y3, Y1
	VMOVDQU       48(SI), Y2
	VMOVDQU       176(SI), Y3
	VPDPBUSD.BCST 12(DI), Y2, Y0
	VPDPBUSD.BCST 28(DI), Y3, Y1
	VMOVDQU       80(SI), Y2
	VMOVDQU       208(SI), Y3
	VPDPBUSD.BCST 16(DI), Y2, Y0
	VPDPBUSD.BCST 32(DI), Y3, Y1
	VMOVDQU       112(SI), Y2
	VMOVDQU       240(SI), Y3
	VPDPBUSD.BCST 20(DI), Y2, Y0
	VPDPBUSD.BCST 36(DI), Y3, Y1
	VPADDD        Y1, Y0, Y0
	VCVTDQ2PS     Y0, Y0
	VMULPS.BCST   (DI), Y13, Y13
	VFMADD231PS   Y0, Y13, Y12
	ADDQ $272, SI
	ADDQ $40, DI
	DECQ CX
	JNZ  q8p8loop

	MOVQ    out_base+0(FP), AX
	VMOVUPS Y12, (AX)
	VZEROUPPER
	RET

// func q8PackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)
// Eight tokens: token t's blocks at DI + t*R14, with R12 = 3*R14 and
// R13 = DI + 4*R14.
TEXT ·q8PackedTile8VNNI(SB), NOSPLIT, $0-96
	MOVQ w_base+32(FP), SI
	MOVQ xx_base+56(FP), DI
	MOVQ xstride+80(FP), R14
	LEAQ (R14)(R14*2), R12
	LEAQ (DI)(R14*4), R13
	MOVQ nb+88(FP), CX
	ZERO8

q8t8loop:
	PLOAD8
	TILE8
	ADDQ $272, SI
	ADDQ $40, DI
	ADDQ $40, R13
	DECQ CX
	JNZ  q8t8loop

	STORE8
	VZEROUPPER
	RET
