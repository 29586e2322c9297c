//go:build !purego

#include "textflag.h"

// arm64 kernels (Advanced SIMD, and SDOT where the CPU has the ARMv8.2
// dot product). See cpu_arm64.go for the sets.
//
// The quantized dot products keep each block's integer sums exact and do
// the float part in the order of llama.cpp's x86 backend (see q8_amd64.s
// and kq_amd64.s), so that the results are the same bits on every machine:
//
//   Q8_0: eight float lanes, lane k the sum over blocks of elements
//   4k..4k+3: acc[k] = fma(d, float(int sum), acc[k]), d = dw*dx rounded
//   to float32; then lanes k+4 are added to lanes k, then 0+2 and 1+3,
//   then those two (hsum_float_8). SDOT's four-byte groups are exactly
//   those lanes.
//
//   Q4_0: one float per output, acc = fma(float(block sum), dw*dx, acc)
//   block after block.
//
//   Q4_K, Q5_K and Q6_K: see DOTQ4_K, DOTQ5_K and DOTQ6_K below.
//
// Without SDOT the byte products come from SMULL/SMLAL into int16 lanes,
// widened to int32 by SADDLP before they could overflow. Neither way needs
// the activations to stay in [-127, 127], as the AVX2 kernels do.
//
// Few of these instructions are known to the Go assembler, so the macros
// below emit their encodings. Register arguments are numbers (4 is V4) in
// the order of the Arm mnemonic in each macro's comment: destination
// first.

#define SDOT(d, n, m) WORD $(0x4e809400 | (m)<<16 | (n)<<5 | (d))    // sdot   vd.4s, vn.16b, vm.16b
#define SMULL(d, n, m) WORD $(0x0e20c000 | (m)<<16 | (n)<<5 | (d))   // smull  vd.8h, vn.8b, vm.8b
#define SMULL2(d, n, m) WORD $(0x4e20c000 | (m)<<16 | (n)<<5 | (d))  // smull2 vd.8h, vn.16b, vm.16b
#define SMLAL(d, n, m) WORD $(0x0e208000 | (m)<<16 | (n)<<5 | (d))   // smlal  vd.8h, vn.8b, vm.8b
#define SMLAL2(d, n, m) WORD $(0x4e208000 | (m)<<16 | (n)<<5 | (d))  // smlal2 vd.8h, vn.16b, vm.16b
#define SADDLP(d, n) WORD $(0x4e602800 | (n)<<5 | (d))               // saddlp vd.4s, vn.8h
#define ADDP(d, n, m) WORD $(0x4ea0bc00 | (m)<<16 | (n)<<5 | (d))    // addp   vd.4s, vn.4s, vm.4s
#define SCVTF4(d, n) WORD $(0x4e21d800 | (n)<<5 | (d))               // scvtf  vd.4s, vn.4s
#define SCVTF1(d, n) WORD $(0x5e21d800 | (n)<<5 | (d))               // scvtf  sd, sn
#define FADD4(d, n, m) WORD $(0x4e20d400 | (m)<<16 | (n)<<5 | (d))   // fadd   vd.4s, vn.4s, vm.4s
#define FADD2(d, n, m) WORD $(0x0e20d400 | (m)<<16 | (n)<<5 | (d))   // fadd   vd.2s, vn.2s, vm.2s
#define FADDP1(d, n) WORD $(0x7e30d800 | (n)<<5 | (d))               // faddp  sd, vn.2s
#define FABS4(d, n) WORD $(0x4ea0f800 | (n)<<5 | (d))                // fabs   vd.4s, vn.4s
#define FMAX4(d, n, m) WORD $(0x4e20f400 | (m)<<16 | (n)<<5 | (d))   // fmax   vd.4s, vn.4s, vm.4s
#define FMAXV(d, n) WORD $(0x6e30f800 | (n)<<5 | (d))                // fmaxv  sd, vn.4s
#define FCVTNS4(d, n) WORD $(0x4e21a800 | (n)<<5 | (d))              // fcvtns vd.4s, vn.4s
#define XTN4H(d, n) WORD $(0x0e612800 | (n)<<5 | (d))                // xtn    vd.4h, vn.4s
#define XTN8H2(d, n) WORD $(0x4e612800 | (n)<<5 | (d))               // xtn2   vd.8h, vn.4s
#define XTN8B(d, n) WORD $(0x0e212800 | (n)<<5 | (d))                // xtn    vd.8b, vn.8h
#define XTN16B2(d, n) WORD $(0x4e212800 | (n)<<5 | (d))              // xtn2   vd.16b, vn.8h
#define FCVTL(d, n) WORD $(0x0e217800 | (n)<<5 | (d))                // fcvtl  vd.4s, vn.4h
#define FCVTL2(d, n) WORD $(0x4e217800 | (n)<<5 | (d))               // fcvtl2 vd.4s, vn.8h
#define FCVTSH(d, n) WORD $(0x1ee24000 | (n)<<5 | (d))               // fcvt   sd, hn
#define FCVTHS(d, n) WORD $(0x1e23c000 | (n)<<5 | (d))               // fcvt   hd, sn

