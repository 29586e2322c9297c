//go:build purego || !amd64

package tensor

func float32sToFP16(dst []uint16, src []float32) {
	for i, f := range src {
		dst[i] = Float32ToFP16(f)
	}
}
