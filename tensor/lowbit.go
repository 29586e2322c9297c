package tensor

// lowbitKind says how MatMul handles the weight types beyond the core set
// (the legacy 4- and 5-bit types, the low-bit k-quants and the
// non-linear IQ4 types), with their plain-Go dot products.
func lowbitKind(t Type) (matmulKind, bool) {
	return matmulKind{}, false
}
