package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// encode writes tensors with Write and returns the file.
func encode(tb testing.TB, metadata map[string]string, tensors ...Tensor) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, metadata, tensors); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// raw builds a file from a literal header and data section.
func raw(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	in := []Tensor{
		{Name: "model.embed_tokens.weight", DType: BF16, Shape: []uint64{3, 4}, Data: seq(24)},
		{Name: "scalar", DType: F32, Shape: []uint64{}, Data: seq(4)},
		{Name: "empty", DType: F16, Shape: []uint64{0, 5}, Data: []byte{}},
		{Name: "bits", DType: F4, Shape: []uint64{2, 3}, Data: seq(3)},
		{Name: "ids", DType: I64, Shape: []uint64{2}, Data: seq(16)},
	}
	meta := map[string]string{"format": "pt", "note": "<&>"}
	f, err := Parse(encode(t, meta, in...))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Metadata, meta) {
		t.Errorf("metadata %v, want %v", f.Metadata, meta)
	}
	if len(f.Tensors) != len(in) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(in))
	}
	var off uint64
	for i, want := range in {
		got, ok := f.Tensor(want.Name)
		if !ok {
			t.Fatalf("tensor %q missing", want.Name)
		}
		if got.DType != want.DType || !reflect.DeepEqual(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("tensor %q = %s %v %x, want %s %v %x", want.Name, got.DType, got.Shape, got.Data, want.DType, want.Shape, want.Data)
		}
		if got.Begin != off || got.End != off+uint64(len(want.Data)) {
			t.Errorf("tensor %q at [%d, %d], want [%d, %d]", want.Name, got.Begin, got.End, off, off+uint64(len(want.Data)))
		}
		off = got.End
		// Tensors are listed in data order, which here is the order written.
		if f.Tensors[i].Name != want.Name {
			t.Errorf("tensor %d is %q, want %q", i, f.Tensors[i].Name, want.Name)
		}
	}
	if _, ok := f.Tensor("nope"); ok {
		t.Error("Tensor(nope) found something")
	}
	if n := (&Tensor{Shape: []uint64{3, 4, 5}}).Elements(); n != 60 {
		t.Errorf("Elements = %d, want 60", n)
	}
}

func TestHeaderPadding(t *testing.T) {
	b := encode(t, nil, Tensor{Name: "a", DType: U8, Shape: []uint64{3}, Data: []byte{1, 2, 3}})
	if n := binary.LittleEndian.Uint64(b); n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	// Any JSON white space after the object is accepted.
	f, err := Parse(raw("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}} \n\t ", []byte{9}))
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := f.Tensor("a"); a.Data[0] != 9 {
		t.Errorf("data %v", a.Data)
	}
}

// TestDataOrder checks a file whose data is not in header order.
func TestDataOrder(t *testing.T) {
	f, err := Parse(raw(`{"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]},"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}`, []byte{5, 6, 7}))
	if err != nil {
		t.Fatal(err)
	}
	if f.Tensors[0].Name != "a" || f.Tensors[1].Name != "b" {
		t.Errorf("order %q, %q", f.Tensors[0].Name, f.Tensors[1].Name)
	}
	b, _ := f.Tensor("b")
	if !bytes.Equal(b.Data, []byte{6, 7}) {
		t.Errorf("b = %v", b.Data)
	}
}

