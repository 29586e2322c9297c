//go:build !purego

#include "textflag.h"

// Q4_0 and Q8_0 kernels against Q8_0 activations.
//
// The integer dot product of each 32-element block is exact. The float
// part follows llama.cpp's x86 backend, so that results match it rather
// than merely the reference up to rounding:
//
//   Q8_0 weights (ggml_vec_dot_q8_0_q8_0, and tinyBLAS for several tokens):
//   eight float lanes, lane k holding the sum over blocks of elements
//   4k..4k+3, acc[k] = fma(d, float(int sum), acc[k]) with d = dw*dx in
//   float32; at the end the halves are added lane by lane, then lanes
//   0+2 and 1+3, then those two (hsum_float_8).
//
//   Q4_0 weights (the repacked 8×8 gemv/gemm kernels llama.cpp uses on
//   AVX2 CPUs): one float per output, acc = fma(float(block sum), dw*dx,
//   acc) block after block.
//
// Byte products: AVX2 has no signed×signed byte multiply, so Q8_0×Q8_0
// moves the weight's sign onto the activation (VPABSB, VPSIGNB) and uses
// VPMADDUBSW (unsigned × signed, pairs to int16) and VPMADDWD by ones (to
// int32); an activation of -128 would overflow there, which is why the
// activations must lie in [-127, 127]. The VNNI kernels instead bias the
// weight to unsigned (w XOR 0x80 = w+128) and subtract 128*sum(x), which
// they get from the same VPDPBUSD with a vector of 0x80 bytes. Q4_0 uses
// the nibbles 0..15 as unsigned bytes and subtracts 8*sum(x) likewise.

DATA absMask<>+0(SB)/4, $0x7fffffff
GLOBL absMask<>(SB), RODATA|NOPTR, $4
DATA f127<>+0(SB)/4, $0x42fe0000 // 127.0
GLOBL f127<>(SB), RODATA|NOPTR, $4
DATA ones16<>+0(SB)/4, $0x00010001
GLOBL ones16<>(SB), RODATA|NOPTR, $4
DATA nibMask<>+0(SB)/4, $0x0f0f0f0f
GLOBL nibMask<>(SB), RODATA|NOPTR, $4
DATA eights<>+0(SB)/4, $0x08080808
GLOBL eights<>(SB), RODATA|NOPTR, $4
DATA bias80<>+0(SB)/4, $0x80808080
GLOBL bias80<>(SB), RODATA|NOPTR, $4

// packPerm undoes the lane interleaving of VPACKSSDW + VPACKSSWB.
DATA packPerm<>+0(SB)/4, $0
DATA packPerm<>+4(SB)/4, $4
DATA packPerm<>+8(SB)/4, $1
DATA packPerm<>+12(SB)/4, $5
DATA packPerm<>+16(SB)/4, $2
DATA packPerm<>+20(SB)/4, $6
DATA packPerm<>+24(SB)/4, $3
DATA packPerm<>+28(SB)/4, $7
GLOBL packPerm<>(SB), RODATA|NOPTR, $32

// HSUM8 reduces the eight floats of Y into the low lane of X (the low half
// of Y) in hsum_float_8's order. T is a scratch XMM register.
#define HSUM8(Y, X, T) \
	VEXTRACTF128 $1, Y, T; \
	VADDPS       X, T, X; \
	VMOVHLPS     X, X, T; \
	VADDPS       T, X, X; \
	VMOVSHDUP    X, T; \
	VADDSS       T, X, X

// HSUM8X is HSUM8 in EVEX form, for the registers Y16-Y31.
#define HSUM8X(Y, X, T) \
	VEXTRACTF32X4 $1, Y, T; \
	VADDPS        X, T, X; \
	VMOVHLPS      X, X, T; \
	VADDPS        T, X, X; \
	VMOVSHDUP     X, T; \
	VADDSS        T, X, X

