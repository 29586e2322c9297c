//go:build !purego

#include "textflag.h"

// Attention kernels over fp16 keys and values (see attn.go for what each
// computes, and attn_amd64.go for the sets). VCVTPS2PH $0 rounds to
// nearest even; converting back with VCVTPH2PS is exact, so the pair rounds
// a float32 to fp16 precision in place.

#define ONE $0x3f800000 // float32 1.0, the ms value that skips rescaling

// Round a vector register y (x: its low half, the same register number)
// to fp16 precision.
#define RND(y, x) VCVTPS2PH $0, y, x; VCVTPH2PS x, y

// The value update of one row for one register: rescale by Y15/Z15 and
// round, or add the row's values (at off(R11)) times Y13/Z13 and round.
#define SCL(y, x) VMULPS Y15, y, y; RND(y, x)
#define MAD(off, y, x) VCVTPH2PS off(R11), Y14; VFMADD231PS Y14, Y13, y; RND(y, x)
#define SCLZ(z, y) VMULPS Z15, z, z; RND(z, y)
#define MADZ(off, z, y) VCVTPH2PS off(R11), Z14; VFMADD231PS Z14, Z13, z; RND(z, y)

// func accumulateF16AVX2(out []float32, v []uint16, stride int, ms, vs []float32)
//
// The elements of out are taken in chunks of 64, 32 or 8 held in
// registers while every row updates them; each element's sequence of
// operations is the reference's.
TEXT ·accumulateF16AVX2(SB), NOSPLIT, $0-104
	MOVQ out_base+0(FP), DI
	MOVQ out_len+8(FP), CX
	MOVQ v_base+24(FP), SI
	MOVQ stride+48(FP), DX
	SHLQ $1, DX
	MOVQ ms_base+56(FP), R8
	MOVQ vs_base+80(FP), R9
	MOVQ vs_len+88(FP), R10

