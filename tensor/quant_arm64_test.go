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

// TestArm64FullRangeActivations gives the arm64 Q4_0 and Q8_0 dots
// activation quants of -128, which quantizeQ8_0Act never makes but which
// neither the SDOT nor the int16 products overflow on: every set must
// still give llama.cpp's arithmetic bit for bit.
func TestArm64FullRangeActivations(t *testing.T) {
	r := rand.New(rand.NewPCG(92, 93))
	full := q8Case{"full range", func(r *rand.Rand, b []byte, t Type, weights bool) {
		putScale(b, randomScale(r))
		for i := 2; i < len(b); i++ {
			b[i] = []byte{0x80, 0x7f, byte(r.Uint32())}[r.IntN(3)]
		}
	}}
	for _, ks := range testKernelSets()[1:] {
		for _, nb := range []int{1, 5, 64} {
			x := makeQ8Rows(r, full, Q8_0, 1, nb, nb*blockQ8_0, 0, false)
			w8 := makeQ8Rows(r, full, Q8_0, 1, nb, nb*blockQ8_0, 0, true)
			w4 := makeQ8Rows(r, full, Q4_0, 1, nb, nb*blockQ4_0, 0, true)
			if got, want := ks.dotQ8_0Q8_0(w8, x, nb), llamaDotQ8_0(w8, x, nb); math.Float32bits(got) != math.Float32bits(want) {
				t.Errorf("%s Q8_0 nb=%d: got %v, want %v", ks.name, nb, got, want)
			}
			if got, want := ks.dotQ4_0Q8_0(w4, x, nb), llamaDotQ4_0(w4, x, nb); math.Float32bits(got) != math.Float32bits(want) {
				t.Errorf("%s Q4_0 nb=%d: got %v, want %v", ks.name, nb, got, want)
			}
		}
	}
}
