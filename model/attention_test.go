package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/joule-llm/joule/tensor"
)

// attendF16Ref is attendF16 transcribed as directly as possible from
// ggml's flash-attention loop and the AVX-512 vector steps of its fp16 dot
// product, one rounding per operation, as the oracle for the faster loop.
func attendF16Ref(out, q []float32, keys, vals []uint16, kStride, vStride, n int, scale float32) {
	r := func(f float32) float32 { return tensor.FP16ToFloat32(tensor.Float32ToFP16(f)) }
	h := tensor.FP16ToFloat32
	qh := make([]float32, len(q))
	for d := range q {
		qh[d] = r(q[d])
	}
	dot := func(k []uint16) float32 {
		var sum float64
		np := len(qh) / 64 * 64
		if np > 0 {
			var x [4][16]float32 // four zmm registers
			for i := 0; i < np; i += 64 {
				for j := range 4 {
					for l := range 16 {
						x[j][l] = float32(math.FMA(float64(qh[i+16*j+l]), float64(h(k[i+16*j+l])), float64(x[j][l])))
					}
				}
			}
			for l := range 16 { // GGML_F32x16_REDUCE
				x[0][l] += x[2][l]
				x[1][l] += x[3][l]
			}
			for l := range 16 {
				x[0][l] += x[1][l]
			}
			var t3 [8]float32 // _mm512_reduce_add_ps
			for i := range 8 {
				t3[i] = x[0][8+i] + x[0][i]
			}
			var t6 [4]float32
			for i := range 4 {
				t6[i] = t3[4+i] + t3[i]
			}
			t8 := [2]float32{t6[0] + t6[2], t6[1] + t6[3]}
			sum = float64(t8[0] + t8[1])
		}
		for i := np; i < len(qh); i++ {
			sum += float64(qh[i] * h(k[i]))
		}
		return float32(sum)
	}
	acc := make([]float32, len(out))
	m := float32(math.Inf(-1))
	var sum float32
	for t := range n {
		s := dot(keys[t*kStride:]) * scale
		ms, vs := float32(1), float32(1)
		if s > m {
			ms = float32(math.Exp(float64(m - s)))
			m = s
			for d := range acc {
				acc[d] = r(acc[d] * ms)
			}
		} else {
			vs = float32(math.Exp(float64(s - m)))
		}
		for d := range acc {
			acc[d] = r(float32(math.FMA(float64(h(vals[t*vStride+d])), float64(vs), float64(acc[d]))))
		}
		sum = sum*ms + vs
	}
	for d := range out {
		out[d] = acc[d] * (1 / sum)
	}
}

func randomCache(r *rand.Rand, n, width int, scale float64) []uint16 {
	c := make([]uint16, n*width)
	for i := range c {
		c[i] = tensor.Float32ToFP16(float32(r.NormFloat64() * scale))
	}
	return c
}

// TestAttendF16 checks the attention loop bit for bit against the oracle,
// over head sizes, context lengths and value ranges that reach fp16
// subnormals.
func TestAttendF16(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, hd := range []int{8, 16, 64, 96, 128} {
		for _, n := range []int{1, 2, 7, 100, 300} {
			for _, vscale := range []float64{1, 1e-4, 30} {
				const heads = 2
				keys := randomCache(r, n, heads*hd, 1)
				vals := randomCache(r, n, heads*hd, vscale)
				q := make([]float32, hd)
				for i := range q {
					q[i] = float32(r.NormFloat64() * 2)
				}
				want := make([]float32, hd)
				attendF16Ref(want, q, keys[hd:], vals[hd:], heads*hd, heads*hd, n, 1/float32(math.Sqrt(float64(hd))))
				got := make([]float32, hd)
				attendF16(got, append([]float32(nil), q...), keys[hd:], vals[hd:], heads*hd, heads*hd, n, 1/float32(math.Sqrt(float64(hd))))
				for d := range want {
					if math.Float32bits(got[d]) != math.Float32bits(want[d]) {
						t.Fatalf("head %d, %d positions, values ~%g: out[%d] = %g, want %g", hd, n, vscale, d, got[d], want[d])
					}
				}
			}
		}
	}
}

func BenchmarkAttendF16(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const hd, n = 64, 512
	keys, vals := randomCache(r, n, hd, 1), randomCache(r, n, hd, 1)
	q := make([]float32, hd)
	for i := range q {
		q[i] = float32(r.NormFloat64())
	}
	out := make([]float32, hd)
	for b.Loop() {
		attendF16(out, q, keys, vals, hd, hd, n, 0.125)
	}
}
