package tensor

import (
	"encoding/binary"
	"math"
)

// Reference dot products, one weight row against one converted activation
// row. nb counts blocks (elements for the plain types). Sums over blocks
// are float32 in block order; sums inside a block are exact integers, as in
// ggml. Accelerated versions must agree with these up to float32
// reassociation.

func dotF32Ref(w []byte, x []float32) float32 {
	w = w[:4*len(x)]
	var sum float32
	for i, v := range x {
		sum += math.Float32frombits(binary.LittleEndian.Uint32(w[4*i:])) * v
	}
	return sum
}

// dotF16Ref multiplies fp16 weights by fp16 activations. Each product of
// two binary16 values is exact in float32.
func dotF16Ref(w, x []byte, nb int) float32 {
	w, x = w[:2*nb], x[:2*nb]
	var sum float32
	for i := 0; i < 2*nb; i += 2 {
		a := FP16ToFloat32(uint16(w[i]) | uint16(w[i+1])<<8)
		b := FP16ToFloat32(uint16(x[i]) | uint16(x[i+1])<<8)
		sum += a * b
	}
	return sum
}

// dotBF16Ref multiplies bf16 weights by bf16 activations; products are
// exact in float32.
func dotBF16Ref(w, x []byte, nb int) float32 {
	w, x = w[:2*nb], x[:2*nb]
	var sum float32
	for i := 0; i < 2*nb; i += 2 {
		a := math.Float32frombits(uint32(w[i])<<16 | uint32(w[i+1])<<24)
		b := math.Float32frombits(uint32(x[i])<<16 | uint32(x[i+1])<<24)
		sum += a * b
	}
	return sum
}

func dotQ4_0Q8_0Ref(w, x []byte, nb int) float32 {
	var sum float32
	for b := 0; b < nb; b++ {
		wb := w[b*blockQ4_0 : (b+1)*blockQ4_0]
		xb := x[b*blockQ8_0 : (b+1)*blockQ8_0]
		qs, qx := wb[2:18], xb[2:34]
		var s int32
		for j, q := range qs {
			s += (int32(q&0xf) - 8) * int32(int8(qx[j]))
			s += (int32(q>>4) - 8) * int32(int8(qx[j+16]))
		}
		sum += fp16(wb) * fp16(xb) * float32(s)
	}
	return sum
}

func dotQ8_0Q8_0Ref(w, x []byte, nb int) float32 {
	var sum float32
	for b := 0; b < nb; b++ {
		wb := w[b*blockQ8_0 : (b+1)*blockQ8_0]
		xb := x[b*blockQ8_0 : (b+1)*blockQ8_0]
		qw, qx := wb[2:34], xb[2:34]
		var s int32
		for j, q := range qw {
			s += int32(int8(q)) * int32(int8(qx[j]))
		}
		sum += fp16(wb) * fp16(xb) * float32(s)
	}
	return sum
}

// q8KBsum returns bsums[j] of a Q8_K block.
func q8KBsum(xb []byte, j int) int32 {
	return int32(int16(binary.LittleEndian.Uint16(xb[q8KSumsOff+2*j:])))
}

func dotQ4_KQ8_KRef(w, x []byte, nb int) float32 {
	var sum float32
	for b := 0; b < nb; b++ {
		wb := w[b*blockQ4_K : (b+1)*blockQ4_K]
		xb := x[b*blockQ8_K : (b+1)*blockQ8_K]
		scales, qs := wb[4:16], wb[16:144]
		qx := xb[q8KQsOff : q8KQsOff+QK_K]
		var isum, msum int32
		for c := 0; c < 4; c++ {
			sc1, m1 := scaleMinK4(2*c, scales)
			sc2, m2 := scaleMinK4(2*c+1, scales)
			q := qs[32*c : 32*c+32]
			x1, x2 := qx[64*c:64*c+32], qx[64*c+32:64*c+64]
			var s1, s2 int32
			for l, v := range q {
				s1 += int32(v&0xf) * int32(int8(x1[l]))
				s2 += int32(v>>4) * int32(int8(x2[l]))
			}
			isum += int32(sc1)*s1 + int32(sc2)*s2
			// The mins multiply the sum of the activations of each
			// sub-block, which Q8_K keeps as two 16-element sums.
			msum += int32(m1)*(q8KBsum(xb, 4*c)+q8KBsum(xb, 4*c+1)) +
				int32(m2)*(q8KBsum(xb, 4*c+2)+q8KBsum(xb, 4*c+3))
		}
		xd := getF32(xb)
		d := fp16(wb[0:]) * xd
		dmin := fp16(wb[2:]) * xd
		sum += d * float32(isum)
		sum -= dmin * float32(msum)
	}
	return sum
}

