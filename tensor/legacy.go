package tensor

import (
	"encoding/binary"
	"math"
)

// The legacy 32-element formats beyond Q4_0 and Q8_0 (all little-endian):
//
//	Q4_1 (20 bytes): d fp16 | m fp16 | qs[16]
//	    nibbles as in Q4_0; value q*d + m.
//	Q5_0 (22 bytes): d fp16 | qh[4] | qs[16]
//	    as Q4_0 with a fifth bit per element, element j in bit j of the
//	    32-bit word qh; value (q-16)*d.
//	Q5_1 (24 bytes): d fp16 | m fp16 | qh[4] | qs[16]
//	    as Q5_0 without the offset; value q*d + m.
//	Q8_1 (36 bytes): d fp16 | s fp16 | qs[32] int8
//	    the activation format of the Q4_1 and Q5_1 dot products; value
//	    q*d, and s is d times the sum of the quants, so that the weights'
//	    offset m costs one multiply per block.
const (
	blockQ4_1 = 20
	blockQ5_0 = 22
	blockQ5_1 = 24
	blockQ8_1 = 36
)

// hsumLanes adds eight float lanes in the order of ggml's x86 hsum_float_8:
// the upper four onto the lower four, then lanes 0+2 and 1+3, then those.
func hsumLanes(a *[8]float32) float32 {
	r0, r1, r2, r3 := a[4]+a[0], a[5]+a[1], a[6]+a[2], a[7]+a[3]
	return (r0 + r2) + (r1 + r3)
}

// fusedMulAdd32 returns a*b + c rounded once to float32, as an FMA instruction
// does. The product is exact in float64; the float64 sum is rounded to
// odd (its last bit set when inexact), which makes the final rounding to
// float32 the correctly rounded one.
func fusedMulAdd32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	fc := float64(c)
	x := p + fc
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return float32(x)
	}
	bp := x - p
	if e := (p - (x - bp)) + (fc - bp); e != 0 { // p + c = x + e exactly
		if bits := math.Float64bits(x); bits&1 == 0 {
			if (e > 0) == (x > 0) {
				bits++
			} else {
				bits--
			}
			x = math.Float64frombits(bits)
		}
	}
	return float32(x)
}

