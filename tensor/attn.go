package tensor

import "math"

// Attention kernels for fp16 KV caches, computed as ggml's CPU flash
// attention does it: fp16 keys dotted with an fp16-valued query in the lane
// order of ggml's AVX-512 fp16 dot product, and a weighted sum of fp16
// values kept at fp16 precision. Each kernel here has a plain-Go reference
// (the *Ref functions) and, where the CPU allows, an assembly version that
// gives the same bits; attnKernels holds the set this CPU runs.

// attnImpl names an implementation of the kernels: the plain-Go
// references (the *Ref functions) or an assembly set, which gives the same
// bits. Its methods (in attn_amd64.go or attn_noasm.go) run the kernel of
// that set; a switch rather than function values lets the compiler see
// that no argument escapes. The assembly kernels of the elementwise
// operations take the first multiple of 8 elements, and the references
// the rest.
type attnImpl uint8

const (
	attnRef attnImpl = iota
	attnAVX2
	attnAVX512
)

func (a attnImpl) String() string {
	switch a {
	case attnAVX2:
		return "avx2"
	case attnAVX512:
		return "avx512"
	}
	return "reference"
}

// attnKernels is the set this CPU runs, chosen once.
var attnKernels = attnArch()

// DotF16Q returns q·k, for a q whose elements are all fp16 values (so that
// every product is exact) and fp16 keys k (at least len(q) of them). The
// sum runs as ggml_vec_dot_f16 runs it in llama.cpp's AVX-512 build: blocks
// of 64 elements accumulate into four 16-lane float32 registers; the
// registers are added pairwise and their 16 lanes reduced in the order of
// _mm512_reduce_add_ps; the elements after the last whole block are added
// in float64, so a q shorter than 64 is summed entirely in float64.
func DotF16Q(q []float32, k []uint16) float32 {
	var out [1]float32
	DotsF16Q(out[:], q, k, 0)
	return out[0]
}

// DotsF16Q sets out[t] to DotF16Q(q, k[t*stride:]) for every t, the scores
// of one query against len(out) keys stride elements apart.
func DotsF16Q(out, q []float32, k []uint16, stride int) {
	if len(out) == 0 {
		return
	}
	if stride < 0 || len(k) < (len(out)-1)*stride+len(q) {
		panic("tensor: DotsF16Q: keys shorter than the rows")
	}
	attnKernels.dots(out, q, k, stride)
}

// DotsF16QHeads is DotsF16Q for heads queries that share their keys, as
// the query heads of one KV head do: with d = len(q)/heads and n =
// len(out)/heads, out[g*n+t] is DotF16Q(q[g*d:(g+1)*d], k[t*stride:]).
// Where the CPU allows, each key is converted from fp16 once for two
// queries.
func DotsF16QHeads(out, q []float32, heads int, k []uint16, stride int) {
	if heads <= 0 || len(q)%heads != 0 || len(out)%heads != 0 {
		panic("tensor: DotsF16QHeads: lengths not a multiple of the heads")
	}
	n, d := len(out)/heads, len(q)/heads
	if n == 0 {
		return
	}
	if stride < 0 || len(k) < (n-1)*stride+d {
		panic("tensor: DotsF16QHeads: keys shorter than the rows")
	}
	attnKernels.dotsHeads(out, q, heads, k, stride)
}

// MadF16 sets out[d] += float32(v[d])*s for every d, the product and sum
// rounded once, as a fused multiply-add does. v must hold at least
// len(out) values.
func MadF16(out []float32, v []uint16, s float32) {
	if len(v) < len(out) {
		panic("tensor: MadF16: fewer values than outputs")
	}
	attnKernels.mad(out, v[:len(out)], s)
}

// ScaleRoundF16 sets x[d] to x[d]*s rounded to the nearest fp16 value
// (ties to even; too large becomes ±Inf), kept as float32.
func ScaleRoundF16(x []float32, s float32) { attnKernels.scaleRound(x, s) }

// RoundF16 rounds every element of x to the nearest fp16 value, ties to
// even, as converting to fp16 and back does.
func RoundF16(x []float32) { attnKernels.round(x) }

