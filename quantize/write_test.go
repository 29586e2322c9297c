package quantize

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

// reference builds the file Write should produce the simple way: every
// tensor converted whole, in memory, and handed to gguf.Writer.
func reference(t *testing.T, f *gguf.File, p *Plan) []byte {
	t.Helper()
	w := gguf.NewWriter()
	for _, kv := range f.KV {
		if kv.Key == "general.file_type" || kv.Key == "general.quantization_version" {
			continue
		}
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	w.Set("general.quantization_version", uint32(2))
	w.Set("general.file_type", uint32(p.FileType))
	for _, c := range p.Tensors {
		ti, _ := f.Tensor(c.Name)
		data := f.TensorData(ti)
		if c.From != c.To {
			x := make([]float32, ti.Elements())
			if err := tensor.Dequantize(c.From, data, x); err != nil {
				t.Fatal(err)
			}
			var err error
			if data, err = tensor.Quantize(c.To, x); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.AddTensor(c.Name, c.To, c.Dims, data); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func write(t *testing.T, f *gguf.File, p *Plan, opt Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := Write(&buf, f, p, opt)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("Write returned %d, wrote %d bytes", n, buf.Len())
	}
	return buf.Bytes()
}

// TestWriteMatchesReference checks the streamed file byte for byte: its
// header, made before any tensor is quantized, and its tensors, converted
// in slabs across threads.
func TestWriteMatchesReference(t *testing.T) {
	models := map[string]*gguf.File{
		"F32":  randomFile(t, llamatest.RandomConfig{Embd: 256, FF: 256, Layers: 1, Heads: 4, KVHeads: 2, Seed: 3}),
		"F16":  randomFile(t, llamatest.RandomConfig{Embd: 256, FF: 256, Layers: 1, Heads: 2, Seed: 4, Type: tensor.F16, Tied: true}),
		"BF16": randomFile(t, llamatest.RandomConfig{Embd: 64, FF: 96, Layers: 1, Heads: 2, Seed: 5, Type: tensor.BF16}),
	}
	opts := []Options{
		{Threads: 1},
		{Threads: 3, slabBytes: 1}, // a slab of one row
		{Threads: 2, slabBytes: 5000},
	}
	for name, f := range models {
		fts := []FileType{Q8_0, Q4_0, Q4_K_M, Q6_K, F16, AllF32}
		if name == "F32" {
			fts = append(fts, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_M, IQ4_NL, IQ4_XS)
		}
		for _, ft := range fts {
			t.Run(name+"/"+ft.String(), func(t *testing.T) {
				p, err := NewPlan(f, ft)
				if err != nil {
					t.Fatal(err)
				}
				want := reference(t, f, p)
				for _, opt := range opts {
					if got := write(t, f, p, opt); !bytes.Equal(got, want) {
						t.Fatalf("options %+v: %d bytes differ from the %d-byte reference", opt, len(got), len(want))
					}
				}
				out, err := gguf.Parse(want)
				if err != nil {
					t.Fatal(err)
				}
				keys := make([]string, len(out.KV))
				for i, kv := range out.KV {
					keys[i] = kv.Key
				}
				if n := len(keys); n < 2 || keys[n-2] != "general.quantization_version" || keys[n-1] != "general.file_type" {
					t.Errorf("keys end with %v, want the quantization version and the file type", keys[max(0, n-2):])
				}
				if v, _ := out.Uint("general.file_type"); v != uint64(ft) {
					t.Errorf("general.file_type = %d, want %d", v, ft)
				}
				if v, _ := out.Uint("general.quantization_version"); v != 2 {
					t.Errorf("general.quantization_version = %d, want 2", v)
				}
				if len(out.KV) != len(f.KV)+1 { // the input has a file type, no version
					t.Errorf("%d keys, want %d", len(out.KV), len(f.KV)+1)
				}
				// The converted model loads and runs.
				m, err := model.Load(out)
				if err != nil {
					t.Fatal(err)
				}
				s, err := m.NewState(16, tensor.F32)
				if err != nil {
					t.Fatal(err)
				}
				logits := make([]float32, m.Config.VocabSize)
				if err := m.Forward(nil, s, []int{1, 300, 301}, logits); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestRequantize(t *testing.T) {
	f := randomFile(t, llamatest.RandomConfig{Type: tensor.Q8_0, Embd: 64, FF: 128, Layers: 1, Heads: 2})
	p, err := NewPlan(f, Q4_0)
	if err != nil {
		t.Fatal(err)
	}
	// Everything but the norms is Q8_0 and becomes Q4_0, but for the
	// output matrix, which stays Q8_0 (Q6_K does not fit 64 columns).
	var names []string
	for _, c := range p.Requantizes() {
		names = append(names, c.Name)
	}
	if len(names) != 8 || slices.Contains(names, "output.weight") {
		t.Errorf("requantized tensors: %v", names)
	}
	if _, err := Write(&bytes.Buffer{}, f, p, Options{}); err == nil || !strings.Contains(err.Error(), "AllowRequantize") {
		t.Errorf("requantized without AllowRequantize: %v", err)
	}
	got := write(t, f, p, Options{AllowRequantize: true})
	if !bytes.Equal(got, reference(t, f, p)) {
		t.Error("requantized file differs from the reference")
	}
}

func TestWriteProgressAndErrors(t *testing.T) {
	f := randomFile(t, llamatest.RandomConfig{Embd: 32, FF: 64, Layers: 2, Heads: 2, Seed: 1})
	other := randomFile(t, llamatest.RandomConfig{Embd: 32, FF: 64, Layers: 3, Heads: 2, Seed: 1})
	p, err := NewPlan(f, Q8_0)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	write(t, f, p, Options{Progress: func(i int, c *Choice) {
		if i != len(seen) || c != &p.Tensors[i] {
			t.Errorf("progress %d (%s) after %d calls", i, c.Name, len(seen))
		}
		seen = append(seen, c.Name)
	}})
	if len(seen) != len(p.Tensors) {
		t.Errorf("%d progress calls for %d tensors", len(seen), len(p.Tensors))
	}
	if _, err := Write(&bytes.Buffer{}, other, p, Options{}); err == nil {
		t.Error("wrote a file with another file's plan")
	}
	bad := *p
	bad.Tensors = slices.Clone(p.Tensors)
	bad.Tensors[3].Size++
	if _, err := Write(&bytes.Buffer{}, f, &bad, Options{}); err == nil {
		t.Error("wrote with a wrong tensor size in the plan")
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "out.gguf")
	if err := WriteFile(path, other, p, Options{}); err == nil {
		t.Error("WriteFile with another file's plan succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed WriteFile left %v", entries)
	}
	if err := WriteFile(path, f, p, Options{}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, reference(t, f, p)) {
		t.Error("WriteFile's file differs from the reference")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("WriteFile left %d files, want 1", len(entries))
	}
}

// sharedPath returns a file of ../shared beside the module, or skips.
func sharedPath(t *testing.T, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the test directory")
		}
		dir = parent
	}
	path := filepath.Join(dir, "..", "shared", rel)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not present (needs ../shared beside the repository): %v", rel, err)
	}
	return path
}

// checkSums quantizes f to each file type and compares the SHA-256 of
// the output with the sum that ref (whose output it is) gave.
func checkSums(t *testing.T, f *gguf.File, sums map[FileType]string, ref string) {
	t.Helper()
	for ft, sum := range sums {
		p, err := NewPlan(f, ft)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := Write(h, f, p, Options{Threads: 2}); err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != sum {
			t.Errorf("%s: sha256 %s, %s %s", ft, got, ref, sum)
		}
	}
}

// TestStories260KMatchesLlamaQuantize compares whole files with the ones
// llama.cpp's llama-quantize (the commit node-llama-cpp 3.22.1 bundles,
// de3ff81) wrote from the same input: their SHA-256 sums.
func TestStories260KMatchesLlamaQuantize(t *testing.T) {
	f, err := gguf.Open(sharedPath(t, "models/stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkSums(t, f, map[FileType]string{
		Q8_0: "5b266ac0806143b4a42cf60b685f69890780636cb10e3f1133baf69ff64fa1bb",
		Q4_0: "4813c9e14f1a5ff9f2118c9bf6bfde24ee520a5cdd73ddfdbe36f01ddb187e5d",
		Q6_K: "96f49def56df95e82dcaa3e047594368753aada8fab3036b7a667415b2da0cde",
		// Made with testdata/llama_quantize.c. The model's rows of 64 send
		// every k-quant and IQ4_XS to its fallback type.
		Q4_1:   "ca26ebc85a28b63c45c7e5d8aa2d352386b86f70fa33fd168ba1ef9ec469fec9",
		Q5_0:   "7756eb395434532ca6f379b167834d71c7d518ace5e6a9afa3afe1821c07a66d",
		Q5_1:   "4f85db3e25e69a9fe3a26e77679959a1f58251a63a27240a6b8926a409c70714",
		Q2_K:   "0dcc228a1926475378047e4d953da256f6653a727d4c671588382dd06c476f4b",
		Q3_K_M: "1f18c7ceb3de0c1ee7c2342dbb56a62eaab72e97650fa00bdf15029da1071ad3",
		IQ4_NL: "847ac2f9b3d2b0322417c3c1685f52f65d9ad79e975399739b955158e2fccae0",
		IQ4_XS: "94ff228f0ddba318ec51fad25afb40f4e5f74796b45855273719400b8ae07b10",
	}, "llama-quantize's")
}

// TestRandomModelMatchesLlamaQuantize compares whole files with the ones
// llama.cpp's llama_model_quantize (testdata/llama_quantize.c, de3ff81)
// wrote from the same random model, whose rows of 256 and 512 keep the
// k-quants and IQ4_XS in their own types: their SHA-256 sums.
func TestRandomModelMatchesLlamaQuantize(t *testing.T) {
	f := randomFile(t, llamatest.RandomConfig{Embd: 256, FF: 512, Layers: 2, Heads: 4, KVHeads: 2, Seed: 9})
	checkSums(t, f, map[FileType]string{
		Q4_1:   "8420b7064f7d3f0ce15a5cbe5f533ca09a2c873b33dd0bfef0c8071d108b061f",
		Q5_0:   "925257798fb7fa6ea00af97aac8b12795a2ce34e2d28ff7ff7bb39fba2e25c4d",
		Q5_1:   "db3803083ddc3e0e8c9b938fae6545d64a194f416c769e603c5b05043d646e8f",
		Q2_K:   "0bee1c128974d416675799bed643841d4ecb24342e8d12a7d9eb68b505bdc016",
		Q3_K_S: "a5f04ea8f69635b5cb94d9510e0484b9dae5827244a8a9a821b338f584005fe8",
		Q3_K_M: "c40add767ffe726d7572df0a5a47c0f6ac5fe1b0aeeb0516f05159e3d4b8ebe3",
		Q3_K_L: "4c4525442b6ae035842bd78f53a55a62b29bf92aac3b85fec1ebe44e25d51057",
		IQ4_NL: "cb93689a4450a4e1fdecc15bdd8bf06f21105d5fa59551669f025ae6e56a1003",
		IQ4_XS: "7714483a8b42b0b954c901fa0bbdf1f39d7298abce7a002b199984e39c96b912",
	}, "llama.cpp's")
}

// TestWriteSplitModel quantizes a model split into parts, opened by its
// first part, and checks the result is the file quantizing the whole model
// gives.
func TestWriteSplitModel(t *testing.T) {
	whole := randomFile(t, llamatest.RandomConfig{Embd: 256, FF: 512, Layers: 2, Heads: 4, Seed: 9})
	w, err := gguf.NewWriterFrom(whole)
	if err != nil {
		t.Fatal(err)
	}
	paths, err := w.WriteSplit(filepath.Join(t.TempDir(), "model"), gguf.SplitOptions{MaxTensors: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 3 {
		t.Fatalf("split into %d parts, want several", len(paths))
	}
	split, err := gguf.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer split.Close()

	pw, err := NewPlan(whole, Q4_K_M)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := NewPlan(split, Q4_K_M)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(write(t, split, ps, Options{}), write(t, whole, pw, Options{})) {
		t.Error("quantizing the split model gave another file than quantizing the whole one")
	}

	part, err := gguf.OpenPart(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	defer part.Close()
	if _, err := NewPlan(part, Q4_K_M); err == nil || !strings.Contains(err.Error(), "first part") {
		t.Errorf("planning a lone part: %v", err)
	}
}
