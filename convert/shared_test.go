package convert

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/safetensors"
	"github.com/joule-llm/joule/tensor"
	"github.com/joule-llm/joule/tokenizer"
)

// TestStoriesRoundTrip turns the real stories260K model (a llama GGUF
// whose query and key rows are in Meta's layout, checked against
// llama2.c and llama.cpp) into a Hugging Face directory the way
// transformers' conversion script lays Llama weights out, converts it
// back, and requires every tensor to come back bit for bit.
func TestStoriesRoundTrip(t *testing.T) {
	orig, err := gguf.Open(filepath.Join(sharedDir(t), "models", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	dir := writeStoriesDir(t, orig)
	writeTokenizer(t, dir)

	out := filepath.Join(t.TempDir(), "stories.gguf")
	if err := Convert(dir, out, Options{Type: tensor.F32, Pre: "gpt-2"}); err != nil {
		t.Fatal(err)
	}
	f := openGGUF(t, out)
	if len(f.Tensors) != len(orig.Tensors) {
		t.Errorf("%d tensors, want %d", len(f.Tensors), len(orig.Tensors))
	}
	for _, ti := range orig.Tensors {
		got, ok := f.Tensor(ti.Name)
		if !ok {
			t.Errorf("%s missing", ti.Name)
			continue
		}
		if got.Type != ti.Type || !slices.Equal(got.Dims, ti.Dims) || !bytes.Equal(f.TensorData(got), orig.TensorData(&ti)) {
			t.Errorf("%s differs from the original", ti.Name)
		}
	}
	for _, k := range []string{"context_length", "embedding_length", "block_count", "feed_forward_length", "rope.dimension_count",
		"attention.head_count", "attention.head_count_kv", "attention.layer_norm_rms_epsilon", "rope.freq_base", "vocab_size"} {
		k = "llama." + k
		want, _ := orig.Value(k)
		got, _ := f.Value(k)
		if !numEqual(got, want) {
			t.Errorf("%s = %v, original %v", k, got, want)
		}
	}
	a, err := model.Load(orig)
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.Load(f)
	if err != nil {
		t.Fatalf("model.Load: %v", err)
	}
	if a.Config != b.Config {
		t.Errorf("config %+v, original %+v", b.Config, a.Config)
	}
}

// writeStoriesDir lays the stories260K model out as a Hugging Face
// directory the way transformers' conversion script lays Llama weights
// out (half-split query and key rows), without tokenizer files.
func writeStoriesDir(t *testing.T, orig *gguf.File) string {
	t.Helper()
	const heads, kvHeads, embd = 8, 4, 64
	dir := filepath.Join(t.TempDir(), "stories")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, filepath.Join(dir, "config.json"), map[string]any{
		"architectures": []string{"LlamaForCausalLM"}, "hidden_size": embd, "intermediate_size": 172,
		"num_hidden_layers": 5, "num_attention_heads": heads, "num_key_value_heads": kvHeads,
		"max_position_embeddings": 512, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
		"vocab_size": 512, "tie_word_embeddings": true,
	})
	hfNames := map[string]string{}
	for hf := range map[string]bool{"model.embed_tokens.weight": true, "model.norm.weight": true} {
		m, _ := archs["LlamaForCausalLM"].mapName(hf)
		hfNames[m.String()] = hf
	}
	for b := 0; b < 5; b++ {
		for part := range blockNames {
			if part == "self_attn.q_norm" || part == "self_attn.k_norm" {
				continue
			}
			hf := "model.layers." + itoa(b) + "." + part + ".weight"
			m, _ := archs["LlamaForCausalLM"].mapName(hf)
			hfNames[m.String()] = hf
		}
	}
	var tensors []safetensors.Tensor
	for _, ti := range orig.Tensors {
		hf, ok := hfNames[ti.Name]
		if !ok {
			t.Fatalf("no Hugging Face name for %s", ti.Name)
		}
		data := orig.TensorData(&ti)
		shape := slices.Clone(ti.Dims)
		slices.Reverse(shape)
		switch hf[len(hf)-len("q_proj.weight"):] {
		case "q_proj.weight":
			data = permuteF32(data, heads, embd)
		case "k_proj.weight":
			data = permuteF32(data, kvHeads, embd)
		}
		tensors = append(tensors, safetensors.Tensor{Name: hf, DType: safetensors.F32, Shape: shape, Data: data})
	}
	writeSafetensors(t, filepath.Join(dir, "model.safetensors"), tensors)
	return dir
}

// permuteF32 applies hfPermute to F32 bytes.
func permuteF32(data []byte, heads, cols int) []byte {
	v := make([]float64, len(data)/4)
	for i := range v {
		v[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])))
	}
	return encodeValues(hfPermute(v, heads, cols), safetensors.F32)
}