// fmul vd.4s, vn.4s, vm.s[i] and fmla vd.4s, vn.4s, vm.s[i].
#define FMULE(d, n, m, i) WORD $(0x4f809000 | ((i)&1)<<21 | (m)<<16 | ((i)>>1)<<11 | (n)<<5 | (d))
#define FMLAE(d, n, m, i) WORD $(0x4f801000 | ((i)&1)<<21 | (m)<<16 | ((i)>>1)<<11 | (n)<<5 | (d))

#define ZERO(d) WORD $(0x6f00e400 | (d))                             // movi   vd.2d, #0
#define EXT8(d, n, m) WORD $(0x6e004000 | (m)<<16 | (n)<<5 | (d))    // ext    vd.16b, vn.16b, vm.16b, #8

// Integer block products. Q8INT sets V(r0) to the four sums of four byte
// products of V(wa)·V(xa) (bytes 4k..4k+3 in lane k) and V(r1) likewise
// for V(wb)·V(xb). Q4INT leaves in V(r) four int32 lanes that add up to
// V(lo)·V(xa) + V(hi)·V(xb). The byte vectors are signed; t0 and t1 are
// scratch.
#define Q8INT_SDOT(wa, wb, xa, xb, r0, r1, t0, t1) \
	ZERO(r0); \
	ZERO(r1); \
	SDOT(r0, wa, xa); \
	SDOT(r1, wb, xb)

#define Q8INT_NEON(wa, wb, xa, xb, r0, r1, t0, t1) \
	SMULL(t0, wa, xa); \
	SMULL2(t1, wa, xa); \
	SADDLP(t0, t0); \
	SADDLP(t1, t1); \
	ADDP(r0, t0, t1); \
	SMULL(t0, wb, xb); \
	SMULL2(t1, wb, xb); \
	SADDLP(t0, t0); \
	SADDLP(t1, t1); \
	ADDP(r1, t0, t1)

#define Q4INT_SDOT(lo, hi, xa, xb, r, t0) \
	ZERO(r); \
	SDOT(r, lo, xa); \
	SDOT(r, hi, xb)

// Four products of at most 8·128 in magnitude fit an int16 lane.
#define Q4INT_NEON(lo, hi, xa, xb, r, t0) \
	SMULL(t0, lo, xa); \
	SMLAL2(t0, lo, xa); \
	SMLAL(t0, hi, xb); \
	SMLAL2(t0, hi, xb); \
	SADDLP(r, t0)

// FLOAD16 loads the fp16 value at (R) into the low lane of V(v) as float32;
// T is a scratch general register.
#define FLOAD16(R, T, v) \
	MOVHU (R), T; \
	FMOVS T, F(v); \
	FCVTSH(v, v)

// HSUM8 reduces the eight floats of V(a) (lanes 0-3) and V(b) (lanes 4-7)
// into the low lane of V(a) in hsum_float_8's order: lanes k+4 onto lanes
// k, then 0+2 and 1+3, then those two. V(b) is overwritten.
#define HSUM8(a, b) \
	FADD4(a, a, b); \
	EXT8(b, a, a); \
	FADD2(a, a, b); \
	FADDP1(a, a)

// UNPACK4 turns the 16 bytes of Q4_0 nibbles in V0 into signed bytes:
// V1 the low nibbles minus 8 (elements 0-15), V0 the high ones (16-31).
// V30 holds 0x0f bytes and V31 0x08 bytes.
#define UNPACK4 \
	VAND  V30.B16, V0.B16, V1.B16; \
	VUSHR $4, V0.B16, V0.B16; \
	VSUB  V31.B16, V1.B16, V1.B16; \
	VSUB  V31.B16, V0.B16, V0.B16

// DOTQ8_0 is the body of func(w, x []byte, nb int) float32 for Q8_0
// weights, nb > 0, with the integer products of INT.
#define DOTQ8_0(INT) \
	MOVD w_base+0(FP), R0; \
	MOVD x_base+24(FP), R1; \
	MOVD nb+48(FP), R2; \
	ZERO(16); \
	ZERO(17); \
q8loop: \
	FLOAD16(R0, R3, 20); \
	FLOAD16(R1, R4, 21); \
	ADD   $2, R0, R5; \
	ADD   $2, R1, R6; \
	VLD1  (R5), [V0.B16, V1.B16]; \
	VLD1  (R6), [V2.B16, V3.B16]; \
	ADD   $34, R0; \
	ADD   $34, R1; \
	FMULS F21, F20, F20; \
	INT(0, 1, 2, 3, 4, 5, 6, 7); \
	SCVTF4(4, 4); \
	SCVTF4(5, 5); \
	FMLAE(16, 4, 20, 0); \
	FMLAE(17, 5, 20, 0); \
	SUBS  $1, R2; \
	BNE   q8loop; \
	HSUM8(16, 17); \
	FMOVS F16, ret+56(FP); \
	RET

