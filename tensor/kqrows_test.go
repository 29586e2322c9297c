package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Tests of the k-quant multi-row kernels (kqRows) and of the Q5_K and
// BF16 dot products of every kernel set this build and CPU can run.

// q5KSteps is dotQ5_KQ8_KRef with every float step rounded on its own,
// as the accelerated kernels compute it.
func q5KSteps(w, x []byte, nb int) float32 {
	var sum float32
	for b := 0; b < nb; b++ {
		wb, xb := w[b*blockQ5_K:], x[b*blockQ8_K:]
		var isum, msum int32
		for j := 0; j < 8; j++ {
			sc, m := scaleMinK4(j, wb[4:16])
			var s int32
			for l := 0; l < 32; l++ {
				q := wb[48+32*(j/2)+l]
				if j%2 == 0 {
					q &= 0xf
				} else {
					q >>= 4
				}
				q |= (wb[16+l] >> j & 1) << 4
				s += int32(q) * int32(int8(xb[q8KQsOff+32*j+l]))
			}
			isum += int32(sc) * s
			msum += int32(m) * (q8KBsum(xb, 2*j) + q8KBsum(xb, 2*j+1))
		}
		xd := getF32(xb)
		d := float32(fp16(wb) * xd)
		dmin := float32(fp16(wb[2:]) * xd)
		sum = float32(sum + float32(d*float32(isum)))
		sum = float32(sum - float32(dmin*float32(msum)))
	}
	return sum
}

// kqCase fills nb blocks of weights of type t, or of Q8_K activations.
type kqCase struct {
	name    string
	weights func(r *rand.Rand, t Type, nb int) []byte
	acts    func(r *rand.Rand, nb int) []byte
}

// setQ8KSums recomputes the block sums of Q8_K blocks.
func setQ8KSums(x []byte) {
	for b := 0; b < len(x)/blockQ8_K; b++ {
		xb := x[b*blockQ8_K:]
		for j := 0; j < QK_K/16; j++ {
			var s int16
			for _, q := range xb[q8KQsOff+16*j : q8KQsOff+16*j+16] {
				s += int16(int8(q))
			}
			binary.LittleEndian.PutUint16(xb[q8KSumsOff+2*j:], uint16(s))
		}
	}
}

// fillKQuant makes nb blocks of t whose quant and scale bytes all come
// from pick and whose fp16 scales are d.
func fillKQuant(r *rand.Rand, t Type, nb int, d uint16, pick func() byte) []byte {
	w := make([]byte, nb*t.BlockBytes())
	for i := range w {
		w[i] = pick()
	}
	for b := 0; b < nb; b++ {
		wb := w[b*t.BlockBytes():]
		if t == Q6_K {
			putScale(wb[208:], d)
			continue
		}
		putScale(wb, d)
		putScale(wb[2:], d^0x8000)
	}
	return w
}

func fillQ8K(nb int, d float32, pick func() byte) []byte {
	x := make([]byte, nb*blockQ8_K)
	for b := 0; b < nb; b++ {
		putF32(x[b*blockQ8_K:], d)
		for i := 0; i < QK_K; i++ {
			x[b*blockQ8_K+q8KQsOff+i] = pick()
		}
	}
	setQ8KSums(x)
	return x
}

