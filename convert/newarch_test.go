package convert

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/safetensors"
	"github.com/joule-llm/joule/tensor"
	"github.com/joule-llm/joule/tokenizer"
)

// anyValue in an expectation table stands for a key whose value is
// checked elsewhere.
type anyValue struct{}

// checkAllMeta checks that f's metadata are exactly the keys of want,
// with want's values and types.
func checkAllMeta(t *testing.T, f *gguf.File, want map[string]any) {
	t.Helper()
	exact := map[string]any{}
	for k, v := range want {
		if _, skip := v.(anyValue); !skip {
			exact[k] = v
		}
	}
	checkMeta(t, f, exact)
	for _, kv := range f.KV {
		if _, ok := want[kv.Key]; !ok {
			t.Errorf("unexpected metadata %s = %v", kv.Key, kv.Value)
		}
		delete(want, kv.Key)
	}
	for k := range want {
		if _, ok := f.Value(k); !ok {
			t.Errorf("metadata %s missing", k)
		}
	}
}

// checkTensors checks that f holds exactly the tensors of want, with
// their GGUF dims (innermost first) and types.
func checkTensors(t *testing.T, f *gguf.File, want map[string]tensorWant) {
	t.Helper()
	if len(f.Tensors) != len(want) {
		t.Errorf("%d tensors, want %d", len(f.Tensors), len(want))
	}
	for _, ti := range f.Tensors {
		w, ok := want[ti.Name]
		if !ok {
			t.Errorf("unexpected tensor %s", ti.Name)
			continue
		}
		if ti.Type != w.typ || !slices.Equal(ti.Dims, w.dims) {
			t.Errorf("tensor %s: %s %v, want %s %v", ti.Name, ti.Type, ti.Dims, w.typ, w.dims)
		}
	}
	for name := range want {
		if _, ok := f.Tensor(name); !ok {
			t.Errorf("tensor %s missing", name)
		}
	}
}

type tensorWant struct {
	typ  tensor.Type
	dims []uint64
}

// blockTensors expands a table of per-block tensors over blocks.
func blockTensors(blocks int, global, block map[string]tensorWant) map[string]tensorWant {
	out := map[string]tensorWant{}
	for n, w := range global {
		out[n] = w
	}
	for b := 0; b < blocks; b++ {
		for n, w := range block {
			out["blk."+itoa(b)+"."+n] = w
		}
	}
	return out
}

// convertDir converts dir, naming no pre-tokenizer.
func convertDir(t *testing.T, dir string, o Options) *gguf.File {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.gguf")
	if err := Convert(dir, out, o); err != nil {
		t.Fatal(err)
	}
	return openGGUF(t, out)
}

// phi3Dir writes a tiny Phi-3 model with LongRoPE scaling and a
// SentencePiece tokenizer with Phi-3's added tokens.
func phi3Dir(t *testing.T, s sizes, dtype safetensors.DType) (string, *hfModel) {
	t.Helper()
	m := newModel("Phi3ForCausalLM", s, dtype, false)
	pairs := s.headDim / 2
	long, short := make([]float64, pairs), make([]float64, pairs)
	for i := range long {
		long[i] = 1 + float64(i)*0.75
		short[i] = 1 + float64(i)*0.125
	}
	m.config["original_max_position_embeddings"] = 128
	m.config["rope_scaling"] = map[string]any{"type": "longrope", "long_factor": long, "short_factor": short}
	m.config["sliding_window"] = 2047
	m.config["bos_token_id"] = 1
	m.config["eos_token_id"] = 290
	dir := t.TempDir()
	m.write(t, dir, 0)
	writeSentencePiece(t, dir, tinyPieces(290, nil))
	added := []map[string]any{
		{"id": 0, "content": "<unk>", "special": true},
		{"id": 1, "content": "<s>", "special": true},
		{"id": 2, "content": "</s>", "special": false},
		{"id": 290, "content": "<|endoftext|>", "special": true},
		{"id": 291, "content": "<|assistant|>", "special": true},
		{"id": 292, "content": "<|placeholder1|>", "special": false},
		{"id": 293, "content": "<|end|>", "special": true},
	}
	writeByteFallbackJSON(t, dir, added)
	writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{
		"add_bos_token": false, "add_eos_token": false,
		"bos_token": "<s>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": "<unk>",
		"added_tokens_decoder": map[string]any{
			"2":   map[string]any{"content": "</s>", "special": true},
			"294": map[string]any{"content": "<|user|>", "special": true},
		},
		"chat_template":   "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}<|end|>{% endfor %}",
		"tokenizer_class": "LlamaTokenizer",
	})
	return dir, m
}

