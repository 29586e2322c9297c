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
	Q8_0   FileType = 7
	Q4_K_S FileType = 14
	Q4_K_M FileType = 15
	Q5_K_S FileType = 16
	Q5_K_M FileType = 17
	Q6_K   FileType = 18
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
	Q8_0:   {"Q8_0", tensor.Q8_0},
	Q4_K_S: {"Q4_K_S", tensor.Q4_K},
	Q4_K_M: {"Q4_K_M", tensor.Q4_K},
	Q5_K_S: {"Q5_K_S", tensor.Q5_K},
	Q5_K_M: {"Q5_K_M", tensor.Q5_K},
	Q6_K:   {"Q6_K", tensor.Q6_K},
	BF16:   {"BF16", tensor.BF16},
}

// FileTypes returns the file types this package can write, in llama.cpp's
// numeric order.
func FileTypes() []FileType {
	return []FileType{AllF32, F16, Q4_0, Q8_0, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, BF16}
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
// llama-quantize's aliases Q4_K and Q5_K (for Q4_K_M and Q5_K_M), or its
// number ("15").
func ParseFileType(s string) (FileType, error) {
	name := strings.ToUpper(strings.TrimSpace(s))
	switch name {
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
