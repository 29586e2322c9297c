//go:build !purego

package tensor

// x86-64 attention kernels, in attn_amd64.s: an AVX2 set (with FMA and
// F16C) and an AVX-512 set that widens the two loops that matter, the
// scores and the value updates. Both give the references' bits: products
// of fp16 values are exact, the value update is one VFMADD231PS, and
// VCVTPS2PH with an immediate rounding mode of 0 rounds to nearest even
// whatever MXCSR says. The CPU features come from detectX86, shared with
// the matmul kernels.

func attnArch() attnImpl {
	switch {
	case x86.avx512:
		return attnAVX512
	case x86.avx2:
		return attnAVX2
	}
	return attnRef
}

// The methods are reached only through the exported functions, which have
// checked the lengths; the assembly trusts them.

func (a attnImpl) dots(out, q []float32, k []uint16, stride int) {
	switch a {
	case attnAVX512:
		dotsF16QAVX512(out, q, k, stride)
	case attnAVX2:
		dotsF16QAVX2(out, q, k, stride)
	default:
		dotsF16QRef(out, q, k, stride)
	}
}

func (a attnImpl) accumulate(out []float32, v []uint16, stride int, ms, vs []float32) {
	if n := len(out) &^ 7; n > 0 && a != attnRef {
		if a == attnAVX512 {
			accumulateF16AVX512(out[:n], v, stride, ms, vs)
		} else {
			accumulateF16AVX2(out[:n], v, stride, ms, vs)
		}
		out, v = out[n:], v[n:]
	}
	if len(out) > 0 {
		accumulateF16Ref(out, v, stride, ms, vs)
	}
}

// The avx512 set shares the AVX2 elementwise kernels, which nothing calls
// often enough to need wider ones.

func (a attnImpl) mad(out []float32, v []uint16, s float32) {
	if n := len(out) &^ 7; n > 0 && a != attnRef {
		madF16AVX2(out[:n], v[:n], s)
		out, v = out[n:], v[n:]
	}
	madF16Ref(out, v, s)
}

func (a attnImpl) scaleRound(x []float32, s float32) {
	if n := len(x) &^ 7; n > 0 && a != attnRef {
		scaleRoundF16AVX2(x[:n], s)
		x = x[n:]
	}
	scaleRoundF16Ref(x, s)
}

func (a attnImpl) round(x []float32) {
	if n := len(x) &^ 7; n > 0 && a != attnRef {
		roundF16AVX2(x[:n])
		x = x[n:]
	}
	roundF16Ref(x)
}

// Assembly kernels (attn_amd64.s). dots needs len(out) > 0 and keys for
// every row; accumulate needs len(out) a positive multiple of 8, len(ms) ==
// len(vs) > 0 and values for every row; the elementwise kernels need a
// positive multiple of 8 elements.

//go:noescape
func dotsF16QAVX2(out, q []float32, k []uint16, stride int)

//go:noescape
func dotsF16QAVX512(out, q []float32, k []uint16, stride int)

//go:noescape
func accumulateF16AVX2(out []float32, v []uint16, stride int, ms, vs []float32)

//go:noescape
func accumulateF16AVX512(out []float32, v []uint16, stride int, ms, vs []float32)

//go:noescape
func madF16AVX2(out []float32, v []uint16, s float32)

//go:noescape
func scaleRoundF16AVX2(x []float32, s float32)

//go:noescape
func roundF16AVX2(x []float32)