// AccumulateF16 runs the value updates of an online softmax over len(vs)
// rows of fp16 values, row t at v[t*stride:]: for each row in turn,
//
//	if ms[t] != 1 { ScaleRoundF16(out, ms[t]) }
//	MadF16(out, v[t*stride:], vs[t])
//	RoundF16(out)
//
// ms[t] is the factor that rescales the sum when the running maximum grows
// and vs[t] the row's weight. Keeping out in registers across the rows is
// what makes this faster than calling the three kernels.
func AccumulateF16(out []float32, v []uint16, stride int, ms, vs []float32) {
	if len(ms) != len(vs) {
		panic("tensor: AccumulateF16: ms and vs differ in length")
	}
	if len(vs) == 0 || len(out) == 0 {
		return
	}
	if stride < 0 || len(v) < (len(vs)-1)*stride+len(out) {
		panic("tensor: AccumulateF16: values shorter than the rows")
	}
	attnKernels.accumulate(out, v, stride, ms, vs)
}

// AccumulateF16Heads is AccumulateF16 for heads sums that read the same
// rows of values: with d = len(out)/heads and n = len(vs)/heads, head g
// sums into out[g*d:(g+1)*d] with the factors ms[g*n:(g+1)*n] and
// vs[g*n:(g+1)*n]. Where the CPU allows, each row is converted from fp16
// once for two heads.
func AccumulateF16Heads(out []float32, heads int, v []uint16, stride int, ms, vs []float32) {
	if heads <= 0 || len(out)%heads != 0 || len(vs)%heads != 0 || len(ms) != len(vs) {
		panic("tensor: AccumulateF16Heads: lengths not a multiple of the heads")
	}
	n, d := len(vs)/heads, len(out)/heads
	if n == 0 || d == 0 {
		return
	}
	if stride < 0 || len(v) < (n-1)*stride+d {
		panic("tensor: AccumulateF16Heads: values shorter than the rows")
	}
	attnKernels.accumulateHeads(out, heads, v, stride, ms, vs)
}

// Exp32s sets dst[i] to float32(math.Exp(float64(src[i]))) for every i,
// the very bits of that expression: the softmax weights of attention.
// dst must be at least as long as src, and may be src.
func Exp32s(dst, src []float32) {
	if len(dst) < len(src) {
		panic("tensor: Exp32s: dst shorter than src")
	}
	attnKernels.exp(dst[:len(src)], src)
}

func exp32sRef(dst, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = float32(math.Exp(float64(x)))
	}
}

// halfToFloat converts a binary16 value to float32, as FP16ToFloat32 does,
// in a form small enough to inline into the reference loops.
func halfToFloat(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	b := uint32(h&0x7fff) << 13 // exponent and mantissa at their float32 places
	if b >= 0x1f<<23 {
		return math.Float32frombits(sign | 0x7f800000 | b) // Inf, NaN
	}
	// The exponent is still biased by 15 instead of 127; multiplying by
	// 2^112 rebiases it, and turns the subnormals into normal float32 values.
	return math.Float32frombits(math.Float32bits(math.Float32frombits(b)*0x1p112) | sign)
}

// roundHalves rounds every element of x to the nearest binary16 value,
// ties to even.
func roundHalves(x []float32) {
	for i, f := range x {
		b := math.Float32bits(f)
		if a := b & 0x7fffffff; a-0x38800000 < 0x477ff000-0x38800000 {
			// 2^-14 <= |f| < 65520, a normal result: round away the 13
			// mantissa bits binary16 lacks. A carry into the exponent is right.
			x[i] = math.Float32frombits((b + 0xfff + (b>>13)&1) &^ 0x1fff)
		} else {
			x[i] = roundHalfRare(f)
		}
	}
}

func roundHalfRare(f float32) float32 {
	b := math.Float32bits(f)
	a := b & 0x7fffffff
	if a >= 0x38800000 {
		return FP16ToFloat32(Float32ToFP16(f)) // overflow, Inf, NaN
	}
	// Subnormal range: adding 0.5 puts the float32 unit in the last place
	// at 2^-24, the binary16 subnormal step.
	a = math.Float32bits(math.Float32frombits(a) + 0.5 - 0.5)
	return math.Float32frombits(a | b&0x80000000)
}

