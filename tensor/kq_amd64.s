//go:build !purego

#include "textflag.h"

// Q4_K, Q5_K and Q6_K dot products against Q8_K activations (AVX2). The
// integer sums of each 256-element super-block are exact.
//
// Q4_K takes the float steps of the repacked 8×8 kernels llama.cpp's x86
// backend uses on AVX2 CPUs: per super-block
// acc = fma(float(sum of sc*q*x), dw*dx, acc) and
// accm = fma(float(sum of m*bsum), dmin*dx, accm); the result is
// acc - accm.
//
// Q5_K keeps the reference's order, rounding each step:
// sum += (d*dx) * float(isum), then sum -= (dmin*dx) * float(msum).
//
// Q6_K also keeps the reference's order, sum += (d*dx) * float(isum)
// per super-block. llama.cpp's ggml_vec_dot_q6_K_q8_K sums eight lanes
// that each mix elements 4k..4k+3 of every chunk with the -32 offset
// correction of sub-blocks 2k and 2k+1; the lanes hold large values that
// cancel only across lanes, after rounding, which loses precision that
// the reference (and its tests) keep.

DATA kqNib<>+0(SB)/4, $0x0f0f0f0f
GLOBL kqNib<>(SB), RODATA|NOPTR, $4
DATA kq16<>+0(SB)/4, $0x10101010
GLOBL kq16<>(SB), RODATA|NOPTR, $4
DATA kq3<>+0(SB)/4, $0x03030303
GLOBL kq3<>(SB), RODATA|NOPTR, $4
DATA kq12<>+0(SB)/4, $0x0c0c0c0c
GLOBL kq12<>(SB), RODATA|NOPTR, $4
DATA kq48<>+0(SB)/4, $0x30303030
GLOBL kq48<>(SB), RODATA|NOPTR, $4
DATA kq192<>+0(SB)/4, $0xc0c0c0c0
GLOBL kq192<>(SB), RODATA|NOPTR, $4

