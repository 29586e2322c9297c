//go:build !purego

package tensor

// x86-64 kernels, in q8_amd64.s (Q4_0/Q8_0 one- and four-row kernels,
// activation quantization), q4_amd64.s (eight-row Q4_0 kernels),
// kq_amd64.s (Q4_K/Q5_K/Q6_K dots), kqrows_amd64.s (four-row and 4×4
// k-quant kernels), bf16_amd64.s (BF16 dots) and f32_amd64.s (F32/F16
// dots). Two sets exist besides the references:
//
//	avx2:     AVX2, FMA and F16C (Haswell, Zen 1 and later)
//	avx512:   the avx2 set plus AVX-512 F/BW/VL and VNNI kernels that use
//	          VPDPBUSD/VPDPWSSD and the 32 vector registers (Ice Lake,
//	          Zen 4), and VDPBF16PS for BF16 where the CPU has AVX512_BF16
//
// For Q4_0, Q8_0 and Q4_K both compute the float arithmetic of llama.cpp's
// x86 CPU backend (see q8_amd64.s, kq_amd64.s), so they agree with it and
// with each other bit for bit; for Q5_K and Q6_K they take the reference's
// float steps and agree with each other bit for bit. The F32/F16/BF16 dots
// only agree up to rounding.
//
// Feature detection uses CPUID directly rather than golang.org/x/sys/cpu,
// to keep the module free of that dependency for a dozen lines.

// Feature tests (cpu_amd64.s).
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

type x86Features struct {
	avx2, avx512 bool // avx2 implies FMA and F16C; avx512 implies F, BW, VL and VNNI
	bf16         bool // AVX512_BF16 (VDPBF16PS), with avx512
}

func detectX86() x86Features {
	var f x86Features
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return f
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
		f16c    = 1 << 29
	)
	if ecx1&(fma|osxsave|avx|f16c) != fma|osxsave|avx|f16c {
		return f
	}
	// The OS must save the vector state: XMM and YMM, and for AVX-512
	// also the mask registers and the upper ZMM halves and registers.
	xcr0, _ := xgetbv()
	if xcr0&0x6 != 0x6 {
		return f
	}
	_, ebx7, ecx7, _ := cpuid(7, 0)
	f.avx2 = ebx7&(1<<5) != 0
	const (
		avx512f  = 1 << 16
		avx512bw = 1 << 30
		avx512vl = 1 << 31
		vnni     = 1 << 11 // in ECX
	)
	f.avx512 = f.avx2 && ebx7&(avx512f|avx512bw|avx512vl) == avx512f|avx512bw|avx512vl &&
		ecx7&vnni != 0 && xcr0&0xe0 == 0xe0
	// AVX512_BF16 is bit 5 of EAX in leaf 7 sub-leaf 1, which exists if
	// sub-leaf 0 reports it in EAX.
	if maxSub, _, _, _ := cpuid(7, 0); f.avx512 && maxSub >= 1 {
		eax71, _, _, _ := cpuid(7, 1)
		f.bf16 = eax71&(1<<5) != 0
	}
	return f
}

var x86 = detectX86()

// avx2Kernels and avx512Kernels return the sets; the caller checks x86.
func avx2Kernels() kernelSet {
	return kernelSet{
		name:        "avx2",
		dotF32:      dotF32AVX2Go,
		dotF16:      dotF16AVX2Go,
		dotQ4_0Q8_0: dotQ4_0Q8_0AVX2Go,
		dotQ8_0Q8_0: dotQ8_0Q8_0AVX2Go,
		dotQ4_KQ8_K: dotQ4_KQ8_KAVX2Go,
		dotQ6_KQ8_K: dotQ6_KQ8_KAVX2Go,
		dotQ5_KQ8_K: dotQ5_KQ8_KAVX2Go,
		dotBF16:     dotBF16AVX2Go,
		quantQ8_0:   quantizeQ8_0AVX2Go,
		quantQ8_K:   quantizeQ8_KAVX2Go,
		q4_0: q8Rows{rows4: rows4Q4_0AVX2Go, expand: expandQ8_0AVX2Go, xblock: blockQ8_0X, rows8: q4Rows8AVX2Go,
			packed: packedKernels{group: 8, block: 8 * blockQ4_0, rows: q4PackedRows8AVX2Go}},
		q8_0: q8Rows{rows4: rows4Q8_0AVX2Go},
	}
}

