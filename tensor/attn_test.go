package tensor

import (
	"flag"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"runtime"
	"testing"
)

// The oracles below restate each kernel from its definition, one rounding
// per operation, with the package's scalar conversions (FP16ToFloat32,
// Float32ToFP16) and exact big.Float arithmetic; every kernel set, the
// references included, must match them bit for bit.

func round16(f float32) float32 { return FP16ToFloat32(Float32ToFP16(f)) }

// fmaOracle returns a*b + c rounded once to float32.
func fmaOracle(a, b, c float32) float32 {
	if math.IsInf(float64(a), 0) || math.IsInf(float64(c), 0) {
		return a*b + c // no rounding to get wrong
	}
	x := new(big.Float).SetPrec(400).SetFloat64(float64(a))
	x.Mul(x, new(big.Float).SetFloat64(float64(b)))
	x.Add(x, new(big.Float).SetFloat64(float64(c)))
	f, _ := x.Float32()
	return f
}

// dotOracle is ggml_vec_dot_f16 in its AVX-512 form: four 16-lane
// accumulators, the pairwise sum of registers, _mm512_reduce_add_ps, and
// the leftover elements in float64.
func dotOracle(q []float32, k []uint16) float32 {
	np := len(q) / 64 * 64
	var sum float64
	if np > 0 {
		var x [4][16]float32
		for i := 0; i < np; i += 64 {
			for j := range 4 {
				for l := range 16 {
					e := i + 16*j + l
					x[j][l] = fmaOracle(q[e], FP16ToFloat32(k[e]), x[j][l])
				}
			}
		}
		for l := range 16 {
			x[0][l] += x[2][l]
			x[1][l] += x[3][l]
		}
		for l := range 16 {
			x[0][l] += x[1][l]
		}
		var t8 [8]float32
		for i := range 8 {
			t8[i] = x[0][8+i] + x[0][i]
		}
		var t4 [4]float32
		for i := range 4 {
			t4[i] = t8[4+i] + t8[i]
		}
		sum = float64((t4[0] + t4[2]) + (t4[1] + t4[3]))
	}
	for i := np; i < len(q); i++ {
		sum += float64(q[i] * FP16ToFloat32(k[i]))
	}
	return float32(sum)
}

func accumulateOracle(out []float32, v []uint16, stride int, ms, vs []float32) {
	for t := range vs {
		if ms[t] != 1 {
			for d := range out {
				out[d] = round16(out[d] * ms[t])
			}
		}
		for d := range out {
			out[d] = round16(fmaOracle(FP16ToFloat32(v[t*stride+d]), vs[t], out[d]))
		}
	}
}

// halves returns n random fp16 values of about the given magnitude;
// finite ones only unless inf is set.
func halves(r *rand.Rand, n int, scale float64, inf bool) []uint16 {
	h := make([]uint16, n)
	for i := range h {
		f := r.NormFloat64() * scale
		if !inf {
			f = max(-65504, min(65504, f))
		}
		h[i] = Float32ToFP16(float32(f))
	}
	return h
}

// fp16Query returns n random fp16-valued float32s of about the given
// magnitude.
func fp16Query(r *rand.Rand, n int, scale float64) []float32 {
	q := make([]float32, n)
	for i, h := range halves(r, n, scale, false) {
		q[i] = FP16ToFloat32(h)
	}
	return q
}

// sameBits returns the first index at which a and b differ in their bits,
// or -1.
func sameBits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// testLengths are the vector lengths the tests run: every length up to 67,
// which covers each path through the blocks and the leftovers, and some
// head sizes.
func testLengths() []int {
	var ns []int
	for n := 1; n <= 67; n++ {
		ns = append(ns, n)
	}
	return append(ns, 80, 96, 127, 128, 130, 192, 200, 256)
}

