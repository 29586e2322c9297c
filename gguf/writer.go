package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/joule-llm/joule/tensor"
)

// Writer builds a GGUF v3 file. Metadata and tensors are written in the
// order they were added.
type Writer struct {
	alignment uint64
	kv        []KV
	keys      map[string]int
	tensors   []writerTensor
	names     map[string]bool
}

type writerTensor struct {
	info TensorInfo
	data []byte
}

// NewWriter returns a Writer with the default alignment.
func NewWriter() *Writer {
	return &Writer{alignment: DefaultAlignment, keys: map[string]int{}, names: map[string]bool{}}
}

// Set sets metadata key to value (see KV for the Go types allowed). Setting
// general.alignment also changes the alignment the Writer uses.
func (w *Writer) Set(key string, value any) error {
	if _, err := valueType(value, 0); err != nil {
		return fmt.Errorf("gguf: metadata %q: %w", key, err)
	}
	if key == "general.alignment" {
		a, ok := value.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 {
			return fmt.Errorf("gguf: general.alignment must be a uint32 power of two, got %v (%T)", value, value)
		}
		w.alignment = uint64(a)
	}
	if i, ok := w.keys[key]; ok {
		w.kv[i].Value = value
		return nil
	}
	w.keys[key] = len(w.kv)
	w.kv = append(w.kv, KV{Key: key, Value: value})
	return nil
}