func TestConvertPhi3(t *testing.T) {
	dir, m := phi3Dir(t, tiny, safetensors.BF16)
	f := convertDir(t, dir, Options{Type: tensor.Q8_0})
	checkAllMeta(t, f, map[string]any{
		"general.architecture":                      "phi3",
		"general.type":                              "model",
		"general.name":                              anyValue{},
		"general.file_type":                         uint32(7),
		"general.quantization_version":              uint32(2),
		"phi3.block_count":                          uint32(2),
		"phi3.context_length":                       uint32(256),
		"phi3.embedding_length":                     uint32(64),
		"phi3.feed_forward_length":                  uint32(96),
		"phi3.attention.head_count":                 uint32(4),
		"phi3.attention.head_count_kv":              uint32(2),
		"phi3.attention.layer_norm_rms_epsilon":     float32(1e-5),
		"phi3.attention.sliding_window":             uint32(2047),
		"phi3.rope.dimension_count":                 uint32(16),
		"phi3.rope.freq_base":                       float32(10000),
		"phi3.rope.scaling.original_context_length": uint32(128),
		// sqrt(1 + ln(256/128) / ln(128)), as llama.cpp computes it.
		"phi3.rope.scaling.attn_factor":   float32(math.Sqrt(1 + math.Log(2)/math.Log(128))),
		"tokenizer.ggml.model":            "llama",
		"tokenizer.ggml.pre":              "default",
		"tokenizer.ggml.tokens":           anyValue{},
		"tokenizer.ggml.scores":           anyValue{},
		"tokenizer.ggml.token_type":       anyValue{},
		"tokenizer.ggml.bos_token_id":     uint32(1),
		"tokenizer.ggml.eos_token_id":     uint32(290),
		"tokenizer.ggml.unknown_token_id": uint32(0),
		"tokenizer.ggml.padding_token_id": uint32(290),
		"tokenizer.ggml.add_bos_token":    false,
		"tokenizer.ggml.add_eos_token":    false,
		"tokenizer.chat_template":         "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}<|end|>{% endfor %}",
	})
	f32 := func(dims ...uint64) tensorWant { return tensorWant{tensor.F32, dims} }
	q8 := func(dims ...uint64) tensorWant { return tensorWant{tensor.Q8_0, dims} }
	checkTensors(t, f, blockTensors(2, map[string]tensorWant{
		"token_embd.weight":         q8(64, 300),
		"output_norm.weight":        f32(64),
		"output.weight":             q8(64, 300),
		"rope_factors_long.weight":  f32(8),
		"rope_factors_short.weight": f32(8),
	}, map[string]tensorWant{
		"attn_norm.weight":   f32(64),
		"attn_qkv.weight":    q8(64, 128), // q, k, v rows as they are
		"attn_output.weight": q8(64, 64),
		"ffn_norm.weight":    f32(64),
		"ffn_up.weight":      q8(64, 192), // gate rows, then up rows
		"ffn_down.weight":    q8(96, 64),
	}))
	rs := m.config["rope_scaling"].(map[string]any)
	for name, src := range map[string][]float64{"rope_factors_long.weight": rs["long_factor"].([]float64), "rope_factors_short.weight": rs["short_factor"].([]float64)} {
		if got := tensorF32(t, f, name); !slices.Equal(got, stored(src, safetensors.F32)) {
			t.Errorf("%s = %v, want %v", name, got, src)
		}
	}
	qkv, err := tensor.Quantize(tensor.Q8_0, stored(m.tensors["model.layers.1.self_attn.qkv_proj.weight"].vals, safetensors.BF16))
	if err != nil {
		t.Fatal(err)
	}
	if ti, _ := f.Tensor("blk.1.attn_qkv.weight"); string(f.TensorData(ti)) != string(qkv) {
		t.Error("blk.1.attn_qkv.weight is not the source quantized, unpermuted")
	}

	// Phi-3's own vocabulary rules: tokenizer.json's and
	// tokenizer_config.json's added tokens are control tokens when
	// special, else user-defined whatever they look like; <unk> too.
	checkTokens(t, f, map[int]tokenWant{
		0:   {"<unk>", -1000, tokenizer.Control},
		1:   {"<s>", -1000, tokenizer.Control},
		2:   {"</s>", -1000, tokenizer.UserDefined}, // tokenizer.json, read last, says not special
		3:   {"<0x00>", 0, tokenizer.Byte},
		259: {"▁t", 0, tokenizer.Normal},
		260: {"he", -1, tokenizer.Normal},
		288: {"▁to", -29, tokenizer.Normal}, // a user-defined piece of the model is written as normal
		289: {"le", -30, tokenizer.Unused},
		290: {"<|endoftext|>", -1000, tokenizer.Control},
		292: {"<|placeholder1|>", -1000, tokenizer.UserDefined},
		294: {"<|user|>", -1000, tokenizer.Control},
		295: {"[PAD295]", -10000, tokenizer.Unused},
		299: {"[PAD299]", -10000, tokenizer.Unused},
	}, 300)
	loadAndRun(t, f)
}

