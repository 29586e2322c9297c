package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// Tests of the kernel sets (cpu.go) against the references and against
// models of the float arithmetic of llama.cpp's x86 kernels, which the
// accelerated sets must reproduce bit for bit. testKernelSets (in
// simd_*_test.go) lists every set this build and CPU can run.

// TestFMA32 checks fusedMulAdd32, which the test oracles use for
// VFMADD231PS, rounds once.
func TestFMA32(t *testing.T) {
	for _, tc := range []struct{ a, b, c, want float32 }{
		{2, 3, 4, 10},
		{1.5, 1.5, 0, 2.25},
		{0, 5, -1, -1},
		// 1+2^-23 squared is 1+2^-22+2^-46: a separate multiply drops
		// the 2^-46, the fused one keeps it for the subtraction.
		{1 + 0x1p-23, 1 + 0x1p-23, -1, 0x1p-22 + 0x1p-46},
		// (2^-24 + 2^-47)(1 - 2^-23) = 2^-24 - 2^-70. The cases below
		// round the float64 sum to a midpoint between two float32 values
		// (1+3*2^-24, -(1+2^-24), -(1+3*2^-24)), where rounding it again
		// would tie to even; the exact sum lies off the midpoint.
		{0x1p-24 + 0x1p-47, 1 - 0x1p-23, 1 + 0x1p-23, 1 + 0x1p-23},
		{0x1p-24 + 0x1p-47, 1 - 0x1p-23, -1 - 0x1p-23, -1 - 0x1p-23},
		{-0x1p-24 - 0x1p-47, 1 - 0x1p-23, -1 - 0x1p-23, -1 - 0x1p-23},
	} {
		if got := fusedMulAdd32(tc.a, tc.b, tc.c); got != tc.want {
			t.Errorf("fusedMulAdd32(%g, %g, %g) = %g, want %g", tc.a, tc.b, tc.c, got, tc.want)
		}
	}
}

// llamaDotQ8_0 is the arithmetic of llama.cpp's x86 Q8_0×Q8_0 kernels
// (ggml_vec_dot_q8_0_q8_0 for one token, tinyBLAS for several).
func llamaDotQ8_0(w, x []byte, nb int) float32 {
	var acc [8]float32
	for b := 0; b < nb; b++ {
		wb, xb := w[b*blockQ8_0:], x[b*blockQ8_0:]
		d := float32(fp16(wb) * fp16(xb))
		for k := range acc {
			var s int32
			for j := 2 + 4*k; j < 6+4*k; j++ {
				s += int32(int8(wb[j])) * int32(int8(xb[j]))
			}
			acc[k] = fusedMulAdd32(d, float32(s), acc[k])
		}
	}
	return hsumLanes(&acc)
}

// llamaDotQ4_0 is the arithmetic of llama.cpp's repacked Q4_0 kernels on
// x86 (ggml_gemv/gemm_q4_0_8x8_q8_0): one fused multiply-add per block.
func llamaDotQ4_0(w, x []byte, nb int) float32 {
	var acc float32
	for b := 0; b < nb; b++ {
		wb, xb := w[b*blockQ4_0:], x[b*blockQ8_0:]
		var s int32
		for j := 0; j < 16; j++ {
			s += (int32(wb[2+j]&0xf) - 8) * int32(int8(xb[2+j]))
			s += (int32(wb[2+j]>>4) - 8) * int32(int8(xb[18+j]))
		}
		acc = fusedMulAdd32(float32(s), float32(fp16(wb)*fp16(xb)), acc)
	}
	return acc
}

// dotBound is the size of the float rounding a dot product may differ by
// when its terms are summed in another order: a tight relative tolerance
// times the sum of |terms|, with the block sums exact. x is Q8_0 blocks,
// or Q8_K for the k-quants.
func dotBound(wt Type, w, x []byte, nb int) float64 {
	var mag float64
	xt := Q8_0
	if wt.BlockSize() == QK_K {
		xt = Q8_K
	}
	wv := make([]float32, nb*wt.BlockSize())
	xv := make([]float32, nb*wt.BlockSize())
	if err := Dequantize(wt, w[:nb*wt.BlockBytes()], wv); err != nil {
		panic(err)
	}
	if err := Dequantize(xt, x[:nb*xt.BlockBytes()], xv); err != nil {
		panic(err)
	}
	for i := range wv {
		mag += math.Abs(float64(wv[i]) * float64(xv[i]))
	}
	return 1e-5*mag + 1e-30
}

