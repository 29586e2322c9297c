//go:build !purego

package tensor

import "math"

// x86-64 attention kernels, in attn_amd64.s: an AVX2 set (with FMA and
// F16C) and an AVX-512 set that widens the two loops that matter, the
// scores and the value updates, and runs them for two heads at once. Both
// give the references' bits: products of fp16 values are exact, the value
// update is one VFMADD231PS, and VCVTPS2PH with an immediate rounding mode
// of 0 rounds to nearest even whatever MXCSR says. The CPU features come
// from detectX86 (cpu_amd64.go), shared with the matmul kernels. Its
// AVX-512 flag also asks for VNNI, which these kernels do not use, so a
// CPU with AVX-512 but no VNNI (Skylake-X) runs the avx2 set.

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

// The avx512 set takes the heads in pairs, where the sizes suit its pair
// kernels; the rest go one by one.

func (a attnImpl) dotsHeads(out, q []float32, heads int, k []uint16, stride int) {
	n, d := len(out)/heads, len(q)/heads
	g := 0
	if a == attnAVX512 && d%64 == 0 {
		for ; g+2 <= heads; g += 2 {
			dotsPairAVX512(out[g*n:(g+2)*n], q[g*d:(g+2)*d], d, k, stride)
		}
	}
	for ; g < heads; g++ {
		a.dots(out[g*n:(g+1)*n], q[g*d:(g+1)*d], k, stride)
	}
}

func (a attnImpl) accumulateHeads(out []float32, heads int, v []uint16, stride int, ms, vs []float32) {
	n, d := len(vs)/heads, len(out)/heads
	g := 0
	if cols := d &^ 15; a == attnAVX512 && cols > 0 {
		for ; g+2 <= heads; g += 2 {
			accumulatePairAVX512(out[g*d:(g+2)*d], d, cols, v, stride, ms[g*n:(g+2)*n], vs[g*n:(g+2)*n])
			if cols < d {
				for h := g; h < g+2; h++ {
					a.accumulate(out[h*d+cols:(h+1)*d], v[cols:], stride, ms[h*n:(h+1)*n], vs[h*n:(h+1)*n])
				}
			}
		}
	}
	for ; g < heads; g++ {
		a.accumulate(out[g*d:(g+1)*d], v, stride, ms[g*n:(g+1)*n], vs[g*n:(g+1)*n])
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

// exp runs math.Exp's own sequence of float64 operations four lanes at a
// time, which gives its bits only while math.Exp is the FMA version of
// math/exp_amd64.s (on CPUs with FMA, as every assembly set here needs).
// expMatchesGo checks that once, against math.Exp itself, and the
// references take over should a Go release have changed it.
func (a attnImpl) exp(dst, src []float32) {
	if n := len(src) &^ 3; n > 0 && a != attnRef && expMatchesGo {
		if exp32sAVX2(dst[:n], src[:n]) {
			for i, x := range src[:n] {
				if x != x { // NaN: the kernel leaves its payload to math.Exp
					dst[i] = float32(math.Exp(float64(x)))
				}
			}
		}
		dst, src = dst[n:], src[n:]
	}
	exp32sRef(dst, src)
}

var expMatchesGo = x86.avx2 && checkExp()

// checkExp compares the vector exp with math.Exp, bit for bit in float64,
// on arguments spread over the range the float32 kernel serves and a
// little beyond. Different code would differ in the last bit of some of
// them.
func checkExp() bool {
	var x, got [1024]float64
	for i := range x {
		x[i] = -110 + 200*float64(i)/float64(len(x)) + 1e-3*float64(i%7)
	}
	expF64sAVX2(got[:], x[:])
	for i, v := range x {
		if math.Float64bits(got[i]) != math.Float64bits(math.Exp(v)) {
			return false
		}
	}
	return true
}

// Assembly kernels (attn_amd64.s). dots needs len(out) > 0 and keys for
// every row; accumulate needs len(out) a positive multiple of 8, len(ms) ==
// len(vs) > 0 and values for every row; the elementwise kernels need a
// positive multiple of 8 elements. The pair kernels say what they need in
// attn_amd64.s.

//go:noescape
func dotsF16QAVX2(out, q []float32, k []uint16, stride int)

//go:noescape
func dotsF16QAVX512(out, q []float32, k []uint16, stride int)

//go:noescape
func accumulateF16AVX2(out []float32, v []uint16, stride int, ms, vs []float32)

//go:noescape
func accumulateF16AVX512(out []float32, v []uint16, stride int, ms, vs []float32)

//go:noescape
func accumulatePairAVX512(out []float32, d, cols int, v []uint16, stride int, ms, vs []float32)

//go:noescape
func dotsPairAVX512(out, q []float32, d int, k []uint16, stride int)

//go:noescape
func madF16AVX2(out []float32, v []uint16, s float32)

//go:noescape
func scaleRoundF16AVX2(x []float32, s float32)

//go:noescape
func roundF16AVX2(x []float32)

// exp32sAVX2 needs len(src) a positive multiple of 4 and dst as long.
//
//go:noescape
func exp32sAVX2(dst, src []float32) (nan bool)

//go:noescape
func expF64sAVX2(dst, src []float64)
