package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/joule-llm/joule/tensor"
)

// File is a parsed GGUF file. Its tensor data aliases the mapped file (or
// the bytes given to Parse) and is valid until Close.
//
// A File opened from the first part of a split model stands for the whole
// model: its metadata and header fields are the first part's, Tensors
// lists the tensors of every part, and TensorData reads each from its own
// part.
type File struct {
	Version    uint32
	Alignment  uint64
	KV         []KV
	Tensors    []TensorInfo
	DataOffset uint64 // file offset of the data section (of the first part, for a split model)

	data    []byte // the whole file
	keys    map[string]int
	tensors map[string]int
	unmap   func() error
	path    string // the file Open read; "" after Parse

	// A split model's parts, in order, and the part of each tensor (by
	// index in Tensors); both nil for a single file.
	parts  []*File
	partOf []int
}

// parseError is a validation failure at a byte offset of the header.
func parseError(off int, format string, args ...any) error {
	return fmt.Errorf("gguf: at byte %d: %s", off, fmt.Sprintf(format, args...))
}

// decoder reads the header, checking every length against what remains.
type decoder struct {
	b   []byte
	off int
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) need(n uint64, what string) error {
	if n > uint64(d.remaining()) {
		return parseError(d.off, "%s needs %d bytes, only %d left in the file (truncated?)", what, n, d.remaining())
	}
	return nil
}

func (d *decoder) u32(what string) (uint32, error) {
	if err := d.need(4, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v, nil
}

func (d *decoder) u64(what string) (uint64, error) {
	if err := d.need(8, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v, nil
}

func (d *decoder) str(what string) (string, error) {
	n, err := d.u64(what + " length")
	if err != nil {
		return "", err
	}
	if err := d.need(n, what); err != nil {
		return "", err
	}
	s := string(d.b[d.off : d.off+int(n)])
	d.off += int(n)
	return s, nil
}

// Parse parses a GGUF file held in memory. Tensor data aliases data.
func Parse(data []byte) (*File, error) {
	d := &decoder{b: data}
	if len(data) < 4 || string(data[:4]) != Magic {
		n := min(len(data), 4)
		return nil, fmt.Errorf("gguf: not a GGUF file: magic %q, want %q", data[:n], Magic)
	}
	d.off = 4
	f := &File{data: data, Alignment: DefaultAlignment}
	var err error
	if f.Version, err = d.u32("version"); err != nil {
		return nil, err
	}
	if f.Version != 2 && f.Version != 3 {
		if f.Version == 1 {
			return nil, fmt.Errorf("gguf: version 1 is not supported (convert the file with a current llama.cpp)")
		}
		if f.Version&0xffff == 0 && f.Version != 0 {
			return nil, fmt.Errorf("gguf: version %d looks byte-swapped: big-endian GGUF files are not supported", f.Version)
		}
		return nil, fmt.Errorf("gguf: unsupported version %d (want 2 or 3)", f.Version)
	}
	nTensors, err := d.u64("tensor count")
	if err != nil {
		return nil, err
	}
	nKV, err := d.u64("metadata count")
	if err != nil {
		return nil, err
	}
	// Every entry takes at least a length prefix and a type tag, so counts
	// beyond what the file could hold are rejected before allocating.
	if nKV > uint64(d.remaining())/12 {
		return nil, parseError(d.off, "metadata count %d is impossible for a file of %d bytes", nKV, len(data))
	}
	if nTensors > uint64(d.remaining())/(8+4+8+4+8) {
		return nil, parseError(d.off, "tensor count %d is impossible for a file of %d bytes", nTensors, len(data))
	}

	f.KV = make([]KV, 0, nKV)
	f.keys = make(map[string]int, nKV)
	for i := uint64(0); i < nKV; i++ {
		key, err := d.str(fmt.Sprintf("metadata key %d", i))
		if err != nil {
			return nil, err
		}
		if _, dup := f.keys[key]; dup {
			return nil, parseError(d.off, "duplicate metadata key %q", key)
		}
		vt, err := d.u32(fmt.Sprintf("type of %q", key))
		if err != nil {
			return nil, err
		}
		v, err := d.value(ValueType(vt), 0)
		if err != nil {
			return nil, fmt.Errorf("gguf: metadata %q: %w", key, err)
		}
		f.keys[key] = len(f.KV)
		f.KV = append(f.KV, KV{Key: key, Value: v})
	}

	if i, ok := f.keys["general.alignment"]; ok {
		a, ok := f.KV[i].Value.(uint32)
		if !ok {
			return nil, fmt.Errorf("gguf: general.alignment is %T, want uint32", f.KV[i].Value)
		}
		if a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("gguf: general.alignment %d is not a power of two", a)
		}
		f.Alignment = uint64(a)
	}

	f.Tensors = make([]TensorInfo, 0, nTensors)
	f.tensors = make(map[string]int, nTensors)
	for i := uint64(0); i < nTensors; i++ {
		ti, err := d.tensorInfo(i)
		if err != nil {
			return nil, err
		}
		if _, dup := f.tensors[ti.Name]; dup {
			return nil, fmt.Errorf("gguf: duplicate tensor name %q", ti.Name)
		}
		f.tensors[ti.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, ti)
	}

	// The data section starts at the next multiple of the alignment.
	f.DataOffset = alignUp(uint64(d.off), f.Alignment)
	if len(f.Tensors) > 0 && f.DataOffset > uint64(len(data)) {
		return nil, fmt.Errorf("gguf: data section at byte %d starts past the end of the file (%d bytes; truncated?)", f.DataOffset, len(data))
	}
	dataLen := uint64(len(data)) - min(f.DataOffset, uint64(len(data)))
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if t.Offset%f.Alignment != 0 {
			return nil, fmt.Errorf("gguf: tensor %q: offset %d is not a multiple of the alignment %d", t.Name, t.Offset, f.Alignment)
		}
		if t.Offset > dataLen || t.Size > dataLen-t.Offset {
			return nil, fmt.Errorf("gguf: tensor %q: bytes [%d, %d) of the data section lie past its end (%d bytes; truncated file?)",
				t.Name, t.Offset, t.Offset+t.Size, dataLen)
		}
	}
	return f, nil
}