func numEqual(a, b any) bool {
	fa, oka := asNumber(a)
	fb, okb := asNumber(b)
	return oka && okb && fa == fb
}

func asNumber(v any) (float64, bool) {
	switch v := v.(type) {
	case uint32:
		return float64(v), true
	case int32:
		return float64(v), true
	case uint64:
		return float64(v), true
	case float32:
		return float64(v), true
	}
	return 0, false
}

// refCases are the reference strings of testdata/tokenizers: the Hugging
// Face ids (ids: with special tokens, ids_plain: without) and llama.cpp's
// from its own conversion of the same tokenizer.
type refCase struct {
	Text       string `json:"text"`
	IDs        []int  `json:"ids"`
	IDsPlain   []int  `json:"ids_plain"`
	IDsSpecial []int  `json:"ids_special"`
}

func readCases(t *testing.T, name string) []refCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot(t), "testdata", "tokenizers", name))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Cases []refCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Cases) < 50 {
		t.Fatalf("%s: %d cases", name, len(r.Cases))
	}
	return r.Cases
}

// TestRealTokenizers converts tiny models carrying the real Llama 3 and
// Qwen3 tokenizers and checks the vocabulary metadata, the pre-tokenizer
// found by hashing, and that the GGUF tokenizer tokenizes the reference
// strings as llama.cpp does on its own conversion (and so as the Hugging
// Face tokenizer, wherever llama.cpp agrees with it).
func TestRealTokenizers(t *testing.T) {
	shared := sharedDir(t)
	s := sizes{embd: 16, ff: 32, blocks: 1, heads: 2, kvHeads: 1, headDim: 8}
	for _, tt := range []struct {
		name, archName string
		vocab          int
		config         map[string]any
		meta           map[string]any
		absent         []string
		types          map[int]tokenizer.TokenType
		merges         int
		addBOS         bool
	}{
		{
			name: "llama3", archName: "LlamaForCausalLM", vocab: 128256,
			config: map[string]any{"bos_token_id": 128000, "eos_token_id": 128001},
			meta: map[string]any{
				"tokenizer.ggml.pre":          "llama-bpe",
				"tokenizer.ggml.bos_token_id": uint32(128000),
				"tokenizer.ggml.eos_token_id": uint32(128001),
			},
			// This tokenizer.json's post-processor adds no BOS and its
			// tokenizer_config.json says nothing, so llama.cpp's
			// default for llama-bpe (add BOS) applies.
			absent: []string{"tokenizer.ggml.add_bos_token", "tokenizer.ggml.padding_token_id"},
			types: map[int]tokenizer.TokenType{
				0: tokenizer.Normal, 127999: tokenizer.Normal, 128000: tokenizer.Control,
				128009: tokenizer.Control, 128255: tokenizer.Control,
			},
			merges: 280147, addBOS: true,
		},
		{
			name: "qwen3", archName: "Qwen3ForCausalLM", vocab: 151936,
			config: map[string]any{"bos_token_id": 151643, "eos_token_id": 151645},
			meta: map[string]any{
				"tokenizer.ggml.pre":              "qwen2",
				"tokenizer.ggml.bos_token_id":     uint32(151643), // from config.json
				"tokenizer.ggml.eos_token_id":     uint32(151645),
				"tokenizer.ggml.padding_token_id": uint32(151643),
				"tokenizer.ggml.add_bos_token":    false,
			},
			types: map[int]tokenizer.TokenType{
				151643: tokenizer.Control, 151645: tokenizer.Control,
				151657: tokenizer.UserDefined, // <tool_call>
				151659: tokenizer.Control,     // <|fim_prefix|>: not special, but looks it
				151667: tokenizer.UserDefined, // <think>
				151669: tokenizer.Unused, 151935: tokenizer.Unused,
			},
			merges: 151387,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := s
			s.vocab = tt.vocab
			m := newModel(tt.archName, s, safetensors.BF16, false)
			delete(m.tensors, "lm_head.weight")
			m.config["tie_word_embeddings"] = true
			for k, v := range tt.config {
				m.config[k] = v
			}
			dir := t.TempDir()
			m.write(t, dir, 0)
			for _, file := range []string{"tokenizer.json", "tokenizer_config.json"} {
				b, err := os.ReadFile(filepath.Join(shared, "tokenizers", tt.name, file))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(t.TempDir(), "out.gguf")
			if err := Convert(dir, out, Options{Type: tensor.F16}); err != nil {
				t.Fatal(err)
			}
			f := openGGUF(t, out)
			cfg, err := readJSONObject(filepath.Join(dir, "tokenizer_config.json"))
			if err != nil {
				t.Fatal(err)
			}
			tt.meta["tokenizer.ggml.model"] = "gpt2"
			tt.meta["tokenizer.chat_template"] = cfg["chat_template"].(string)
			checkMeta(t, f, tt.meta, tt.absent...)
			tokens, _ := f.Strings("tokenizer.ggml.tokens")
			types, _ := f.Int32s("tokenizer.ggml.token_type")
			merges, _ := f.Strings("tokenizer.ggml.merges")
			if len(tokens) != tt.vocab || len(types) != tt.vocab || len(merges) != tt.merges {
				t.Fatalf("%d tokens, %d types, %d merges; want %d, %d, %d", len(tokens), len(types), len(merges), tt.vocab, tt.vocab, tt.merges)
			}
			for id, typ := range tt.types {
				if tokenizer.TokenType(types[id]) != typ {
					t.Errorf("token %d %q is %s, want %s", id, tokens[id], tokenizer.TokenType(types[id]), typ)
				}
			}

			gt, err := tokenizer.FromGGUF(f)
			if err != nil {
				t.Fatal(err)
			}
			if gt.AddBOS() != tt.addBOS {
				t.Errorf("AddBOS = %v, want %v", gt.AddBOS(), tt.addBOS)
			}
			ht, err := tokenizer.FromHF(dir)
			if err != nil {
				t.Fatal(err)
			}
			hfRef := readCases(t, tt.name+".json")
			agree := 0
			for i, c := range readCases(t, "llamacpp_"+tt.name+".json") {
				special := gt.Encode(c.Text, false, true)
				if !slices.Equal(special, c.IDsSpecial) {
					t.Errorf("%q: %v, llama.cpp %v", c.Text, special, c.IDsSpecial)
				}
				if plain := gt.Encode(c.Text, false, false); !slices.Equal(plain, c.IDsPlain) {
					t.Errorf("%q without special tokens: %v, llama.cpp %v", c.Text, plain, c.IDsPlain)
				}
				if hfRef[i].Text == c.Text && slices.Equal(c.IDsSpecial, hfRef[i].IDs) {
					agree++
					if hf := ht.Encode(c.Text, true, true); !slices.Equal(special, hf) {
						t.Errorf("%q: %v, Hugging Face tokenizer %v", c.Text, special, hf)
					}
				}
			}
			if agree < len(hfRef)-3 {
				t.Errorf("llama.cpp agrees with Hugging Face on only %d of %d strings", agree, len(hfRef))
			}
			loadIfSupported(t, f)
		})
	}
}