// DOTQ4_0 is the body of func(w, x []byte, nb int) float32 for Q4_0
// weights, nb > 0, with the integer products of INT.
#define DOTQ4_0(INT) \
	MOVD  w_base+0(FP), R0; \
	MOVD  x_base+24(FP), R1; \
	MOVD  nb+48(FP), R2; \
	VMOVI $15, V30.B16; \
	VMOVI $8, V31.B16; \
	ZERO(16); \
q4loop: \
	FLOAD16(R0, R3, 20); \
	FLOAD16(R1, R4, 21); \
	ADD   $2, R0, R5; \
	ADD   $2, R1, R6; \
	VLD1  (R5), [V0.B16]; \
	VLD1  (R6), [V2.B16, V3.B16]; \
	ADD   $18, R0; \
	ADD   $34, R1; \
	FMULS F21, F20, F20; \
	UNPACK4; \
	INT(1, 0, 2, 3, 4, 5); \
	VADDV V4.S4, V4; \
	SCVTF1(4, 4); \
	FMADDS F20, F16, F4, F16; \
	SUBS  $1, R2; \
	BNE   q4loop; \
	FMOVS F16, ret+56(FP); \
	RET

// The four-row kernels, func(out []float32, w []byte, wstride int,
// x []byte, dx []float32, nb int): R1, R6, R7 and R8 walk the four weight
// rows, R3 the activations and R4 their scales.
#define ROWS4ARGS \
	MOVD out_base+0(FP), R0; \
	MOVD w_base+24(FP), R1; \
	MOVD wstride+48(FP), R2; \
	MOVD x_base+56(FP), R3; \
	MOVD dx_base+80(FP), R4; \
	MOVD nb+104(FP), R5; \
	ADD  R2, R1, R6; \
	ADD  R2, R6, R7; \
	ADD  R2, R7, R8

// ROWSX loads the next activation block's quants into V2 and V3 and its
// scale into F22.
#define ROWSX \
	ADD     $2, R3, R9; \
	VLD1    (R9), [V2.B16, V3.B16]; \
	ADD     $34, R3; \
	FMOVS.P 4(R4), F22

// SCALES4 sets V21 to the four products of the weight rows' block scales
// with the activation scale in F22.
#define SCALES4 \
	MOVHU (R1), R9; \
	MOVHU (R6), R10; \
	MOVHU (R7), R11; \
	MOVHU (R8), R12; \
	VMOV  R9, V21.H[0]; \
	VMOV  R10, V21.H[1]; \
	VMOV  R11, V21.H[2]; \
	VMOV  R12, V21.H[3]; \
	FCVTL(21, 21); \
	FMULE(21, 21, 22, 0)

// ROW4Q4 leaves in V(r) four lanes that add up to the integer dot product
// of the Q4_0 block at R with the activations in V2 and V3, and advances
// R.
#define ROW4Q4(INT, R, r) \
	ADD  $2, R, R9; \
	VLD1 (R9), [V0.B16]; \
	ADD  $18, R; \
	UNPACK4; \
	INT(1, 0, 2, 3, r, 12)

#define ROWS4Q4_0(INT) \
	ROWS4ARGS; \
	VMOVI $15, V30.B16; \
	VMOVI $8, V31.B16; \
	ZERO(16); \
r4q4loop: \
	ROWSX; \
	SCALES4; \
	ROW4Q4(INT, R1, 8); \
	ROW4Q4(INT, R6, 9); \
	ROW4Q4(INT, R7, 10); \
	ROW4Q4(INT, R8, 11); \
	ADDP(8, 8, 9); \
	ADDP(10, 10, 11); \
	ADDP(8, 8, 10); \
	SCVTF4(8, 8); \
	VFMLA V8.S4, V21.S4, V16.S4; \
	SUBS  $1, R5; \
	BNE   r4q4loop; \
	VST1  [V16.S4], (R0); \
	RET

// ROW4Q8 adds the Q8_0 block at R times the activations in V2 and V3,
// scaled by lane i of V21, to the accumulators V(a0) and V(a1), and
// advances R.
#define ROW4Q8(INT, R, i, a0, a1) \
	ADD  $2, R, R9; \
	VLD1 (R9), [V0.B16, V1.B16]; \
	ADD  $34, R; \
	INT(0, 1, 2, 3, 4, 5, 6, 7); \
	SCVTF4(4, 4); \
	SCVTF4(5, 5); \
	FMLAE(a0, 4, 21, i); \
	FMLAE(a1, 5, 21, i)

#define ROWS4Q8_0(INT) \
	ROWS4ARGS; \
	ZERO(24); \
	ZERO(25); \
	ZERO(26); \
	ZERO(27); \
	ZERO(28); \
	ZERO(29); \
	ZERO(30); \
	ZERO(31); \
r4q8loop: \
	ROWSX; \
	SCALES4; \
	ROW4Q8(INT, R1, 0, 24, 25); \
	ROW4Q8(INT, R6, 1, 26, 27); \
	ROW4Q8(INT, R7, 2, 28, 29); \
	ROW4Q8(INT, R8, 3, 30, 31); \
	SUBS $1, R5; \
	BNE  r4q8loop; \
	HSUM8(24, 25); \
	HSUM8(26, 27); \
	HSUM8(28, 29); \
	HSUM8(30, 31); \
	FMOVS F24, (R0); \
	FMOVS F26, 4(R0); \
	FMOVS F28, 8(R0); \
	FMOVS F30, 12(R0); \
	RET

