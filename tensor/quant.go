package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The quantizers below reproduce ggml's reference quantizers
// (quantize_row_*_ref, the ones llama-quantize uses when no importance
// matrix is given) operation for operation in float32, so their output is
// bit-identical to ggml built without floating-point contraction. Products
// that feed a sum are wrapped in float32() so that no platform fuses them
// into a multiply-add, which would change the rounding.

// Quantize encodes src as type t with ggml's reference quantizer and
// returns the encoded bytes. len(src) must be a multiple of t's block size.
// Supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K,
// Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ4_NL and IQ4_XS. IQ4_NL and IQ4_XS use
// ggml's quantize_iq4_nl and quantize_iq4_xs (what llama-quantize runs)
// rather than their row references, which search fewer scales.
func Quantize(t Type, src []float32) ([]byte, error) {
	if !canQuantize(t) {
		return nil, fmt.Errorf("tensor: quantize to %s: type not supported", t)
	}
	n, err := t.RowBytes(len(src))
	if err != nil {
		return nil, fmt.Errorf("tensor: quantize: %w", err)
	}
	dst := make([]byte, n)
	quantize(t, dst, src)
	return dst, nil
}

// QuantizeTo is Quantize into a caller's buffer, which must hold exactly
// the bytes len(src) elements of t take.
func QuantizeTo(t Type, dst []byte, src []float32) error {
	if !canQuantize(t) {
		return fmt.Errorf("tensor: quantize to %s: type not supported", t)
	}
	n, err := t.RowBytes(len(src))
	if err != nil {
		return fmt.Errorf("tensor: quantize: %w", err)
	}
	if len(dst) != n {
		return fmt.Errorf("tensor: quantize %d elements to %s: buffer has %d bytes, need %d", len(src), t, len(dst), n)
	}
	quantize(t, dst, src)
	return nil
}

func canQuantize(t Type) bool {
	switch t {
	case F32, F16, BF16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, Q8_K,
		Q4_1, Q5_0, Q5_1, Q8_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS:
		return true
	}
	return false
}

// quantize dispatches to the row quantizers; sizes are already checked.
func quantize(t Type, dst []byte, src []float32) {
	switch t {
	case F32:
		for i, v := range src {
			putF32(dst[4*i:], v)
		}
	case F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], Float32ToFP16(v))
		}
	case BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], Float32ToBF16(v))
		}
	case Q4_0:
		quantizeQ4_0(dst, src)
	case Q8_0:
		quantizeQ8_0(dst, src)
	case Q4_K:
		quantizeQ4_K(dst, src)
	case Q5_K:
		quantizeQ5_K(dst, src)
	case Q6_K:
		quantizeQ6_K(dst, src)
	case Q8_K:
		quantizeQ8_K(dst, src)
	case Q4_1:
		quantizeQ4_1(dst, src)
	case Q5_0:
		quantizeQ5_0(dst, src)
	case Q5_1:
		quantizeQ5_1(dst, src)
	case Q8_1:
		quantizeQ8_1(dst, src)
	case Q2_K:
		quantizeQ2_K(dst, src)
	case Q3_K:
		quantizeQ3_K(dst, src)
	case IQ4_NL:
		quantizeIQ4_NL(dst, src)
	case IQ4_XS:
		quantizeIQ4_XS(dst, src)
	default:
		panic("tensor: quantize: unsupported type " + t.String())
	}
}

// groupMaxEps is the absolute maximum below which ggml treats a group as
// all zeros.
const groupMaxEps = 1e-15

// nearestInt rounds f to the nearest integer, ties to even, the way ggml's
// nearest_int does: adding 1.5*2^23 leaves the integer in the low mantissa
// bits. It is exact for |f| < 2^22.
func nearestInt(f float32) int32 {
	v := float32(f) + 12582912
	return int32(math.Float32bits(v)&0x7fffff) - 0x400000
}

