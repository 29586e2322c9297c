//go:build !purego

package tensor

// Kernels over packed Q4_0 weights (q4pack_amd64.s). w is one packed group
// of eight rows, nb blocks; xx holds expanded activations (expandQ8_0).
//
//go:noescape
func q4PackedRows8VNNI(out []float32, w []byte, xx []byte, nb int)

//go:noescape
func q4PackedRows8AVX2(out []float32, w []byte, xx []byte, nb int)

//go:noescape
func q4PackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

func checkPacked8(out []float32, w, xx []byte, nb int) {
	if nb <= 0 {
		panic("tensor: packed rows8: bad block count")
	}
	_, _, _ = out[7], w[nb*blockQ4_0x8-1], xx[nb*blockQ8_0X-1]
}

func q4PackedRows8VNNIGo(out []float32, w []byte, xx []byte, nb int) {
	checkPacked8(out, w, xx, nb)
	q4PackedRows8VNNI(out, w, xx, nb)
}

func q4PackedRows8AVX2Go(out []float32, w []byte, xx []byte, nb int) {
	checkPacked8(out, w, xx, nb)
	q4PackedRows8AVX2(out, w, xx, nb)
}

func q4PackedTile8VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	if nb <= 0 || ostride < 8 || xstride < nb*blockQ8_0X {
		panic("tensor: packed tile8: bad block count or stride")
	}
	_, _, _ = out[7*ostride+7], w[nb*blockQ4_0x8-1], xx[7*xstride+nb*blockQ8_0X-1]
	q4PackedTile8VNNI(out, ostride, w, xx, xstride, nb)
}

//go:noescape
func q8PackedRows8VNNI(out []float32, w []byte, xx []byte, nb int)

//go:noescape
func q8PackedTile8VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

func q8PackedRows8VNNIGo(out []float32, w []byte, xx []byte, nb int) {
	if nb <= 0 {
		panic("tensor: packed rows8: bad block count")
	}
	_, _, _ = out[7], w[nb*blockQ8_0x8-1], xx[nb*blockQ8_0X-1]
	q8PackedRows8VNNI(out, w, xx, nb)
}

func q8PackedTile8VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	if nb <= 0 || ostride < 8 || xstride < nb*blockQ8_0X {
		panic("tensor: packed tile8: bad block count or stride")
	}
	_, _, _ = out[7*ostride+7], w[nb*blockQ8_0x8-1], xx[7*xstride+nb*blockQ8_0X-1]
	q8PackedTile8VNNI(out, ostride, w, xx, xstride, nb)
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