// Integer vector multiplies and widenings for the k-quants.
#define MUL4(d, n, m) WORD $(0x4ea09c00 | (m)<<16 | (n)<<5 | (d))    // mul    vd.4s, vn.4s, vm.4s
#define MLA4(d, n, m) WORD $(0x4ea09400 | (m)<<16 | (n)<<5 | (d))    // mla    vd.4s, vn.4s, vm.4s
#define UXTL8H(d, n) WORD $(0x2f08a400 | (n)<<5 | (d))               // uxtl   vd.8h, vn.8b
#define UXTL8H2(d, n) WORD $(0x6f08a400 | (n)<<5 | (d))              // uxtl2  vd.8h, vn.16b
#define UXTL4S(d, n) WORD $(0x2f10a400 | (n)<<5 | (d))               // uxtl   vd.4s, vn.4h
#define UXTL4S2(d, n) WORD $(0x6f10a400 | (n)<<5 | (d))              // uxtl2  vd.4s, vn.8h
#define SXTL8H(d, n) WORD $(0x0f08a400 | (n)<<5 | (d))               // sxtl   vd.8h, vn.8b
#define SXTL4S(d, n) WORD $(0x0f10a400 | (n)<<5 | (d))               // sxtl   vd.4s, vn.4h
#define SXTL4S2(d, n) WORD $(0x4f10a400 | (n)<<5 | (d))              // sxtl2  vd.4s, vn.8h

// Q6INT leaves in V(r) four int32 lanes that add up to the product of the
// 16 signed bytes of V(q) and V(x); V(t) is scratch. Without SDOT, two
// products of at most 32·128 in magnitude fit an int16 lane.
#define Q6INT_SDOT(q, x, r, t) \
	ZERO(r); \
	SDOT(r, q, x)

#define Q6INT_NEON(q, x, r, t) \
	SMULL(t, q, x); \
	SMLAL2(t, q, x); \
	SADDLP(r, t)

// Q4_K against Q8_K (dotQ4_KQ8_KRef), llama.cpp's x86 float order: per
// block isum = sum of scale·(sub-block dot product) and msum = sum of
// min·(sub-block activation sum), then two fused chains,
// acc = fma(isum, dw*dx, acc) and accm = fma(msum, dmin*dx, accm), and
// acc - accm at the end.
//
// Q4KSUB computes the dot products of the next 32 quant bytes (R11) with
// the next 64 activations (R12): the low nibbles' in the lanes of V(ra),
// the high nibbles' in V(rb).
#define Q4KSUB(INT, ra, rb) \
	VLD1.P 32(R11), [V0.B16, V1.B16]; \
	VLD1.P 64(R12), [V2.B16, V3.B16, V4.B16, V5.B16]; \
	VAND   V30.B16, V0.B16, V6.B16; \
	VAND   V30.B16, V1.B16, V7.B16; \
	VUSHR  $4, V0.B16, V0.B16; \
	VUSHR  $4, V1.B16, V1.B16; \
	INT(6, 7, 2, 3, ra, 16); \
	INT(0, 1, 4, 5, rb, 16)

// The six-bit scales and mins of a Q4_K block: bytes 0-3 of the scale
// field hold sc0-3 and the top bits of sc4-7, bytes 4-7 m0-3 and the top
// bits of m4-7, bytes 8-11 the low bits of sc4-7 (low nibbles) and m4-7.
// Leaves sc0-3, sc4-7 in V24, V25 and m0-3, m4-7 in V27, V26 as int32.
#define Q4KSCALES \
	MOVWU 4(R0), R3; \
	MOVWU 8(R0), R4; \
	MOVWU 12(R0), R5; \
	ANDW  $0x3f3f3f3f, R3, R6; \
	ANDW  $0x3f3f3f3f, R4, R7; \
	LSRW  $6, R3, R8; \
	ANDW  $0x03030303, R8; \
	ANDW  $0x0f0f0f0f, R5, R9; \
	ORRW  R8<<4, R9, R9; \
	LSRW  $6, R4, R8; \
	ANDW  $0x03030303, R8; \
	LSRW  $4, R5, R10; \
	ANDW  $0x0f0f0f0f, R10; \
	ORRW  R8<<4, R10, R10; \
	ORR   R9<<32, R6, R6; \
	ORR   R10<<32, R7, R7; \
	VMOV  R6, V24.D[0]; \
	VMOV  R7, V24.D[1]; \
	UXTL8H(25, 24); \
	UXTL8H2(26, 24); \
	UXTL4S(24, 25); \
	UXTL4S2(25, 25); \
	UXTL4S(27, 26); \
	UXTL4S2(26, 26)