type tokenWant struct {
	text  string
	score float32
	typ   tokenizer.TokenType
}

// checkTokens checks the length of the vocabulary and the given tokens.
func checkTokens(t *testing.T, f *gguf.File, want map[int]tokenWant, n int) {
	t.Helper()
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil {
		t.Fatal(err)
	}
	scores, err := f.Float32s("tokenizer.ggml.scores")
	if err != nil {
		t.Fatal(err)
	}
	types, err := f.Int32s("tokenizer.ggml.token_type")
	if err != nil {
		t.Fatal(err)
	}
	if len(tokens) != n || len(scores) != n || len(types) != n {
		t.Fatalf("%d tokens, %d scores, %d types; want %d", len(tokens), len(scores), len(types), n)
	}
	for _, id := range slices.Sorted(func(yield func(int) bool) {
		for id := range want {
			if !yield(id) {
				return
			}
		}
	}) {
		w := want[id]
		if got := (tokenWant{tokens[id], scores[id], tokenizer.TokenType(types[id])}); got != w {
			t.Errorf("token %d = %q %g %s, want %q %g %s", id, got.text, got.score, got.typ, w.text, w.score, w.typ)
		}
	}
}

// loadAndRun loads f as a model and runs a few tokens through it.
func loadAndRun(t *testing.T, f *gguf.File) *model.Model {
	t.Helper()
	mod, err := model.Load(f)
	if err != nil {
		t.Fatalf("model.Load: %v", err)
	}
	tokens := []int{1, 17, 200, 5}
	st, err := mod.NewState(len(tokens), tensor.F32)
	if err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, len(tokens)*mod.Config.VocabSize)
	if err := mod.ForwardAll(nil, st, tokens, logits); err != nil {
		t.Fatal(err)
	}
	for i, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("logit %d is %g", i, v)
		}
	}
	return mod
}

// gemmaTokenizer writes Gemma's tokenizer files: a SentencePiece model
// starting <pad>, <eos>, <bos>, <unk>, and tokenizer_config.json with
// added tokens; withJSON adds a tokenizer.json whose added tokens name the
// special tokens' ids.
func gemmaTokenizer(t *testing.T, dir string, withJSON bool) {
	t.Helper()
	writeSentencePiece(t, dir, tinyPieces(290, gemmaSpecials))
	dec := map[string]any{
		"0":   map[string]any{"content": "<pad>", "special": true},
		"1":   map[string]any{"content": "<eos>", "special": true},
		"2":   map[string]any{"content": "<bos>", "special": true},
		"3":   map[string]any{"content": "<unk>", "special": true},
		"290": map[string]any{"content": "<unused0>", "special": false},      // looks special
		"291": map[string]any{"content": "<start_of_turn>", "special": true}, //
		"292": map[string]any{"content": "▁x▁", "special": false},            // user-defined, spaces restored
		"400": map[string]any{"content": "<beyond>", "special": true},        // beyond vocab_size: ignored
	}
	writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{
		"add_bos_token": true, "add_eos_token": false,
		"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
		"added_tokens_decoder": dec,
		"chat_template":        "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ m.content }}{% endfor %}",
	})
	writeJSON(t, filepath.Join(dir, "added_tokens.json"), map[string]int{"<extra>": 293, "<far>": 1000})
	if withJSON {
		var added []map[string]any
		for id, s := range []string{"<pad>", "<eos>", "<bos>", "<unk>"} {
			added = append(added, map[string]any{"id": id, "content": s, "special": true})
		}
		writeByteFallbackJSON(t, dir, added)
	}
}