// AddTensor adds a tensor of type t with dims (innermost first). data must
// hold exactly the tensor's bytes; it is not copied.
func (w *Writer) AddTensor(name string, t tensor.Type, dims []uint64, data []byte) error {
	if w.names[name] {
		return fmt.Errorf("gguf: duplicate tensor %q", name)
	}
	if len(dims) > MaxDims {
		return fmt.Errorf("gguf: tensor %q: %d dimensions, at most %d allowed", name, len(dims), MaxDims)
	}
	size, err := t.Bytes(dims)
	if err != nil {
		return fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	if uint64(len(data)) != size {
		return fmt.Errorf("gguf: tensor %q: %d bytes of data, want %d for %v %s", name, len(data), size, dims, t)
	}
	w.names[name] = true
	w.tensors = append(w.tensors, writerTensor{
		info: TensorInfo{Name: name, Dims: append([]uint64(nil), dims...), Type: t, Size: size},
		data: data,
	})
	return nil
}

// WriteFile writes the GGUF file to path.
func (w *Writer) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

// WriteTo writes the GGUF file to out.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	cw := &countWriter{w: bufio.NewWriterSize(out, 1<<20)}
	e := encoder{w: cw}
	e.raw([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(w.kv)))
	for _, kv := range w.kv {
		e.str(kv.Key)
		vt, _ := valueType(kv.Value, 0)
		e.u32(uint32(vt))
		e.value(kv.Value)
	}
	var off uint64
	for i := range w.tensors {
		t := &w.tensors[i].info
		t.Offset = off
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(t.Offset)
		off = alignUp(off+t.Size, w.alignment)
	}
	e.pad(w.alignment)
	for _, t := range w.tensors {
		e.raw(t.data)
		e.pad(w.alignment)
	}
	if e.err == nil {
		e.err = cw.w.(*bufio.Writer).Flush()
	}
	if e.err != nil {
		return cw.n, fmt.Errorf("gguf: writing: %w", e.err)
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// encoder writes little-endian values and keeps the first error.
type encoder struct {
	w   *countWriter
	err error
	buf [8]byte
}

func (e *encoder) raw(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}
func (e *encoder) u8(v uint8) { e.buf[0] = v; e.raw(e.buf[:1]) }
func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], v)
	e.raw(e.buf[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.raw(e.buf[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.raw(e.buf[:8])
}
func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.raw([]byte(s)) }
func (e *encoder) pad(a uint64) {
	if r := uint64(e.w.n) % a; r != 0 {
		e.raw(make([]byte, a-r))
	}
}

func (e *encoder) value(v any) {
	switch x := v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case bool:
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case string:
		e.str(x)
	default:
		e.array(v)
	}
}

func (e *encoder) array(v any) {
	et, n := arrayInfo(v)
	e.u32(uint32(et))
	e.u64(uint64(n))
	switch x := v.(type) {
	case []any:
		for _, el := range x {
			e.array(el)
		}
	default:
		forEach(v, e.value)
	}
}

// arrayInfo returns the element type and length of an array value.
func arrayInfo(v any) (ValueType, int) {
	switch x := v.(type) {
	case []uint8:
		return TypeUint8, len(x)
	case []int8:
		return TypeInt8, len(x)
	case []uint16:
		return TypeUint16, len(x)
	case []int16:
		return TypeInt16, len(x)
	case []uint32:
		return TypeUint32, len(x)
	case []int32:
		return TypeInt32, len(x)
	case []float32:
		return TypeFloat32, len(x)
	case []bool:
		return TypeBool, len(x)
	case []string:
		return TypeString, len(x)
	case []uint64:
		return TypeUint64, len(x)
	case []int64:
		return TypeInt64, len(x)
	case []float64:
		return TypeFloat64, len(x)
	case []any:
		return TypeArray, len(x)
	}
	return 0, -1
}

func forEach(v any, fn func(any)) {
	switch x := v.(type) {
	case []uint8:
		for _, el := range x {
			fn(el)
		}
	case []int8:
		for _, el := range x {
			fn(el)
		}
	case []uint16:
		for _, el := range x {
			fn(el)
		}
	case []int16:
		for _, el := range x {
			fn(el)
		}
	case []uint32:
		for _, el := range x {
			fn(el)
		}
	case []int32:
		for _, el := range x {
			fn(el)
		}
	case []float32:
		for _, el := range x {
			fn(el)
		}
	case []bool:
		for _, el := range x {
			fn(el)
		}
	case []string:
		for _, el := range x {
			fn(el)
		}
	case []uint64:
		for _, el := range x {
			fn(el)
		}
	case []int64:
		for _, el := range x {
			fn(el)
		}
	case []float64:
		for _, el := range x {
			fn(el)
		}
	}
}

// valueType returns the GGUF type of a Go value, or an error for a Go type
// GGUF cannot hold.
func valueType(v any, depth int) (ValueType, error) {
	switch v.(type) {
	case uint8:
		return TypeUint8, nil
	case int8:
		return TypeInt8, nil
	case uint16:
		return TypeUint16, nil
	case int16:
		return TypeInt16, nil
	case uint32:
		return TypeUint32, nil
	case int32:
		return TypeInt32, nil
	case float32:
		return TypeFloat32, nil
	case bool:
		return TypeBool, nil
	case string:
		return TypeString, nil
	case uint64:
		return TypeUint64, nil
	case int64:
		return TypeInt64, nil
	case float64:
		return TypeFloat64, nil
	}
	if depth >= maxArrayDepth {
		return 0, fmt.Errorf("arrays nested deeper than %d", maxArrayDepth)
	}
	if x, ok := v.([]any); ok {
		for i, el := range x {
			et, err := valueType(el, depth+1)
			if err != nil {
				return 0, err
			}
			if et != TypeArray {
				return 0, fmt.Errorf("element %d of an array of arrays is %T, not an array", i, el)
			}
		}
		return TypeArray, nil
	}
	if _, n := arrayInfo(v); n >= 0 {
		return TypeArray, nil
	}
	return 0, fmt.Errorf("GGUF cannot hold a %T", v)
}

// NewWriterFrom returns a Writer holding f's metadata and tensors, their
// data aliasing f's, so that f can be written again (as a split model, for
// one). The split keys are left out: they describe the files f was read
// from.
func NewWriterFrom(f *File) (*Writer, error) {
	w := NewWriter()
	for _, kv := range f.KV {
		switch kv.Key {
		case KeySplitNo, KeySplitCount, KeySplitTensorsCount:
			continue
		}
		if err := w.Set(kv.Key, kv.Value); err != nil {
			return nil, err
		}
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if err := w.AddTensor(t.Name, t.Type, t.Dims, f.TensorData(t)); err != nil {
			return nil, err
		}
	}
	return w, nil
}
