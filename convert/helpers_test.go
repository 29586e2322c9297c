package convert

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/safetensors"
	"github.com/joule-llm/joule/tensor"
)

// moduleRoot returns the directory of go.mod above the test.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// sharedDir returns ../shared beside the repository, or skips the test.
func sharedDir(t *testing.T) string {
	t.Helper()
	shared := filepath.Join(moduleRoot(t), "..", "shared")
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("skipping: %s not found (the shared data directory is next to the repository)", shared)
	}
	return shared
}

// hfModel is a tiny Hugging Face model to write: its config and its tensors
// as float64 values (row-major), stored with dtype.
type hfModel struct {
	config  map[string]any
	tensors map[string]hfTensor
}

type hfTensor struct {
	shape []uint64
	vals  []float64
	dtype safetensors.DType
}

// sizes of the tiny test models.
type sizes struct {
	vocab, embd, ff, blocks, heads, kvHeads, headDim int
}

var tiny = sizes{vocab: 300, embd: 64, ff: 96, blocks: 2, heads: 4, kvHeads: 2, headDim: 16}

// values returns n deterministic values that float32, float16 and
// bfloat16 all hold exactly when exact, else ordinary ones.
func values(n int, seed uint64, exact bool) []float64 {
	out := make([]float64, n)
	x := seed*0x9e3779b97f4a7c15 + 1
	for i := range out {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		v := float64(int64(x>>40)%2001-1000) / 1000 // [-1, 1]
		if exact {
			v = float64(int64(x>>40)%255-127) / 64 // 8 significant bits
		}
		out[i] = v
	}
	return out
}

// newModel returns a tiny model of the given Hugging Face architecture.
func newModel(archName string, s sizes, dtype safetensors.DType, exact bool) *hfModel {
	m := &hfModel{
		config: map[string]any{
			"architectures":           []string{archName},
			"hidden_size":             s.embd,
			"intermediate_size":       s.ff,
			"num_hidden_layers":       s.blocks,
			"num_attention_heads":     s.heads,
			"num_key_value_heads":     s.kvHeads,
			"max_position_embeddings": 256,
			"rms_norm_eps":            1e-5,
			"rope_theta":              10000.0,
			"vocab_size":              s.vocab,
			"tie_word_embeddings":     false,
		},
		tensors: map[string]hfTensor{},
	}
	gemma := archName == "Gemma2ForCausalLM" || archName == "Gemma3ForCausalLM"
	if s.headDim != s.embd/s.heads || archName == "Qwen3ForCausalLM" || gemma {
		m.config["head_dim"] = s.headDim
	}
	seed := uint64(1)
	add := func(name string, shape ...int) {
		n := 1
		us := make([]uint64, len(shape))
		for i, d := range shape {
			n *= d
			us[i] = uint64(d)
		}
		m.tensors[name] = hfTensor{shape: us, vals: values(n, seed, exact), dtype: dtype}
		seed++
	}
	q, kv := s.heads*s.headDim, s.kvHeads*s.headDim
	add("model.embed_tokens.weight", s.vocab, s.embd)
	add("model.norm.weight", s.embd)
	add("lm_head.weight", s.vocab, s.embd)
	for b := 0; b < s.blocks; b++ {
		p := "model.layers." + itoa(b) + "."
		add(p+"input_layernorm.weight", s.embd)
		add(p+"self_attn.q_proj.weight", q, s.embd)
		add(p+"self_attn.k_proj.weight", kv, s.embd)
		add(p+"self_attn.v_proj.weight", kv, s.embd)
		add(p+"self_attn.o_proj.weight", s.embd, q)
		add(p+"post_attention_layernorm.weight", s.embd)
		add(p+"mlp.gate_proj.weight", s.ff, s.embd)
		add(p+"mlp.up_proj.weight", s.ff, s.embd)
		add(p+"mlp.down_proj.weight", s.embd, s.ff)
		switch archName {
		case "Phi3ForCausalLM":
			// q, k and v in one matrix, gate and up in another.
			for _, part := range []string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.gate_proj", "mlp.up_proj"} {
				delete(m.tensors, p+part+".weight")
			}
			add(p+"self_attn.qkv_proj.weight", q+2*kv, s.embd)
			add(p+"mlp.gate_up_proj.weight", 2*s.ff, s.embd)
		case "Gemma2ForCausalLM", "Gemma3ForCausalLM":
			add(p+"pre_feedforward_layernorm.weight", s.embd)
			add(p+"post_feedforward_layernorm.weight", s.embd)
			if archName == "Gemma3ForCausalLM" {
				add(p+"self_attn.q_norm.weight", s.headDim)
				add(p+"self_attn.k_norm.weight", s.headDim)
			}
		case "Qwen2ForCausalLM":
			add(p+"self_attn.q_proj.bias", q)
			add(p+"self_attn.k_proj.bias", kv)
			add(p+"self_attn.v_proj.bias", kv)
		case "Qwen3ForCausalLM":
			add(p+"self_attn.q_norm.weight", s.headDim)
			add(p+"self_attn.k_norm.weight", s.headDim)
		}
	}
	if gemma {
		delete(m.tensors, "lm_head.weight") // Gemma ties the output to the embedding
		m.config["tie_word_embeddings"] = true
	}
	return m
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// encodeValues stores vals as dtype.
func encodeValues(vals []float64, dtype safetensors.DType) []byte {
	switch dtype {
	case safetensors.F32:
		b := make([]byte, 4*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(v)))
		}
		return b
	case safetensors.F16:
		b := make([]byte, 2*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint16(b[2*i:], tensor.Float32ToFP16(float32(v)))
		}
		return b
	case safetensors.BF16:
		b := make([]byte, 2*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint16(b[2*i:], tensor.Float32ToBF16(float32(v)))
		}
		return b
	case safetensors.F64:
		b := make([]byte, 8*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
		}
		return b
	}
	panic("dtype " + dtype)
}

