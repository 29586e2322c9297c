package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/joule-llm/joule/tensor"
)

// sampleFile builds a small file with every metadata type and two tensors.
func sampleFile(t testing.TB) []byte {
	t.Helper()
	w := NewWriter()
	kvs := []KV{
		{"general.architecture", "llama"},
		{"u8", uint8(200)}, {"i8", int8(-5)}, {"u16", uint16(60000)}, {"i16", int16(-30000)},
		{"u32", uint32(4000000000)}, {"i32", int32(-2000000000)}, {"f32", float32(1.5)},
		{"bool", true}, {"u64", uint64(1 << 40)}, {"i64", int64(-1 << 40)}, {"f64", math.Pi},
		{"strs", []string{"a", "", "ünï"}}, {"f32s", []float32{1, -2, 3.25}}, {"i32s", []int32{1, -1}},
		{"u8s", []uint8{1, 2, 3}}, {"bools", []bool{true, false}}, {"u64s", []uint64{7}},
		{"nested", []any{[]int32{1, 2}, []string{"x"}, []any{[]float64{0.5}}}},
	}
	for _, kv := range kvs {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	f32 := make([]byte, 4*6)
	for i := 0; i < 6; i++ {
		binary.LittleEndian.PutUint32(f32[4*i:], math.Float32bits(float32(i)))
	}
	if err := w.AddTensor("a", tensor.F32, []uint64{3, 2}, f32); err != nil {
		t.Fatal(err)
	}
	q := make([]byte, 34*2)
	q[0] = 0x3c // some bytes
	if err := w.AddTensor("b.q8", tensor.Q8_0, []uint64{64}, q); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	data := sampleFile(t)
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || f.Alignment != 32 || len(f.KV) != 19 || len(f.Tensors) != 2 {
		t.Fatalf("header: version %d alignment %d kv %d tensors %d", f.Version, f.Alignment, len(f.KV), len(f.Tensors))
	}
	want := map[string]any{
		"u8": uint8(200), "i8": int8(-5), "u16": uint16(60000), "i16": int16(-30000),
		"u32": uint32(4000000000), "i32": int32(-2000000000), "f32": float32(1.5), "bool": true,
		"u64": uint64(1 << 40), "i64": int64(-1 << 40), "f64": math.Pi,
		"strs": []string{"a", "", "ünï"}, "f32s": []float32{1, -2, 3.25}, "i32s": []int32{1, -1},
		"u8s": []uint8{1, 2, 3}, "bools": []bool{true, false}, "u64s": []uint64{7},
		"nested": []any{[]int32{1, 2}, []string{"x"}, []any{[]float64{0.5}}},
	}
	for k, v := range want {
		got, ok := f.Value(k)
		if !ok || !reflect.DeepEqual(got, v) {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	if s, _ := f.String("general.architecture"); s != "llama" {
		t.Errorf("architecture %q", s)
	}
	if n, err := f.Uint("u32"); err != nil || n != 4000000000 {
		t.Errorf("Uint(u32) = %d, %v", n, err)
	}
	if _, err := f.Uint("i32"); err == nil {
		t.Error("Uint of a negative value succeeded")
	}
	if n, err := f.Int("i8"); err != nil || n != -5 {
		t.Errorf("Int(i8) = %d, %v", n, err)
	}
	if x, err := f.Float("f64"); err != nil || x != math.Pi {
		t.Errorf("Float(f64) = %v, %v", x, err)
	}
	if s, err := f.Int32s("u8s"); err != nil || !reflect.DeepEqual(s, []int32{1, 2, 3}) {
		t.Errorf("Int32s(u8s) = %v, %v", s, err)
	}
	if _, err := f.String("missing"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("missing key: %v", err)
	}
	if _, err := f.String("u8"); err == nil || !strings.Contains(err.Error(), `"u8"`) {
		t.Errorf("wrong type error does not name the key: %v", err)
	}
	a, ok := f.Tensor("a")
	if !ok || a.Type != tensor.F32 || !reflect.DeepEqual(a.Dims, []uint64{3, 2}) || a.Elements() != 6 || a.Size != 24 {
		t.Fatalf("tensor a: %+v", a)
	}
	d := f.TensorData(a)
	if got := math.Float32frombits(binary.LittleEndian.Uint32(d[20:])); got != 5 {
		t.Errorf("a[5] = %v", got)
	}
	b, _ := f.Tensor("b.q8")
	if b.Offset%32 != 0 || b.Size != 68 || f.TensorData(b)[0] != 0x3c {
		t.Errorf("tensor b: %+v", b)
	}
	if (f.DataOffset+b.Offset)%32 != 0 {
		t.Errorf("tensor b not aligned in the file")
	}
}

func TestOpenMapsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := os.WriteFile(path, sampleFile(t), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Tensor("a")
	if got := math.Float32frombits(binary.LittleEndian.Uint32(f.TensorData(a)[4:])); got != 1 {
		t.Errorf("a[1] = %v", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "none.gguf")); err == nil {
		t.Error("opening a missing file succeeded")
	}
}

func TestCustomAlignment(t *testing.T) {
	w := NewWriter()
	if err := w.Set("general.alignment", uint32(64)); err != nil {
		t.Fatal(err)
	}
	w.AddTensor("x", tensor.F32, []uint64{3}, make([]byte, 12))
	w.AddTensor("y", tensor.F32, []uint64{1}, []byte{0, 0, 0x80, 0x3f})
	var buf bytes.Buffer
	w.WriteTo(&buf)
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	y, _ := f.Tensor("y")
	if f.Alignment != 64 || y.Offset != 64 || f.DataOffset%64 != 0 {
		t.Errorf("alignment %d, y offset %d, data %d", f.Alignment, y.Offset, f.DataOffset)
	}
	if err := w.Set("general.alignment", uint32(48)); err == nil {
		t.Error("alignment 48 accepted")
	}
}

func TestWriterRejects(t *testing.T) {
	w := NewWriter()
	if err := w.Set("k", struct{}{}); err == nil {
		t.Error("struct value accepted")
	}
	if err := w.Set("k", []any{int32(1)}); err == nil {
		t.Error("array of arrays holding a scalar accepted")
	}
	if err := w.AddTensor("t", tensor.Q8_0, []uint64{31}, make([]byte, 34)); err == nil {
		t.Error("row not a multiple of the block size accepted")
	}
	if err := w.AddTensor("t", tensor.F32, []uint64{2}, make([]byte, 4)); err == nil {
		t.Error("short data accepted")
	}
	w.AddTensor("t", tensor.F32, []uint64{1}, make([]byte, 4))
	if err := w.AddTensor("t", tensor.F32, []uint64{1}, make([]byte, 4)); err == nil {
		t.Error("duplicate tensor accepted")
	}
}

// header builds the start of a file by hand, for hostile inputs.
type header struct{ bytes.Buffer }

func (h *header) u32(v uint32) *header { binary.Write(&h.Buffer, binary.LittleEndian, v); return h }
func (h *header) u64(v uint64) *header { binary.Write(&h.Buffer, binary.LittleEndian, v); return h }
func (h *header) str(s string) *header { h.u64(uint64(len(s))); h.WriteString(s); return h }
func start(nt, nkv uint64) *header {
	h := &header{}
	h.WriteString("GGUF")
	return h.u32(3).u64(nt).u64(nkv)
}

func TestHostile(t *testing.T) {
	valid := sampleFile(t)
	tensorHeader := func(name string, dims []uint64, typ uint32, off uint64) []byte {
		h := start(1, 0)
		h.str(name).u32(uint32(len(dims)))
		for _, d := range dims {
			h.u64(d)
		}
		h.u32(typ).u64(off)
		b := h.Bytes()
		for len(b)%32 != 0 {
			b = append(b, 0)
		}
		return append(b, make([]byte, 64)...)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a GGUF file"},
		{"wrong magic", []byte("GGML\x03\x00\x00\x00"), "not a GGUF file"},
		{"version 1", append([]byte("GGUF"), 1, 0, 0, 0), "version 1"},
		{"version 99", append([]byte("GGUF"), 99, 0, 0, 0), "unsupported version 99"},
		{"big endian", append([]byte("GGUF"), 0, 0, 0, 3), "byte-swapped"},
		{"truncated counts", append([]byte("GGUF"), 3, 0, 0, 0, 1), "tensor count"},
		{"huge kv count", start(0, 1<<62).Bytes(), "metadata count"},
		{"huge tensor count", start(1<<40, 0).Bytes(), "tensor count"},
		{"huge string", append(start(0, 1).u64(1<<60).Bytes(), make([]byte, 16)...), "metadata key 0 needs"},
		{"unknown value type", start(0, 1).str("k").u32(77).Bytes(), "unknown value type 77"},
		{"huge array", start(0, 1).str("k").u32(9).u32(6).u64(1 << 50).Bytes(), "array of"},
		{"unknown array type", start(0, 1).str("k").u32(9).u32(13).u64(1).Bytes(), "unknown array element type"},
		{"bad bool", start(0, 1).str("k").u32(7).Bytes(), "bool value needs"},
		{"bool 2", append(start(0, 1).str("k").u32(7).Bytes(), 2), "neither 0 nor 1"},
		{"duplicate key", start(0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(1).Bytes(), "duplicate metadata key"},
		{"alignment type", start(0, 1).str("general.alignment").u32(5).u32(32).Bytes(), "want uint32"},
		{"alignment not pow2", start(0, 1).str("general.alignment").u32(4).u32(24).Bytes(), "power of two"},
		{"deep nesting", func() []byte {
			h := start(0, 1).str("k").u32(9)
			for i := 0; i < 20; i++ {
				h.u32(9).u64(1)
			}
			return h.Bytes()
		}(), "nested deeper"},
		{"too many dims", tensorHeader("t", []uint64{1, 1, 1, 1, 1}, 0, 0), `tensor "t": 5 dimensions`},
		{"dims overflow", tensorHeader("t", []uint64{1 << 32, 1 << 32, 1 << 10}, 0, 0), "overflow"},
		{"unknown type", tensorHeader("t", []uint64{4}, 4, 0), `tensor "t": unknown tensor type 4`},
		{"partial block", tensorHeader("t", []uint64{33}, uint32(tensor.Q4_0), 0), "block size"},
		{"past end", tensorHeader("t", []uint64{64}, 0, 0), `tensor "t": bytes [0, 256)`},
		{"offset past end", tensorHeader("t", []uint64{1}, 0, 1<<40), "past its end"},
		{"misaligned", tensorHeader("t", []uint64{1}, 0, 4), "not a multiple of the alignment"},
		{"truncated valid", valid[:len(valid)-40], "past its end"},
		{"truncated header", valid[:300], "left in the file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.data)
			if err == nil {
				t.Fatalf("parsed without error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestDuplicateTensor(t *testing.T) {
	h := start(2, 0)
	for i := 0; i < 2; i++ {
		h.str("t").u32(1).u64(1).u32(0).u64(0)
	}
	b := append(h.Bytes(), make([]byte, 64)...)
	if _, err := Parse(b); err == nil || !strings.Contains(err.Error(), "duplicate tensor") {
		t.Fatalf("err = %v", err)
	}
}

// sharedModel returns the path of a file in ../shared/models, or skips.
func sharedModel(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join("..", "..", "shared", "models", name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not present (needs ../shared beside the repository): %v", name, err)
	}
	return path
}

func TestStories260K(t *testing.T) {
	f, err := Open(sharedModel(t, "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Version != 3 || len(f.Tensors) != 47 || f.Alignment != 32 {
		t.Fatalf("version %d, %d tensors, alignment %d", f.Version, len(f.Tensors), f.Alignment)
	}
	if n, _ := f.Uint("llama.block_count"); n != 5 {
		t.Errorf("block_count %d", n)
	}
	toks, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil || len(toks) != 512 || toks[1] != "<s>" || toks[3] != "<0x00>" {
		t.Errorf("tokens: %d, %v", len(toks), err)
	}
	emb, ok := f.Tensor("token_embd.weight")
	if !ok || !reflect.DeepEqual(emb.Dims, []uint64{64, 512}) || emb.Type != tensor.F32 {
		t.Fatalf("token_embd: %+v", emb)
	}
	if _, ok := f.Tensor("output.weight"); ok {
		t.Error("unexpected output.weight")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sampleFile(f))
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Add(start(0, 1).str("k").u32(9).u32(8).u64(2).str("a").str("b").Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		// Whatever parses must be safe to use.
		for i := range file.Tensors {
			ti := &file.Tensors[i]
			if got := uint64(len(file.TensorData(ti))); got != ti.Size {
				t.Fatalf("tensor %q: %d bytes, want %d", ti.Name, got, ti.Size)
			}
		}
		for _, kv := range file.KV {
			file.String(kv.Key)
			file.Int32s(kv.Key)
		}
	})
}
