package tensor

// Kernel dispatch. The hot kernels are reached only through the functions
// in this file, each of which picks an implementation. Today every one is
// the plain-Go reference (the *Ref functions). An accelerated kernel goes
// in an architecture file built under !purego and is chosen here when
// accelerated is true, so a purego build always runs the reference path.

// accelerated reports whether kernels faster than the plain-Go reference
// are compiled in and usable on this CPU. None exist yet.
const accelerated = false

func dotF32(w []byte, x []float32) float32         { return dotF32Ref(w, x) }
func dotF16(w, x []byte, nb int) float32           { return dotF16Ref(w, x, nb) }
func dotBF16(w, x []byte, nb int) float32          { return dotBF16Ref(w, x, nb) }
func dotQ4_0Q8_0(w, x []byte, nb int) float32      { return dotQ4_0Q8_0Ref(w, x, nb) }
func dotQ8_0Q8_0(w, x []byte, nb int) float32      { return dotQ8_0Q8_0Ref(w, x, nb) }
func dotQ4_KQ8_K(w, x []byte, nb int) float32      { return dotQ4_KQ8_KRef(w, x, nb) }
func dotQ5_KQ8_K(w, x []byte, nb int) float32      { return dotQ5_KQ8_KRef(w, x, nb) }
func dotQ6_KQ8_K(w, x []byte, nb int) float32      { return dotQ6_KQ8_KRef(w, x, nb) }
func quantizeRowQ8_0Act(dst []byte, src []float32) { quantizeQ8_0Act(dst, src) }
func quantizeRowQ8_K(dst []byte, src []float32)    { quantizeQ8_K(dst, src) }
