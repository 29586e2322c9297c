package convert

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"

	"github.com/joule-llm/joule/safetensors"
	"github.com/joule-llm/joule/tensor"
)

// job is one tensor of the output.
type job struct {
	name  string
	src   *safetensors.Tensor // nil for a generated tensor
	shape []uint64            // row-major, outermost first
	typ   tensor.Type
	// heads, if not 0, is the number of heads whose rows are permuted
	// from the half-split rotary layout to adjacent pairs.
	heads int
	// shift is added to every value (Gemma's norms). llama.cpp adds it in
	// float32, or in float16 to a float16 source, which it keeps as it is
	// until it writes the result.
	shift float32
	// shape may have fewer rows than the source (Gemma 3's embedding
	// without the rows beyond the vocabulary); the first rows are kept.

	// The result: direct bytes (the source itself, or generated data), or
	// size bytes at off in the scratch file.
	direct    []byte
	off, size int64
}

// decodable returns the tensor type a safetensors dtype decodes as.
func decodable(d safetensors.DType) (tensor.Type, error) {
	switch d {
	case safetensors.F32:
		return tensor.F32, nil
	case safetensors.F16:
		return tensor.F16, nil
	case safetensors.BF16:
		return tensor.BF16, nil
	case safetensors.F64:
		return tensor.F64, nil
	}
	return 0, fmt.Errorf("dtype %s is not supported (F32, F16, BF16, F64)", d)
}

// chunkElements bounds the float32 buffer a tensor is converted through.
const chunkElements = 1 << 20

// convert produces j's data: the source bytes themselves when they need
// no change, else the converted bytes, appended to sc.
func (j *job) convert(sc *scratch) error {
	if j.src == nil {
		return nil
	}
	from, err := decodable(j.src.DType)
	if err != nil {
		return fmt.Errorf("convert: tensor %q: %w", j.src.Name, err)
	}
	rows, cols := 1, int(j.src.Elements())
	inRow := int(j.src.End - j.src.Begin)
	if len(j.shape) > 1 || j.heads > 0 {
		srcRows := int(j.src.Shape[0])
		rows, cols, inRow = int(j.shape[0]), cols/srcRows, inRow/srcRows
	}
	if j.heads == 0 && j.shift == 0 && from == j.typ {
		j.direct = j.src.Data[:rows*inRow]
		return nil
	}
	outRow, err := j.typ.RowBytes(cols)
	if err != nil {
		return fmt.Errorf("convert: tensor %q: %w", j.name, err)
	}
	j.off, j.size = sc.size, int64(rows)*int64(outRow)
	step := max(1, chunkElements/max(cols, 1))
	buf := make([]float32, step*cols)
	out := make([]byte, step*outRow)
	for r0 := 0; r0 < rows; r0 += step {
		n := min(step, rows-r0)
		for r := r0; r < r0+n; r++ {
			s := j.sourceRow(r, rows)
			row := j.src.Data[s*inRow : (s+1)*inRow]
			if from == j.typ && j.shift == 0 {
				copy(out[(r-r0)*outRow:], row)
				continue
			}
			vals := buf[(r-r0)*cols : (r-r0+1)*cols]
			if err := decode(from, row, vals); err != nil {
				return fmt.Errorf("convert: tensor %q: %w", j.src.Name, err)
			}
			if j.shift != 0 {
				for i, v := range vals {
					v += j.shift
					if from == tensor.F16 {
						v = tensor.FP16ToFloat32(tensor.Float32ToFP16(v))
					}
					vals[i] = v
				}
			}
		}
		if from != j.typ || j.shift != 0 {
			if err := tensor.QuantizeTo(j.typ, out[:n*outRow], buf[:n*cols]); err != nil {
				return fmt.Errorf("convert: tensor %q: %w", j.name, err)
			}
		}
		if err := sc.write(out[:n*outRow]); err != nil {
			return err
		}
	}
	return nil
}

// sourceRow returns the source row of output row r. Within each head of
// d rows, llama.cpp's "llama" layout pairs rows (2i, 2i+1) where the
// Hugging Face layout pairs rows (i, i + d/2).
func (j *job) sourceRow(r, rows int) int {
	if j.heads == 0 {
		return r
	}
	d := rows / j.heads
	h, i := r/d, r%d
	return h*d + (i%2)*(d/2) + i/2
}

// decode converts one row of src, of type t, to float32.
func decode(t tensor.Type, src []byte, dst []float32) error {
	if t == tensor.F64 {
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
		return nil
	}
	return tensor.Dequantize(t, src, dst)
}

func putF32(b []byte, f float32) { binary.LittleEndian.PutUint32(b, math.Float32bits(f)) }

// scratch is a temporary file that converted tensors are appended to, so
// that they need not all be held in memory until the GGUF file is
// written. It is mapped back into memory (paged in by the system as the
// writer reads it) once everything is converted.
type scratch struct {
	f     *os.File
	w     *bufio.Writer
	size  int64
	unmap func() error
}

func newScratch(dir string) (*scratch, error) {
	f, err := os.CreateTemp(dir, ".joule-convert-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("convert: scratch file: %w", err)
	}
	return &scratch{f: f, w: bufio.NewWriterSize(f, 4<<20)}, nil
}

func (s *scratch) write(b []byte) error {
	n, err := s.w.Write(b)
	s.size += int64(n)
	if err != nil {
		return fmt.Errorf("convert: scratch file: %w", err)
	}
	return nil
}

// mapped flushes the file and returns its contents.
func (s *scratch) mapped() ([]byte, error) {
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("convert: scratch file: %w", err)
	}
	if s.size == 0 {
		return nil, nil
	}
	data, unmap, err := mapFile(s.f, s.size)
	if err != nil {
		return nil, fmt.Errorf("convert: scratch file: %w", err)
	}
	s.unmap = unmap
	return data, nil
}

// remove unmaps and deletes the file.
func (s *scratch) remove() {
	if s.unmap != nil {
		s.unmap()
		s.unmap = nil
	}
	s.f.Close()
	os.Remove(s.f.Name())
}