func avx512Kernels() kernelSet {
	k := avx2Kernels()
	k.name = "avx512"
	k.q4_0 = q8Rows{
		rows4: rows4Q4_0VNNIGo, tile4: tile4Q4_0VNNIGo,
		expand: expandQ8_0AVX2Go, xblock: blockQ8_0X, rows8: q4Rows8VNNIGo, tile8: q4Tile8VNNIGo,
		packed: packedKernels{group: 16, block: 16 * blockQ4_0, rows: q4PackedRows16VNNIGo, tile8: q4PackedTile8VNNIGo, tile4: q4PackedTile4VNNIGo},
	}
	k.q8_0 = q8Rows{
		rows4: rows4Q8_0VNNIGo, tile4: tile4Q8_0VNNIGo,
		expand: expandQ8_0Bias128Go, xblock: blockQ8_0X,
		packed: packedKernels{group: 16, block: 16 * blockQ8_0, rows: q8PackedRows16VNNIGo, tile8: q8PackedTile8VNNIGo, tile4: q8PackedTile4VNNIGo},
	}
	k.q4_K = kqRows{
		permute: permuteQ8K, rows4: rows4Q4_KVNNIGo, tile4: tile4Q4_KVNNIGo, tile8: tile8Q4_KVNNIGo,
		expand: expandQ8_KPacked, xblock: blockQ8_KP,
		packed: packedKernels{group: packGroupK, block: blockQ4_Kx16, rows: q4KPackedRows16VNNIGo, tile8: q4KPackedTile8VNNIGo, tile4: q4KPackedTile4VNNIGo},
	}
	k.q5_K = kqRows{
		permute: permuteQ8K, rows4: rows4Q5_KVNNIGo, tile4: tile4Q5_KVNNIGo,
		expand: expandQ8_KPacked, xblock: blockQ8_KP,
		packed: packedKernels{group: packGroupK, block: blockQ5_Kx16, rows: q5KPackedRows16VNNIGo, tile8: q5KPackedTile8VNNIGo, tile4: q5KPackedTile4VNNIGo},
	}
	k.q6_K = kqRows{
		rows4: rows4Q6_KVNNIGo, tile4: tile4Q6_KVNNIGo,
		expand: expandQ8_KQ6, xblock: blockQ8_KQ6,
		packed: packedKernels{group: packGroupK, block: blockQ6_Kx16, rows: q6KPackedRows16VNNIGo, tile8: q6KPackedTile8VNNIGo, tile4: q6KPackedTile4VNNIGo},
	}
	if x86.bf16 {
		k.dotBF16 = dotBF16AVX512Go
	}
	return k
}

func archKernels() kernelSet {
	switch {
	case x86.avx512:
		return avx512Kernels()
	case x86.avx2:
		return avx2Kernels()
	}
	return refKernels
}

// The assembly trusts its arguments; these wrappers check every length
// (with the checks of cpu_asm.go) so that a bad call panics in Go instead
// of reading out of bounds.

func checkTile4(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, dx []float32, nb, wblock int) {
	if nb <= 0 || wstride < nb*wblock || xstride < nb*blockQ8_0 || ostride < 4 {
		panic("tensor: tile4: bad block count or stride")
	}
	_, _, _, _ = out[3*ostride+3], w[3*wstride+nb*wblock-1], x[3*xstride+nb*blockQ8_0-1], dx[4*nb-1]
}

func dotQ8_0Q8_0AVX2Go(w, x []byte, nb int) float32 {
	if !checkDot(w, x, nb, blockQ8_0) {
		return 0
	}
	return dotQ8_0Q8_0AVX2(w, x, nb)
}

