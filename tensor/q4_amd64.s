//go:build !purego

#include "textflag.h"
#include "q4tile_amd64.h"

// Q4_0 kernels with one lane per weight row (eight rows at a time) rather
// than one lane per group of four elements: the 8×16 bytes of nibbles of
// one block of eight rows are transposed so that dword k of row r lands in
// lane r of vector V_k, whose low nibbles are elements 4k..4k+3 and high
// nibbles elements 16+4k..16+4k+3. Each activation group of four bytes is
// then broadcast and multiplied into all eight rows at once, so a lane
// ends the block holding its row's whole block sum: no horizontal sums,
// and the block's float step, acc = fma(float(sum), dw*dx, acc), is done
// for eight rows by one instruction. That is llama.cpp's float order for
// Q4_0 (see q8_amd64.s), so these agree bit for bit with the other Q4_0
// kernels.
//
// The activations come in the expanded layout of expandQ8_0: 40-byte
// blocks of dx float32 | -8*sum(q) int32 | q[32], which saves the kernels
// converting scales and correcting for the nibbles' offset of 8.
//
// Weight rows: rows 0-3 at SI, SI+BX, SI+2*BX, SI+R11 (R11 = 3*BX), rows
// 4-7 at the same offsets from R9 (= SI+4*BX).

DATA ones8<>+0(SB)/4, $0x01010101
GLOBL ones8<>(SB), RODATA|NOPTR, $4