func TestDotsF16Q(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, ks := range attnTestSets() {
		for _, n := range testLengths() {
			for _, mag := range [][2]float64{{1, 1}, {2, 1e-5}, {300, 200}, {6e4, 6e4}} {
				const rows = 5
				stride := n + r.IntN(9)
				q := fp16Query(r, n, mag[0])
				k := halves(r, (rows-1)*stride+n, mag[1], false)
				got := make([]float32, rows)
				ks.dots(got, q, k, stride)
				for row := range rows {
					want := dotOracle(q, k[row*stride:][:n])
					if math.Float32bits(got[row]) != math.Float32bits(want) {
						t.Fatalf("%s: %d elements ~%g·%g, row %d: got %g, want %g", ks, n, mag[0], mag[1], row, got[row], want)
					}
				}
			}
		}
	}
}

// TestDotsF16QInf checks that an infinite key gives an infinite score.
func TestDotsF16QInf(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, ks := range attnTestSets() {
		for _, n := range []int{5, 64, 100} {
			q := fp16Query(r, n, 1)
			k := halves(r, n, 1, false)
			q[n-3], k[n-3] = -2, 0xfc00 // -Inf
			got := make([]float32, 1)
			ks.dots(got, q, k, 0)
			if want := dotOracle(q, k); !math.IsInf(float64(got[0]), 1) || !math.IsInf(float64(want), 1) {
				t.Errorf("%s: %d elements with an infinite product: got %g, oracle %g, want +Inf", ks, n, got[0], want)
			}
		}
	}
}

func TestMadF16(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 1))
	for _, ks := range attnTestSets() {
		for _, n := range testLengths() {
			for _, mag := range [][3]float64{{1, 1, 0.5}, {1e-5, 1e-4, 1e-3}, {3e4, 6e4, 1}, {1, 1, 1e30}, {1e-40, 1e-3, 1e-36}} {
				out := make([]float32, n)
				for i := range out {
					out[i] = float32(r.NormFloat64() * mag[0]) // not fp16-valued
				}
				v := halves(r, n, mag[1], false)
				s := float32(r.Float64() * mag[2])
				want := make([]float32, n)
				for d := range want {
					want[d] = fmaOracle(FP16ToFloat32(v[d]), s, out[d])
				}
				ks.mad(out, v, s)
				if d := sameBits(out, want); d >= 0 {
					t.Fatalf("%s: %d elements ~%v: out[%d] = %g, want %g", ks, n, mag, d, out[d], want[d])
				}
			}
		}
	}
}

// TestMadF16RoundsOnce checks the case where summing in float64 and then
// rounding to float32 rounds twice: 1 + (1+2^-10)(2^-24 - 2^-34 + 2^-44)
// is 1 + 2^-24 + 2^-54, just above the midpoint of 1 and its float32
// successor.
func TestMadF16RoundsOnce(t *testing.T) {
	h := Float32ToFP16(1 + 0x1p-10)
	s := float32(0x1p-24 - 0x1p-34 + 0x1p-44)
	want := float32(1 + 0x1p-23)
	if twice := float32(1 + float64(float64(FP16ToFloat32(h))*float64(s))); twice == want {
		t.Fatalf("the case does not round twice in float64")
	}
	for _, ks := range attnTestSets() {
		for _, n := range []int{1, 8, 9, 16, 64} {
			out := make([]float32, n)
			v := make([]uint16, n)
			for i := range out {
				out[i], v[i] = 1, h
			}
			ks.mad(out, v, s)
			for d, f := range out {
				if f != want {
					t.Fatalf("%s: %d elements: out[%d] = %.10g, want %.10g", ks, n, d, f, want)
				}
			}
		}
	}
}

