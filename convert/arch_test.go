package convert

import (
	"bytes"
	"errors"
	"math"
	"os"
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

// loadIfSupported runs model.Load on f, unless the model package does not
// implement f's architecture yet.
func loadIfSupported(t *testing.T, f *gguf.File) {
	t.Helper()
	_, err := model.Load(f)
	if err != nil && strings.Contains(err.Error(), "is not supported") {
		t.Logf("model.Load not run: %v", err)
		return
	}
	if err != nil {
		t.Errorf("model.Load: %v", err)
	}
}

func TestConvertQwen2(t *testing.T) {
	m := newModel("Qwen2ForCausalLM", tiny, safetensors.BF16, false)
	m.config["rope_theta"] = 1000000.0
	m.config["rope_scaling"] = map[string]any{"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64}
	f := convertTiny(t, m, Options{Type: tensor.Q8_0})
	checkMeta(t, f, map[string]any{
		"general.architecture":                       "qwen2",
		"general.file_type":                          uint32(7),
		"qwen2.block_count":                          uint32(2),
		"qwen2.context_length":                       uint32(256),
		"qwen2.embedding_length":                     uint32(64),
		"qwen2.feed_forward_length":                  uint32(96),
		"qwen2.attention.head_count":                 uint32(4),
		"qwen2.attention.head_count_kv":              uint32(2),
		"qwen2.rope.freq_base":                       float32(1e6),
		"qwen2.attention.layer_norm_rms_epsilon":     float32(1e-5),
		"qwen2.rope.scaling.type":                    "yarn",
		"qwen2.rope.scaling.factor":                  float32(4),
		"qwen2.rope.scaling.original_context_length": uint32(64),
	}, "qwen2.vocab_size", "qwen2.rope.dimension_count", "qwen2.attention.key_length")
	// No permutation for Qwen; biases are F32.
	for hf, gg := range map[string]string{
		"model.layers.0.self_attn.q_proj.bias": "blk.0.attn_q.bias",
		"model.layers.1.self_attn.k_proj.bias": "blk.1.attn_k.bias",
		"model.layers.1.self_attn.v_proj.bias": "blk.1.attn_v.bias",
	} {
		ti, ok := f.Tensor(gg)
		if !ok || ti.Type != tensor.F32 {
			t.Fatalf("%s: %v", gg, ti)
		}
		if got, want := tensorF32(t, f, gg), stored(m.tensors[hf].vals, safetensors.BF16); !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", gg, got[:4], want[:4])
		}
	}
	q, err := tensor.Quantize(tensor.Q8_0, stored(m.tensors["model.layers.0.self_attn.q_proj.weight"].vals, safetensors.BF16))
	if err != nil {
		t.Fatal(err)
	}
	if ti, _ := f.Tensor("blk.0.attn_q.weight"); ti.Type != tensor.Q8_0 || !bytes.Equal(f.TensorData(ti), q) {
		t.Error("blk.0.attn_q.weight is not the unpermuted source quantized to Q8_0")
	}
	loadIfSupported(t, f)
}

func TestConvertQwen3(t *testing.T) {
	s := tiny
	s.headDim = 8 // head_dim × heads need not be hidden_size
	m := newModel("Qwen3ForCausalLM", s, safetensors.F16, false)
	m.config["tie_word_embeddings"] = true
	delete(m.tensors, "lm_head.weight")
	f := convertTiny(t, m, Options{Type: tensor.F16})
	checkMeta(t, f, map[string]any{
		"general.architecture":          "qwen3",
		"qwen3.attention.key_length":    uint32(8),
		"qwen3.attention.value_length":  uint32(8),
		"qwen3.attention.head_count":    uint32(4),
		"qwen3.attention.head_count_kv": uint32(2),
		"qwen3.embedding_length":        uint32(64),
	}, "qwen3.vocab_size", "qwen3.rope.dimension_count")
	for _, name := range []string{"blk.0.attn_q_norm.weight", "blk.1.attn_k_norm.weight"} {
		ti, ok := f.Tensor(name)
		if !ok || ti.Type != tensor.F32 || !slices.Equal(ti.Dims, []uint64{8}) {
			t.Errorf("%s: %+v", name, ti)
		}
	}
	if ti, ok := f.Tensor("blk.0.attn_q.weight"); !ok || !slices.Equal(ti.Dims, []uint64{64, 32}) || ti.Type != tensor.F16 {
		t.Errorf("blk.0.attn_q.weight: %+v", ti)
	}
	// The F16 source is copied as it is.
	ti, _ := f.Tensor("blk.0.attn_q.weight")
	if src := encodeValues(m.tensors["model.layers.0.self_attn.q_proj.weight"].vals, safetensors.F16); !bytes.Equal(f.TensorData(ti), src) {
		t.Error("blk.0.attn_q.weight differs from its F16 source")
	}
	if _, ok := f.Tensor("output.weight"); ok {
		t.Error("output.weight written for tied embeddings")
	}
	loadIfSupported(t, f)
}

// TestConvertSharded checks that a model split over shards with an index
// converts to the very bytes of the same model in one file.
func TestConvertSharded(t *testing.T) {
	m := newModel("LlamaForCausalLM", tiny, safetensors.BF16, false)
	var outs [][]byte
	for _, shard := range []int{0, 5} {
		dir := filepath.Join(t.TempDir(), "tiny")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		m.write(t, dir, shard)
		writeTokenizer(t, dir)
		if shard > 0 {
			if _, err := os.Stat(filepath.Join(dir, safetensors.IndexName)); err != nil {
				t.Fatal(err)
			}
		}
		out := filepath.Join(t.TempDir(), "out.gguf")
		if err := Convert(dir, out, Options{Type: tensor.Q8_0, Pre: "gpt-2"}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, b)
		f := openGGUF(t, out)
		if name, _ := f.String("general.name"); name != "tiny" {
			t.Errorf("general.name %q, want the directory's name", name)
		}
		// No scratch or temporary file is left behind.
		left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*"))
		if len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("the sharded model converts differently from the single file")
	}
}

func TestVocabSynthetic(t *testing.T) {
	f := convertTiny(t, newModel("LlamaForCausalLM", tiny, safetensors.F32, false), Options{})
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil {
		t.Fatal(err)
	}
	types, err := f.Int32s("tokenizer.ggml.token_type")
	if err != nil {
		t.Fatal(err)
	}
	if len(tokens) != tiny.vocab || len(types) != tiny.vocab {
		t.Fatalf("%d tokens, %d types, want %d", len(tokens), len(types), tiny.vocab)
	}
	for _, c := range []struct {
		id   int
		text string
		typ  tokenizer.TokenType
	}{
		{0, "Ā", tokenizer.Normal}, // byte 0, spelled byte-level
		{33, "!", tokenizer.Normal},
		{258, "Ġthe", tokenizer.Normal},
		{261, "<|endoftext|>", tokenizer.Control},
		{262, "<|im_start|>", tokenizer.Control},
		{263, "<|im_end|>", tokenizer.Control}, // not special, but looks it
		{264, "<tool>", tokenizer.UserDefined}, // not special
		{265, "[PAD265]", tokenizer.Unused},    // a gap in the ids
		{266, " x ", tokenizer.UserDefined},    // U+2581 becomes a space
		{299, "[PAD299]", tokenizer.Unused},    // padding up to vocab_size
	} {
		if tokens[c.id] != c.text || tokenizer.TokenType(types[c.id]) != c.typ {
			t.Errorf("token %d = %q %s, want %q %s", c.id, tokens[c.id], tokenizer.TokenType(types[c.id]), c.text, c.typ)
		}
	}
	tk, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Encode(" the cat<|im_end|>", false, true); !slices.Equal(got, []int{258, ' ', 'c', 'a', 't', 263}) {
		t.Errorf("Encode = %v", got)
	}
}

func TestSpecial(t *testing.T) {
	added := func(names ...string) *tokenizerFile {
		tf := &tokenizerFile{}
		for i, n := range names {
			tf.AddedTokens = append(tf.AddedTokens, struct {
				ID         int    `json:"id"`
				Content    string `json:"content"`
				Special    bool   `json:"special"`
				Normalized bool   `json:"normalized"`
			}{ID: 100 + i, Content: n, Special: true})
		}
		return tf
	}
	template := func(first, last string) *postProcessor {
		pp := &postProcessor{Type: "TemplateProcessing"}
		for _, id := range []string{first, "", last} {
			var item struct {
				SpecialToken *struct {
					ID string `json:"id"`
				} `json:"SpecialToken"`
			}
			if id != "" {
				item.SpecialToken = &struct {
					ID string `json:"id"`
				}{id}
			}
			pp.Single = append(pp.Single, item)
		}
		return pp
	}
	h, err := parseHparams([]byte(`{"bos_token_id": 7, "eos_token_id": [1, 2], "pad_token_id": 101}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		tf   *tokenizerFile
		pp   *postProcessor
		cfg  map[string]any
		ids  map[string]int
		add  map[string]bool
	}{
		{
			name: "config names them",
			tf:   added("<s>", "</s>", "<pad>"),
			cfg:  map[string]any{"bos_token": "<s>", "eos_token": map[string]any{"content": "</s>"}, "add_bos_token": true, "add_eos_token": false},
			ids:  map[string]int{"bos": 100, "eos": 101, "pad": 101},
			add:  map[string]bool{"bos": true, "eos": false},
		},
		{
			name: "config.json fills in",
			tf:   added("<x>"),
			cfg:  map[string]any{"bos_token": nil},
			ids:  map[string]int{"bos": 7, "pad": 101},
			add:  map[string]bool{},
		},
		{
			name: "template adds bos",
			tf:   added("<|begin_of_text|>", "<|end_of_text|>"),
			pp:   template("<|begin_of_text|>", ""),
			cfg:  map[string]any{"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"},
			ids:  map[string]int{"bos": 100, "eos": 101, "pad": 101},
			add:  map[string]bool{"bos": true},
		},
		{
			name: "config overrides the template",
			tf:   added("<s>"),
			pp:   template("<s>", ""),
			cfg:  map[string]any{"bos_token": "<s>", "add_bos_token": false},
			ids:  map[string]int{"bos": 100, "pad": 101},
			add:  map[string]bool{"bos": false},
		},
		{
			name: "template ends with another eos",
			tf:   added("<s>", "</s>", "<eot>"),
			pp:   template("<s>", "<eot>"),
			cfg:  map[string]any{"bos_token": "<s>", "eos_token": "</s>"},
			ids:  map[string]int{"bos": 100, "eos": 102, "eot": 101, "pad": 101},
			add:  map[string]bool{"bos": true, "eos": true},
		},
		{
			name: "no tokenizer_config.json",
			tf:   added("<s>"),
			pp:   template("<s>", ""),
			ids:  map[string]int{"bos": 7, "pad": 101},
			add:  map[string]bool{"bos": true},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.tf.PostProcessor = tt.pp
			sp := special(tt.tf, tt.cfg, h)
			if !mapsEqual(sp.ids, tt.ids) || !mapsEqual(sp.add, tt.add) {
				t.Errorf("ids %v add %v, want %v %v", sp.ids, sp.add, tt.ids, tt.add)
			}
		})
	}
}

func mapsEqual[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestMergeList(t *testing.T) {
	for _, tt := range []struct {
		raw  string
		want []string
		err  bool
	}{
		{`["a b", "ab c"]`, []string{"a b", "ab c"}, false},
		{`[["a", "b"], ["a b", "c"]]`, []string{"a b", "aĠb c"}, false},
		{`[["a"]]`, nil, true},
		{`{}`, nil, true},
		{``, nil, true},
	} {
		got, err := mergeList([]byte(tt.raw))
		if (err != nil) != tt.err || !slices.Equal(got, tt.want) {
			t.Errorf("mergeList(%s) = %q, %v", tt.raw, got, err)
		}
	}
}

func TestChatTemplates(t *testing.T) {
	dir := t.TempDir()
	got, err := chatTemplates(dir, map[string]any{"chat_template": []any{
		map[string]any{"name": "default", "template": "D"},
		map[string]any{"name": "tool_use", "template": "T"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []kv{{"tokenizer.chat_template", "D"}, {"tokenizer.chat_template.tool_use", "T"}, {"tokenizer.chat_templates", []string{"tool_use"}}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].key != want[i].key || !equalValue(got[i].value, want[i].value) {
			t.Errorf("%d: %v, want %v", i, got[i], want[i])
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "chat_template.jinja"), []byte("J"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = chatTemplates(dir, map[string]any{})
	if err != nil || len(got) != 1 || got[0].value != "J" {
		t.Errorf("from chat_template.jinja: %v, %v", got, err)
	}
}

func equalValue(a, b any) bool {
	if sa, ok := a.([]string); ok {
		sb, ok := b.([]string)
		return ok && slices.Equal(sa, sb)
	}
	return a == b
}

func TestRopeScaling(t *testing.T) {
	m := newModel("LlamaForCausalLM", tiny, safetensors.F32, false)
	m.config["rope_scaling"] = map[string]any{"rope_type": "linear", "factor": 2.0}
	f := convertTiny(t, m, Options{})
	checkMeta(t, f, map[string]any{"llama.rope.scaling.type": "linear", "llama.rope.scaling.factor": float32(2)})
	if _, ok := f.Tensor("rope_freqs.weight"); ok {
		t.Error("rope_freqs.weight written for linear scaling")
	}

	m.config["rope_theta"] = 500000.0
	m.config["rope_scaling"] = map[string]any{
		"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
		"original_max_position_embeddings": 64,
	}
	f = convertTiny(t, m, Options{})
	checkMeta(t, f, map[string]any{"llama.rope.freq_base": float32(500000)}, "llama.rope.scaling.type")
	got := tensorF32(t, f, "rope_freqs.weight")
	if len(got) != tiny.headDim/2 {
		t.Fatalf("rope_freqs has %d values, want %d", len(got), tiny.headDim/2)
	}
	// Llama 3's smoothing in float64: wavelengths below orig/high keep
	// their frequency, above orig/low are divided by factor, and between
	// blend.
	var sawBlend bool
	for i, g := range got {
		freq := math.Pow(500000, -float64(2*i)/float64(tiny.headDim))
		wavelen := 2 * math.Pi / freq
		var want float64
		switch {
		case wavelen < 64.0/4:
			want = 1
		case wavelen > 64.0/1:
			want = 8
		default:
			smooth := (64/wavelen - 1) / (4 - 1)
			want = 1 / ((1-smooth)/8 + smooth)
			sawBlend = true
		}
		if math.Abs(float64(g)-want) > 1e-6*want {
			t.Errorf("rope_freqs[%d] = %g, want %g", i, g, want)
		}
	}
	if !sawBlend || got[0] != 1 || got[len(got)-1] != 8 {
		t.Errorf("rope_freqs %v does not cover all three cases", got)
	}
	if _, err := model.Load(f); err != nil {
		t.Errorf("model.Load: %v", err)
	}

	m.config["rope_scaling"] = map[string]any{"rope_type": "longrope", "factor": 2.0}
	dir := t.TempDir()
	m.write(t, dir, 0)
	writeTokenizer(t, dir)
	if err := Convert(dir, filepath.Join(t.TempDir(), "x.gguf"), Options{Pre: "gpt-2"}); err == nil || !strings.Contains(err.Error(), "longrope") {
		t.Errorf("longrope: error %v", err)
	}
}

func TestConvertErrors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		model   func(m *hfModel) // edits the model before it is written
		files   func(dir string) // edits the written directory
		opt     Options
		want    string
		findPre bool // leave Options.Pre empty
	}{
		{name: "type", opt: Options{Type: tensor.Q4_0}, want: "output type Q4_0"},
		{name: "arch", model: func(m *hfModel) { m.config["architectures"] = []string{"GPT2LMHeadModel"} }, want: `architecture "GPT2LMHeadModel" is not supported`},
		{name: "no arch", model: func(m *hfModel) { delete(m.config, "architectures") }, want: "names no architectures"},
		{name: "no hidden size", model: func(m *hfModel) { delete(m.config, "hidden_size") }, want: "hidden_size is missing"},
		{name: "bad number", model: func(m *hfModel) { m.config["num_hidden_layers"] = 2.5 }, want: "num_hidden_layers"},
		{name: "missing tensor", model: func(m *hfModel) { delete(m.tensors, "model.layers.1.mlp.up_proj.weight") }, want: "tensors missing: blk.1.ffn_up.weight"},
		{name: "extra block", model: func(m *hfModel) { m.config["num_hidden_layers"] = 1 }, want: "block 1"},
		{name: "shape", model: func(m *hfModel) { m.config["intermediate_size"] = 95 }, want: "has shape [64 96], want [64 95]"},
		{name: "vocab size", model: func(m *hfModel) { m.config["vocab_size"] = 200 }, want: "token id 266 is beyond the configuration's vocab_size 200"},
		{name: "unknown tensor", model: func(m *hfModel) {
			m.tensors["model.layers.0.mlp.expert.weight"] = hfTensor{[]uint64{2}, []float64{1, 2}, safetensors.F32}
		}, want: `cannot map tensor "model.layers.0.mlp.expert.weight"`},
		{name: "qk norm in llama", model: func(m *hfModel) {
			m.tensors["model.layers.0.self_attn.q_norm.weight"] = hfTensor{[]uint64{16}, make([]float64, 16), safetensors.F32}
		}, want: "for llama"},
		{name: "int weights", files: func(dir string) {
			replaceTensor(t, dir, safetensors.Tensor{Name: "model.norm.weight", DType: safetensors.I8, Shape: []uint64{64}, Data: make([]byte, 64)})
		}, want: "dtype I8"},
		{name: "unknown pre", findPre: true, want: "--pre"},
		{name: "byte fallback", files: func(dir string) {
			path := filepath.Join(dir, "tokenizer.json")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, bytes.Replace(b, []byte(`"byte_fallback": false`), []byte(`"byte_fallback": true`), 1), 0o644); err != nil {
				t.Fatal(err)
			}
		}, want: "byte fallback"},
		{name: "no tokenizer", files: func(dir string) { os.Remove(filepath.Join(dir, "tokenizer.json")) }, want: "no tokenizer.model or tokenizer.json"},
		{name: "no weights", files: func(dir string) { os.Remove(filepath.Join(dir, "model.safetensors")) }, want: "no model.safetensors"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newModel("LlamaForCausalLM", tiny, safetensors.F32, false)
			if tt.model != nil {
				tt.model(m)
			}
			dir := t.TempDir()
			m.write(t, dir, 0)
			writeTokenizer(t, dir)
			if tt.files != nil {
				tt.files(dir)
			}
			o := tt.opt
			if !tt.findPre {
				o.Pre = "gpt-2"
			}
			out := filepath.Join(t.TempDir(), "out.gguf")
			err := Convert(dir, out, o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "convert: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("output exists after a failed conversion: %v", err)
			}
		})
	}
}

// replaceTensor rewrites dir's model.safetensors with one tensor replaced.
func replaceTensor(t *testing.T, dir string, x safetensors.Tensor) {
	t.Helper()
	path := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var all []safetensors.Tensor
	for _, y := range f.Tensors {
		if y.Name == x.Name {
			y = x
		}
		y.Data = slices.Clone(y.Data)
		all = append(all, y)
	}
	f.Close()
	writeSafetensors(t, path, all)
}