var kqCases = []kqCase{
	{"quantized",
		func(r *rand.Rand, t Type, nb int) []byte { return makeKQuant(r, t, nb, false) },
		func(r *rand.Rand, nb int) []byte { return makeQ8K(r, nb, false) }},
	{"random",
		func(r *rand.Rand, t Type, nb int) []byte { return makeKQuant(r, t, nb, true) },
		func(r *rand.Rand, nb int) []byte { return makeQ8K(r, nb, true) }},
	{"all equal",
		func(r *rand.Rand, t Type, nb int) []byte {
			return fillKQuant(r, t, nb, 0x3c00, func() byte { return 0x5a })
		},
		func(r *rand.Rand, nb int) []byte { return fillQ8K(nb, 0.5, func() byte { return 0x37 }) }},
	{"zeros",
		func(r *rand.Rand, t Type, nb int) []byte { return make([]byte, nb*t.BlockBytes()) },
		func(r *rand.Rand, nb int) []byte { return fillQ8K(nb, 0, func() byte { return 0 }) }},
	{"extremes",
		// Every quant, scale and min at the top or bottom of its range,
		// activations at -128 or 127, the largest fp16 scales: the
		// integer sums come closest to their limits.
		func(r *rand.Rand, t Type, nb int) []byte {
			return fillKQuant(r, t, nb, 0x7bff, func() byte { return []byte{0, 0xff}[r.IntN(2)] })
		},
		func(r *rand.Rand, nb int) []byte {
			return fillQ8K(nb, 1e-3, func() byte { return []byte{0x80, 0x7f}[r.IntN(2)] })
		}},
	{"same sign extremes",
		func(r *rand.Rand, t Type, nb int) []byte {
			return fillKQuant(r, t, nb, 0x7bff, func() byte { return 0xff })
		},
		func(r *rand.Rand, nb int) []byte { return fillQ8K(nb, 1e-3, func() byte { return 0x80 }) }},
}

// kqDot returns the set's one-row dot product and the reference for t.
func kqDot(ks *kernelSet, t Type) (dot, ref func(w, x []byte, nb int) float32, rows *kqRows) {
	switch t {
	case Q4_K:
		return ks.dotQ4_KQ8_K, dotQ4_KQ8_KRef, &ks.q4_K
	case Q5_K:
		return orRef(ks.dotQ5_KQ8_K, dotQ5_KQ8_KRef), dotQ5_KQ8_KRef, &ks.q5_K
	}
	return ks.dotQ6_KQ8_K, dotQ6_KQ8_KRef, &ks.q6_K
}

func TestKernelSetsQ5_K(t *testing.T) {
	r := rand.New(rand.NewPCG(80, 81))
	for _, ks := range testKernelSets() {
		for _, c := range kqCases {
			for _, nb := range []int{1, 2, 3, 8} {
				name := fmt.Sprintf("%s/%s/nb=%d", ks.name, c.name, nb)
				w := c.weights(r, Q5_K, nb)
				x := c.acts(r, nb)
				w = append(make([]byte, 1, len(w)+1), w...)[1:]
				got := orRef(ks.dotQ5_KQ8_K, dotQ5_KQ8_KRef)(w, x, nb)
				want := dotQ5_KQ8_KRef(w, x, nb)
				if d := math.Abs(float64(got) - float64(want)); !(d <= dotBound(Q5_K, w, x, nb)) {
					t.Errorf("%s: got %v, reference %v", name, got, want)
				}
				if ks.name == refKernels.name {
					continue
				}
				if m := q5KSteps(w, x, nb); math.Float32bits(got) != math.Float32bits(m) {
					t.Errorf("%s: got %v, want %v bit for bit", name, got, m)
				}
			}
		}
	}
}