// KSUMS turns the sub-block products in V8-V15 (as Q4KSUB leaves them)
// and the scales and mins of Q4KSCALES into isum, as a float in F8, and
// msum, from the Q8_K block sums at R1+260, as a float in F16.
#define KSUMS \
	ADDP(8, 8, 9); \
	ADDP(10, 10, 11); \
	ADDP(8, 8, 10); \
	ADDP(12, 12, 13); \
	ADDP(14, 14, 15); \
	ADDP(12, 12, 14); \
	MUL4(8, 8, 24); \
	MLA4(8, 12, 25); \
	VADDV V8.S4, V8; \
	ADD   $260, R1, R13; \
	VLD1  (R13), [V16.H8, V17.H8]; \
	SADDLP(16, 16); \
	SADDLP(17, 17); \
	MUL4(16, 16, 27); \
	MLA4(16, 17, 26); \
	VADDV V16.S4, V16; \
	SCVTF1(8, 8); \
	SCVTF1(16, 16)

#define DOTQ4_K(INT) \
	MOVD  w_base+0(FP), R0; \
	MOVD  x_base+24(FP), R1; \
	MOVD  nb+48(FP), R2; \
	VMOVI $15, V30.B16; \
	ZERO(28); \
	ZERO(29); \
q4kloop: \
	Q4KSCALES; \
	ADD   $16, R0, R11; \
	ADD   $4, R1, R12; \
	Q4KSUB(INT, 8, 9); \
	Q4KSUB(INT, 10, 11); \
	Q4KSUB(INT, 12, 13); \
	Q4KSUB(INT, 14, 15); \
	KSUMS; \
	FLOAD16(R0, R3, 20); \
	ADD   $2, R0, R4; \
	FLOAD16(R4, R3, 21); \
	FMOVS (R1), F22; \
	FMULS F22, F20, F20; \
	FMULS F22, F21, F21; \
	FMADDS F20, F28, F8, F28; \
	FMADDS F21, F29, F16, F29; \
	ADD   $144, R0; \
	ADD   $292, R1; \
	SUBS  $1, R2; \
	BNE   q4kloop; \
	FSUBS F29, F28, F28; \
	FMOVS F28, ret+56(FP); \
	RET

// Q5_K against Q8_K (dotQ5_KQ8_KRef): Q4_K's sums with a fifth bit per
// quant from qh, then sum = sum + d*isum and sum = sum - dmin*msum with
// each step rounded, as the other accelerated sets do.
//
// Q5KSUB is Q4KSUB with the fifth bits: bit 0 of V18/V19 (qh of elements
// 0-15 and 16-31) for the low nibbles, bit 1 for the high ones; it then
// shifts V18 and V19 right by two for the next pair of sub-blocks. V29
// holds 0x10 bytes. Quants up to 31 keep four products within an int16
// lane.
#define Q5KSUB(INT, ra, rb) \
	VLD1.P 32(R11), [V0.B16, V1.B16]; \
	VLD1.P 64(R12), [V2.B16, V3.B16, V4.B16, V5.B16]; \
	VAND   V30.B16, V0.B16, V6.B16; \
	VAND   V30.B16, V1.B16, V7.B16; \
	VUSHR  $4, V0.B16, V0.B16; \
	VUSHR  $4, V1.B16, V1.B16; \
	VSHL   $4, V18.B16, V16.B16; \
	VAND   V29.B16, V16.B16, V16.B16; \
	VORR   V16.B16, V6.B16, V6.B16; \
	VSHL   $4, V19.B16, V16.B16; \
	VAND   V29.B16, V16.B16, V16.B16; \
	VORR   V16.B16, V7.B16, V7.B16; \
	VSHL   $3, V18.B16, V16.B16; \
	VAND   V29.B16, V16.B16, V16.B16; \
	VORR   V16.B16, V0.B16, V0.B16; \
	VSHL   $3, V19.B16, V16.B16; \
	VAND   V29.B16, V16.B16, V16.B16; \
	VORR   V16.B16, V1.B16, V1.B16; \
	VUSHR  $2, V18.B16, V18.B16; \
	VUSHR  $2, V19.B16, V19.B16; \
	INT(6, 7, 2, 3, ra, 16); \
	INT(0, 1, 4, 5, rb, 16)

#define DOTQ5_K(INT) \
	MOVD  w_base+0(FP), R0; \
	MOVD  x_base+24(FP), R1; \
	MOVD  nb+48(FP), R2; \
	VMOVI $15, V30.B16; \
	VMOVI $16, V29.B16; \
	ZERO(28); \
q5kloop: \
	Q4KSCALES; \
	ADD   $16, R0, R14; \
	VLD1  (R14), [V18.B16, V19.B16]; \
	ADD   $48, R0, R11; \
	ADD   $4, R1, R12; \
	Q5KSUB(INT, 8, 9); \
	Q5KSUB(INT, 10, 11); \
	Q5KSUB(INT, 12, 13); \
	Q5KSUB(INT, 14, 15); \
	KSUMS; \
	FLOAD16(R0, R3, 20); \
	ADD   $2, R0, R4; \
	FLOAD16(R4, R3, 21); \
	FMOVS (R1), F22; \
	FMULS F22, F20, F20; \
	FMULS F22, F21, F21; \
	FMULS F20, F8, F8; \
	FADDS F8, F28, F28; \
	FMULS F21, F16, F16; \
	FSUBS F16, F28, F28; \
	ADD   $176, R0; \
	ADD   $292, R1; \
	SUBS  $1, R2; \
	BNE   q5kloop; \
	FMOVS F28, ret+56(FP); \
	RET