// func expandQ8_0AVX2(dst, src []byte, nb int, shift int)
TEXT ·expandQ8_0AVX2(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ nb+48(FP), CX
	MOVQ shift+56(FP), AX
	VMOVQ AX, X12
	TESTQ CX, CX
	JZ    xdone
	VPBROADCASTD ones8<>(SB), Y15
	VPBROADCASTD q4ones16<>(SB), Y14
	VPXOR Y13, Y13, Y13

xloop:
	MOVWLZX   (SI), AX
	VMOVD     AX, X0
	VCVTPH2PS X0, X0
	VMOVSS    X0, (DI)
	VMOVDQU   2(SI), Y1
	VMOVDQU   Y1, 8(DI)
	VPMADDUBSW Y1, Y15, Y2 // q in pairs
	VPMADDWD  Y14, Y2, Y2
	VEXTRACTI128 $1, Y2, X3
	VPADDD    X3, X2, X2
	VPSHUFD   $0x4e, X2, X3
	VPADDD    X3, X2, X2
	VPSHUFD   $0xb1, X2, X3
	VPADDD    X3, X2, X2
	VPSLLD    X12, X2, X2
	VPSUBD    X2, X13, X2 // -sum(q)<<shift
	VMOVD     X2, 4(DI)
	ADDQ $34, SI
	ADDQ $40, DI
	DECQ CX
	JNZ  xloop
	VZEROUPPER

xdone:
	RET

// GATHER8D leaves the fp16 scales of the current block of the eight rows
// as float32 in Y13 (rows in order). Clobbers AX, DX, R8.
#define GATHER8D \
	MOVWLZX (SI), AX; \
	MOVWLZX (SI)(BX*1), R8; \
	SHLQ    $16, R8; \
	ORQ     R8, AX; \
	MOVWLZX (SI)(BX*2), R8; \
	SHLQ    $32, R8; \
	ORQ     R8, AX; \
	MOVWLZX (SI)(R11*1), R8; \
	SHLQ    $48, R8; \
	ORQ     R8, AX; \
	MOVWLZX (R9), DX; \
	MOVWLZX (R9)(BX*1), R8; \
	SHLQ    $16, R8; \
	ORQ     R8, DX; \
	MOVWLZX (R9)(BX*2), R8; \
	SHLQ    $32, R8; \
	ORQ     R8, DX; \
	MOVWLZX (R9)(R11*1), R8; \
	SHLQ    $48, R8; \
	ORQ     R8, DX; \
	VMOVQ   AX, X13; \
	VPINSRQ $1, DX, X13, X13; \
	VCVTPH2PS X13, Y13

// NIBBLES8 transposes the current block's nibbles of the eight rows and
// splits them: Y4..Y7 = low nibbles of V_0..V_3 (element groups 0-3),
// Y8..Y11 = high nibbles (groups 4-7). Y15 holds 0x0f bytes; Y0..Y3 are
// clobbered.
#define NIBBLES8 \
	VMOVDQU     2(SI), X0; \
	VINSERTI128 $1, 2(R9), Y0, Y0; \
	VMOVDQU     2(SI)(BX*1), X1; \
	VINSERTI128 $1, 2(R9)(BX*1), Y1, Y1; \
	VMOVDQU     2(SI)(BX*2), X2; \
	VINSERTI128 $1, 2(R9)(BX*2), Y2, Y2; \
	VMOVDQU     2(SI)(R11*1), X3; \
	VINSERTI128 $1, 2(R9)(R11*1), Y3, Y3; \
	VPUNPCKLDQ  Y1, Y0, Y4; \
	VPUNPCKHDQ  Y1, Y0, Y5; \
	VPUNPCKLDQ  Y3, Y2, Y6; \
	VPUNPCKHDQ  Y3, Y2, Y7; \
	VPUNPCKLQDQ Y6, Y4, Y0; \
	VPUNPCKHQDQ Y6, Y4, Y1; \
	VPUNPCKLQDQ Y7, Y5, Y2; \
	VPUNPCKHQDQ Y7, Y5, Y3; \
	VPSRLW      $4, Y0, Y8; \
	VPSRLW      $4, Y1, Y9; \
	VPSRLW      $4, Y2, Y10; \
	VPSRLW      $4, Y3, Y11; \
	VPAND       Y15, Y0, Y4; \
	VPAND       Y15, Y1, Y5; \
	VPAND       Y15, Y2, Y6; \
	VPAND       Y15, Y3, Y7; \
	VPAND       Y15, Y8, Y8; \
	VPAND       Y15, Y9, Y9; \
	VPAND       Y15, Y10, Y10; \
	VPAND       Y15, Y11, Y11

// func q4Rows8AVX2(out []float32, w []byte, wstride int, xx []byte, nb int)
//
// Eight rows, one token; the byte products go through VPMADDUBSW into
// int16 pairs, which stay below 2^15 summed over a block (8 groups of
// 2*15*128), then VPMADDWD makes them int32.
TEXT ·q4Rows8AVX2(SB), NOSPLIT, $0-88
	MOVQ w_base+24(FP), SI
	MOVQ wstride+48(FP), BX
	LEAQ (BX)(BX*2), R11
	LEAQ (SI)(BX*4), R9
	MOVQ xx_base+56(FP), DI
	MOVQ nb+80(FP), CX
	VPBROADCASTD q4nib<>(SB), Y15
	VPBROADCASTD q4ones16<>(SB), Y14
	VXORPS Y12, Y12, Y12

a8loop:
	GATHER8D
	NIBBLES8
	ROW8AVX2
	ADDQ $18, SI
	ADDQ $18, R9
	ADDQ $40, DI
	DECQ CX
	JNZ  a8loop

	MOVQ    out_base+0(FP), AX
	VMOVUPS Y12, (AX)
	VZEROUPPER
	RET

// func q4Rows8VNNI(out []float32, w []byte, wstride int, xx []byte, nb int)
TEXT ·q4Rows8VNNI(SB), NOSPLIT, $0-88
	MOVQ w_base+24(FP), SI
	MOVQ wstride+48(FP), BX
	LEAQ (BX)(BX*2), R11
	LEAQ (SI)(BX*4), R9
	MOVQ xx_base+56(FP), DI
	MOVQ nb+80(FP), CX
	VPBROADCASTD q4nib<>(SB), Y15
	VXORPS Y12, Y12, Y12

v8loop:
	GATHER8D
	NIBBLES8
	// Two chains of four, added at the end.
	VPBROADCASTD  4(DI), Y0
	VPXOR         Y1, Y1, Y1
	VPDPBUSD.BCST 8(DI), Y4, Y0
	VPDPBUSD.BCST 24(DI), Y8, Y1
	VPDPBUSD.BCST 12(DI), Y5, Y0
	VPDPBUSD.BCST 28(DI), Y9, Y1
	VPDPBUSD.BCST 16(DI), Y6, Y0
	VPDPBUSD.BCST 32(DI), Y10, Y1
	VPDPBUSD.BCST 20(DI), Y7, Y0
	VPDPBUSD.BCST 36(DI), Y11, Y1
	VPADDD        Y1, Y0, Y0
	VCVTDQ2PS     Y0, Y0
	VMULPS.BCST   (DI), Y13, Y13
	VFMADD231PS   Y0, Y13, Y12
	ADDQ $18, SI
	ADDQ $18, R9
	ADDQ $40, DI
	DECQ CX
	JNZ  v8loop

	MOVQ    out_base+0(FP), AX
	VMOVUPS Y12, (AX)
	VZEROUPPER
	RET

// func q4Tile8VNNI(out []float32, ostride int, w []byte, wstride int, xx []byte, xstride int, nb int)
TEXT ·q4Tile8VNNI(SB), NOSPLIT, $0-104
	MOVQ w_base+32(FP), SI
	MOVQ wstride+56(FP), BX
	LEAQ (BX)(BX*2), R11
	LEAQ (SI)(BX*4), R9
	MOVQ xx_base+64(FP), DI
	MOVQ xstride+88(FP), R14
	LEAQ (R14)(R14*2), R12
	LEAQ (DI)(R14*4), R13
	MOVQ nb+96(FP), CX
	VPBROADCASTD q4nib<>(SB), Y15
	ZERO8

w8loop:
	GATHER8D
	NIBBLES8
	TILE8
	ADDQ $18, SI
	ADDQ $18, R9
	ADDQ $40, DI
	ADDQ $40, R13
	DECQ CX
	JNZ  w8loop

	STORE8
	VZEROUPPER
	RET
