package tensor

// The 2- and 3-bit k-quants (256 elements per block, little-endian):
//
//	Q2_K (84 bytes): scales[16] | qs[64] | d fp16 | dmin fp16
//	    sixteen sub-blocks of 16, scales[i] holding sub-block i's 4-bit
//	    scale (low nibble) and 4-bit min (high nibble); value
//	    d*sc*q - dmin*m with q 2 bits. Each 32 bytes of qs hold 128
//	    elements: for l < 32, elements l, l+32, l+64, l+96 take bits 0-1,
//	    2-3, 4-5, 6-7 of byte l.
//	Q3_K (110 bytes): hmask[32] | qs[64] | scales[12] | d fp16
//	    sixteen sub-blocks of 16 with 6-bit scales stored minus 32 (see
//	    scaleQ3K); value d*sc*(q-4) with q 3 bits: the low two bits as in
//	    Q2_K, the third in bit e/32 of hmask[e%32] for element e.
const (
	blockQ2_K = 84
	blockQ3_K = 110
)

// scaleQ3K returns the signed scale of sub-block j (0..15) from the 12
// scale bytes of a Q3_K block: its low four bits in a nibble of bytes
// 0..7, its top two in bits 2*(j/4) of byte 8+j%4.
func scaleQ3K(j int, sc []byte) int32 {
	_ = sc[11]
	var lo byte
	if j < 8 {
		lo = sc[j] & 0xf
	} else {
		lo = sc[j-8] >> 4
	}
	hi := sc[8+j%4] >> (2 * (j / 4)) & 3
	return int32(lo|hi<<4) - 32
}

// quantizeQ2_K follows quantize_row_q2_K_ref: each sub-block of 16 is fit
// with makeQKX2 (absolute-error weights |x|), the scales and mins are
// encoded in 4 bits relative to two fp16 super-scales, and the elements
// are requantized with the rounded values.
func quantizeQ2_K(dst []byte, src []float32) {
	var (
		l       [QK_K]uint8
		laux    [16]uint8
		weights [16]float32
		scales  [16]float32
		mins    [16]float32
	)
	for b := 0; b < len(src)/QK_K; b++ {
		x := src[b*QK_K : (b+1)*QK_K]
		y := dst[b*blockQ2_K : (b+1)*blockQ2_K]
		var maxScale, maxMin float32
		for j := 0; j < 16; j++ {
			xs := x[16*j : 16*j+16]
			for i, v := range xs {
				weights[i] = abs32(v)
			}
			scales[j], mins[j] = makeQKX2(3, xs, weights[:], l[16*j:16*j+16], laux[:], -0.5, 0.1, 15, true)
			if scales[j] > maxScale {
				maxScale = scales[j]
			}
			if mins[j] > maxMin {
				maxMin = mins[j]
			}
		}
		sc := y[0:16]
		if maxScale > 0 {
			iscale := 15 / maxScale
			for j := range sc {
				sc[j] = byte(nearestInt(iscale * scales[j]))
			}
			putFP16(y[80:], maxScale/15)
		} else {
			clear(sc)
			putFP16(y[80:], 0)
		}
		if maxMin > 0 {
			iscale := 15 / maxMin
			for j := range sc {
				sc[j] |= byte(nearestInt(iscale*mins[j]) << 4)
			}
			putFP16(y[82:], maxMin/15)
		} else {
			putFP16(y[82:], 0)
		}
		dAll, mAll := fp16(y[80:]), fp16(y[82:])
		for j := 0; j < 16; j++ {
			d := dAll * float32(sc[j]&0xf)
			if d == 0 {
				continue
			}
			dm := mAll * float32(sc[j]>>4)
			for i := 16 * j; i < 16*j+16; i++ {
				l[i] = uint8(max(0, min(3, nearestInt((x[i]+dm)/d))))
			}
		}
		packQ2(y[16:80], &l)
	}
}

// packQ2 stores the low two bits of 256 levels as Q2_K and Q3_K keep them.
func packQ2(qs []byte, l *[QK_K]uint8) {
	for h := 0; h < 2; h++ {
		q, lh := qs[32*h:32*h+32], l[128*h:128*h+128]
		for i := range q {
			q[i] = lh[i] | lh[i+32]<<2 | lh[i+64]<<4 | lh[i+96]<<6
		}
	}
}

