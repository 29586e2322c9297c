//go:build purego || !amd64

package tensor

// Without assembly kernels every platform runs the references.

func attnArch() attnImpl { return attnRef }

func (attnImpl) dots(out, q []float32, k []uint16, stride int) { dotsF16QRef(out, q, k, stride) }

func (attnImpl) accumulate(out []float32, v []uint16, stride int, ms, vs []float32) {
	accumulateF16Ref(out, v, stride, ms, vs)
}

func (attnImpl) mad(out []float32, v []uint16, s float32) { madF16Ref(out, v, s) }
func (attnImpl) scaleRound(x []float32, s float32)        { scaleRoundF16Ref(x, s) }
func (attnImpl) round(x []float32)                        { roundF16Ref(x) }
func (attnImpl) exp(dst, src []float32)                   { exp32sRef(dst, src) }