// Q6_K against Q8_K (dotQ6_KQ8_KRef): per block isum = sum of
// scale·(sub-block dot product), then sum = sum + (dw*dx)*isum with each
// step rounded (no fused multiply-add), as llama.cpp's x86 kernel does.
//
// Q6HALF adds to V28 the scaled sub-block products of one half block
// (ql at R3, qh at R4, scales at R5, activations at R6, all advanced).
// V29, V30 and V31 hold bytes 0x0f, 0x30 and 32. Sub-block k takes its
// low four bits from the low (k<4) or high nibbles of ql[16k%64...], its
// top two from bits 2(k/2) of qh, and activations 16k...
#define Q6HALF(INT) \
	VLD1.P 64(R3), [V0.B16, V1.B16, V2.B16, V3.B16]; \
	VLD1.P 32(R4), [V4.B16, V5.B16]; \
	VLD1.P 64(R6), [V16.B16, V17.B16, V18.B16, V19.B16]; \
	VLD1.P 64(R6), [V20.B16, V21.B16, V22.B16, V23.B16]; \
	VAND  V29.B16, V0.B16, V6.B16; \
	VSHL  $4, V4.B16, V7.B16; \
	VAND  V30.B16, V7.B16, V7.B16; \
	VORR  V7.B16, V6.B16, V6.B16; \
	VSUB  V31.B16, V6.B16, V6.B16; \
	INT(6, 16, 8, 24); \
	VAND  V29.B16, V1.B16, V6.B16; \
	VSHL  $4, V5.B16, V7.B16; \
	VAND  V30.B16, V7.B16, V7.B16; \
	VORR  V7.B16, V6.B16, V6.B16; \
	VSUB  V31.B16, V6.B16, V6.B16; \
	INT(6, 17, 9, 24); \
	VAND  V29.B16, V2.B16, V6.B16; \
	VSHL  $2, V4.B16, V7.B16; \
	VAND  V30.B16, V7.B16, V7.B16; \
	VORR  V7.B16, V6.B16, V6.B16; \
	VSUB  V31.B16, V6.B16, V6.B16; \
	INT(6, 18, 10, 24); \
	VAND  V29.B16, V3.B16, V6.B16; \
	VSHL  $2, V5.B16, V7.B16; \
	VAND  V30.B16, V7.B16, V7.B16; \
	VORR  V7.B16, V6.B16, V6.B16; \
	VSUB  V31.B16, V6.B16, V6.B16; \
	INT(6, 19, 11, 24); \
	VUSHR $4, V0.B16, V6.B16; \
	VAND  V30.B16, V4.B16, V7.B16; \
	VORR  V7.B16, V6.B16, V6.B16; \
	VSUB  V31.B16, V6.B16, V6.B16; \
	INT(6, 20, 12, 24); \
	VUSHR $4, V1.B16, V6.B16; \
	VAND  V30.B16, V5.B16, V7.B16; \
	VORR  V7.B16, V6.B16, V6.B16; \
	VSUB  V31.B16, V6.B16, V6.B16; \
	INT(6, 21, 13, 24); \
	VUSHR $4, V2.B16, V6.B16; \
	VUSHR $2, V4.B16, V7.B16; \
	VAND  V30.B16, V7.B16, V7.B16; \
	VORR  V7.B16, V6.B16, V6.B16; \
	VSUB  V31.B16, V6.B16, V6.B16; \
	INT(6, 22, 14, 24); \
	VUSHR $4, V3.B16, V6.B16; \
	VUSHR $2, V5.B16, V7.B16; \
	VAND  V30.B16, V7.B16, V7.B16; \
	VORR  V7.B16, V6.B16, V6.B16; \
	VSUB  V31.B16, V6.B16, V6.B16; \
	INT(6, 23, 15, 24); \
	ADDP(8, 8, 9); \
	ADDP(10, 10, 11); \
	ADDP(8, 8, 10); \
	ADDP(12, 12, 13); \
	ADDP(14, 14, 15); \
	ADDP(12, 12, 14); \
	VLD1.P 8(R5), [V26.B8]; \
	SXTL8H(26, 26); \
	SXTL4S2(27, 26); \
	SXTL4S(26, 26); \
	MLA4(28, 8, 26); \
	MLA4(28, 12, 27)

#define DOTQ6_K(INT) \
	MOVD  w_base+0(FP), R0; \
	MOVD  x_base+24(FP), R1; \
	MOVD  nb+48(FP), R2; \
	VMOVI $15, V29.B16; \
	VMOVI $0x30, V30.B16; \
	VMOVI $32, V31.B16; \
	ZERO(25); \