// makeQ3 fits x ≈ scale*(L-4) with L in [0, 8), weighting each element by
// its square: a first rounding, then up to five passes that move single
// elements to the level that most improves the weighted fit. It is ggml's
// make_q3_quants with nmax 4 and do_rmse.
func makeQ3(x []float32, l []int8) float32 {
	const nmax = 4
	var amax, mx float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, mx = a, v
		}
	}
	if amax < groupMaxEps {
		clear(l[:len(x)])
		return 0
	}
	iscale := -nmax / mx
	var sumLX, sumL2 float32
	for i, v := range x {
		q := max(-nmax, min(nmax-1, nearestInt(iscale*v)))
		l[i] = int8(q)
		w := float32(v * v)
		fl := float32(q)
		sumLX += float32(float32(w*v) * fl)
		sumL2 += float32(float32(w*fl) * fl)
	}
	for try := 0; try < 5; try++ {
		changed := false
		for i, v := range x {
			w := float32(v * v)
			fl := float32(l[i])
			slx := sumLX - float32(float32(w*v)*fl)
			if !(slx > 0) {
				continue
			}
			sl2 := sumL2 - float32(float32(w*fl)*fl)
			q := max(-nmax, min(nmax-1, nearestInt(float32(v*sl2)/slx)))
			if q == int32(l[i]) {
				continue
			}
			fq := float32(q)
			slx += float32(float32(w*v) * fq)
			sl2 += float32(float32(w*fq) * fq)
			if sl2 > 0 && float32(float32(slx*slx)*sumL2) > float32(float32(sumLX*sumLX)*sl2) {
				l[i] = int8(q)
				sumLX, sumL2 = slx, sl2
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	for i := range x {
		l[i] += nmax
	}
	if sumL2 > 0 {
		return sumLX / sumL2
	}
	return 0
}

// quantizeQ3_K follows quantize_row_q3_K_ref.
func quantizeQ3_K(dst []byte, src []float32) {
	var (
		l      [QK_K]int8
		lu     [QK_K]uint8
		scales [16]float32
	)
	for b := 0; b < len(src)/QK_K; b++ {
		x := src[b*QK_K : (b+1)*QK_K]
		y := dst[b*blockQ3_K : (b+1)*blockQ3_K]
		var maxScale, amax float32
		for j := 0; j < 16; j++ {
			scales[j] = makeQ3(x[16*j:16*j+16], l[16*j:16*j+16])
			if a := abs32(scales[j]); a > amax {
				amax, maxScale = a, scales[j]
			}
		}
		sc := y[96:108]
		clear(sc)
		if maxScale != 0 {
			iscale := -32 / maxScale
			for j := 0; j < 16; j++ {
				v := int32(int8(nearestInt(iscale * scales[j]))) // C stores it in an int8_t first
				q := byte(max(-32, min(31, v)) + 32)
				if j < 8 {
					sc[j] = q & 0xf
				} else {
					sc[j-8] |= (q & 0xf) << 4
				}
				sc[8+j%4] |= (q >> 4) << (2 * (j / 4))
			}
			putFP16(y[108:], 1/iscale)
		} else {
			putFP16(y[108:], 0)
		}
		dAll := fp16(y[108:])
		for j := 0; j < 16; j++ {
			d := dAll * float32(scaleQ3K(j, sc))
			if d == 0 {
				continue
			}
			for i := 16 * j; i < 16*j+16; i++ {
				l[i] = int8(max(-4, min(3, nearestInt(x[i]/d))) + 4)
			}
		}
		hmask := y[0:32]
		clear(hmask)
		for j, v := range l {
			if v > 3 {
				hmask[j%32] |= 1 << (j / 32)
				v -= 4
			}
			lu[j] = uint8(v)
		}
		packQ2(y[32:96], &lu)
	}
}

func dequantizeQ2_K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/QK_K; b++ {
		x := src[b*blockQ2_K : (b+1)*blockQ2_K]
		y := dst[b*QK_K : (b+1)*QK_K]
		d, dmin := fp16(x[80:]), fp16(x[82:])
		sc := x[0:16]
		for h := 0; h < 2; h++ {
			q := x[16+32*h : 16+32*h+32]
			for s := 0; s < 4; s++ { // shift 2s: 32 elements, two sub-blocks
				shift := 2 * s
				for half := 0; half < 2; half++ {
					is := 8*h + 2*s + half
					dl := d * float32(sc[is]&0xf)
					ml := dmin * float32(sc[is]>>4)
					out := y[128*h+32*s+16*half : 128*h+32*s+16*half+16]
					for i := range out {
						v := q[16*half+i] >> shift & 3
						out[i] = float32(dl*float32(v)) - ml
					}
				}
			}
		}
	}
}

func dequantizeQ3_K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/QK_K; b++ {
		x := src[b*blockQ3_K : (b+1)*blockQ3_K]
		y := dst[b*QK_K : (b+1)*QK_K]
		dAll := fp16(x[108:])
		hm, sc := x[0:32], x[96:108]
		for h := 0; h < 2; h++ {
			q := x[32+32*h : 32+32*h+32]
			for s := 0; s < 4; s++ {
				shift, bit := 2*s, byte(1)<<(4*h+s)
				for half := 0; half < 2; half++ {
					dl := dAll * float32(scaleQ3K(8*h+2*s+half, sc))
					out := y[128*h+32*s+16*half : 128*h+32*s+16*half+16]
					for i := range out {
						k := 16*half + i
						v := int32(q[k] >> shift & 3)
						if hm[k]&bit == 0 {
							v -= 4
						}
						out[i] = dl * float32(v)
					}
				}
			}
		}
	}
}