func TestParseErrors(t *testing.T) {
	u8 := func(name string, b, e int) string {
		return `"` + name + `":{"dtype":"U8","shape":[` + itoa(e-b) + `],"data_offsets":[` + itoa(b) + `,` + itoa(e) + `]}`
	}
	huge := binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1)
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"short", []byte{1, 2, 3}, "too short"},
		{"header past end", binary.LittleEndian.AppendUint64(nil, 10), "exceeds the 0 bytes"},
		{"header over limit", append(huge, make([]byte, 16)...), "exceeds the limit"},
		{"not an object", raw(`[1]`, nil), "does not start with '{'"},
		{"empty header", raw(``, nil), "does not start with '{'"},
		{"bad utf8", raw("{\"\xff\":1}", nil), "UTF-8"},
		{"truncated json", raw(`{"a":{"dtype":"U8"`, nil), "header"},
		{"trailing", raw(`{} {}`, nil), "after the object"},
		{"trailing garbage", raw(`{}x`, nil), "after the object"},
		{"not an entry", raw(`{"a":1}`, nil), `tensor "a"`},
		{"no dtype", raw(`{"a":{"shape":[1],"data_offsets":[0,1]}}`, []byte{0}), "no dtype"},
		{"no shape", raw(`{"a":{"dtype":"U8","data_offsets":[0,1]}}`, []byte{0}), "no shape"},
		{"no offsets", raw(`{"a":{"dtype":"U8","shape":[1]}}`, []byte{0}), "no data_offsets"},
		{"three offsets", raw(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}`, []byte{0}), "3 values"},
		{"unknown dtype", raw(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, make([]byte, 16)), `unknown dtype "F128"`},
		{"negative dim", raw(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}`, []byte{0}), `tensor "a"`},
		{"float dim", raw(`{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}`, []byte{0}), `tensor "a"`},
		{"overflow", raw(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,1]}}`, []byte{0}), "overflows"},
		{"bits overflow", raw(`{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,1]}}`, []byte{0}), "overflows"},
		{"half byte", raw(`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}`, []byte{0}), "whole bytes"},
		{"size mismatch", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), "takes 8"},
		{"reversed offsets", raw(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[2,1]}}`, []byte{0, 0}), "end before"},
		{"duplicate", raw(`{`+u8("a", 0, 1)+`,`+u8("a", 1, 2)+`}`, []byte{0, 0}), "appears twice"},
		{"duplicate metadata", raw(`{"__metadata__":{},"__metadata__":{}}`, nil), "__metadata__ appears twice"},
		{"metadata not strings", raw(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
		{"gap at start", raw(`{`+u8("a", 1, 2)+`}`, []byte{0, 0}), "gap"},
		{"gap", raw(`{`+u8("a", 0, 1)+`,`+u8("b", 2, 3)+`}`, []byte{0, 0, 0}), "gap"},
		{"overlap", raw(`{`+u8("a", 0, 2)+`,`+u8("b", 1, 3)+`}`, []byte{0, 0, 0}), "overlap"},
		{"past end", raw(`{`+u8("a", 0, 4)+`}`, []byte{0, 0}), "run past"},
		{"unindexed tail", raw(`{`+u8("a", 0, 1)+`}`, []byte{0, 0}), "cover 1 bytes"},
		{"data without tensors", raw(`{}`, []byte{0}), "cover 0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.file)
			if err == nil {
				t.Fatalf("Parse succeeded with %d tensors, want an error containing %q", len(f.Tensors), tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestWriteErrors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"size", []Tensor{{Name: "a", DType: F32, Shape: []uint64{2}, Data: make([]byte, 4)}}, "want 8"},
		{"dtype", []Tensor{{Name: "a", DType: "X", Shape: []uint64{1}, Data: make([]byte, 1)}}, "unknown dtype"},
		{"duplicate", []Tensor{{Name: "a", DType: U8, Data: []byte{1}}, {Name: "a", DType: U8, Data: []byte{1}}}, "twice"},
		{"reserved", []Tensor{{Name: "__metadata__", DType: U8, Data: []byte{1}}}, "cannot be named"},
	} {
		if err := Write(&bytes.Buffer{}, nil, tt.tensors); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func writeFile(tb testing.TB, path string, metadata map[string]string, tensors ...Tensor) {
	tb.Helper()
	if err := os.WriteFile(path, encode(tb, metadata, tensors...), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	writeFile(t, path, nil, Tensor{Name: "w", DType: F32, Shape: []uint64{2, 2}, Data: seq(16)})
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	w, ok := f.Tensor("w")
	if !ok || !bytes.Equal(w.Data, seq(16)) {
		t.Fatalf("w = %v, %v", w, ok)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	bad := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(bad, raw(`{"a":1}`, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Open(bad) error %v, want one naming the file", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Open(missing) succeeded")
	}
}

func writeIndex(tb testing.TB, dir string, weightMap map[string]string) {
	tb.Helper()
	b, err := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 1}, "weight_map": weightMap})
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, IndexName), b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

func TestOpenDir(t *testing.T) {
	a := Tensor{Name: "a", DType: U8, Shape: []uint64{1}, Data: []byte{1}}
	b := Tensor{Name: "b", DType: U8, Shape: []uint64{2}, Data: []byte{2, 3}}
	c := Tensor{Name: "c", DType: U8, Shape: []uint64{1}, Data: []byte{4}}
	shard1, shard2 := "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
	sharded := func(t *testing.T) string {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, shard1), nil, b, a)
		writeFile(t, filepath.Join(dir, shard2), nil, c)
		return dir
	}

	t.Run("single", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "model.safetensors"), nil, a, b)
		d, err := OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if got := d.Names(); !reflect.DeepEqual(got, []string{"a", "b"}) {
			t.Errorf("Names = %v", got)
		}
		if x, ok := d.Tensor("b"); !ok || !bytes.Equal(x.Data, []byte{2, 3}) {
			t.Errorf("b = %v", x)
		}
	})
	t.Run("index", func(t *testing.T) {
		dir := sharded(t)
		writeIndex(t, dir, map[string]string{"a": shard1, "b": shard1, "c": shard2})
		d, err := OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if got := d.Names(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
			t.Errorf("Names = %v", got)
		}
		if len(d.Files) != 2 || filepath.Base(d.Paths[0]) != shard1 {
			t.Errorf("files %v", d.Paths)
		}
		if x, ok := d.Tensor("c"); !ok || x.Data[0] != 4 {
			t.Errorf("c = %v", x)
		}
	})
	t.Run("no index", func(t *testing.T) {
		d, err := OpenDir(sharded(t))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if got := d.Names(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
			t.Errorf("Names = %v", got)
		}
	})

	for _, tt := range []struct {
		name  string
		index map[string]string
		setup func(dir string)
		want  string
	}{
		{"missing from shards", map[string]string{"a": shard1, "b": shard1, "c": shard2, "d": shard2}, nil, "indexed but in no shard: d"},
		{"not indexed", map[string]string{"a": shard1, "c": shard2}, nil, "not indexed: b"},
		{"wrong shard", map[string]string{"a": shard2, "b": shard1, "c": shard2}, nil, "another shard"},
		{"path", map[string]string{"a": "../x.safetensors"}, nil, "not a file name"},
		{"absent shard", map[string]string{"a": "model-00003.safetensors"}, nil, "no such file"},
		{"empty map", map[string]string{}, nil, "no weight_map"},
		{"duplicate", map[string]string{"a": shard1, "b": shard1, "c": shard2}, func(dir string) {
			writeFile(t, filepath.Join(dir, shard2), nil, c, a)
		}, "in both"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := sharded(t)
			if tt.setup != nil {
				tt.setup(dir)
			}
			writeIndex(t, dir, tt.index)
			d, err := OpenDir(dir)
			if err == nil {
				d.Close()
				t.Fatalf("OpenDir succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
	t.Run("empty dir", func(t *testing.T) {
		if _, err := OpenDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no model.safetensors") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("bad index json", func(t *testing.T) {
		dir := sharded(t)
		if err := os.WriteFile(filepath.Join(dir, IndexName), []byte("{"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenDir(dir); err == nil || !strings.Contains(err.Error(), IndexName) {
			t.Errorf("error %v", err)
		}
	})
}