// q8Case is a set of blocks to test the Q4_0 and Q8_0 kernels on.
type q8Case struct {
	name string
	fill func(r *rand.Rand, b []byte, t Type, weights bool) // fills one block
}

func putScale(b []byte, h uint16) { binary.LittleEndian.PutUint16(b, h) }

// randomScale is a finite fp16 scale of either sign over a wide range.
func randomScale(r *rand.Rand) uint16 {
	for {
		h := uint16(r.Uint32())
		if h&0x7c00 != 0x7c00 {
			return h
		}
	}
}

var q8Cases = []q8Case{
	{"random", func(r *rand.Rand, b []byte, t Type, weights bool) {
		putScale(b, randomScale(r))
		for i := 2; i < len(b); i++ {
			b[i] = byte(r.Uint32())
			if !weights && b[i] == 0x80 {
				b[i] = 0x81 // activations stay in [-127, 127]
			}
		}
	}},
	{"zeros", func(r *rand.Rand, b []byte, t Type, weights bool) { clear(b) }},
	{"zero scales", func(r *rand.Rand, b []byte, t Type, weights bool) {
		putScale(b, 0)
		for i := 2; i < len(b); i++ {
			b[i] = byte(r.Uint32() | 1)
		}
	}},
	{"all equal", func(r *rand.Rand, b []byte, t Type, weights bool) {
		putScale(b, 0x3c00)
		for i := 2; i < len(b); i++ {
			b[i] = 0x37
		}
	}},
	{"extremes", func(r *rand.Rand, b []byte, t Type, weights bool) {
		// The largest fp16 scale and quants at the ends of their range:
		// weights -128/127 (Q4_0 nibbles 0/15), activations -127/127.
		putScale(b, 0x7bff|uint16(r.IntN(2))<<15)
		for i := 2; i < len(b); i++ {
			switch {
			case t == Q4_0:
				b[i] = []byte{0x00, 0xff, 0x0f, 0xf0}[r.IntN(4)]
			case weights:
				b[i] = []byte{0x80, 0x7f}[r.IntN(2)]
			default:
				b[i] = []byte{0x81, 0x7f}[r.IntN(2)]
			}
		}
	}},
	{"same sign extremes", func(r *rand.Rand, b []byte, t Type, weights bool) {
		putScale(b, 0x7bff)
		for i := 2; i < len(b); i++ {
			switch {
			case t == Q4_0:
				b[i] = 0
			case weights:
				b[i] = 0x80
			default:
				b[i] = 0x81
			}
		}
	}},
	{"tiny scales", func(r *rand.Rand, b []byte, t Type, weights bool) {
		putScale(b, uint16(1+r.IntN(0x400))) // subnormal fp16
		for i := 2; i < len(b); i++ {
			b[i] = byte(r.Uint32() | 1)
		}
	}},
}

// q8Rows makes rows rows of nb blocks of type t, wstride bytes apart, at
// byte offset off of the returned buffer (to test unaligned data).
func makeQ8Rows(r *rand.Rand, c q8Case, t Type, rows, nb, stride, off int, weights bool) []byte {
	buf := make([]byte, off+rows*stride)
	for i := range buf {
		buf[i] = 0xa5 // padding that would show if it were read
	}
	rb := buf[off:]
	bb := t.BlockBytes()
	for i := 0; i < rows; i++ {
		for b := 0; b < nb; b++ {
			c.fill(r, rb[i*stride+b*bb:i*stride+(b+1)*bb], t, weights)
		}
	}
	return rb
}

// scalesOf returns the block scales of a row of Q8_0 blocks as float32.
func scalesOf(x []byte, nb int) []float32 {
	d := make([]float32, nb)
	for b := range d {
		d[b] = fp16(x[b*blockQ8_0:])
	}
	return d
}

var q8BlockCounts = []int{1, 2, 3, 7, 64, 65}

