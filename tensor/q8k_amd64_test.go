//go:build !purego

package tensor

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

// TestQuantizeQ8_KAVX2 checks that the assembly gives the bytes of the
// reference quantizer, including on the blocks it hands back to it.
func TestQuantizeQ8_KAVX2(t *testing.T) {
	if !x86.avx2 {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(7, 8))
	block := func(f func(i int) float32) []float32 {
		x := make([]float32, QK_K)
		for i := range x {
			x[i] = f(i)
		}
		return x
	}
	gauss := func(scale float32) func(int) float32 {
		return func(int) float32 { return scale * float32(r.NormFloat64()) }
	}
	// ties: values whose scaled products land on .5, and equal magnitudes
	// of both signs, the negative one first.
	ties := block(func(i int) float32 { return float32(i%255-127) + 0.5 })
	ties[3], ties[200] = -200, 200
	posFirst := block(gauss(1))
	posFirst[10], posFirst[11] = 9, -9
	halves := block(func(i int) float32 { return float32(i%64) / 2 })
	halves[0] = 127 // iscale = -1: every x.5 is a tie
	cases := []struct {
		name string
		x    []float32
	}{
		{"gaussian", block(gauss(1))},
		{"small", block(gauss(1e-20))},
		{"large", block(gauss(1e30))},
		{"extreme", block(func(i int) float32 {
			return []float32{math.MaxFloat32, -math.MaxFloat32, 1e-38, -1e-45, 0}[i%5]
		})},
		{"tiny", block(gauss(1e-37))},
		{"zero", make([]float32, QK_K)},
		{"negzero", block(func(int) float32 { return float32(math.Copysign(0, -1)) })},
		{"equal", block(func(int) float32 { return 3.25 })},
		{"equal negative", block(func(int) float32 { return -0.75 })},
		{"ties", ties},
		{"sign tie", posFirst},
		{"halves", halves},
		{"inf", block(func(i int) float32 {
			if i == 77 {
				return float32(math.Inf(-1))
			}
			return float32(i)
		})},
		{"nan", block(func(i int) float32 {
			if i == 5 {
				return float32(math.NaN())
			}
			return float32(i)
		})},
	}
	for _, c := range cases {
		want := make([]byte, blockQ8_K)
		quantizeQ8_K(want, c.x)
		got := make([]byte, blockQ8_K)
		quantizeQ8_KAVX2Go(got, c.x)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: got % x\nwant % x", c.name, got, want)
		}
	}

	// All the cases in one row, in several orders, with a trailing
	// partial block that must be left alone.
	for trial := 0; trial < 20; trial++ {
		var src []float32
		for range 1 + r.IntN(12) {
			src = append(src, cases[r.IntN(len(cases))].x...)
		}
		nb := len(src) / QK_K
		src = append(src, 1, 2, 3)
		want := make([]byte, nb*blockQ8_K+7)
		got := make([]byte, len(want))
		for i := range want {
			want[i], got[i] = 0xa5, 0xa5
		}
		quantizeQ8_K(want, src)
		quantizeQ8_KAVX2Go(got, src)
		if !bytes.Equal(got, want) {
			t.Fatalf("trial %d (%d blocks): bytes differ", trial, nb)
		}
	}
}

func BenchmarkQuantizeQ8_K(b *testing.B) {
	x := make([]float32, 2048)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	dst := make([]byte, len(x)/QK_K*blockQ8_K)
	for _, s := range []struct {
		name string
		f    func([]byte, []float32)
	}{{"reference", quantizeQ8_K}, {"avx2", quantizeQ8_KAVX2Go}} {
		b.Run(s.name, func(b *testing.B) {
			if s.name == "avx2" && !x86.avx2 {
				b.Skip("no AVX2")
			}
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				s.f(dst, x)
			}
		})
	}
}