// GATHER4D loads the fp16 scales of the blocks at SI, SI+BX, SI+2*BX and
// SI+R11 (four weight rows) and leaves them as four float32 in X1.
#define GATHER4D \
	MOVWLZX   (SI), AX; \
	MOVWLZX   (SI)(BX*1), R8; \
	MOVWLZX   (SI)(BX*2), R9; \
	MOVWLZX   (SI)(R11*1), R10; \
	SHLQ      $16, R8; \
	ORQ       R8, AX; \
	SHLQ      $32, R9; \
	ORQ       R9, AX; \
	SHLQ      $48, R10; \
	ORQ       R10, AX; \
	VMOVQ     AX, X1; \
	VCVTPH2PS X1, X1

// func quantizeQ8_0AVX2(dst []byte, src []float32)
//
// ggml's AVX2 quantize_row_q8_0: d = amax/127 stored as fp16, quants
// round-to-nearest-even(x * (127/amax)).
TEXT ·quantizeQ8_0AVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	SHRQ $5, CX
	JZ   qdone
	VPBROADCASTD absMask<>(SB), Y15
	VMOVSS       f127<>(SB), X14
	VMOVDQU      packPerm<>(SB), Y13
	VXORPS       X12, X12, X12

qloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VANDPS  Y15, Y0, Y4
	VANDPS  Y15, Y1, Y5
	VANDPS  Y15, Y2, Y6
	VANDPS  Y15, Y3, Y7
	VMAXPS  Y5, Y4, Y4
	VMAXPS  Y7, Y6, Y6
	VMAXPS  Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VMAXPS  X5, X4, X4
	VMOVHLPS X4, X4, X5
	VMAXPS  X5, X4, X4
	VMOVSHDUP X4, X5
	VMAXSS  X5, X4, X4    // amax

	VDIVSS    X14, X4, X5 // d = amax / 127
	VCVTPS2PH $0, X5, X5
	VMOVD     X5, AX
	MOVW      AX, (DI)

	VDIVSS  X4, X14, X6     // 127 / amax
	VCMPSS  $4, X12, X4, X7 // amax != 0
	VANDPS  X7, X6, X6
	VBROADCASTSS X6, Y6

	VMULPS    Y6, Y0, Y0
	VMULPS    Y6, Y1, Y1
	VMULPS    Y6, Y2, Y2
	VMULPS    Y6, Y3, Y3
	VCVTPS2DQ Y0, Y0 // rounds to nearest even (MXCSR default)
	VCVTPS2DQ Y1, Y1
	VCVTPS2DQ Y2, Y2
	VCVTPS2DQ Y3, Y3
	VPACKSSDW Y1, Y0, Y0
	VPACKSSDW Y3, Y2, Y2
	VPACKSSWB Y2, Y0, Y0
	VPERMD    Y0, Y13, Y0
	VMOVDQU   Y0, 2(DI)

	ADDQ $128, SI
	ADDQ $34, DI
	DECQ CX
	JNZ  qloop
	VZEROUPPER

qdone:
	RET

// func dotQ8_0Q8_0AVX2(w, x []byte, nb int) float32
TEXT ·dotQ8_0Q8_0AVX2(SB), NOSPLIT, $0-60
	MOVQ w_base+0(FP), SI
	MOVQ x_base+24(FP), DI
	MOVQ nb+48(FP), CX
	VPBROADCASTD ones16<>(SB), Y15
	VXORPS Y0, Y0, Y0
	TESTQ  CX, CX
	JZ     d8done

d8loop:
	MOVWLZX   (SI), AX
	MOVWLZX   (DI), DX
	VMOVD     AX, X1
	VMOVD     DX, X2
	VCVTPH2PS X1, X1
	VCVTPH2PS X2, X2
	VMULSS    X2, X1, X1   // d = dw*dx
	VBROADCASTSS X1, Y1
	VMOVDQU   2(DI), Y2    // x
	VPABSB    2(SI), Y3    // |w|
	VPSIGNB   2(SI), Y2, Y4 // x with w's sign
	VPMADDUBSW Y4, Y3, Y4
	VPMADDWD  Y15, Y4, Y4  // lane k: elements 4k..4k+3
	VCVTDQ2PS Y4, Y4
	VFMADD231PS Y4, Y1, Y0
	ADDQ $34, SI
	ADDQ $34, DI
	DECQ CX
	JNZ  d8loop

