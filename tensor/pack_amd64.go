//go:build !purego

package tensor

// Kernels over packed Q4_0 and Q8_0 weights (q4pack_amd64.s,
// q8pack_amd64.s). w is one packed group of eight (AVX2) or sixteen
// (AVX-512) rows, nb blocks; xx holds expanded activations
// (expandQ8_0AVX2, expandQ8_0Bias128Go).

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

// checkPackedRows checks a packed rows kernel's arguments: rows rows of
// nb blocks of block bytes each.
func checkPackedRows(out []float32, w, xx []byte, nb, rows, block int) {
	if nb <= 0 {
		panic("tensor: packed rows: bad block count")
	}
	_, _, _ = out[rows-1], w[nb*rows*block-1], xx[nb*blockQ8_0X-1]
}

// checkPackedTile checks a packed tile kernel's arguments: sixteen rows of
// nb blocks of block bytes each, against tokens tokens.
func checkPackedTile(out []float32, ostride int, w []byte, xx []byte, xstride, nb, block, tokens int) {
	if nb <= 0 || ostride < 16 || xstride < nb*blockQ8_0X {
		panic("tensor: packed tile: bad block count or stride")
	}
	_, _, _ = out[(tokens-1)*ostride+15], w[nb*16*block-1], xx[(tokens-1)*xstride+nb*blockQ8_0X-1]
}

func q4PackedRows8AVX2Go(out []float32, w []byte, xx []byte, nb int) {
	checkPackedRows(out, w, xx, nb, 8, blockQ4_0)
	q4PackedRows8AVX2(out, w, xx, nb)
}

func q4PackedRows16VNNIGo(out []float32, w []byte, xx []byte, nb int) {
	checkPackedRows(out, w, xx, nb, 16, blockQ4_0)
	q4PackedRows16VNNI(out, w, xx, nb)
}

func q4PackedTile8VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkPackedTile(out, ostride, w, xx, xstride, nb, blockQ4_0, 8)
	q4PackedTile8VNNI(out, ostride, w, xx, xstride, nb)
}

func q4PackedTile4VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkPackedTile(out, ostride, w, xx, xstride, nb, blockQ4_0, 4)
	q4PackedTile4VNNI(out, ostride, w, xx, xstride, nb)
}

func q8PackedRows16VNNIGo(out []float32, w []byte, xx []byte, nb int) {
	checkPackedRows(out, w, xx, nb, 16, blockQ8_0)
	q8PackedRows16VNNI(out, w, xx, nb)
}

func q8PackedTile8VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkPackedTile(out, ostride, w, xx, xstride, nb, blockQ8_0, 8)
	q8PackedTile8VNNI(out, ostride, w, xx, xstride, nb)
}

func q8PackedTile4VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkPackedTile(out, ostride, w, xx, xstride, nb, blockQ8_0, 4)
	q8PackedTile4VNNI(out, ostride, w, xx, xstride, nb)
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

//go:noescape
func q4KPackedRows16VNNI(out []float32, w []byte, xx []byte, nb int)

//go:noescape
func q4KPackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

func q4KPackedRows16VNNIGo(out []float32, w []byte, xx []byte, nb int) {
	if nb <= 0 {
		panic("tensor: packed Q4_K rows: bad block count")
	}
	_, _, _ = out[15], w[nb*blockQ4_Kx16-1], xx[nb*blockQ8_KP-1]
	q4KPackedRows16VNNI(out, w, xx, nb)
}

func q4KPackedTile8VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	if nb <= 0 || ostride < 16 || xstride < nb*blockQ8_KP {
		panic("tensor: packed Q4_K tile8: bad block count or stride")
	}
	_, _, _ = out[7*ostride+15], w[nb*blockQ4_Kx16-1], xx[7*xstride+nb*blockQ8_KP-1]
	q4KPackedTile8VNNI(out, ostride, w, xx, xstride, nb)
}

//go:noescape
func q6KPackedRows16VNNI(out []float32, w []byte, xx []byte, nb int)

//go:noescape
func q6KPackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

func q6KPackedRows16VNNIGo(out []float32, w []byte, xx []byte, nb int) {
	if nb <= 0 {
		panic("tensor: packed Q6_K rows: bad block count")
	}
	_, _, _ = out[15], w[nb*blockQ6_Kx16-1], xx[nb*blockQ8_KQ6-1]
	q6KPackedRows16VNNI(out, w, xx, nb)
}

func q6KPackedTile8VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	if nb <= 0 || ostride < 16 || xstride < nb*blockQ8_KQ6 {
		panic("tensor: packed Q6_K tile8: bad block count or stride")
	}
	_, _, _ = out[7*ostride+15], w[nb*blockQ6_Kx16-1], xx[7*xstride+nb*blockQ8_KQ6-1]
	q6KPackedTile8VNNI(out, ostride, w, xx, xstride, nb)
}

//go:noescape
func q4KPackedTile4VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

//go:noescape
func q6KPackedTile4VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

// checkKPackedTile4 checks a packed k-quant four-token tile's arguments:
// sixteen rows of nb blocks of pblock bytes per group, xblock-byte
// activation blocks.
func checkKPackedTile4(out []float32, ostride int, w []byte, xx []byte, xstride, nb, pblock, xblock int) {
	if nb <= 0 || ostride < 16 || xstride < nb*xblock {
		panic("tensor: packed k-quant tile4: bad block count or stride")
	}
	_, _, _ = out[3*ostride+15], w[nb*pblock-1], xx[3*xstride+nb*xblock-1]
}

func q4KPackedTile4VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkKPackedTile4(out, ostride, w, xx, xstride, nb, blockQ4_Kx16, blockQ8_KP)
	q4KPackedTile4VNNI(out, ostride, w, xx, xstride, nb)
}

func q6KPackedTile4VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkKPackedTile4(out, ostride, w, xx, xstride, nb, blockQ6_Kx16, blockQ8_KQ6)
	q6KPackedTile4VNNI(out, ostride, w, xx, xstride, nb)
}

//go:noescape
func q5KPackedRows16VNNI(out []float32, w []byte, xx []byte, nb int)

//go:noescape
func q5KPackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

func q5KPackedRows16VNNIGo(out []float32, w []byte, xx []byte, nb int) {
	if nb <= 0 {
		panic("tensor: packed Q5_K rows: bad block count")
	}
	_, _, _ = out[15], w[nb*blockQ5_Kx16-1], xx[nb*blockQ8_KP-1]
	q5KPackedRows16VNNI(out, w, xx, nb)
}

func q5KPackedTile8VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	if nb <= 0 || ostride < 16 || xstride < nb*blockQ8_KP {
		panic("tensor: packed Q5_K tile8: bad block count or stride")
	}
	_, _, _ = out[7*ostride+15], w[nb*blockQ5_Kx16-1], xx[7*xstride+nb*blockQ8_KP-1]
	q5KPackedTile8VNNI(out, ostride, w, xx, xstride, nb)
}

//go:noescape
func q5KPackedTile4VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

func q5KPackedTile4VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	checkKPackedTile4(out, ostride, w, xx, xstride, nb, blockQ5_Kx16, blockQ8_KP)
	q5KPackedTile4VNNI(out, ostride, w, xx, xstride, nb)
}