// gemmaTokens are the tokens both Gemma conversions must write.
var gemmaTokens = map[int]tokenWant{
	0:   {"<pad>", -1000, tokenizer.Control},
	1:   {"<eos>", -1000, tokenizer.Control},
	3:   {"<unk>", -1000, tokenizer.Control}, // tokenizer_config.json says special
	4:   {"<0x00>", 0, tokenizer.Byte},
	288: {"ing", -28, tokenizer.Normal}, // user-defined in the model
	289: {"▁to", -29, tokenizer.Unused},
	290: {"<unused0>", -1000, tokenizer.Control},
	291: {"<start_of_turn>", -1000, tokenizer.Control},
	292: {" x ", -1000, tokenizer.UserDefined},
	293: {"<extra>", -1000, tokenizer.UserDefined},
	294: {"[PAD294]", -10000, tokenizer.Unused},
}

func TestConvertGemma2(t *testing.T) {
	m := newModel("Gemma2ForCausalLM", tiny, safetensors.F16, false)
	m.config["attn_logit_softcapping"] = 50.0
	m.config["final_logit_softcapping"] = 30.0
	m.config["sliding_window"] = 4
	m.config["query_pre_attn_scalar"] = tiny.headDim
	m.config["bos_token_id"], m.config["eos_token_id"], m.config["pad_token_id"] = 2, 1, 0
	// Checkpoints may hold an lm_head; llama.cpp drops it.
	m.tensors["lm_head.weight"] = hfTensor{[]uint64{uint64(tiny.vocab), uint64(tiny.embd)}, values(tiny.vocab*tiny.embd, 77, false), safetensors.F16}
	dir := t.TempDir()
	m.write(t, dir, 0)
	gemmaTokenizer(t, dir, false)
	f := convertDir(t, dir, Options{Type: tensor.F16})
	checkAllMeta(t, f, map[string]any{
		"general.architecture":                    "gemma2",
		"general.type":                            "model",
		"general.name":                            anyValue{},
		"general.file_type":                       uint32(1),
		"general.quantization_version":            uint32(2),
		"gemma2.block_count":                      uint32(2),
		"gemma2.context_length":                   uint32(256),
		"gemma2.embedding_length":                 uint32(64),
		"gemma2.feed_forward_length":              uint32(96),
		"gemma2.attention.head_count":             uint32(4),
		"gemma2.attention.head_count_kv":          uint32(2),
		"gemma2.attention.layer_norm_rms_epsilon": float32(1e-5),
		"gemma2.attention.key_length":             uint32(16),
		"gemma2.attention.value_length":           uint32(16),
		"gemma2.attn_logit_softcapping":           float32(50),
		"gemma2.final_logit_softcapping":          float32(30),
		"gemma2.attention.sliding_window":         uint32(4),
		// No rope.freq_base: llama.cpp writes none for Gemma 2.
		"tokenizer.ggml.model":      "llama",
		"tokenizer.ggml.pre":        "default",
		"tokenizer.ggml.tokens":     anyValue{},
		"tokenizer.ggml.scores":     anyValue{},
		"tokenizer.ggml.token_type": anyValue{},
		// Without tokenizer.json the names in tokenizer_config.json
		// resolve to nothing; config.json's ids stand.
		"tokenizer.ggml.bos_token_id":     uint32(2),
		"tokenizer.ggml.eos_token_id":     uint32(1),
		"tokenizer.ggml.padding_token_id": uint32(0),
		"tokenizer.ggml.add_bos_token":    true,
		"tokenizer.ggml.add_eos_token":    false,
		"tokenizer.ggml.add_space_prefix": false,
		"tokenizer.chat_template":         "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ m.content }}{% endfor %}",
	})
	checkTensors(t, f, gemmaTensors(2, tensor.F16, false))
	checkTokens(t, f, gemmaTokens, 300)

	// Norm weights are stored as 1 + w, added in float16 to a float16
	// source as llama.cpp does, and written as F32.
	for hf, gg := range map[string]string{
		"model.layers.0.input_layernorm.weight":            "blk.0.attn_norm.weight",
		"model.layers.0.post_attention_layernorm.weight":   "blk.0.post_attention_norm.weight",
		"model.layers.1.pre_feedforward_layernorm.weight":  "blk.1.ffn_norm.weight",
		"model.layers.1.post_feedforward_layernorm.weight": "blk.1.post_ffw_norm.weight",
		"model.norm.weight":                                "output_norm.weight",
	} {
		src := stored(m.tensors[hf].vals, safetensors.F16)
		got := tensorF32(t, f, gg)
		for i, v := range src {
			if want := tensor.FP16ToFloat32(tensor.Float32ToFP16(v + 1)); got[i] != want {
				t.Errorf("%s[%d] = %g, want fp16(%g + 1) = %g", gg, i, got[i], v, want)
				break
			}
		}
	}
	// Other tensors are copied as they are.
	ti, _ := f.Tensor("blk.1.ffn_gate.weight")
	if string(f.TensorData(ti)) != string(encodeValues(m.tensors["model.layers.1.mlp.gate_proj.weight"].vals, safetensors.F16)) {
		t.Error("blk.1.ffn_gate.weight differs from its F16 source")
	}
	loadAndRun(t, f)
}