// roundInputs returns float32 values that probe fp16 rounding: random bit
// patterns of every exponent, each fp16 value and the points halfway to
// the next one with their float32 neighbours, and values about the
// largest finite fp16 value, which round to it or overflow.
func roundInputs(r *rand.Rand) []float32 {
	var x []float32
	for range 1 << 14 {
		b := r.Uint32()
		if b&0x7f800000 == 0x7f800000 {
			continue // NaN or Inf
		}
		x = append(x, math.Float32frombits(b))
	}
	for h := 0; h < 0x7c00; h += 7 {
		v := FP16ToFloat32(uint16(h))
		mid := (v + FP16ToFloat32(uint16(h+1))) / 2
		for _, c := range []float32{v, mid} {
			b := math.Float32bits(c)
			for _, d := range []uint32{b - 1, b, b + 1} {
				x = append(x, math.Float32frombits(d), -math.Float32frombits(d))
			}
		}
	}
	for _, f := range []float32{65504, 65519.99, 65520, 65536, 1e9, 0x1p-24, 0x1p-25, 0x1.000002p-25, 0x1p-26, 0} {
		x = append(x, f, -f)
	}
	r.Shuffle(len(x), func(i, j int) { x[i], x[j] = x[j], x[i] })
	return x
}

func TestRoundF16(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 1))
	in := roundInputs(r)
	for _, ks := range attnTestSets() {
		// Slices of every length, so that the values reach every lane and
		// the leftovers after the last whole vector.
		for i, n := 0, 1; i < len(in); i, n = i+n, n%67+1 {
			x := append([]float32(nil), in[i:min(i+n, len(in))]...)
			ks.round(x)
			for j, f := range x {
				want := round16(in[i+j])
				if math.Float32bits(f) != math.Float32bits(want) {
					t.Fatalf("%s: round(%g = %#08x) = %g, want %g", ks, in[i+j], math.Float32bits(in[i+j]), f, want)
				}
			}
		}
	}
}

func TestScaleRoundF16(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 2))
	in := roundInputs(r)
	scales := []float32{1, 0.5, 0.9990234, 0.3, 1e-6, 3, 0}
	for _, ks := range attnTestSets() {
		for i, n := 0, 1; i < len(in); i, n = i+n, n%67+1 {
			s := scales[n%len(scales)]
			x := append([]float32(nil), in[i:min(i+n, len(in))]...)
			ks.scaleRound(x, s)
			for j, f := range x {
				want := round16(in[i+j] * s)
				if math.Float32bits(f) != math.Float32bits(want) {
					t.Fatalf("%s: scaleRound(%g, %g) = %g, want %g", ks, in[i+j], s, f, want)
				}
			}
		}
	}
}

// softmaxFactors returns the ms and vs of n rows of an online softmax
// over random scores: ms[0] is 0, and later a new maximum is rare and
// sometimes so close to the old one that its factor rounds to 1.
func softmaxFactors(r *rand.Rand, n int) (ms, vs []float32) {
	ms, vs = make([]float32, n), make([]float32, n)
	m := float32(math.Inf(-1))
	for t := range n {
		sc := float32(r.NormFloat64() * 3)
		if t > 0 && r.IntN(8) == 0 {
			sc = m + 1e-9 // a new maximum whose factor is 1
		}
		ms[t], vs[t] = 1, 1
		if sc > m {
			ms[t] = float32(math.Exp(float64(m - sc)))
			m = sc
		} else {
			vs[t] = float32(math.Exp(float64(sc - m)))
		}
	}
	return ms, vs
}

func TestAccumulateF16(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 1))
	for _, ks := range attnTestSets() {
		for _, n := range testLengths() {
			for _, mag := range []float64{1, 1e-4, 2e4} {
				rows := 1 + r.IntN(20)
				stride := n + r.IntN(9)
				v := halves(r, (rows-1)*stride+n, mag, false)
				ms, vs := softmaxFactors(r, rows)
				out := make([]float32, n)
				for i := range out {
					out[i] = float32(r.NormFloat64() * mag) // not fp16-valued
				}
				want := append([]float32(nil), out...)
				accumulateOracle(want, v, stride, ms, vs)
				ks.accumulate(out, v, stride, ms, vs)
				if d := sameBits(out, want); d >= 0 {
					t.Fatalf("%s: %d elements, %d rows ~%g: out[%d] = %g, want %g", ks, n, rows, mag, d, out[d], want[d])
				}
			}
		}
	}
}

