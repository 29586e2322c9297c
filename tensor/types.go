package tensor

import (
	"fmt"
	"math/bits"
)

// Type is a ggml tensor element type, numbered as in GGUF files.
type Type uint32

// The ggml type ids. Gaps are ids ggml has retired.
const (
	F32     Type = 0
	F16     Type = 1
	Q4_0    Type = 2
	Q4_1    Type = 3
	Q5_0    Type = 6
	Q5_1    Type = 7
	Q8_0    Type = 8
	Q8_1    Type = 9
	Q2_K    Type = 10
	Q3_K    Type = 11
	Q4_K    Type = 12
	Q5_K    Type = 13
	Q6_K    Type = 14
	Q8_K    Type = 15
	IQ2_XXS Type = 16
	IQ2_XS  Type = 17
	IQ3_XXS Type = 18
	IQ1_S   Type = 19
	IQ4_NL  Type = 20
	IQ3_S   Type = 21
	IQ2_S   Type = 22
	IQ4_XS  Type = 23
	I8      Type = 24
	I16     Type = 25
	I32     Type = 26
	I64     Type = 27
	F64     Type = 28
	IQ1_M   Type = 29
	BF16    Type = 30
	TQ1_0   Type = 34
	TQ2_0   Type = 35
	MXFP4   Type = 39
)

// QK_K is the super-block size of the k-quant formats.
const QK_K = 256

type typeInfo struct {
	name       string
	blockSize  int // elements per block
	blockBytes int // bytes per block
}

// typeTable holds every type a GGUF file may name, including ones with no
// kernels yet, so that files using them can be read and described.
var typeTable = map[Type]typeInfo{
	F32:     {"F32", 1, 4},
	F16:     {"F16", 1, 2},
	Q4_0:    {"Q4_0", 32, 18},
	Q4_1:    {"Q4_1", 32, 20},
	Q5_0:    {"Q5_0", 32, 22},
	Q5_1:    {"Q5_1", 32, 24},
	Q8_0:    {"Q8_0", 32, 34},
	Q8_1:    {"Q8_1", 32, 36},
	Q2_K:    {"Q2_K", QK_K, 84},
	Q3_K:    {"Q3_K", QK_K, 110},
	Q4_K:    {"Q4_K", QK_K, 144},
	Q5_K:    {"Q5_K", QK_K, 176},
	Q6_K:    {"Q6_K", QK_K, 210},
	Q8_K:    {"Q8_K", QK_K, 292},
	IQ2_XXS: {"IQ2_XXS", QK_K, 66},
	IQ2_XS:  {"IQ2_XS", QK_K, 74},
	IQ3_XXS: {"IQ3_XXS", QK_K, 98},
	IQ1_S:   {"IQ1_S", QK_K, 50},
	IQ4_NL:  {"IQ4_NL", 32, 18},
	IQ3_S:   {"IQ3_S", QK_K, 110},
	IQ2_S:   {"IQ2_S", QK_K, 82},
	IQ4_XS:  {"IQ4_XS", QK_K, 136},
	I8:      {"I8", 1, 1},
	I16:     {"I16", 1, 2},
	I32:     {"I32", 1, 4},
	I64:     {"I64", 1, 8},
	F64:     {"F64", 1, 8},
	IQ1_M:   {"IQ1_M", QK_K, 56},
	BF16:    {"BF16", 1, 2},
	TQ1_0:   {"TQ1_0", QK_K, 54},
	TQ2_0:   {"TQ2_0", QK_K, 66},
	MXFP4:   {"MXFP4", 32, 17},
}

// Known reports whether t is a type GGUF files may contain.
func (t Type) Known() bool { _, ok := typeTable[t]; return ok }

// String returns ggml's name for the type, e.g. "Q4_0".
func (t Type) String() string {
	if ti, ok := typeTable[t]; ok {
		return ti.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize is the number of elements in one block (1 for plain types).
// It is 0 for an unknown type.
func (t Type) BlockSize() int { return typeTable[t].blockSize }

// BlockBytes is the number of bytes in one block. It is 0 for an unknown type.
func (t Type) BlockBytes() int { return typeTable[t].blockBytes }

// ParseType returns the type named s (as String prints it, case-sensitive).
func ParseType(s string) (Type, bool) {
	for t, ti := range typeTable {
		if ti.name == s {
			return t, true
		}
	}
	return 0, false
}

// RowBytes returns the bytes needed for n elements of type t. n must be a
// multiple of the block size.
func (t Type) RowBytes(n int) (int, error) {
	ti, ok := typeTable[t]
	if !ok {
		return 0, fmt.Errorf("tensor: unknown type %d", uint32(t))
	}
	if n < 0 || n%ti.blockSize != 0 {
		return 0, fmt.Errorf("tensor: %d elements is not a multiple of the %s block size %d", n, ti.name, ti.blockSize)
	}
	return n / ti.blockSize * ti.blockBytes, nil
}

// Bytes returns the size in bytes of a tensor of type t with the given
// dimensions (innermost first, as in GGUF). The innermost dimension must be
// a multiple of the block size. It fails, rather than wrapping, when the
// size does not fit in a uint64.
func (t Type) Bytes(dims []uint64) (uint64, error) {
	ti, ok := typeTable[t]
	if !ok {
		return 0, fmt.Errorf("tensor: unknown type %d", uint32(t))
	}
	if len(dims) == 0 {
		return uint64(ti.blockBytes), nil // a scalar
	}
	if dims[0]%uint64(ti.blockSize) != 0 {
		return 0, fmt.Errorf("tensor: row of %d elements is not a multiple of the %s block size %d", dims[0], ti.name, ti.blockSize)
	}
	total := dims[0] / uint64(ti.blockSize) * uint64(ti.blockBytes)
	for _, d := range dims[1:] {
		hi, lo := bits.Mul64(total, d)
		if hi != 0 {
			return 0, fmt.Errorf("tensor: size of %v %s overflows", dims, ti.name)
		}
		total = lo
	}
	return total, nil
}