// madHalves sets out[d] = float32(v[d])*s + out[d] rounded once. Each
// product has at most 11+24 significant bits, so it is exact in float64,
// and the float64 sum rounds once. Rounding that sum to float32 rounds a
// second time, which can differ from rounding the exact sum only when the
// float64 sum lies exactly halfway between two float32 values;
// fmaHalfExact takes those cases. (Below 2^-126, where float32 halfway
// points are spaced differently, the float64 sum is exact: both terms are
// multiples of 2^-173.)
func madHalves(out []float32, v []uint16, s float32) {
	v = v[:len(out)]
	for d, h := range v {
		p := float64(halfToFloat(h)) * float64(s)
		x := p + float64(out[d])
		if math.Float64bits(x)&(1<<29-1) != 1<<28 {
			out[d] = float32(x)
		} else {
			out[d] = fmaHalfExact(p, float64(out[d]), x)
		}
	}
}

// fmaHalfExact rounds the exact sum p + c, whose float64 rounding is x, to
// float32: it rounds to float64 with round-to-odd instead, the part two-sum
// finds rounded away deciding the last bit, which leaves the one rounding
// to float32 correct.
func fmaHalfExact(p, c, x float64) float32 {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return float32(x)
	}
	bp := x - p
	if e := (p - (x - bp)) + (c - bp); e != 0 { // exact: p + c = x + e
		if b := math.Float64bits(x); b&1 == 0 {
			// An inexact x with an even last bit moves one unit towards
			// the exact sum, to its odd neighbour.
			if (e > 0) == (x > 0) {
				b++
			} else {
				b--
			}
			x = math.Float64frombits(b)
		}
	}
	return float32(x)
}

func dotsF16QRef(out, q []float32, k []uint16, stride int) {
	for t := range out {
		out[t] = dotF16QRef(q, k[t*stride:][:len(q)])
	}
}

func dotF16QRef(q []float32, k []uint16) float32 {
	k = k[:len(q)]
	whole := len(q) &^ 63
	var sum float64
	if whole > 0 {
		var acc [64]float32 // register j, lane l at acc[16*j+l]
		for i := 0; i < whole; i += 64 {
			qb, kb := q[i:i+64], k[i:i+64]
			for e := range acc {
				acc[e] += qb[e] * halfToFloat(kb[e])
			}
		}
		var r [16]float32
		for l := range r {
			r[l] = (acc[l] + acc[32+l]) + (acc[16+l] + acc[48+l])
		}
		for w := 8; w >= 2; w /= 2 { // add the upper half of the lanes onto the lower
			for l := range w {
				r[l] = r[w+l] + r[l]
			}
		}
		sum = float64(r[0] + r[1])
	}
	for i := whole; i < len(q); i++ {
		sum += float64(q[i] * halfToFloat(k[i]))
	}
	return float32(sum)
}

func madF16Ref(out []float32, v []uint16, s float32) { madHalves(out, v, s) }

func scaleRoundF16Ref(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
	roundHalves(x)
}

func roundF16Ref(x []float32) { roundHalves(x) }

func accumulateF16Ref(out []float32, v []uint16, stride int, ms, vs []float32) {
	ms = ms[:len(vs)]
	for t, s := range vs {
		if ms[t] != 1 {
			scaleRoundF16Ref(out, ms[t])
		}
		row := v[t*stride:][:len(out)]
		if t == 0 {
			madHalves(out, row, s)
			roundHalves(out)
			continue
		}
		// From the second row on, out holds fp16 values, and then the
		// float64 sum rounded twice, to float32 and to fp16, gives what
		// one rounding to float32 would: when the float64 sum is inexact
		// the product is under 2^-17 of it and cannot move out to an fp16
		// rounding boundary, or the sum exceeds 2^28 and becomes ±Inf
		// either way. This is madHalves and roundHalves in one pass.
		for d, h := range row {
			f := float32(float64(out[d]) + float64(halfToFloat(h))*float64(s))
			b := math.Float32bits(f)
			if a := b & 0x7fffffff; a-0x38800000 < 0x477ff000-0x38800000 {
				out[d] = math.Float32frombits((b + 0xfff + (b>>13)&1) &^ 0x1fff)
			} else {
				out[d] = roundHalfRare(f)
			}
		}
	}
}