func TestKernelSetsDots(t *testing.T) {
	r := rand.New(rand.NewPCG(60, 61))
	for _, ks := range testKernelSets() {
		for _, wt := range []Type{Q4_0, Q8_0} {
			dot, ref, model := ks.dotQ8_0Q8_0, dotQ8_0Q8_0Ref, llamaDotQ8_0
			if wt == Q4_0 {
				dot, ref, model = ks.dotQ4_0Q8_0, dotQ4_0Q8_0Ref, llamaDotQ4_0
			}
			for _, c := range q8Cases {
				for _, nb := range q8BlockCounts {
					for off := 0; off < 4; off += 3 {
						name := fmt.Sprintf("%s/%v/%s/nb=%d/off=%d", ks.name, wt, c.name, nb, off)
						w := makeQ8Rows(r, c, wt, 1, nb, nb*wt.BlockBytes(), off, true)
						x := makeQ8Rows(r, c, Q8_0, 1, nb, nb*blockQ8_0, 3-off, false)
						got := dot(w, x, nb)
						want := ref(w, x, nb)
						if d := math.Abs(float64(got) - float64(want)); !(d <= dotBound(wt, w, x, nb)) {
							t.Errorf("%s: got %v, reference %v", name, got, want)
						}
						if ks.name == refKernels.name {
							continue
						}
						if m := model(w, x, nb); math.Float32bits(got) != math.Float32bits(m) {
							t.Errorf("%s: got %v, llama.cpp's arithmetic gives %v", name, got, m)
						}
					}
				}
			}
		}
	}
}

// llamaDotQ4_K is the arithmetic of llama.cpp's repacked Q4_K kernels on
// x86: two fused chains per row, for the scaled sums and for the mins.
func llamaDotQ4_K(w, x []byte, nb int) float32 {
	var acc, accm float32
	for b := 0; b < nb; b++ {
		wb, xb := w[b*blockQ4_K:], x[b*blockQ8_K:]
		var isum, msum int32
		for j := 0; j < 8; j++ {
			sc, m := scaleMinK4(j, wb[4:16])
			var s int32
			for l := 0; l < 32; l++ {
				q := wb[16+32*(j/2)+l]
				if j%2 == 0 {
					q &= 0xf
				} else {
					q >>= 4
				}
				s += int32(q) * int32(int8(xb[q8KQsOff+32*j+l]))
			}
			isum += int32(sc) * s
			msum += int32(m) * (q8KBsum(xb, 2*j) + q8KBsum(xb, 2*j+1))
		}
		xd := getF32(xb)
		acc = fusedMulAdd32(float32(isum), float32(fp16(wb)*xd), acc)
		accm = fusedMulAdd32(float32(msum), float32(fp16(wb[2:])*xd), accm)
	}
	return acc - accm
}

// q6KSteps is dotQ6_KQ8_KRef with every float step rounded on its own
// (no fused multiply-add, whatever the compiler may do to the reference).
func q6KSteps(w, x []byte, nb int) float32 {
	var sum float32
	for b := 0; b < nb; b++ {
		wb, xb := w[b*blockQ6_K:], x[b*blockQ8_K:]
		var isum int32
		for e := 0; e < QK_K; e++ {
			h, p := e/128, e%128
			l, quarter := p%32, p/32
			ql := wb[64*h+l+32*(quarter%2)]
			if quarter >= 2 {
				ql >>= 4
			}
			q := int32(ql&0xf|(wb[128+32*h+l]>>(2*quarter)&3)<<4) - 32
			sc := int32(int8(wb[192+e/16]))
			isum += sc * q * int32(int8(xb[q8KQsOff+e]))
		}
		d := float32(fp16(wb[208:]) * getF32(xb))
		sum = sum + float32(d*float32(isum))
	}
	return sum
}

// makeQ8K returns nb Q8_K blocks: quantized Gaussian activations, or
// random quants over the whole int8 range with consistent block sums.
func makeQ8K(r *rand.Rand, nb int, random bool) []byte {
	x := make([]byte, nb*blockQ8_K)
	if !random {
		quantizeQ8_K(x, testVector(r, "gaussian", nb*QK_K))
		return x
	}
	for b := 0; b < nb; b++ {
		xb := x[b*blockQ8_K:]
		putF32(xb, float32(r.NormFloat64())*0.01)
		for i := 0; i < QK_K; i++ {
			xb[q8KQsOff+i] = byte(r.Uint32())
		}
	}
	setQ8KSums(x)
	return x
}

// makeKQuant returns nb blocks of t: quantized Gaussian weights, or random
// bytes with finite scales.
func makeKQuant(r *rand.Rand, t Type, nb int, random bool) []byte {
	if !random {
		w, err := Quantize(t, testVector(r, "gaussian", nb*QK_K))
		if err != nil {
			panic(err)
		}
		return w
	}
	w := make([]byte, nb*t.BlockBytes())
	for i := range w {
		w[i] = byte(r.Uint32())
	}
	for b := 0; b < nb; b++ {
		wb := w[b*t.BlockBytes():]
		if t == Q6_K {
			putScale(wb[208:], randomScale(r)&0xbfff) // |d| < 2
			continue
		}
		putScale(wb, randomScale(r)&0xbfff)
		putScale(wb[2:], randomScale(r)&0xbfff)
	}
	return w
}

