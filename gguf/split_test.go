package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/joule-llm/joule/tensor"
)

func TestSplitPath(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		i, n   int
		want   string
	}{
		{"m", 0, 3, "m-00001-of-00003.gguf"},
		{"dir/Model-Q4_K_M", 2, 3, "dir/Model-Q4_K_M-00003-of-00003.gguf"},
		{"x", 99, 65535, "x-00100-of-65535.gguf"},
	} {
		got := SplitPath(tc.prefix, tc.i, tc.n)
		if got != tc.want {
			t.Errorf("SplitPath(%q, %d, %d) = %q, want %q", tc.prefix, tc.i, tc.n, got, tc.want)
		}
		if p, ok := SplitPrefix(got, tc.i, tc.n); !ok || p != tc.prefix {
			t.Errorf("SplitPrefix(%q, %d, %d) = %q, %v", got, tc.i, tc.n, p, ok)
		}
	}
	for _, tc := range []struct {
		path string
		i, n int
	}{
		{"m-00001-of-00003.gguf", 1, 3}, // another part
		{"m-00001-of-00003.gguf", 0, 2}, // another count
		{"m.gguf", 0, 3},
		{"-00001-of-00003.gguf", 0, 3}, // no prefix
	} {
		if p, ok := SplitPrefix(tc.path, tc.i, tc.n); ok {
			t.Errorf("SplitPrefix(%q, %d, %d) = %q, true", tc.path, tc.i, tc.n, p)
		}
	}
}