// TestAccumulateF16Overflow drives the sums past the largest fp16 value,
// where they become +Inf and stay so.
func TestAccumulateF16Overflow(t *testing.T) {
	for _, ks := range attnTestSets() {
		for _, n := range []int{3, 8, 24, 64, 72, 128, 136} {
			const rows = 4
			v := make([]uint16, rows*n)
			for i := range v {
				v[i] = Float32ToFP16(float32(40000 - 10*i))
			}
			ms := []float32{0, 1, 0.75, 1}
			vs := []float32{1, 1, 1, 0.5}
			out := make([]float32, n)
			want := make([]float32, n)
			accumulateOracle(want, v, n, ms, vs)
			ks.accumulate(out, v, n, ms, vs)
			if d := sameBits(out, want); d >= 0 {
				t.Fatalf("%s: %d elements: out[%d] = %g, want %g", ks, n, d, out[d], want[d])
			}
			if !math.IsInf(float64(out[0]), 1) {
				t.Fatalf("%s: out[0] = %g, want +Inf", ks, out[0])
			}
		}
	}
}

// TestHeads checks the kernels for several heads sharing keys and values
// against the oracles run head by head, over head counts that make pairs
// and leave one over, and head sizes that the pair kernels take whole, in
// part, or not at all.
func TestHeads(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 1))
	for _, ks := range attnTestSets() {
		for heads := 1; heads <= 5; heads++ {
			for _, d := range []int{8, 16, 24, 64, 72, 80, 128, 136, 192} {
				n := 1 + r.IntN(20)
				stride := d + r.IntN(9)
				q := fp16Query(r, heads*d, 2)
				k := halves(r, (n-1)*stride+d, 1, false)
				scores := make([]float32, heads*n)
				ks.dotsHeads(scores, q, heads, k, stride)
				for g := range heads {
					for row := range n {
						want := dotOracle(q[g*d:(g+1)*d], k[row*stride:][:d])
						if got := scores[g*n+row]; math.Float32bits(got) != math.Float32bits(want) {
							t.Fatalf("%s: dots of %d heads of %d, head %d row %d: got %g, want %g", ks, heads, d, g, row, got, want)
						}
					}
				}

				var ms, vs []float32
				for range heads {
					m, v := softmaxFactors(r, n)
					ms, vs = append(ms, m...), append(vs, v...)
				}
				out := make([]float32, heads*d)
				for i := range out {
					out[i] = round16(float32(r.NormFloat64()))
				}
				want := append([]float32(nil), out...)
				for g := range heads {
					accumulateOracle(want[g*d:(g+1)*d], k, stride, ms[g*n:(g+1)*n], vs[g*n:(g+1)*n])
				}
				ks.accumulateHeads(out, heads, k, stride, ms, vs)
				if i := sameBits(out, want); i >= 0 {
					t.Fatalf("%s: accumulate of %d heads of %d, %d rows: out[%d] = %g, want %g", ks, heads, d, n, i, out[i], want[i])
				}
			}
		}
	}
}

