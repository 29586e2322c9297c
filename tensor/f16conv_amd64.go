//go:build !purego

package tensor

//go:noescape
func float32sToFP16F16C(dst []uint16, src []float32)

func float32sToFP16(dst []uint16, src []float32) {
	n := 0
	if x86.avx2 { // implies F16C
		if n = len(src) &^ 7; n > 0 {
			float32sToFP16F16C(dst[:n], src[:n])
		}
	}
	for i := n; i < len(src); i++ {
		dst[i] = Float32ToFP16(src[i])
	}
}
