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

func (a attnImpl) dotsHeads(out, q []float32, heads int, k []uint16, stride int) {
	n, d := len(out)/heads, len(q)/heads
	for g := range heads {
		dotsF16QRef(out[g*n:(g+1)*n], q[g*d:(g+1)*d], k, stride)
	}
}

func (a attnImpl) accumulateHeads(out []float32, heads int, v []uint16, stride int, ms, vs []float32) {
	n, d := len(vs)/heads, len(out)/heads
	for g := range heads {
		accumulateF16Ref(out[g*d:(g+1)*d], v, stride, ms[g*n:(g+1)*n], vs[g*n:(g+1)*n])
	}
}
