//go:build !purego

#include "textflag.h"
#include "kpack_amd64.h"

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
	KPF9
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

// KFIN(X, S, A, B): the float step of the token at X with int sum S; its
// accumulators a and b live in the frame at A and B. Needs KMINS.
#define KFIN(X, S, A, B) \
	KMSUM(X, Z4); \
	VCVTDQ2PS   S, S; \
	VCVTDQ2PS   Z4, Z4; \
	VMULPS.BCST (X), Z9, Z5; \
	VMULPS.BCST (X), Z10, Z6; \
	VMOVUPS     A(SP), Z7; \
	VFMADD231PS S, Z5, Z7; \
	VMOVUPS     Z7, A(SP); \
	VMOVUPS     B(SP), Z7; \
	VFMADD231PS Z4, Z6, Z7; \
	VMOVUPS     Z7, B(SP)

// KOUT(A, B): out[t] = a - b for the token whose accumulators are at A
// and B; AX points at its outputs, then at the next token's.
#define KOUT(A, B) \
	VMOVUPS A(SP), Z0; \
	VSUBPS  B(SP), Z0, Z0; \
	KSTORE(Z0)

// func q4KPackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)
// Sixteen rows, eight tokens: token t's blocks at xx + t*xstride, in DI,
// R8..R14.
TEXT ·q4KPackedTile8VNNI(SB), 0, $1024-96
	MOVQ w_base+32(FP), SI
	MOVQ xx_base+56(FP), DI
	MOVQ xstride+80(FP), AX
	KPTRS8
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
	KFIN(DI, Z16, 0, 512)
	KFIN(R8, Z17, 64, 576)
	KFIN(R9, Z18, 128, 640)
	KFIN(R10, Z19, 192, 704)
	KFIN(R11, Z20, 256, 768)
	KFIN(R12, Z21, 320, 832)
	KFIN(R13, Z22, 384, 896)
	KFIN(R14, Z23, 448, 960)
	ADDQ $2368, SI
	KADV8(280)
	DECQ CX
	JNZ  kt8loop

	MOVQ out_base+0(FP), AX
	MOVQ ostride+24(FP), DX
	SHLQ $2, DX
	KOUT(0, 512)
	KOUT(64, 576)
	KOUT(128, 640)
	KOUT(192, 704)
	KOUT(256, 768)
	KOUT(320, 832)
	KOUT(384, 896)
	KOUT(448, 960)
	VZEROUPPER
	RET

// func q4KPackedTile4VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)
// Sixteen rows, four tokens at DI, R8..R10.
TEXT ·q4KPackedTile4VNNI(SB), 0, $512-96
	MOVQ w_base+32(FP), SI
	MOVQ xx_base+56(FP), DI
	MOVQ xstride+80(FP), AX
	KPTRS4
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
	KPF9
	KLO
	KTOK4(0)
	KHI
	KTOK4(1)
	KNEXT(kt4pairs)

	KMINS
	KFIN(DI, Z16, 0, 256)
	KFIN(R8, Z17, 64, 320)
	KFIN(R9, Z18, 128, 384)
	KFIN(R10, Z19, 192, 448)
	ADDQ $2368, SI
	KADV4(280)
	DECQ CX
	JNZ  kt4loop

	MOVQ out_base+0(FP), AX
	MOVQ ostride+24(FP), DX
	SHLQ $2, DX
	KOUT(0, 256)
	KOUT(64, 320)
	KOUT(128, 384)
	KOUT(192, 448)
	VZEROUPPER
	RET