func dotQ4_0Q8_0AVX2Go(w, x []byte, nb int) float32 {
	if !checkDot(w, x, nb, blockQ4_0) {
		return 0
	}
	return dotQ4_0Q8_0AVX2(w, x, nb)
}

func quantizeQ8_0AVX2Go(dst []byte, src []float32) {
	nb := len(src) / qk8_0
	if nb == 0 {
		return
	}
	_ = dst[nb*blockQ8_0-1]
	quantizeQ8_0AVX2(dst, src[:nb*qk8_0])
}

func rows4Q8_0AVX2Go(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int) {
	checkRows4(out, w, wstride, x, dx, nb, blockQ8_0)
	rows4Q8_0AVX2(out, w, wstride, x, dx, nb)
}

func rows4Q4_0AVX2Go(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int) {
	checkRows4(out, w, wstride, x, dx, nb, blockQ4_0)
	rows4Q4_0AVX2(out, w, wstride, x, dx, nb)
}

func rows4Q8_0VNNIGo(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int) {
	checkRows4(out, w, wstride, x, dx, nb, blockQ8_0)
	rows4Q8_0VNNI(out, w, wstride, x, dx, nb)
}

func rows4Q4_0VNNIGo(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int) {
	checkRows4(out, w, wstride, x, dx, nb, blockQ4_0)
	rows4Q4_0VNNI(out, w, wstride, x, dx, nb)
}

func tile4Q8_0VNNIGo(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, dx []float32, nb int) {
	checkTile4(out, ostride, w, wstride, x, xstride, dx, nb, blockQ8_0)
	tile4Q8_0VNNI(out, ostride, w, wstride, x, xstride, dx, nb)
}

func tile4Q4_0VNNIGo(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, dx []float32, nb int) {
	checkTile4(out, ostride, w, wstride, x, xstride, dx, nb, blockQ4_0)
	tile4Q4_0VNNI(out, ostride, w, wstride, x, xstride, dx, nb)
}

func expandQ8_0AVX2Go(dst, src []byte, nb int) {
	if nb <= 0 {
		return
	}
	_, _ = dst[nb*blockQ8_0X-1], src[nb*blockQ8_0-1]
	expandQ8_0AVX2(dst, src, nb, 3)
}

func checkRows8(w []byte, wstride int, xx []byte, xstride, nb, tokens int) {
	if nb <= 0 || wstride < nb*blockQ4_0 || tokens > 1 && xstride < nb*blockQ8_0X {
		panic("tensor: rows8: bad block count or stride")
	}
	_, _ = w[7*wstride+nb*blockQ4_0-1], xx[(tokens-1)*xstride+nb*blockQ8_0X-1]
}

func q4Rows8AVX2Go(out []float32, w []byte, wstride int, xx []byte, nb int) {
	checkRows8(w, wstride, xx, 0, nb, 1)
	_ = out[7]
	q4Rows8AVX2(out, w, wstride, xx, nb)
}

func q4Rows8VNNIGo(out []float32, w []byte, wstride int, xx []byte, nb int) {
	checkRows8(w, wstride, xx, 0, nb, 1)
	_ = out[7]
	q4Rows8VNNI(out, w, wstride, xx, nb)
}

func q4Tile8VNNIGo(out []float32, ostride int, w []byte, wstride int, xx []byte, xstride int, nb int) {
	checkRows8(w, wstride, xx, xstride, nb, 8)
	if ostride < 8 {
		panic("tensor: tile8: bad output stride")
	}
	_ = out[7*ostride+7]
	q4Tile8VNNI(out, ostride, w, wstride, xx, xstride, nb)
}

func dotQ4_KQ8_KAVX2Go(w, x []byte, nb int) float32 {
	if !checkDotK(w, x, nb, blockQ4_K) {
		return 0
	}
	return dotQ4_KQ8_KAVX2(w, x, nb)
}

func dotQ6_KQ8_KAVX2Go(w, x []byte, nb int) float32 {
	if !checkDotK(w, x, nb, blockQ6_K) {
		return 0
	}
	return dotQ6_KQ8_KAVX2(w, x, nb)
}