// minMax returns the smallest and largest of x, starting from ±MaxFloat32
// as ggml does.
func minMax(x []float32) (lo, hi float32) {
	lo, hi = math.MaxFloat32, -math.MaxFloat32
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

// The quantizers follow quantize_row_q4_1_ref, _q5_0_ref and _q5_1_ref.
// Go's float-to-integer conversion truncates like C's for the in-range
// values they convert.

func quantizeQ4_1(dst []byte, src []float32) {
	for b := 0; b < len(src)/32; b++ {
		x := src[b*32 : (b+1)*32]
		y := dst[b*blockQ4_1 : (b+1)*blockQ4_1]
		lo, hi := minMax(x)
		d := (hi - lo) / 15
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putFP16(y[0:], d)
		putFP16(y[2:], lo)
		for j := 0; j < 16; j++ {
			x0 := float32((x[j] - lo) * id)
			x1 := float32((x[j+16] - lo) * id)
			q0 := min(15, int32(x0+0.5))
			q1 := min(15, int32(x1+0.5))
			y[4+j] = byte(q0) | byte(q1)<<4
		}
	}
}

func quantizeQ5_0(dst []byte, src []float32) {
	for b := 0; b < len(src)/32; b++ {
		x := src[b*32 : (b+1)*32]
		y := dst[b*blockQ5_0 : (b+1)*blockQ5_0]
		// As in Q4_0, the element of largest magnitude maps to -16.
		var amax, max float32
		for _, v := range x {
			if a := abs32(v); amax < a {
				amax, max = a, v
			}
		}
		d := max / -16
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putFP16(y, d)
		var qh uint32
		for j := 0; j < 16; j++ {
			x0 := float32(x[j] * id)
			x1 := float32(x[j+16] * id)
			q0 := min(31, int32(x0+16.5))
			q1 := min(31, int32(x1+16.5))
			y[6+j] = byte(q0)&0xf | byte(q1)<<4
			qh |= uint32(q0>>4&1)<<j | uint32(q1>>4&1)<<(j+16)
		}
		binary.LittleEndian.PutUint32(y[2:], qh)
	}
}

func quantizeQ5_1(dst []byte, src []float32) {
	for b := 0; b < len(src)/32; b++ {
		x := src[b*32 : (b+1)*32]
		y := dst[b*blockQ5_1 : (b+1)*blockQ5_1]
		lo, hi := minMax(x)
		d := (hi - lo) / 31
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putFP16(y[0:], d)
		putFP16(y[2:], lo)
		var qh uint32
		for j := 0; j < 16; j++ {
			x0 := float32((x[j] - lo) * id)
			x1 := float32((x[j+16] - lo) * id)
			q0 := uint8(int32(x0 + 0.5)) // no clamp: ggml has none
			q1 := uint8(int32(x1 + 0.5))
			y[8+j] = q0&0xf | q1<<4
			qh |= uint32(q0>>4&1)<<j | uint32(q1>>4&1)<<(j+16)
		}
		binary.LittleEndian.PutUint32(y[4:], qh)
	}
}

// quantizeQ8_1 is quantize_row_q8_1_ref: d = amax/127, quants rounded half
// away from zero, s = fp16(sum*d).
func quantizeQ8_1(dst []byte, src []float32) {
	for b := 0; b < len(src)/32; b++ {
		x := src[b*32 : (b+1)*32]
		y := dst[b*blockQ8_1 : (b+1)*blockQ8_1]
		var amax float32
		for _, v := range x {
			if a := abs32(v); !(amax > a) {
				amax = a
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putFP16(y, d)
		var sum int32
		for j, v := range x {
			q := int8(math.Round(float64(v * id)))
			y[4+j] = byte(q)
			sum += int32(q)
		}
		putFP16(y[2:], float32(sum)*d)
	}
}

// quantizeQ8_1Act quantizes activations to Q8_1 as llama.cpp's x86 CPU
// backend does (its AVX2 quantize_row_q8_1): like quantizeQ8_0Act, the
// multiplier is 127/amax and rounding is to nearest even; s is d times the
// sum of the quants.
func quantizeQ8_1Act(dst []byte, src []float32) {
	for b := 0; b < len(src)/32; b++ {
		x := src[b*32 : (b+1)*32]
		y := dst[b*blockQ8_1 : (b+1)*blockQ8_1]
		var amax float32
		for _, v := range x {
			amax = max(amax, abs32(v))
		}
		d := amax / 127
		putFP16(y, d)
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		var sum int32
		for j, v := range x {
			q := int8(math.RoundToEven(float64(v * id)))
			y[4+j] = byte(q)
			sum += int32(q)
		}
		putFP16(y[2:], d*float32(sum))
	}
}

func dequantizeQ4_1(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		x := src[b*blockQ4_1 : (b+1)*blockQ4_1]
		y := dst[b*32 : (b+1)*32]
		d, m := fp16(x[0:]), fp16(x[2:])
		for j, q := range x[4:20] {
			y[j] = float32(float32(q&0xf)*d) + m
			y[j+16] = float32(float32(q>>4)*d) + m
		}
	}
}

func dequantizeQ5_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		x := src[b*blockQ5_0 : (b+1)*blockQ5_0]
		y := dst[b*32 : (b+1)*32]
		d := fp16(x)
		qh := binary.LittleEndian.Uint32(x[2:])
		for j, q := range x[6:22] {
			q0 := int32(q&0xf|byte(qh>>j&1)<<4) - 16
			q1 := int32(q>>4|byte(qh>>(j+16)&1)<<4) - 16
			y[j] = float32(q0) * d
			y[j+16] = float32(q1) * d
		}
	}
}

func dequantizeQ5_1(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		x := src[b*blockQ5_1 : (b+1)*blockQ5_1]
		y := dst[b*32 : (b+1)*32]
		d, m := fp16(x[0:]), fp16(x[2:])
		qh := binary.LittleEndian.Uint32(x[4:])
		for j, q := range x[8:24] {
			q0 := q&0xf | byte(qh>>j&1)<<4
			q1 := q>>4 | byte(qh>>(j+16)&1)<<4
			y[j] = float32(float32(q0)*d) + m
			y[j+16] = float32(float32(q1)*d) + m
		}
	}
}