// gemmaTensors is the tensor table of a tiny Gemma model of typ.
func gemmaTensors(blocks int, typ tensor.Type, qkNorm bool) map[string]tensorWant {
	f32 := func(dims ...uint64) tensorWant { return tensorWant{tensor.F32, dims} }
	mat := func(dims ...uint64) tensorWant { return tensorWant{typ, dims} }
	block := map[string]tensorWant{
		"attn_norm.weight":           f32(64),
		"attn_q.weight":              mat(64, 64),
		"attn_k.weight":              mat(64, 32),
		"attn_v.weight":              mat(64, 32),
		"attn_output.weight":         mat(64, 64),
		"post_attention_norm.weight": f32(64),
		"ffn_norm.weight":            f32(64),
		"ffn_gate.weight":            mat(64, 96),
		"ffn_up.weight":              mat(64, 96),
		"ffn_down.weight":            mat(96, 64),
		"post_ffw_norm.weight":       f32(64),
	}
	if qkNorm {
		block["attn_q_norm.weight"] = f32(16)
		block["attn_k_norm.weight"] = f32(16)
	}
	return blockTensors(blocks, map[string]tensorWant{
		"token_embd.weight":  mat(64, 300),
		"output_norm.weight": f32(64),
	}, block)
}

// gemma3Model is a tiny Gemma 3 text model of six blocks, five local and
// one global, with linear RoPE scaling of the global layers.
func gemma3Model(dtype safetensors.DType) (*hfModel, sizes) {
	s := tiny
	s.blocks = 6
	m := newModel("Gemma3ForCausalLM", s, dtype, false)
	m.config["rope_theta"] = 1e6
	m.config["rope_local_base_freq"] = 10000.0
	m.config["rope_scaling"] = map[string]any{"rope_type": "linear", "factor": 8.0}
	m.config["sliding_window"] = 4
	m.config["sliding_window_pattern"] = 6
	m.config["query_pre_attn_scalar"] = s.headDim
	m.config["final_logit_softcapping"] = nil
	m.config["attn_logit_softcapping"] = nil
	return m, s
}

