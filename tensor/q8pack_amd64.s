//go:build !purego

#include "textflag.h"

// Q8_0 kernels over packed weights (see pack.go), AVX-512 VNNI.
//
// A packed block of eight rows is 272 bytes at SI: 8 fp16 scales, then
// V_0..V_7, 32 bytes each, whose lane r holds bytes 4k..4k+3 of row r's
// weights plus 128 (w XOR 0x80, unsigned for VPDPBUSD). The activations
// are expanded (expandQ8_0Wide) to 68-byte blocks: dx float32 | c_0..c_7
// int32, c_k = -128*(sum of elements 4k..4k+3) | q[32].
//
// llama.cpp's float order for Q8_0 (q8_amd64.s) keeps, per row, eight
// lanes: lane k sums over the blocks fma(d, float(group k's int sum)).
// Here accumulator A_k (Y16+k) holds lane k of all eight rows, one row per
// lane, so a block is eight broadcast products and eight FMAs, and the
// final hsum_float_8 is vertical adds.

// QGROUP8(K, W, P, A): group K of the current block: the int sums of the
// eight rows into P (the bias correction c_K first), then A += d * P.
#define QGROUP8(K, W, P, A) \
	VMOVDQU       (16+32*K)(SI), W; \
	VPBROADCASTD  (4+4*K)(DI), P; \
	VPDPBUSD.BCST (36+4*K)(DI), W, P; \
	VCVTDQ2PS     P, P; \
	VFMADD231PS   P, Y13, A

// func q8PackedRows8VNNI(out []float32, w []byte, xx []byte, nb int)
TEXT ·q8PackedRows8VNNI(SB), NOSPLIT, $0-80
	MOVQ w_base+24(FP), SI
	MOVQ xx_base+48(FP), DI
	MOVQ nb+72(FP), CX
	VPXORD Y16, Y16, Y16
	VPXORD Y17, Y17, Y17
	VPXORD Y18, Y18, Y18
	VPXORD Y19, Y19, Y19
	VPXORD Y20, Y20, Y20
	VPXORD Y21, Y21, Y21
	VPXORD Y22, Y22, Y22
	VPXORD Y23, Y23, Y23

q8p8loop:
	PREFETCHT0 4096(SI)
	PREFETCHT0 4160(SI)
	VCVTPH2PS   (SI), Y13
	VMULPS.BCST (DI), Y13, Y13 // d = dw*dx, one per row
	QGROUP8(0, Y0, Y8, Y16)
	QGROUP8(1, Y1, Y9, Y17)
	QGROUP8(2, Y2, Y10, Y18)
	QGROUP8(3, Y3, Y11, Y19)
	QGROUP8(4, Y4, Y8, Y20)
	QGROUP8(5, Y5, Y9, Y21)
	QGROUP8(6, Y6, Y10, Y22)
	QGROUP8(7, Y7, Y11, Y23)
	ADDQ $272, SI
	ADDQ $68, DI
	DECQ CX
	JNZ  q8p8loop

	// hsum_float_8 per row: (A0+A4 + A2+A6) + (A1+A5 + A3+A7).
	VADDPS Y20, Y16, Y16
	VADDPS Y21, Y17, Y17
	VADDPS Y22, Y18, Y18
	VADDPS Y23, Y19, Y19
	VADDPS Y18, Y16, Y16
	VADDPS Y19, Y17, Y17
	VADDPS Y17, Y16, Y16
	MOVQ    out_base+0(FP), AX
	VMOVUPS Y16, (AX)
	VZEROUPPER
	RET

// func q8PackedTile2VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)
// Two tokens, at DI and DI+R14: accumulators Y16..Y23 for the first,
// Y24..Y31 for the second; each weight vector is loaded once for both.
#define QGROUP8X2(K, W, P, Q, A, B) \
	VMOVDQU       (16+32*K)(SI), W; \
	VPBROADCASTD  (4+4*K)(DI), P; \
	VPBROADCASTD  (4+4*K)(DI)(R14*1), Q; \
	VPDPBUSD.BCST (36+4*K)(DI), W, P; \
	VPDPBUSD.BCST (36+4*K)(DI)(R14*1), W, Q; \
	VCVTDQ2PS     P, P; \
	VCVTDQ2PS     Q, Q; \
	VFMADD231PS   P, Y13, A; \
	VFMADD231PS   Q, Y14, B

TEXT ·q8PackedTile2VNNI(SB), NOSPLIT, $0-96
	MOVQ w_base+32(FP), SI
	MOVQ xx_base+56(FP), DI
	MOVQ xstride+80(FP), R14
	MOVQ nb+88(FP), CX
	VPXORD Y16, Y16, Y16
	VPXORD Y17, Y17, Y17
	VPXORD Y18, Y18, Y18
	VPXORD Y19, Y19, Y19
	VPXORD Y20, Y20, Y20
	VPXORD Y21, Y21, Y21
	VPXORD Y22, Y22, Y22
	VPXORD Y23, Y23, Y23
	VPXORD Y24, Y24, Y24
	VPXORD Y25, Y25, Y25
	VPXORD Y26, Y26, Y26
	VPXORD Y27, Y27, Y27
	VPXORD Y28, Y28, Y28
	VPXORD Y29, Y29, Y29
	VPXORD Y30, Y30, Y30
	VPXORD Y31, Y31, Y31

q8t2loop:
	VCVTPH2PS   (SI), Y12
	VMULPS.BCST (DI), Y12, Y13
	VMULPS.BCST (DI)(R14*1), Y12, Y14
	QGROUP8X2(0, Y0, Y8, Y9, Y16, Y24)
	QGROUP8X2(1, Y1, Y10, Y11, Y17, Y25)
	QGROUP8X2(2, Y2, Y8, Y9, Y18, Y26)
	QGROUP8X2(3, Y3, Y10, Y11, Y19, Y27)
	QGROUP8X2(4, Y4, Y8, Y9, Y20, Y28)
	QGROUP8X2(5, Y5, Y10, Y11, Y21, Y29)
	QGROUP8X2(6, Y6, Y8, Y9, Y22, Y30)
	QGROUP8X2(7, Y7, Y10, Y11, Y23, Y31)
	ADDQ $272, SI
	ADDQ $68, DI
	DECQ CX
	JNZ  q8t2loop

	VADDPS Y20, Y16, Y16
	VADDPS Y21, Y17, Y17
	VADDPS Y22, Y18, Y18
	VADDPS Y23, Y19, Y19
	VADDPS Y18, Y16, Y16
	VADDPS Y19, Y17, Y17
	VADDPS Y17, Y16, Y16
	VADDPS Y28, Y24, Y24
	VADDPS Y29, Y25, Y25
	VADDPS Y30, Y26, Y26
	VADDPS Y31, Y27, Y27
	VADDPS Y26, Y24, Y24
	VADDPS Y27, Y25, Y25
	VADDPS Y25, Y24, Y24
	MOVQ    out_base+0(FP), AX
	MOVQ    ostride+24(FP), R8
	VMOVUPS Y16, (AX)
	VMOVUPS Y24, (AX)(R8*4)
	VZEROUPPER
	RET