func TestKernelSetsKQuants(t *testing.T) {
	r := rand.New(rand.NewPCG(76, 77))
	for _, ks := range testKernelSets() {
		for _, wt := range []Type{Q4_K, Q6_K} {
			dot, ref, model := ks.dotQ4_KQ8_K, dotQ4_KQ8_KRef, llamaDotQ4_K
			if wt == Q6_K {
				dot, ref, model = ks.dotQ6_KQ8_K, dotQ6_KQ8_KRef, q6KSteps
			}
			for _, nb := range []int{1, 2, 3, 8} {
				for _, random := range []bool{false, true} {
					name := fmt.Sprintf("%s/%v/nb=%d/random=%v", ks.name, wt, nb, random)
					w := makeKQuant(r, wt, nb, random)
					x := makeQ8K(r, nb, random)
					// Unaligned copies.
					w = append(make([]byte, 1, len(w)+1), w...)[1:]
					x = append(make([]byte, 3, len(x)+3), x...)[3:]
					got, want := dot(w, x, nb), ref(w, x, nb)
					wv := make([]float32, nb*QK_K)
					xv := make([]float32, nb*QK_K)
					if err := Dequantize(wt, w, wv); err != nil {
						t.Fatal(err)
					}
					if err := Dequantize(Q8_K, x, xv); err != nil {
						t.Fatal(err)
					}
					var mag float64
					for i := range wv {
						mag += math.Abs(float64(wv[i]) * float64(xv[i]))
					}
					if d := math.Abs(float64(got) - float64(want)); !(d <= 1e-5*mag+1e-30) {
						t.Errorf("%s: got %v, reference %v", name, got, want)
					}
					if ks.name == refKernels.name {
						continue
					}
					if m := model(w, x, nb); math.Float32bits(got) != math.Float32bits(m) {
						t.Errorf("%s: got %v, want %v bit for bit", name, got, m)
					}
				}
			}
		}
	}
}

// TestKernelSetsRows checks the multi-row kernels: each output equals the
// set's one-row dot product bit for bit, with padded rows and unaligned
// data.
func TestKernelSetsRows(t *testing.T) {
	r := rand.New(rand.NewPCG(62, 63))
	for _, ks := range testKernelSets() {
		for _, wt := range []Type{Q4_0, Q8_0} {
			k, dot := ks.q8_0, ks.dotQ8_0Q8_0
			if wt == Q4_0 {
				k, dot = ks.q4_0, ks.dotQ4_0Q8_0
			}
			if k.rows4 == nil {
				continue
			}
			for _, c := range q8Cases {
				for _, nb := range q8BlockCounts {
					name := fmt.Sprintf("%s/%v/%s/nb=%d", ks.name, wt, c.name, nb)
					wstride := nb*wt.BlockBytes() + 5
					xstride := nb*blockQ8_0 + 7
					w := makeQ8Rows(r, c, wt, 4, nb, wstride, 1, true)
					x := makeQ8Rows(r, c, Q8_0, 4, nb, xstride, 2, false)
					dx := make([]float32, 4*nb)
					for i := 0; i < 4; i++ {
						copy(dx[i*nb:], scalesOf(x[i*xstride:], nb))
					}
					var want [16]float32
					for i := 0; i < 4; i++ {
						for j := 0; j < 4; j++ {
							want[4*i+j] = dot(w[j*wstride:], x[i*xstride:], nb)
						}
					}
					for i := 0; i < 4; i++ {
						out := make([]float32, 4)
						k.rows4(out, w, wstride, x[i*xstride:], dx[i*nb:], nb)
						for j, v := range out {
							if math.Float32bits(v) != math.Float32bits(want[4*i+j]) {
								t.Errorf("%s: rows4 token %d row %d = %v, dot product %v", name, i, j, v, want[4*i+j])
							}
						}
					}
					if k.tile4 != nil {
						const ostride = 6
						out := make([]float32, 3*ostride+4)
						k.tile4(out, ostride, w, wstride, x, xstride, dx, nb)
						for i := 0; i < 4; i++ {
							for j := 0; j < 4; j++ {
								if v := out[i*ostride+j]; math.Float32bits(v) != math.Float32bits(want[4*i+j]) {
									t.Errorf("%s: tile4 token %d row %d = %v, dot product %v", name, i, j, v, want[4*i+j])
								}
							}
						}
					}
					if k.rows8 != nil {
						testRows8(t, name, r, c, k, dot, nb)
					}
				}
			}
		}
	}
}

