//go:build !purego

#include "textflag.h"

// quantizeQ8_KAVX2 quantizes Q8_K activation blocks with AVX2, giving the
// bytes of quantizeQ8_K: per block of 256, the value of largest magnitude
// (the first one on a tie) sets iscale = -127/max, each quant is the
// float32 product iscale*x rounded to nearest even (VCVTPS2DQ under the
// default rounding mode, which for |iscale*x| <= 127 is what nearestInt
// computes), d = 1/iscale, and the sums of each 16 quants follow.
//
// It stops before a block whose largest magnitude is zero, infinite, NaN
// or so small that iscale would overflow, and returns the number of
// blocks done; the caller quantizes that block with the reference.
//
// The largest magnitude is found as the unsigned integer maximum of the
// bit patterns with the sign cleared, which orders finite values, then
// infinities, then NaNs, so one comparison rejects both.

DATA q8kPerm<>+0(SB)/4, $0
DATA q8kPerm<>+4(SB)/4, $4
DATA q8kPerm<>+8(SB)/4, $1
DATA q8kPerm<>+12(SB)/4, $5
DATA q8kPerm<>+16(SB)/4, $2
DATA q8kPerm<>+20(SB)/4, $6
DATA q8kPerm<>+24(SB)/4, $3
DATA q8kPerm<>+28(SB)/4, $7
GLOBL q8kPerm<>(SB), RODATA|NOPTR, $32

// Smallest accepted largest magnitude: 2^-100, far above 127/MaxFloat32.
#define Q8K_MINBITS $0x0d800000
#define Q8K_INFBITS $0x7f800000

// QUANT32(off, D) quantizes the 32 floats at SI+4*off into the bytes at
// DI+4+off and leaves in D their per-128-bit-lane sums of four (lane 0:
// the first 16 quants, lane 1: the next 16).
#define QUANT32(off, D) \
	VMULPS (4*(off))(SI), Y15, Y0 \
	VMULPS (4*(off)+32)(SI), Y15, Y1 \
	VMULPS (4*(off)+64)(SI), Y15, Y2 \
	VMULPS (4*(off)+96)(SI), Y15, Y3 \
	VCVTPS2DQ Y0, Y0 \
	VCVTPS2DQ Y1, Y1 \
	VCVTPS2DQ Y2, Y2 \
	VCVTPS2DQ Y3, Y3 \
	VPMINSD Y14, Y0, Y0 \
	VPMINSD Y14, Y1, Y1 \
	VPMINSD Y14, Y2, Y2 \
	VPMINSD Y14, Y3, Y3 \
	VPACKSSDW Y1, Y0, Y0 \
	VPACKSSDW Y3, Y2, Y2 \
	VPACKSSWB Y2, Y0, Y0 \
	VPERMD Y0, Y13, Y0 \
	VMOVDQU Y0, (4+(off))(DI) \
	VPMADDUBSW Y0, Y12, Y0 \
	VPMADDWD Y11, Y0, D

// func quantizeQ8_KAVX2(dst []byte, src []float32, nb int) int
TEXT ·quantizeQ8_KAVX2(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ nb+48(FP), CX
	XORQ R8, R8 // blocks done

	MOVL $0x7fffffff, AX
	VMOVD AX, X10
	VPBROADCASTD X10, Y10 // sign-clearing mask
	MOVL $127, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	VMOVDQU q8kPerm<>(SB), Y13
	MOVL $0x01010101, AX
	VMOVD AX, X12
	VPBROADCASTD X12, Y12 // unsigned bytes 1
	MOVL $0x00010001, AX
	VMOVD AX, X11
	VPBROADCASTD X11, Y11 // int16 1

block:
	CMPQ R8, CX
	JGE  done

	// Largest magnitude, as bits.
	VPAND   (SI), Y10, Y4
	VPAND   32(SI), Y10, Y5
	VPAND   64(SI), Y10, Y6
	VPAND   96(SI), Y10, Y7
	MOVQ    $128, AX
amax:
	VPAND   (SI)(AX*1), Y10, Y0
	VPAND   32(SI)(AX*1), Y10, Y1
	VPAND   64(SI)(AX*1), Y10, Y2
	VPAND   96(SI)(AX*1), Y10, Y3
	VPMAXUD Y0, Y4, Y4
	VPMAXUD Y1, Y5, Y5
	VPMAXUD Y2, Y6, Y6
	VPMAXUD Y3, Y7, Y7
	ADDQ    $128, AX
	CMPQ    AX, $1024
	JLT     amax
	VPMAXUD Y5, Y4, Y4
	VPMAXUD Y7, Y6, Y6
	VPMAXUD Y6, Y4, Y4
	VEXTRACTI128 $1, Y4, X5
	VPMAXUD X5, X4, X4
	VPSHUFD $0x4e, X4, X5
	VPMAXUD X5, X4, X4
	VPSHUFD $0xb1, X4, X5
	VPMAXUD X5, X4, X4 // every lane: the largest magnitude's bits
	VMOVD   X4, AX
	CMPL    AX, Q8K_MINBITS
	JB      done
	CMPL    AX, Q8K_INFBITS
	JAE     done
	VPBROADCASTD X4, Y4

	// The first value of that magnitude.
	XORQ AX, AX
find:
	VPAND     (SI)(AX*4), Y10, Y0
	VPCMPEQD  Y4, Y0, Y0
	VMOVMSKPS Y0, DX
	TESTL     DX, DX
	JNZ       found
	ADDQ      $8, AX
	JMP       find
found:
	BSFL  DX, DX
	ADDQ  DX, AX
	VMOVSS (SI)(AX*4), X1 // max
	MOVL  $0xc2fe0000, AX // -127
	VMOVD AX, X0
	VDIVSS X1, X0, X0 // iscale
	MOVL  $0x3f800000, AX // 1
	VMOVD AX, X2
	VDIVSS X0, X2, X2
	VMOVSS X2, (DI) // d
	VBROADCASTSS X0, Y15

	QUANT32(0, Y8)
	QUANT32(32, Y9)
	VPHADDD Y9, Y8, Y8 // lane 0: sums of 16 quants 0, 2; lane 1: 1, 3 (in pairs)
	QUANT32(64, Y9)
	QUANT32(96, Y5)
	VPHADDD Y5, Y9, Y9
	VPHADDD Y9, Y8, Y8 // lane 0: groups 0 2 4 6, lane 1: 1 3 5 7
	QUANT32(128, Y6)
	QUANT32(160, Y9)
	VPHADDD Y9, Y6, Y6
	QUANT32(192, Y9)
	QUANT32(224, Y5)
	VPHADDD Y5, Y9, Y9
	VPHADDD Y9, Y6, Y6   // lane 0: groups 8 10 12 14, lane 1: 9 11 13 15
	VPACKSSDW Y6, Y8, Y8 // lane 0: even groups, lane 1: odd groups
	VEXTRACTI128 $1, Y8, X9
	VPUNPCKLWD X9, X8, X0
	VPUNPCKHWD X9, X8, X1
	VMOVDQU X0, (4+256)(DI)
	VMOVDQU X1, (4+256+16)(DI)

	ADDQ $292, DI
	ADDQ $1024, SI
	INCQ R8
	JMP  block

done:
	VZEROUPPER
	MOVQ R8, ret+56(FP)
	RET
