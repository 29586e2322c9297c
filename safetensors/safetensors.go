package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sort"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header accepted, as in the reference
// implementation.
const MaxHeaderSize = 100_000_000

// DType is a tensor element type, named as in the file's header.
type DType string

// The dtypes of the format.
const (
	BOOL   DType = "BOOL"
	U8     DType = "U8"
	I8     DType = "I8"
	U16    DType = "U16"
	I16    DType = "I16"
	U32    DType = "U32"
	I32    DType = "I32"
	U64    DType = "U64"
	I64    DType = "I64"
	F16    DType = "F16"
	BF16   DType = "BF16"
	F32    DType = "F32"
	F64    DType = "F64"
	C64    DType = "C64"
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
	F8E8M0 DType = "F8_E8M0"
	F6E2M3 DType = "F6_E2M3"
	F6E3M2 DType = "F6_E3M2"
	F4     DType = "F4"
)

var dtypeBits = map[DType]uint64{
	BOOL: 8, U8: 8, I8: 8, U16: 16, I16: 16, U32: 32, I32: 32, U64: 64, I64: 64,
	F16: 16, BF16: 16, F32: 32, F64: 64, C64: 64,
	F8E4M3: 8, F8E5M2: 8, F8E8M0: 8, F6E2M3: 6, F6E3M2: 6, F4: 4,
}

// Bits returns the size of one element in bits, or 0 for an unknown dtype.
// The sub-byte types (F4, F6_*) are packed; a tensor of them must fill
// whole bytes.
func (d DType) Bits() int { return int(dtypeBits[d]) }

// Tensor is one tensor of a file.
type Tensor struct {
	Name  string
	DType DType
	// Shape lists the dimensions outermost first (row-major, as PyTorch
	// writes them). An empty shape is a scalar.
	Shape []uint64
	// Begin and End are the tensor's byte range in the data section (the
	// header's data_offsets).
	Begin, End uint64
	// Data holds the tensor's bytes. For a File it aliases the file and is
	// valid until Close.
	Data []byte
}

// Elements returns the number of elements of the tensor.
func (t *Tensor) Elements() uint64 {
	n, _ := elements(t.Shape)
	return n
}

// elements multiplies out a shape, reporting overflow.
func elements(shape []uint64) (uint64, bool) {
	n := uint64(1)
	for _, d := range shape {
		hi, lo := bits.Mul64(n, d)
		if hi != 0 {
			return 0, false
		}
		n = lo
	}
	return n, true
}

// byteSize returns the bytes a tensor of dtype and shape takes.
func byteSize(dtype DType, shape []uint64) (uint64, error) {
	b, ok := dtypeBits[dtype]
	if !ok {
		return 0, fmt.Errorf("unknown dtype %q", dtype)
	}
	n, ok := elements(shape)
	if !ok {
		return 0, fmt.Errorf("shape %v overflows", shape)
	}
	hi, nbits := bits.Mul64(n, b)
	if hi != 0 {
		return 0, fmt.Errorf("shape %v of %s overflows", shape, dtype)
	}
	if nbits%8 != 0 {
		return 0, fmt.Errorf("shape %v of %s does not fill whole bytes", shape, dtype)
	}
	return nbits / 8, nil
}

// File is a parsed safetensors file.
type File struct {
	// Metadata is the header's optional __metadata__ map.
	Metadata map[string]string
	// Tensors are in the order of their data in the file.
	Tensors []Tensor

	names map[string]int
	unmap func() error
}

// Tensor returns the tensor named name.
func (f *File) Tensor(name string) (*Tensor, bool) {
	i, ok := f.names[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// Close releases the file mapping. Tensor data must not be used after it.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap = nil
	for i := range f.Tensors {
		f.Tensors[i].Data = nil
	}
	return err
}

// headerEntry is a tensor's entry in the JSON header. Pointers tell a
// missing field from a zero one.
type headerEntry struct {
	DType       *string   `json:"dtype"`
	Shape       *[]uint64 `json:"shape"`
	DataOffsets *[]uint64 `json:"data_offsets"`
}

// Parse parses a safetensors file held in memory. Tensor data aliases data.
func Parse(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("safetensors: file of %d bytes is too short for the header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d bytes after it (truncated?)", n, len(data)-8)
	}
	header := data[8 : 8+n]
	body := data[8+n:]
	f, err := parseHeader(header)
	if err != nil {
		return nil, err
	}
	if err := f.place(body); err != nil {
		return nil, err
	}
	return f, nil
}

