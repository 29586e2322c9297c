package tensor

// Kernel dispatch. The hot kernels are reached only through the functions
// in this file, which call the kernel set chosen once at start-up for this
// CPU (archKernels, in cpu_amd64.go or cpu_purego.go). A purego build, or
// a CPU without the needed instructions, gets refKernels: the plain-Go
// references (the *Ref functions).

// kernelSet is one implementation of the hot kernels.
type kernelSet struct {
	name string

	dotF32      func(w []byte, x []float32) float32
	dotF16      func(w, x []byte, nb int) float32
	dotQ4_0Q8_0 func(w, x []byte, nb int) float32
	dotQ8_0Q8_0 func(w, x []byte, nb int) float32
	dotQ4_KQ8_K func(w, x []byte, nb int) float32
	dotQ6_KQ8_K func(w, x []byte, nb int) float32
	quantQ8_0   func(dst []byte, src []float32) // activations, see quantizeQ8_0Act
	quantQ8_K   func(dst []byte, src []float32) // k-quant activations; nil means quantizeQ8_K

	// Optional one-row dot products: nil means the plain-Go reference.
	dotQ5_KQ8_K func(w, x []byte, nb int) float32
	dotBF16     func(w, x []byte, nb int) float32

	// Multi-row kernels for Q4_0 and Q8_0 weights; a nil rows4 means
	// MatMul uses the one-row dot products above.
	q4_0, q8_0 q8Rows

	// Multi-row kernels for the k-quants; a nil rows4 means MatMul uses
	// the one-row dot products.
	q4_K, q5_K, q6_K kqRows
}

// kqRows are the multi-row kernels for one k-quant weight type, whose
// activations are Q8_K blocks. Like q8Rows they must give, bit for bit,
// what the set's one-row dot product gives for each (row, token) pair.
type kqRows struct {
	// permute, if not nil, copies nb Q8_K blocks from src to dst with the
	// quants of each block reordered for the kernels (the scale and the
	// block sums stay as they are); nil means the kernels read the Q8_K
	// blocks as quantized.
	permute func(dst, src []byte, nb int)
	// rows4 computes out[i], the dot product of weight row i (wstride
	// bytes apart from w) with one activation row x of nb blocks, for
	// every i < len(out), which must be a multiple of 4: all the rows a
	// thread has in one call, which lets the kernel prefetch ahead.
	rows4 func(out []float32, w []byte, wstride int, x []byte, nb int)
	// tile4 computes a 4×4 tile: out[t*ostride+r] is the dot product of
	// weight row r with activation row t (xstride bytes apart). Nil if the
	// set has none.
	tile4 func(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, nb int)
	// tile8 is tile4 for four rows against eight tokens (t < 8), which
	// unpacks each weight block once for twice as many tokens. Nil if the
	// set has none.
	tile8 func(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, nb int)

	// The kernels over packed weights (a nil packed.rows if none),
	// against the Q8_K blocks expanded by expand into xblock-byte blocks.
	expand func(dst, src []byte, nb int)
	xblock int
	packed packedKernels
}

// q8Rows are the multi-row kernels for one weight type whose activations
// are Q8_0 blocks. They must give, bit for bit, what the set's one-row dot
// product gives for each (row, token) pair, so that how MatMul tiles the
// work never changes a result. The packed Q8_0 kernels are the exception
// (see Pack): they agree, bit for bit, with each other.
type q8Rows struct {
	// rows4 computes out[0:4], the dot products of four weight rows,
	// wstride bytes apart from w, with one activation row x of nb blocks.
	// dx holds x's block scales as float32.
	rows4 func(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)
	// tile4 computes a 4×4 tile: out[t*ostride+r] is the dot product of
	// weight row r (wstride bytes apart) with activation row t (xstride
	// bytes apart, its scales at dx[t*nb:]). Nil if the set has none.
	tile4 func(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, dx []float32, nb int)

	// Eight-row kernels over the file's layout, Q4_0 only (nil
	// otherwise). They, and the packed ones below, read activations
	// expanded by expand from Q8_0 blocks into 40-byte blocks:
	// d float32 | -8*sum(q) int32 | q[32] (for packed Q8_0, whose weights
	// are biased by 128, -128*sum(q)). rows8 computes out[0:8] for
	// one token; tile8 an 8×8 tile, out[t*ostride+r] for token t at
	// xx[t*xstride:]. tile8 may be nil.
	expand func(dst, src []byte, nb int)
	rows8  func(out []float32, w []byte, wstride int, xx []byte, nb int)
	tile8  func(out []float32, ostride int, w []byte, wstride int, xx []byte, xstride int, nb int)

	// The kernels over packed weights (a nil packed.rows if none),
	// which read activations expanded by expand too.
	packed packedKernels
	// xblock is the size of the blocks expand makes.
	xblock int
}