// TestStoriesSentencePiece writes stories260K's SentencePiece vocabulary
// as a tokenizer.model, converts a Llama directory holding it and
// requires the converted vocabulary to be the original's, token for
// token, to tokenize text as the original GGUF does, and the model to
// compute the original's logits bit for bit.
func TestStoriesSentencePiece(t *testing.T) {
	orig, err := gguf.Open(filepath.Join(sharedDir(t), "models", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	tokens, err := orig.Strings("tokenizer.ggml.tokens")
	if err != nil {
		t.Fatal(err)
	}
	scores, err := orig.Float32s("tokenizer.ggml.scores")
	if err != nil {
		t.Fatal(err)
	}
	types, err := orig.Int32s("tokenizer.ggml.token_type")
	if err != nil {
		t.Fatal(err)
	}
	pieces := make([]spPiece, len(tokens))
	for i := range tokens {
		pieces[i] = spPiece{tokens[i], scores[i], types[i]}
	}
	dir := writeStoriesDir(t, orig)
	writeSentencePiece(t, dir, pieces)
	var added []map[string]any
	for id, s := range []string{"<unk>", "<s>", "</s>"} {
		added = append(added, map[string]any{"id": id, "content": s, "special": true})
	}
	writeByteFallbackJSON(t, dir, added)
	writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{
		"add_bos_token": true, "add_eos_token": false,
		"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": nil,
	})
	f := convertDir(t, dir, Options{Type: tensor.F32})

	for _, k := range []string{"tokenizer.ggml.model", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
		"tokenizer.ggml.unknown_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token"} {
		want, _ := orig.Value(k)
		if got, _ := f.Value(k); got != want {
			t.Errorf("%s = %v, original %v", k, got, want)
		}
	}
	gotTokens, _ := f.Strings("tokenizer.ggml.tokens")
	gotScores, _ := f.Float32s("tokenizer.ggml.scores")
	gotTypes, _ := f.Int32s("tokenizer.ggml.token_type")
	if !slices.Equal(gotTokens, tokens) || !slices.Equal(gotTypes, types) ||
		!slices.EqualFunc(gotScores, scores, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
		t.Errorf("the vocabulary differs from the original's")
	}

	want, err := tokenizer.FromGGUF(orig)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"", " ", "Once upon a time", "Once upon a time, there was a little girl named Lily.",
		"She liked to play outside in the sun.", "  two leading spaces", "trailing space ",
		"Tom said, \"Let's go!\"", "new\nline", "tabs\tand\tmore", "naïve café", "日本語のテキスト",
		"emoji 🦙🚀", "<s>", "</s> the end", "<unk>", "1234567890", "a-b_c.d,e;f:g", "The cat sat on the mat.",
		"UPPER lower MiXeD", "ÿþ\u00a0nbsp", "a  b   c    d", "\x01\x02 control bytes", "Lily and Ben were friends.",
	}
	for _, text := range texts {
		for _, mode := range [][2]bool{{true, false}, {false, true}, {true, true}} {
			a, b := got.Encode(text, mode[0], mode[1]), want.Encode(text, mode[0], mode[1])
			if !slices.Equal(a, b) {
				t.Errorf("Encode(%q, %v, %v) = %v, original %v", text, mode[0], mode[1], a, b)
			}
		}
	}

	a, err := model.Load(orig)
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.Load(f)
	if err != nil {
		t.Fatalf("model.Load: %v", err)
	}
	ids := want.Encode(texts[3], true, false)
	logits := func(m *model.Model) []float32 {
		st, err := m.NewState(len(ids), tensor.F32)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, len(ids)*m.Config.VocabSize)
		if err := m.ForwardAll(nil, st, ids, out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if !slices.Equal(logits(a), logits(b)) {
		t.Error("the converted model's logits differ from the original's")
	}
}
