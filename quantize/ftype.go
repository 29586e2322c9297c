package quantize

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/joule-llm/joule/tensor"
)

// FileType is a llama.cpp file type (enum llama_ftype): the mix of tensor
// types a quantized file holds, stored in its general.file_type key.
type FileType uint32

// The file types this package can write, numbered as llama.cpp numbers
// them.
const (
	AllF32 FileType = 0
	F16    FileType = 1
	Q4_0   FileType = 2
	Q4_1   FileType = 3
	Q8_0   FileType = 7
	Q5_0   FileType = 8
	Q5_1   FileType = 9
	Q2_K   FileType = 10
	Q3_K_S FileType = 11
	Q3_K_M FileType = 12
	Q3_K_L FileType = 13
	Q4_K_S FileType = 14
	Q4_K_M FileType = 15
	Q5_K_S FileType = 16
	Q5_K_M FileType = 17
	Q6_K   FileType = 18
	IQ4_NL FileType = 25
	IQ4_XS FileType = 30
	BF16   FileType = 32
)

// QuantizationVersion is the value of general.quantization_version that
// llama.cpp writes (GGML_QNT_VERSION): the block layouts of the current
// quantized types.
const QuantizationVersion = 2

type fileTypeInfo struct {
	name string
	def  tensor.Type // the type of most tensors
}

var fileTypes = map[FileType]fileTypeInfo{
	AllF32: {"F32", tensor.F32},
	F16:    {"F16", tensor.F16},
	Q4_0:   {"Q4_0", tensor.Q4_0},
	Q4_1:   {"Q4_1", tensor.Q4_1},
	Q8_0:   {"Q8_0", tensor.Q8_0},
	Q5_0:   {"Q5_0", tensor.Q5_0},
	Q5_1:   {"Q5_1", tensor.Q5_1},
	Q2_K:   {"Q2_K", tensor.Q2_K},
	Q3_K_S: {"Q3_K_S", tensor.Q3_K},
	Q3_K_M: {"Q3_K_M", tensor.Q3_K},
	Q3_K_L: {"Q3_K_L", tensor.Q3_K},
	Q4_K_S: {"Q4_K_S", tensor.Q4_K},
	Q4_K_M: {"Q4_K_M", tensor.Q4_K},
	Q5_K_S: {"Q5_K_S", tensor.Q5_K},
	Q5_K_M: {"Q5_K_M", tensor.Q5_K},
	Q6_K:   {"Q6_K", tensor.Q6_K},
	IQ4_NL: {"IQ4_NL", tensor.IQ4_NL},
	IQ4_XS: {"IQ4_XS", tensor.IQ4_XS},
	BF16:   {"BF16", tensor.BF16},
}

// FileTypes returns the file types this package can write, in llama.cpp's
// numeric order.
func FileTypes() []FileType {
	return []FileType{AllF32, F16, Q4_0, Q4_1, Q8_0, Q5_0, Q5_1, Q2_K, Q3_K_S, Q3_K_M, Q3_K_L,
		Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, IQ4_NL, IQ4_XS, BF16}
}

// String returns the name llama-quantize takes for ft, e.g. "Q4_K_M".
func (ft FileType) String() string {
	if fi, ok := fileTypes[ft]; ok {
		return fi.name
	}
	return fmt.Sprintf("ftype(%d)", uint32(ft))
}

// DefaultType is the type ft gives the tensors no rule singles out, or 0
// and false for a file type this package cannot write.
func (ft FileType) DefaultType() (tensor.Type, bool) {
	fi, ok := fileTypes[ft]
	return fi.def, ok
}

// ParseFileType accepts a file type's name in any case ("q4_k_m"),
// llama-quantize's aliases Q3_K, Q4_K and Q5_K (for Q3_K_M, Q4_K_M and
// Q5_K_M), or its number ("15").
func ParseFileType(s string) (FileType, error) {
	name := strings.ToUpper(strings.TrimSpace(s))
	switch name {
	case "Q3_K":
		return Q3_K_M, nil
	case "Q4_K":
		return Q4_K_M, nil
	case "Q5_K":
		return Q5_K_M, nil
	}
	for ft, fi := range fileTypes {
		if fi.name == name {
			return ft, nil
		}
	}
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		if _, ok := fileTypes[FileType(n)]; ok {
			return FileType(n), nil
		}
	}
	names := make([]string, 0, len(fileTypes))
	for _, ft := range FileTypes() {
		names = append(names, ft.String())
	}
	return 0, fmt.Errorf("quantize: unknown or unsupported file type %q (want one of %s)", s, strings.Join(names, ", "))
}