func (d *decoder) tensorInfo(i uint64) (TensorInfo, error) {
	var t TensorInfo
	var err error
	if t.Name, err = d.str(fmt.Sprintf("name of tensor %d", i)); err != nil {
		return t, err
	}
	nDims, err := d.u32(fmt.Sprintf("dimension count of tensor %q", t.Name))
	if err != nil {
		return t, err
	}
	if nDims > MaxDims {
		return t, fmt.Errorf("gguf: tensor %q: %d dimensions, at most %d allowed", t.Name, nDims, MaxDims)
	}
	t.Dims = make([]uint64, nDims)
	elems := uint64(1)
	for j := range t.Dims {
		if t.Dims[j], err = d.u64(fmt.Sprintf("dimension %d of tensor %q", j, t.Name)); err != nil {
			return t, err
		}
		var hi uint64
		hi, elems = bits.Mul64(elems, t.Dims[j])
		if hi != 0 || elems > math.MaxInt64 {
			return t, fmt.Errorf("gguf: tensor %q: dimensions %v overflow", t.Name, t.Dims[:j+1])
		}
	}
	typ, err := d.u32(fmt.Sprintf("type of tensor %q", t.Name))
	if err != nil {
		return t, err
	}
	t.Type = tensor.Type(typ)
	if !t.Type.Known() {
		return t, fmt.Errorf("gguf: tensor %q: unknown tensor type %d", t.Name, typ)
	}
	if t.Size, err = t.Type.Bytes(t.Dims); err != nil {
		return t, fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
	}
	if t.Offset, err = d.u64(fmt.Sprintf("offset of tensor %q", t.Name)); err != nil {
		return t, err
	}
	return t, nil
}

func (d *decoder) value(t ValueType, depth int) (any, error) {
	switch t {
	case TypeString:
		return d.str("string")
	case TypeArray:
		return d.array(depth)
	}
	n := t.size()
	if n == 0 {
		return nil, parseError(d.off, "unknown value type %d", uint32(t))
	}
	if err := d.need(uint64(n), t.String()+" value"); err != nil {
		return nil, err
	}
	b := d.b[d.off : d.off+n]
	d.off += n
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return b[0], nil
	case TypeInt8:
		return int8(b[0]), nil
	case TypeBool:
		if b[0] > 1 {
			return nil, parseError(d.off-1, "bool value %d is neither 0 nor 1", b[0])
		}
		return b[0] == 1, nil
	case TypeUint16:
		return le.Uint16(b), nil
	case TypeInt16:
		return int16(le.Uint16(b)), nil
	case TypeUint32:
		return le.Uint32(b), nil
	case TypeInt32:
		return int32(le.Uint32(b)), nil
	case TypeFloat32:
		return math.Float32frombits(le.Uint32(b)), nil
	case TypeUint64:
		return le.Uint64(b), nil
	case TypeInt64:
		return int64(le.Uint64(b)), nil
	default: // TypeFloat64
		return math.Float64frombits(le.Uint64(b)), nil
	}
}

