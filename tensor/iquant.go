package tensor

import "encoding/binary"

// The non-linear 4-bit formats map each 4-bit index through a fixed table
// of 16 levels, denser near zero (little-endian):
//
//	IQ4_NL (32 elements, 18 bytes): d fp16 | qs[16]
//	    nibbles as in Q4_0; value d*kvaluesIQ4NL[q].
//	IQ4_XS (256 elements, 136 bytes): d fp16 | scales_h uint16 |
//	    scales_l[4] | qs[128]
//	    eight sub-blocks of 32 with 6-bit scales stored minus 32: the low
//	    four bits of sub-block i in nibble i%2 of scales_l[i/2], the top
//	    two in bits 2i, 2i+1 of scales_h; value d*(ls-32)*kvaluesIQ4NL[q],
//	    each sub-block's 16 bytes of qs laid out as one IQ4_NL block's.
const (
	blockIQ4_NL = 18
	blockIQ4_XS = 136
)

// kvaluesIQ4NL are ggml's IQ4_NL levels.
var kvaluesIQ4NL = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// iq4Tries is the number of scale steps each side of the first guess that
// ggml's quantize_iq4_nl and quantize_iq4_xs try (llama-quantize's path;
// quantize_row_iq4_nl_ref tries none).
const iq4Tries = 7

// bestIQ4 returns the index of the level nearest x (the lower one on a
// tie), as ggml's best_index_int8.
func bestIQ4(x float32) uint8 {
	v := &kvaluesIQ4NL
	if x <= float32(v[0]) {
		return 0
	}
	if x >= float32(v[15]) {
		return 15
	}
	lo, hi := 0, 15
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if x < float32(v[mid]) {
			hi = mid
		} else {
			lo = mid
		}
	}
	if x-float32(v[hi-1]) < float32(v[hi])-x {
		return uint8(hi - 1)
	}
	return uint8(hi)
}

// iq4Scale fits the 32 values x with levels d*kvaluesIQ4NL[l], weighting
// each element by its square: from d = max/-127 it tries 2*iq4Tries+1
// other scales and keeps the best least-squares one. It stores the levels
// of the first guess in l and returns d, or 0 without touching l for an
// all-zero group.
func iq4Scale(x []float32, l []uint8) float32 {
	x, l = x[:32], l[:32]
	var amax, mx float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, mx = a, v
		}
	}
	if amax < groupMaxEps {
		return 0
	}
	v0 := float32(kvaluesIQ4NL[0])
	id := 1 / (-mx / v0)
	var sumQX, sumQ2 float32
	for j, v := range x {
		q := bestIQ4(id * v)
		l[j] = q
		fq := float32(kvaluesIQ4NL[q])
		w := float32(v * v)
		sumQX += float32(float32(w*fq) * v)
		sumQ2 += float32(float32(w*fq) * fq)
	}
	var d float32
	if sumQ2 > 0 {
		d = sumQX / sumQ2
	}
	best := d * sumQX
	for try := -iq4Tries; try <= iq4Tries; try++ {
		id = float32(try+int(kvaluesIQ4NL[0])) / mx
		sumQX, sumQ2 = 0, 0
		for _, v := range x {
			fq := float32(kvaluesIQ4NL[bestIQ4(id*v)])
			w := float32(v * v)
			sumQX += float32(float32(w*fq) * v)
			sumQ2 += float32(float32(w*fq) * fq)
		}
		if sumQ2 > 0 && float32(sumQX*sumQX) > float32(best*sumQ2) {
			d = sumQX / sumQ2
			best = d * sumQX
		}
	}
	return d
}

// packIQ4 stores 32 levels as an IQ4_NL block's 16 bytes.
func packIQ4(qs []byte, l []uint8) {
	for j := 0; j < 16; j++ {
		qs[j] = l[j] | l[j+16]<<4
	}
}

// quantizeIQ4_NL is ggml's quantize_iq4_nl without an importance matrix.
func quantizeIQ4_NL(dst []byte, src []float32) {
	var l [32]uint8
	for b := 0; b < len(src)/32; b++ {
		x := src[b*32 : (b+1)*32]
		y := dst[b*blockIQ4_NL : (b+1)*blockIQ4_NL]
		d := iq4Scale(x, l[:])
		putFP16(y, d)
		var id float32
		if d != 0 {
			id = 1 / d
		}
		for j, v := range x {
			l[j] = bestIQ4(id * v)
		}
		packIQ4(y[2:18], l[:])
	}
}

// quantizeIQ4_XS is ggml's quantize_iq4_xs without an importance matrix:
// each sub-block is fit as in IQ4_NL, the scales are encoded in 6 bits
// relative to d = -max/32, and the elements are requantized with them.
func quantizeIQ4_XS(dst []byte, src []float32) {
	var (
		l      [QK_K]uint8
		scales [8]float32
	)
	for b := 0; b < len(src)/QK_K; b++ {
		x := src[b*QK_K : (b+1)*QK_K]
		y := dst[b*blockIQ4_XS : (b+1)*blockIQ4_XS]
		var maxScale, amax float32
		for ib := range scales {
			scales[ib] = iq4Scale(x[32*ib:32*ib+32], l[32*ib:32*ib+32])
			if a := abs32(scales[ib]); a > amax {
				amax, maxScale = a, scales[ib]
			}
		}
		d := -maxScale / 32
		putFP16(y, d)
		var id float32
		if d != 0 {
			id = 1 / d
		}
		var sh uint16
		sl := y[4:8]
		for ib := range scales {
			ls := max(-32, min(31, nearestInt(id*scales[ib])))
			dl := d * float32(ls)
			var idl float32
			if dl != 0 {
				idl = 1 / dl
			}
			for j, v := range x[32*ib : 32*ib+32] {
				l[32*ib+j] = bestIQ4(idl * v)
			}
			q := uint8(ls + 32)
			if ib%2 == 0 {
				sl[ib/2] = q & 0xf
			} else {
				sl[ib/2] |= (q & 0xf) << 4
			}
			sh |= uint16(q>>4) << (2 * ib)
		}
		binary.LittleEndian.PutUint16(y[2:], sh)
		for ib := 0; ib < 8; ib++ {
			packIQ4(y[8+16*ib:8+16*ib+16], l[32*ib:32*ib+32])
		}
	}
}

