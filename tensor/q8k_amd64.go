//go:build !purego

package tensor

// quantizeQ8_KAVX2Go quantizes whole Q8_K blocks of src into dst with the
// assembly, handing the blocks it declines (see q8k_amd64.s) to the
// reference, so the bytes are always those of quantizeQ8_K.
func quantizeQ8_KAVX2Go(dst []byte, src []float32) {
	nb := len(src) / QK_K
	if nb == 0 {
		return
	}
	_ = dst[nb*blockQ8_K-1]
	for b := 0; b < nb; {
		b += quantizeQ8_KAVX2(dst[b*blockQ8_K:], src[b*QK_K:nb*QK_K], nb-b)
		if b < nb {
			quantizeQ8_K(dst[b*blockQ8_K:(b+1)*blockQ8_K], src[b*QK_K:(b+1)*QK_K])
			b++
		}
	}
}

// quantizeQ8_KAVX2 quantizes up to nb blocks and returns how many it did.
//
//go:noescape
func quantizeQ8_KAVX2(dst []byte, src []float32, nb int) int
