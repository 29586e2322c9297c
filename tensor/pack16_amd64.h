// Macros shared by the sixteen-row packed Q4_0 and Q8_0 kernels
// (q4pack_amd64.s, q8pack_amd64.s). The current block of sixteen rows is
// in the same registers for both: scales as float32 in Z13, groups 0..7
// of the block (elements 4g..4g+3 of each row, one row per dword lane) in
// Z4..Z11; they differ only in how they load it.
//
// Tokens: token t's expanded blocks (expandQ8_0AVX2's layout: dx float32 |
// correction int32 | q[32]) at DI + t*R14, with R12 = 3*R14 and
// R13 = DI + 4*R14. Token t accumulates in Z(24+t), using Z(16+t) for its
// int32 sums; Z14 is scratch.

// ZTOK accumulates the current block of the sixteen rows against the token
// whose block is at XB into the int32 lanes P, then the float lanes A:
// A = fma(float(block sum), dw*dx, A).
#define ZTOK(XB, P, A) \
	VPBROADCASTD  4 XB, P; \
	VPDPBUSD.BCST 8 XB, Z4, P; \
	VPDPBUSD.BCST 12 XB, Z5, P; \
	VPDPBUSD.BCST 16 XB, Z6, P; \
	VPDPBUSD.BCST 20 XB, Z7, P; \
	VPDPBUSD.BCST 24 XB, Z8, P; \
	VPDPBUSD.BCST 28 XB, Z9, P; \
	VPDPBUSD.BCST 32 XB, Z10, P; \
	VPDPBUSD.BCST 36 XB, Z11, P; \
	VCVTDQ2PS     P, P; \
	VMULPS.BCST   XB, Z13, Z14; \
	VFMADD231PS   P, Z14, A

#define ZTILE4 \
	ZTOK((DI), Z16, Z24); \
	ZTOK((DI)(R14*1), Z17, Z25); \
	ZTOK((DI)(R14*2), Z18, Z26); \
	ZTOK((DI)(R12*1), Z19, Z27)

#define ZTILE8 \
	ZTILE4; \
	ZTOK((R13), Z20, Z28); \
	ZTOK((R13)(R14*1), Z21, Z29); \
	ZTOK((R13)(R14*2), Z22, Z30); \
	ZTOK((R13)(R12*1), Z23, Z31)

#define ZZERO4 \
	VPXORD Z24, Z24, Z24; \
	VPXORD Z25, Z25, Z25; \
	VPXORD Z26, Z26, Z26; \
	VPXORD Z27, Z27, Z27

#define ZZERO8 \
	ZZERO4; \
	VPXORD Z28, Z28, Z28; \
	VPXORD Z29, Z29, Z29; \
	VPXORD Z30, Z30, Z30; \
	VPXORD Z31, Z31, Z31

// ZSTORE4 and ZSTORE8 write the tokens' results to out, ostride floats
// apart.
#define ZSTORE4 \
	MOVQ    out_base+0(FP), AX; \
	MOVQ    ostride+24(FP), R8; \
	SHLQ    $2, R8; \
	VMOVUPS Z24, (AX); \
	ADDQ    R8, AX; \
	VMOVUPS Z25, (AX); \
	ADDQ    R8, AX; \
	VMOVUPS Z26, (AX); \
	ADDQ    R8, AX; \
	VMOVUPS Z27, (AX)

#define ZSTORE8 \
	ZSTORE4; \
	ADDQ    R8, AX; \
	VMOVUPS Z28, (AX); \
	ADDQ    R8, AX; \
	VMOVUPS Z29, (AX); \
	ADDQ    R8, AX; \
	VMOVUPS Z30, (AX); \
	ADDQ    R8, AX; \
	VMOVUPS Z31, (AX)

// ZTOKPTRS sets R12 and R13 from DI and R14 (xstride).
#define ZTOKPTRS \
	LEAQ (R14)(R14*2), R12; \
	LEAQ (DI)(R14*4), R13

// ZROW1 is the arithmetic of the rows kernels' loop: the current block
// of sixteen rows against the one token at DI, its groups in two chains
// of four, accumulated into Z12. It leaves Z13 changed.
#define ZROW1 \
	VPBROADCASTD  4(DI), Z0; \
	VPXORD        Z1, Z1, Z1; \
	VPDPBUSD.BCST 8(DI), Z4, Z0; \
	VPDPBUSD.BCST 24(DI), Z8, Z1; \
	VPDPBUSD.BCST 12(DI), Z5, Z0; \
	VPDPBUSD.BCST 28(DI), Z9, Z1; \
	VPDPBUSD.BCST 16(DI), Z6, Z0; \
	VPDPBUSD.BCST 32(DI), Z10, Z1; \
	VPDPBUSD.BCST 20(DI), Z7, Z0; \
	VPDPBUSD.BCST 36(DI), Z11, Z1; \
	VPADDD        Z1, Z0, Z0; \
	VCVTDQ2PS     Z0, Z0; \
	VMULPS.BCST   (DI), Z13, Z13; \
	VFMADD231PS   Z0, Z13, Z12
