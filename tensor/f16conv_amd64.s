//go:build !purego

#include "textflag.h"

// func float32sToFP16F16C(dst []uint16, src []float32)
// len(src) is a multiple of 8 and dst is as long. VCVTPS2PH $0 rounds to
// nearest even, as Float32ToFP16 does.
TEXT ·float32sToFP16F16C(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS   (SI), Y0
	VCVTPS2PH $0, Y0, X0
	VMOVDQU   X0, (DI)
	ADDQ $32, SI
	ADDQ $16, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER

done:
	RET
