//go:build !purego && (amd64 || arm64)

package tensor

// Length checks shared by the assembly wrappers of every architecture.

// checkDot checks the arguments of a one-row dot product of nb weight
// blocks of wblock bytes with Q8_0 activations; false means nb <= 0 and
// the product is 0.
func checkDot(w, x []byte, nb, wblock int) bool {
	if nb <= 0 {
		return false
	}
	_, _ = w[nb*wblock-1], x[nb*blockQ8_0-1]
	return true
}

// checkDotK is checkDot for Q8_K activations.
func checkDotK(w, x []byte, nb, wblock int) bool {
	if nb <= 0 {
		return false
	}
	_, _ = w[nb*wblock-1], x[nb*blockQ8_K-1]
	return true
}

// checkRows4 checks the arguments of a four-row kernel (q8Rows.rows4).
func checkRows4(out []float32, w []byte, wstride int, x []byte, dx []float32, nb, wblock int) {
	if nb <= 0 || wstride < nb*wblock {
		panic("tensor: rows4: bad block count or stride")
	}
	_, _, _, _ = out[3], w[3*wstride+nb*wblock-1], x[nb*blockQ8_0-1], dx[nb-1]
}