func dequantizeQ8_1(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		x := src[b*blockQ8_1 : (b+1)*blockQ8_1]
		y := dst[b*32 : (b+1)*32]
		d := fp16(x)
		for j, q := range x[4:36] {
			y[j] = float32(int8(q)) * d
		}
	}
}

// The dot products below follow the float steps of llama.cpp's x86 AVX2
// kernels (ggml_vec_dot_q4_1_q8_1, _q5_0_q8_0, _q5_1_q8_1), so that they
// give its bits: eight float lanes, lane k taking the exact integer sum of
// elements 4k..4k+3 of each block times the block's scale with a fused
// multiply-add, summed at the end by hsumLanes. The offset term of Q4_1 and
// Q5_1, m*s per block, goes into a separate float with a fused
// multiply-add too (the compiler contracts it), added last.

// unpack5 expands a Q5 block's nibbles and fifth bits into 32 values
// 0..31 in element order.
func unpack5(q *[32]int32, qs []byte, qh uint32) {
	for j, v := range qs[:16] {
		q[j] = int32(v&0xf | byte(qh>>j&1)<<4)
		q[j+16] = int32(v>>4 | byte(qh>>(j+16)&1)<<4)
	}
}

// unpack4 expands 16 bytes of nibbles into 32 values 0..15 in element
// order.
func unpack4(q *[32]int32, qs []byte) {
	for j, v := range qs[:16] {
		q[j] = int32(v & 0xf)
		q[j+16] = int32(v >> 4)
	}
}

// laneDots accumulates d times the four-element integer dot products of
// q and the int8 activations x into the eight lanes of acc.
func laneDots(acc *[8]float32, d float32, q *[32]int32, x []byte) {
	x = x[:32]
	for k := range acc {
		s := q[4*k]*int32(int8(x[4*k])) + q[4*k+1]*int32(int8(x[4*k+1])) +
			q[4*k+2]*int32(int8(x[4*k+2])) + q[4*k+3]*int32(int8(x[4*k+3]))
		acc[k] = fusedMulAdd32(d, float32(s), acc[k])
	}
}

func dotQ4_1Q8_1(w, x []byte, nb int) float32 {
	var (
		acc   [8]float32
		q     [32]int32
		summs float32
	)
	for b := 0; b < nb; b++ {
		wb := w[b*blockQ4_1 : (b+1)*blockQ4_1]
		xb := x[b*blockQ8_1 : (b+1)*blockQ8_1]
		summs = fusedMulAdd32(fp16(wb[2:]), fp16(xb[2:]), summs)
		unpack4(&q, wb[4:20])
		laneDots(&acc, fp16(wb)*fp16(xb), &q, xb[4:36])
	}
	return hsumLanes(&acc) + summs
}

func dotQ5_0Q8_0(w, x []byte, nb int) float32 {
	var (
		acc [8]float32
		q   [32]int32
	)
	for b := 0; b < nb; b++ {
		wb := w[b*blockQ5_0 : (b+1)*blockQ5_0]
		xb := x[b*blockQ8_0 : (b+1)*blockQ8_0]
		unpack5(&q, wb[6:22], binary.LittleEndian.Uint32(wb[2:]))
		for j := range q {
			q[j] -= 16
		}
		laneDots(&acc, fp16(wb)*fp16(xb), &q, xb[2:34])
	}
	return hsumLanes(&acc)
}

func dotQ5_1Q8_1(w, x []byte, nb int) float32 {
	var (
		acc   [8]float32
		q     [32]int32
		summs float32
	)
	for b := 0; b < nb; b++ {
		wb := w[b*blockQ5_1 : (b+1)*blockQ5_1]
		xb := x[b*blockQ8_1 : (b+1)*blockQ8_1]
		summs = fusedMulAdd32(fp16(wb[2:]), fp16(xb[2:]), summs)
		unpack5(&q, wb[8:24], binary.LittleEndian.Uint32(wb[4:]))
		laneDots(&acc, fp16(wb)*fp16(xb), &q, xb[4:36])
	}
	return hsumLanes(&acc) + summs
}