q6kloop: \
	ZERO(28); \
	MOVD  R0, R3; \
	ADD   $128, R0, R4; \
	ADD   $192, R0, R5; \
	ADD   $4, R1, R6; \
	Q6HALF(INT); \
	Q6HALF(INT); \
	VADDV V28.S4, V28; \
	SCVTF1(28, 28); \
	ADD   $208, R0, R7; \
	FLOAD16(R7, R8, 20); \
	FMOVS (R1), F21; \
	FMULS F21, F20, F20; \
	FMULS F20, F28, F28; \
	FADDS F28, F25, F25; \
	ADD   $210, R0; \
	ADD   $292, R1; \
	SUBS  $1, R2; \
	BNE   q6kloop; \
	FMOVS F25, ret+56(FP); \
	RET

// func dotF32NEON(w []byte, x []float32) float32
//
// Four accumulators of four lanes, 16 elements per step, then four at a
// time, then one at a time.
TEXT ·dotF32NEON(SB), NOSPLIT, $0-52
	MOVD w_base+0(FP), R0
	MOVD x_base+24(FP), R1
	MOVD x_len+32(FP), R2
	ZERO(16)
	ZERO(17)
	ZERO(18)
	ZERO(19)

f32by16:
	CMP    $16, R2
	BLT    f32by4
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA  V0.S4, V4.S4, V16.S4
	VFMLA  V1.S4, V5.S4, V17.S4
	VFMLA  V2.S4, V6.S4, V18.S4
	VFMLA  V3.S4, V7.S4, V19.S4
	SUB    $16, R2
	B      f32by16

f32by4:
	CMP    $4, R2
	BLT    f32sum
	VLD1.P 16(R0), [V0.S4]
	VLD1.P 16(R1), [V4.S4]
	VFMLA  V0.S4, V4.S4, V16.S4
	SUB    $4, R2
	B      f32by4

f32sum:
	FADD4(16, 16, 17)
	FADD4(18, 18, 19)
	FADD4(16, 16, 18)
	EXT8(17, 16, 16)
	FADD2(16, 16, 17)
	FADDP1(16, 16)
	CBZ R2, f32done

f32one:
	FMOVS.P 4(R0), F0
	FMOVS.P 4(R1), F1
	FMADDS  F0, F16, F1, F16
	SUBS    $1, R2
	BNE     f32one

f32done:
	FMOVS F16, ret+48(FP)
	RET

// func dotF16NEON(w, x []byte, nb int) float32
//
// dotF32NEON's loop on fp16 values widened with FCVTL; each product of two
// fp16 values is exact in float32.
TEXT ·dotF16NEON(SB), NOSPLIT, $0-60
	MOVD w_base+0(FP), R0
	MOVD x_base+24(FP), R1
	MOVD nb+48(FP), R2
	ZERO(16)
	ZERO(17)
	ZERO(18)
	ZERO(19)

f16by16:
	CMP    $16, R2
	BLT    f16by4
	VLD1.P 32(R0), [V0.H8, V1.H8]
	VLD1.P 32(R1), [V2.H8, V3.H8]
	FCVTL(4, 0)
	FCVTL2(5, 0)
	FCVTL(6, 1)
	FCVTL2(7, 1)
	FCVTL(8, 2)
	FCVTL2(9, 2)
	FCVTL(10, 3)
	FCVTL2(11, 3)
	VFMLA  V4.S4, V8.S4, V16.S4
	VFMLA  V5.S4, V9.S4, V17.S4
	VFMLA  V6.S4, V10.S4, V18.S4
	VFMLA  V7.S4, V11.S4, V19.S4
	SUB    $16, R2
	B      f16by16

f16by4:
	CMP    $4, R2
	BLT    f16sum
	VLD1.P 8(R0), [V0.H4]
	VLD1.P 8(R1), [V2.H4]
	FCVTL(4, 0)
	FCVTL(8, 2)
	VFMLA  V4.S4, V8.S4, V16.S4
	SUB    $4, R2
	B      f16by4

f16sum:
	FADD4(16, 16, 17)
	FADD4(18, 18, 19)
	FADD4(16, 16, 18)
	EXT8(17, 16, 16)
	FADD2(16, 16, 17)
	FADDP1(16, 16)
	CBZ R2, f16done

f16one:
	MOVHU.P 2(R0), R3
	MOVHU.P 2(R1), R4
	FMOVS   R3, F0
	FMOVS   R4, F1
	FCVTSH(0, 0)
	FCVTSH(1, 1)
	FMADDS  F0, F16, F1, F16
	SUBS    $1, R2
	BNE     f16one

f16done:
	FMOVS F16, ret+56(FP)
	RET

// func quantizeQ8_0NEON(dst []byte, src []float32)
//
// quantizeQ8_0Act: d = amax/127 stored as fp16, quants
// round-to-nearest-even(x * (127/amax)), 0 for a block of zeros.
// len(src) is a multiple of 32.
TEXT ·quantizeQ8_0NEON(SB), NOSPLIT, $0-48
	MOVD  dst_base+0(FP), R0
	MOVD  src_base+24(FP), R1
	MOVD  src_len+32(FP), R2
	LSR   $5, R2
	CBZ   R2, qdone
	MOVW  $0x42fe0000, R3 // 127.0
	FMOVS R3, F30
	ZERO(31)

