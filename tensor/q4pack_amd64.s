//go:build !purego

#include "textflag.h"
#include "q4tile_amd64.h"
#include "pack16_amd64.h"

// Q4_0 kernels over packed weights (see pack.go): eight rows' blocks
// interleaved, their scales side by side and their nibbles already in the
// transposed order q4_amd64.s's NIBBLES8 makes. The arithmetic is that of
// q4Rows8* and q4Tile8*, so the results are the same bit for bit; what
// changes is that the weights are one sequential stream with nothing to
// gather or transpose.
//
// A packed block of G rows (8 for the AVX2 kernel, 16 for the AVX-512
// ones, one row per dword lane of a vector) is G*18 bytes at SI: G fp16
// scales, then V_0..V_3, 4G bytes each.

// PUNPACK8 loads the current packed block: the scales as float32 into Y13,
// low nibbles of V_0..V_3 into Y4..Y7 and high nibbles into Y8..Y11. Y15
// holds 0x0f bytes.
#define PUNPACK8 \
	VCVTPH2PS (SI), Y13; \
	VMOVDQU   16(SI), Y4; \
	VMOVDQU   48(SI), Y5; \
	VMOVDQU   80(SI), Y6; \
	VMOVDQU   112(SI), Y7; \
	VPSRLW    $4, Y4, Y8; \
	VPSRLW    $4, Y5, Y9; \
	VPSRLW    $4, Y6, Y10; \
	VPSRLW    $4, Y7, Y11; \
	VPAND     Y15, Y4, Y4; \
	VPAND     Y15, Y5, Y5; \
	VPAND     Y15, Y6, Y6; \
	VPAND     Y15, Y7, Y7; \
	VPAND     Y15, Y8, Y8; \
	VPAND     Y15, Y9, Y9; \
	VPAND     Y15, Y10, Y10; \
	VPAND     Y15, Y11, Y11

// func q4PackedRows8AVX2(out []float32, w []byte, xx []byte, nb int)
TEXT ·q4PackedRows8AVX2(SB), NOSPLIT, $0-80
	MOVQ w_base+24(FP), SI
	MOVQ xx_base+48(FP), DI
	MOVQ nb+72(FP), CX
	VPBROADCASTD q4nib<>(SB), Y15
	VPBROADCASTD q4ones16<>(SB), Y14
	VXORPS Y12, Y12, Y12

pa8loop:
	PREFETCHT0 8192(SI)
	PUNPACK8
	ROW8AVX2
	ADDQ $144, SI
	ADDQ $40, DI
	DECQ CX
	JNZ  pa8loop

	MOVQ    out_base+0(FP), AX
	VMOVUPS Y12, (AX)
	VZEROUPPER
	RET


// PUNPACK16 loads the current packed block of sixteen rows: the scales as
// float32 into Z13, low nibbles of V_0..V_3 into Z4..Z7 and high nibbles
// into Z8..Z11. Z15 holds 0x0f bytes.
#define PUNPACK16 \
	VCVTPH2PS (SI), Z13; \
	VMOVDQU64 32(SI), Z4; \
	VMOVDQU64 96(SI), Z5; \
	VMOVDQU64 160(SI), Z6; \
	VMOVDQU64 224(SI), Z7; \
	VPSRLW    $4, Z4, Z8; \
	VPSRLW    $4, Z5, Z9; \
	VPSRLW    $4, Z6, Z10; \
	VPSRLW    $4, Z7, Z11; \
	VPANDD    Z15, Z4, Z4; \
	VPANDD    Z15, Z5, Z5; \
	VPANDD    Z15, Z6, Z6; \
	VPANDD    Z15, Z7, Z7; \
	VPANDD    Z15, Z8, Z8; \
	VPANDD    Z15, Z9, Z9; \
	VPANDD    Z15, Z10, Z10; \
	VPANDD    Z15, Z11, Z11

// func q4PackedRows16VNNI(out []float32, w []byte, xx []byte, nb int)
TEXT ·q4PackedRows16VNNI(SB), NOSPLIT, $0-80
	MOVQ w_base+24(FP), SI
	MOVQ xx_base+48(FP), DI
	MOVQ nb+72(FP), CX
	VPBROADCASTD q4nib<>(SB), Z15
	VPXORD Z12, Z12, Z12

pr16loop:
	PREFETCHT0 8192(SI)
	PREFETCHT0 8256(SI)
	PREFETCHT0 8320(SI)
	PREFETCHT0 8384(SI)
	PREFETCHT0 8448(SI)
	PUNPACK16
	ZROW1
	ADDQ $288, SI
	ADDQ $40, DI
	DECQ CX
	JNZ  pr16loop

	MOVQ    out_base+0(FP), AX
	VMOVUPS Z12, (AX)
	VZEROUPPER
	RET

// func q4PackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)
// Sixteen rows, eight tokens.
TEXT ·q4PackedTile8VNNI(SB), NOSPLIT, $0-96
	MOVQ w_base+32(FP), SI
	MOVQ xx_base+56(FP), DI
	MOVQ xstride+80(FP), R14
	ZTOKPTRS
	MOVQ nb+88(FP), CX
	VPBROADCASTD q4nib<>(SB), Z15
	ZZERO8

pt8loop:
	PUNPACK16
	ZTILE8
	ADDQ $288, SI
	ADDQ $40, DI
	ADDQ $40, R13
	DECQ CX
	JNZ  pt8loop

	ZSTORE8
	VZEROUPPER
	RET

// func q4PackedTile4VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)
// Sixteen rows, four tokens.
TEXT ·q4PackedTile4VNNI(SB), NOSPLIT, $0-96
	MOVQ w_base+32(FP), SI
	MOVQ xx_base+56(FP), DI
	MOVQ xstride+80(FP), R14
	ZTOKPTRS
	MOVQ nb+88(FP), CX
	VPBROADCASTD q4nib<>(SB), Z15
	ZZERO4

pt4loop:
	PREFETCHT0 8192(SI)
	PREFETCHT0 8256(SI)
	PREFETCHT0 8320(SI)
	PREFETCHT0 8384(SI)
	PREFETCHT0 8448(SI)
	PUNPACK16
	ZTILE4
	ADDQ $288, SI
	ADDQ $40, DI
	DECQ CX
	JNZ  pt4loop

	ZSTORE4
	VZEROUPPER
	RET
