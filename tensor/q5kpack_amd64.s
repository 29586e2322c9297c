//go:build !purego

#include "textflag.h"

// Q5_K kernels over packed weights (see packQ5_K), AVX-512 VNNI, one lane
// of a 512-bit vector per weight row: sixteen rows at a time.
//
// A packed block of sixteen rows is 2880 bytes at SI: the packed Q4_K
// block's 2368 (q4kpack_amd64.s: d, dmin, scales, mins, then the low four
// bits of the quants in V[i][g]) followed at 2368 by the fifth bits,
// Q[i][s] for the pair i and its sub-block 2i+s, 64 bytes each: bit g of
// byte 4r+k is the fifth bit of quant 4g+k of row r's sub-block.
//
// The activations are those of the packed Q4_K kernels (expandQ8_KPacked).
// Per row the integer sums are those of the other Q5_K kernels, and so
// are the float steps, sum = sum + (d*dx)*float(isum), then
// sum = sum - (dmin*dx)*float(msum), block after block, so the results
// agree with them bit for bit.

DATA k5Nib<>+0(SB)/4, $0x0f0f0f0f
GLOBL k5Nib<>(SB), RODATA|NOPTR, $4
DATA k5Bit<>+0(SB)/4, $0x10101010
GLOBL k5Bit<>(SB), RODATA|NOPTR, $4

// K5G(OP, N, NIB, Z): a group's quants into Z: the fifth bits of Z11
// moved to bit 4 by OP $N, masked by Z14 (0x10 bytes), ORed with the low
// four bits of NIB (masked by Z15). VPTERNLOGD 0xF8 is A | (B & C).
#define K5G(OP, N, NIB, Z) \
	OP         $N, Z11, Z13; \
	VPANDD     Z14, Z13, Z; \
	VPTERNLOGD $0xF8, NIB, Z15, Z

// K5LO leaves the low sub-block of the pair (quants at BX, fifth bits at
// SI+2368+2*AX) in Z0..Z7 and its scales in Z8; K5HI the high sub-block.
#define K5LO \
	VMOVDQU64 2368(SI)(AX*2), Z11; \
	K5G(VPSLLW, 4, 0(BX), Z0); \
	K5G(VPSLLW, 3, 64(BX), Z1); \
	K5G(VPSLLW, 2, 128(BX), Z2); \
	K5G(VPSLLW, 1, 192(BX), Z3); \
	K5G(VPSLLW, 0, 256(BX), Z4); \
	K5G(VPSRLW, 1, 320(BX), Z5); \
	K5G(VPSRLW, 2, 384(BX), Z6); \
	K5G(VPSRLW, 3, 448(BX), Z7); \
	VPMOVZXBD 0(DX), Z8

#define K5HIG(OFF, OP, N, Z) \
	VPSRLW $4, OFF(BX), Z12; \
	K5G(OP, N, Z12, Z)

#define K5HI \
	VMOVDQU64 2432(SI)(AX*2), Z11; \
	K5HIG(0, VPSLLW, 4, Z0); \
	K5HIG(64, VPSLLW, 3, Z1); \
	K5HIG(128, VPSLLW, 2, Z2); \
	K5HIG(192, VPSLLW, 1, Z3); \
	K5HIG(256, VPSLLW, 0, Z4); \
	K5HIG(320, VPSRLW, 1, Z5); \
	K5HIG(384, VPSRLW, 2, Z6); \
	K5HIG(448, VPSRLW, 3, Z7); \
	VPMOVZXBD 16(DX), Z8

// K5TOK(X, H, P, S): the token at X, sub-block 2i+H (in Z0..Z8): the
// sixteen rows' sums into P, then S += P*sc.
#define K5TOK(X, H, P, S) \
	VPXORD        P, P, P; \
	VPDPBUSD.BCST (20+32*H)(X)(AX*1), Z0, P; \
	VPDPBUSD.BCST (24+32*H)(X)(AX*1), Z1, P; \
	VPDPBUSD.BCST (28+32*H)(X)(AX*1), Z2, P; \
	VPDPBUSD.BCST (32+32*H)(X)(AX*1), Z3, P; \
	VPDPBUSD.BCST (36+32*H)(X)(AX*1), Z4, P; \
	VPDPBUSD.BCST (40+32*H)(X)(AX*1), Z5, P; \
	VPDPBUSD.BCST (44+32*H)(X)(AX*1), Z6, P; \
	VPDPBUSD.BCST (48+32*H)(X)(AX*1), Z7, P; \
	VPMULLD       Z8, P, P; \
	VPADDD        P, S, S

#define K5START \
	LEAQ 320(SI), BX; \
	LEAQ 64(SI), DX; \
	XORQ AX, AX

#define K5NEXT(L) \
	ADDQ $512, BX; \
	ADDQ $32, DX; \
	ADDQ $64, AX; \
	CMPQ AX, $256; \
	JNE  L