// TestKernelSetsKQRows checks the k-quant four-row and tile kernels: each
// output equals the set's one-row dot product bit for bit, with padded
// strides and unaligned data.
func TestKernelSetsKQRows(t *testing.T) {
	r := rand.New(rand.NewPCG(82, 83))
	for _, ks := range testKernelSets() {
		for _, wt := range []Type{Q4_K, Q5_K, Q6_K} {
			dot, _, k := kqDot(&ks, wt)
			if k.rows4 == nil {
				continue
			}
			for _, c := range kqCases {
				for _, nb := range []int{1, 2, 3, 5} {
					name := fmt.Sprintf("%s/%v/%s/nb=%d", ks.name, wt, c.name, nb)
					rb := nb * wt.BlockBytes()
					wstride, xstride := rb+5, nb*blockQ8_K+7
					w := make([]byte, 1+4*wstride)[1:]
					x := make([]byte, 2+4*xstride)[2:]
					for i := 0; i < 4; i++ {
						copy(w[i*wstride:], c.weights(r, wt, nb))
						copy(x[i*xstride:], c.acts(r, nb))
					}
					var want [16]float32
					for i := 0; i < 4; i++ {
						for j := 0; j < 4; j++ {
							want[4*i+j] = dot(w[j*wstride:], x[i*xstride:], nb)
						}
					}
					xp := x
					if k.permute != nil {
						xp = make([]byte, 3+4*xstride)[3:]
						for i := 0; i < 4; i++ {
							k.permute(xp[i*xstride:], x[i*xstride:], nb)
						}
					}
					for i := 0; i < 4; i++ {
						out := make([]float32, 4)
						k.rows4(out, w, wstride, xp[i*xstride:], nb)
						for j, v := range out {
							if math.Float32bits(v) != math.Float32bits(want[4*i+j]) {
								t.Errorf("%s: rows4 token %d row %d = %v, dot product %v", name, i, j, v, want[4*i+j])
							}
						}
					}
					// Three groups of four rows in one call: rows 4-11 repeat
					// rows 0-3 in reverse and forward order.
					w12 := make([]byte, 1+12*wstride)[1:]
					for i := 0; i < 12; i++ {
						src := i % 4
						if i >= 4 && i < 8 {
							src = 3 - src
						}
						copy(w12[i*wstride:(i+1)*wstride], w[src*wstride:])
					}
					out12 := make([]float32, 13)
					out12[12] = -1
					k.rows4(out12[:12], w12, wstride, xp[xstride:], nb)
					for i, v := range out12[:12] {
						src := i % 4
						if i >= 4 && i < 8 {
							src = 3 - src
						}
						if math.Float32bits(v) != math.Float32bits(want[4+src]) {
							t.Errorf("%s: rows4 over 12 rows: row %d = %v, dot product %v", name, i, v, want[4+src])
						}
					}
					if out12[12] != -1 {
						t.Errorf("%s: rows4 wrote past its rows", name)
					}
					if k.tile4 == nil {
						continue
					}
					const ostride = 6
					out := make([]float32, 3*ostride+4+1)
					for i := range out {
						out[i] = -1
					}
					k.tile4(out, ostride, w, wstride, xp, xstride, nb)
					for i := 0; i < 4; i++ {
						for j := 0; j < 4; j++ {
							if v := out[i*ostride+j]; math.Float32bits(v) != math.Float32bits(want[4*i+j]) {
								t.Errorf("%s: tile4 token %d row %d = %v, dot product %v", name, i, j, v, want[4*i+j])
							}
						}
						if i < 3 && (out[i*ostride+4] != -1 || out[i*ostride+5] != -1) {
							t.Errorf("%s: tile4 wrote between output rows", name)
						}
					}
					if out[len(out)-1] != -1 {
						t.Errorf("%s: tile4 wrote past its tile", name)
					}
				}
			}
		}
	}
}

// TestKernelSetsKQTile8 checks the 4×8 tile kernels against the set's
// one-row dot product, bit for bit, with padded strides, unaligned data
// and an output stride wider than the tile.
func TestKernelSetsKQTile8(t *testing.T) {
	r := rand.New(rand.NewPCG(92, 93))
	for _, ks := range testKernelSets() {
		for _, wt := range []Type{Q4_K, Q5_K, Q6_K} {
			dot, _, k := kqDot(&ks, wt)
			if k.tile8 == nil {
				continue
			}
			for _, c := range kqCases {
				for _, nb := range []int{1, 2, 3, 5} {
					name := fmt.Sprintf("%s/%v/%s/nb=%d", ks.name, wt, c.name, nb)
					wstride, xstride := nb*wt.BlockBytes()+9, nb*blockQ8_K+3
					w := make([]byte, 1+4*wstride)[1:]
					x := make([]byte, 2+8*xstride)[2:]
					for i := 0; i < 4; i++ {
						copy(w[i*wstride:], c.weights(r, wt, nb))
					}
					for i := 0; i < 8; i++ {
						copy(x[i*xstride:], c.acts(r, nb))
					}
					xp := x
					if k.permute != nil {
						xp = make([]byte, 3+8*xstride)[3:]
						for i := 0; i < 8; i++ {
							k.permute(xp[i*xstride:], x[i*xstride:], nb)
						}
					}
					const ostride = 7
					out := make([]float32, 7*ostride+4+1)
					for i := range out {
						out[i] = -1
					}
					k.tile8(out, ostride, w, wstride, xp, xstride, nb)
					for i := 0; i < 8; i++ {
						for j := 0; j < 4; j++ {
							want := dot(w[j*wstride:], x[i*xstride:], nb)
							if v := out[i*ostride+j]; math.Float32bits(v) != math.Float32bits(want) {
								t.Errorf("%s: tile8 token %d row %d = %v, dot product %v", name, i, j, v, want)
							}
						}
						for j := 4; i < 7 && j < ostride; j++ {
							if out[i*ostride+j] != -1 {
								t.Errorf("%s: tile8 wrote between output rows", name)
							}
						}
					}
					if out[len(out)-1] != -1 {
						t.Errorf("%s: tile8 wrote past its tile", name)
					}
				}
			}
		}
	}
}