func quantizeQ4_0(dst []byte, src []float32) {
	for b := 0; b < len(src)/qk4_0; b++ {
		x := src[b*qk4_0 : (b+1)*qk4_0]
		y := dst[b*blockQ4_0 : (b+1)*blockQ4_0]
		// The element of largest magnitude, with its sign, maps to -8 so
		// that the asymmetric range [-8, 7] is used fully.
		var amax, max float32
		for _, v := range x {
			if a := abs32(v); amax < a {
				amax, max = a, v
			}
		}
		d := max / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putFP16(y, d)
		for j := 0; j < 16; j++ {
			x0 := float32(x[j] * id) // rounded before the addition below
			x1 := float32(x[16+j] * id)
			q0 := min(15, int32(x0+8.5)) // conversion truncates, as in C
			q1 := min(15, int32(x1+8.5))
			y[2+j] = byte(q0) | byte(q1)<<4
		}
	}
}

func quantizeQ8_0(dst []byte, src []float32) {
	for b := 0; b < len(src)/qk8_0; b++ {
		x := src[b*qk8_0 : (b+1)*qk8_0]
		y := dst[b*blockQ8_0 : (b+1)*blockQ8_0]
		var amax float32
		for _, v := range x {
			if a := abs32(v); !(amax > a) { // C's MAX(amax, a)
				amax = a
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putFP16(y, d)
		for j, v := range x {
			// roundf: half away from zero.
			y[2+j] = byte(int8(math.Round(float64(v * id))))
		}
	}
}

// quantizeQ8_0Act quantizes activations to Q8_0 for the Q4_0 and Q8_0 dot
// products. It follows ggml's x86 AVX/AVX2 quantize_row_q8_0, which the
// llama.cpp CPU backend runs on x86-64 in place of the reference: the
// multiplier is 127/amax rather than 1/(amax/127), and rounding is to
// nearest even rather than away from zero. d is amax/127 either way.
func quantizeQ8_0Act(dst []byte, src []float32) {
	for b := 0; b < len(src)/qk8_0; b++ {
		x := src[b*qk8_0 : (b+1)*qk8_0]
		y := dst[b*blockQ8_0 : (b+1)*blockQ8_0]
		var amax float32
		for _, v := range x {
			amax = max(amax, abs32(v))
		}
		putFP16(y, amax/127)
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		for j, v := range x {
			y[2+j] = byte(int8(math.RoundToEven(float64(v * id))))
		}
	}
}

func quantizeQ8_K(dst []byte, src []float32) {
	for b := 0; b < len(src)/QK_K; b++ {
		x := src[b*QK_K : (b+1)*QK_K]
		y := dst[b*blockQ8_K : (b+1)*blockQ8_K]
		var amax, max float32
		for _, v := range x {
			if a := abs32(v); a > amax {
				amax, max = a, v
			}
		}
		if amax == 0 {
			clear(y)
			continue
		}
		iscale := -127 / max
		qs := y[q8KQsOff : q8KQsOff+QK_K]
		for j, v := range x {
			qs[j] = byte(int8(min(127, nearestInt(iscale*v))))
		}
		for j := 0; j < QK_K/16; j++ {
			var sum int16
			for _, q := range qs[16*j : 16*j+16] {
				sum += int16(int8(q))
			}
			binary.LittleEndian.PutUint16(y[q8KSumsOff+2*j:], uint16(sum))
		}
		putF32(y, 1/iscale)
	}
}

// makeQKX2 fits x ≈ scale*L + min with L in [0, nmax] and min ≤ 0,
// minimising the weighted error over nstep+1 candidate scales, and returns
// scale and -min. It is ggml's make_qkx2_quants; laux is scratch of len(x).
func makeQKX2(nmax int, x, weights []float32, l, laux []uint8, rmin, rdelta float32, nstep int, useMAD bool) (scale, negMin float32) {
	n := len(x)
	mn, mx := x[0], x[0]
	sumW := weights[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < n; i++ {
		if x[i] < mn {
			mn = x[i]
		}
		if x[i] > mx {
			mx = x[i]
		}
		w := weights[i]
		sumW += w
		sumX += float32(w * x[i])
	}
	if mn > 0 {
		mn = 0
	}
	if mx == mn {
		clear(l[:n])
		return 0, -mn
	}
	fmax := float32(nmax)
	iscale := fmax / (mx - mn)
	scale = 1 / iscale
	var bestError float32
	for i := 0; i < n; i++ {
		q := nearestInt(iscale * (x[i] - mn))
		l[i] = uint8(max(0, min(int32(nmax), q)))
		diff := float32(float32(scale*float32(l[i]))+mn) - x[i]
		if useMAD {
			diff = abs32(diff)
		} else {
			diff = diff * diff
		}
		bestError += float32(weights[i] * diff)
	}
	if nstep < 1 {
		return scale, -mn
	}
	for is := 0; is <= nstep; is++ {
		iscale = (float32(rmin+float32(rdelta*float32(is))) + fmax) / (mx - mn)
		var sumL, sumL2, sumXL float32
		for i := 0; i < n; i++ {
			q := nearestInt(iscale * (x[i] - mn))
			q = max(0, min(int32(nmax), q))
			laux[i] = uint8(q)
			w := weights[i]
			fl := float32(q)
			sumL += float32(w * fl)
			sumL2 += float32(float32(w*fl) * fl)
			sumXL += float32(float32(w*fl) * x[i])
		}
		det := float32(sumW*sumL2) - float32(sumL*sumL)
		if det > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / det
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / det
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var curError float32
			for i := 0; i < n; i++ {
				diff := float32(float32(thisScale*float32(laux[i]))+thisMin) - x[i]
				if useMAD {
					diff = abs32(diff)
				} else {
					diff = diff * diff
				}
				curError += float32(weights[i] * diff)
			}
			if curError < bestError {
				copy(l[:n], laux[:n])
				bestError = curError
				scale = thisScale
				mn = thisMin
			}
		}
	}
	return scale, -mn
}

// makeQX fits x ≈ scale*(L-nmax) with L in [0, 2*nmax), weighting each
// element by its square, and returns the scale. It is ggml's make_qx_quants
// with rmse_type 1 and no importance weights.
func makeQX(nmax int, x []float32, l []int8) float32 {
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
	lo, hi := int32(-nmax), int32(nmax-1)
	fmax := float32(nmax)
	iscale := float32(-nmax) / mx
	var sumLX, sumL2 float32
	for i, v := range x {
		q := max(lo, min(hi, nearestInt(iscale*v)))
		l[i] = int8(q + int32(nmax))
		w := float32(v * v)
		fl := float32(q)
		sumLX += float32(float32(w*v) * fl)
		sumL2 += float32(float32(w*fl) * fl)
	}
	var scale float32
	if sumL2 != 0 {
		scale = sumLX / sumL2
	}
	best := scale * sumLX
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(fmax + float32(float32(0.1)*float32(is))) / mx
		sumLX, sumL2 = 0, 0
		for _, v := range x {
			q := max(lo, min(hi, nearestInt(iscale*v)))
			w := float32(v * v)
			fl := float32(q)
			sumLX += float32(float32(w*v) * fl)
			sumL2 += float32(float32(w*fl) * fl)
		}
		if sumL2 > 0 && sumLX*sumLX > best*sumL2 {
			for i, v := range x {
				q := max(lo, min(hi, nearestInt(iscale*v)))
				l[i] = int8(q + int32(nmax))
			}
			scale = sumLX / sumL2
			best = scale * sumLX
		}
	}
	return scale
}

// quantizeKSubblocks is the part Q4_K and Q5_K share: fit each 32-element
// sub-block with makeQKX2, encode the scales and mins in 6 bits each
// relative to two fp16 super-scales, then requantize every element with
// the rounded scales. It fills y's d, dmin and scales and returns the
// levels in l.
func quantizeKSubblocks(y []byte, x []float32, l *[QK_K]uint8, nmax int, rmin, rdelta float32, nstep int) {
	var (
		laux    [32]uint8
		weights [32]float32
		scales  [8]float32
		mins    [8]float32
	)
	var maxScale, maxMin float32
	for j := 0; j < 8; j++ {
		xs := x[32*j : 32*j+32]
		var sumX2 float32
		for _, v := range xs {
			sumX2 += float32(v * v)
		}
		avX := sqrt32(sumX2 / 32)
		for i, v := range xs {
			weights[i] = avX + abs32(v)
		}
		scales[j], mins[j] = makeQKX2(nmax, xs, weights[:], l[32*j:32*j+32], laux[:], rmin, rdelta, nstep, false)
		if scales[j] > maxScale {
			maxScale = scales[j]
		}
		if mins[j] > maxMin {
			maxMin = mins[j]
		}
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	sc := y[4:16]
	for j := 0; j < 8; j++ {
		ls := min(63, uint8(nearestInt(invScale*scales[j])))
		lm := min(63, uint8(nearestInt(invMin*mins[j])))
		if j < 4 {
			sc[j] = ls
			sc[j+4] = lm
		} else {
			sc[j+4] = ls&0xf | (lm&0xf)<<4
			sc[j-4] |= (ls >> 4) << 6
			sc[j] |= (lm >> 4) << 6
		}
	}
	putFP16(y[0:], maxScale/63)
	putFP16(y[2:], maxMin/63)

	dAll, mAll := fp16(y[0:]), fp16(y[2:])
	top := int32(nmax)
	for j := 0; j < 8; j++ {
		s, m := scaleMinK4(j, sc)
		d := dAll * float32(s)
		if d == 0 {
			continue // keep the levels makeQKX2 chose
		}
		dm := float32(mAll * float32(m)) // rounded: it is added to x below
		for i := 32 * j; i < 32*j+32; i++ {
			l[i] = uint8(max(0, min(top, nearestInt((x[i]+dm)/d))))
		}
	}
}

func quantizeQ4_K(dst []byte, src []float32) {
	var l [QK_K]uint8
	for b := 0; b < len(src)/QK_K; b++ {
		x := src[b*QK_K : (b+1)*QK_K]
		y := dst[b*blockQ4_K : (b+1)*blockQ4_K]
		quantizeKSubblocks(y, x, &l, 15, -1, 0.1, 20)
		qs := y[16:144]
		for c := 0; c < 4; c++ {
			for i := 0; i < 32; i++ {
				qs[32*c+i] = l[64*c+i] | l[64*c+32+i]<<4
			}
		}
	}
}

func quantizeQ5_K(dst []byte, src []float32) {
	var l [QK_K]uint8
	for b := 0; b < len(src)/QK_K; b++ {
		x := src[b*QK_K : (b+1)*QK_K]
		y := dst[b*blockQ5_K : (b+1)*blockQ5_K]
		quantizeKSubblocks(y, x, &l, 31, -0.5, 0.1, 15)
		qh, qs := y[16:48], y[48:176]
		clear(qh)
		for c := 0; c < 4; c++ {
			for i := 0; i < 32; i++ {
				lo, hi := l[64*c+i], l[64*c+32+i]
				qh[i] |= (lo>>4)<<(2*c) | (hi>>4)<<(2*c+1)
				qs[32*c+i] = lo&0xf | (hi&0xf)<<4
			}
		}
	}
}

func quantizeQ6_K(dst []byte, src []float32) {
	var (
		l      [QK_K]int8
		scales [QK_K / 16]float32
	)
	for b := 0; b < len(src)/QK_K; b++ {
		x := src[b*QK_K : (b+1)*QK_K]
		y := dst[b*blockQ6_K : (b+1)*blockQ6_K]
		var maxScale, maxAbsScale float32
		for ib := 0; ib < QK_K/16; ib++ {
			s := makeQX(32, x[16*ib:16*ib+16], l[16*ib:16*ib+16])
			scales[ib] = s
			if a := abs32(s); a > maxAbsScale {
				maxAbsScale, maxScale = a, s
			}
		}
		if maxAbsScale < groupMaxEps {
			clear(y)
			continue
		}
		iscale := -128 / maxScale
		putFP16(y[208:], 1/iscale)
		sc := y[192:208]
		for ib := range sc {
			sc[ib] = byte(int8(min(127, nearestInt(iscale*scales[ib]))))
		}
		dAll := fp16(y[208:])
		for j := 0; j < QK_K/16; j++ {
			d := dAll * float32(int8(sc[j]))
			if d == 0 {
				continue
			}
			for i := 16 * j; i < 16*j+16; i++ {
				l[i] = int8(max(-32, min(31, nearestInt(x[i]/d))) + 32)
			}
		}
		for h := 0; h < 2; h++ {
			ql := y[64*h : 64*h+64]
			qh := y[128+32*h : 128+32*h+32]
			lh := l[128*h : 128*h+128]
			for i := 0; i < 32; i++ {
				q1, q2, q3, q4 := uint8(lh[i]), uint8(lh[i+32]), uint8(lh[i+64]), uint8(lh[i+96])
				ql[i] = q1&0xf | (q3&0xf)<<4
				ql[i+32] = q2&0xf | (q4&0xf)<<4
				qh[i] = q1>>4 | (q2>>4)<<2 | (q3>>4)<<4 | (q4>>4)<<6
			}
		}
	}
}
