//go:build !purego

#include "textflag.h"

// Multi-row Q4_K, Q5_K and Q6_K kernels against Q8_K activations
// (AVX-512 F/BW/VL and VNNI): rows4 (groups of four weight rows, one
// token) and tile4 (four rows, four tokens). For every (row, token) pair they compute
// the same exact integer sums per super-block as the one-row kernels and
// then the same float steps, lane by lane:
//
//	Q4_K: acc = fma(float(isum), d*dx, acc), accm = fma(float(msum), dmin*dx, accm); acc - accm
//	Q5_K: sum = sum + (d*dx)*float(isum), then sum = sum - (dmin*dx)*float(msum)
//	Q6_K: sum = sum + (d*dx)*float(isum)
//
// so they agree bit for bit with dotQ4_KQ8_KAVX2, dotQ5_KQ8_KAVX2 and
// dotQ6_KQ8_KAVX2.
//
// Each weight row's 256 quants per super-block are unpacked into four
// 64-byte vectors Z0-Z3 of unsigned bytes and its scales into four
// vectors Z4-Z7 of int16 (one scale per 32 quants for Q4_K/Q5_K, per 16
// for Q6_K); then for each token VPMADDUBSW multiplies the quants by the
// token's int8 activations and VPDPWSSD scales and accumulates them into
// one int32 vector per pair. For Q4_K and Q5_K the activations are
// permuted (permuteQ8K) so that the low and high nibbles of 64 bytes of
// quants meet their activations in one load. The pair vectors are then
// summed across lanes by a transposing tree, which leaves pair (row r,
// token t) in lane 4t+r. The min terms (Q4_K, Q5_K) and the -32 offset
// (Q6_K) use the Q8_K block sums, in the same tree.
//
// Registers. General: SI, BX, DX, R10 point at the current block of rows
// 0-3; DI, R8, R9, R11 at that of tokens 0-3 (tile4); CX counts blocks;
// rows4 also keeps the output pointer in AX, the next group of rows in
// R14, the groups left in R13 and its prefetch pointer in R11. Vector:
// Z0-Z7 quants and scales, Z8 0x0f bytes, Z9-Z10 scratch, Z11 (and Z12
// for Q4_K's accm) the float accumulators, Z12-Z15 the high bits and
// their mask for Q5_K and Q6_K, Z16-Z31 the pair sums (tile4) or Z16-Z19
// (rows4). The frame holds each row's unpacked 6-bit scales and mins
// (0-63) and the min or offset sums (64-127).

DATA ktNib<>+0(SB)/4, $0x0f0f0f0f
GLOBL ktNib<>(SB), RODATA|NOPTR, $4
DATA ktM10<>+0(SB)/4, $0x10101010
GLOBL ktM10<>(SB), RODATA|NOPTR, $4
DATA ktM30<>+0(SB)/4, $0x30303030
GLOBL ktM30<>(SB), RODATA|NOPTR, $4