// packedKernels are the kernels over one type's packed weights (pack.go):
// w is one packed group of group rows, block bytes per block of all of
// them; the activations come expanded as the set says. Pack packs only
// for sets with rows, which computes out[0:group] for one token; tile8 and
// tile4 (either may be nil) compute out[t*ostride+r] for eight or four
// tokens, token t at xx[t*xstride:].
type packedKernels struct {
	group, block int
	rows         func(out []float32, w []byte, xx []byte, nb int)
	tile8, tile4 func(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)
}

// run computes out[t*ostride+r+i] for the rows of the packed group w,
// i < group, and the tokens [t0, t1) of xx (xrow bytes each): eight, then
// four, then one at a time.
func (k *packedKernels) run(out []float32, ostride, r int, w, xx []byte, xrow, t0, t1, nb int) {
	t := t0
	for ; t+8 <= t1 && k.tile8 != nil; t += 8 {
		k.tile8(out[t*ostride+r:], ostride, w, xx[t*xrow:(t+8)*xrow], xrow, nb)
	}
	for ; t+4 <= t1 && k.tile4 != nil; t += 4 {
		k.tile4(out[t*ostride+r:], ostride, w, xx[t*xrow:(t+4)*xrow], xrow, nb)
	}
	for ; t < t1; t++ {
		k.rows(out[t*ostride+r:t*ostride+r+k.group], w, xx[t*xrow:(t+1)*xrow], nb)
	}
}

// blockQ8_0X is the size of an expanded Q8_0 block (q8Rows.expand).
const blockQ8_0X = 40

// refKernels are the plain-Go references.
var refKernels = kernelSet{
	name:        "reference",
	dotF32:      dotF32Ref,
	dotF16:      dotF16Ref,
	dotQ4_0Q8_0: dotQ4_0Q8_0Ref,
	dotQ8_0Q8_0: dotQ8_0Q8_0Ref,
	dotQ4_KQ8_K: dotQ4_KQ8_KRef,
	dotQ6_KQ8_K: dotQ6_KQ8_KRef,
	quantQ8_0:   quantizeQ8_0Act,
	dotQ5_KQ8_K: dotQ5_KQ8_KRef,
	dotBF16:     dotBF16Ref,
}

// kernels is the set this CPU runs. It is chosen once and never changed.
var kernels = archKernels()

// accelerated reports whether kernels faster than the plain-Go reference
// are in use.
var accelerated = kernels.name != refKernels.name

func dotF32(w []byte, x []float32) float32         { return kernels.dotF32(w, x) }
func dotF16(w, x []byte, nb int) float32           { return kernels.dotF16(w, x, nb) }
func dotQ4_0Q8_0(w, x []byte, nb int) float32      { return kernels.dotQ4_0Q8_0(w, x, nb) }
func dotQ8_0Q8_0(w, x []byte, nb int) float32      { return kernels.dotQ8_0Q8_0(w, x, nb) }
func dotQ4_KQ8_K(w, x []byte, nb int) float32      { return kernels.dotQ4_KQ8_K(w, x, nb) }
func dotQ6_KQ8_K(w, x []byte, nb int) float32      { return kernels.dotQ6_KQ8_K(w, x, nb) }
func quantizeRowQ8_0Act(dst []byte, src []float32) { kernels.quantQ8_0(dst, src) }

func quantizeRowQ8_K(dst []byte, src []float32) {
	if kernels.quantQ8_K != nil {
		kernels.quantQ8_K(dst, src)
		return
	}
	quantizeQ8_K(dst, src)
}
