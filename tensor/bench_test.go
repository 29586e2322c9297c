package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkMatMul multiplies a 1024×4096 matrix (the shape of a small
// model's projection) by n=1 vector, as in token generation, and by n=32 and 128,
// as in prompt processing, on a pool of GOMAXPROCS threads. GB/s counts
// weight bytes read per second (each MatMul reads the weights once), the
// measure for n=1; GFLOP/s counts 2·rows·cols·n operations per MatMul,
// the measure for n=32.
func BenchmarkMatMul(b *testing.B) {
	const rows, cols = 1024, 4096
	r := rand.New(rand.NewPCG(50, 51))
	p := NewPool(0)
	defer p.Close()
	for _, ty := range matmulTypes {
		w, _ := randomMatrix(b, r, ty, rows, cols)
		layouts := []struct {
			name string
			w    Matrix
		}{{"", w}}
		if pw := Pack(w); pw.Packed() {
			layouts = append(layouts, struct {
				name string
				w    Matrix
			}{"packed", pw})
		}
		for _, l := range layouts {
			for _, n := range []int{1, 32, 128} {
				name := fmt.Sprintf("%v/n=%d", ty, n)
				if l.name != "" {
					name = fmt.Sprintf("%v/%s/n=%d", ty, l.name, n)
				}
				b.Run(name, func(b *testing.B) {
					x := make([]float32, n*cols)
					for i := range x {
						x[i] = float32(r.NormFloat64())
					}
					out := make([]float32, n*rows)
					b.SetBytes(int64(len(l.w.Data)))
					b.ResetTimer()
					for b.Loop() {
						MatMul(p, out, l.w, x, n)
					}
					sec := b.Elapsed().Seconds()
					b.ReportMetric(float64(len(l.w.Data))*float64(b.N)/sec/1e9, "GB/s")
					b.ReportMetric(2*float64(rows*cols*n)*float64(b.N)/sec/1e9, "GFLOP/s")
				})
			}
		}
	}
}

func BenchmarkQuantize(b *testing.B) {
	x := testVector(rand.New(rand.NewPCG(52, 53)), "gaussian", 64*QK_K)
	for _, ty := range []Type{F16, BF16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, Q8_K} {
		b.Run(ty.String(), func(b *testing.B) {
			n, _ := ty.RowBytes(len(x))
			dst := make([]byte, n)
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				if err := QuantizeTo(ty, dst, x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDequantize(b *testing.B) {
	x := testVector(rand.New(rand.NewPCG(54, 55)), "gaussian", 64*QK_K)
	y := make([]float32, len(x))
	for _, ty := range []Type{F16, BF16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K} {
		q, err := Quantize(ty, x)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(ty.String(), func(b *testing.B) {
			b.SetBytes(int64(len(q)))
			for b.Loop() {
				if err := Dequantize(ty, q, y); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