acc64:
	CMPQ CX, $64
	JLT  acc32
	VMOVUPS 0(DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VMOVUPS 160(DI), Y5
	VMOVUPS 192(DI), Y6
	VMOVUPS 224(DI), Y7
	MOVQ SI, R11
	XORQ BX, BX

acc64row:
	CMPL (R8)(BX*4), ONE
	JEQ  acc64mad
	VBROADCASTSS (R8)(BX*4), Y15
	SCL(Y0, X0)
	SCL(Y1, X1)
	SCL(Y2, X2)
	SCL(Y3, X3)
	SCL(Y4, X4)
	SCL(Y5, X5)
	SCL(Y6, X6)
	SCL(Y7, X7)

acc64mad:
	VBROADCASTSS (R9)(BX*4), Y13
	MAD(0, Y0, X0)
	MAD(16, Y1, X1)
	MAD(32, Y2, X2)
	MAD(48, Y3, X3)
	MAD(64, Y4, X4)
	MAD(80, Y5, X5)
	MAD(96, Y6, X6)
	MAD(112, Y7, X7)
	ADDQ DX, R11
	INCQ BX
	CMPQ BX, R10
	JLT  acc64row
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	ADDQ $256, DI
	ADDQ $128, SI
	SUBQ $64, CX
	JMP  acc64

acc32:
	CMPQ CX, $32
	JLT  acc8
	VMOVUPS 0(DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	MOVQ SI, R11
	XORQ BX, BX

acc32row:
	CMPL (R8)(BX*4), ONE
	JEQ  acc32mad
	VBROADCASTSS (R8)(BX*4), Y15
	SCL(Y0, X0)
	SCL(Y1, X1)
	SCL(Y2, X2)
	SCL(Y3, X3)

acc32mad:
	VBROADCASTSS (R9)(BX*4), Y13
	MAD(0, Y0, X0)
	MAD(16, Y1, X1)
	MAD(32, Y2, X2)
	MAD(48, Y3, X3)
	ADDQ DX, R11
	INCQ BX
	CMPQ BX, R10
	JLT  acc32row
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, DI
	ADDQ $64, SI
	SUBQ $32, CX

acc8:
	CMPQ CX, $8
	JLT  accdone
	VMOVUPS (DI), Y0
	MOVQ SI, R11
	XORQ BX, BX

acc8row:
	CMPL (R8)(BX*4), ONE
	JEQ  acc8mad
	VBROADCASTSS (R8)(BX*4), Y15
	SCL(Y0, X0)

acc8mad:
	VBROADCASTSS (R9)(BX*4), Y13
	MAD(0, Y0, X0)
	ADDQ DX, R11
	INCQ BX
	CMPQ BX, R10
	JLT  acc8row
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $16, SI
	SUBQ $8, CX
	JMP  acc8

accdone:
	VZEROUPPER
	RET

// func accumulateF16AVX512(out []float32, v []uint16, stride int, ms, vs []float32)
//
// accumulateF16AVX2 with chunks of 128, 64 or 16 elements in ZMM
// registers, then 8 in a YMM register.
TEXT ·accumulateF16AVX512(SB), NOSPLIT, $0-104
	MOVQ out_base+0(FP), DI
	MOVQ out_len+8(FP), CX
	MOVQ v_base+24(FP), SI
	MOVQ stride+48(FP), DX
	SHLQ $1, DX
	MOVQ ms_base+56(FP), R8
	MOVQ vs_base+80(FP), R9
	MOVQ vs_len+88(FP), R10

z128:
	CMPQ CX, $128
	JLT  z64
	VMOVUPS 0(DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VMOVUPS 256(DI), Z4
	VMOVUPS 320(DI), Z5
	VMOVUPS 384(DI), Z6
	VMOVUPS 448(DI), Z7
	MOVQ SI, R11
	XORQ BX, BX

z128row:
	CMPL (R8)(BX*4), ONE
	JEQ  z128mad
	VBROADCASTSS (R8)(BX*4), Z15
	SCLZ(Z0, Y0)
	SCLZ(Z1, Y1)
	SCLZ(Z2, Y2)
	SCLZ(Z3, Y3)
	SCLZ(Z4, Y4)
	SCLZ(Z5, Y5)
	SCLZ(Z6, Y6)
	SCLZ(Z7, Y7)

z128mad:
	VBROADCASTSS (R9)(BX*4), Z13
	MADZ(0, Z0, Y0)
	MADZ(32, Z1, Y1)
	MADZ(64, Z2, Y2)
	MADZ(96, Z3, Y3)
	MADZ(128, Z4, Y4)
	MADZ(160, Z5, Y5)
	MADZ(192, Z6, Y6)
	MADZ(224, Z7, Y7)
	ADDQ DX, R11
	INCQ BX
	CMPQ BX, R10
	JLT  z128row
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, 256(DI)
	VMOVUPS Z5, 320(DI)
	VMOVUPS Z6, 384(DI)
	VMOVUPS Z7, 448(DI)
	ADDQ $512, DI
	ADDQ $256, SI
	SUBQ $128, CX
	JMP  z128

z64:
	CMPQ CX, $64
	JLT  z16
	VMOVUPS 0(DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	MOVQ SI, R11
	XORQ BX, BX

z64row:
	CMPL (R8)(BX*4), ONE
	JEQ  z64mad
	VBROADCASTSS (R8)(BX*4), Z15
	SCLZ(Z0, Y0)
	SCLZ(Z1, Y1)
	SCLZ(Z2, Y2)
	SCLZ(Z3, Y3)

z64mad:
	VBROADCASTSS (R9)(BX*4), Z13
	MADZ(0, Z0, Y0)
	MADZ(32, Z1, Y1)
	MADZ(64, Z2, Y2)
	MADZ(96, Z3, Y3)
	ADDQ DX, R11
	INCQ BX
	CMPQ BX, R10
	JLT  z64row
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, DI
	ADDQ $128, SI
	SUBQ $64, CX

z16:
	CMPQ CX, $16
	JLT  z8
	VMOVUPS (DI), Z0
	MOVQ SI, R11
	XORQ BX, BX

z16row:
	CMPL (R8)(BX*4), ONE
	JEQ  z16mad
	VBROADCASTSS (R8)(BX*4), Z15
	SCLZ(Z0, Y0)

z16mad:
	VBROADCASTSS (R9)(BX*4), Z13
	MADZ(0, Z0, Y0)
	ADDQ DX, R11
	INCQ BX
	CMPQ BX, R10
	JLT  z16row
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	ADDQ $32, SI
	SUBQ $16, CX
	JMP  z16

z8:
	CMPQ CX, $8
	JLT  zdone
	VMOVUPS (DI), Y0
	MOVQ SI, R11
	XORQ BX, BX

z8row:
	CMPL (R8)(BX*4), ONE
	JEQ  z8mad
	VBROADCASTSS (R8)(BX*4), Y15
	SCL(Y0, X0)

z8mad:
	VBROADCASTSS (R9)(BX*4), Y13
	MAD(0, Y0, X0)
	ADDQ DX, R11
	INCQ BX
	CMPQ BX, R10
	JLT  z8row
	VMOVUPS Y0, (DI)

zdone:
	VZEROUPPER
	RET

// The float64 tail of a dot product: the elements from (AX) and (BX),
// R13 of them, each product rounded to float32 and added to X9 in float64.
#define DOTTAIL(label, done) \
	TESTQ R13, R13; \
	JZ    done; \
label: \
	VPINSRW $0, (BX), X1, X1; \
	VCVTPH2PS X1, X1; \
	VMULSS (AX), X1, X1; \
	VCVTSS2SD X1, X1, X1; \
	VADDSD X1, X9, X9; \
	ADDQ $4, AX; \
	ADDQ $2, BX; \
	DECQ R13; \
	JNZ  label

// func dotsF16QAVX2(out, q []float32, k []uint16, stride int)
//
// A block of 64 elements goes into eight YMM accumulators, Yj holding
// lanes 8j..8j+7 of the reference's 64; (Y0+Y4)+(Y2+Y6) and
// (Y1+Y5)+(Y3+Y7) are then its 16 lanes.
TEXT ·dotsF16QAVX2(SB), NOSPLIT, $0-80
	MOVQ out_base+0(FP), DI
	MOVQ out_len+8(FP), R10
	MOVQ q_base+24(FP), SI
	MOVQ q_len+32(FP), CX
	MOVQ k_base+48(FP), R8
	MOVQ stride+72(FP), DX
	SHLQ $1, DX
	MOVQ CX, R12
	ANDQ $-64, R12 // elements in whole blocks

drow:
	MOVQ SI, AX
	MOVQ R8, BX
	VXORPS X9, X9, X9
	MOVQ R12, R13
	TESTQ R13, R13
	JZ    dtail
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

dblock:
	VCVTPH2PS 0(BX), Y8
	VCVTPH2PS 16(BX), Y10
	VCVTPH2PS 32(BX), Y11
	VCVTPH2PS 48(BX), Y12
	VFMADD231PS 0(AX), Y8, Y0
	VFMADD231PS 32(AX), Y10, Y1
	VFMADD231PS 64(AX), Y11, Y2
	VFMADD231PS 96(AX), Y12, Y3
	VCVTPH2PS 64(BX), Y8
	VCVTPH2PS 80(BX), Y10
	VCVTPH2PS 96(BX), Y11
	VCVTPH2PS 112(BX), Y12
	VFMADD231PS 128(AX), Y8, Y4
	VFMADD231PS 160(AX), Y10, Y5
	VFMADD231PS 192(AX), Y11, Y6
	VFMADD231PS 224(AX), Y12, Y7
	ADDQ $256, AX
	ADDQ $128, BX
	SUBQ $64, R13
	JNZ  dblock

	VADDPS Y4, Y0, Y0
	VADDPS Y6, Y2, Y2
	VADDPS Y2, Y0, Y0 // lanes 0-7
	VADDPS Y5, Y1, Y1
	VADDPS Y7, Y3, Y3
	VADDPS Y3, Y1, Y1 // lanes 8-15
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS    X1, X0, X0
	VMOVHLPS  X0, X0, X1
	VADDPS    X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS    X1, X0, X0
	VCVTSS2SD X0, X9, X9

dtail:
	MOVQ CX, R13
	SUBQ R12, R13
	DOTTAIL(dtailone, ddone)

ddone:
	VCVTSD2SS X9, X9, X9
	VMOVSS X9, (DI)
	ADDQ $4, DI
	ADDQ DX, R8
	DECQ R10
	JNZ  drow
	VZEROUPPER
	RET

// func dotsF16QAVX512(out, q []float32, k []uint16, stride int)
//
// dotsF16QAVX2 with the reference's four 16-lane registers themselves.
TEXT ·dotsF16QAVX512(SB), NOSPLIT, $0-80
	MOVQ out_base+0(FP), DI
	MOVQ out_len+8(FP), R10
	MOVQ q_base+24(FP), SI
	MOVQ q_len+32(FP), CX
	MOVQ k_base+48(FP), R8
	MOVQ stride+72(FP), DX
	SHLQ $1, DX
	MOVQ CX, R12
	ANDQ $-64, R12

zrow:
	MOVQ SI, AX
	MOVQ R8, BX
	VXORPS X9, X9, X9
	MOVQ R12, R13
	TESTQ R13, R13
	JZ    ztail
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3

zblock:
	VCVTPH2PS 0(BX), Z4
	VCVTPH2PS 32(BX), Z5
	VCVTPH2PS 64(BX), Z6
	VCVTPH2PS 96(BX), Z7
	VFMADD231PS 0(AX), Z4, Z0
	VFMADD231PS 64(AX), Z5, Z1
	VFMADD231PS 128(AX), Z6, Z2
	VFMADD231PS 192(AX), Z7, Z3
	ADDQ $256, AX
	ADDQ $128, BX
	SUBQ $64, R13
	JNZ  zblock

	VADDPS Z2, Z0, Z0
	VADDPS Z3, Z1, Z1
	VADDPS Z1, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS    X1, X0, X0
	VMOVHLPS  X0, X0, X1
	VADDPS    X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS    X1, X0, X0
	VCVTSS2SD X0, X9, X9

ztail:
	MOVQ CX, R13
	SUBQ R12, R13
	DOTTAIL(ztailone, zdotdone)

zdotdone:
	VCVTSD2SS X9, X9, X9
	VMOVSS X9, (DI)
	ADDQ $4, DI
	ADDQ DX, R8
	DECQ R10
	JNZ  zrow
	VZEROUPPER
	RET

// func madF16AVX2(out []float32, v []uint16, s float32)
TEXT ·madF16AVX2(SB), NOSPLIT, $0-52
	MOVQ out_base+0(FP), DI
	MOVQ out_len+8(FP), CX
	MOVQ v_base+24(FP), SI
	VBROADCASTSS s+48(FP), Y15

madloop:
	VCVTPH2PS (SI), Y1
	VMOVUPS (DI), Y0
	VFMADD231PS Y1, Y15, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $16, SI
	SUBQ $8, CX
	JNZ  madloop
	VZEROUPPER
	RET

// func scaleRoundF16AVX2(x []float32, s float32)
TEXT ·scaleRoundF16AVX2(SB), NOSPLIT, $0-28
	MOVQ x_base+0(FP), DI
	MOVQ x_len+8(FP), CX
	VBROADCASTSS s+24(FP), Y15

scaleloop:
	VMULPS (DI), Y15, Y0
	RND(Y0, X0)
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  scaleloop
	VZEROUPPER
	RET

// func roundF16AVX2(x []float32)
TEXT ·roundF16AVX2(SB), NOSPLIT, $0-24
	MOVQ x_base+0(FP), DI
	MOVQ x_len+8(FP), CX

roundloop:
	VMOVUPS (DI), Y0
	RND(Y0, X0)
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  roundloop
	VZEROUPPER
	RET

// Exp: the operations of Go's math.Exp on amd64 with FMA (math/exp_amd64.s),
// four float64 lanes at a time, so that each lane gets the very bits
// math.Exp returns. Each constant is stored four times, one YMM load.
DATA expc<>+0(SB)/8, $1.4426950408889634073599246810018920 // log2(e)
DATA expc<>+8(SB)/8, $1.4426950408889634073599246810018920
DATA expc<>+16(SB)/8, $1.4426950408889634073599246810018920
DATA expc<>+24(SB)/8, $1.4426950408889634073599246810018920
DATA expc<>+32(SB)/8, $0.69314718055966295651160180568695068359375 // ln 2, upper part
DATA expc<>+40(SB)/8, $0.69314718055966295651160180568695068359375
DATA expc<>+48(SB)/8, $0.69314718055966295651160180568695068359375
DATA expc<>+56(SB)/8, $0.69314718055966295651160180568695068359375
DATA expc<>+64(SB)/8, $0.28235290563031577122588448175013436025525412068e-12 // ln 2, lower part
DATA expc<>+72(SB)/8, $0.28235290563031577122588448175013436025525412068e-12
DATA expc<>+80(SB)/8, $0.28235290563031577122588448175013436025525412068e-12
DATA expc<>+88(SB)/8, $0.28235290563031577122588448175013436025525412068e-12
DATA expc<>+96(SB)/8, $0.0625
DATA expc<>+104(SB)/8, $0.0625
DATA expc<>+112(SB)/8, $0.0625
DATA expc<>+120(SB)/8, $0.0625
DATA expc<>+128(SB)/8, $2.4801587301587301587e-5 // 1/8!
DATA expc<>+136(SB)/8, $2.4801587301587301587e-5
DATA expc<>+144(SB)/8, $2.4801587301587301587e-5
DATA expc<>+152(SB)/8, $2.4801587301587301587e-5
DATA expc<>+160(SB)/8, $1.9841269841269841270e-4 // 1/7!
DATA expc<>+168(SB)/8, $1.9841269841269841270e-4
DATA expc<>+176(SB)/8, $1.9841269841269841270e-4
DATA expc<>+184(SB)/8, $1.9841269841269841270e-4
DATA expc<>+192(SB)/8, $1.3888888888888888889e-3 // 1/6!
DATA expc<>+200(SB)/8, $1.3888888888888888889e-3
DATA expc<>+208(SB)/8, $1.3888888888888888889e-3
DATA expc<>+216(SB)/8, $1.3888888888888888889e-3
DATA expc<>+224(SB)/8, $8.3333333333333333333e-3 // 1/5!
DATA expc<>+232(SB)/8, $8.3333333333333333333e-3
DATA expc<>+240(SB)/8, $8.3333333333333333333e-3
DATA expc<>+248(SB)/8, $8.3333333333333333333e-3
DATA expc<>+256(SB)/8, $4.1666666666666666667e-2 // 1/4!
DATA expc<>+264(SB)/8, $4.1666666666666666667e-2
DATA expc<>+272(SB)/8, $4.1666666666666666667e-2
DATA expc<>+280(SB)/8, $4.1666666666666666667e-2
DATA expc<>+288(SB)/8, $1.6666666666666666667e-1 // 1/3!
DATA expc<>+296(SB)/8, $1.6666666666666666667e-1
DATA expc<>+304(SB)/8, $1.6666666666666666667e-1
DATA expc<>+312(SB)/8, $1.6666666666666666667e-1
DATA expc<>+320(SB)/8, $0.5
DATA expc<>+328(SB)/8, $0.5
DATA expc<>+336(SB)/8, $0.5
DATA expc<>+344(SB)/8, $0.5
DATA expc<>+352(SB)/8, $1.0
DATA expc<>+360(SB)/8, $1.0
DATA expc<>+368(SB)/8, $1.0
DATA expc<>+376(SB)/8, $1.0
DATA expc<>+384(SB)/8, $2.0
DATA expc<>+392(SB)/8, $2.0
DATA expc<>+400(SB)/8, $2.0
DATA expc<>+408(SB)/8, $2.0
DATA expc<>+416(SB)/4, $1023 // exponent bias, four int32
DATA expc<>+420(SB)/4, $1023
DATA expc<>+424(SB)/4, $1023
DATA expc<>+428(SB)/4, $1023
DATA expc<>+432(SB)/4, $-104.0 // float32: below it, float32(math.Exp) is 0
DATA expc<>+436(SB)/4, $-104.0
DATA expc<>+440(SB)/4, $-104.0
DATA expc<>+444(SB)/4, $-104.0
DATA expc<>+448(SB)/4, $88.75 // float32: above it, float32(math.Exp) is +Inf
DATA expc<>+452(SB)/4, $88.75
DATA expc<>+456(SB)/4, $88.75
DATA expc<>+460(SB)/4, $88.75
DATA expc<>+464(SB)/4, $0x7f800000 // float32 +Inf
DATA expc<>+468(SB)/4, $0x7f800000
DATA expc<>+472(SB)/4, $0x7f800000
DATA expc<>+476(SB)/4, $0x7f800000
GLOBL expc<>(SB), RODATA|NOPTR, $480

// EXP4 sets Y0 to math.Exp of its four lanes, for lanes whose result is a
// normal float64 after the final scaling (x in about [-708, 709]). It
// uses Y1-Y3 and X2.
#define EXP4 \
	VMULPD expc<>+0(SB), Y0, Y1; \
	VCVTPD2DQY Y1, X2; \
	VCVTDQ2PD X2, Y1; \
	VFNMADD231PD expc<>+32(SB), Y1, Y0; \
	VFNMADD231PD expc<>+64(SB), Y1, Y0; \
	VMULPD expc<>+96(SB), Y0, Y0; \
	VMOVUPD expc<>+128(SB), Y3; \
	VFMADD213PD expc<>+160(SB), Y0, Y3; \
	VFMADD213PD expc<>+192(SB), Y0, Y3; \
	VFMADD213PD expc<>+224(SB), Y0, Y3; \
	VFMADD213PD expc<>+256(SB), Y0, Y3; \
	VFMADD213PD expc<>+288(SB), Y0, Y3; \
	VFMADD213PD expc<>+320(SB), Y0, Y3; \
	VFMADD213PD expc<>+352(SB), Y0, Y3; \
	VMULPD Y3, Y0, Y0; \
	VADDPD expc<>+384(SB), Y0, Y3; \
	VMULPD Y3, Y0, Y0; \
	VADDPD expc<>+384(SB), Y0, Y3; \
	VMULPD Y3, Y0, Y0; \
	VADDPD expc<>+384(SB), Y0, Y3; \
	VMULPD Y3, Y0, Y0; \
	VADDPD expc<>+384(SB), Y0, Y3; \
	VFMADD213PD expc<>+352(SB), Y3, Y0; \
	VPADDD expc<>+416(SB), X2, X2; \
	VPMOVZXDQ X2, Y3; \
	VPSLLQ $52, Y3, Y3; \
	VMULPD Y3, Y0, Y0

// func exp32sAVX2(dst, src []float32) (nan bool)
//
// len(src) is a positive multiple of 4. Lanes below -104 (and -Inf) get
// 0, lanes above 88.75 +Inf; nan reports whether any lane was NaN, whose
// results the caller must compute.
TEXT ·exp32sAVX2(SB), NOSPLIT, $0-49
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	XORQ DX, DX

exploop:
	VMOVUPS (SI), X8
	VCVTPS2PD X8, Y0
	EXP4
	VCVTPD2PSY Y0, X0
	VCMPPS $1, expc<>+432(SB), X8, X9 // x < -104
	VANDNPS X0, X9, X0
	VCMPPS $14, expc<>+448(SB), X8, X9 // x > 88.75
	VBLENDVPS X9, expc<>+464(SB), X0, X0
	VCMPPS $3, X8, X8, X9 // x is NaN
	VMOVMSKPS X9, AX
	ORQ  AX, DX
	VMOVUPS X0, (DI)
	ADDQ $16, SI
	ADDQ $16, DI
	SUBQ $4, CX
	JNZ  exploop
	TESTQ DX, DX
	SETNE nan+48(FP)
	VZEROUPPER
	RET

// func expF64sAVX2(dst, src []float64)
//
// EXP4 on its own, for the check that it agrees with math.Exp; len(src) is
// a positive multiple of 4.
TEXT ·expF64sAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX

exp64loop:
	VMOVUPD (SI), Y0
	EXP4
	VMOVUPD Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $4, CX
	JNZ  exp64loop
	VZEROUPPER
	RET

// The value update of one row for one register of each of two heads:
// rescale by s and round (SCLP), or add the row's converted values vz
// times s and round (FMAP).
#define SCLP(s, z, y) VMULPS s, z, z; RND(z, y)
#define FMAP(vz, s, z, y) VFMADD231PS vz, s, z; RND(z, y)

// func accumulatePairAVX512(out []float32, d, cols int, v []uint16, stride int, ms, vs []float32)
//
// accumulateF16AVX512 for two heads that read the same values: head 0 sums
// into out[0:cols] with factors ms[0:n], vs[0:n], head 1 into
// out[d:d+cols] with ms[n:2n], vs[n:2n]. Each row's values are converted
// once for both, and the two heads' registers are independent chains.
// cols is a positive multiple of 16, taken in chunks of 64 or 16.
TEXT ·accumulatePairAVX512(SB), NOSPLIT, $0-120
	MOVQ out_base+0(FP), DI
	MOVQ d+24(FP), R12
	SHLQ $2, R12 // head 1's offset in out, in bytes
	MOVQ cols+32(FP), CX
	MOVQ v_base+40(FP), SI
	MOVQ stride+64(FP), DX
	SHLQ $1, DX
	MOVQ ms_base+72(FP), R8
	MOVQ vs_base+96(FP), R9
	MOVQ vs_len+104(FP), R10
	SHRQ $1, R10 // rows
	MOVQ R10, R13
	SHLQ $2, R13 // head 1's offset in ms and vs, in bytes

pair64:
	CMPQ CX, $64
	JLT  pair16
	LEAQ (DI)(R12*1), R14
	VMOVUPS 0(DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VMOVUPS 0(R14), Z4
	VMOVUPS 64(R14), Z5
	VMOVUPS 128(R14), Z6
	VMOVUPS 192(R14), Z7
	MOVQ SI, R11
	MOVQ R8, AX
	MOVQ R9, BX
	MOVQ R10, R15

pair64row:
	CMPL (AX), ONE
	JEQ  pair64h1
	VBROADCASTSS (AX), Z12
	SCLP(Z12, Z0, Y0)
	SCLP(Z12, Z1, Y1)
	SCLP(Z12, Z2, Y2)
	SCLP(Z12, Z3, Y3)

pair64h1:
	CMPL (AX)(R13*1), ONE
	JEQ  pair64mad
	VBROADCASTSS (AX)(R13*1), Z14
	SCLP(Z14, Z4, Y4)
	SCLP(Z14, Z5, Y5)
	SCLP(Z14, Z6, Y6)
	SCLP(Z14, Z7, Y7)

pair64mad:
	VCVTPH2PS 0(R11), Z8
	VCVTPH2PS 32(R11), Z9
	VCVTPH2PS 64(R11), Z10
	VCVTPH2PS 96(R11), Z11
	VBROADCASTSS (BX), Z13
	VBROADCASTSS (BX)(R13*1), Z15
	FMAP(Z8, Z13, Z0, Y0)
	FMAP(Z8, Z15, Z4, Y4)
	FMAP(Z9, Z13, Z1, Y1)
	FMAP(Z9, Z15, Z5, Y5)
	FMAP(Z10, Z13, Z2, Y2)
	FMAP(Z10, Z15, Z6, Y6)
	FMAP(Z11, Z13, Z3, Y3)
	FMAP(Z11, Z15, Z7, Y7)
	ADDQ DX, R11
	ADDQ $4, AX
	ADDQ $4, BX
	DECQ R15
	JNZ  pair64row
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, 0(R14)
	VMOVUPS Z5, 64(R14)
	VMOVUPS Z6, 128(R14)
	VMOVUPS Z7, 192(R14)
	ADDQ $256, DI
	ADDQ $128, SI
	SUBQ $64, CX
	JMP  pair64

pair16:
	CMPQ CX, $16
	JLT  pairdone
	LEAQ (DI)(R12*1), R14
	VMOVUPS (DI), Z0
	VMOVUPS (R14), Z4
	MOVQ SI, R11
	MOVQ R8, AX
	MOVQ R9, BX
	MOVQ R10, R15

pair16row:
	CMPL (AX), ONE
	JEQ  pair16h1
	VBROADCASTSS (AX), Z12
	SCLP(Z12, Z0, Y0)

pair16h1:
	CMPL (AX)(R13*1), ONE
	JEQ  pair16mad
	VBROADCASTSS (AX)(R13*1), Z14
	SCLP(Z14, Z4, Y4)

pair16mad:
	VCVTPH2PS (R11), Z8
	VBROADCASTSS (BX), Z13
	VBROADCASTSS (BX)(R13*1), Z15
	FMAP(Z8, Z13, Z0, Y0)
	FMAP(Z8, Z15, Z4, Y4)
	ADDQ DX, R11
	ADDQ $4, AX
	ADDQ $4, BX
	DECQ R15
	JNZ  pair16row
	VMOVUPS Z0, (DI)
	VMOVUPS Z4, (R14)
	ADDQ $64, DI
	ADDQ $32, SI
	SUBQ $16, CX
	JMP  pair16

pairdone:
	VZEROUPPER
	RET

// REDUCE16 adds four accumulators holding lanes 0-15, 16-31, 32-47 and
// 48-63 of a 64-lane sum as the reference does, leaving the float32
// result in the low lane of xa (ya, xa: za's YMM and XMM; zt, yt, xt a
// temporary's names).
#define REDUCE16(za, zb, zc, ze, ya, xa, yt, xt) \
	VADDPS zc, za, za; \
	VADDPS ze, zb, zb; \
	VADDPS zb, za, za; \
	VEXTRACTF64X4 $1, za, yt; \
	VADDPS yt, ya, ya; \
	VEXTRACTF128 $1, ya, xt; \
	VADDPS xt, xa, xa; \
	VMOVHLPS xa, xa, xt; \
	VADDPS xt, xa, xa; \
	VMOVSHDUP xa, xt; \
	VADDSS xt, xa, xa

// func dotsPairAVX512(out, q []float32, d int, k []uint16, stride int)
//
// dotsF16QAVX512 for two queries, q[0:d] and q[d:2d], against the same
// keys, each key converted once: out[t] and out[n+t] for the n =
// len(out)/2 rows. d is a positive multiple of 64, so there is no float64
// tail and the float32 sum of the lanes is the result.
TEXT ·dotsPairAVX512(SB), NOSPLIT, $0-88
	MOVQ out_base+0(FP), DI
	MOVQ out_len+8(FP), R10
	SHRQ $1, R10 // rows
	MOVQ R10, R14
	SHLQ $2, R14 // the second query's offset in out, in bytes
	MOVQ q_base+24(FP), SI
	MOVQ d+48(FP), CX
	MOVQ CX, R15
	SHLQ $2, R15 // the second query's offset in q, in bytes
	MOVQ k_base+56(FP), R8
	MOVQ stride+80(FP), DX
	SHLQ $1, DX

prow:
	MOVQ SI, AX
	MOVQ R8, BX
	MOVQ CX, R13
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7

pblock:
	VCVTPH2PS 0(BX), Z8
	VCVTPH2PS 32(BX), Z9
	VCVTPH2PS 64(BX), Z10
	VCVTPH2PS 96(BX), Z11
	VFMADD231PS 0(AX), Z8, Z0
	VFMADD231PS 64(AX), Z9, Z1
	VFMADD231PS 128(AX), Z10, Z2
	VFMADD231PS 192(AX), Z11, Z3
	VFMADD231PS 0(AX)(R15*1), Z8, Z4
	VFMADD231PS 64(AX)(R15*1), Z9, Z5
	VFMADD231PS 128(AX)(R15*1), Z10, Z6
	VFMADD231PS 192(AX)(R15*1), Z11, Z7
	ADDQ $256, AX
	ADDQ $128, BX
	SUBQ $64, R13
	JNZ  pblock
	REDUCE16(Z0, Z1, Z2, Z3, Y0, X0, Y12, X12)
	REDUCE16(Z4, Z5, Z6, Z7, Y4, X4, Y13, X13)
	VMOVSS X0, (DI)
	VMOVSS X4, (DI)(R14*1)
	ADDQ $4, DI
	ADDQ DX, R8
	DECQ R10
	JNZ  prow
	VZEROUPPER
	RET
