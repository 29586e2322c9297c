// Macros shared by the packed Q4_K and Q5_K kernels (q4kpack_amd64.s,
// q5kpack_amd64.s), whose blocks begin with the same 2368 bytes (d, dmin,
// scales, mins, the low four bits of the quants) and whose activations are
// the same (expandQ8_KPacked), and the token pointers, steps and stores of
// all the packed k-quant tiles (also q6kpack_amd64.s).

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

// KSTART points BX at the first pair's quants, DX at its scales and AX
// (64 times the pair's index) at 0; KNEXT steps to the next pair and loops
// to L until all four are done.
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

// KTOK4(H): sub-block 2i+H against the four tokens at DI, R8..R10.
#define KTOK4(H) \
	KTOK(DI, H, Z24, Z16); \
	KTOK(R8, H, Z25, Z17); \
	KTOK(R9, H, Z26, Z18); \
	KTOK(R10, H, Z27, Z19)

// KPTRS4 and KPTRS8 point R8, R9, ... at the tokens after the one at DI,
// AX (xstride) apart.
#define KPTRS4 \
	LEAQ (DI)(AX*1), R8; \
	LEAQ (R8)(AX*1), R9; \
	LEAQ (R9)(AX*1), R10

#define KPTRS8 \
	KPTRS4; \
	LEAQ (R10)(AX*1), R11; \
	LEAQ (R11)(AX*1), R12; \
	LEAQ (R12)(AX*1), R13; \
	LEAQ (R13)(AX*1), R14

// KADV4(N) and KADV8(N) step the token pointers to the next block.
#define KADV4(N) \
	ADDQ $N, DI; \
	ADDQ $N, R8; \
	ADDQ $N, R9; \
	ADDQ $N, R10

#define KADV8(N) \
	KADV4(N); \
	ADDQ $N, R11; \
	ADDQ $N, R12; \
	ADDQ $N, R13; \
	ADDQ $N, R14

// KSTORE(Z) writes a token's sixteen results from Z to AX and steps AX to
// the next token's, DX bytes on.
#define KSTORE(Z) \
	VMOVUPS Z, (AX); \
	ADDQ    DX, AX

// KPF9 prefetches the nine cache lines 8 KiB past BX: a pair's quants in
// the rows and four-token kernels.
#define KPF9 \
	PREFETCHT0 8192(BX); \
	PREFETCHT0 8256(BX); \
	PREFETCHT0 8320(BX); \
	PREFETCHT0 8384(BX); \
	PREFETCHT0 8448(BX); \
	PREFETCHT0 8512(BX); \
	PREFETCHT0 8576(BX); \
	PREFETCHT0 8640(BX); \
	PREFETCHT0 8704(BX)
