//go:build !purego

#include "textflag.h"

// BF16 dot products: n bf16 weights times n bf16 activations, summed in
// float32 lanes that are added together at the end. Neither matches the
// reference's sequential order; both agree with it up to float32 rounding
// (and the AVX-512 one treats subnormal inputs and results as zero).

// func dotBF16AVX512(w, x []byte, n int) float32
//
// n must be a positive multiple of 128. VDPBF16PS (AVX512_BF16, which the
// Go assembler does not know, hence the bytes) adds to each float32 lane
// the two products of a pair of bf16 values. Z0-Z3 accumulate, Z4-Z11
// hold the operands.
TEXT ·dotBF16AVX512(SB), NOSPLIT, $0-60
	MOVQ w_base+0(FP), SI
	MOVQ x_base+24(FP), DI
	MOVQ n+48(FP), CX
	SHRQ $7, CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3

bf512loop:
	VMOVDQU64 (SI), Z4
	VMOVDQU64 (DI), Z5
	VMOVDQU64 64(SI), Z6
	VMOVDQU64 64(DI), Z7
	VMOVDQU64 128(SI), Z8
	VMOVDQU64 128(DI), Z9
	VMOVDQU64 192(SI), Z10
	VMOVDQU64 192(DI), Z11
	// VDPBF16PS Z5, Z4, Z0
	BYTE $0x62; BYTE $0xf2; BYTE $0x5e; BYTE $0x48; BYTE $0x52; BYTE $0xc5
	// VDPBF16PS Z7, Z6, Z1
	BYTE $0x62; BYTE $0xf2; BYTE $0x4e; BYTE $0x48; BYTE $0x52; BYTE $0xcf
	// VDPBF16PS Z9, Z8, Z2
	BYTE $0x62; BYTE $0xd2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0xd1
	// VDPBF16PS Z11, Z10, Z3
	BYTE $0x62; BYTE $0xd2; BYTE $0x2e; BYTE $0x48; BYTE $0x52; BYTE $0xdb
	ADDQ $256, SI
	ADDQ $256, DI
	DECQ CX
	JNZ  bf512loop

	VADDPS        Z1, Z0, Z0
	VADDPS        Z3, Z2, Z2
	VADDPS        Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VMOVHLPS      X0, X0, X1
	VADDPS        X1, X0, X0
	VMOVSHDUP     X0, X1
	VADDSS        X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+56(FP)
	RET

// BF16WIDEN loads eight bf16 values at M as float32 into Y.
#define BF16WIDEN(M, Y) \
	VPMOVZXWD M, Y; \
	VPSLLD    $16, Y, Y

// func dotBF16AVX2(w, x []byte, n int) float32
//
// n must be a positive multiple of 32. Y0-Y3 accumulate, Y4-Y11 hold the
// widened operands.
TEXT ·dotBF16AVX2(SB), NOSPLIT, $0-60
	MOVQ w_base+0(FP), SI
	MOVQ x_base+24(FP), DI
	MOVQ n+48(FP), CX
	SHRQ $5, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

bf2loop:
	BF16WIDEN((SI), Y4)
	BF16WIDEN((DI), Y5)
	BF16WIDEN(16(SI), Y6)
	BF16WIDEN(16(DI), Y7)
	BF16WIDEN(32(SI), Y8)
	BF16WIDEN(32(DI), Y9)
	BF16WIDEN(48(SI), Y10)
	BF16WIDEN(48(DI), Y11)
	VFMADD231PS Y5, Y4, Y0
	VFMADD231PS Y7, Y6, Y1
	VFMADD231PS Y9, Y8, Y2
	VFMADD231PS Y11, Y10, Y3
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  bf2loop

	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VADDPS       X1, X0, X0
	VMOVSHDUP    X0, X1
	VADDSS       X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+56(FP)
	RET
