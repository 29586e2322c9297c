//go:build !purego

#include "textflag.h"

// Q4_K kernels over packed weights (see packQ4_K), AVX-512 VNNI, one lane
// of a 512-bit vector per weight row: sixteen rows at a time.
//
// A packed block of sixteen rows is 2368 bytes at SI:
//
//	0    d[16] fp16, 32 dmin[16] fp16 (row r in element r)
//	64   sc[j][r] u8, the 6-bit scale of sub-block j of row r
//	192  m[i][r][e] u8, the 6-bit min of sub-block 2i+e of row r
//	320  V[i][g], 64 bytes each: lane r holds bytes 4g..4g+3 of row r's
//	     quants of sub-blocks 2i (low nibbles) and 2i+1 (high nibbles)
//
// The activations are expanded Q8_K blocks of 280 bytes (expandQ8_KPacked):
// dx float32 | (bs_2i, bs_2i+1) int16 pairs for i = 0..3, bs_j the sum of
// sub-block j's quants | q[256].
//
// Per row the integer sums are those of the other Q4_K kernels, isum =
// sum_j sc_j*(q·x over sub-block j) and msum = sum_j m_j*bs_j, and so are
// the float steps, a += float(isum)*(d*dx) and b += float(msum)*(dmin*dx)
// block after block, then a-b, so the results agree with them bit for bit.

DATA kpNib<>+0(SB)/4, $0x0f0f0f0f
GLOBL kpNib<>(SB), RODATA|NOPTR, $4

// The kernels walk the four pairs of sub-blocks of a block with a loop,
// to stay small enough for the decoded-instruction cache: BX points at
// the pair's quants, DX at its scales, and AX is 64 times the pair's
// index, the offset of its activations in each token's block.

// KLO leaves the low sub-block of the pair in Z0..Z7 (group g of the
// sixteen rows in Z(g)) and its scales as int32 in Z8; KHI the high
// sub-block. Z15 holds 0x0f bytes.
#define KLO \
	VPANDD    0(BX), Z15, Z0; \
	VPANDD    64(BX), Z15, Z1; \
	VPANDD    128(BX), Z15, Z2; \
	VPANDD    192(BX), Z15, Z3; \
	VPANDD    256(BX), Z15, Z4; \
	VPANDD    320(BX), Z15, Z5; \
	VPANDD    384(BX), Z15, Z6; \
	VPANDD    448(BX), Z15, Z7; \
	VPMOVZXBD 0(DX), Z8

#define KHI \
	VPSRLW    $4, 0(BX), Z0; \
	VPSRLW    $4, 64(BX), Z1; \
	VPSRLW    $4, 128(BX), Z2; \
	VPSRLW    $4, 192(BX), Z3; \
	VPSRLW    $4, 256(BX), Z4; \
	VPSRLW    $4, 320(BX), Z5; \
	VPSRLW    $4, 384(BX), Z6; \
	VPSRLW    $4, 448(BX), Z7; \
	VPANDD    Z15, Z0, Z0; \
	VPANDD    Z15, Z1, Z1; \
	VPANDD    Z15, Z2, Z2; \
	VPANDD    Z15, Z3, Z3; \
	VPANDD    Z15, Z4, Z4; \
	VPANDD    Z15, Z5, Z5; \
	VPANDD    Z15, Z6, Z6; \
	VPANDD    Z15, Z7, Z7; \
	VPMOVZXBD 16(DX), Z8

// KTOK(X, H, P, S): the token at X, sub-block 2i+H (in Z0..Z8): the
// sixteen rows' sums into P, then S += P*sc.
#define KTOK(X, H, P, S) \
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

// KPAIRS runs K over the four pairs of the block at SI.
#define KSTART \
	LEAQ 320(SI), BX; \
	LEAQ 64(SI), DX; \
	XORQ AX, AX

#define KNEXT(L) \
	ADDQ $512, BX; \
	ADDQ $32, DX; \
	ADDQ $64, AX; \
	CMPQ AX, $256; \
	JNE  L

// KMINS loads the current block's mins as int16 pairs into Z0..Z3 and
// its d and dmin as float32 into Z9 and Z10.
#define KMINS \
	VPMOVZXBW 192(SI), Z0; \
	VPMOVZXBW 224(SI), Z1; \
	VPMOVZXBW 256(SI), Z2; \
	VPMOVZXBW 288(SI), Z3; \
	VCVTPH2PS (SI), Z9; \
	VCVTPH2PS 32(SI), Z10

// KMSUM(X, M): the token at X's min sums of the sixteen rows into M.
#define KMSUM(X, M) \
	VPXORD        M, M, M; \
	VPDPWSSD.BCST 4(X), Z0, M; \
	VPDPWSSD.BCST 8(X), Z1, M; \
	VPDPWSSD.BCST 12(X), Z2, M; \
	VPDPWSSD.BCST 16(X), Z3, M