// stored returns vals as the float32 values dtype holds of them.
func stored(vals []float64, dtype safetensors.DType) []float32 {
	out := make([]float32, len(vals))
	for i, v := range vals {
		switch dtype {
		case safetensors.F16:
			out[i] = tensor.FP16ToFloat32(tensor.Float32ToFP16(float32(v)))
		case safetensors.BF16:
			out[i] = tensor.BF16ToFloat32(tensor.Float32ToBF16(float32(v)))
		default:
			out[i] = float32(v)
		}
	}
	return out
}

// weight returns the tensor name as the model stores it, in float64, or
// nil if the model has none.
func (m *hfModel) weight(name string) []float64 {
	ht, ok := m.tensors[name]
	if !ok {
		return nil
	}
	v := stored(ht.vals, ht.dtype)
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// write writes config.json and the weights (in shards of about
// shardTensors tensors, with an index, when shardTensors > 0).
func (m *hfModel) write(t *testing.T, dir string, shardTensors int) {
	t.Helper()
	writeJSON(t, filepath.Join(dir, "config.json"), m.config)
	names := make([]string, 0, len(m.tensors))
	for n := range m.tensors {
		names = append(names, n)
	}
	slices.Sort(names)
	var shards [][]safetensors.Tensor
	for i, n := range names {
		ht := m.tensors[n]
		st := safetensors.Tensor{Name: n, DType: ht.dtype, Shape: ht.shape, Data: encodeValues(ht.vals, ht.dtype)}
		if shardTensors <= 0 || i%shardTensors == 0 {
			if shardTensors > 0 || len(shards) == 0 {
				shards = append(shards, nil)
			}
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], st)
	}
	if shardTensors <= 0 {
		writeSafetensors(t, filepath.Join(dir, "model.safetensors"), shards[0])
		return
	}
	weightMap := map[string]string{}
	for i, sh := range shards {
		file := "model-" + pad5(i+1) + "-of-" + pad5(len(shards)) + ".safetensors"
		writeSafetensors(t, filepath.Join(dir, file), sh)
		for _, st := range sh {
			weightMap[st.Name] = file
		}
	}
	writeJSON(t, filepath.Join(dir, safetensors.IndexName), map[string]any{"metadata": map[string]any{}, "weight_map": weightMap})
}