func dotQ5_KQ8_KRef(w, x []byte, nb int) float32 {
	var sum float32
	for b := 0; b < nb; b++ {
		wb := w[b*blockQ5_K : (b+1)*blockQ5_K]
		xb := x[b*blockQ8_K : (b+1)*blockQ8_K]
		scales, qh, qs := wb[4:16], wb[16:48], wb[48:176]
		qx := xb[q8KQsOff : q8KQsOff+QK_K]
		var isum, msum int32
		for c := 0; c < 4; c++ {
			sc1, m1 := scaleMinK4(2*c, scales)
			sc2, m2 := scaleMinK4(2*c+1, scales)
			q := qs[32*c : 32*c+32]
			x1, x2 := qx[64*c:64*c+32], qx[64*c+32:64*c+64]
			var s1, s2 int32
			for l, v := range q {
				lo := int32(v&0xf) | int32(qh[l]>>(2*c)&1)<<4
				hi := int32(v>>4) | int32(qh[l]>>(2*c+1)&1)<<4
				s1 += lo * int32(int8(x1[l]))
				s2 += hi * int32(int8(x2[l]))
			}
			isum += int32(sc1)*s1 + int32(sc2)*s2
			msum += int32(m1)*(q8KBsum(xb, 4*c)+q8KBsum(xb, 4*c+1)) +
				int32(m2)*(q8KBsum(xb, 4*c+2)+q8KBsum(xb, 4*c+3))
		}
		xd := getF32(xb)
		d := fp16(wb[0:]) * xd
		dmin := fp16(wb[2:]) * xd
		sum += d * float32(isum)
		sum -= dmin * float32(msum)
	}
	return sum
}

func dotQ6_KQ8_KRef(w, x []byte, nb int) float32 {
	var sum float32
	for b := 0; b < nb; b++ {
		wb := w[b*blockQ6_K : (b+1)*blockQ6_K]
		xb := x[b*blockQ8_K : (b+1)*blockQ8_K]
		qx := xb[q8KQsOff : q8KQsOff+QK_K]
		var isum int32
		for h := 0; h < 2; h++ {
			ql := wb[64*h : 64*h+64]
			qh := wb[128+32*h : 128+32*h+32]
			sc := wb[192+8*h : 192+8*h+8]
			xh := qx[128*h : 128*h+128]
			// s[k] collects the sub-block of 16 elements k (0..7) of this
			// half: quarter l/32 of the half, then l%32 < 16 or not.
			var s [8]int32
			for l := 0; l < 32; l++ {
				is := l / 16
				q1 := int32(ql[l]&0xf|(qh[l]>>0&3)<<4) - 32
				q2 := int32(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
				q3 := int32(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
				q4 := int32(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
				s[is] += q1 * int32(int8(xh[l]))
				s[is+2] += q2 * int32(int8(xh[l+32]))
				s[is+4] += q3 * int32(int8(xh[l+64]))
				s[is+6] += q4 * int32(int8(xh[l+96]))
			}
			for k, v := range s {
				isum += int32(int8(sc[k])) * v
			}
		}
		d := fp16(wb[208:]) * getF32(xb)
		sum += d * float32(isum)
	}
	return sum
}
