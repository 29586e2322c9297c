//go:build !purego

#include "textflag.h"
#include "kpack_amd64.h"

// Q6_K kernels over packed weights (see packQ6_K), AVX-512 VNNI, one lane
// of a 512-bit vector per weight row: sixteen rows at a time.
//
// A packed block of sixteen rows is 3360 bytes at SI, as many as in the
// file:
//
//	0    d[16] fp16 (row r in element r)
//	32   sc[j][r] int8, the scale of sub-block j (16 quants) of row r
//	288  for each sub-block j, 192 bytes: L0, L1 and H, 64 bytes each,
//	     lane r of which holds four bytes k = 0..3 of row r: L0 the
//	     low four bits of quants 4g+k of the sub-block for g = 0 (low
//	     nibble) and 1 (high nibble), L1 for g = 2 and 3, and H their top
//	     two bits: g = 0 in bits 4-5, 1 in 6-7, 2 in 0-1, 3 in 2-3.
//
// The activations are expanded Q8_K blocks of 324 bytes
// (expandQ8_KQ6): dx float32, then per sub-block j 20 bytes: -32 times
// the sum of its 16 quants (int32), then the quants.
//
// Per row the integer sum is that of the other Q6_K kernels,
// isum = sum_j sc_j*(sum over the sub-block of (q-32)*x), and so is the
// float step, acc = acc + (d*dx)*float(isum), so the results agree with
// them bit for bit.

DATA k6Lo<>+0(SB)/4, $0x0f0f0f0f
GLOBL k6Lo<>(SB), RODATA|NOPTR, $4
DATA k6Hi<>+0(SB)/4, $0x30303030
GLOBL k6Hi<>(SB), RODATA|NOPTR, $4

// K6UNPACK leaves the quants of the sub-block at BX in Z0..Z3 (group g of
// the sixteen rows in Z(g)) and its scales as int32 in Z8, from DX.
// Z15 holds 0x0f bytes, Z14 0x30 bytes; Z10-Z12 are clobbered. The
// VPTERNLOGD immediate 0xF8 is A | (B & C) with A the destination.
#define K6UNPACK \
	VMOVDQU64  0(BX), Z10; \
	VMOVDQU64  64(BX), Z11; \
	VMOVDQU64  128(BX), Z12; \
	VPANDD     Z14, Z12, Z0; \
	VPTERNLOGD $0xF8, Z15, Z10, Z0; \
	VPSRLW     $2, Z12, Z1; \
	VPANDD     Z14, Z1, Z1; \
	VPSRLW     $4, Z10, Z10; \
	VPTERNLOGD $0xF8, Z15, Z10, Z1; \
	VPSLLW     $4, Z12, Z2; \
	VPANDD     Z14, Z2, Z2; \
	VPTERNLOGD $0xF8, Z15, Z11, Z2; \
	VPSLLW     $2, Z12, Z3; \
	VPANDD     Z14, Z3, Z3; \
	VPSRLW     $4, Z11, Z11; \
	VPTERNLOGD $0xF8, Z15, Z11, Z3; \
	VPMOVSXBD  0(DX), Z8

// K6TOK(X, P, S): the token at X, the current sub-block (AX = 20*j): the
// sixteen rows' sums with the -32 offset into P, then S += P*sc.
#define K6TOK(X, P, S) \
	VPBROADCASTD  4(X)(AX*1), P; \
	VPDPBUSD.BCST 8(X)(AX*1), Z0, P; \
	VPDPBUSD.BCST 12(X)(AX*1), Z1, P; \
	VPDPBUSD.BCST 16(X)(AX*1), Z2, P; \
	VPDPBUSD.BCST 20(X)(AX*1), Z3, P; \
	VPMULLD       Z8, P, P; \
	VPADDD        P, S, S

// K6START points BX at the first sub-block's quants and DX at its scales;
// K6NEXT steps to the next sub-block and loops to L until all 16 are done.
#define K6START \
	LEAQ 288(SI), BX; \
	LEAQ 32(SI), DX; \
	XORQ AX, AX

#define K6NEXT(L) \
	ADDQ $192, BX; \
	ADDQ $16, DX; \
	ADDQ $20, AX; \
	CMPQ AX, $320; \
	JNE  L

// K6FIN(X, S, A): A = A + (d*dx)*float(S) for the token at X; Z9 holds d.
#define K6FIN(X, S, A) \
	VCVTDQ2PS   S, S; \
	VMULPS.BCST (X), Z9, Z10; \
	VMULPS      S, Z10, Z10; \
	VADDPS      Z10, A, A

// func q6KPackedRows16VNNI(out []float32, w []byte, xx []byte, nb int)
TEXT ·q6KPackedRows16VNNI(SB), NOSPLIT, $0-80
	MOVQ w_base+24(FP), SI
	MOVQ xx_base+48(FP), DI
	MOVQ nb+72(FP), CX
	VPBROADCASTD k6Lo<>(SB), Z15
	VPBROADCASTD k6Hi<>(SB), Z14
	VPXORD Z24, Z24, Z24

