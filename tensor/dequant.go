package tensor

import (
	"encoding/binary"
	"fmt"
)

// Dequantize decodes len(dst) elements of type t from src into dst, with
// the arithmetic of ggml's dequantize_row functions. len(dst) must be a
// multiple of t's block size and src must hold at least the bytes those
// elements take; any bytes beyond are ignored.
func Dequantize(t Type, src []byte, dst []float32) error {
	if !canDequantize(t) {
		return fmt.Errorf("tensor: dequantize %s: type not supported", t)
	}
	need, err := t.RowBytes(len(dst))
	if err != nil {
		return fmt.Errorf("tensor: dequantize: %w", err)
	}
	if len(src) < need {
		return fmt.Errorf("tensor: dequantize %d %s elements: have %d bytes, need %d", len(dst), t, len(src), need)
	}
	src = src[:need]
	switch t {
	case F32:
		for i := range dst {
			dst[i] = getF32(src[4*i:])
		}
	case F16:
		for i := range dst {
			dst[i] = FP16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = BF16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case Q4_0:
		dequantizeQ4_0(dst, src)
	case Q8_0:
		dequantizeQ8_0(dst, src)
	case Q4_K:
		dequantizeQ4_K(dst, src)
	case Q5_K:
		dequantizeQ5_K(dst, src)
	case Q6_K:
		dequantizeQ6_K(dst, src)
	case Q8_K:
		dequantizeQ8_K(dst, src)
	case Q4_1:
		dequantizeQ4_1(dst, src)
	case Q5_0:
		dequantizeQ5_0(dst, src)
	case Q5_1:
		dequantizeQ5_1(dst, src)
	case Q8_1:
		dequantizeQ8_1(dst, src)
	case Q2_K:
		dequantizeQ2_K(dst, src)
	case Q3_K:
		dequantizeQ3_K(dst, src)
	case IQ4_NL:
		dequantizeIQ4_NL(dst, src)
	case IQ4_XS:
		dequantizeIQ4_XS(dst, src)
	}
	return nil
}

func canDequantize(t Type) bool {
	switch t {
	case F32, F16, BF16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, Q8_K,
		Q4_1, Q5_0, Q5_1, Q8_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS:
		return true
	}
	return false
}

func dequantizeQ4_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qk4_0; b++ {
		x := src[b*blockQ4_0 : (b+1)*blockQ4_0]
		y := dst[b*qk4_0 : (b+1)*qk4_0]
		d := fp16(x)
		qs := x[2:18]
		for j, q := range qs {
			y[j] = float32(int(q&0xf)-8) * d
			y[j+16] = float32(int(q>>4)-8) * d
		}
	}
}

func dequantizeQ8_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/qk8_0; b++ {
		x := src[b*blockQ8_0 : (b+1)*blockQ8_0]
		y := dst[b*qk8_0 : (b+1)*qk8_0]
		d := fp16(x)
		for j, q := range x[2:34] {
			y[j] = float32(int8(q)) * d
		}
	}
}

func dequantizeQ4_K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/QK_K; b++ {
		x := src[b*blockQ4_K : (b+1)*blockQ4_K]
		y := dst[b*QK_K : (b+1)*QK_K]
		d, dmin := fp16(x[0:]), fp16(x[2:])
		scales, qs := x[4:16], x[16:144]
		for c := 0; c < 4; c++ { // 64 elements, two sub-blocks, per 32 bytes
			sc1, m1 := scaleMinK4(2*c, scales)
			sc2, m2 := scaleMinK4(2*c+1, scales)
			d1, min1 := d*float32(sc1), float32(dmin*float32(m1))
			d2, min2 := d*float32(sc2), float32(dmin*float32(m2))
			q := qs[32*c : 32*c+32]
			out := y[64*c : 64*c+64]
			for l := 0; l < 32; l++ {
				out[l] = float32(d1*float32(q[l]&0xf)) - min1
				out[l+32] = float32(d2*float32(q[l]>>4)) - min2
			}
		}
	}
}

func dequantizeQ5_K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/QK_K; b++ {
		x := src[b*blockQ5_K : (b+1)*blockQ5_K]
		y := dst[b*QK_K : (b+1)*QK_K]
		d, dmin := fp16(x[0:]), fp16(x[2:])
		scales, qh, qs := x[4:16], x[16:48], x[48:176]
		for c := 0; c < 4; c++ {
			sc1, m1 := scaleMinK4(2*c, scales)
			sc2, m2 := scaleMinK4(2*c+1, scales)
			d1, min1 := d*float32(sc1), float32(dmin*float32(m1))
			d2, min2 := d*float32(sc2), float32(dmin*float32(m2))
			q := qs[32*c : 32*c+32]
			out := y[64*c : 64*c+64]
			for l := 0; l < 32; l++ {
				lo := q[l]&0xf | (qh[l]>>(2*c)&1)<<4
				hi := q[l]>>4 | (qh[l]>>(2*c+1)&1)<<4
				out[l] = float32(d1*float32(lo)) - min1
				out[l+32] = float32(d2*float32(hi)) - min2
			}
		}
	}
}

func dequantizeQ6_K(dst []float32, src []byte) {
	var q [QK_K]uint8
	for b := 0; b < len(dst)/QK_K; b++ {
		x := src[b*blockQ6_K : (b+1)*blockQ6_K]
		y := dst[b*QK_K : (b+1)*QK_K]
		d := fp16(x[208:])
		q6KQuants(&q, x)
		for i, v := range q {
			// scale i/16: the sub-blocks of 16 in element order
			y[i] = d * float32(int8(x[192+i/16])) * float32(int(v)-32)
		}
	}
}

func dequantizeQ8_K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/QK_K; b++ {
		x := src[b*blockQ8_K : (b+1)*blockQ8_K]
		y := dst[b*QK_K : (b+1)*QK_K]
		d := getF32(x)
		for j, q := range x[q8KQsOff : q8KQsOff+QK_K] {
			y[j] = d * float32(int8(q))
		}
	}
}