// testRows8 checks the eight-row Q4_0 kernels and the expanded activation
// layout they read against the one-row dot product.
func testRows8(t *testing.T, name string, r *rand.Rand, c q8Case, k q8Rows, dot func(w, x []byte, nb int) float32, nb int) {
	t.Helper()
	wstride := nb*blockQ4_0 + 3
	xstride := nb * blockQ8_0
	xxstride := nb*blockQ8_0X + 4
	w := makeQ8Rows(r, c, Q4_0, 8, nb, wstride, 1, true)
	x := makeQ8Rows(r, c, Q8_0, 8, nb, xstride, 0, false)
	xx := make([]byte, 1+8*xxstride)[1:]
	for i := 0; i < 8; i++ {
		k.expand(xx[i*xxstride:], x[i*xstride:], nb)
		for b := 0; b < nb; b++ {
			xb, eb := x[i*xstride+b*blockQ8_0:], xx[i*xxstride+b*blockQ8_0X:]
			var sum int32
			for _, q := range xb[2:34] {
				sum += int32(int8(q))
			}
			if getF32(eb) != fp16(xb) || int32(binary.LittleEndian.Uint32(eb[4:])) != -8*sum || string(eb[8:40]) != string(xb[2:34]) {
				t.Fatalf("%s: expanded block %d of token %d is wrong", name, b, i)
			}
		}
	}
	var want [64]float32
	for i := 0; i < 8; i++ {
		for j := 0; j < 8; j++ {
			want[8*i+j] = dot(w[j*wstride:], x[i*xstride:], nb)
		}
	}
	for i := 0; i < 8; i++ {
		out := make([]float32, 8)
		k.rows8(out, w, wstride, xx[i*xxstride:], nb)
		for j, v := range out {
			if math.Float32bits(v) != math.Float32bits(want[8*i+j]) {
				t.Errorf("%s: rows8 token %d row %d = %v, dot product %v", name, i, j, v, want[8*i+j])
			}
		}
	}
	if k.tile8 == nil {
		return
	}
	const ostride = 11
	out := make([]float32, 7*ostride+8)
	k.tile8(out, ostride, w, wstride, xx, xxstride, nb)
	for i := 0; i < 8; i++ {
		for j := 0; j < 8; j++ {
			if v := out[i*ostride+j]; math.Float32bits(v) != math.Float32bits(want[8*i+j]) {
				t.Errorf("%s: tile8 token %d row %d = %v, dot product %v", name, i, j, v, want[8*i+j])
			}
		}
	}
}

func TestKernelSetsQuantize(t *testing.T) {
	r := rand.New(rand.NewPCG(64, 65))
	inputs := map[string][]float32{}
	for _, n := range []int{32, 64, 96, 224, 2048, 2080} {
		inputs[fmt.Sprintf("gaussian/%d", n)] = testVector(r, "gaussian", n)
	}
	inputs["zeros"] = make([]float32, 96)
	eq := make([]float32, 64)
	for i := range eq {
		eq[i] = -3.25
	}
	inputs["equal"] = eq
	// Values whose scaled quants land exactly on .5, and huge and tiny
	// magnitudes.
	half := make([]float32, 64)
	for i := range half {
		half[i] = float32(i%32) - 15.5
	}
	half[0], half[32] = 127, -127
	inputs["halves"] = half
	wide := make([]float32, 128)
	for i := range wide {
		wide[i] = float32(r.NormFloat64()) * float32(math.Pow(10, float64(i%16)-8))
	}
	inputs["wide"] = wide
	for _, ks := range testKernelSets() {
		for name, x := range inputs {
			want := make([]byte, len(x)/32*blockQ8_0)
			quantizeQ8_0Act(want, x)
			for off := 0; off < 3; off++ {
				buf := make([]byte, len(want)+off+1)
				got := buf[off : off+len(want)]
				ks.quantQ8_0(got, x)
				if string(got) != string(want) {
					t.Errorf("%s/%s/off=%d: activation quantization differs from quantizeQ8_0Act", ks.name, name, off)
				}
				if buf[off+len(want)] != 0 {
					t.Errorf("%s/%s: wrote past the end", ks.name, name)
				}
			}
		}
	}
}