// TestAttnExported checks the exported functions, which dispatch to this
// CPU's kernels, against the oracles, and their checks of lengths.
func TestAttnExported(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 1))
	q := fp16Query(r, 72, 1)
	k := halves(r, 3*80, 1, false)
	if got, want := DotF16Q(q, k), dotOracle(q, k[:72]); got != want {
		t.Errorf("DotF16Q = %g, want %g", got, want)
	}
	scores := make([]float32, 3)
	DotsF16Q(scores, q, k, 80)
	for i, s := range scores {
		if want := dotOracle(q, k[i*80:][:72]); s != want {
			t.Errorf("DotsF16Q row %d = %g, want %g", i, s, want)
		}
	}
	ms, vs := softmaxFactors(r, 3)
	out, want := make([]float32, 72), make([]float32, 72)
	AccumulateF16(out, k, 80, ms, vs)
	accumulateOracle(want, k, 80, ms, vs)
	if d := sameBits(out, want); d >= 0 {
		t.Errorf("AccumulateF16: out[%d] = %g, want %g", d, out[d], want[d])
	}
	q2 := fp16Query(r, 2*72, 1)
	scores2 := make([]float32, 2*3)
	DotsF16QHeads(scores2, q2, 2, k, 80)
	for i, s := range scores2 {
		if want := dotOracle(q2[i/3*72:][:72], k[i%3*80:][:72]); s != want {
			t.Errorf("DotsF16QHeads score %d = %g, want %g", i, s, want)
		}
	}
	ms2, vs2 := append(append([]float32(nil), ms...), ms...), append(append([]float32(nil), vs...), vs...)
	out2 := make([]float32, 2*72)
	AccumulateF16Heads(out2, 2, k, 80, ms2, vs2)
	for g := range 2 {
		if d := sameBits(out2[g*72:(g+1)*72], want); d >= 0 {
			t.Errorf("AccumulateF16Heads head %d: out[%d] = %g, want %g", g, d, out2[g*72+d], want[d])
		}
	}
	x := []float32{1.0001, 3e5, 1e-7}
	RoundF16(x)
	ScaleRoundF16(x, 2)
	MadF16(x, k, 0.5)
	for i, f := range []float32{1.0001, 3e5, 1e-7} {
		want := fmaOracle(FP16ToFloat32(k[i]), 0.5, round16(2*round16(f)))
		if math.Float32bits(x[i]) != math.Float32bits(want) {
			t.Errorf("RoundF16, ScaleRoundF16, MadF16 of %g = %g, want %g", f, x[i], want)
		}
	}

	for name, f := range map[string]func(){
		"DotsF16Q short keys":        func() { DotsF16Q(scores, q, k, 90) },
		"DotF16Q short key":          func() { DotF16Q(q, k[:71]) },
		"MadF16 short values":        func() { MadF16(out, k[:71], 1) },
		"AccumulateF16 ms, vs":       func() { AccumulateF16(out, k, 80, ms[:2], vs) },
		"AccumulateF16 short values": func() { AccumulateF16(out, k, 90, ms, vs) },
		"DotsF16QHeads heads":        func() { DotsF16QHeads(scores2, q2[:143], 2, k, 80) },
		"DotsF16QHeads short keys":   func() { DotsF16QHeads(scores2, q2, 2, k, 90) },
		"AccumulateF16Heads heads":   func() { AccumulateF16Heads(out2, 4, k, 80, ms2, vs2) },
		"AccumulateF16Heads values":  func() { AccumulateF16Heads(out2, 2, k, 90, ms2, vs2) },
		"Exp32s short dst":           func() { Exp32s(out[:2], out[:3]) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func BenchmarkDotsF16Q(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, hd := range []int{64, 128} {
		const rows = 256
		q := fp16Query(r, hd, 1)
		k := halves(r, rows*hd, 1, false)
		out := make([]float32, rows)
		for _, ks := range attnTestSets() {
			b.Run(fmt.Sprintf("%s/%d", ks, hd), func(b *testing.B) {
				for b.Loop() {
					ks.dots(out, q, k, hd)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
			})
		}
	}
}

func BenchmarkAccumulateF16(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, hd := range []int{64, 128} {
		const rows = 256
		v := halves(r, rows*hd, 1, false)
		ms, vs := softmaxFactors(r, rows)
		out := make([]float32, hd)
		for _, ks := range attnTestSets() {
			b.Run(fmt.Sprintf("%s/%d", ks, hd), func(b *testing.B) {
				for b.Loop() {
					clear(out)
					ks.accumulate(out, v, hd, ms, vs)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
			})
		}
	}
}

// expInputs returns arguments for Exp32s: random ones over the range
// attention uses and beyond, and special values.
func expInputs(r *rand.Rand) []float32 {
	x := []float32{0, float32(math.Copysign(0, -1)), -104, -103.97, -103.9, -87.34, -87.33, -1e-45, -1e-38, 1e-30, 1,
		88.72, 88.7228, 88.72284, 88.73, 88.75, 88.76, 100, 710, 1e30, -1000, -1e30,
		float32(math.Inf(-1)), float32(math.Inf(1)), float32(math.NaN())}
	for range 4000 {
		x = append(x, float32(-r.ExpFloat64()*20), float32(r.NormFloat64()*50))
	}
	r.Shuffle(len(x), func(i, j int) { x[i], x[j] = x[j], x[i] })
	return x
}

func TestExp32s(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 1))
	in := expInputs(r)
	for _, ks := range attnTestSets() {
		for i, n := 0, 1; i < len(in); i, n = i+n, n%67+1 {
			src := in[i:min(i+n, len(in))]
			got := make([]float32, len(src))
			ks.exp(got, src)
			for j, x := range src {
				want := float32(math.Exp(float64(x)))
				if math.Float32bits(got[j]) != math.Float32bits(want) {
					t.Fatalf("%s: exp(%g) = %g, want %g", ks, x, got[j], want)
				}
			}
		}
	}
}

var exhaustive = flag.Bool("exhaustive", false, "test Exp32s on every float32 from -104 to 88.75")

// TestExp32sExhaustive compares the assembly exp with math.Exp on the
// float32 values from -104 to 88.75, where it computes (below, the kernel
// returns 0, as math.Exp rounded to float32 does: e^-104 is less than half
// the smallest float32 subnormal; above, +Inf, as e^88.75 exceeds the
// largest float32). It takes every 127th (every 997th with -short);
// go test ./tensor -run Exp32sExhaustive -args -exhaustive takes all 2.2e9
// of them, minutes of CPU time.
func TestExp32sExhaustive(t *testing.T) {
	step := uint32(127)
	switch {
	case *exhaustive:
		step = 1
	case testing.Short():
		step = 997
	}
	// Two runs of bit patterns: -0 up to -104, and +0 up to 88.75.
	ranges := [][2]uint32{
		{math.Float32bits(float32(math.Copysign(0, -1))), math.Float32bits(-104)},
		{0, math.Float32bits(88.75)},
	}
	for _, ks := range attnTestSets() {
		if ks == attnRef {
			continue // the reference is math.Exp itself
		}
		for _, rg := range ranges {
			lo, hi := rg[0], rg[1]
			workers := runtime.GOMAXPROCS(0)
			errs := make(chan error, workers)
			for w := range workers {
				go func() {
					const chunk = 1 << 14
					src, dst := make([]float32, 0, chunk), make([]float32, chunk)
					var err error
					for b := uint64(lo) + uint64(w)*chunk*uint64(step); b <= uint64(hi) && err == nil; b += uint64(workers) * chunk * uint64(step) {
						src = src[:0]
						for c := b; c <= uint64(hi) && len(src) < chunk; c += uint64(step) {
							src = append(src, math.Float32frombits(uint32(c)))
						}
						ks.exp(dst, src)
						for i, x := range src {
							if want := float32(math.Exp(float64(x))); math.Float32bits(dst[i]) != math.Float32bits(want) {
								err = fmt.Errorf("%s: exp(%g = %#08x) = %g, want %g", ks, x, math.Float32bits(x), dst[i], want)
								break
							}
						}
					}
					errs <- err
				}()
			}
			for range workers {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		}
	}
}

func BenchmarkExp32s(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	src := make([]float32, 64)
	for i := range src {
		src[i] = float32(-r.ExpFloat64() * 5)
	}
	dst := make([]float32, len(src))
	for _, ks := range attnTestSets() {
		b.Run(ks.String(), func(b *testing.B) {
			for b.Loop() {
				ks.exp(dst, src)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(src)), "ns/value")
		})
	}
}