func TestConvertGemma3(t *testing.T) {
	m, s := gemma3Model(safetensors.BF16)
	dir := t.TempDir()
	m.write(t, dir, 0)
	gemmaTokenizer(t, dir, true)
	f := convertDir(t, dir, Options{Type: tensor.BF16})
	checkAllMeta(t, f, map[string]any{
		"general.architecture":                    "gemma3",
		"general.type":                            "model",
		"general.name":                            anyValue{},
		"general.file_type":                       uint32(32),
		"general.quantization_version":            uint32(2),
		"gemma3.block_count":                      uint32(6),
		"gemma3.context_length":                   uint32(256),
		"gemma3.embedding_length":                 uint32(64),
		"gemma3.feed_forward_length":              uint32(96),
		"gemma3.attention.head_count":             uint32(4),
		"gemma3.attention.head_count_kv":          uint32(2),
		"gemma3.attention.layer_norm_rms_epsilon": float32(1e-5),
		"gemma3.attention.key_length":             uint32(16),
		"gemma3.attention.value_length":           uint32(16),
		"gemma3.rope.freq_base":                   float32(1e6),
		"gemma3.rope.freq_base_swa":               float32(10000),
		"gemma3.rope.scaling.type":                "linear",
		"gemma3.rope.scaling.factor":              float32(8),
		"gemma3.attention.sliding_window":         uint32(4),
		// No soft-capping keys: both are null.
		"tokenizer.ggml.model":      "llama",
		"tokenizer.ggml.pre":        "default",
		"tokenizer.ggml.tokens":     anyValue{},
		"tokenizer.ggml.scores":     anyValue{},
		"tokenizer.ggml.token_type": anyValue{},
		// tokenizer.json's added tokens resolve the names.
		"tokenizer.ggml.bos_token_id":     uint32(2),
		"tokenizer.ggml.eos_token_id":     uint32(1),
		"tokenizer.ggml.unknown_token_id": uint32(3),
		"tokenizer.ggml.padding_token_id": uint32(0),
		"tokenizer.ggml.add_bos_token":    true,
		"tokenizer.ggml.add_eos_token":    false,
		"tokenizer.ggml.add_space_prefix": false,
		"tokenizer.chat_template":         "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ m.content }}{% endfor %}",
	})
	checkTensors(t, f, gemmaTensors(s.blocks, tensor.BF16, true))
	checkTokens(t, f, gemmaTokens, 300)
	// Gemma 3's q and k norms are shifted too; BF16 sources are added to
	// in float32.
	src := stored(m.tensors["model.layers.4.self_attn.k_norm.weight"].vals, safetensors.BF16)
	for i, v := range tensorF32(t, f, "blk.4.attn_k_norm.weight") {
		if v != src[i]+1 {
			t.Fatalf("blk.4.attn_k_norm.weight[%d] = %g, want %g + 1", i, v, src[i])
		}
	}
	mod := loadAndRun(t, f)
	if c := mod.Config; c.SlidingWindow != 4 || c.SlidingWindowPattern != 6 || c.RopeFreqBaseSWA != 10000 || c.RopeFreqBase != 1e6 || c.RopeFreqScale != 1.0/8 {
		t.Errorf("model config %+v", c)
	}
}

// TestConvertGemma3TokenizerJSON converts Gemma 3 from tokenizer.json
// alone: a SentencePiece vocabulary in Hugging Face's form. The token
// embedding loses the rows beyond the vocabulary, as llama.cpp's
// conversion cuts them.
func TestConvertGemma3TokenizerJSON(t *testing.T) {
	m, s := gemma3Model(safetensors.F32)
	dir := t.TempDir()
	m.write(t, dir, 0)
	pieces := tinyPieces(280, gemmaSpecials)
	vocabMap := map[string]int{}
	for id, p := range pieces {
		vocabMap[p.text] = id
	}
	added := []map[string]any{
		{"id": 1, "content": "<eos>", "special": true},
		{"id": 2, "content": "<bos>", "special": true},
		{"id": 280, "content": "<start_of_turn>", "special": true},
		{"id": 281, "content": "<tool>", "special": false},
	}
	writeJSON(t, filepath.Join(dir, "tokenizer.json"), map[string]any{
		"added_tokens": added,
		"model":        map[string]any{"type": "BPE", "vocab": vocabMap, "merges": []string{}, "byte_fallback": true},
		"decoder":      map[string]any{"type": "Sequence"},
	})
	writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{
		"bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>",
		"additional_special_tokens": []string{"<start_of_turn>"},
	})
	f := convertDir(t, dir, Options{Type: tensor.F32})
	// 280 + 4 added tokens, two of them inside the vocabulary: llama.cpp
	// counts 284 rows as the vocabulary's, but writes 282 tokens.
	if ti, _ := f.Tensor("token_embd.weight"); !slices.Equal(ti.Dims, []uint64{64, 284}) {
		t.Errorf("token_embd.weight dims %v, want [64 284]", ti.Dims)
	}
	want := stored(m.tensors["model.embed_tokens.weight"].vals[:284*s.embd], safetensors.F32)
	if got := tensorF32(t, f, "token_embd.weight"); !slices.Equal(got, want) {
		t.Error("token_embd.weight is not the first 284 rows of the source")
	}
	checkTokens(t, f, map[int]tokenWant{
		0:   {"<pad>", -1000, tokenizer.Normal},
		1:   {"<eos>", -1000, tokenizer.Control},
		3:   {"<unk>", -1000, tokenizer.Control},
		4:   {"<0x00>", -1000, tokenizer.Byte},
		279: {"▁m", -1000, tokenizer.Normal},
		280: {"<start_of_turn>", -1000, tokenizer.Control},
		281: {"<tool>", -1000, tokenizer.UserDefined},
	}, 282)
	checkMeta(t, f, map[string]any{
		"tokenizer.ggml.model": "llama", "tokenizer.ggml.pre": "default", "tokenizer.ggml.add_space_prefix": false,
		"tokenizer.ggml.bos_token_id": uint32(2), "tokenizer.ggml.eos_token_id": uint32(1),
	})
	// llama.cpp's own loader would refuse this file too: 282 tokens for
	// 284 rows of embedding.
	if _, err := model.Load(f); err == nil {
		t.Error("model.Load accepted a vocabulary smaller than the embedding")
	}
}

func TestConvertNewArchErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(t *testing.T, dir string, m *hfModel)
		want string
	}{
		{name: "factor count", edit: func(t *testing.T, dir string, m *hfModel) {
			rs := m.config["rope_scaling"].(map[string]any)
			rs["long_factor"] = []float64{1, 2, 3}
		}, want: "3 long and 8 short rope factors, want 8"},
		{name: "scaling type", edit: func(t *testing.T, dir string, m *hfModel) {
			m.config["rope_scaling"].(map[string]any)["type"] = "dynamic"
		}, want: `Phi-3 rope scaling type "dynamic"`},
		{name: "partial rotary", edit: func(t *testing.T, dir string, m *hfModel) {
			m.config["partial_rotary_factor"] = 0.1 // 1 dimension of each head
		}, want: "partial_rotary_factor 0.1 rotates 1 dimensions"},
		{name: "fused shape", edit: func(t *testing.T, dir string, m *hfModel) {
			m.tensors["model.layers.1.mlp.gate_up_proj.weight"] = hfTensor{[]uint64{96, 64}, make([]float64, 96*64), safetensors.F32}
		}, want: `"model.layers.1.mlp.gate_up_proj.weight" has shape [96 64], want [192 64]`},
		{name: "separate q", edit: func(t *testing.T, dir string, m *hfModel) {
			m.tensors["model.layers.0.self_attn.q_proj.weight"] = hfTensor{[]uint64{64, 64}, make([]float64, 64*64), safetensors.F32}
		}, want: `cannot map tensor "model.layers.0.self_attn.q_proj.weight" for phi3`},
		{name: "added token beyond", edit: func(t *testing.T, dir string, m *hfModel) {
			m.config["vocab_size"] = 294
			m.tensors["model.embed_tokens.weight"] = hfTensor{[]uint64{294, 64}, make([]float64, 294*64), safetensors.F32}
			m.tensors["lm_head.weight"] = hfTensor{[]uint64{294, 64}, make([]float64, 294*64), safetensors.F32}
		}, want: `tokenizer_config.json: added token "<|user|>" has id 294, outside the 294 tokens`},
		{name: "bad tokenizer.model", edit: func(t *testing.T, dir string, m *hfModel) {
			writeSentencePiece(t, dir, []spPiece{{"a", 0, 9}})
		}, want: "type 9"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, m := phi3Dir(t, tiny, safetensors.F32)
			tt.edit(t, dir, m)
			m.write(t, dir, 0)
			out := filepath.Join(t.TempDir(), "out.gguf")
			err := Convert(dir, out, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "convert: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestConvertPhi4Tokenizer: a Phi-3 model whose tokenizer_config.json
// names GPT2Tokenizer (Phi-4) takes the byte-level BPE vocabulary of
// tokenizer.json, even beside a tokenizer.model.
func TestConvertPhi4Tokenizer(t *testing.T) {
	dir, _ := phi3Dir(t, tiny, safetensors.F32)
	writeTokenizer(t, dir)
	writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{"tokenizer_class": "GPT2Tokenizer", "eos_token": "<|im_end|>"})
	f := convertDir(t, dir, Options{Pre: "gpt-2"})
	checkMeta(t, f, map[string]any{
		"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "gpt-2", "tokenizer.ggml.eos_token_id": uint32(263),
	}, "tokenizer.ggml.scores", "tokenizer.ggml.add_space_prefix")
	tokens, _ := f.Strings("tokenizer.ggml.tokens")
	if len(tokens) != tiny.vocab || tokens[258] != "Ġthe" {
		t.Errorf("%d tokens, token 258 %q", len(tokens), tokens[258])
	}
	loadAndRun(t, f)
}