// The dot products follow llama.cpp's x86 AVX2 kernels
// (ggml_vec_dot_q2_K_q8_K, _q3_K_q8_K): eight float lanes, lane k taking
// per super-block the exact integer sum, over every 32-element chunk, of
// elements 4k..4k+3 times their sub-block's scale (lanes 0-3 see the
// first sub-block of 16 of each chunk, lanes 4-7 the second), multiplied
// in with a fused multiply-add; Q2_K first adds each lane's pair of
// sub-block mins times the activation sums, scaled by -dmin*dx. hsumLanes
// sums the lanes at the end.

func dotQ2_KQ8_K(w, x []byte, nb int) float32 {
	var acc [8]float32
	for b := 0; b < nb; b++ {
		wb := w[b*blockQ2_K : (b+1)*blockQ2_K]
		xb := x[b*blockQ8_K : (b+1)*blockQ8_K]
		xd := getF32(xb)
		d := xd * fp16(wb[80:])
		dmin := -xd * fp16(wb[82:])
		sc, qs := wb[0:16], wb[16:80]
		qx := xb[q8KQsOff : q8KQsOff+QK_K]
		for k := range acc {
			m := int32(sc[2*k]>>4)*q8KBsum(xb, 2*k) + int32(sc[2*k+1]>>4)*q8KBsum(xb, 2*k+1)
			acc[k] = fusedMulAdd32(dmin, float32(m), acc[k])
		}
		var sum [8]int32
		for h := 0; h < 2; h++ {
			q := qs[32*h : 32*h+32]
			for s := 0; s < 4; s++ {
				shift := 2 * s
				xs := qx[128*h+32*s : 128*h+32*s+32]
				for k := range sum {
					var p int32
					for i := 4 * k; i < 4*k+4; i++ {
						p += int32(q[i]>>shift&3) * int32(int8(xs[i]))
					}
					sum[k] += int32(sc[8*h+2*s+k/4]&0xf) * p
				}
			}
		}
		for k := range acc {
			acc[k] = fusedMulAdd32(d, float32(sum[k]), acc[k])
		}
	}
	return hsumLanes(&acc)
}

func dotQ3_KQ8_K(w, x []byte, nb int) float32 {
	var (
		acc    [8]float32
		scales [16]int32
	)
	for b := 0; b < nb; b++ {
		wb := w[b*blockQ3_K : (b+1)*blockQ3_K]
		xb := x[b*blockQ8_K : (b+1)*blockQ8_K]
		d := getF32(xb) * fp16(wb[108:])
		hm, qs, sc := wb[0:32], wb[32:96], wb[96:108]
		for j := range scales {
			scales[j] = scaleQ3K(j, sc)
		}
		qx := xb[q8KQsOff : q8KQsOff+QK_K]
		var sum [8]int32
		for h := 0; h < 2; h++ {
			q := qs[32*h : 32*h+32]
			for s := 0; s < 4; s++ {
				shift, bit := 2*s, byte(1)<<(4*h+s)
				xs := qx[128*h+32*s : 128*h+32*s+32]
				for k := range sum {
					var p int32
					for i := 4 * k; i < 4*k+4; i++ {
						v := int32(q[i] >> shift & 3)
						if hm[i]&bit == 0 {
							v -= 4
						}
						p += v * int32(int8(xs[i]))
					}
					sum[k] += scales[8*h+2*s+k/4] * p
				}
			}
		}
		for k := range acc {
			acc[k] = fusedMulAdd32(d, float32(sum[k]), acc[k])
		}
	}
	return hsumLanes(&acc)
}
