package model

import (
	"math"

	"github.com/joule-llm/joule/tensor"
)

// The attention loop converts every cached key and value from fp16 and
// rounds its accumulators to fp16. These two small versions of the tensor
// package's conversions inline into that loop; fp16_test.go checks them
// bit for bit against tensor.FP16ToFloat32 and tensor.Float32ToFP16.

// fp16to32 converts a binary16 value to float32.
func fp16to32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	b := uint32(h&0x7fff) << 13 // exponent and mantissa at their float32 places
	if b >= 0x1f<<23 {
		return math.Float32frombits(sign | 0x7f800000 | b) // Inf, NaN
	}
	// The exponent is still biased by 15 instead of 127; multiplying by
	// 2^112 rebiases it, and turns the subnormals into normal float32 values.
	return math.Float32frombits(math.Float32bits(math.Float32frombits(b)*0x1p112) | sign)
}

// roundFP16s rounds every element of x to the nearest binary16 value,
// ties to even.
func roundFP16s(x []float32) {
	for i, f := range x {
		b := math.Float32bits(f)
		if a := b & 0x7fffffff; a-0x38800000 < 0x477ff000-0x38800000 {
			// 2^-14 <= |f| < 65520, a normal result: round away the 13
			// mantissa bits binary16 lacks. A carry into the exponent is right.
			x[i] = math.Float32frombits((b + 0xfff + (b>>13)&1) &^ 0x1fff)
		} else {
			x[i] = roundFP16Rare(f)
		}
	}
}

func roundFP16Rare(f float32) float32 {
	b := math.Float32bits(f)
	a := b & 0x7fffffff
	if a >= 0x38800000 {
		return tensor.FP16ToFloat32(tensor.Float32ToFP16(f)) // overflow, Inf, NaN
	}
	// Subnormal range: adding 0.5 puts the float32 unit in the last place
	// at 2^-24, the binary16 subnormal step.
	a = math.Float32bits(math.Float32frombits(a) + 0.5 - 0.5)
	return math.Float32frombits(a | b&0x80000000)
}