// func q4KPackedRows16VNNI(out []float32, w []byte, xx []byte, nb int)
TEXT ·q4KPackedRows16VNNI(SB), NOSPLIT, $0-80
	MOVQ w_base+24(FP), SI
	MOVQ xx_base+48(FP), DI
	MOVQ nb+72(FP), CX
	VPBROADCASTD kpNib<>(SB), Z15
	VPXORD Z12, Z12, Z12 // a
	VPXORD Z13, Z13, Z13 // b

kr16loop:
	VPXORD Z16, Z16, Z16
	KSTART

kr16pairs:
	PREFETCHT0 8192(BX)
	PREFETCHT0 8256(BX)
	PREFETCHT0 8320(BX)
	PREFETCHT0 8384(BX)
	PREFETCHT0 8448(BX)
	PREFETCHT0 8512(BX)
	PREFETCHT0 8576(BX)
	PREFETCHT0 8640(BX)
	PREFETCHT0 8704(BX)
	KLO
	KTOK(DI, 0, Z24, Z16)
	KHI
	KTOK(DI, 1, Z25, Z16)
	KNEXT(kr16pairs)

	PREFETCHT0 8192(SI)
	PREFETCHT0 8256(SI)
	PREFETCHT0 8320(SI)
	PREFETCHT0 8384(SI)
	PREFETCHT0 8448(SI)
	KMINS
	KMSUM(DI, Z17)
	VCVTDQ2PS   Z16, Z16
	VCVTDQ2PS   Z17, Z17
	VMULPS.BCST (DI), Z9, Z9
	VMULPS.BCST (DI), Z10, Z10
	VFMADD231PS Z16, Z9, Z12
	VFMADD231PS Z17, Z10, Z13
	ADDQ $2368, SI
	ADDQ $280, DI
	DECQ CX
	JNZ  kr16loop

	VSUBPS  Z13, Z12, Z12
	MOVQ    out_base+0(FP), AX
	VMOVUPS Z12, (AX)
	VZEROUPPER
	RET

// KTOK8(H): sub-block 2i+H against the eight tokens at DI, R8..R14, into
// their int sums Z16..Z23.
#define KTOK8(H) \
	KTOK(DI, H, Z24, Z16); \
	KTOK(R8, H, Z25, Z17); \
	KTOK(R9, H, Z26, Z18); \
	KTOK(R10, H, Z27, Z19); \
	KTOK(R11, H, Z28, Z20); \
	KTOK(R12, H, Z29, Z21); \
	KTOK(R13, H, Z30, Z22); \
	KTOK(R14, H, Z31, Z23)

// KFIN(X, S, OFF): the float step of the token at X with int sum S; its
// accumulators a and b live in the frame at OFF and OFF+512. Needs KMINS.
#define KFIN(X, S, OFF) \
	KMSUM(X, Z4); \
	VCVTDQ2PS   S, S; \
	VCVTDQ2PS   Z4, Z4; \
	VMULPS.BCST (X), Z9, Z5; \
	VMULPS.BCST (X), Z10, Z6; \
	VMOVUPS     OFF(SP), Z7; \
	VFMADD231PS S, Z5, Z7; \
	VMOVUPS     Z7, OFF(SP); \
	VMOVUPS     (OFF+512)(SP), Z7; \
	VFMADD231PS Z4, Z6, Z7; \
	VMOVUPS     Z7, (OFF+512)(SP)

// KOUT(OFF): out[t] = a - b for the token whose accumulators are at OFF;
// AX points at its outputs, then at the next token's.
#define KOUT(OFF) \
	VMOVUPS OFF(SP), Z0; \
	VSUBPS  (OFF+512)(SP), Z0, Z0; \
	VMOVUPS Z0, (AX); \
	ADDQ    DX, AX

// func q4KPackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)
// Sixteen rows, eight tokens: token t's blocks at xx + t*xstride, in DI,
// R8..R14.
TEXT ·q4KPackedTile8VNNI(SB), 0, $1024-96
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
	VPBROADCASTD kpNib<>(SB), Z15
	VPXORD  Z0, Z0, Z0
	VMOVUPS Z0, 0(SP)
	VMOVUPS Z0, 64(SP)
	VMOVUPS Z0, 128(SP)
	VMOVUPS Z0, 192(SP)
	VMOVUPS Z0, 256(SP)
	VMOVUPS Z0, 320(SP)
	VMOVUPS Z0, 384(SP)
	VMOVUPS Z0, 448(SP)
	VMOVUPS Z0, 512(SP)
	VMOVUPS Z0, 576(SP)
	VMOVUPS Z0, 640(SP)
	VMOVUPS Z0, 704(SP)
	VMOVUPS Z0, 768(SP)
	VMOVUPS Z0, 832(SP)
	VMOVUPS Z0, 896(SP)
	VMOVUPS Z0, 960(SP)

