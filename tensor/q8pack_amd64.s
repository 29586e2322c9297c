//go:build !purego

#include "textflag.h"
#include "pack16_amd64.h"

// Q8_0 kernels over packed weights (see pack.go), AVX-512 VNNI.
//
// A packed block of sixteen rows is 544 bytes at SI: 16 fp16 scales, then
// V_0..V_7, 64 bytes each, whose lane r holds bytes 4k..4k+3 of row r's
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

// PLOAD16 loads the current packed block: the scales as float32 into Z13,
// V_0..V_7 into Z4..Z11 (the registers pack16_amd64.h's ZTOK reads).
#define PLOAD16 \
	VCVTPH2PS (SI), Z13; \
	VMOVDQU64 32(SI), Z4; \
	VMOVDQU64 96(SI), Z5; \
	VMOVDQU64 160(SI), Z6; \
	VMOVDQU64 224(SI), Z7; \
	VMOVDQU64 288(SI), Z8; \
	VMOVDQU64 352(SI), Z9; \
	VMOVDQU64 416(SI), Z10; \
	VMOVDQU64 480(SI), Z11

#define PF9 \
	PREFETCHT0 8192(SI); \
	PREFETCHT0 8256(SI); \
	PREFETCHT0 8320(SI); \
	PREFETCHT0 8384(SI); \
	PREFETCHT0 8448(SI); \
	PREFETCHT0 8512(SI); \
	PREFETCHT0 8576(SI); \
	PREFETCHT0 8640(SI); \
	PREFETCHT0 8704(SI)

// func q8PackedRows16VNNI(out []float32, w []byte, xx []byte, nb int)
TEXT ·q8PackedRows16VNNI(SB), NOSPLIT, $0-80
	MOVQ w_base+24(FP), SI
	MOVQ xx_base+48(FP), DI
	MOVQ nb+72(FP), CX
	VPXORD Z12, Z12, Z12

q8r16loop:
	PF9
	PLOAD16
	ZROW1
	ADDQ $544, SI
	ADDQ $40, DI
	DECQ CX
	JNZ  q8r16loop

	MOVQ    out_base+0(FP), AX
	VMOVUPS Z12, (AX)
	VZEROUPPER
	RET

// func q8PackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)
// Sixteen rows, eight tokens.
TEXT ·q8PackedTile8VNNI(SB), NOSPLIT, $0-96
	MOVQ w_base+32(FP), SI
	MOVQ xx_base+56(FP), DI
	MOVQ xstride+80(FP), R14
	ZTOKPTRS
	MOVQ nb+88(FP), CX
	ZZERO8

q8t8loop:
	PLOAD16
	ZTILE8
	ADDQ $544, SI
	ADDQ $40, DI
	ADDQ $40, R13
	DECQ CX
	JNZ  q8t8loop

	ZSTORE8
	VZEROUPPER
	RET

// func q8PackedTile4VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)
// Sixteen rows, four tokens.
TEXT ·q8PackedTile4VNNI(SB), NOSPLIT, $0-96
	MOVQ w_base+32(FP), SI
	MOVQ xx_base+56(FP), DI
	MOVQ xstride+80(FP), R14
	ZTOKPTRS
	MOVQ nb+88(FP), CX
	ZZERO4

q8t4loop:
	PF9
	PLOAD16
	ZTILE4
	ADDQ $544, SI
	ADDQ $40, DI
	DECQ CX
	JNZ  q8t4loop

	ZSTORE4
	VZEROUPPER
	RET