func TestKernelSetsFloatDots(t *testing.T) {
	r := rand.New(rand.NewPCG(66, 67))
	for _, ks := range testKernelSets() {
		for _, n := range []int{0, 1, 7, 8, 31, 32, 33, 100, 1000} {
			w := make([]float32, n)
			x := make([]float32, n)
			var mag float64
			for i := range w {
				w[i], x[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
				// fp16-exact values so that the F16 dot has the same terms.
				w[i] = FP16ToFloat32(Float32ToFP16(w[i]))
				x[i] = FP16ToFloat32(Float32ToFP16(x[i]))
				mag += math.Abs(float64(w[i]) * float64(x[i]))
			}
			tol := float64(n+8)/(1<<23)*mag + 1e-30
			wb, _ := Quantize(F32, w)
			got, want := ks.dotF32(wb, x), dotF32Ref(wb, x)
			if d := math.Abs(float64(got) - float64(want)); !(d <= tol) {
				t.Errorf("%s: F32 n=%d: got %v, reference %v", ks.name, n, got, want)
			}
			wh, _ := Quantize(F16, w)
			xh, _ := Quantize(F16, x)
			got = ks.dotF16(wh, xh, n)
			if d := math.Abs(float64(got) - float64(want)); !(d <= tol) {
				t.Errorf("%s: F16 n=%d: got %v, reference %v", ks.name, n, got, want)
			}
		}
	}
}

// TestKernelSetsMatMul runs MatMul with every set on shapes that exercise
// the tiles, the four-row kernels and the leftover rows and tokens, with
// one and two threads. Accelerated sets must agree with each other bit for
// bit and with the reference up to rounding.
func TestKernelSetsMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(68, 69))
	p := NewPool(2)
	defer p.Close()
	sets := testKernelSets()
	for _, ty := range []Type{Q4_0, Q8_0, F32, F16} {
		for _, shape := range [][3]int{{4, 32, 1}, {9, 64, 5}, {16, 256, 8}, {37, 96, 11}, {5, 0, 3}} {
			rows, cols, n := shape[0], shape[1], shape[2]
			name := fmt.Sprintf("%v/%dx%d/n=%d", ty, rows, cols, n)
			w, _ := randomMatrix(t, r, ty, rows, cols)
			x := make([]float32, n*cols)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			ref := make([]float32, n*rows)
			matMul(nil, ref, w, x, n, &refKernels)
			var fast []float32
			for _, ks := range sets {
				for _, pool := range []*Pool{nil, p} {
					out := matMulNearRef(t, name, pool, w, x, n, &ks, ref)
					if ks.name == refKernels.name || ty == F32 || ty == F16 {
						continue
					}
					if fast == nil {
						fast = out
						continue
					}
					for i := range out {
						if math.Float32bits(out[i]) != math.Float32bits(fast[i]) {
							t.Errorf("%s %s: out[%d] = %v, another set gives %v", name, ks.name, i, out[i], fast[i])
						}
					}
				}
			}
		}
	}
}