kt8loop:
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	KSTART

kt8pairs:
	KLO
	KTOK8(0)
	KHI
	KTOK8(1)
	KNEXT(kt8pairs)

	KMINS
	KFIN(DI, Z16, 0)
	KFIN(R8, Z17, 64)
	KFIN(R9, Z18, 128)
	KFIN(R10, Z19, 192)
	KFIN(R11, Z20, 256)
	KFIN(R12, Z21, 320)
	KFIN(R13, Z22, 384)
	KFIN(R14, Z23, 448)
	ADDQ $2368, SI
	ADDQ $280, DI
	ADDQ $280, R8
	ADDQ $280, R9
	ADDQ $280, R10
	ADDQ $280, R11
	ADDQ $280, R12
	ADDQ $280, R13
	ADDQ $280, R14
	DECQ CX
	JNZ  kt8loop

	MOVQ out_base+0(FP), AX
	MOVQ ostride+24(FP), DX
	SHLQ $2, DX
	KOUT(0)
	KOUT(64)
	KOUT(128)
	KOUT(192)
	KOUT(256)
	KOUT(320)
	KOUT(384)
	KOUT(448)
	VZEROUPPER
	RET

// KTOK4(H): sub-block 2i+H against the four tokens at DI, R8..R10.
#define KTOK4(H) \
	KTOK(DI, H, Z24, Z16); \
	KTOK(R8, H, Z25, Z17); \
	KTOK(R9, H, Z26, Z18); \
	KTOK(R10, H, Z27, Z19)

// KFIN4 is KFIN with b at OFF+256, for the four-token frame.
#define KFIN4(X, S, OFF) \
	KMSUM(X, Z4); \
	VCVTDQ2PS   S, S; \
	VCVTDQ2PS   Z4, Z4; \
	VMULPS.BCST (X), Z9, Z5; \
	VMULPS.BCST (X), Z10, Z6; \
	VMOVUPS     OFF(SP), Z7; \
	VFMADD231PS S, Z5, Z7; \
	VMOVUPS     Z7, OFF(SP); \
	VMOVUPS     (OFF+256)(SP), Z7; \
	VFMADD231PS Z4, Z6, Z7; \
	VMOVUPS     Z7, (OFF+256)(SP)

#define KOUT4(OFF) \
	VMOVUPS OFF(SP), Z0; \
	VSUBPS  (OFF+256)(SP), Z0, Z0; \
	VMOVUPS Z0, (AX); \
	ADDQ    DX, AX

// func q4KPackedTile4VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)
// Sixteen rows, four tokens at DI, R8..R10.
TEXT ·q4KPackedTile4VNNI(SB), 0, $512-96
	MOVQ w_base+32(FP), SI
	MOVQ xx_base+56(FP), DI
	MOVQ xstride+80(FP), AX
	LEAQ (DI)(AX*1), R8
	LEAQ (R8)(AX*1), R9
	LEAQ (R9)(AX*1), R10
	MOVQ nb+88(FP), CX
	VPBROADCASTD kpNib<>(SB), Z15
	VPXORD  Z0, Z0, Z0
	VMOVUPS Z0, 0(SP)
	VMOVUPS Z0, 64(SP)
	VMOVUPS Z0, 128(SP)
	VMOVUPS Z0, 192(SP)
	VMOVUPS Z0, 256(SP)
	VMOVUPS Z0, 320(SP)
	VMOVUPS Z0, 384(SP)
	VMOVUPS Z0, 448(SP)

kt4loop:
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	KSTART

kt4pairs:
	PREFETCHT0 8192(BX)
	PREFETCHT0 8256(BX)
	PREFETCHT0 8320(BX)
	PREFETCHT0 8384(BX)
	PREFETCHT0 8448(BX)
	PREFETCHT0 8512(BX)
	PREFETCHT0 8576(BX)
	PREFETCHT0 8640(BX)
	PREFETCHT0 8704(BX)
	KLO
	KTOK4(0)
	KHI
	KTOK4(1)
	KNEXT(kt4pairs)

	KMINS
	KFIN4(DI, Z16, 0)
	KFIN4(R8, Z17, 64)
	KFIN4(R9, Z18, 128)
	KFIN4(R10, Z19, 192)
	ADDQ $2368, SI
	ADDQ $280, DI
	ADDQ $280, R8
	ADDQ $280, R9
	ADDQ $280, R10
	DECQ CX
	JNZ  kt4loop

	MOVQ out_base+0(FP), AX
	MOVQ ostride+24(FP), DX
	SHLQ $2, DX
	KOUT4(0)
	KOUT4(64)
	KOUT4(128)
	KOUT4(192)
	VZEROUPPER
	RET