k6r16loop:
	VPXORD Z16, Z16, Z16
	K6START

k6r16sub:
	PREFETCHT0 8192(BX)
	PREFETCHT0 8256(BX)
	PREFETCHT0 8320(BX)
	K6UNPACK
	K6TOK(DI, Z4, Z16)
	K6NEXT(k6r16sub)

	PREFETCHT0 8192(SI)
	PREFETCHT0 8256(SI)
	PREFETCHT0 8320(SI)
	PREFETCHT0 8384(SI)
	PREFETCHT0 8448(SI)
	VCVTPH2PS (SI), Z9
	K6FIN(DI, Z16, Z24)
	ADDQ $3360, SI
	ADDQ $324, DI
	DECQ CX
	JNZ  k6r16loop

	MOVQ    out_base+0(FP), AX
	VMOVUPS Z24, (AX)
	VZEROUPPER
	RET

// func q6KPackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)
// Sixteen rows, eight tokens: token t's blocks at xx + t*xstride, in DI,
// R8..R14; their int sums in Z16..Z23, their results in Z24..Z31.
TEXT ·q6KPackedTile8VNNI(SB), NOSPLIT, $0-96
	MOVQ w_base+32(FP), SI
	MOVQ xx_base+56(FP), DI
	MOVQ xstride+80(FP), AX
	KPTRS8
	MOVQ nb+88(FP), CX
	VPBROADCASTD k6Lo<>(SB), Z15
	VPBROADCASTD k6Hi<>(SB), Z14
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31

k6t8loop:
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	K6START

k6t8sub:
	K6UNPACK
	K6TOK(DI, Z4, Z16)
	K6TOK(R8, Z5, Z17)
	K6TOK(R9, Z6, Z18)
	K6TOK(R10, Z7, Z19)
	K6TOK(R11, Z4, Z20)
	K6TOK(R12, Z5, Z21)
	K6TOK(R13, Z6, Z22)
	K6TOK(R14, Z7, Z23)
	K6NEXT(k6t8sub)

	VCVTPH2PS (SI), Z9
	K6FIN(DI, Z16, Z24)
	K6FIN(R8, Z17, Z25)
	K6FIN(R9, Z18, Z26)
	K6FIN(R10, Z19, Z27)
	K6FIN(R11, Z20, Z28)
	K6FIN(R12, Z21, Z29)
	K6FIN(R13, Z22, Z30)
	K6FIN(R14, Z23, Z31)
	ADDQ $3360, SI
	KADV8(324)
	DECQ CX
	JNZ  k6t8loop

	MOVQ    out_base+0(FP), AX
	MOVQ    ostride+24(FP), DX
	SHLQ    $2, DX
	KSTORE(Z24)
	KSTORE(Z25)
	KSTORE(Z26)
	KSTORE(Z27)
	KSTORE(Z28)
	KSTORE(Z29)
	KSTORE(Z30)
	VMOVUPS Z31, (AX)
	VZEROUPPER
	RET

// func q6KPackedTile4VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)
// Sixteen rows, four tokens at DI, R8..R10; int sums in Z16..Z19, results
// in Z24..Z27.
TEXT ·q6KPackedTile4VNNI(SB), NOSPLIT, $0-96
	MOVQ w_base+32(FP), SI
	MOVQ xx_base+56(FP), DI
	MOVQ xstride+80(FP), AX
	KPTRS4
	MOVQ nb+88(FP), CX
	VPBROADCASTD k6Lo<>(SB), Z15
	VPBROADCASTD k6Hi<>(SB), Z14
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27

k6t4loop:
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	K6START

k6t4sub:
	PREFETCHT0 8192(BX)
	PREFETCHT0 8256(BX)
	PREFETCHT0 8320(BX)
	K6UNPACK
	K6TOK(DI, Z4, Z16)
	K6TOK(R8, Z5, Z17)
	K6TOK(R9, Z6, Z18)
	K6TOK(R10, Z7, Z19)
	K6NEXT(k6t4sub)

	VCVTPH2PS (SI), Z9
	K6FIN(DI, Z16, Z24)
	K6FIN(R8, Z17, Z25)
	K6FIN(R9, Z18, Z26)
	K6FIN(R10, Z19, Z27)
	ADDQ $3360, SI
	KADV4(324)
	DECQ CX
	JNZ  k6t4loop

	MOVQ    out_base+0(FP), AX
	MOVQ    ostride+24(FP), DX
	SHLQ    $2, DX
	KSTORE(Z24)
	KSTORE(Z25)
	KSTORE(Z26)
	VMOVUPS Z27, (AX)
	VZEROUPPER
	RET