qloop:
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	FABS4(8, 0)
	FABS4(9, 1)
	FABS4(10, 2)
	FABS4(11, 3)
	FABS4(12, 4)
	FABS4(13, 5)
	FABS4(14, 6)
	FABS4(15, 7)
	FMAX4(8, 8, 9)
	FMAX4(10, 10, 11)
	FMAX4(12, 12, 13)
	FMAX4(14, 14, 15)
	FMAX4(8, 8, 10)
	FMAX4(12, 12, 14)
	FMAX4(8, 8, 12)
	FMAXV(8, 8)          // amax
	FDIVS F30, F8, F9    // d = amax / 127
	FCVTHS(9, 9)
	FMOVS F9, R3
	MOVH.P R3, 2(R0)
	FDIVS F8, F30, F10   // 127 / amax
	FCMPS $(0.0), F8
	FCSELS NE, F10, F31, F10
	FMULE(0, 0, 10, 0)
	FMULE(1, 1, 10, 0)
	FMULE(2, 2, 10, 0)
	FMULE(3, 3, 10, 0)
	FMULE(4, 4, 10, 0)
	FMULE(5, 5, 10, 0)
	FMULE(6, 6, 10, 0)
	FMULE(7, 7, 10, 0)
	FCVTNS4(0, 0)        // to nearest, ties to even
	FCVTNS4(1, 1)
	FCVTNS4(2, 2)
	FCVTNS4(3, 3)
	FCVTNS4(4, 4)
	FCVTNS4(5, 5)
	FCVTNS4(6, 6)
	FCVTNS4(7, 7)
	XTN4H(16, 0)
	XTN8H2(16, 1)
	XTN4H(17, 2)
	XTN8H2(17, 3)
	XTN4H(18, 4)
	XTN8H2(18, 5)
	XTN4H(19, 6)
	XTN8H2(19, 7)
	XTN8B(20, 16)
	XTN16B2(20, 17)
	XTN8B(21, 18)
	XTN16B2(21, 19)
	VST1.P [V20.B16, V21.B16], 32(R0)
	SUBS   $1, R2
	BNE    qloop

qdone:
	RET

// func dotQ8_0Q8_0SDOT(w, x []byte, nb int) float32
TEXT ·dotQ8_0Q8_0SDOT(SB), NOSPLIT, $0-60
	DOTQ8_0(Q8INT_SDOT)

// func dotQ8_0Q8_0NEON(w, x []byte, nb int) float32
TEXT ·dotQ8_0Q8_0NEON(SB), NOSPLIT, $0-60
	DOTQ8_0(Q8INT_NEON)

// func dotQ4_0Q8_0SDOT(w, x []byte, nb int) float32
TEXT ·dotQ4_0Q8_0SDOT(SB), NOSPLIT, $0-60
	DOTQ4_0(Q4INT_SDOT)

// func dotQ4_0Q8_0NEON(w, x []byte, nb int) float32
TEXT ·dotQ4_0Q8_0NEON(SB), NOSPLIT, $0-60
	DOTQ4_0(Q4INT_NEON)

// func rows4Q4_0SDOT(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)
TEXT ·rows4Q4_0SDOT(SB), NOSPLIT, $0-112
	ROWS4Q4_0(Q4INT_SDOT)

// func rows4Q4_0NEON(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)
TEXT ·rows4Q4_0NEON(SB), NOSPLIT, $0-112
	ROWS4Q4_0(Q4INT_NEON)

// func rows4Q8_0SDOT(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)
TEXT ·rows4Q8_0SDOT(SB), NOSPLIT, $0-112
	ROWS4Q8_0(Q8INT_SDOT)

// func rows4Q8_0NEON(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)
TEXT ·rows4Q8_0NEON(SB), NOSPLIT, $0-112
	ROWS4Q8_0(Q8INT_NEON)

// func dotQ4_KQ8_KSDOT(w, x []byte, nb int) float32
TEXT ·dotQ4_KQ8_KSDOT(SB), NOSPLIT, $0-60
	DOTQ4_K(Q4INT_SDOT)

// func dotQ4_KQ8_KNEON(w, x []byte, nb int) float32
TEXT ·dotQ4_KQ8_KNEON(SB), NOSPLIT, $0-60
	DOTQ4_K(Q4INT_NEON)

// func dotQ6_KQ8_KSDOT(w, x []byte, nb int) float32
TEXT ·dotQ6_KQ8_KSDOT(SB), NOSPLIT, $0-60
	DOTQ6_K(Q6INT_SDOT)

// func dotQ6_KQ8_KNEON(w, x []byte, nb int) float32
TEXT ·dotQ6_KQ8_KNEON(SB), NOSPLIT, $0-60
	DOTQ6_K(Q6INT_NEON)

// func dotQ5_KQ8_KSDOT(w, x []byte, nb int) float32
TEXT ·dotQ5_KQ8_KSDOT(SB), NOSPLIT, $0-60
	DOTQ5_K(Q4INT_SDOT)

// func dotQ5_KQ8_KNEON(w, x []byte, nb int) float32
TEXT ·dotQ5_KQ8_KNEON(SB), NOSPLIT, $0-60
	DOTQ5_K(Q4INT_NEON)
