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
func q8PackedTile2VNNI(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int)

func q8PackedRows8VNNIGo(out []float32, w []byte, xx []byte, nb int) {
	if nb <= 0 {
		panic("tensor: packed rows8: bad block count")
	}
	_, _, _ = out[7], w[nb*blockQ8_0x8-1], xx[nb*blockQ8_0W-1]
	q8PackedRows8VNNI(out, w, xx, nb)
}

// q8PackedTile8VNNIGo does eight tokens as four pairs: with eight float
// accumulators per row and token, two tokens fill the registers.
func q8PackedTile8VNNIGo(out []float32, ostride int, w []byte, xx []byte, xstride int, nb int) {
	if nb <= 0 || ostride < 8 || xstride < nb*blockQ8_0W {
		panic("tensor: packed tile8: bad block count or stride")
	}
	_, _, _ = out[7*ostride+7], w[nb*blockQ8_0x8-1], xx[7*xstride+nb*blockQ8_0W-1]
	for t := 0; t < 8; t += 2 {
		q8PackedTile2VNNI(out[t*ostride:], ostride, w, xx[t*xstride:], xstride, nb)
	}
}
