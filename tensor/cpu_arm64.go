//go:build !purego

package tensor

import "golang.org/x/sys/cpu"

// arm64 kernels, in neon_arm64.s. Two sets exist besides the references:
//
//	neon:     Advanced SIMD, which every arm64 CPU has; byte products with
//	          SMULL/SMLAL and pairwise widening adds
//	dotprod:  the neon set with SDOT (the ARMv8.2 dot product: Apple M1
//	          and later, Graviton 2 and later, Cortex-A55/A76 and later)
//
// For Q4_0, Q8_0, Q4_K, Q5_K and Q6_K both compute the float arithmetic of
// llama.cpp's x86 CPU backend (see neon_arm64.s), as the amd64 sets do, so
// these dot products give the same bits on either architecture. The
// F32/F16 dots only agree with the references up to rounding.
//
// Features come from golang.org/x/sys/cpu: user space cannot read the ID
// registers portably (Linux gives HWCAP through the auxiliary vector,
// darwin a sysctl), and the package already knows both.

type arm64Features struct {
	dotprod bool // SDOT/UDOT
}

var arm64 = arm64Features{dotprod: cpu.ARM64.HasASIMDDP}

// neonKernels and dotprodKernels return the sets; the caller checks arm64.
func neonKernels() kernelSet {
	return kernelSet{
		name:        "neon",
		dotF32:      dotF32NEONGo,
		dotF16:      dotF16NEONGo,
		dotQ4_0Q8_0: dotQ4_0Q8_0NEONGo,
		dotQ8_0Q8_0: dotQ8_0Q8_0NEONGo,
		dotQ4_KQ8_K: dotQ4_KQ8_KNEONGo,
		dotQ6_KQ8_K: dotQ6_KQ8_KNEONGo,
		dotQ5_KQ8_K: dotQ5_KQ8_KNEONGo,
		quantQ8_0:   quantizeQ8_0NEONGo,
		q4_0:        q8Rows{rows4: rows4Q4_0NEONGo},
		q8_0:        q8Rows{rows4: rows4Q8_0NEONGo},
	}
}

func dotprodKernels() kernelSet {
	k := neonKernels()
	k.name = "dotprod"
	k.dotQ4_0Q8_0 = dotQ4_0Q8_0SDOTGo
	k.dotQ8_0Q8_0 = dotQ8_0Q8_0SDOTGo
	k.dotQ4_KQ8_K = dotQ4_KQ8_KSDOTGo
	k.dotQ6_KQ8_K = dotQ6_KQ8_KSDOTGo
	k.dotQ5_KQ8_K = dotQ5_KQ8_KSDOTGo
	k.q4_0 = q8Rows{rows4: rows4Q4_0SDOTGo}
	k.q8_0 = q8Rows{rows4: rows4Q8_0SDOTGo}
	return k
}

func archKernels() kernelSet {
	if arm64.dotprod {
		return dotprodKernels()
	}
	return neonKernels()
}

// The assembly trusts its arguments; these wrappers check every length
// (with the checks of cpu_asm.go) so that a bad call panics in Go instead
// of reading out of bounds.

func dotF32NEONGo(w []byte, x []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	_ = w[4*len(x)-1]
	return dotF32NEON(w, x)
}

func dotF16NEONGo(w, x []byte, nb int) float32 {
	if nb <= 0 {
		return 0
	}
	_, _ = w[2*nb-1], x[2*nb-1]
	return dotF16NEON(w, x, nb)
}

func quantizeQ8_0NEONGo(dst []byte, src []float32) {
	nb := len(src) / qk8_0
	if nb == 0 {
		return
	}
	_ = dst[nb*blockQ8_0-1]
	quantizeQ8_0NEON(dst, src[:nb*qk8_0])
}

func dotQ8_0Q8_0NEONGo(w, x []byte, nb int) float32 {
	if !checkDot(w, x, nb, blockQ8_0) {
		return 0
	}
	return dotQ8_0Q8_0NEON(w, x, nb)
}

func dotQ8_0Q8_0SDOTGo(w, x []byte, nb int) float32 {
	if !checkDot(w, x, nb, blockQ8_0) {
		return 0
	}
	return dotQ8_0Q8_0SDOT(w, x, nb)
}

