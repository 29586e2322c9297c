//go:build !purego

package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestArm64QuantizeScales runs the NEON activation quantizer over blocks
// whose scales sweep the float32 range: d = amax/127 subnormal or
// overflowing in fp16, 127/amax overflowing in float32 (tiny amax), and
// quants exactly halfway between integers. Its bytes must equal
// quantizeQ8_0Act's.
func TestArm64QuantizeScales(t *testing.T) {
	r := rand.New(rand.NewPCG(90, 91))
	var blocks [][]float32
	for e := -149; e <= 127; e++ {
		x := make([]float32, qk8_0)
		scale := math.Ldexp(1, e)
		for i := range x {
			x[i] = float32(r.NormFloat64() * scale)
		}
		blocks = append(blocks, x)
	}
	// Scales around fp16's largest finite value and its subnormals.
	for _, amax := range []float32{65504 * 127, 65519 * 127, 65520 * 127, 0x1p-24 * 127, 0x1p-25 * 127, 0x1.8p-25 * 127, 0x1p-14 * 127} {
		x := make([]float32, qk8_0)
		for i := range x {
			x[i] = amax * float32(r.Float64()*2-1)
		}
		x[r.IntN(qk8_0)] = -amax
		blocks = append(blocks, x)
	}
	// Quants that land on .5: amax 127 makes the multiplier exactly 1.
	half := make([]float32, qk8_0)
	for i := range half {
		half[i] = float32(i) - 15.5
	}
	half[31] = 127
	blocks = append(blocks, half)

	for i, x := range blocks {
		want := make([]byte, blockQ8_0)
		got := make([]byte, blockQ8_0)
		quantizeQ8_0Act(want, x)
		quantizeQ8_0NEONGo(got, x)
		if string(got) != string(want) {
			t.Errorf("block %d (amax %g): got % x, want % x", i, maxAbs(x), got, want)
		}
	}
}

func maxAbs(x []float32) float32 {
	var m float32
	for _, v := range x {
		m = max(m, abs32(v))
	}
	return m
}