// parseHeader reads the JSON header into f's tensors (without data).
func parseHeader(header []byte) (*File, error) {
	if len(header) == 0 || header[0] != '{' {
		return nil, errors.New("safetensors: header does not start with '{'")
	}
	if !utf8.Valid(header) {
		return nil, errors.New("safetensors: header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	if _, err := dec.Token(); err != nil { // the opening brace, checked above
		return nil, fmt.Errorf("safetensors: header: %w", err)
	}
	f := &File{names: map[string]int{}}
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("safetensors: header: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("safetensors: header: unexpected %v where a name belongs", tok)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("safetensors: header: entry %q: %w", name, err)
		}
		if name == "__metadata__" {
			if seenMeta {
				return nil, errors.New("safetensors: header: __metadata__ appears twice")
			}
			seenMeta = true
			if err := json.Unmarshal(raw, &f.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: header: __metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		if _, dup := f.names[name]; dup {
			return nil, fmt.Errorf("safetensors: header: tensor %q appears twice", name)
		}
		t, err := tensorEntry(name, raw)
		if err != nil {
			return nil, err
		}
		f.names[name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("safetensors: header: %w", err)
	}
	// Writers pad the header with spaces; anything but white space after
	// the object is an error.
	if tok, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, fmt.Errorf("safetensors: header: unexpected %v after the object", tok)
		}
		return nil, fmt.Errorf("safetensors: header: after the object: %w", err)
	}
	return f, nil
}

// tensorEntry checks one tensor's header entry.
func tensorEntry(name string, raw json.RawMessage) (Tensor, error) {
	var e headerEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: %w", name, err)
	}
	switch {
	case e.DType == nil:
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: no dtype", name)
	case e.Shape == nil:
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: no shape", name)
	case e.DataOffsets == nil:
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: no data_offsets", name)
	case len(*e.DataOffsets) != 2:
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: data_offsets has %d values, want 2", name, len(*e.DataOffsets))
	}
	t := Tensor{
		Name:  name,
		DType: DType(*e.DType),
		Shape: *e.Shape,
		Begin: (*e.DataOffsets)[0],
		End:   (*e.DataOffsets)[1],
	}
	if t.Shape == nil {
		t.Shape = []uint64{}
	}
	size, err := byteSize(t.DType, t.Shape)
	if err != nil {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: %w", name, err)
	}
	if t.End < t.Begin {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] end before they begin", name, t.Begin, t.End)
	}
	if t.End-t.Begin != size {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] hold %d bytes, but %v of %s takes %d", name, t.Begin, t.End, t.End-t.Begin, t.Shape, t.DType, size)
	}
	return t, nil
}

// place checks that the tensors' byte ranges tile body exactly, sorts the
// tensors by position and points their data into body.
func (f *File) place(body []byte) error {
	sort.SliceStable(f.Tensors, func(i, j int) bool {
		a, b := &f.Tensors[i], &f.Tensors[j]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		return a.End < b.End
	})
	var end uint64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if t.Begin != end {
			if t.Begin < end {
				return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] overlap the tensor before, which ends at %d", t.Name, t.Begin, t.End, end)
			}
			return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] leave a gap after byte %d", t.Name, t.Begin, t.End, end)
		}
		end = t.End
		if end > uint64(len(body)) {
			return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] run past the %d bytes of data (truncated?)", t.Name, t.Begin, t.End, len(body))
		}
		t.Data = body[t.Begin:t.End:t.End]
		f.names[t.Name] = i
	}
	if end != uint64(len(body)) {
		return fmt.Errorf("safetensors: the tensors cover %d bytes of data, but the file holds %d after the header", end, len(body))
	}
	return nil
}