// splitSource is a Writer with metadata and tensors of the given sizes in
// bytes (F32, so each a multiple of 4), named t0, t1, ...
func splitSource(t testing.TB, sizes ...int) *Writer {
	t.Helper()
	w := NewWriter()
	w.Set("general.architecture", "llama")
	w.Set("general.name", "split test")
	w.Set("tokens", []string{"a", "b", "c"})
	for i, size := range sizes {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(i*31 + j)
		}
		if err := w.AddTensor(fmt.Sprintf("t%d", i), tensor.F32, []uint64{uint64(size / 4)}, data); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func TestSplitPlan(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sizes []int
		opt   SplitOptions
		want  []int
		err   string
	}{
		{"default 128 tensors", make([]int, 300), SplitOptions{}, []int{128, 128, 44}, ""},
		{"by tensors", []int{4, 4, 4, 4, 4}, SplitOptions{MaxTensors: 2}, []int{2, 2, 1}, ""},
		{"by tensors, exact", []int{4, 4, 4, 4}, SplitOptions{MaxTensors: 2}, []int{2, 2}, ""},
		{"one part", []int{4, 4}, SplitOptions{MaxTensors: 5}, []int{2}, ""},
		{"metadata alone first", []int{4, 4, 4}, SplitOptions{MaxTensors: 2, MetadataOnlyFirst: true}, []int{0, 2, 1}, ""},
		// Each tensor counts padded to 32 bytes: 40 -> 64, 20 -> 32.
		{"by size", []int{40, 20, 20, 4, 100}, SplitOptions{MaxBytes: 96}, []int{2, 2, 1}, ""},
		{"by size, exact fit", []int{32, 32, 32}, SplitOptions{MaxBytes: 64}, []int{2, 1}, ""},
		{"large tensor alone", []int{32, 200, 32}, SplitOptions{MaxBytes: 64}, []int{1, 1, 1}, ""},
		{"size, metadata alone first", []int{32, 32, 32}, SplitOptions{MaxBytes: 64, MetadataOnlyFirst: true}, []int{0, 2, 1}, ""},
		{"no tensors", nil, SplitOptions{}, []int{0}, ""},
		{"first tensor too large", []int{200, 4}, SplitOptions{MaxBytes: 64}, nil, `tensor "t0" (200 bytes) is larger than the 64-byte limit`},
		{"first tensor too large after metadata", []int{200}, SplitOptions{MaxBytes: 64, MetadataOnlyFirst: true}, nil, "larger than"},
		{"both limits", []int{4}, SplitOptions{MaxTensors: 1, MaxBytes: 10}, nil, "not both"},
		{"negative", []int{4}, SplitOptions{MaxTensors: -1}, nil, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sizes := tc.sizes
			for i := range sizes {
				if sizes[i] == 0 {
					sizes[i] = 4
				}
			}
			got, err := tc.opt.plan(splitSource(t, sizes...))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("plan = %v, %v; want an error mentioning %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("plan = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// writeSplit writes w split with opt into a temporary folder and returns
// the paths.
func writeSplit(t *testing.T, w *Writer, opt SplitOptions) []string {
	t.Helper()
	paths, err := w.WriteSplit(filepath.Join(t.TempDir(), "model"), opt)
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

func TestOpenSplit(t *testing.T) {
	w := splitSource(t, 12, 40, 8, 64, 4)
	var whole bytes.Buffer
	if _, err := w.WriteTo(&whole); err != nil {
		t.Fatal(err)
	}
	want, err := Parse(whole.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	paths := writeSplit(t, w, SplitOptions{MaxTensors: 2})
	if len(paths) != 3 || filepath.Base(paths[2]) != "model-00003-of-00003.gguf" {
		t.Fatalf("wrote %v", paths)
	}

	f, err := Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Paths(), paths) {
		t.Errorf("Paths = %v, want %v", f.Paths(), paths)
	}
	var size int64
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
	}
	if f.Size() != size {
		t.Errorf("Size = %d, want %d, the parts' total", f.Size(), size)
	}
	if len(f.Tensors) != len(want.Tensors) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(want.Tensors))
	}
	for i := range want.Tensors {
		wt, ft := &want.Tensors[i], &f.Tensors[i]
		if ft.Name != wt.Name || ft.Type != wt.Type || !slices.Equal(ft.Dims, wt.Dims) {
			t.Errorf("tensor %d: %+v, want %+v", i, ft, wt)
		}
		got, ok := f.Tensor(wt.Name)
		if !ok || !bytes.Equal(f.TensorData(got), want.TensorData(wt)) {
			t.Errorf("tensor %q: data differs from the unsplit file's", wt.Name)
		}
	}
	// The first part holds the metadata, with the split keys after it.
	if s, err := f.String("general.name"); err != nil || s != "split test" {
		t.Errorf("general.name = %q, %v", s, err)
	}
	if toks, err := f.Strings("tokens"); err != nil || len(toks) != 3 {
		t.Errorf("tokens = %v, %v", toks, err)
	}
	for key, v := range map[string]any{KeySplitNo: uint16(0), KeySplitCount: uint16(3), KeySplitTensorsCount: int32(5)} {
		if got, ok := f.Value(key); !ok || got != v {
			t.Errorf("%s = %#v, want %#v", key, got, v)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	// The other parts hold only the split keys and their tensors.
	p, err := OpenPart(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var keys []string
	for _, kv := range p.KV {
		keys = append(keys, kv.Key)
	}
	if want := []string{KeySplitNo, KeySplitCount, KeySplitTensorsCount}; !slices.Equal(keys, want) {
		t.Errorf("part 2 has keys %v, want %v", keys, want)
	}
	if len(p.Tensors) != 2 || p.Tensors[0].Name != "t2" {
		t.Errorf("part 2 holds %+v", p.Tensors)
	}
	if !slices.Equal(p.Paths(), paths[1:2]) {
		t.Errorf("part Paths = %v", p.Paths())
	}

	// NewWriterFrom the split model writes the unsplit file again.
	f, err = Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rw, err := NewWriterFrom(f)
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if _, err := rw.WriteTo(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), whole.Bytes()) {
		t.Error("a split model rewritten whole differs from the file it was split from")
	}
}

func TestOpenSplitMetadataOnlyFirst(t *testing.T) {
	w := splitSource(t, 4, 8, 12)
	if err := w.Set("general.alignment", uint32(64)); err != nil {
		t.Fatal(err)
	}
	paths := writeSplit(t, w, SplitOptions{MaxTensors: 2, MetadataOnlyFirst: true})
	f, err := Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(paths) != 3 || len(f.Tensors) != 3 || len(f.parts[0].Tensors) != 0 {
		t.Fatalf("%d parts, %d tensors, %d in the first", len(paths), len(f.Tensors), len(f.parts[0].Tensors))
	}
	for _, p := range f.parts {
		if p.Alignment != 64 {
			t.Errorf("%s: alignment %d, want the source's 64", p.path, p.Alignment)
		}
	}
	t2, _ := f.Tensor("t2")
	if got := f.TensorData(t2); len(got) != 12 || got[1] != 2*31+1 {
		t.Errorf("t2 = %v", got)
	}
}

func TestOpenWholeFileNamedLikeAPart(t *testing.T) {
	// A single file (split.count 1) is opened as it is, whatever its name.
	paths := writeSplit(t, splitSource(t, 4, 4), SplitOptions{MaxTensors: 10})
	if len(paths) != 1 {
		t.Fatalf("wrote %v", paths)
	}
	f, err := Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Tensors) != 2 || f.parts != nil {
		t.Errorf("%d tensors, parts %v", len(f.Tensors), f.parts)
	}
}

// part writes one hand-made part file: metadata kv and F32 tensors of one
// element with the given names.
func part(t *testing.T, path string, kv []KV, tensors ...string) {
	t.Helper()
	w := NewWriter()
	for _, e := range kv {
		if err := w.Set(e.Key, e.Value); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range tensors {
		if err := w.AddTensor(name, tensor.F32, []uint64{1}, []byte{0, 0, 0x80, 0x3f}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
}

func splitKV(no, count uint16, total int32) []KV {
	return []KV{{KeySplitNo, no}, {KeySplitCount, count}, {KeySplitTensorsCount, total}}
}

func TestOpenSplitHostile(t *testing.T) {
	type file struct {
		name    string
		kv      []KV
		tensors []string
	}
	good := func() []file {
		return []file{
			{"m-00001-of-00003.gguf", append([]KV{{"general.architecture", "llama"}}, splitKV(0, 3, 4)...), []string{"a"}},
			{"m-00002-of-00003.gguf", splitKV(1, 3, 4), []string{"b", "c"}},
			{"m-00003-of-00003.gguf", splitKV(2, 3, 4), []string{"d"}},
		}
	}
	for _, tc := range []struct {
		name  string
		edit  func(fs []file) []file
		open  string // the file to open; the first by default
		want  string // in the error; "" for none
		is    error
		names []string // files the error must name, by base name
	}{
		{name: "valid", edit: func(fs []file) []file { return fs }},
		{name: "conflicting split.count", edit: func(fs []file) []file {
			fs[1].kv = splitKV(1, 4, 4)
			return fs
		}, want: "split.count is 4, but the first part says 3", names: []string{"m-00002-of-00003.gguf"}},
		{name: "wrong split.no", edit: func(fs []file) []file {
			fs[2].kv = splitKV(1, 3, 4)
			return fs
		}, want: "split.no is 1, want 2", names: []string{"m-00003-of-00003.gguf"}},
		{name: "parts swapped", edit: func(fs []file) []file {
			fs[1].kv, fs[2].kv = fs[2].kv, fs[1].kv
			return fs
		}, want: "split.no is 2, want 1"},
		{name: "missing split.no", edit: func(fs []file) []file {
			fs[1].kv = []KV{{KeySplitCount, uint16(3)}}
			return fs
		}, want: `"split.no"`, is: ErrKeyNotFound},
		{name: "split.no of another type", edit: func(fs []file) []file {
			fs[1].kv = []KV{{KeySplitNo, "one"}, {KeySplitCount, uint16(3)}}
			return fs
		}, want: `"split.no" is string`},
		{name: "split.count too large", edit: func(fs []file) []file {
			fs[0].kv = []KV{{KeySplitNo, uint16(0)}, {KeySplitCount, uint32(70000)}, {KeySplitTensorsCount, int32(4)}}
			return fs
		}, want: "more than a uint16"},
		{name: "duplicate tensor across parts", edit: func(fs []file) []file {
			fs[2].tensors = []string{"b"}
			return fs
		}, want: `tensor "b" is in two parts`, names: []string{"m-00002-of-00003.gguf", "m-00003-of-00003.gguf"}},
		{name: "more tensors than split.tensors.count", edit: func(fs []file) []file {
			fs[2].tensors = []string{"d", "e"}
			return fs
		}, want: "hold 5 tensors, but its split.tensors.count is 4"},
		{name: "fewer tensors than split.tensors.count", edit: func(fs []file) []file {
			fs[1].tensors = []string{"b"}
			return fs
		}, want: "hold 3 tensors"},
		{name: "parts disagree on the total", edit: func(fs []file) []file {
			fs[1].kv = splitKV(1, 3, 5)
			return fs
		}, want: "split.tensors.count is 5, but the first part says 4"},
		{name: "no split.tensors.count", edit: func(fs []file) []file {
			fs[0].kv = []KV{{KeySplitNo, uint16(0)}, {KeySplitCount, uint16(3)}}
			return fs
		}, want: "split.tensors.count", is: ErrKeyNotFound},
		{name: "missing part", edit: func(fs []file) []file {
			return slices.Delete(fs, 1, 2)
		}, want: "part 2 of 3 of the split model", is: fs.ErrNotExist, names: []string{"m-00002-of-00003.gguf", "m-00001-of-00003.gguf"}},
		{name: "second part opened", edit: func(fs []file) []file { return fs }, open: "m-00002-of-00003.gguf",
			want: "part 2 of 3 of a split model: open the first part", names: []string{"m-00001-of-00003.gguf"}},
		{name: "a part renamed", edit: func(fs []file) []file {
			fs[0].name = "m.gguf"
			return fs
		}, open: "m.gguf", want: "does not end in -00001-of-00003.gguf"},
		{name: "a later part renamed and opened", edit: func(fs []file) []file {
			fs[2].name = "other.gguf"
			return fs
		}, open: "other.gguf", want: "part 3 of 3 of a split model: open the first part (named *-00001-of-00003.gguf)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.edit(good()) {
				part(t, filepath.Join(dir, f.name), f.kv, f.tensors...)
			}
			open := cmpOr(tc.open, "m-00001-of-00003.gguf")
			f, err := Open(filepath.Join(dir, open))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if len(f.Tensors) != 4 {
					t.Fatalf("%d tensors", len(f.Tensors))
				}
				return
			}
			if err == nil {
				f.Close()
				t.Fatal("opened without error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			for _, n := range tc.names {
				if !strings.Contains(err.Error(), filepath.Join(dir, n)) {
					t.Errorf("error %q does not name %s", err, n)
				}
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestOpenSplitBadPart(t *testing.T) {
	// A part that is not a valid GGUF file fails as any file would, named.
	paths := writeSplit(t, splitSource(t, 4, 4, 4), SplitOptions{MaxTensors: 1})
	data, err := os.ReadFile(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paths[1], data[:len(data)-29], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(paths[0])
	if err == nil || !strings.Contains(err.Error(), "past its end") || !strings.Contains(err.Error(), paths[1]) {
		t.Fatalf("truncated part: %v", err)
	}
}

// joinBytes makes one model of two parts held in memory, as Open would
// from files.
func joinBytes(a, b []byte) (*File, error) {
	first, err := Parse(a)
	if err != nil {
		return nil, err
	}
	n, err := splitField(first, KeySplitCount)
	if err != nil || n != 2 {
		return nil, fmt.Errorf("not a two-part model")
	}
	if no, err := splitField(first, KeySplitNo); err != nil || no != 0 {
		return nil, fmt.Errorf("not a first part")
	}
	return join(first, n, func(int) (*File, error) { return Parse(b) })
}

func FuzzSplit(f *testing.F) {
	dir := f.TempDir()
	w := splitSource(f, 8, 4, 12)
	paths, err := w.WriteSplit(filepath.Join(dir, "m"), SplitOptions{MaxTensors: 2})
	if err != nil {
		f.Fatal(err)
	}
	a, _ := os.ReadFile(paths[0])
	b, _ := os.ReadFile(paths[1])
	f.Add(a, b)
	f.Add(a, a)
	f.Add(b, a)
	// Parts that disagree: the second claims three parts, or is part 0.
	for _, kv := range [][]KV{splitKV(1, 3, 3), splitKV(0, 2, 3), splitKV(1, 2, 2)} {
		var buf bytes.Buffer
		pw := NewWriter()
		for _, e := range kv {
			pw.Set(e.Key, e.Value)
		}
		pw.AddTensor("t2", tensor.F32, []uint64{3}, make([]byte, 12))
		pw.WriteTo(&buf)
		f.Add(a, buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		file, err := joinBytes(a, b)
		if err != nil {
			return
		}
		// Whatever joins must be consistent and safe to use.
		total, err := file.Uint(KeySplitTensorsCount)
		if err != nil || total != uint64(len(file.Tensors)) {
			t.Fatalf("joined %d tensors, split.tensors.count %d, %v", len(file.Tensors), total, err)
		}
		seen := map[string]bool{}
		for i := range file.Tensors {
			ti := &file.Tensors[i]
			if seen[ti.Name] {
				t.Fatalf("tensor %q twice", ti.Name)
			}
			seen[ti.Name] = true
			if got, ok := file.Tensor(ti.Name); !ok || got.Name != ti.Name {
				t.Fatalf("Tensor(%q) = %v, %v", ti.Name, got, ok)
			}
			if got := uint64(len(file.TensorData(ti))); got != ti.Size {
				t.Fatalf("tensor %q: %d bytes, want %d", ti.Name, got, ti.Size)
			}
		}
		for _, p := range file.parts[1:] {
			if no, err := splitField(p, KeySplitNo); err != nil || no != 1 {
				t.Fatalf("second part has split.no %d, %v", no, err)
			}
		}
	})
}

// The tests above build their parts with WriteSplit; this checks one part's
// bytes by hand, so that WriteSplit and Open cannot agree on a wrong layout.
func TestWriteSplitLayout(t *testing.T) {
	paths := writeSplit(t, splitSource(t, 4, 8), SplitOptions{MaxTensors: 1})
	data, err := os.ReadFile(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	h := &header{}
	h.WriteString("GGUF")
	h.u32(3).u64(1).u64(3)
	h.str(KeySplitNo).u32(uint32(TypeUint16))
	binary.Write(&h.Buffer, le, uint16(1))
	h.str(KeySplitCount).u32(uint32(TypeUint16))
	binary.Write(&h.Buffer, le, uint16(2))
	h.str(KeySplitTensorsCount).u32(uint32(TypeInt32)).u32(2)
	h.str("t1").u32(1).u64(2).u32(uint32(tensor.F32)).u64(0)
	for h.Len()%32 != 0 {
		h.WriteByte(0)
	}
	for j := 0; j < 8; j++ {
		h.WriteByte(byte(31 + j))
	}
	for h.Len()%32 != 0 {
		h.WriteByte(0)
	}
	if !bytes.Equal(data, h.Bytes()) {
		t.Errorf("part 2 is\n%x\nwant\n%x", data, h.Bytes())
	}
	if want := strings.Replace(paths[0], "-00001-of-", "-00002-of-", 1); paths[1] != want {
		t.Errorf("paths %v", paths)
	}
}
