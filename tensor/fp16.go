package tensor

import "math"

// FP16ToFloat32 converts an IEEE 754 binary16 value to float32. Every
// binary16 value, subnormals included, is exactly representable; NaN
// payloads are kept.
func FP16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal: rebias the exponent from 15 to 127
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: mant units of 2^-24, exact in float32.
	f := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}

// Float32ToFP16 converts f to IEEE 754 binary16, rounding to nearest with
// ties to even, as the F16C instruction VCVTPS2PH does. Values too large
// become ±Inf, values too small become subnormals or ±0. A NaN stays a NaN:
// it is made quiet and keeps the top bits of its payload.
func Float32ToFP16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(mant>>13)
	}
	e := exp - 127 + 15 // binary16 biased exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Result is subnormal (or zero): count units of 2^-24. The value is
		// m * 2^(exp-150) with the implicit bit included in m.
		if e < -10 {
			return sign // below half the smallest subnormal
		}
		m := mant | 0x800000
		shift := uint(14 - e)
		r := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || rem == half && r&1 == 1 {
			r++ // may carry into the smallest normal, whose encoding follows
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || rem == 0x1000 && r&1 == 1 {
		r++ // a carry into the exponent is correct, up to Inf
	}
	return sign | uint16(r)
}

// BF16ToFloat32 converts a bfloat16 value to float32 (exact).
func BF16ToFloat32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// Float32ToBF16 converts f to bfloat16 as ggml does: round to nearest with
// ties to even (values past the largest finite bfloat16 become ±Inf, and
// subnormals are kept), and a NaN is made quiet, keeping its sign and the
// top of its payload.
func Float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// fp16 reads a little-endian binary16 value from b[0:2] as float32.
func fp16(b []byte) float32 {
	_ = b[1]
	return FP16ToFloat32(uint16(b[0]) | uint16(b[1])<<8)
}

// putFP16 stores f as little-endian binary16 in b[0:2].
func putFP16(b []byte, f float32) {
	h := Float32ToFP16(f)
	_ = b[1]
	b[0] = byte(h)
	b[1] = byte(h >> 8)
}

// Float32sToFP16 converts src to fp16 in dst, element by element as
// Float32ToFP16 does (with F16C where the CPU has it). dst must be at
// least as long as src.
func Float32sToFP16(dst []uint16, src []float32) {
	if len(dst) < len(src) {
		panic("tensor: Float32sToFP16: dst shorter than src")
	}
	float32sToFP16(dst[:len(src)], src)
}