func TestPermuteQ8K(t *testing.T) {
	r := rand.New(rand.NewPCG(84, 85))
	const nb = 3
	x := makeQ8K(r, nb, true)
	for _, ks := range testKernelSets() {
		for _, k := range []*kqRows{&ks.q4_K, &ks.q5_K, &ks.q6_K} {
			if k.permute == nil {
				continue
			}
			p := make([]byte, len(x))
			k.permute(p, x, nb)
			for b := 0; b < nb; b++ {
				xb, pb := x[b*blockQ8_K:], p[b*blockQ8_K:]
				if string(pb[:4]) != string(xb[:4]) || string(pb[q8KSumsOff:blockQ8_K]) != string(xb[q8KSumsOff:blockQ8_K]) {
					t.Fatalf("%s: block %d: scale or sums moved", ks.name, b)
				}
				for i, sub := range []int{0, 2, 1, 3, 4, 6, 5, 7} {
					if string(pb[4+32*i:4+32*i+32]) != string(xb[4+32*sub:4+32*sub+32]) {
						t.Fatalf("%s: block %d: position %d does not hold sub-block %d", ks.name, b, i, sub)
					}
				}
			}
		}
	}
}

// TestKernelSetsMatMulKQ runs MatMul on k-quant and BF16 weights with
// every set, on row counts and token counts that exercise the tiles, the
// four-row kernels and the leftovers, with one and two threads. Each
// k-quant output must equal the set's one-row dot product of its row and
// token bit for bit (so the sets agree with each other); BF16 outputs
// must agree with the reference up to rounding.
func TestKernelSetsMatMulKQ(t *testing.T) {
	r := rand.New(rand.NewPCG(86, 87))
	p := NewPool(2)
	defer p.Close()
	for _, ty := range []Type{Q4_K, Q5_K, Q6_K, BF16} {
		for _, rows := range []int{1, 4, 5, 9, 17} {
			cols := QK_K * (1 + rows%3)
			w, _ := randomMatrix(t, r, ty, rows, cols)
			for n := 1; n <= 17; n++ {
				name := fmt.Sprintf("%v/%dx%d/n=%d", ty, rows, cols, n)
				x := make([]float32, n*cols)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				ref := make([]float32, n*rows)
				matMul(nil, ref, w, x, n, &refKernels)
				xq := make([]byte, n*cols/QK_K*blockQ8_K)
				if ty != BF16 {
					for i := 0; i < n; i++ {
						quantizeQ8_K(xq[i*len(xq)/n:(i+1)*len(xq)/n], x[i*cols:(i+1)*cols])
					}
				}
				for _, ks := range testKernelSets() {
					for _, pool := range []*Pool{nil, p} {
						out := matMulNearRef(t, name, pool, w, x, n, &ks, ref)
						if ty == BF16 {
							continue
						}
						dot, _, _ := kqDot(&ks, ty)
						nb, xrow := cols/QK_K, len(xq)/n
						for i := 0; i < n; i++ {
							for j := 0; j < rows; j++ {
								want := dot(w.Row(j), xq[i*xrow:(i+1)*xrow], nb)
								if got := out[i*rows+j]; math.Float32bits(got) != math.Float32bits(want) {
									t.Errorf("%s %s: token %d row %d = %v, dot product %v", name, ks.name, i, j, got, want)
								}
							}
						}
					}
				}
			}
		}
	}
}

func TestKernelSetsBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(88, 89))
	for _, ks := range testKernelSets() {
		dot := orRef(ks.dotBF16, dotBF16Ref)
		for _, n := range []int{0, 1, 31, 32, 33, 127, 128, 129, 300, 4096} {
			for _, kind := range []string{"gaussian", "wide", "tiny"} {
				w := make([]float32, n)
				x := make([]float32, n)
				for i := range w {
					w[i], x[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
					switch kind {
					case "wide":
						w[i] *= float32(math.Pow(2, float64(r.IntN(60)-30)))
					case "tiny":
						// Products near and below the smallest normal
						// float32, where VDPBF16PS flushes to zero.
						w[i] *= 0x1p-70
						x[i] *= 0x1p-60
					}
				}
				wb, _ := Quantize(BF16, w)
				xb, _ := Quantize(BF16, x)
				var mag float64
				for i := 0; i < n; i++ {
					a := float64(BF16ToFloat32(uint16(wb[2*i]) | uint16(wb[2*i+1])<<8))
					b := float64(BF16ToFloat32(uint16(xb[2*i]) | uint16(xb[2*i+1])<<8))
					mag += math.Abs(a * b)
				}
				// Summing n terms in another order moves the result by at
				// most about n float32 roundings of the sum of |terms|;
				// flushing subnormals by at most n times the smallest
				// normal float32.
				tol := float64(n+8)/(1<<24)*mag + float64(n)*0x1p-126
				got, want := dot(wb, xb, n), dotBF16Ref(wb, xb, n)
				if d := math.Abs(float64(got) - float64(want)); !(d <= tol) {
					t.Errorf("%s: BF16 %s n=%d: got %v, reference %v (tolerance %g)", ks.name, kind, n, got, want, tol)
				}
			}
		}
	}
}

// BenchmarkKQRowKernels measures the k-quant multi-row kernels on
// 4096-element rows, per row-block (one row, one token, one 256-element
// block) or pair-block (a row and a token) computed.
func BenchmarkKQRowKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(90, 91))
	const nb = 16
	for _, ks := range testKernelSets() {
		for _, wt := range []Type{Q4_K, Q5_K, Q6_K} {
			_, _, k := kqDot(&ks, wt)
			if k.rows4 == nil {
				continue
			}
			ws, xs := nb*wt.BlockBytes(), nb*blockQ8_K
			w := makeKQuant(r, wt, 4*nb, false)
			x := makeQ8K(r, 4*nb, false)
			out := make([]float32, 32)
			b.Run(fmt.Sprintf("%s/%v/rows4", ks.name, wt), func(b *testing.B) {
				for b.Loop() {
					k.rows4(out[:4], w, ws, x, nb)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(4*nb), "ns/rowblock")
			})
			if k.tile4 != nil {
				b.Run(fmt.Sprintf("%s/%v/tile4", ks.name, wt), func(b *testing.B) {
					for b.Loop() {
						k.tile4(out, 4, w, ws, x, xs, nb)
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(16*nb), "ns/pairblock")
				})
			}
			if k.tile8 != nil {
				x8 := makeQ8K(r, 8*nb, false)
				b.Run(fmt.Sprintf("%s/%v/tile8", ks.name, wt), func(b *testing.B) {
					for b.Loop() {
						k.tile8(out, 4, w, ws, x8, xs, nb)
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(32*nb), "ns/pairblock")
				})
			}
			dot, _, _ := kqDot(&ks, wt)
			b.Run(fmt.Sprintf("%s/%v/dot", ks.name, wt), func(b *testing.B) {
				var s float32
				for b.Loop() {
					s += dot(w, x, nb)
				}
				_ = s
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/nb, "ns/rowblock")
			})
		}
	}
}