d8done:
	HSUM8(Y0, X0, X1)
	VZEROUPPER
	MOVSS X0, ret+56(FP)
	RET

// func dotQ4_0Q8_0AVX2(w, x []byte, nb int) float32
TEXT ·dotQ4_0Q8_0AVX2(SB), NOSPLIT, $0-60
	MOVQ w_base+0(FP), SI
	MOVQ x_base+24(FP), DI
	MOVQ nb+48(FP), CX
	VPBROADCASTD ones16<>(SB), Y15
	VPBROADCASTD nibMask<>(SB), Y14
	VPBROADCASTD eights<>(SB), Y13
	VXORPS X0, X0, X0
	TESTQ  CX, CX
	JZ     d4done

d4loop:
	MOVWLZX   (SI), AX
	MOVWLZX   (DI), DX
	VMOVD     AX, X1
	VMOVD     DX, X2
	VCVTPH2PS X1, X1
	VCVTPH2PS X2, X2
	VMULSS    X2, X1, X1    // d = dw*dx
	VMOVDQU   2(DI), Y2     // x
	VMOVDQU   2(SI), X3     // 32 nibbles
	VPSRLW    $4, X3, X4
	VINSERTI128 $1, X4, Y3, Y3
	VPAND     Y14, Y3, Y3   // q in 0..15, element order
	VPMADDUBSW Y2, Y3, Y4   // q*x in pairs
	VPMADDUBSW Y2, Y13, Y5  // 8*x in pairs
	VPSUBW    Y5, Y4, Y4    // (q-8)*x in pairs
	VPMADDWD  Y15, Y4, Y4
	VEXTRACTI128 $1, Y4, X5
	VPADDD    X5, X4, X4
	VPSHUFD   $0x4e, X4, X5
	VPADDD    X5, X4, X4
	VPSHUFD   $0xb1, X4, X5
	VPADDD    X5, X4, X4    // block sum
	VCVTDQ2PS X4, X4
	VFMADD231SS X4, X1, X0
	ADDQ $18, SI
	ADDQ $34, DI
	DECQ CX
	JNZ  d4loop

d4done:
	VZEROUPPER
	MOVSS X0, ret+56(FP)
	RET

// Four-row kernels: rows at SI, SI+BX, SI+2*BX, SI+R11 (R11 = 3*BX), one
// activation row at DI with float scales at DX.

// ROWD4 leaves in X1 the four rows' d = dw*dx for the current block: their
// fp16 scales (GATHER4D) times the activation's float scale at DX.
#define ROWD4 \
	GATHER4D; \
	VBROADCASTSS (DX), X2; \
	VMULPS       X2, X1, X1

// STORE4SUMS writes the horizontal sums of Y8..Y11 to (AX)[0..3].
#define STORE4SUMS \
	HSUM8(Y8, X8, X0); \
	HSUM8(Y9, X9, X0); \
	HSUM8(Y10, X10, X0); \
	HSUM8(Y11, X11, X0); \
	VMOVSS X8, (AX); \
	VMOVSS X9, 4(AX); \
	VMOVSS X10, 8(AX); \
	VMOVSS X11, 12(AX)

// Q8ROW accumulates one Q8_0 row's block into ACC; Y2 holds x, D the
// row's d = dw*dx, Y15 int16 ones.
#define Q8ROW(W, D, ACC) \
	VPABSB       W, Y3; \
	VPSIGNB      W, Y2, Y4; \
	VPMADDUBSW   Y4, Y3, Y4; \
	VPMADDWD     Y15, Y4, Y4; \
	VCVTDQ2PS    Y4, Y4; \
	VBROADCASTSS D, Y5; \
	VFMADD231PS  Y4, Y5, ACC

