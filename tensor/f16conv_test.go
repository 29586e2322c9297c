package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFloat32sToFP16 checks the bulk conversion against Float32ToFP16 on
// random bit patterns (NaNs aside: their payloads may differ) and on the
// edges: zeros, subnormal and overflowing results, ties.
func TestFloat32sToFP16(t *testing.T) {
	r := rand.New(rand.NewPCG(80, 81))
	src := []float32{0, float32(math.Copysign(0, -1)), 65504, 65520, 65519.99, -70000, 6e-8, 3e-8, 2.98e-8, 1e-5, -6.1e-5,
		float32(math.Inf(1)), float32(math.Inf(-1)), 1 + 1.0/2048, 1 + 3.0/2048, 0.1, -2.5}
	for len(src) < 100003 {
		f := math.Float32frombits(r.Uint32())
		if f != f {
			continue
		}
		src = append(src, f)
		src = append(src, float32(r.NormFloat64()))
	}
	for _, n := range []int{0, 1, 7, 8, 9, 31, len(src)} {
		dst := make([]uint16, n)
		Float32sToFP16(dst, src[:n])
		for i, f := range src[:n] {
			if want := Float32ToFP16(f); dst[i] != want {
				t.Fatalf("n %d: %g (%#08x) gave %#04x, want %#04x", n, f, math.Float32bits(f), dst[i], want)
			}
		}
	}
}
