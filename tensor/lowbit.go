package tensor

// lowbitKind says how MatMul handles the weight types beyond the core set
// (the legacy 4- and 5-bit types, the low-bit k-quants and the
// non-linear IQ4 types), with their plain-Go dot products. The activation
// types are those of llama.cpp's CPU backend (its vec_dot_type), so that
// the products match it.
func lowbitKind(t Type) (matmulKind, bool) {
	switch t {
	case Q4_1:
		return matmulKind{act: Q8_1, convert: quantizeQ8_1Act, dot: dotQ4_1Q8_1}, true
	case Q5_0:
		return matmulKind{act: Q8_0, convert: quantizeRowQ8_0Act, dot: dotQ5_0Q8_0}, true
	case Q5_1:
		return matmulKind{act: Q8_1, convert: quantizeQ8_1Act, dot: dotQ5_1Q8_1}, true
	case IQ4_NL:
		return matmulKind{act: Q8_0, convert: quantizeRowQ8_0Act, dot: dotIQ4_NLQ8_0}, true
	case Q2_K:
		return matmulKind{act: Q8_K, convert: quantizeRowQ8_K, dot: dotQ2_KQ8_K}, true
	case Q3_K:
		return matmulKind{act: Q8_K, convert: quantizeRowQ8_K, dot: dotQ3_KQ8_K}, true
	case IQ4_XS:
		return matmulKind{act: Q8_K, convert: quantizeRowQ8_K, dot: dotIQ4_XSQ8_K}, true
	}
	return matmulKind{}, false
}