// func rows4Q8_0AVX2(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)
TEXT ·rows4Q8_0AVX2(SB), NOSPLIT, $16-112
	MOVQ w_base+24(FP), SI
	MOVQ wstride+48(FP), BX
	LEAQ (BX)(BX*2), R11
	MOVQ x_base+56(FP), DI
	MOVQ dx_base+80(FP), DX
	MOVQ nb+104(FP), CX
	VPBROADCASTD ones16<>(SB), Y15
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

r8loop:
	ROWD4
	VMOVUPS X1, (SP)
	VMOVDQU 2(DI), Y2
	Q8ROW(2(SI), (SP), Y8)
	Q8ROW(2(SI)(BX*1), 4(SP), Y9)
	Q8ROW(2(SI)(BX*2), 8(SP), Y10)
	Q8ROW(2(SI)(R11*1), 12(SP), Y11)
	ADDQ $34, SI
	ADDQ $34, DI
	ADDQ $4, DX
	DECQ CX
	JNZ  r8loop

	MOVQ out_base+0(FP), AX
	STORE4SUMS
	VZEROUPPER
	RET

// Q8ROWV is Q8ROW with VNNI: Y3 holds -128*sum(x) per lane, Y13 0x80 bytes.
#define Q8ROWV(W, D, ACC) \
	VPXOR        W, Y13, Y6; \
	VMOVDQA      Y3, Y4; \
	VPDPBUSD     Y2, Y6, Y4; \
	VCVTDQ2PS    Y4, Y4; \
	VBROADCASTSS D, Y5; \
	VFMADD231PS  Y4, Y5, ACC

// func rows4Q8_0VNNI(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)
TEXT ·rows4Q8_0VNNI(SB), NOSPLIT, $16-112
	MOVQ w_base+24(FP), SI
	MOVQ wstride+48(FP), BX
	LEAQ (BX)(BX*2), R11
	MOVQ x_base+56(FP), DI
	MOVQ dx_base+80(FP), DX
	MOVQ nb+104(FP), CX
	VPBROADCASTD bias80<>(SB), Y13
	VPXOR  Y12, Y12, Y12
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

v8loop:
	ROWD4
	VMOVUPS X1, (SP)
	VMOVDQU 2(DI), Y2
	VPXOR    Y3, Y3, Y3
	VPDPBUSD Y2, Y13, Y3
	VPSUBD   Y3, Y12, Y3 // -128*sum(x) per lane
	Q8ROWV(2(SI), (SP), Y8)
	Q8ROWV(2(SI)(BX*1), 4(SP), Y9)
	Q8ROWV(2(SI)(BX*2), 8(SP), Y10)
	Q8ROWV(2(SI)(R11*1), 12(SP), Y11)
	ADDQ $34, SI
	ADDQ $34, DI
	ADDQ $4, DX
	DECQ CX
	JNZ  v8loop

	MOVQ out_base+0(FP), AX
	STORE4SUMS
	VZEROUPPER
	RET

// UNPACK4 expands the 16 bytes of Q4_0 nibbles at W into 32 bytes 0..15
// in element order in Y (X its low half); T is scratch, Y14 0x0f bytes.
#define UNPACK4(W, Y, X, T) \
	VMOVDQU     W, X; \
	VPSRLW      $4, X, T; \
	VINSERTI128 $1, T, Y, Y; \
	VPAND       Y14, Y, Y

// REDUCE4 adds up the eight int32 lanes of each of P0..P3 into the four
// lanes of X0 = low half of P0 (P0..P3 are clobbered; XT scratch).
#define REDUCE4(P0, P1, P2, P3, X0, XT) \
	VPHADDD      P1, P0, P0; \
	VPHADDD      P3, P2, P2; \
	VPHADDD      P2, P0, P0; \
	VEXTRACTI128 $1, P0, XT; \
	VPADDD       XT, X0, X0