// SUNPACK's shifts and masks, per dword.
DATA ktShift<>+0(SB)/8, $0
DATA ktShift<>+8(SB)/8, $0x0000000400000000
GLOBL ktShift<>(SB), RODATA|NOPTR, $16
DATA ktMaskLo<>+0(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA ktMaskLo<>+8(SB)/8, $0x0f0f0f0f3f3f3f3f
GLOBL ktMaskLo<>(SB), RODATA|NOPTR, $16
DATA ktMaskHi<>+0(SB)/8, $0x3030303000000000
DATA ktMaskHi<>+8(SB)/8, $0x3030303000000000
GLOBL ktMaskHi<>(SB), RODATA|NOPTR, $16

// ktSc<>+64*k: the scale words of Z4+k for Q4_K/Q5_K from the unpacked
// bytes: 128-bit lanes 0-1 sub-block a, lanes 2-3 sub-block b, (a, b) =
// (0, 2), (1, 3), (4, 6), (5, 7).
DATA ktSc<>+0(SB)/8, $0x8000800080008000
DATA ktSc<>+8(SB)/8, $0x8000800080008000
DATA ktSc<>+16(SB)/8, $0x8000800080008000
DATA ktSc<>+24(SB)/8, $0x8000800080008000
DATA ktSc<>+32(SB)/8, $0x8002800280028002
DATA ktSc<>+40(SB)/8, $0x8002800280028002
DATA ktSc<>+48(SB)/8, $0x8002800280028002
DATA ktSc<>+56(SB)/8, $0x8002800280028002
DATA ktSc<>+64(SB)/8, $0x8001800180018001
DATA ktSc<>+72(SB)/8, $0x8001800180018001
DATA ktSc<>+80(SB)/8, $0x8001800180018001
DATA ktSc<>+88(SB)/8, $0x8001800180018001
DATA ktSc<>+96(SB)/8, $0x8003800380038003
DATA ktSc<>+104(SB)/8, $0x8003800380038003
DATA ktSc<>+112(SB)/8, $0x8003800380038003
DATA ktSc<>+120(SB)/8, $0x8003800380038003
DATA ktSc<>+128(SB)/8, $0x8004800480048004
DATA ktSc<>+136(SB)/8, $0x8004800480048004
DATA ktSc<>+144(SB)/8, $0x8004800480048004
DATA ktSc<>+152(SB)/8, $0x8004800480048004
DATA ktSc<>+160(SB)/8, $0x8006800680068006
DATA ktSc<>+168(SB)/8, $0x8006800680068006
DATA ktSc<>+176(SB)/8, $0x8006800680068006
DATA ktSc<>+184(SB)/8, $0x8006800680068006
DATA ktSc<>+192(SB)/8, $0x8005800580058005
DATA ktSc<>+200(SB)/8, $0x8005800580058005
DATA ktSc<>+208(SB)/8, $0x8005800580058005
DATA ktSc<>+216(SB)/8, $0x8005800580058005
DATA ktSc<>+224(SB)/8, $0x8007800780078007
DATA ktSc<>+232(SB)/8, $0x8007800780078007
DATA ktSc<>+240(SB)/8, $0x8007800780078007
DATA ktSc<>+248(SB)/8, $0x8007800780078007
GLOBL ktSc<>(SB), RODATA|NOPTR, $256

// ktMin<>: the words m0 m0 m1 m1 ... m7 m7 in each 256-bit half, from
// the unpacked mins (bytes 8-15).
DATA ktMin<>+0(SB)/8, $0x8009800980088008
DATA ktMin<>+8(SB)/8, $0x800b800b800a800a
DATA ktMin<>+16(SB)/8, $0x800d800d800c800c
DATA ktMin<>+24(SB)/8, $0x800f800f800e800e
DATA ktMin<>+32(SB)/8, $0x8009800980088008
DATA ktMin<>+40(SB)/8, $0x800b800b800a800a
DATA ktMin<>+48(SB)/8, $0x800d800d800c800c
DATA ktMin<>+56(SB)/8, $0x800f800f800e800e
GLOBL ktMin<>(SB), RODATA|NOPTR, $64

// ktQ6Sc<>+64*k: Q6_K scale 4k+lane in the high byte of each word of a
// 128-bit lane (VPSRAW $8 then sign-extends it).
DATA ktQ6Sc<>+0(SB)/8, $0x0080008000800080
DATA ktQ6Sc<>+8(SB)/8, $0x0080008000800080
DATA ktQ6Sc<>+16(SB)/8, $0x0180018001800180
DATA ktQ6Sc<>+24(SB)/8, $0x0180018001800180
DATA ktQ6Sc<>+32(SB)/8, $0x0280028002800280
DATA ktQ6Sc<>+40(SB)/8, $0x0280028002800280
DATA ktQ6Sc<>+48(SB)/8, $0x0380038003800380
DATA ktQ6Sc<>+56(SB)/8, $0x0380038003800380
DATA ktQ6Sc<>+64(SB)/8, $0x0480048004800480
DATA ktQ6Sc<>+72(SB)/8, $0x0480048004800480
DATA ktQ6Sc<>+80(SB)/8, $0x0580058005800580
DATA ktQ6Sc<>+88(SB)/8, $0x0580058005800580
DATA ktQ6Sc<>+96(SB)/8, $0x0680068006800680
DATA ktQ6Sc<>+104(SB)/8, $0x0680068006800680
DATA ktQ6Sc<>+112(SB)/8, $0x0780078007800780
DATA ktQ6Sc<>+120(SB)/8, $0x0780078007800780
DATA ktQ6Sc<>+128(SB)/8, $0x0880088008800880
DATA ktQ6Sc<>+136(SB)/8, $0x0880088008800880
DATA ktQ6Sc<>+144(SB)/8, $0x0980098009800980
DATA ktQ6Sc<>+152(SB)/8, $0x0980098009800980
DATA ktQ6Sc<>+160(SB)/8, $0x0a800a800a800a80
DATA ktQ6Sc<>+168(SB)/8, $0x0a800a800a800a80
DATA ktQ6Sc<>+176(SB)/8, $0x0b800b800b800b80
DATA ktQ6Sc<>+184(SB)/8, $0x0b800b800b800b80
DATA ktQ6Sc<>+192(SB)/8, $0x0c800c800c800c80
DATA ktQ6Sc<>+200(SB)/8, $0x0c800c800c800c80
DATA ktQ6Sc<>+208(SB)/8, $0x0d800d800d800d80
DATA ktQ6Sc<>+216(SB)/8, $0x0d800d800d800d80
DATA ktQ6Sc<>+224(SB)/8, $0x0e800e800e800e80
DATA ktQ6Sc<>+232(SB)/8, $0x0e800e800e800e80
DATA ktQ6Sc<>+240(SB)/8, $0x0f800f800f800f80
DATA ktQ6Sc<>+248(SB)/8, $0x0f800f800f800f80
GLOBL ktQ6Sc<>(SB), RODATA|NOPTR, $256

// ktQ5Sh<>+64*k: per-qword shifts that bring the fifth bit of sub-blocks
// (0, 2), (1, 3) (left) and (4, 6), (5, 7) (right) to bit 4.
DATA ktQ5Sh<>+0(SB)/8, $0x0000000000000004
DATA ktQ5Sh<>+8(SB)/8, $0x0000000000000004
DATA ktQ5Sh<>+16(SB)/8, $0x0000000000000004
DATA ktQ5Sh<>+24(SB)/8, $0x0000000000000004
DATA ktQ5Sh<>+32(SB)/8, $0x0000000000000002
DATA ktQ5Sh<>+40(SB)/8, $0x0000000000000002
DATA ktQ5Sh<>+48(SB)/8, $0x0000000000000002
DATA ktQ5Sh<>+56(SB)/8, $0x0000000000000002
DATA ktQ5Sh<>+64(SB)/8, $0x0000000000000003
DATA ktQ5Sh<>+72(SB)/8, $0x0000000000000003
DATA ktQ5Sh<>+80(SB)/8, $0x0000000000000003
DATA ktQ5Sh<>+88(SB)/8, $0x0000000000000003
DATA ktQ5Sh<>+96(SB)/8, $0x0000000000000001
DATA ktQ5Sh<>+104(SB)/8, $0x0000000000000001
DATA ktQ5Sh<>+112(SB)/8, $0x0000000000000001
DATA ktQ5Sh<>+120(SB)/8, $0x0000000000000001
DATA ktQ5Sh<>+128(SB)/8, $0x0000000000000000
DATA ktQ5Sh<>+136(SB)/8, $0x0000000000000000
DATA ktQ5Sh<>+144(SB)/8, $0x0000000000000000
DATA ktQ5Sh<>+152(SB)/8, $0x0000000000000000
DATA ktQ5Sh<>+160(SB)/8, $0x0000000000000002
DATA ktQ5Sh<>+168(SB)/8, $0x0000000000000002
DATA ktQ5Sh<>+176(SB)/8, $0x0000000000000002
DATA ktQ5Sh<>+184(SB)/8, $0x0000000000000002
DATA ktQ5Sh<>+192(SB)/8, $0x0000000000000001
DATA ktQ5Sh<>+200(SB)/8, $0x0000000000000001
DATA ktQ5Sh<>+208(SB)/8, $0x0000000000000001
DATA ktQ5Sh<>+216(SB)/8, $0x0000000000000001
DATA ktQ5Sh<>+224(SB)/8, $0x0000000000000003
DATA ktQ5Sh<>+232(SB)/8, $0x0000000000000003
DATA ktQ5Sh<>+240(SB)/8, $0x0000000000000003
DATA ktQ5Sh<>+248(SB)/8, $0x0000000000000003
GLOBL ktQ5Sh<>(SB), RODATA|NOPTR, $256

// ktQ6Sh<>: shifts that bring the top bits of quarters 0, 1 (left) and
// 2, 3 (right) of a Q6_K half to bits 4-5.
DATA ktQ6Sh<>+0(SB)/8, $0x0000000000000004
DATA ktQ6Sh<>+8(SB)/8, $0x0000000000000004
DATA ktQ6Sh<>+16(SB)/8, $0x0000000000000004
DATA ktQ6Sh<>+24(SB)/8, $0x0000000000000004
DATA ktQ6Sh<>+32(SB)/8, $0x0000000000000002
DATA ktQ6Sh<>+40(SB)/8, $0x0000000000000002
DATA ktQ6Sh<>+48(SB)/8, $0x0000000000000002
DATA ktQ6Sh<>+56(SB)/8, $0x0000000000000002
DATA ktQ6Sh<>+64(SB)/8, $0x0000000000000000
DATA ktQ6Sh<>+72(SB)/8, $0x0000000000000000
DATA ktQ6Sh<>+80(SB)/8, $0x0000000000000000
DATA ktQ6Sh<>+88(SB)/8, $0x0000000000000000
DATA ktQ6Sh<>+96(SB)/8, $0x0000000000000002
DATA ktQ6Sh<>+104(SB)/8, $0x0000000000000002
DATA ktQ6Sh<>+112(SB)/8, $0x0000000000000002
DATA ktQ6Sh<>+120(SB)/8, $0x0000000000000002
GLOBL ktQ6Sh<>(SB), RODATA|NOPTR, $128

// ktIdxD, ktIdxM: lane i takes d, or dmin, of row i%4 from d0 dmin0 d1 dmin1 ...
DATA ktIdxD<>+0(SB)/8, $0x0000000200000000
DATA ktIdxD<>+8(SB)/8, $0x0000000600000004
DATA ktIdxD<>+16(SB)/8, $0x0000000200000000
DATA ktIdxD<>+24(SB)/8, $0x0000000600000004
DATA ktIdxD<>+32(SB)/8, $0x0000000200000000
DATA ktIdxD<>+40(SB)/8, $0x0000000600000004
DATA ktIdxD<>+48(SB)/8, $0x0000000200000000
DATA ktIdxD<>+56(SB)/8, $0x0000000600000004
GLOBL ktIdxD<>(SB), RODATA|NOPTR, $64
DATA ktIdxM<>+0(SB)/8, $0x0000000300000001
DATA ktIdxM<>+8(SB)/8, $0x0000000700000005
DATA ktIdxM<>+16(SB)/8, $0x0000000300000001
DATA ktIdxM<>+24(SB)/8, $0x0000000700000005
DATA ktIdxM<>+32(SB)/8, $0x0000000300000001
DATA ktIdxM<>+40(SB)/8, $0x0000000700000005
DATA ktIdxM<>+48(SB)/8, $0x0000000300000001
DATA ktIdxM<>+56(SB)/8, $0x0000000700000005
GLOBL ktIdxM<>(SB), RODATA|NOPTR, $64

// SUNPACK unpacks the 6-bit scales and mins of the Q4_K or Q5_K block at
// R (see scaleMinK4) into the bytes of X: scales 0-7, then mins 0-7.
// From the dwords A, B, C of the 12 scale bytes: scales 0-3 = A&63,
// mins 0-3 = B&63, scales 4-7 = C&15 | (A>>6)<<4, mins 4-7 =
// C>>4 | (B>>6)<<4, byte by byte. T1 and T2 are scratch.
#define SUNPACK(R, X, T1, T2) \
	VMOVDQU 4(R), X; \
	VPSHUFD $0x98, X, T1; \
	VPSRLVD ktShift<>(SB), T1, T1; \
	VPAND   ktMaskLo<>(SB), T1, T1; \
	VPSRLD  $2, X, T2; \
	VPSHUFD $0x40, T2, T2; \
	VPAND   ktMaskHi<>(SB), T2, T2; \
	VPOR    T2, T1, X

// Q4PREP loads the quants of the Q4_K block at R into Z0-Z3 and its
// scales, unpacked at SOFF(SP), into Z4-Z7.
#define Q4PREP(R, SOFF) \
	VBROADCASTI32X4 SOFF(SP), Z10; \
	VPSHUFB   ktSc<>+0(SB), Z10, Z4; \
	VPSHUFB   ktSc<>+64(SB), Z10, Z5; \
	VPSHUFB   ktSc<>+128(SB), Z10, Z6; \
	VPSHUFB   ktSc<>+192(SB), Z10, Z7; \
	VMOVDQU64 16(R), Z0; \
	VMOVDQU64 80(R), Z2; \
	VPSRLW    $4, Z0, Z1; \
	VPSRLW    $4, Z2, Z3; \
	VPANDD    Z8, Z0, Z0; \
	VPANDD    Z8, Z1, Z1; \
	VPANDD    Z8, Z2, Z2; \
	VPANDD    Z8, Z3, Z3

// Q5PREP is Q4PREP for Q5_K: the fifth bits come from qh (Z12), moved to
// bit 4 and masked by Z14 (0x10 bytes).
#define Q5PREP(R, SOFF) \
	VBROADCASTI32X4 SOFF(SP), Z10; \
	VPSHUFB   ktSc<>+0(SB), Z10, Z4; \
	VPSHUFB   ktSc<>+64(SB), Z10, Z5; \
	VPSHUFB   ktSc<>+128(SB), Z10, Z6; \
	VPSHUFB   ktSc<>+192(SB), Z10, Z7; \
	VMOVDQU64 48(R), Z0; \
	VMOVDQU64 112(R), Z2; \
	VBROADCASTI64X4 16(R), Z12; \
	VPSRLW    $4, Z0, Z1; \
	VPSRLW    $4, Z2, Z3; \
	VPSLLVQ   ktQ5Sh<>+0(SB), Z12, Z15; \
	VPANDD    Z14, Z15, Z15; \
	VPTERNLOGD $0xec, Z8, Z15, Z0; \
	VPSLLVQ   ktQ5Sh<>+64(SB), Z12, Z15; \
	VPANDD    Z14, Z15, Z15; \
	VPTERNLOGD $0xec, Z8, Z15, Z1; \
	VPSRLVQ   ktQ5Sh<>+128(SB), Z12, Z15; \
	VPANDD    Z14, Z15, Z15; \
	VPTERNLOGD $0xec, Z8, Z15, Z2; \
	VPSRLVQ   ktQ5Sh<>+192(SB), Z12, Z15; \
	VPANDD    Z14, Z15, Z15; \
	VPTERNLOGD $0xec, Z8, Z15, Z3

// Q6PREP loads the quants of the Q6_K block at R into Z0-Z3 (elements
// 64k..64k+63 in Z0+k, without the -32) and its scales into Z4-Z7; Z14
// holds 0x30 bytes. (VPTERNLOGD $0xec: dst = dst&Z8 | Z15.)
#define Q6PREP(R) \
	VBROADCASTI32X4 192(R), Z10; \
	VPSHUFB   ktQ6Sc<>+0(SB), Z10, Z4; \
	VPSHUFB   ktQ6Sc<>+64(SB), Z10, Z5; \
	VPSHUFB   ktQ6Sc<>+128(SB), Z10, Z6; \
	VPSHUFB   ktQ6Sc<>+192(SB), Z10, Z7; \
	VPSRAW    $8, Z4, Z4; \
	VPSRAW    $8, Z5, Z5; \
	VPSRAW    $8, Z6, Z6; \
	VPSRAW    $8, Z7, Z7; \
	VMOVDQU64 (R), Z0; \
	VMOVDQU64 64(R), Z2; \
	VBROADCASTI64X4 128(R), Z12; \
	VBROADCASTI64X4 160(R), Z13; \
	VPSRLW    $4, Z0, Z1; \
	VPSRLW    $4, Z2, Z3; \
	VPSLLVQ   ktQ6Sh<>+0(SB), Z12, Z15; \
	VPANDD    Z14, Z15, Z15; \
	VPTERNLOGD $0xec, Z8, Z15, Z0; \
	VPSRLVQ   ktQ6Sh<>+64(SB), Z12, Z15; \
	VPANDD    Z14, Z15, Z15; \
	VPTERNLOGD $0xec, Z8, Z15, Z1; \
	VPSLLVQ   ktQ6Sh<>+0(SB), Z13, Z15; \
	VPANDD    Z14, Z15, Z15; \
	VPTERNLOGD $0xec, Z8, Z15, Z2; \
	VPSRLVQ   ktQ6Sh<>+64(SB), Z13, Z15; \
	VPANDD    Z14, Z15, Z15; \
	VPTERNLOGD $0xec, Z8, Z15, Z3

// KMUL sets ACC to the scaled products of Z0-Z3 with the 256 int8
// activations of the Q8_K block at X.
#define KMUL(X, ACC) \
	VPMADDUBSW 4(X), Z0, Z9; \
	VPMADDWD   Z4, Z9, ACC; \
	VPMADDUBSW 68(X), Z1, Z9; \
	VPDPWSSD   Z5, Z9, ACC; \
	VPMADDUBSW 132(X), Z2, Z9; \
	VPDPWSSD   Z6, Z9, ACC; \
	VPMADDUBSW 196(X), Z3, Z9; \
	VPDPWSSD   Z7, Z9, ACC

// The levels of the tree that sums the lanes of pair vectors. L1 makes
// [A's 8 half sums | B's]; L2 of two such [A | B | C | D], 4 lanes each;
// L3 of two of those two lanes per vector; L4 one lane per vector. D must
// differ from A and B.
#define L1(A, B, D, T) \
	VSHUFI64X2 $0x44, B, A, D; \
	VSHUFI64X2 $0xee, B, A, T; \
	VPADDD     T, D, D
#define L2(A, B, D, T) \
	VSHUFI64X2 $0x88, B, A, D; \
	VSHUFI64X2 $0xdd, B, A, T; \
	VPADDD     T, D, D
#define L3(A, B, D, T) \
	VPUNPCKLQDQ B, A, D; \
	VPUNPCKHQDQ B, A, T; \
	VPADDD      T, D, D
#define L4(A, B, D, T) \
	VSHUFPS $0x88, B, A, D; \
	VSHUFPS $0xdd, B, A, T; \
	VPADDD  T, D, D

// LANESUM leaves in every dword of each 128-bit lane of A that lane's sum.
#define LANESUM(A, T) \
	VPSHUFD $0x4e, A, T; \
	VPADDD  T, A, A; \
	VPSHUFD $0xb1, A, T; \
	VPADDD  T, A, A

// DXLANES sets Z7 lane i to the scale of token i/4.
#define DXLANES \
	VBROADCASTSS (DI), Z7; \
	VBROADCASTSS (R8), X9; \
	VINSERTF32X4 $1, X9, Z7, Z7; \
	VBROADCASTSS (R9), X9; \
	VINSERTF32X4 $2, X9, Z7, Z7; \
	VBROADCASTSS (R11), X9; \
	VINSERTF32X4 $3, X9, Z7, Z7

// ZEROHIGH clears Z16-Z31, which VZEROUPPER leaves alone, so that no
// dirty upper register state outlives the kernel.
#define ZEROHIGH \
	VPXORD X16, X16, X16; \
	VPXORD X17, X17, X17; \
	VPXORD X18, X18, X18; \
	VPXORD X19, X19, X19; \
	VPXORD X20, X20, X20; \
	VPXORD X21, X21, X21; \
	VPXORD X22, X22, X22; \
	VPXORD X23, X23, X23; \
	VPXORD X24, X24, X24; \
	VPXORD X25, X25, X25; \
	VPXORD X26, X26, X26; \
	VPXORD X27, X27, X27; \
	VPXORD X28, X28, X28; \
	VPXORD X29, X29, X29; \
	VPXORD X30, X30, X30; \
	VPXORD X31, X31, X31

// ROWPTRS points BX, DX and R10 at rows 1-3, R12 bytes apart from row 0
// at SI; TOKPTRS points R8, R9 and R11 at tokens 1-3, R13 bytes apart from
// token 0 at DI. NEXTROWS(n) steps the rows over an n-byte block and
// NEXTTOKS the tokens over a 292-byte Q8_K block.
#define ROWPTRS \
	LEAQ (SI)(R12*1), BX; \
	LEAQ (SI)(R12*2), DX; \
	LEAQ (DX)(R12*1), R10
#define TOKPTRS \
	LEAQ (DI)(R13*1), R8; \
	LEAQ (DI)(R13*2), R9; \
	LEAQ (R9)(R13*1), R11
#define NEXTROWS(n) \
	ADDQ n, SI; \
	ADDQ n, BX; \
	ADDQ n, DX; \
	ADDQ n, R10
#define NEXTTOKS \
	ADDQ $292, DI; \
	ADDQ $292, R8; \
	ADDQ $292, R9; \
	ADDQ $292, R11

// OUTROWS sets AX to out and R12 to the byte stride between tokens'
// outputs, for STORE4.
#define OUTROWS \
	MOVQ out_base+0(FP), AX; \
	MOVQ ostride+24(FP), R12; \
	SHLQ $2, R12

// STORE4 writes 128-bit lane i of Z (X is its low lane) to token i's
// output at AX + i*R12; R13 is scratch.
#define STORE4(Z, X) \
	LEAQ (AX)(R12*2), R13; \
	VMOVUPS X, (AX); \
	VEXTRACTF32X4 $1, Z, (AX)(R12*1); \
	VEXTRACTF32X4 $2, Z, (R13); \
	VEXTRACTF32X4 $3, Z, (R13)(R12*1)

// DGATHER loads the fp16 d and dmin of the four rows' blocks into Y4 as
// float32: d0 dmin0 d1 dmin1 ... (Q4_K and Q5_K).
#define DGATHER \
	VMOVD     (SI), X4; \
	VPINSRD   $1, (BX), X4, X4; \
	VPINSRD   $2, (DX), X4, X4; \
	VPINSRD   $3, (R10), X4, X4; \
	VCVTPH2PS X4, Y4

// Q6DGATHER loads the fp16 d of the four rows' Q6_K blocks into X4; T is
// scratch.
#define Q6DGATHER(T) \
	MOVWLZX   208(SI), T; \
	VMOVD     T, X4; \
	VPINSRW   $1, 208(BX), X4, X4; \
	VPINSRW   $2, 208(DX), X4, X4; \
	VPINSRW   $3, 208(R10), X4, X4; \
	VCVTPH2PS X4, X4


// func rows4Q4_KVNNI(out []float32, w []byte, wstride int, x []byte, nb int)
//
// len(out)/4 groups of four rows, one after another.
TEXT ·rows4Q4_KVNNI(SB), NOSPLIT, $128-88
	MOVQ out_base+0(FP), AX
	MOVQ out_len+8(FP), R13
	SHRQ $2, R13
	MOVQ w_base+24(FP), R14
	MOVQ wstride+48(FP), R12
	MOVL $0x1111, BX
	KMOVW BX, K1
	VPBROADCASTD ktNib<>(SB), Z8

rows4q4kvnnigroup:
	MOVQ R14, SI
	LEAQ (SI)(R12*4), R11
	ROWPTRS
	MOVQ x_base+56(FP), DI
	MOVQ nb+80(FP), CX
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12

rows4q4kvnniloop:
	PREFETCHT0 0(R11)
	PREFETCHT0 64(R11)
	PREFETCHT0 128(R11)
	PREFETCHT0 192(R11)
	PREFETCHT0 256(R11)
	PREFETCHT0 320(R11)
	PREFETCHT0 384(R11)
	PREFETCHT0 448(R11)
	PREFETCHT0 512(R11)
	ADDQ $576, R11
	VBROADCASTI64X4 260(DI), Z9 // block sums in both halves
	SUNPACK(SI, X0, X1, X2)
	VMOVDQU X0, 0(SP)
	SUNPACK(BX, X3, X1, X2)
	VMOVDQU X3, 16(SP)
	VSHUFI64X2 $0, Z3, Z0, Z4
	VPSHUFB ktMin<>(SB), Z4, Z4
	VPMADDWD Z9, Z4, Z16
	SUNPACK(DX, X0, X1, X2)
	VMOVDQU X0, 32(SP)
	SUNPACK(R10, X3, X1, X2)
	VMOVDQU X3, 48(SP)
	VSHUFI64X2 $0, Z3, Z0, Z4
	VPSHUFB ktMin<>(SB), Z4, Z4
	VPMADDWD Z9, Z4, Z17
	L2(Z16, Z17, Z18, Z10)
	LANESUM(Z18, Z10)
	VPCOMPRESSD Z18, K1, Z20

	Q4PREP(SI, 0)
	KMUL(DI, Z16)
	Q4PREP(BX, 16)
	KMUL(DI, Z17)
	Q4PREP(DX, 32)
	KMUL(DI, Z18)
	Q4PREP(R10, 48)
	KMUL(DI, Z19)

	L1(Z16, Z17, Z0, Z10)
	L1(Z18, Z19, Z1, Z10)
	L2(Z0, Z1, Z2, Z10)
	LANESUM(Z2, Z10)
	VPCOMPRESSD Z2, K1, Z2 // isum of row r in lane r
	VCVTDQ2PS X2, X2
	VCVTDQ2PS X20, X3
	DGATHER
	VEXTRACTF128 $1, Y4, X5
	VSHUFPS $0x88, X5, X4, X6 // d
	VSHUFPS $0xdd, X5, X4, X7 // dmin
	VBROADCASTSS (DI), X9
	VMULPS X9, X6, X6
	VMULPS X9, X7, X7
	VFMADD231PS X2, X6, X11
	VFMADD231PS X3, X7, X12

	NEXTROWS($144)
	ADDQ $292, DI
	DECQ CX
	JNZ  rows4q4kvnniloop

	VSUBPS X12, X11, X11
	VMOVUPS X11, (AX)
	ADDQ $16, AX
	LEAQ (R14)(R12*4), R14
	DECQ R13
	JNZ  rows4q4kvnnigroup
	ZEROHIGH
	VZEROUPPER
	RET

// func tile4Q4_KVNNI(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, nb int)
TEXT ·tile4Q4_KVNNI(SB), NOSPLIT, $128-104
	MOVQ w_base+32(FP), SI
	MOVQ wstride+56(FP), R12
	MOVQ x_base+64(FP), DI
	MOVQ xstride+88(FP), R13
	MOVQ nb+96(FP), CX
	TOKPTRS
	ROWPTRS
	VPBROADCASTD ktNib<>(SB), Z8
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12

tile4q4kvnniloop:
	// Block sums of tokens (0, 1) in Z9, (2, 3) in Z10.
	VMOVDQU 260(DI), Y9
	VINSERTI64X4 $1, 260(R8), Z9, Z9
	VMOVDQU 260(R9), Y10
	VINSERTI64X4 $1, 260(R11), Z10, Z10
	SUNPACK(SI, X0, X1, X2)
	VMOVDQU X0, 0(SP)
	VSHUFI64X2 $0, Z0, Z0, Z1
	VPSHUFB ktMin<>(SB), Z1, Z1
	VPMADDWD Z9, Z1, Z16
	VPMADDWD Z10, Z1, Z17
	SUNPACK(BX, X0, X1, X2)
	VMOVDQU X0, 16(SP)
	VSHUFI64X2 $0, Z0, Z0, Z1
	VPSHUFB ktMin<>(SB), Z1, Z1
	VPMADDWD Z9, Z1, Z18
	VPMADDWD Z10, Z1, Z19
	SUNPACK(DX, X0, X1, X2)
	VMOVDQU X0, 32(SP)
	VSHUFI64X2 $0, Z0, Z0, Z1
	VPSHUFB ktMin<>(SB), Z1, Z1
	VPMADDWD Z9, Z1, Z20
	VPMADDWD Z10, Z1, Z21
	SUNPACK(R10, X0, X1, X2)
	VMOVDQU X0, 48(SP)
	VSHUFI64X2 $0, Z0, Z0, Z1
	VPSHUFB ktMin<>(SB), Z1, Z1
	VPMADDWD Z9, Z1, Z22
	VPMADDWD Z10, Z1, Z23
	L2(Z16, Z17, Z24, Z28)
	L2(Z18, Z19, Z25, Z28)
	L2(Z20, Z21, Z26, Z28)
	L2(Z22, Z23, Z27, Z28)
	L3(Z24, Z25, Z29, Z28)
	L3(Z26, Z27, Z30, Z28)
	L4(Z29, Z30, Z31, Z28)
	VMOVDQU32 Z31, 64(SP)

	Q4PREP(SI, 0)
	KMUL(DI, Z16)
	KMUL(R8, Z17)
	KMUL(R9, Z18)
	KMUL(R11, Z19)
	Q4PREP(BX, 16)
	KMUL(DI, Z20)
	KMUL(R8, Z21)
	KMUL(R9, Z22)
	KMUL(R11, Z23)
	Q4PREP(DX, 32)
	KMUL(DI, Z24)
	KMUL(R8, Z25)
	KMUL(R9, Z26)
	KMUL(R11, Z27)
	Q4PREP(R10, 48)
	KMUL(DI, Z28)
	KMUL(R8, Z29)
	KMUL(R9, Z30)
	KMUL(R11, Z31)

	L1(Z16, Z17, Z0, Z10)
	L1(Z18, Z19, Z1, Z10)
	L1(Z20, Z21, Z2, Z10)
	L1(Z22, Z23, Z3, Z10)
	L1(Z24, Z25, Z4, Z10)
	L1(Z26, Z27, Z5, Z10)
	L1(Z28, Z29, Z6, Z10)
	L1(Z30, Z31, Z7, Z10)
	L2(Z0, Z1, Z16, Z10)
	L2(Z2, Z3, Z17, Z10)
	L2(Z4, Z5, Z18, Z10)
	L2(Z6, Z7, Z19, Z10)
	L3(Z16, Z17, Z0, Z10)
	L3(Z18, Z19, Z1, Z10)
	L4(Z0, Z1, Z2, Z10) // isum of (row r, token t) in lane 4t+r
	VCVTDQ2PS Z2, Z2
	VCVTDQ2PS 64(SP), Z3
	DGATHER
	VMOVDQU32 ktIdxD<>(SB), Z5
	VPERMPS Z4, Z5, Z5
	VMOVDQU32 ktIdxM<>(SB), Z6
	VPERMPS Z4, Z6, Z6
	DXLANES
	VMULPS Z7, Z5, Z5
	VMULPS Z7, Z6, Z6
	VFMADD231PS Z2, Z5, Z11
	VFMADD231PS Z3, Z6, Z12

	NEXTROWS($144)
	NEXTTOKS
	DECQ CX
	JNZ  tile4q4kvnniloop

	VSUBPS Z12, Z11, Z11
	OUTROWS
	STORE4(Z11, X11)
	ZEROHIGH
	VZEROUPPER
	RET

// func rows4Q5_KVNNI(out []float32, w []byte, wstride int, x []byte, nb int)
//
// len(out)/4 groups of four rows, one after another.
TEXT ·rows4Q5_KVNNI(SB), NOSPLIT, $128-88
	MOVQ out_base+0(FP), AX
	MOVQ out_len+8(FP), R13
	SHRQ $2, R13
	MOVQ w_base+24(FP), R14
	MOVQ wstride+48(FP), R12
	MOVL $0x1111, BX
	KMOVW BX, K1
	VPBROADCASTD ktNib<>(SB), Z8
	VPBROADCASTD ktM10<>(SB), Z14

rows4q5kvnnigroup:
	MOVQ R14, SI
	LEAQ (SI)(R12*4), R11
	ROWPTRS
	MOVQ x_base+56(FP), DI
	MOVQ nb+80(FP), CX
	VPXORD Z11, Z11, Z11

rows4q5kvnniloop:
	PREFETCHT0 0(R11)
	PREFETCHT0 64(R11)
	PREFETCHT0 128(R11)
	PREFETCHT0 192(R11)
	PREFETCHT0 256(R11)
	PREFETCHT0 320(R11)
	PREFETCHT0 384(R11)
	PREFETCHT0 448(R11)
	PREFETCHT0 512(R11)
	PREFETCHT0 576(R11)
	PREFETCHT0 640(R11)
	ADDQ $704, R11
	VBROADCASTI64X4 260(DI), Z9 // block sums in both halves
	SUNPACK(SI, X0, X1, X2)
	VMOVDQU X0, 0(SP)
	SUNPACK(BX, X3, X1, X2)
	VMOVDQU X3, 16(SP)
	VSHUFI64X2 $0, Z3, Z0, Z4
	VPSHUFB ktMin<>(SB), Z4, Z4
	VPMADDWD Z9, Z4, Z16
	SUNPACK(DX, X0, X1, X2)
	VMOVDQU X0, 32(SP)
	SUNPACK(R10, X3, X1, X2)
	VMOVDQU X3, 48(SP)
	VSHUFI64X2 $0, Z3, Z0, Z4
	VPSHUFB ktMin<>(SB), Z4, Z4
	VPMADDWD Z9, Z4, Z17
	L2(Z16, Z17, Z18, Z10)
	LANESUM(Z18, Z10)
	VPCOMPRESSD Z18, K1, Z20

	Q5PREP(SI, 0)
	KMUL(DI, Z16)
	Q5PREP(BX, 16)
	KMUL(DI, Z17)
	Q5PREP(DX, 32)
	KMUL(DI, Z18)
	Q5PREP(R10, 48)
	KMUL(DI, Z19)

	L1(Z16, Z17, Z0, Z10)
	L1(Z18, Z19, Z1, Z10)
	L2(Z0, Z1, Z2, Z10)
	LANESUM(Z2, Z10)
	VPCOMPRESSD Z2, K1, Z2 // isum of row r in lane r
	VCVTDQ2PS X2, X2
	VCVTDQ2PS X20, X3
	DGATHER
	VEXTRACTF128 $1, Y4, X5
	VSHUFPS $0x88, X5, X4, X6 // d
	VSHUFPS $0xdd, X5, X4, X7 // dmin
	VBROADCASTSS (DI), X9
	VMULPS X9, X6, X6
	VMULPS X9, X7, X7
	VMULPS X2, X6, X6
	VADDPS X6, X11, X11
	VMULPS X3, X7, X7
	VSUBPS X7, X11, X11

	NEXTROWS($176)
	ADDQ $292, DI
	DECQ CX
	JNZ  rows4q5kvnniloop

	VMOVUPS X11, (AX)
	ADDQ $16, AX
	LEAQ (R14)(R12*4), R14
	DECQ R13
	JNZ  rows4q5kvnnigroup
	ZEROHIGH
	VZEROUPPER
	RET

// func tile4Q5_KVNNI(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, nb int)
TEXT ·tile4Q5_KVNNI(SB), NOSPLIT, $128-104
	MOVQ w_base+32(FP), SI
	MOVQ wstride+56(FP), R12
	MOVQ x_base+64(FP), DI
	MOVQ xstride+88(FP), R13
	MOVQ nb+96(FP), CX
	TOKPTRS
	ROWPTRS
	VPBROADCASTD ktNib<>(SB), Z8
	VPBROADCASTD ktM10<>(SB), Z14
	VPXORD Z11, Z11, Z11

tile4q5kvnniloop:
	// Block sums of tokens (0, 1) in Z9, (2, 3) in Z10.
	VMOVDQU 260(DI), Y9
	VINSERTI64X4 $1, 260(R8), Z9, Z9
	VMOVDQU 260(R9), Y10
	VINSERTI64X4 $1, 260(R11), Z10, Z10
	SUNPACK(SI, X0, X1, X2)
	VMOVDQU X0, 0(SP)
	VSHUFI64X2 $0, Z0, Z0, Z1
	VPSHUFB ktMin<>(SB), Z1, Z1
	VPMADDWD Z9, Z1, Z16
	VPMADDWD Z10, Z1, Z17
	SUNPACK(BX, X0, X1, X2)
	VMOVDQU X0, 16(SP)
	VSHUFI64X2 $0, Z0, Z0, Z1
	VPSHUFB ktMin<>(SB), Z1, Z1
	VPMADDWD Z9, Z1, Z18
	VPMADDWD Z10, Z1, Z19
	SUNPACK(DX, X0, X1, X2)
	VMOVDQU X0, 32(SP)
	VSHUFI64X2 $0, Z0, Z0, Z1
	VPSHUFB ktMin<>(SB), Z1, Z1
	VPMADDWD Z9, Z1, Z20
	VPMADDWD Z10, Z1, Z21
	SUNPACK(R10, X0, X1, X2)
	VMOVDQU X0, 48(SP)
	VSHUFI64X2 $0, Z0, Z0, Z1
	VPSHUFB ktMin<>(SB), Z1, Z1
	VPMADDWD Z9, Z1, Z22
	VPMADDWD Z10, Z1, Z23
	L2(Z16, Z17, Z24, Z28)
	L2(Z18, Z19, Z25, Z28)
	L2(Z20, Z21, Z26, Z28)
	L2(Z22, Z23, Z27, Z28)
	L3(Z24, Z25, Z29, Z28)
	L3(Z26, Z27, Z30, Z28)
	L4(Z29, Z30, Z31, Z28)
	VMOVDQU32 Z31, 64(SP)

	Q5PREP(SI, 0)
	KMUL(DI, Z16)
	KMUL(R8, Z17)
	KMUL(R9, Z18)
	KMUL(R11, Z19)
	Q5PREP(BX, 16)
	KMUL(DI, Z20)
	KMUL(R8, Z21)
	KMUL(R9, Z22)
	KMUL(R11, Z23)
	Q5PREP(DX, 32)
	KMUL(DI, Z24)
	KMUL(R8, Z25)
	KMUL(R9, Z26)
	KMUL(R11, Z27)
	Q5PREP(R10, 48)
	KMUL(DI, Z28)
	KMUL(R8, Z29)
	KMUL(R9, Z30)
	KMUL(R11, Z31)

	L1(Z16, Z17, Z0, Z10)
	L1(Z18, Z19, Z1, Z10)
	L1(Z20, Z21, Z2, Z10)
	L1(Z22, Z23, Z3, Z10)
	L1(Z24, Z25, Z4, Z10)
	L1(Z26, Z27, Z5, Z10)
	L1(Z28, Z29, Z6, Z10)
	L1(Z30, Z31, Z7, Z10)
	L2(Z0, Z1, Z16, Z10)
	L2(Z2, Z3, Z17, Z10)
	L2(Z4, Z5, Z18, Z10)
	L2(Z6, Z7, Z19, Z10)
	L3(Z16, Z17, Z0, Z10)
	L3(Z18, Z19, Z1, Z10)
	L4(Z0, Z1, Z2, Z10) // isum of (row r, token t) in lane 4t+r
	VCVTDQ2PS Z2, Z2
	VCVTDQ2PS 64(SP), Z3
	DGATHER
	VMOVDQU32 ktIdxD<>(SB), Z5
	VPERMPS Z4, Z5, Z5
	VMOVDQU32 ktIdxM<>(SB), Z6
	VPERMPS Z4, Z6, Z6
	DXLANES
	VMULPS Z7, Z5, Z5
	VMULPS Z7, Z6, Z6
	VMULPS Z2, Z5, Z5
	VADDPS Z5, Z11, Z11
	VMULPS Z3, Z6, Z6
	VSUBPS Z6, Z11, Z11

	NEXTROWS($176)
	NEXTTOKS
	DECQ CX
	JNZ  tile4q5kvnniloop

	OUTROWS
	STORE4(Z11, X11)
	ZEROHIGH
	VZEROUPPER
	RET

// func rows4Q6_KVNNI(out []float32, w []byte, wstride int, x []byte, nb int)
//
// len(out)/4 groups of four rows, one after another.
TEXT ·rows4Q6_KVNNI(SB), NOSPLIT, $128-88
	MOVQ out_base+0(FP), AX
	MOVQ out_len+8(FP), R13
	SHRQ $2, R13
	MOVQ w_base+24(FP), R14
	MOVQ wstride+48(FP), R12
	MOVL $0x1111, BX
	KMOVW BX, K1
	VPBROADCASTD ktNib<>(SB), Z8
	VPBROADCASTD ktM30<>(SB), Z14

rows4q6kvnnigroup:
	MOVQ R14, SI
	LEAQ (SI)(R12*4), R11
	ROWPTRS
	MOVQ x_base+56(FP), DI
	MOVQ nb+80(FP), CX
	VPXORD Z11, Z11, Z11

rows4q6kvnniloop:
	PREFETCHT0 0(R11)
	PREFETCHT0 64(R11)
	PREFETCHT0 128(R11)
	PREFETCHT0 192(R11)
	PREFETCHT0 256(R11)
	PREFETCHT0 320(R11)
	PREFETCHT0 384(R11)
	PREFETCHT0 448(R11)
	PREFETCHT0 512(R11)
	PREFETCHT0 576(R11)
	PREFETCHT0 640(R11)
	PREFETCHT0 704(R11)
	PREFETCHT0 768(R11)
	PREFETCHT0 832(R11)
	ADDQ $840, R11
	VBROADCASTI64X4 260(DI), Z9 // block sums in both halves
	VPMOVSXBW 192(SI), Y0
	VPMOVSXBW 192(BX), Y3
	VINSERTI64X4 $1, Y3, Z0, Z4
	VPMADDWD Z9, Z4, Z16
	VPMOVSXBW 192(DX), Y0
	VPMOVSXBW 192(R10), Y3
	VINSERTI64X4 $1, Y3, Z0, Z4
	VPMADDWD Z9, Z4, Z17
	L2(Z16, Z17, Z18, Z10)
	LANESUM(Z18, Z10)
	VPCOMPRESSD Z18, K1, Z20

	Q6PREP(SI)
	KMUL(DI, Z16)
	Q6PREP(BX)
	KMUL(DI, Z17)
	Q6PREP(DX)
	KMUL(DI, Z18)
	Q6PREP(R10)
	KMUL(DI, Z19)

	L1(Z16, Z17, Z0, Z10)
	L1(Z18, Z19, Z1, Z10)
	L2(Z0, Z1, Z2, Z10)
	LANESUM(Z2, Z10)
	VPCOMPRESSD Z2, K1, Z2 // isum of row r in lane r
	VPSLLD $5, X20, X3
	VPSUBD X3, X2, X2
	VCVTDQ2PS X2, X2
	Q6DGATHER(R9)
	VBROADCASTSS (DI), X9
	VMULPS X9, X4, X4
	VMULPS X2, X4, X4
	VADDPS X4, X11, X11

	NEXTROWS($210)
	ADDQ $292, DI
	DECQ CX
	JNZ  rows4q6kvnniloop

	VMOVUPS X11, (AX)
	ADDQ $16, AX
	LEAQ (R14)(R12*4), R14
	DECQ R13
	JNZ  rows4q6kvnnigroup
	ZEROHIGH
	VZEROUPPER
	RET

// func tile4Q6_KVNNI(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, nb int)
TEXT ·tile4Q6_KVNNI(SB), NOSPLIT, $128-104
	MOVQ w_base+32(FP), SI
	MOVQ wstride+56(FP), R12
	MOVQ x_base+64(FP), DI
	MOVQ xstride+88(FP), R13
	MOVQ nb+96(FP), CX
	TOKPTRS
	ROWPTRS
	VPBROADCASTD ktNib<>(SB), Z8
	VPBROADCASTD ktM30<>(SB), Z14
	VPXORD Z11, Z11, Z11

tile4q6kvnniloop:
	// Block sums of tokens (0, 1) in Z9, (2, 3) in Z10.
	VMOVDQU 260(DI), Y9
	VINSERTI64X4 $1, 260(R8), Z9, Z9
	VMOVDQU 260(R9), Y10
	VINSERTI64X4 $1, 260(R11), Z10, Z10
	VPMOVSXBW 192(SI), Y0
	VINSERTI64X4 $1, Y0, Z0, Z1
	VPMADDWD Z9, Z1, Z16
	VPMADDWD Z10, Z1, Z17
	VPMOVSXBW 192(BX), Y0
	VINSERTI64X4 $1, Y0, Z0, Z1
	VPMADDWD Z9, Z1, Z18
	VPMADDWD Z10, Z1, Z19
	VPMOVSXBW 192(DX), Y0
	VINSERTI64X4 $1, Y0, Z0, Z1
	VPMADDWD Z9, Z1, Z20
	VPMADDWD Z10, Z1, Z21
	VPMOVSXBW 192(R10), Y0
	VINSERTI64X4 $1, Y0, Z0, Z1
	VPMADDWD Z9, Z1, Z22
	VPMADDWD Z10, Z1, Z23
	L2(Z16, Z17, Z24, Z28)
	L2(Z18, Z19, Z25, Z28)
	L2(Z20, Z21, Z26, Z28)
	L2(Z22, Z23, Z27, Z28)
	L3(Z24, Z25, Z29, Z28)
	L3(Z26, Z27, Z30, Z28)
	L4(Z29, Z30, Z31, Z28)
	VMOVDQU32 Z31, 64(SP)

	Q6PREP(SI)
	KMUL(DI, Z16)
	KMUL(R8, Z17)
	KMUL(R9, Z18)
	KMUL(R11, Z19)
	Q6PREP(BX)
	KMUL(DI, Z20)
	KMUL(R8, Z21)
	KMUL(R9, Z22)
	KMUL(R11, Z23)
	Q6PREP(DX)
	KMUL(DI, Z24)
	KMUL(R8, Z25)
	KMUL(R9, Z26)
	KMUL(R11, Z27)
	Q6PREP(R10)
	KMUL(DI, Z28)
	KMUL(R8, Z29)
	KMUL(R9, Z30)
	KMUL(R11, Z31)

	L1(Z16, Z17, Z0, Z10)
	L1(Z18, Z19, Z1, Z10)
	L1(Z20, Z21, Z2, Z10)
	L1(Z22, Z23, Z3, Z10)
	L1(Z24, Z25, Z4, Z10)
	L1(Z26, Z27, Z5, Z10)
	L1(Z28, Z29, Z6, Z10)
	L1(Z30, Z31, Z7, Z10)
	L2(Z0, Z1, Z16, Z10)
	L2(Z2, Z3, Z17, Z10)
	L2(Z4, Z5, Z18, Z10)
	L2(Z6, Z7, Z19, Z10)
	L3(Z16, Z17, Z0, Z10)
	L3(Z18, Z19, Z1, Z10)
	L4(Z0, Z1, Z2, Z10) // isum of (row r, token t) in lane 4t+r
	VMOVDQU32 64(SP), Z3
	VPSLLD $5, Z3, Z3
	VPSUBD Z3, Z2, Z2
	VCVTDQ2PS Z2, Z2
	Q6DGATHER(AX)
	VSHUFF32X4 $0, Z4, Z4, Z4
	DXLANES
	VMULPS Z7, Z4, Z4
	VMULPS Z2, Z4, Z4
	VADDPS Z4, Z11, Z11

	NEXTROWS($210)
	NEXTTOKS
	DECQ CX
	JNZ  tile4q6kvnniloop

	OUTROWS
	STORE4(Z11, X11)
	ZEROHIGH
	VZEROUPPER
	RET

// KMULI is KMUL for the Q8_K block at B+4*I.
#define KMULI(B, I, ACC) \
	VPMADDUBSW 4(B)(I*4), Z0, Z9; \
	VPMADDWD   Z4, Z9, ACC; \
	VPMADDUBSW 68(B)(I*4), Z1, Z9; \
	VPDPWSSD   Z5, Z9, ACC; \
	VPMADDUBSW 132(B)(I*4), Z2, Z9; \
	VPDPWSSD   Z6, Z9, ACC; \
	VPMADDUBSW 196(B)(I*4), Z3, Z9; \
	VPDPWSSD   Z7, Z9, ACC

// ktMin8<>: the words m0 ... m7 in each 128-bit lane, from the unpacked
// mins (bytes 8-15). ktOnesW<>: int16 ones. ktPermBS<>: the qword order
// that gives each token one 128-bit lane after VPACKSSDW.
DATA ktMin8<>+0(SB)/8, $0x800b800a80098008
DATA ktMin8<>+8(SB)/8, $0x800f800e800d800c
DATA ktMin8<>+16(SB)/8, $0x800b800a80098008
DATA ktMin8<>+24(SB)/8, $0x800f800e800d800c
DATA ktMin8<>+32(SB)/8, $0x800b800a80098008
DATA ktMin8<>+40(SB)/8, $0x800f800e800d800c
DATA ktMin8<>+48(SB)/8, $0x800b800a80098008
DATA ktMin8<>+56(SB)/8, $0x800f800e800d800c
GLOBL ktMin8<>(SB), RODATA|NOPTR, $64
DATA ktOnesW<>+0(SB)/8, $0x0001000100010001
DATA ktOnesW<>+8(SB)/8, $0x0001000100010001
DATA ktOnesW<>+16(SB)/8, $0x0001000100010001
DATA ktOnesW<>+24(SB)/8, $0x0001000100010001
DATA ktOnesW<>+32(SB)/8, $0x0001000100010001
DATA ktOnesW<>+40(SB)/8, $0x0001000100010001
DATA ktOnesW<>+48(SB)/8, $0x0001000100010001
DATA ktOnesW<>+56(SB)/8, $0x0001000100010001
GLOBL ktOnesW<>(SB), RODATA|NOPTR, $64
DATA ktPermBS<>+0(SB)/8, $0
DATA ktPermBS<>+8(SB)/8, $2
DATA ktPermBS<>+16(SB)/8, $4
DATA ktPermBS<>+24(SB)/8, $6
DATA ktPermBS<>+32(SB)/8, $1
DATA ktPermBS<>+40(SB)/8, $3
DATA ktPermBS<>+48(SB)/8, $5
DATA ktPermBS<>+56(SB)/8, $7
GLOBL ktPermBS<>(SB), RODATA|NOPTR, $64

// T8MINS unpacks the scales and mins of the Q4_K block at R, keeps the
// scales at SOFF(SP) and sets G and H to the min sums of that row with
// tokens 0-3 and 4-7, one token per 128-bit lane, from the sums of 32
// quants of each token (Z3, Z5: eight words per 128-bit lane).
#define T8MINS(R, SOFF, G, H) \
	SUNPACK(R, X0, X1, X2); \
	VMOVDQU X0, SOFF(SP); \
	VSHUFI64X2 $0, Z0, Z0, Z1; \
	VPSHUFB ktMin8<>(SB), Z1, Z1; \
	VPMADDWD Z3, Z1, G; \
	VPMADDWD Z5, Z1, H

// T8ROW multiplies the Q4_K block at R (scales at SOFF(SP)) with the
// eight tokens and sets G and H to the pair sums of tokens 0-3 and 4-7,
// one token per 128-bit lane.
#define T8ROW(R, SOFF, G, H) \
	Q4PREP(R, SOFF); \
	KMUL(DI, Z16); \
	KMUL(R8, Z17); \
	KMUL(R9, Z18); \
	KMUL(R11, Z19); \
	KMULI(DI, R13, Z20); \
	KMULI(R8, R13, Z21); \
	KMULI(R9, R13, Z22); \
	KMULI(R11, R13, Z23); \
	L1(Z16, Z17, Z24, Z10); \
	L1(Z18, Z19, Z25, Z10); \
	L1(Z20, Z21, Z26, Z10); \
	L1(Z22, Z23, Z27, Z10); \
	L2(Z24, Z25, G, Z10); \
	L2(Z26, Z27, H, Z10)

// DXLANESI is DXLANES for tokens 4-7.
#define DXLANESI \
	VBROADCASTSS (DI)(R13*4), Z7; \
	VBROADCASTSS (R8)(R13*4), X9; \
	VINSERTF32X4 $1, X9, Z7, Z7; \
	VBROADCASTSS (R9)(R13*4), X9; \
	VINSERTF32X4 $2, X9, Z7, Z7; \
	VBROADCASTSS (R11)(R13*4), X9; \
	VINSERTF32X4 $3, X9, Z7, Z7

// func tile8Q4_KVNNI(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, nb int)
//
// Four rows against eight tokens: each row's block is unpacked once for
// eight tokens instead of four. Tokens 0-3 are at DI, R8, R9, R11 and
// tokens 4-7 at the same plus 4*xstride (R13). The pair sums of a row are
// reduced as soon as its eight products are done, so that a row needs
// only 16 registers; rows 0-1 and 2-3 are combined by L3 and then L4 into
// two vectors, tokens 0-3 and 4-7, with (row r, token t) in lane
// 4(t%4)+r, and from there the float steps are those of tile4Q4_KVNNI.
// Z11-Z12 are the accumulators of tokens 0-3, Z13-Z14 of tokens 4-7. The
// frame holds the unpacked scales (0-63) and the min sums of tokens 0-3
// (64-127) and 4-7 (128-191).
TEXT ·tile8Q4_KVNNI(SB), NOSPLIT, $192-104
	MOVQ w_base+32(FP), SI
	MOVQ wstride+56(FP), R12
	MOVQ x_base+64(FP), DI
	MOVQ xstride+88(FP), R13
	MOVQ nb+96(FP), CX
	TOKPTRS
	ROWPTRS
	VPBROADCASTD ktNib<>(SB), Z8
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14

tile8q4kvnniloop:
	// Block sums of tokens (0, 1), (2, 3), (4, 5), (6, 7) in Z3-Z6.
	VMOVDQU 260(DI), Y3
	VINSERTI64X4 $1, 260(R8), Z3, Z3
	VMOVDQU 260(R9), Y4
	VINSERTI64X4 $1, 260(R11), Z4, Z4
	VMOVDQU 260(DI)(R13*4), Y5
	VINSERTI64X4 $1, 260(R8)(R13*4), Z5, Z5
	VMOVDQU 260(R9)(R13*4), Y6
	VINSERTI64X4 $1, 260(R11)(R13*4), Z6, Z6
	// Sums of 32 quants, one token per 128-bit lane: tokens 0-3 in Z3,
	// 4-7 in Z5. They fit in int16, as the block sums of Q8_K blocks
	// hold the sums of their quants.
	VPMADDWD ktOnesW<>(SB), Z3, Z3
	VPMADDWD ktOnesW<>(SB), Z4, Z4
	VPMADDWD ktOnesW<>(SB), Z5, Z5
	VPMADDWD ktOnesW<>(SB), Z6, Z6
	VPACKSSDW Z4, Z3, Z3
	VPACKSSDW Z6, Z5, Z5
	VMOVDQU64 ktPermBS<>(SB), Z7
	VPERMQ Z3, Z7, Z3
	VPERMQ Z5, Z7, Z5
	T8MINS(SI, 0, Z24, Z25)
	T8MINS(BX, 16, Z20, Z21)
	L3(Z24, Z20, Z26, Z7)
	L3(Z25, Z21, Z27, Z7)
	T8MINS(DX, 32, Z24, Z25)
	T8MINS(R10, 48, Z20, Z21)
	L3(Z24, Z20, Z28, Z7)
	L3(Z25, Z21, Z29, Z7)
	L4(Z26, Z28, Z30, Z7)
	L4(Z27, Z29, Z31, Z7)
	VMOVDQU32 Z30, 64(SP)
	VMOVDQU32 Z31, 128(SP)

	T8ROW(SI, 0, Z28, Z29)
	T8ROW(BX, 16, Z16, Z17)
	L3(Z28, Z16, Z30, Z10)
	L3(Z29, Z17, Z31, Z10)
	T8ROW(DX, 32, Z28, Z29)
	T8ROW(R10, 48, Z16, Z17)
	L3(Z28, Z16, Z18, Z10)
	L3(Z29, Z17, Z19, Z10)
	L4(Z30, Z18, Z2, Z10) // isum of (row r, token t) in lane 4t+r
	L4(Z31, Z19, Z3, Z10) // and of token 4+t

	VCVTDQ2PS Z2, Z2
	VCVTDQ2PS Z3, Z3
	VCVTDQ2PS 64(SP), Z0
	VCVTDQ2PS 128(SP), Z1
	DGATHER
	VMOVDQU32 ktIdxD<>(SB), Z5
	VPERMPS Z4, Z5, Z5
	VMOVDQU32 ktIdxM<>(SB), Z6
	VPERMPS Z4, Z6, Z6
	DXLANES
	VMULPS Z7, Z5, Z9
	VMULPS Z7, Z6, Z10
	VFMADD231PS Z2, Z9, Z11
	VFMADD231PS Z0, Z10, Z12
	DXLANESI
	VMULPS Z7, Z5, Z9
	VMULPS Z7, Z6, Z10
	VFMADD231PS Z3, Z9, Z13
	VFMADD231PS Z1, Z10, Z14

	NEXTROWS($144)
	NEXTTOKS
	DECQ CX
	JNZ  tile8q4kvnniloop

	VSUBPS Z12, Z11, Z11
	VSUBPS Z14, Z13, Z13
	OUTROWS
	STORE4(Z11, X11)
	LEAQ (AX)(R12*4), AX
	STORE4(Z13, X13)
	ZEROHIGH
	VZEROUPPER
	RET
