package safetensors

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzParse checks that Parse never panics, and that whatever it accepts
// obeys the format's rules and survives a round trip through Write. The
// seed corpus runs as part of the normal tests.
func FuzzParse(f *testing.F) {
	f.Add(encode(f, nil))
	f.Add(encode(f, map[string]string{"format": "pt"},
		Tensor{Name: "w", DType: BF16, Shape: []uint64{2, 3}, Data: seq(12)},
		Tensor{Name: "s", DType: F32, Shape: []uint64{}, Data: seq(4)},
		Tensor{Name: "z", DType: I32, Shape: []uint64{0}, Data: nil},
		Tensor{Name: "p", DType: F4, Shape: []uint64{4}, Data: seq(2)},
	))
	f.Add(raw(`{"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]},"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}`, []byte{5, 6, 7}))
	f.Add(raw(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,2]}}`, []byte{0, 0}))
	f.Add(raw(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,1]}}`, []byte{0}))
	f.Add(raw(`{"__metadata__":{"a":"b"},"x":{"dtype":"F16","shape":[1,1],"data_offsets":[0,2]}}   `, []byte{1, 2}))
	f.Add(binary.LittleEndian.AppendUint64(nil, 1<<62))

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		var end uint64
		var in []Tensor
		for i := range file.Tensors {
			tt := &file.Tensors[i]
			if tt.Begin != end {
				t.Fatalf("tensor %q begins at %d, want %d", tt.Name, tt.Begin, end)
			}
			size, err := byteSize(tt.DType, tt.Shape)
			if err != nil || uint64(len(tt.Data)) != size || tt.End-tt.Begin != size {
				t.Fatalf("tensor %q: %d bytes for %v of %s (%v)", tt.Name, len(tt.Data), tt.Shape, tt.DType, err)
			}
			if got, ok := file.Tensor(tt.Name); !ok || got != tt {
				t.Fatalf("Tensor(%q) does not find it", tt.Name)
			}
			end = tt.End
			in = append(in, *tt)
		}
		var buf bytes.Buffer
		if err := Write(&buf, file.Metadata, in); err != nil {
			t.Fatalf("Write of a parsed file: %v", err)
		}
		again, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("Parse of a rewritten file: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) || len(again.Metadata) != len(file.Metadata) {
			t.Fatalf("rewritten file has %d tensors and %d metadata, want %d and %d", len(again.Tensors), len(again.Metadata), len(file.Tensors), len(file.Metadata))
		}
		for _, tt := range in {
			got, ok := again.Tensor(tt.Name)
			if !ok || got.DType != tt.DType || !bytes.Equal(got.Data, tt.Data) || len(got.Shape) != len(tt.Shape) {
				t.Fatalf("tensor %q did not survive a round trip", tt.Name)
			}
		}
	})
}
