//go:build !purego

#include "textflag.h"
#include "kpack_amd64.h"

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

// K5FIN(X, S, A): the token at X's float step into A (a register):
// A = A + (d*dx)*float(S), then A = A - (dmin*dx)*float(msum).
#define K5FIN(X, S, A) \
	KMSUM(X, Z4); \
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
	KSTART

k5r16pairs:
	KPF9
	PREFETCHT0 10560(SI)(AX*2)
	PREFETCHT0 10624(SI)(AX*2)
	K5LO
	KTOK(DI, 0, Z24, Z16)
	K5HI
	KTOK(DI, 1, Z25, Z16)
	KNEXT(k5r16pairs)

	PREFETCHT0 8192(SI)
	PREFETCHT0 8256(SI)
	PREFETCHT0 8320(SI)
	PREFETCHT0 8384(SI)
	PREFETCHT0 8448(SI)
	KMINS
	K5FIN(DI, Z16, Z20)
	ADDQ $2880, SI
	ADDQ $280, DI
	DECQ CX
	JNZ  k5r16loop

	MOVQ    out_base+0(FP), AX
	VMOVUPS Z20, (AX)
	VZEROUPPER
	RET

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
	KPTRS8
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
	KSTART

k5t8pairs:
	K5LO
	KTOK8(0)
	K5HI
	KTOK8(1)
	KNEXT(k5t8pairs)

	KMINS
	K5FINM(DI, Z16, 0)
	K5FINM(R8, Z17, 64)
	K5FINM(R9, Z18, 128)
	K5FINM(R10, Z19, 192)
	K5FINM(R11, Z20, 256)
	K5FINM(R12, Z21, 320)
	K5FINM(R13, Z22, 384)
	K5FINM(R14, Z23, 448)
	ADDQ $2880, SI
	KADV8(280)
	DECQ CX
	JNZ  k5t8loop

	MOVQ    out_base+0(FP), AX
	MOVQ    ostride+24(FP), DX
	SHLQ    $2, DX
	VMOVUPS 0(SP), Z0
	KSTORE(Z0)
	VMOVUPS 64(SP), Z0
	KSTORE(Z0)
	VMOVUPS 128(SP), Z0
	KSTORE(Z0)
	VMOVUPS 192(SP), Z0
	KSTORE(Z0)
	VMOVUPS 256(SP), Z0
	KSTORE(Z0)
	VMOVUPS 320(SP), Z0
	KSTORE(Z0)
	VMOVUPS 384(SP), Z0
	KSTORE(Z0)
	VMOVUPS 448(SP), Z0
	VMOVUPS Z0, (AX)
	VZEROUPPER
	RET

// func q5KPackedTile4VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)
// Sixteen rows, four tokens at DI, R8..R10; their int sums in Z16..Z19
// and their accumulators in Z20..Z23.
TEXT ·q5KPackedTile4VNNI(SB), NOSPLIT, $0-96
	MOVQ w_base+32(FP), SI
	MOVQ xx_base+56(FP), DI
	MOVQ xstride+80(FP), AX
	KPTRS4
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
	KSTART

k5t4pairs:
	KPF9
	PREFETCHT0 10560(SI)(AX*2)
	PREFETCHT0 10624(SI)(AX*2)
	K5LO
	KTOK4(0)
	K5HI
	KTOK4(1)
	KNEXT(k5t4pairs)

	KMINS
	K5FIN(DI, Z16, Z20)
	K5FIN(R8, Z17, Z21)
	K5FIN(R9, Z18, Z22)
	K5FIN(R10, Z19, Z23)
	ADDQ $2880, SI
	KADV4(280)
	DECQ CX
	JNZ  k5t4loop

	MOVQ    out_base+0(FP), AX
	MOVQ    ostride+24(FP), DX
	SHLQ    $2, DX
	KSTORE(Z20)
	KSTORE(Z21)
	KSTORE(Z22)
	VMOVUPS Z23, (AX)
	VZEROUPPER
	RET
