package model

import (
	"math"

	"github.com/joule-llm/joule/tensor"
)

// fp16_test.go checks these bit for bit against tensor.FP16ToFloat32 and
// tensor.Float32ToFP16.

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
func roundFP16s(x []float32) { tensor.RoundF16(x) }