// K5MINS loads the block's mins as int16 pairs into Z0..Z3 and its d and
// dmin as float32 into Z9 and Z10.
#define K5MINS \
	VPMOVZXBW 192(SI), Z0; \
	VPMOVZXBW 224(SI), Z1; \
	VPMOVZXBW 256(SI), Z2; \
	VPMOVZXBW 288(SI), Z3; \
	VCVTPH2PS (SI), Z9; \
	VCVTPH2PS 32(SI), Z10

// K5FIN(X, S, A): the token at X's float step into A (a register):
// A = A + (d*dx)*float(S), then A = A - (dmin*dx)*float(msum).
#define K5FIN(X, S, A) \
	VPXORD        Z4, Z4, Z4; \
	VPDPWSSD.BCST 4(X), Z0, Z4; \
	VPDPWSSD.BCST 8(X), Z1, Z4; \
	VPDPWSSD.BCST 12(X), Z2, Z4; \
	VPDPWSSD.BCST 16(X), Z3, Z4; \
	VCVTDQ2PS     S, S; \
	VCVTDQ2PS     Z4, Z4; \
	VMULPS.BCST   (X), Z9, Z5; \
	VMULPS        S, Z5, Z5; \
	VADDPS        Z5, A, A; \
	VMULPS.BCST   (X), Z10, Z6; \
	VMULPS        Z4, Z6, Z6; \
	VSUBPS        Z6, A, A

// func q5KPackedRows16VNNI(out []float32, w []byte, xx []byte, nb int)
TEXT ·q5KPackedRows16VNNI(SB), NOSPLIT, $0-80
	MOVQ w_base+24(FP), SI
	MOVQ xx_base+48(FP), DI
	MOVQ nb+72(FP), CX
	VPBROADCASTD k5Nib<>(SB), Z15
	VPBROADCASTD k5Bit<>(SB), Z14
	VPXORD Z20, Z20, Z20

k5r16loop:
	VPXORD Z16, Z16, Z16
	K5START

k5r16pairs:
	PREFETCHT0 8192(BX)
	PREFETCHT0 8256(BX)
	PREFETCHT0 8320(BX)
	PREFETCHT0 8384(BX)
	PREFETCHT0 8448(BX)
	PREFETCHT0 8512(BX)
	PREFETCHT0 8576(BX)
	PREFETCHT0 8640(BX)
	PREFETCHT0 8704(BX)
	PREFETCHT0 10560(SI)(AX*2)
	PREFETCHT0 10624(SI)(AX*2)
	K5LO
	K5TOK(DI, 0, Z24, Z16)
	K5HI
	K5TOK(DI, 1, Z25, Z16)
	K5NEXT(k5r16pairs)

	PREFETCHT0 8192(SI)
	PREFETCHT0 8256(SI)
	PREFETCHT0 8320(SI)
	PREFETCHT0 8384(SI)
	PREFETCHT0 8448(SI)
	K5MINS
	K5FIN(DI, Z16, Z20)
	ADDQ $2880, SI
	ADDQ $280, DI
	DECQ CX
	JNZ  k5r16loop

	MOVQ    out_base+0(FP), AX
	VMOVUPS Z20, (AX)
	VZEROUPPER
	RET

#define K5TOK8(H) \
	K5TOK(DI, H, Z24, Z16); \
	K5TOK(R8, H, Z25, Z17); \
	K5TOK(R9, H, Z26, Z18); \
	K5TOK(R10, H, Z27, Z19); \
	K5TOK(R11, H, Z28, Z20); \
	K5TOK(R12, H, Z29, Z21); \
	K5TOK(R13, H, Z30, Z22); \
	K5TOK(R14, H, Z31, Z23)

// K5FINM(X, S, OFF): K5FIN with the accumulator in the frame at OFF.
#define K5FINM(X, S, OFF) \
	VMOVUPS OFF(SP), Z7; \
	K5FIN(X, S, Z7); \
	VMOVUPS Z7, OFF(SP)

// func q5KPackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)
// Sixteen rows, eight tokens at DI, R8..R14; their int sums in Z16..Z23
// and their accumulators in the frame.
TEXT ·q5KPackedTile8VNNI(SB), 0, $512-96
	MOVQ w_base+32(FP), SI
	MOVQ xx_base+56(FP), DI
	MOVQ xstride+80(FP), AX
	LEAQ (DI)(AX*1), R8
	LEAQ (R8)(AX*1), R9
	LEAQ (R9)(AX*1), R10
	LEAQ (R10)(AX*1), R11
	LEAQ (R11)(AX*1), R12
	LEAQ (R12)(AX*1), R13
	LEAQ (R13)(AX*1), R14
	MOVQ nb+88(FP), CX
	VPBROADCASTD k5Nib<>(SB), Z15
	VPBROADCASTD k5Bit<>(SB), Z14
	VPXORD  Z0, Z0, Z0
	VMOVUPS Z0, 0(SP)
	VMOVUPS Z0, 64(SP)
	VMOVUPS Z0, 128(SP)
	VMOVUPS Z0, 192(SP)
	VMOVUPS Z0, 256(SP)
	VMOVUPS Z0, 320(SP)
	VMOVUPS Z0, 384(SP)
	VMOVUPS Z0, 448(SP)