// func rows4Q4_0AVX2(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)
TEXT ·rows4Q4_0AVX2(SB), NOSPLIT, $0-112
	MOVQ w_base+24(FP), SI
	MOVQ wstride+48(FP), BX
	LEAQ (BX)(BX*2), R11
	MOVQ x_base+56(FP), DI
	MOVQ dx_base+80(FP), DX
	MOVQ nb+104(FP), CX
	VPBROADCASTD ones16<>(SB), Y15
	VPBROADCASTD nibMask<>(SB), Y14
	VPBROADCASTD eights<>(SB), Y13
	VXORPS X0, X0, X0

r4loop:
	ROWD4
	VMOVDQU 2(DI), Y2
	VPMADDUBSW Y2, Y13, Y3 // 8*x in pairs

	UNPACK4(2(SI), Y8, X8, X9)
	VPMADDUBSW Y2, Y8, Y4
	VPSUBW     Y3, Y4, Y4
	VPMADDWD   Y15, Y4, Y4
	UNPACK4(2(SI)(BX*1), Y8, X8, X9)
	VPMADDUBSW Y2, Y8, Y5
	VPSUBW     Y3, Y5, Y5
	VPMADDWD   Y15, Y5, Y5
	UNPACK4(2(SI)(BX*2), Y8, X8, X9)
	VPMADDUBSW Y2, Y8, Y6
	VPSUBW     Y3, Y6, Y6
	VPMADDWD   Y15, Y6, Y6
	UNPACK4(2(SI)(R11*1), Y8, X8, X9)
	VPMADDUBSW Y2, Y8, Y7
	VPSUBW     Y3, Y7, Y7
	VPMADDWD   Y15, Y7, Y7

	REDUCE4(Y4, Y5, Y6, Y7, X4, X9)
	VCVTDQ2PS   X4, X4
	VFMADD231PS X4, X1, X0
	ADDQ $18, SI
	ADDQ $34, DI
	ADDQ $4, DX
	DECQ CX
	JNZ  r4loop

	MOVQ    out_base+0(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// func rows4Q4_0VNNI(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)
TEXT ·rows4Q4_0VNNI(SB), NOSPLIT, $0-112
	MOVQ w_base+24(FP), SI
	MOVQ wstride+48(FP), BX
	LEAQ (BX)(BX*2), R11
	MOVQ x_base+56(FP), DI
	MOVQ dx_base+80(FP), DX
	MOVQ nb+104(FP), CX
	VPBROADCASTD nibMask<>(SB), Y14
	VPBROADCASTD eights<>(SB), Y13
	VPXOR  Y12, Y12, Y12
	VXORPS X0, X0, X0

u4loop:
	ROWD4
	VMOVDQU  2(DI), Y2
	VPXOR    Y3, Y3, Y3
	VPDPBUSD Y2, Y13, Y3
	VPSUBD   Y3, Y12, Y3 // -8*sum(x) per lane

	UNPACK4(2(SI), Y8, X8, X9)
	VMOVDQA  Y3, Y4
	VPDPBUSD Y2, Y8, Y4
	UNPACK4(2(SI)(BX*1), Y8, X8, X9)
	VMOVDQA  Y3, Y5
	VPDPBUSD Y2, Y8, Y5
	UNPACK4(2(SI)(BX*2), Y8, X8, X9)
	VMOVDQA  Y3, Y6
	VPDPBUSD Y2, Y8, Y6
	UNPACK4(2(SI)(R11*1), Y8, X8, X9)
	VMOVDQA  Y3, Y7
	VPDPBUSD Y2, Y8, Y7

	REDUCE4(Y4, Y5, Y6, Y7, X4, X9)
	VCVTDQ2PS   X4, X4
	VFMADD231PS X4, X1, X0
	ADDQ $18, SI
	ADDQ $34, DI
	ADDQ $4, DX
	DECQ CX
	JNZ  u4loop

	MOVQ    out_base+0(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// 4×4 tiles: weight rows as above; activation rows at DI, DI+R14,
// DI+2*R14 and R13 (= DI+3*R14); their float scales at DX, DX+R12,
// DX+2*R12 and R10 (= DX+3*R12).

// GATHER4DW is GATHER4D without general registers, into X1.
#define GATHER4DW \
	VPINSRW   $0, (SI), X1, X1; \
	VPINSRW   $1, (SI)(BX*1), X1, X1; \
	VPINSRW   $2, (SI)(BX*2), X1, X1; \
	VPINSRW   $3, (SI)(R11*1), X1, X1; \
	VCVTPH2PS X1, X1

// NEGSUM sets C to -(sum of x at X times the bytes of B), per lane; Z is
// a zero register.
#define NEGSUM(X, B, C, Z) \
	VPXORD   C, C, C; \
	VPDPBUSD X, B, C; \
	VPSUBD   C, Z, C

// T8PAIR accumulates row r (u in Y12) × token t (x at X, correction C)
// into A; D is d = dw_r*dx_t in memory, broadcast into the multiply-add.
#define T8PAIR(X, C, D, A) \
	VMOVDQA64        C, Y14; \
	VPDPBUSD         X, Y12, Y14; \
	VCVTDQ2PS        Y14, Y14; \
	VFMADD231PS.BCST D, Y14, A

// T8ROW accumulates row r (weights at W) against the four tokens; the d of
// (r, t) is at 16t+4r(SP), so D0..D3 are 4r(SP), 16+4r(SP), ...
#define T8ROW(W, D0, D1, D2, D3, A0, A1, A2, A3) \
	VPXOR W, Y0, Y12; \
	T8PAIR(2(DI), Y4, D0, A0); \
	T8PAIR(2(DI)(R14*1), Y5, D1, A1); \
	T8PAIR(2(DI)(R14*2), Y6, D2, A2); \
	T8PAIR(2(R13), Y7, D3, A3)

// func tile4Q8_0VNNI(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, dx []float32, nb int)
TEXT ·tile4Q8_0VNNI(SB), NOSPLIT, $64-128
	MOVQ w_base+32(FP), SI
	MOVQ wstride+56(FP), BX
	LEAQ (BX)(BX*2), R11
	MOVQ x_base+64(FP), DI
	MOVQ xstride+88(FP), R14
	LEAQ (R14)(R14*2), R13
	ADDQ DI, R13
	MOVQ dx_base+96(FP), DX
	MOVQ nb+120(FP), CX
	MOVQ CX, R12
	SHLQ $2, R12
	LEAQ (R12)(R12*2), R10
	ADDQ DX, R10
	VPBROADCASTD bias80<>(SB), Y0
	VPXOR  Y3, Y3, Y3
	VPXORD Y16, Y16, Y16
	VPXORD Y17, Y17, Y17
	VPXORD Y18, Y18, Y18
	VPXORD Y19, Y19, Y19
	VPXORD Y20, Y20, Y20
	VPXORD Y21, Y21, Y21
	VPXORD Y22, Y22, Y22
	VPXORD Y23, Y23, Y23
	VPXORD Y24, Y24, Y24
	VPXORD Y25, Y25, Y25
	VPXORD Y26, Y26, Y26
	VPXORD Y27, Y27, Y27
	VPXORD Y28, Y28, Y28
	VPXORD Y29, Y29, Y29
	VPXORD Y30, Y30, Y30
	VPXORD Y31, Y31, Y31

t8loop:
	// d = dw*dx of the 16 pairs, token-major at (SP).
	GATHER4DW
	VMULPS.BCST (DX), X1, X8
	VMULPS.BCST (DX)(R12*1), X1, X9
	VMULPS.BCST (DX)(R12*2), X1, X10
	VMULPS.BCST (R10), X1, X11
	VMOVUPS X8, (SP)
	VMOVUPS X9, 16(SP)
	VMOVUPS X10, 32(SP)
	VMOVUPS X11, 48(SP)
	NEGSUM(2(DI), Y0, Y4, Y3)
	NEGSUM(2(DI)(R14*1), Y0, Y5, Y3)
	NEGSUM(2(DI)(R14*2), Y0, Y6, Y3)
	NEGSUM(2(R13), Y0, Y7, Y3)
	// Accumulator of row r, token t: Y16+4r+t.
	T8ROW(2(SI), (SP), 16(SP), 32(SP), 48(SP), Y16, Y17, Y18, Y19)
	T8ROW(2(SI)(BX*1), 4(SP), 20(SP), 36(SP), 52(SP), Y20, Y21, Y22, Y23)
	T8ROW(2(SI)(BX*2), 8(SP), 24(SP), 40(SP), 56(SP), Y24, Y25, Y26, Y27)
	T8ROW(2(SI)(R11*1), 12(SP), 28(SP), 44(SP), 60(SP), Y28, Y29, Y30, Y31)
	ADDQ $34, SI
	ADDQ $34, DI
	ADDQ $34, R13
	ADDQ $4, DX
	ADDQ $4, R10
	DECQ CX
	JNZ  t8loop

	MOVQ out_base+0(FP), AX
	MOVQ ostride+24(FP), R8
	SHLQ $2, R8
	HSUM8X(Y16, X16, X2)
	HSUM8X(Y17, X17, X2)
	HSUM8X(Y18, X18, X2)
	HSUM8X(Y19, X19, X2)
	HSUM8X(Y20, X20, X2)
	HSUM8X(Y21, X21, X2)
	HSUM8X(Y22, X22, X2)
	HSUM8X(Y23, X23, X2)
	HSUM8X(Y24, X24, X2)
	HSUM8X(Y25, X25, X2)
	HSUM8X(Y26, X26, X2)
	HSUM8X(Y27, X27, X2)
	HSUM8X(Y28, X28, X2)
	HSUM8X(Y29, X29, X2)
	HSUM8X(Y30, X30, X2)
	HSUM8X(Y31, X31, X2)
	VMOVSS X16, (AX)
	VMOVSS X20, 4(AX)
	VMOVSS X24, 8(AX)
	VMOVSS X28, 12(AX)
	ADDQ   R8, AX
	VMOVSS X17, (AX)
	VMOVSS X21, 4(AX)
	VMOVSS X25, 8(AX)
	VMOVSS X29, 12(AX)
	ADDQ   R8, AX
	VMOVSS X18, (AX)
	VMOVSS X22, 4(AX)
	VMOVSS X26, 8(AX)
	VMOVSS X30, 12(AX)
	ADDQ   R8, AX
	VMOVSS X19, (AX)
	VMOVSS X23, 4(AX)
	VMOVSS X27, 8(AX)
	VMOVSS X31, 12(AX)
	VZEROUPPER
	RET

// PAIR4 sets P to -8*sum(x) + sum(q*x) lane by lane for row u and token x.
#define PAIR4(C, X, U, P) \
	VMOVDQA64 C, P; \
	VPDPBUSD  X, U, P

// REDUCE8 adds up the eight int32 lanes of each of Y0..Y7 into the eight
// lanes of Y0 (lane i from Yi); Y1..Y8 are clobbered.
#define REDUCE8 \
	VPHADDD    Y1, Y0, Y0; \
	VPHADDD    Y3, Y2, Y2; \
	VPHADDD    Y5, Y4, Y4; \
	VPHADDD    Y7, Y6, Y6; \
	VPHADDD    Y2, Y0, Y0; \
	VPHADDD    Y6, Y4, Y4; \
	VPERM2I128 $0x20, Y4, Y0, Y8; \
	VPERM2I128 $0x31, Y4, Y0, Y0; \
	VPADDD     Y8, Y0, Y0

// func tile4Q4_0VNNI(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, dx []float32, nb int)
TEXT ·tile4Q4_0VNNI(SB), NOSPLIT, $0-128
	MOVQ w_base+32(FP), SI
	MOVQ wstride+56(FP), BX
	LEAQ (BX)(BX*2), R11
	MOVQ x_base+64(FP), DI
	MOVQ xstride+88(FP), R14
	LEAQ (R14)(R14*2), R13
	ADDQ DI, R13
	MOVQ dx_base+96(FP), DX
	MOVQ nb+120(FP), CX
	MOVQ CX, R12
	SHLQ $2, R12
	LEAQ (R12)(R12*2), R10
	ADDQ DX, R10
	VPBROADCASTD nibMask<>(SB), Y14
	VPBROADCASTD eights<>(SB), Y15
	VPXORD Y20, Y20, Y20
	VPXORD Y21, Y21, Y21 // tokens 0, 1: rows 0-3 in each half
	VPXORD Y22, Y22, Y22 // tokens 2, 3

t4loop:
	// d for the 16 pairs: dw of rows 0-3 in both halves times dx of the
	// half's token.
	GATHER4DW
	VINSERTF32X4 $1, X1, Y1, Y23
	VBROADCASTSS (DX), Y24
	VBROADCASTSS (DX)(R12*1), X26
	VINSERTF32X4 $1, X26, Y24, Y24
	VBROADCASTSS (DX)(R12*2), Y25
	VBROADCASTSS (R10), X26
	VINSERTF32X4 $1, X26, Y25, Y25
	VMULPS Y24, Y23, Y24
	VMULPS Y25, Y23, Y25

	NEGSUM(2(DI), Y15, Y16, Y20)
	NEGSUM(2(DI)(R14*1), Y15, Y17, Y20)
	NEGSUM(2(DI)(R14*2), Y15, Y18, Y20)
	NEGSUM(2(R13), Y15, Y19, Y20)

	UNPACK4(2(SI), Y9, X9, X13)
	UNPACK4(2(SI)(BX*1), Y10, X10, X13)
	UNPACK4(2(SI)(BX*2), Y11, X11, X13)
	UNPACK4(2(SI)(R11*1), Y12, X12, X13)

	PAIR4(Y16, 2(DI), Y9, Y0)
	PAIR4(Y16, 2(DI), Y10, Y1)
	PAIR4(Y16, 2(DI), Y11, Y2)
	PAIR4(Y16, 2(DI), Y12, Y3)
	PAIR4(Y17, 2(DI)(R14*1), Y9, Y4)
	PAIR4(Y17, 2(DI)(R14*1), Y10, Y5)
	PAIR4(Y17, 2(DI)(R14*1), Y11, Y6)
	PAIR4(Y17, 2(DI)(R14*1), Y12, Y7)
	REDUCE8
	VCVTDQ2PS   Y0, Y0
	VFMADD231PS Y0, Y24, Y21

	PAIR4(Y18, 2(DI)(R14*2), Y9, Y0)
	PAIR4(Y18, 2(DI)(R14*2), Y10, Y1)
	PAIR4(Y18, 2(DI)(R14*2), Y11, Y2)
	PAIR4(Y18, 2(DI)(R14*2), Y12, Y3)
	PAIR4(Y19, 2(R13), Y9, Y4)
	PAIR4(Y19, 2(R13), Y10, Y5)
	PAIR4(Y19, 2(R13), Y11, Y6)
	PAIR4(Y19, 2(R13), Y12, Y7)
	REDUCE8
	VCVTDQ2PS   Y0, Y0
	VFMADD231PS Y0, Y25, Y22

	ADDQ $18, SI
	ADDQ $34, DI
	ADDQ $34, R13
	ADDQ $4, DX
	ADDQ $4, R10
	DECQ CX
	JNZ  t4loop

	MOVQ out_base+0(FP), AX
	MOVQ ostride+24(FP), R8
	SHLQ $2, R8
	VMOVUPS X21, (AX)
	VEXTRACTF32X4 $1, Y21, (AX)(R8*1)
	LEAQ (AX)(R8*2), AX
	VMOVUPS X22, (AX)
	VEXTRACTF32X4 $1, Y22, (AX)(R8*1)
	VZEROUPPER
	RET