func dotQ5_KQ8_KAVX2Go(w, x []byte, nb int) float32 {
	if !checkDotK(w, x, nb, blockQ5_K) {
		return 0
	}
	return dotQ5_KQ8_KAVX2(w, x, nb)
}

// permuteQ8K reorders the quants of each Q8_K block for the AVX-512
// Q4_K and Q5_K kernels. These load 64 bytes of weight quants, whose low
// nibbles are sub-blocks 2c and 2c+2 and whose high nibbles are 2c+1 and
// 2c+3 (c = 0, 2); the activations of the 32-element sub-blocks are put
// in the same order: 0 2 1 3 4 6 5 7.
func permuteQ8K(dst, src []byte, nb int) {
	if nb <= 0 {
		return
	}
	_, _ = dst[nb*blockQ8_K-1], src[nb*blockQ8_K-1]
	for b := 0; b < nb; b++ {
		s := src[b*blockQ8_K : (b+1)*blockQ8_K]
		d := dst[b*blockQ8_K : (b+1)*blockQ8_K]
		copy(d[:q8KQsOff], s[:q8KQsOff])
		for i, sub := range [8]int{0, 2, 1, 3, 4, 6, 5, 7} {
			copy(d[q8KQsOff+32*i:q8KQsOff+32*i+32], s[q8KQsOff+32*sub:])
		}
		copy(d[q8KSumsOff:], s[q8KSumsOff:])
	}
}

// checkKQRows checks the arguments of a k-quant kernel: rows weight rows
// (a multiple of 4) against tokens activation rows.
func checkKQRows(out []float32, ostride int, w []byte, wstride int, x []byte, xstride, nb, wblock, rows, tokens int) {
	if nb <= 0 || rows <= 0 || rows%4 != 0 || wstride < nb*wblock || tokens > 1 && (xstride < nb*blockQ8_K || ostride < 4) {
		panic("tensor: k-quant rows: bad block count, row count or stride")
	}
	_, _, _ = out[(tokens-1)*ostride+rows-1], w[(rows-1)*wstride+nb*wblock-1], x[(tokens-1)*xstride+nb*blockQ8_K-1]
}

func rows4Q4_KVNNIGo(out []float32, w []byte, wstride int, x []byte, nb int) {
	checkKQRows(out, 0, w, wstride, x, 0, nb, blockQ4_K, len(out), 1)
	rows4Q4_KVNNI(out, w, wstride, x, nb)
}

func rows4Q5_KVNNIGo(out []float32, w []byte, wstride int, x []byte, nb int) {
	checkKQRows(out, 0, w, wstride, x, 0, nb, blockQ5_K, len(out), 1)
	rows4Q5_KVNNI(out, w, wstride, x, nb)
}

func rows4Q6_KVNNIGo(out []float32, w []byte, wstride int, x []byte, nb int) {
	checkKQRows(out, 0, w, wstride, x, 0, nb, blockQ6_K, len(out), 1)
	rows4Q6_KVNNI(out, w, wstride, x, nb)
}

func tile4Q4_KVNNIGo(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, nb int) {
	checkKQRows(out, ostride, w, wstride, x, xstride, nb, blockQ4_K, 4, 4)
	tile4Q4_KVNNI(out, ostride, w, wstride, x, xstride, nb)
}

func tile8Q4_KVNNIGo(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, nb int) {
	checkKQRows(out, ostride, w, wstride, x, xstride, nb, blockQ4_K, 4, 8)
	tile8Q4_KVNNI(out, ostride, w, wstride, x, xstride, nb)
}

func tile4Q5_KVNNIGo(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, nb int) {
	checkKQRows(out, ostride, w, wstride, x, xstride, nb, blockQ5_K, 4, 4)
	tile4Q5_KVNNI(out, ostride, w, wstride, x, xstride, nb)
}

func tile4Q6_KVNNIGo(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, nb int) {
	checkKQRows(out, ostride, w, wstride, x, xstride, nb, blockQ6_K, 4, 4)
	tile4Q6_KVNNI(out, ostride, w, wstride, x, xstride, nb)
}