// q6Shuf<>+32*i selects int16 2i of a 128-bit half into the eight words
// of the low half and int16 2i+1 into those of the high half.
DATA q6Shuf<>+0(SB)/8, $0x0100010001000100
DATA q6Shuf<>+8(SB)/8, $0x0100010001000100
DATA q6Shuf<>+16(SB)/8, $0x0302030203020302
DATA q6Shuf<>+24(SB)/8, $0x0302030203020302
DATA q6Shuf<>+32(SB)/8, $0x0504050405040504
DATA q6Shuf<>+40(SB)/8, $0x0504050405040504
DATA q6Shuf<>+48(SB)/8, $0x0706070607060706
DATA q6Shuf<>+56(SB)/8, $0x0706070607060706
DATA q6Shuf<>+64(SB)/8, $0x0908090809080908
DATA q6Shuf<>+72(SB)/8, $0x0908090809080908
DATA q6Shuf<>+80(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q6Shuf<>+88(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q6Shuf<>+96(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q6Shuf<>+104(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q6Shuf<>+112(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q6Shuf<>+120(SB)/8, $0x0f0e0f0e0f0e0f0e
GLOBL q6Shuf<>(SB), RODATA|NOPTR, $128

// q4Shuf<>+32*j broadcasts int16 j of a 128-bit half to all its words.
DATA q4Shuf<>+0(SB)/8, $0x0100010001000100
DATA q4Shuf<>+8(SB)/8, $0x0100010001000100
DATA q4Shuf<>+16(SB)/8, $0x0100010001000100
DATA q4Shuf<>+24(SB)/8, $0x0100010001000100
DATA q4Shuf<>+32(SB)/8, $0x0302030203020302
DATA q4Shuf<>+40(SB)/8, $0x0302030203020302
DATA q4Shuf<>+48(SB)/8, $0x0302030203020302
DATA q4Shuf<>+56(SB)/8, $0x0302030203020302
DATA q4Shuf<>+64(SB)/8, $0x0504050405040504
DATA q4Shuf<>+72(SB)/8, $0x0504050405040504
DATA q4Shuf<>+80(SB)/8, $0x0504050405040504
DATA q4Shuf<>+88(SB)/8, $0x0504050405040504
DATA q4Shuf<>+96(SB)/8, $0x0706070607060706
DATA q4Shuf<>+104(SB)/8, $0x0706070607060706
DATA q4Shuf<>+112(SB)/8, $0x0706070607060706
DATA q4Shuf<>+120(SB)/8, $0x0706070607060706
DATA q4Shuf<>+128(SB)/8, $0x0908090809080908
DATA q4Shuf<>+136(SB)/8, $0x0908090809080908
DATA q4Shuf<>+144(SB)/8, $0x0908090809080908
DATA q4Shuf<>+152(SB)/8, $0x0908090809080908
DATA q4Shuf<>+160(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4Shuf<>+168(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4Shuf<>+176(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4Shuf<>+184(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4Shuf<>+192(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4Shuf<>+200(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4Shuf<>+208(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4Shuf<>+216(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4Shuf<>+224(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q4Shuf<>+232(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q4Shuf<>+240(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q4Shuf<>+248(SB)/8, $0x0f0e0f0e0f0e0f0e
GLOBL q4Shuf<>(SB), RODATA|NOPTR, $256

// HSUMI adds the eight int32 lanes of Y (X its low half) into the low lane
// of X; T is scratch.
#define HSUMI(Y, X, T) \
	VEXTRACTI128 $1, Y, T; \
	VPADDD       T, X, X; \
	VPSHUFD      $0x4e, X, T; \
	VPADDD       T, X, X; \
	VPSHUFD      $0xb1, X, T; \
	VPADDD       T, X, X

// SCALEMINS unpacks the 6-bit scales and mins (see scaleMinK4) of the
// K-quant block at SI four at a time (AX = scales 0-3, R9 = scales 4-7,
// R10 = mins 0-3, R8 = mins 4-7) and widens them to int16: the scales
// into both halves of Y0, the mins into X1. BX, DX and R11 are scratch.
#define SCALEMINS \
	MOVL        4(SI), AX; \
	MOVL        8(SI), BX; \
	MOVL        12(SI), DX; \
	MOVL        DX, R8; \
	SHRL        $4, R8; \
	ANDL        $0x0f0f0f0f, R8; \
	MOVL        BX, R9; \
	SHRL        $6, R9; \
	ANDL        $0x03030303, R9; \
	SHLL        $4, R9; \
	ORL         R9, R8; \
	MOVL        BX, R10; \
	ANDL        $0x3f3f3f3f, R10; \
	MOVL        DX, R9; \
	ANDL        $0x0f0f0f0f, R9; \
	MOVL        AX, R11; \
	SHRL        $6, R11; \
	ANDL        $0x03030303, R11; \
	SHLL        $4, R11; \
	ORL         R11, R9; \
	ANDL        $0x3f3f3f3f, AX; \
	SHLQ        $32, R9; \
	ORQ         R9, AX; \
	SHLQ        $32, R8; \
	ORQ         R8, R10; \
	VMOVQ       AX, X0; \
	VPMOVZXBW   X0, X0; \
	VINSERTI128 $1, X0, Y0, Y0; \
	VMOVQ       R10, X1; \
	VPMOVZXBW   X1, X1

// Q4KCHUNK adds sub-blocks 2c and 2c+1 (32 bytes of nibbles at Q, their
// activations at A1 and A2) times their scales into Y10. Y0 holds the
// eight int16 scales in both halves, Y15 0x0f bytes.
#define Q4KCHUNK(Q, A1, A2, S1, S2) \
	VMOVDQU    Q, Y3; \
	VPAND      Y15, Y3, Y4; \
	VPSRLW     $4, Y3, Y3; \
	VPAND      Y15, Y3, Y3; \
	VPMADDUBSW A1, Y4, Y4; \
	VPMADDUBSW A2, Y3, Y3; \
	VPSHUFB    S1, Y0, Y5; \
	VPSHUFB    S2, Y0, Y6; \
	VPMADDWD   Y5, Y4, Y4; \
	VPMADDWD   Y6, Y3, Y3; \
	VPADDD     Y4, Y10, Y10; \
	VPADDD     Y3, Y10, Y10

// func dotQ4_KQ8_KAVX2(w, x []byte, nb int) float32
TEXT ·dotQ4_KQ8_KAVX2(SB), NOSPLIT, $0-60
	MOVQ w_base+0(FP), SI
	MOVQ x_base+24(FP), DI
	MOVQ nb+48(FP), CX
	VPBROADCASTD kqNib<>(SB), Y15
	VXORPS X14, X14, X14 // acc
	VXORPS X13, X13, X13 // accm
	TESTQ CX, CX
	JZ    k4done

k4loop:
	SCALEMINS

	// Mins times the activation sums of their sub-blocks (pairs of the
	// 16-element bsums).
	VPUNPCKLWD X1, X1, X2
	VPUNPCKHWD X1, X1, X3
	VINSERTI128 $1, X3, Y2, Y2
	VPMADDWD   260(DI), Y2, Y11
	HSUMI(Y11, X11, X12)

	VPXOR Y10, Y10, Y10
	Q4KCHUNK(16(SI), 4(DI), 36(DI), q4Shuf<>+0(SB), q4Shuf<>+32(SB))
	Q4KCHUNK(48(SI), 68(DI), 100(DI), q4Shuf<>+64(SB), q4Shuf<>+96(SB))
	Q4KCHUNK(80(SI), 132(DI), 164(DI), q4Shuf<>+128(SB), q4Shuf<>+160(SB))
	Q4KCHUNK(112(SI), 196(DI), 228(DI), q4Shuf<>+192(SB), q4Shuf<>+224(SB))
	HSUMI(Y10, X10, X12)

	VMOVSS    (DI), X6
	MOVWLZX   (SI), AX
	MOVWLZX   2(SI), DX
	VMOVD     AX, X7
	VMOVD     DX, X8
	VCVTPH2PS X7, X7
	VCVTPH2PS X8, X8
	VMULSS    X6, X7, X7 // dw*dx
	VMULSS    X6, X8, X8 // dmin*dx
	VCVTDQ2PS X10, X10
	VCVTDQ2PS X11, X11
	VFMADD231SS X10, X7, X14
	VFMADD231SS X11, X8, X13
	ADDQ $144, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  k4loop

k4done:
	VSUBSS X13, X14, X14
	VZEROUPPER
	MOVSS X14, ret+56(FP)
	RET

// Q6KHALF adds half of a super-block (ql at QL1 and QL2, qh at QH, the
// activations of its four 32-element chunks at A0..A3) into the lanes of
// Y4. SC holds the half's eight int16 scales in both of its halves; Y15,
// Y14, Y13, Y0 and Y9 hold the byte masks 0x0f, 0x0c, 0x03, 0x30, 0xc0.
#define Q6KHALF(QL1, QL2, QH, A0, A1, A2, A3, SC) \
	VMOVDQU    QL1, Y5; \
	VMOVDQU    QL2, Y6; \
	VMOVDQU    QH, Y7; \
	VPAND      Y15, Y5, Y10; \
	VPAND      Y13, Y7, Y11; \
	VPSLLW     $4, Y11, Y11; \
	VPOR       Y11, Y10, Y10; \
	VPMADDUBSW A0, Y10, Y10; \
	VPSHUFB    q6Shuf<>+0(SB), SC, Y12; \
	VPMADDWD   Y12, Y10, Y10; \
	VPADDD     Y10, Y4, Y4; \
	VPAND      Y15, Y6, Y10; \
	VPAND      Y14, Y7, Y11; \
	VPSLLW     $2, Y11, Y11; \
	VPOR       Y11, Y10, Y10; \
	VPMADDUBSW A1, Y10, Y10; \
	VPSHUFB    q6Shuf<>+32(SB), SC, Y12; \
	VPMADDWD   Y12, Y10, Y10; \
	VPADDD     Y10, Y4, Y4; \
	VPSRLW     $4, Y5, Y5; \
	VPAND      Y15, Y5, Y10; \
	VPAND      Y0, Y7, Y11; \
	VPOR       Y11, Y10, Y10; \
	VPMADDUBSW A2, Y10, Y10; \
	VPSHUFB    q6Shuf<>+64(SB), SC, Y12; \
	VPMADDWD   Y12, Y10, Y10; \
	VPADDD     Y10, Y4, Y4; \
	VPSRLW     $4, Y6, Y6; \
	VPAND      Y15, Y6, Y10; \
	VPAND      Y9, Y7, Y11; \
	VPSRLW     $2, Y11, Y11; \
	VPOR       Y11, Y10, Y10; \
	VPMADDUBSW A3, Y10, Y10; \
	VPSHUFB    q6Shuf<>+96(SB), SC, Y12; \
	VPMADDWD   Y12, Y10, Y10; \
	VPADDD     Y10, Y4, Y4

// func dotQ6_KQ8_KAVX2(w, x []byte, nb int) float32
TEXT ·dotQ6_KQ8_KAVX2(SB), NOSPLIT, $0-60
	MOVQ w_base+0(FP), SI
	MOVQ x_base+24(FP), DI
	MOVQ nb+48(FP), CX
	VPBROADCASTD kqNib<>(SB), Y15
	VPBROADCASTD kq12<>(SB), Y14
	VPBROADCASTD kq3<>(SB), Y13
	VPBROADCASTD kq192<>(SB), Y9
	VPBROADCASTD kq48<>(SB), Y0
	VXORPS Y1, Y1, Y1 // acc
	TESTQ CX, CX
	JZ    k6done

k6loop:
	VMOVDQU    192(SI), X2
	VPMOVSXBW  X2, Y2          // the 16 scales as int16
	VPMADDWD   260(DI), Y2, Y3 // scale*bsum, sub-blocks 2k and 2k+1 in lane k
	VPSLLD     $5, Y3, Y3
	VPERMQ     $0x44, Y2, Y8   // scales 0-7 in both halves
	VPERMQ     $0xee, Y2, Y2   // scales 8-15 in both halves
	VPXOR      Y4, Y4, Y4
	Q6KHALF((SI), 32(SI), 128(SI), 4(DI), 36(DI), 68(DI), 100(DI), Y8)
	Q6KHALF(64(SI), 96(SI), 160(SI), 132(DI), 164(DI), 196(DI), 228(DI), Y2)
	VPSUBD     Y3, Y4, Y4
	HSUMI(Y4, X4, X5)

	// sum += (d*dx) * float(isum), rounded step by step as the reference
	// does.
	VMOVSS     (DI), X6
	MOVWLZX    208(SI), AX
	VMOVD      AX, X7
	VCVTPH2PS  X7, X7
	VMULSS     X6, X7, X7
	VCVTDQ2PS  X4, X4
	VMULSS     X4, X7, X7
	VADDSS     X7, X1, X1
	ADDQ $210, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  k6loop

k6done:
	VZEROUPPER
	MOVSS X1, ret+56(FP)
	RET

// Q5KCHUNK is Q4KCHUNK for Q5_K: the fifth bits of the low nibbles are
// bit 2c of the qh bytes in Y9, those of the high nibbles bit 2c+1. Each
// chunk moves them to bit 4 (Y8 holds 0x10 bytes) and shifts Y9 right by
// two for the next.
#define Q5KCHUNK(Q, A1, A2, S1, S2) \
	VMOVDQU    Q, Y3; \
	VPAND      Y15, Y3, Y4; \
	VPSRLW     $4, Y3, Y3; \
	VPAND      Y15, Y3, Y3; \
	VPSLLW     $4, Y9, Y5; \
	VPSLLW     $3, Y9, Y6; \
	VPSRLW     $2, Y9, Y9; \
	VPAND      Y8, Y5, Y5; \
	VPAND      Y8, Y6, Y6; \
	VPOR       Y5, Y4, Y4; \
	VPOR       Y6, Y3, Y3; \
	VPMADDUBSW A1, Y4, Y4; \
	VPMADDUBSW A2, Y3, Y3; \
	VPSHUFB    S1, Y0, Y5; \
	VPSHUFB    S2, Y0, Y6; \
	VPMADDWD   Y5, Y4, Y4; \
	VPMADDWD   Y6, Y3, Y3; \
	VPADDD     Y4, Y10, Y10; \
	VPADDD     Y3, Y10, Y10

// func dotQ5_KQ8_KAVX2(w, x []byte, nb int) float32
TEXT ·dotQ5_KQ8_KAVX2(SB), NOSPLIT, $0-60
	MOVQ w_base+0(FP), SI
	MOVQ x_base+24(FP), DI
	MOVQ nb+48(FP), CX
	VPBROADCASTD kqNib<>(SB), Y15
	VPBROADCASTD kq16<>(SB), Y8
	VXORPS X14, X14, X14 // sum
	TESTQ CX, CX
	JZ    k5done

k5loop:
	SCALEMINS

	VPUNPCKLWD  X1, X1, X2
	VPUNPCKHWD  X1, X1, X3
	VINSERTI128 $1, X3, Y2, Y2
	VPMADDWD    260(DI), Y2, Y11
	HSUMI(Y11, X11, X12)

	VMOVDQU 16(SI), Y9
	VPXOR   Y10, Y10, Y10
	Q5KCHUNK(48(SI), 4(DI), 36(DI), q4Shuf<>+0(SB), q4Shuf<>+32(SB))
	Q5KCHUNK(80(SI), 68(DI), 100(DI), q4Shuf<>+64(SB), q4Shuf<>+96(SB))
	Q5KCHUNK(112(SI), 132(DI), 164(DI), q4Shuf<>+128(SB), q4Shuf<>+160(SB))
	Q5KCHUNK(144(SI), 196(DI), 228(DI), q4Shuf<>+192(SB), q4Shuf<>+224(SB))
	HSUMI(Y10, X10, X12)

	VMOVSS    (DI), X6
	MOVWLZX   (SI), AX
	MOVWLZX   2(SI), DX
	VMOVD     AX, X7
	VMOVD     DX, X5
	VCVTPH2PS X7, X7
	VCVTPH2PS X5, X5
	VMULSS    X6, X7, X7 // d*dx
	VMULSS    X6, X5, X5 // dmin*dx
	VCVTDQ2PS X10, X10
	VCVTDQ2PS X11, X11
	VMULSS    X10, X7, X7
	VADDSS    X7, X14, X14
	VMULSS    X11, X5, X5
	VSUBSS    X5, X14, X14
	ADDQ $176, SI
	ADDQ $292, DI
	DECQ CX
	JNZ  k5loop

k5done:
	VZEROUPPER
	MOVSS X14, ret+56(FP)
	RET