// BenchmarkDot measures the one-row dot products over a 2048-element row.
func BenchmarkDot(b *testing.B) {
	r := rand.New(rand.NewPCG(70, 71))
	const nb = 64
	for _, ks := range testKernelSets() {
		for _, wt := range []Type{Q4_0, Q8_0} {
			dot := ks.dotQ8_0Q8_0
			if wt == Q4_0 {
				dot = ks.dotQ4_0Q8_0
			}
			w := makeQ8Rows(r, q8Cases[0], wt, 1, nb, nb*wt.BlockBytes(), 0, true)
			x := makeQ8Rows(r, q8Cases[0], Q8_0, 1, nb, nb*blockQ8_0, 0, false)
			b.Run(fmt.Sprintf("%s/%v", ks.name, wt), func(b *testing.B) {
				b.SetBytes(int64(len(w)))
				var s float32
				for b.Loop() {
					s += dot(w, x, nb)
				}
				_ = s
				b.ReportMetric(float64(len(w))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}

// BenchmarkMatMul2048 multiplies a 2048×2048 matrix by n vectors with one
// and two threads, n=1 as in token generation and n=32 as in prompt
// processing. MB/s (b.SetBytes) and GB/s count weight bytes.
func BenchmarkMatMul2048(b *testing.B) {
	const rows, cols = 2048, 2048
	r := rand.New(rand.NewPCG(72, 73))
	for _, ty := range []Type{Q4_0, Q8_0} {
		w, _ := randomMatrix(b, r, ty, rows, cols)
		for _, n := range []int{1, 32} {
			x := make([]float32, n*cols)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			out := make([]float32, n*rows)
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%v/n=%d/t=%d", ty, n, threads), func(b *testing.B) {
					p := NewPool(threads)
					defer p.Close()
					b.SetBytes(int64(len(w.Data)))
					for b.Loop() {
						MatMul(p, out, w, x, n)
					}
					b.ReportMetric(float64(len(w.Data))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
				})
			}
		}
	}
}

// TestGoldenQ8Dots compares the Q4_0, Q8_0 and Q4_K dot products with the bits
// llama.cpp's x86 kernels produced for the same inputs
// (testdata/ggml_q8dots.c): the accelerated sets must match them exactly,
// through the one-row dot products and through MatMul; the reference only
// up to rounding.
func TestGoldenQ8Dots(t *testing.T) {
	const nr, nb, nt, n = 8, 64, 5, 64 * 32
	want := map[string]uint32{}
	data, err := os.ReadFile("testdata/ggml_q8dots.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		var ty string
		var tok, row int
		var bits uint32
		if _, err := fmt.Sscanf(line, "%s %d %d %x", &ty, &tok, &row, &bits); err != nil {
			t.Fatalf("ggml_q8dots.txt: %q: %v", line, err)
		}
		want[fmt.Sprintf("%s %d %d", ty, tok, row)] = bits
	}
	if len(want) != 3*nr*nt {
		t.Fatalf("ggml_q8dots.txt has %d values, want %d", len(want), 3*nr*nt)
	}

	// The generator of ggml_q8dots.c.
	state := uint64(88172645463325252)
	next := func() uint32 {
		state ^= state << 13
		state ^= state >> 7
		state ^= state << 17
		return uint32(state)
	}
	gauss := func() float32 {
		var s float32
		for range 6 {
			s += float32(next()&0xffff) / 65536
		}
		return s - 3
	}
	scale := func(base uint16) uint16 {
		mag := base + uint16(next()%0x1800)
		return mag | uint16(next()&1)<<15
	}
	w4 := make([]byte, nr*nb*blockQ4_0)
	w8 := make([]byte, nr*nb*blockQ8_0)
	for r := 0; r < nr; r++ {
		for b := 0; b < nb; b++ {
			b4 := w4[(r*nb+b)*blockQ4_0:]
			b8 := w8[(r*nb+b)*blockQ8_0:]
			putScale(b4, scale(0x2000))
			putScale(b8, scale(0x1c00))
			for j := 0; j < 16; j++ {
				b4[2+j] = byte(next())
			}
			for j := 0; j < 32; j++ {
				b8[2+j] = byte(next())
			}
		}
	}
	x := make([]float32, nt*n)
	for i := range x {
		x[i] = gauss() * float32(1+i%n%97)
	}
	xq := make([]byte, nt*nb*blockQ8_0)
	for tok := 0; tok < nt; tok++ {
		quantizeQ8_0Act(xq[tok*nb*blockQ8_0:(tok+1)*nb*blockQ8_0], x[tok*n:(tok+1)*n])
	}
	const nbk = n / QK_K
	wk := make([]byte, nr*nbk*blockQ4_K)
	for r := 0; r < nr; r++ {
		row := wk[r*nbk*blockQ4_K : (r+1)*nbk*blockQ4_K]
		for i := range row {
			row[i] = byte(next())
		}
		for b := 0; b < nbk; b++ {
			row[b*blockQ4_K+1] &= 0x3b
			row[b*blockQ4_K+3] &= 0x3b
		}
	}
	xk := make([]byte, nt*nbk*blockQ8_K)
	for tok := 0; tok < nt; tok++ {
		quantizeQ8_K(xk[tok*nbk*blockQ8_K:(tok+1)*nbk*blockQ8_K], x[tok*n:(tok+1)*n])
	}

	for _, ks := range testKernelSets() {
		for _, wt := range []Type{Q8_0, Q4_0, Q4_K} {
			w, dot, xt, xblocks := w8, ks.dotQ8_0Q8_0, xq, nb
			switch wt {
			case Q4_0:
				w, dot = w4, ks.dotQ4_0Q8_0
			case Q4_K:
				w, dot, xt, xblocks = wk, ks.dotQ4_KQ8_K, xk, nbk
			}
			rb := xblocks * wt.BlockBytes()
			xrb := len(xt) / nt
			out := make([]float32, nt*nr)
			matMul(nil, out, Matrix{Type: wt, Rows: nr, Cols: n, Data: w}, x, nt, &ks)
			for tok := 0; tok < nt; tok++ {
				for r := 0; r < nr; r++ {
					key := fmt.Sprintf("%s %d %d", strings.ToLower(wt.String()), tok, r)
					g := math.Float32frombits(want[key])
					d := dot(w[r*rb:], xt[tok*xrb:], xblocks)
					m := out[tok*nr+r]
					if ks.name == refKernels.name {
						bound := dotBound(wt, w[r*rb:], xt[tok*xrb:], xblocks)
						if math.Abs(float64(d-g)) > bound || math.Abs(float64(m-g)) > bound {
							t.Errorf("reference %s: dot %v, MatMul %v, ggml %v", key, d, m, g)
						}
						continue
					}
					if math.Float32bits(d) != want[key] || math.Float32bits(m) != want[key] {
						t.Errorf("%s %s: dot %v, MatMul %v, ggml %v", ks.name, key, d, m, g)
					}
				}
			}
		}
	}
}

// BenchmarkRowKernels measures the multi-row kernels of each accelerated
// set on 2048-element rows, per row-block (one row, one token, one block)
// or pair-block (a row and a token) computed.
func BenchmarkRowKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(74, 75))
	const nb = 64
	for _, ks := range testKernelSets()[1:] {
		for _, wt := range []Type{Q4_0, Q8_0} {
			k := ks.q8_0
			if wt == Q4_0 {
				k = ks.q4_0
			}
			ws := nb * wt.BlockBytes()
			w := makeQ8Rows(r, q8Cases[0], wt, 4, nb, ws, 0, true)
			x := makeQ8Rows(r, q8Cases[0], Q8_0, 4, nb, nb*34, 0, false)
			dx := make([]float32, 4*nb)
			out := make([]float32, 16)
			b.Run(fmt.Sprintf("%s/%v/rows4", ks.name, wt), func(b *testing.B) {
				for b.Loop() {
					k.rows4(out, w, ws, x, dx, nb)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(4*nb), "ns/rowblock")
			})
			if k.rows8 != nil {
				w8 := makeQ8Rows(r, q8Cases[0], wt, 8, nb, ws, 0, true)
				xx := make([]byte, 8*nb*40)
				for i := 0; i < 8; i++ {
					k.expand(xx[i*nb*40:], makeQ8Rows(r, q8Cases[0], Q8_0, 1, nb, nb*34, 0, false), nb)
				}
				out8 := make([]float32, 64)
				b.Run(fmt.Sprintf("%s/%v/rows8", ks.name, wt), func(b *testing.B) {
					for b.Loop() {
						k.rows8(out8, w8, ws, xx, nb)
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(8*nb), "ns/rowblock")
				})
				if k.tile8 != nil {
					b.Run(fmt.Sprintf("%s/%v/tile8", ks.name, wt), func(b *testing.B) {
						for b.Loop() {
							k.tile8(out8, 8, w8, ws, xx, nb*40, nb)
						}
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(64*nb), "ns/pairblock")
					})
				}
			}
			if k.tile4 != nil {
				b.Run(fmt.Sprintf("%s/%v/tile4", ks.name, wt), func(b *testing.B) {
					for b.Loop() {
						k.tile4(out, 4, w, ws, x, nb*34, dx, nb)
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(16*nb), "ns/pairblock")
				})
			}
		}
	}
}

// matMulNearRef runs matMul with ks on out filled with NaN, checks every
// output is within 1e-5 (relative) of ref, and returns out.
func matMulNearRef(t *testing.T, name string, pool *Pool, w Matrix, x []float32, n int, ks *kernelSet, ref []float32) []float32 {
	t.Helper()
	out := make([]float32, n*w.Rows)
	for i := range out {
		out[i] = float32(math.NaN())
	}
	matMul(pool, out, w, x, n, ks)
	for i := range out {
		if d := math.Abs(float64(out[i] - ref[i])); !(d <= 1e-5*(1+math.Abs(float64(ref[i])))) {
			t.Errorf("%s %s: out[%d] = %v, reference %v", name, ks.name, i, out[i], ref[i])
		}
	}
	return out
}
