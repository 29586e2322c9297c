package model

import (
	"math"
	"testing"

	"github.com/joule-llm/joule/tensor"
)

// TestRoundFP16 checks the fp16 rounding the attention emulation relies
// on against the scalar conversions.
func TestRoundFP16(t *testing.T) {
	check := func(b uint32) {
		f := math.Float32frombits(b)
		x := []float32{f}
		tensor.RoundF16(x)
		got := math.Float32bits(x[0])
		want := math.Float32bits(tensor.FP16ToFloat32(tensor.Float32ToFP16(f)))
		if got != want {
			t.Fatalf("RoundF16(%g = %#08x) = %#08x, want %#08x", f, b, got, want)
		}
	}
	// Every float32 in steps of a prime, covering all exponents and many
	// mantissas, then the neighbourhood of every binary16 value and of every
	// point halfway between two of them, where rounding decides.
	for b := uint64(0); b < 1<<32; b += 4093 {
		check(uint32(b))
	}
	for h := range 1 << 15 {
		v := math.Float32bits(tensor.FP16ToFloat32(uint16(h)))
		next := math.Float32bits(tensor.FP16ToFloat32(uint16(h + 1)))
		mid := math.Float32bits((math.Float32frombits(v) + math.Float32frombits(next)) / 2)
		for _, c := range []uint32{v, mid} {
			for d := uint32(0); d < 3; d++ {
				for _, sign := range []uint32{0, 1 << 31} {
					check((c + d - 1) | sign)
				}
			}
		}
	}
}
