package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// Write writes a safetensors file holding tensors, their data in the order
// given, with metadata (nil for none) as the header's __metadata__. Each
// tensor's Data must hold exactly the bytes its dtype and shape take;
// Begin and End are ignored. The header is padded with spaces to a
// multiple of 8 bytes, as the reference writer does, so that data stays
// aligned.
func Write(w io.Writer, metadata map[string]string, tensors []Tensor) error {
	header := make(map[string]any, len(tensors)+1)
	if metadata != nil {
		header["__metadata__"] = metadata
	}
	var off uint64
	for _, t := range tensors {
		if t.Name == "__metadata__" {
			return fmt.Errorf("safetensors: a tensor cannot be named %q", t.Name)
		}
		if _, dup := header[t.Name]; dup {
			return fmt.Errorf("safetensors: tensor %q given twice", t.Name)
		}
		size, err := byteSize(t.DType, t.Shape)
		if err != nil {
			return fmt.Errorf("safetensors: tensor %q: %w", t.Name, err)
		}
		if uint64(len(t.Data)) != size {
			return fmt.Errorf("safetensors: tensor %q: %d bytes of data, want %d for %v of %s", t.Name, len(t.Data), size, t.Shape, t.DType)
		}
		shape := t.Shape
		if shape == nil {
			shape = []uint64{}
		}
		header[t.Name] = map[string]any{
			"dtype":        string(t.DType),
			"shape":        shape,
			"data_offsets": [2]uint64{off, off + size},
		}
		off += size
	}
	js, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(js)))
	if _, err := w.Write(n[:]); err != nil {
		return fmt.Errorf("safetensors: writing: %w", err)
	}
	if _, err := w.Write(js); err != nil {
		return fmt.Errorf("safetensors: writing: %w", err)
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return fmt.Errorf("safetensors: writing: %w", err)
		}
	}
	return nil
}