func pad5(n int) string { s := itoa(n); return "00000"[len(s):] + s }

func writeSafetensors(t *testing.T, path string, tensors []safetensors.Tensor) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(f, map[string]string{"format": "pt"}, tensors); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeByteFallbackJSON writes dir's tokenizer.json as SentencePiece-style
// models have it: an empty byte-fallback BPE model and the added tokens.
func writeByteFallbackJSON(t *testing.T, dir string, added []map[string]any) {
	t.Helper()
	writeJSON(t, filepath.Join(dir, "tokenizer.json"), map[string]any{
		"added_tokens": added,
		"model":        map[string]any{"type": "BPE", "vocab": map[string]int{}, "merges": []string{}, "byte_fallback": true},
		"decoder":      map[string]any{"type": "Sequence"},
	})
}

// byteUnicode is GPT-2's spelling of each byte as a printable character.
func byteUnicode() [256]rune {
	var out [256]rune
	n := 0
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF {
			out[b] = rune(b)
		} else {
			out[b] = rune(256 + n)
			n++
		}
	}
	return out
}

// writeTokenizer writes a small byte-level BPE tokenizer: the 256 byte
// symbols (ids 0..255), a few merges, and added tokens, with a
// tokenizer_config.json.
func writeTokenizer(t *testing.T, dir string) {
	t.Helper()
	bu := byteUnicode()
	vocab := map[string]int{}
	for b, r := range bu {
		vocab[string(r)] = b
	}
	merges := [][2]string{{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"Ġ", "a"}, {"i", "n"}}
	for _, m := range merges {
		vocab[m[0]+m[1]] = len(vocab)
	}
	added := []map[string]any{
		{"id": 261, "content": "<|endoftext|>", "special": true, "normalized": false},
		{"id": 262, "content": "<|im_start|>", "special": true, "normalized": false},
		{"id": 263, "content": "<|im_end|>", "special": false, "normalized": false},
		{"id": 264, "content": "<tool>", "special": false, "normalized": false},
		{"id": 266, "content": "▁x▁", "special": false, "normalized": false},
	}
	for _, a := range added {
		a["single_word"], a["lstrip"], a["rstrip"] = false, false, false
	}
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	writeJSON(t, filepath.Join(dir, "tokenizer.json"), map[string]any{
		"version":        "1.0",
		"added_tokens":   added,
		"normalizer":     nil,
		"pre_tokenizer":  byteLevel,
		"post_processor": byteLevel,
		"decoder":        byteLevel,
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": merges,
		},
	})
	writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{
		"bos_token":     nil,
		"eos_token":     "<|im_end|>",
		"pad_token":     map[string]any{"content": "<|endoftext|>", "lstrip": false},
		"chat_template": "{% for m in messages %}<|im_start|>{{ m.content }}<|im_end|>{% endfor %}",
	})
}

// openGGUF opens a converted file for the rest of the test.
func openGGUF(t *testing.T, path string) *gguf.File {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// tensorF32 decodes a GGUF tensor.
func tensorF32(t *testing.T, f *gguf.File, name string) []float32 {
	t.Helper()
	ti, ok := f.Tensor(name)
	if !ok {
		t.Fatalf("tensor %s missing", name)
	}
	out := make([]float32, ti.Elements())
	if err := tensor.Dequantize(ti.Type, f.TensorData(ti), out); err != nil {
		t.Fatal(err)
	}
	return out
}

// convertTiny writes m with the small tokenizer and converts it.
func convertTiny(t *testing.T, m *hfModel, o Options) *gguf.File {
	t.Helper()
	dir := t.TempDir()
	m.write(t, dir, 0)
	writeTokenizer(t, dir)
	if o.Pre == "" {
		o.Pre = "gpt-2"
	}
	out := filepath.Join(t.TempDir(), "out.gguf")
	if err := Convert(dir, out, o); err != nil {
		t.Fatal(err)
	}
	return openGGUF(t, out)
}
