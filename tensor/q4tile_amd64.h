// Constants and macros shared by q4_amd64.s and q4pack_amd64.s. Their
// eight-row Q4_0 kernels have the current block of eight rows in the same
// registers (scales as float32 in Y13, low nibbles of V_0..V_3 in Y4..Y7,
// high nibbles in Y8..Y11) and differ only in how they load it: the AVX2
// one-token step (ROW8AVX2) is shared by both, the eight-token tile (TILE8
// and its helpers) is q4_amd64.s's.
//
// Eight tokens: token t's expanded blocks at DI + t*R14, with R12 = 3*R14
// and R13 = DI + 4*R14. Token t accumulates in Y(24+t), using Y(16+t) for
// its int32 sums; Y14 is scratch.

// Each including file gets its own copy of these file-local constants.
DATA q4ones16<>+0(SB)/4, $0x00010001
GLOBL q4ones16<>(SB), RODATA|NOPTR, $4
DATA q4nib<>+0(SB)/4, $0x0f0f0f0f
GLOBL q4nib<>(SB), RODATA|NOPTR, $4

// ZERO8 clears the eight tokens' float accumulators.
#define ZERO8 \
	VPXORD Y24, Y24, Y24; \
	VPXORD Y25, Y25, Y25; \
	VPXORD Y26, Y26, Y26; \
	VPXORD Y27, Y27, Y27; \
	VPXORD Y28, Y28, Y28; \
	VPXORD Y29, Y29, Y29; \
	VPXORD Y30, Y30, Y30; \
	VPXORD Y31, Y31, Y31

// TOK8 accumulates the current block of the eight rows against the token
// whose block is at XB into the int32 lanes P, then the float lanes A.
#define TOK8(XB, P, A) \
	VPBROADCASTD  4 XB, P; \
	VPDPBUSD.BCST 8 XB, Y4, P; \
	VPDPBUSD.BCST 12 XB, Y5, P; \
	VPDPBUSD.BCST 16 XB, Y6, P; \
	VPDPBUSD.BCST 20 XB, Y7, P; \
	VPDPBUSD.BCST 24 XB, Y8, P; \
	VPDPBUSD.BCST 28 XB, Y9, P; \
	VPDPBUSD.BCST 32 XB, Y10, P; \
	VPDPBUSD.BCST 36 XB, Y11, P; \
	VCVTDQ2PS     P, P; \
	VMULPS.BCST   XB, Y13, Y14; \
	VFMADD231PS   P, Y14, A

// TILE8 accumulates the current block against all eight tokens.
#define TILE8 \
	TOK8((DI), Y16, Y24); \
	TOK8((DI)(R14*1), Y17, Y25); \
	TOK8((DI)(R14*2), Y18, Y26); \
	TOK8((DI)(R12*1), Y19, Y27); \
	TOK8((R13), Y20, Y28); \
	TOK8((R13)(R14*1), Y21, Y29); \
	TOK8((R13)(R14*2), Y22, Y30); \
	TOK8((R13)(R12*1), Y23, Y31)

// STORE8 writes the eight tokens' results Y24..Y31 to out, ostride floats
// apart.
#define STORE8 \
	MOVQ    out_base+0(FP), AX; \
	MOVQ    ostride+24(FP), R8; \
	SHLQ    $2, R8; \
	VMOVUPS Y24, (AX); \
	ADDQ    R8, AX; \
	VMOVUPS Y25, (AX); \
	ADDQ    R8, AX; \
	VMOVUPS Y26, (AX); \
	ADDQ    R8, AX; \
	VMOVUPS Y27, (AX); \
	ADDQ    R8, AX; \
	VMOVUPS Y28, (AX); \
	ADDQ    R8, AX; \
	VMOVUPS Y29, (AX); \
	ADDQ    R8, AX; \
	VMOVUPS Y30, (AX); \
	ADDQ    R8, AX; \
	VMOVUPS Y31, (AX)

// ROW8AVX2 accumulates the current block of the eight rows against the
// token at DI into Y12 with AVX2 only: the byte products go through
// VPMADDUBSW into int16 pairs, which stay below 2^15 summed over a block
// (8 groups of 2*15*128), then VPMADDWD (Y14: int16 ones) makes them
// int32, the block sums of (q-8)*x once the correction at 4(DI) is added.
// Clobbers Y0..Y3 and Y13.
#define ROW8AVX2 \
	VPBROADCASTD 8(DI), Y0; \
	VPMADDUBSW   Y0, Y4, Y2; \
	VPBROADCASTD 12(DI), Y0; \
	VPMADDUBSW   Y0, Y5, Y1; \
	VPADDW       Y1, Y2, Y2; \
	VPBROADCASTD 16(DI), Y0; \
	VPMADDUBSW   Y0, Y6, Y1; \
	VPADDW       Y1, Y2, Y2; \
	VPBROADCASTD 20(DI), Y0; \
	VPMADDUBSW   Y0, Y7, Y1; \
	VPADDW       Y1, Y2, Y2; \
	VPBROADCASTD 24(DI), Y0; \
	VPMADDUBSW   Y0, Y8, Y3; \
	VPBROADCASTD 28(DI), Y0; \
	VPMADDUBSW   Y0, Y9, Y1; \
	VPADDW       Y1, Y3, Y3; \
	VPBROADCASTD 32(DI), Y0; \
	VPMADDUBSW   Y0, Y10, Y1; \
	VPADDW       Y1, Y3, Y3; \
	VPBROADCASTD 36(DI), Y0; \
	VPMADDUBSW   Y0, Y11, Y1; \
	VPADDW       Y1, Y3, Y3; \
	VPADDW       Y3, Y2, Y2; \
	VPMADDWD     Y14, Y2, Y2; \
	VPBROADCASTD 4(DI), Y0; \
	VPADDD       Y0, Y2, Y2; \
	VCVTDQ2PS    Y2, Y2; \
	VBROADCASTSS (DI), Y0; \
	VMULPS       Y0, Y13, Y13; \
	VFMADD231PS  Y2, Y13, Y12