k5t8loop:
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	K5START

k5t8pairs:
	K5LO
	K5TOK8(0)
	K5HI
	K5TOK8(1)
	K5NEXT(k5t8pairs)

	K5MINS
	K5FINM(DI, Z16, 0)
	K5FINM(R8, Z17, 64)
	K5FINM(R9, Z18, 128)
	K5FINM(R10, Z19, 192)
	K5FINM(R11, Z20, 256)
	K5FINM(R12, Z21, 320)
	K5FINM(R13, Z22, 384)
	K5FINM(R14, Z23, 448)
	ADDQ $2880, SI
	ADDQ $280, DI
	ADDQ $280, R8
	ADDQ $280, R9
	ADDQ $280, R10
	ADDQ $280, R11
	ADDQ $280, R12
	ADDQ $280, R13
	ADDQ $280, R14
	DECQ CX
	JNZ  k5t8loop

	MOVQ    out_base+0(FP), AX
	MOVQ    ostride+24(FP), DX
	SHLQ    $2, DX
	VMOVUPS 0(SP), Z0
	VMOVUPS Z0, (AX)
	ADDQ    DX, AX
	VMOVUPS 64(SP), Z0
	VMOVUPS Z0, (AX)
	ADDQ    DX, AX
	VMOVUPS 128(SP), Z0
	VMOVUPS Z0, (AX)
	ADDQ    DX, AX
	VMOVUPS 192(SP), Z0
	VMOVUPS Z0, (AX)
	ADDQ    DX, AX
	VMOVUPS 256(SP), Z0
	VMOVUPS Z0, (AX)
	ADDQ    DX, AX
	VMOVUPS 320(SP), Z0
	VMOVUPS Z0, (AX)
	ADDQ    DX, AX
	VMOVUPS 384(SP), Z0
	VMOVUPS Z0, (AX)
	ADDQ    DX, AX
	VMOVUPS 448(SP), Z0
	VMOVUPS Z0, (AX)
	VZEROUPPER
	RET

#define K5TOK4(H) \
	K5TOK(DI, H, Z24, Z16); \
	K5TOK(R8, H, Z25, Z17); \
	K5TOK(R9, H, Z26, Z18); \
	K5TOK(R10, H, Z27, Z19)

// func q5KPackedTile4VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)
// Sixteen rows, four tokens at DI, R8..R10; their int sums in Z16..Z19
// and their accumulators in Z20..Z23.
TEXT ·q5KPackedTile4VNNI(SB), NOSPLIT, $0-96
	MOVQ w_base+32(FP), SI
	MOVQ xx_base+56(FP), DI
	MOVQ xstride+80(FP), AX
	LEAQ (DI)(AX*1), R8
	LEAQ (R8)(AX*1), R9
	LEAQ (R9)(AX*1), R10
	MOVQ nb+88(FP), CX
	VPBROADCASTD k5Nib<>(SB), Z15
	VPBROADCASTD k5Bit<>(SB), Z14
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

k5t4loop:
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	K5START

k5t4pairs:
	PREFETCHT0 8192(BX)
	PREFETCHT0 8256(BX)
	PREFETCHT0 8320(BX)
	PREFETCHT0 8384(BX)
	PREFETCHT0 8448(BX)
	PREFETCHT0 8512(BX)
	PREFETCHT0 8576(BX)
	PREFETCHT0 8640(BX)
	PREFETCHT0 8704(BX)
	PREFETCHT0 10560(SI)(AX*2)
	PREFETCHT0 10624(SI)(AX*2)
	K5LO
	K5TOK4(0)
	K5HI
	K5TOK4(1)
	K5NEXT(k5t4pairs)

	K5MINS
	K5FIN(DI, Z16, Z20)
	K5FIN(R8, Z17, Z21)
	K5FIN(R9, Z18, Z22)
	K5FIN(R10, Z19, Z23)
	ADDQ $2880, SI
	ADDQ $280, DI
	ADDQ $280, R8
	ADDQ $280, R9
	ADDQ $280, R10
	DECQ CX
	JNZ  k5t4loop

	MOVQ    out_base+0(FP), AX
	MOVQ    ostride+24(FP), DX
	SHLQ    $2, DX
	VMOVUPS Z20, (AX)
	ADDQ    DX, AX
	VMOVUPS Z21, (AX)
	ADDQ    DX, AX
	VMOVUPS Z22, (AX)
	ADDQ    DX, AX
	VMOVUPS Z23, (AX)
	VZEROUPPER
	RET