// scaleIQ4XS returns sub-block ib's scale, minus its offset of 32.
func scaleIQ4XS(y []byte, ib int) int32 {
	sh := binary.LittleEndian.Uint16(y[2:])
	lo := y[4+ib/2] >> (4 * (ib % 2)) & 0xf
	return int32(lo|byte(sh>>(2*ib)&3)<<4) - 32
}

func dequantizeIQ4_NL(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		x := src[b*blockIQ4_NL : (b+1)*blockIQ4_NL]
		y := dst[b*32 : (b+1)*32]
		d := fp16(x)
		for j, q := range x[2:18] {
			y[j] = d * float32(kvaluesIQ4NL[q&0xf])
			y[j+16] = d * float32(kvaluesIQ4NL[q>>4])
		}
	}
}

func dequantizeIQ4_XS(dst []float32, src []byte) {
	for b := 0; b < len(dst)/QK_K; b++ {
		x := src[b*blockIQ4_XS : (b+1)*blockIQ4_XS]
		y := dst[b*QK_K : (b+1)*QK_K]
		d := fp16(x)
		for ib := 0; ib < 8; ib++ {
			dl := d * float32(scaleIQ4XS(x, ib))
			out := y[32*ib : 32*ib+32]
			for j, q := range x[8+16*ib : 8+16*ib+16] {
				out[j] = dl * float32(kvaluesIQ4NL[q&0xf])
				out[j+16] = dl * float32(kvaluesIQ4NL[q>>4])
			}
		}
	}
}

// unpackIQ4 expands 16 bytes of indices into the 32 levels they name, in
// element order.
func unpackIQ4(q *[32]int32, qs []byte) {
	for j, v := range qs[:16] {
		q[j] = int32(kvaluesIQ4NL[v&0xf])
		q[j+16] = int32(kvaluesIQ4NL[v>>4])
	}
}

// dotIQ4_NLQ8_0 follows llama.cpp's x86 AVX2 ggml_vec_dot_iq4_nl_q8_0:
// blocks in pairs, even blocks into one set of eight lanes and odd blocks
// into another (as laneDots does for the legacy types), the two sets
// added lane by lane and summed by hsumLanes; an odd last block is added to
// that sum with one fused multiply-add.
func dotIQ4_NLQ8_0(w, x []byte, nb int) float32 {
	var (
		acc [2][8]float32
		q   [32]int32
	)
	b := 0
	for ; b+1 < nb; b += 2 {
		for i := range acc {
			wb := w[(b+i)*blockIQ4_NL : (b+i+1)*blockIQ4_NL]
			xb := x[(b+i)*blockQ8_0 : (b+i+1)*blockQ8_0]
			unpackIQ4(&q, wb[2:18])
			laneDots(&acc[i], fp16(xb)*fp16(wb), &q, xb[2:34])
		}
	}
	var sum [8]float32
	for k := range sum {
		sum[k] = acc[0][k] + acc[1][k]
	}
	s := hsumLanes(&sum)
	if b < nb {
		wb := w[b*blockIQ4_NL : (b+1)*blockIQ4_NL]
		xb := x[b*blockQ8_0 : (b+1)*blockQ8_0]
		unpackIQ4(&q, wb[2:18])
		var isum int32
		for j, v := range xb[2:34] {
			isum += q[j] * int32(int8(v))
		}
		s = fusedMulAdd32(fp16(xb)*fp16(wb), float32(isum), s)
	}
	return s
}

// dotIQ4_XSQ8_K follows ggml_vec_dot_iq4_xs_q8_K's AVX2 path: per
// super-block, lane k holds the exact sum over the eight sub-blocks of
// their scale times elements 4k..4k+3 of each, multiplied by d*dx with a
// fused multiply-add; hsumLanes sums the lanes at the end.
func dotIQ4_XSQ8_K(w, x []byte, nb int) float32 {
	var (
		acc [8]float32
		q   [32]int32
	)
	for b := 0; b < nb; b++ {
		wb := w[b*blockIQ4_XS : (b+1)*blockIQ4_XS]
		xb := x[b*blockQ8_K : (b+1)*blockQ8_K]
		qx := xb[q8KQsOff : q8KQsOff+QK_K]
		var sum [8]int32
		for ib := 0; ib < 8; ib++ {
			unpackIQ4(&q, wb[8+16*ib:8+16*ib+16])
			ls := scaleIQ4XS(wb, ib)
			xs := qx[32*ib : 32*ib+32]
			for k := range sum {
				p := q[4*k]*int32(int8(xs[4*k])) + q[4*k+1]*int32(int8(xs[4*k+1])) +
					q[4*k+2]*int32(int8(xs[4*k+2])) + q[4*k+3]*int32(int8(xs[4*k+3]))
				sum[k] += ls * p
			}
		}
		d := fp16(wb) * getF32(xb)
		for k := range acc {
			acc[k] = fusedMulAdd32(d, float32(sum[k]), acc[k])
		}
	}
	return hsumLanes(&acc)
}