func (d *decoder) array(depth int) (any, error) {
	if depth >= maxArrayDepth {
		return nil, parseError(d.off, "arrays nested deeper than %d", maxArrayDepth)
	}
	et, err := d.u32("array element type")
	if err != nil {
		return nil, err
	}
	n, err := d.u64("array length")
	if err != nil {
		return nil, err
	}
	elem := ValueType(et)
	// The smallest encoding of one element bounds the count before any
	// allocation: 8 bytes for a string's length, 12 for a nested array.
	minSize := uint64(elem.size())
	switch elem {
	case TypeString:
		minSize = 8
	case TypeArray:
		minSize = 12
	}
	if minSize == 0 {
		return nil, parseError(d.off, "unknown array element type %d", et)
	}
	if n > uint64(d.remaining())/minSize {
		return nil, parseError(d.off, "array of %d %s needs at least %d bytes, only %d left", n, elem, n*minSize, d.remaining())
	}
	count := int(n)
	if sz := elem.size(); sz > 0 {
		b := d.b[d.off : d.off+count*sz]
		d.off += count * sz
		return decodeFixedArray(elem, b, count)
	}
	if elem == TypeString {
		out := make([]string, count)
		for i := range out {
			if out[i], err = d.str(fmt.Sprintf("array element %d", i)); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	out := make([]any, count)
	for i := range out {
		if out[i], err = d.array(depth + 1); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func decodeFixedArray(t ValueType, b []byte, n int) (any, error) {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return append([]uint8(nil), b...), nil
	case TypeInt8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(b[i])
		}
		return out, nil
	case TypeBool:
		out := make([]bool, n)
		for i := range out {
			if b[i] > 1 {
				return nil, fmt.Errorf("bool array element %d is %d, neither 0 nor 1", i, b[i])
			}
			out[i] = b[i] == 1
		}
		return out, nil
	case TypeUint16:
		out := make([]uint16, n)
		for i := range out {
			out[i] = le.Uint16(b[2*i:])
		}
		return out, nil
	case TypeInt16:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(le.Uint16(b[2*i:]))
		}
		return out, nil
	case TypeUint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = le.Uint32(b[4*i:])
		}
		return out, nil
	case TypeInt32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(le.Uint32(b[4*i:]))
		}
		return out, nil
	case TypeFloat32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
		return out, nil
	case TypeUint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = le.Uint64(b[8*i:])
		}
		return out, nil
	case TypeInt64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(le.Uint64(b[8*i:]))
		}
		return out, nil
	default: // TypeFloat64
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
		return out, nil
	}
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// Close releases the file mapping, or the mappings of every part of a
// split model. Tensor data must not be used after it.
func (f *File) Close() error {
	if f.parts != nil {
		errs := make([]error, len(f.parts))
		for i, p := range f.parts {
			errs[i] = p.Close()
		}
		f.parts, f.partOf = nil, nil
		return errors.Join(errs...)
	}
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap = nil
	f.data = nil
	return err
}

// Tensor returns the tensor named name.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.tensors[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// TensorData returns the bytes of t, aliasing the file (for a split
// model, the part that holds t).
func (f *File) TensorData(t *TensorInfo) []byte {
	if f.parts != nil {
		i, ok := f.tensors[t.Name]
		if !ok {
			panic(fmt.Sprintf("gguf: TensorData: no tensor %q in this model", t.Name))
		}
		return f.parts[f.partOf[i]].TensorData(t)
	}
	start := f.DataOffset + t.Offset
	return f.data[start : start+t.Size : start+t.Size]
}

// Size is the size of the whole file in bytes; for a split model, the
// total of its parts.
func (f *File) Size() int64 {
	if f.parts != nil {
		var n int64
		for _, p := range f.parts {
			n += p.Size()
		}
		return n
	}
	return int64(len(f.data))
}

// Paths returns the files f was read from: the one Open was given, or
// every part of a split model in order. A File from Parse has none.
func (f *File) Paths() []string {
	if f.parts != nil {
		out := make([]string, len(f.parts))
		for i, p := range f.parts {
			out[i] = p.path
		}
		return out
	}
	if f.path == "" {
		return nil
	}
	return []string{f.path}
}