// dotBF16AVX2Go and dotBF16AVX512Go run the assembly on the largest
// whole number of its steps and add the rest with the reference.
func dotBF16AVX2Go(w, x []byte, nb int) float32 {
	return dotBF16Split(w, x, nb, 32, dotBF16AVX2)
}

func dotBF16AVX512Go(w, x []byte, nb int) float32 {
	return dotBF16Split(w, x, nb, 128, dotBF16AVX512)
}

func dotBF16Split(w, x []byte, nb, step int, dot func(w, x []byte, n int) float32) float32 {
	n := nb / step * step
	var s float32
	if n > 0 {
		_, _ = w[2*n-1], x[2*n-1]
		s = dot(w, x, n)
	}
	if n < nb {
		s += dotBF16Ref(w[2*n:], x[2*n:], nb-n)
	}
	return s
}

func dotF32AVX2Go(w []byte, x []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	_ = w[4*len(x)-1]
	return dotF32AVX2(w, x)
}

func dotF16AVX2Go(w, x []byte, nb int) float32 {
	if nb <= 0 {
		return 0
	}
	_, _ = w[2*nb-1], x[2*nb-1]
	return dotF16AVX2(w, x, nb)
}

// Assembly kernels (q8_amd64.s, f32_amd64.s). Activation quants must lie
// in [-127, 127], as quantizeQ8_0Act makes them; weight quants may be any
// int8.

//go:noescape
func quantizeQ8_0AVX2(dst []byte, src []float32)

//go:noescape
func dotQ8_0Q8_0AVX2(w, x []byte, nb int) float32

//go:noescape
func dotQ4_0Q8_0AVX2(w, x []byte, nb int) float32

//go:noescape
func rows4Q8_0AVX2(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)

//go:noescape
func rows4Q4_0AVX2(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)

//go:noescape
func rows4Q8_0VNNI(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)

//go:noescape
func rows4Q4_0VNNI(out []float32, w []byte, wstride int, x []byte, dx []float32, nb int)

//go:noescape
func tile4Q8_0VNNI(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, dx []float32, nb int)

//go:noescape
func tile4Q4_0VNNI(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, dx []float32, nb int)

//go:noescape
func dotF32AVX2(w []byte, x []float32) float32

//go:noescape
func dotF16AVX2(w, x []byte, nb int) float32

// expandQ8_0AVX2 writes -sum(q)<<shift as each block's correction.
//
//go:noescape
func expandQ8_0AVX2(dst, src []byte, nb int, shift int)

//go:noescape
func q4Rows8AVX2(out []float32, w []byte, wstride int, xx []byte, nb int)

//go:noescape
func q4Rows8VNNI(out []float32, w []byte, wstride int, xx []byte, nb int)

//go:noescape
func q4Tile8VNNI(out []float32, ostride int, w []byte, wstride int, xx []byte, xstride int, nb int)

//go:noescape
func dotQ4_KQ8_KAVX2(w, x []byte, nb int) float32

//go:noescape
func dotQ6_KQ8_KAVX2(w, x []byte, nb int) float32

//go:noescape
func dotQ5_KQ8_KAVX2(w, x []byte, nb int) float32

//go:noescape
func rows4Q4_KVNNI(out []float32, w []byte, wstride int, x []byte, nb int)

//go:noescape
func rows4Q5_KVNNI(out []float32, w []byte, wstride int, x []byte, nb int)

//go:noescape
func rows4Q6_KVNNI(out []float32, w []byte, wstride int, x []byte, nb int)

//go:noescape
func tile4Q4_KVNNI(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, nb int)

//go:noescape
func tile8Q4_KVNNI(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, nb int)

//go:noescape
func tile4Q5_KVNNI(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, nb int)

//go:noescape
func tile4Q6_KVNNI(out []float32, ostride int, w []byte, wstride int, x []byte, xstride int, nb int)

//go:noescape
func dotBF16AVX2(w, x []byte, n int) float32

//go:noescape
func dotBF16AVX512(w, x []byte, n int) float32