func dotQ4_0Q8_0NEONGo(w, x []byte, nb int) float32 {
	if !checkDot(w, x, nb, blockQ4_0) {
		return 0
	}
	return dotQ4_0Q8_0NEON(w, x, nb)
}

func dotQ4_0Q8_0SDOTGo(w, x []byte, nb int) float32 {
	if !checkDot(w, x, nb, blockQ4_0) {
		return 0
	}
	return dotQ4_0Q8_0SDOT(w, x, nb)
}

func rows4Q8_0NEONGo(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int) {
	checkRows4(out, w, wstride, x, dx, nb, blockQ8_0)
	rows4Q8_0NEON(out, w, wstride, x, dx, nb)
}

func rows4Q8_0SDOTGo(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int) {
	checkRows4(out, w, wstride, x, dx, nb, blockQ8_0)
	rows4Q8_0SDOT(out, w, wstride, x, dx, nb)
}

func rows4Q4_0NEONGo(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int) {
	checkRows4(out, w, wstride, x, dx, nb, blockQ4_0)
	rows4Q4_0NEON(out, w, wstride, x, dx, nb)
}

func rows4Q4_0SDOTGo(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int) {
	checkRows4(out, w, wstride, x, dx, nb, blockQ4_0)
	rows4Q4_0SDOT(out, w, wstride, x, dx, nb)
}

func dotQ4_KQ8_KNEONGo(w, x []byte, nb int) float32 {
	if !checkDotK(w, x, nb, blockQ4_K) {
		return 0
	}
	return dotQ4_KQ8_KNEON(w, x, nb)
}

func dotQ4_KQ8_KSDOTGo(w, x []byte, nb int) float32 {
	if !checkDotK(w, x, nb, blockQ4_K) {
		return 0
	}
	return dotQ4_KQ8_KSDOT(w, x, nb)
}

func dotQ5_KQ8_KNEONGo(w, x []byte, nb int) float32 {
	if !checkDotK(w, x, nb, blockQ5_K) {
		return 0
	}
	return dotQ5_KQ8_KNEON(w, x, nb)
}

func dotQ5_KQ8_KSDOTGo(w, x []byte, nb int) float32 {
	if !checkDotK(w, x, nb, blockQ5_K) {
		return 0
	}
	return dotQ5_KQ8_KSDOT(w, x, nb)
}

func dotQ6_KQ8_KNEONGo(w, x []byte, nb int) float32 {
	if !checkDotK(w, x, nb, blockQ6_K) {
		return 0
	}
	return dotQ6_KQ8_KNEON(w, x, nb)
}

func dotQ6_KQ8_KSDOTGo(w, x []byte, nb int) float32 {
	if !checkDotK(w, x, nb, blockQ6_K) {
		return 0
	}
	return dotQ6_KQ8_KSDOT(w, x, nb)
}

// Assembly kernels (neon_arm64.s). Quants may be any int8, in weights and
// activations alike. The SDOT kernels need the dot-product extension.

//go:noescape
func dotF32NEON(w []byte, x []float32) float32

//go:noescape
func dotF16NEON(w, x []byte, nb int) float32

//go:noescape
func quantizeQ8_0NEON(dst []byte, src []float32)

//go:noescape
func dotQ8_0Q8_0NEON(w, x []byte, nb int) float32

//go:noescape
func dotQ8_0Q8_0SDOT(w, x []byte, nb int) float32

//go:noescape
func dotQ4_0Q8_0NEON(w, x []byte, nb int) float32

//go:noescape
func dotQ4_0Q8_0SDOT(w, x []byte, nb int) float32

//go:noescape
func rows4Q8_0NEON(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)

//go:noescape
func rows4Q8_0SDOT(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)

//go:noescape
func rows4Q4_0NEON(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)

//go:noescape
func rows4Q4_0SDOT(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)

//go:noescape
func dotQ4_KQ8_KNEON(w, x []byte, nb int) float32

//go:noescape
func dotQ4_KQ8_KSDOT(w, x []byte, nb int) float32

//go:noescape
func dotQ6_KQ8_KNEON(w, x []byte, nb int) float32

//go:noescape
func dotQ6_KQ8_KSDOT(w, x []byte, nb int) float32

//go:noescape
func dotQ5_KQ8_KNEON(w, x []byte, nb int) float32

//go:noescape
func dotQ5_KQ8_KSDOT(w, x []byte, nb int) float32
