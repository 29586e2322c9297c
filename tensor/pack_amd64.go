//go:build !purego

package tensor

// Kernels over packed weights (q4pack_amd64.s, q8pack_amd64.s and the
// k-quant ones, q4kpack_amd64.s, q5kpack_amd64.s, q6kpack_amd64.s). w is
// one packed group of eight (AVX2) or sixteen (AVX-512) rows, nb blocks;
// xx holds the activations expanded for them (expandQ8_0AVX2,
// expandQ8_0Bias128Go, expandQ8_KPacked, expandQ8_KQ6). The rows kernels
// compute out[0:rows] for one token, the tiles out[t*ostride+r] for eight
// or four tokens xstride bytes apart.

//go:noescape
func q4PackedRows8AVX2(out []float32, w []byte, xx []byte, nb int)

//go:noescape
func q4PackedRows16VNNI(out []float32, w []byte, xx []byte, nb int)

//go:noescape
func q4PackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

//go:noescape
func q4PackedTile4VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

//go:noescape
func q8PackedRows16VNNI(out []float32, w []byte, xx []byte, nb int)

//go:noescape
func q8PackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

//go:noescape
func q8PackedTile4VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

//go:noescape
func q4KPackedRows16VNNI(out []float32, w []byte, xx []byte, nb int)

//go:noescape
func q4KPackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

//go:noescape
func q4KPackedTile4VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

//go:noescape
func q5KPackedRows16VNNI(out []float32, w []byte, xx []byte, nb int)

//go:noescape
func q5KPackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

//go:noescape
func q5KPackedTile4VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

//go:noescape
func q6KPackedRows16VNNI(out []float32, w []byte, xx []byte, nb int)

//go:noescape
func q6KPackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

//go:noescape
func q6KPackedTile4VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

// checkPacked checks a packed kernel's arguments, which the assembly
// trusts: rows rows of nb blocks of wblock bytes per group (all rows
// together), tokens tokens of nb activation blocks of xblock bytes.
func checkPacked(out []float32, ostride int, w, xx []byte, xstride, nb, wblock, xblock, rows, tokens int) {
	if nb <= 0 || tokens > 1 && (ostride < rows || xstride < nb*xblock) {
		panic("tensor: packed kernel: bad block count or stride")
	}
	_, _, _ = out[(tokens-1)*ostride+rows-1], w[nb*wblock-1], xx[(tokens-1)*xstride+nb*xblock-1]
}

func q4PackedRows8AVX2Go(out []float32, w []byte, xx []byte, nb int) {
	checkPacked(out, 0, w, xx, 0, nb, 8*blockQ4_0, blockQ8_0X, 8, 1)
	q4PackedRows8AVX2(out, w, xx, nb)
}

func q4PackedRows16VNNIGo(out []float32, w []byte, xx []byte, nb int) {
	checkPacked(out, 0, w, xx, 0, nb, 16*blockQ4_0, blockQ8_0X, 16, 1)
	q4PackedRows16VNNI(out, w, xx, nb)
}

func q4PackedTile8VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkPacked(out, ostride, w, xx, xstride, nb, 16*blockQ4_0, blockQ8_0X, 16, 8)
	q4PackedTile8VNNI(out, ostride, w, xx, xstride, nb)
}

func q4PackedTile4VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkPacked(out, ostride, w, xx, xstride, nb, 16*blockQ4_0, blockQ8_0X, 16, 4)
	q4PackedTile4VNNI(out, ostride, w, xx, xstride, nb)
}

func q8PackedRows16VNNIGo(out []float32, w []byte, xx []byte, nb int) {
	checkPacked(out, 0, w, xx, 0, nb, 16*blockQ8_0, blockQ8_0X, 16, 1)
	q8PackedRows16VNNI(out, w, xx, nb)
}

func q8PackedTile8VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkPacked(out, ostride, w, xx, xstride, nb, 16*blockQ8_0, blockQ8_0X, 16, 8)
	q8PackedTile8VNNI(out, ostride, w, xx, xstride, nb)
}

func q8PackedTile4VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkPacked(out, ostride, w, xx, xstride, nb, 16*blockQ8_0, blockQ8_0X, 16, 4)
	q8PackedTile4VNNI(out, ostride, w, xx, xstride, nb)
}

func q4KPackedRows16VNNIGo(out []float32, w []byte, xx []byte, nb int) {
	checkPacked(out, 0, w, xx, 0, nb, blockQ4_Kx16, blockQ8_KP, 16, 1)
	q4KPackedRows16VNNI(out, w, xx, nb)
}

func q4KPackedTile8VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkPacked(out, ostride, w, xx, xstride, nb, blockQ4_Kx16, blockQ8_KP, 16, 8)
	q4KPackedTile8VNNI(out, ostride, w, xx, xstride, nb)
}

func q4KPackedTile4VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkPacked(out, ostride, w, xx, xstride, nb, blockQ4_Kx16, blockQ8_KP, 16, 4)
	q4KPackedTile4VNNI(out, ostride, w, xx, xstride, nb)
}

func q5KPackedRows16VNNIGo(out []float32, w []byte, xx []byte, nb int) {
	checkPacked(out, 0, w, xx, 0, nb, blockQ5_Kx16, blockQ8_KP, 16, 1)
	q5KPackedRows16VNNI(out, w, xx, nb)
}

func q5KPackedTile8VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkPacked(out, ostride, w, xx, xstride, nb, blockQ5_Kx16, blockQ8_KP, 16, 8)
	q5KPackedTile8VNNI(out, ostride, w, xx, xstride, nb)
}

func q5KPackedTile4VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkPacked(out, ostride, w, xx, xstride, nb, blockQ5_Kx16, blockQ8_KP, 16, 4)
	q5KPackedTile4VNNI(out, ostride, w, xx, xstride, nb)
}

func q6KPackedRows16VNNIGo(out []float32, w []byte, xx []byte, nb int) {
	checkPacked(out, 0, w, xx, 0, nb, blockQ6_Kx16, blockQ8_KQ6, 16, 1)
	q6KPackedRows16VNNI(out, w, xx, nb)
}

func q6KPackedTile8VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkPacked(out, ostride, w, xx, xstride, nb, blockQ6_Kx16, blockQ8_KQ6, 16, 8)
	q6KPackedTile8VNNI(out, ostride, w, xx, xstride, nb)
}

func q6KPackedTile4VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkPacked(out, ostride, w, xx, xstride, nb, blockQ6_Kx16, blockQ8_KQ6, 16, 4)
	q6KPackedTile4VNNI(out, ostride, w, xx, xstride, nb)
}

// expandQ8_0Bias128Go expands Q8_0 activations for the packed Q8_0
// kernels: the blocks of expandQ8_0AVX2 with the correction -128*sum(q)
// for weights biased by 128.
func expandQ8_0Bias128Go(dst, src []byte, nb int) {
	if nb <= 0 {
		return
	}
	_, _ = dst[nb*blockQ8_0X-1], src[nb*blockQ8_0-1]
	expandQ8_0AVX2(dst, src, nb, 7)
}
