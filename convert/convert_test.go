package convert

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/safetensors"
	"github.com/joule-llm/joule/tensor"
)

// checkMeta compares metadata values, types included, and checks that the
// keys of absent are not there.
func checkMeta(t *testing.T, f *gguf.File, want map[string]any, absent ...string) {
	t.Helper()
	for _, k := range sortedKeys(want) {
		got, ok := f.Value(k)
		if !ok {
			t.Errorf("metadata %s missing", k)
			continue
		}
		w := want[k]
		switch w := w.(type) {
		case []string:
			g, ok := got.([]string)
			if !ok || !slices.Equal(g, w) {
				t.Errorf("metadata %s = %v (%T), want %v", k, brief(g), got, brief(w))
			}
		default:
			if got != w {
				t.Errorf("metadata %s = %v (%T), want %v (%T)", k, got, got, w, w)
			}
		}
	}
	for _, k := range absent {
		if v, ok := f.Value(k); ok {
			t.Errorf("metadata %s = %v, want none", k, v)
		}
	}
}

// hfPermute is the permutation transformers' Llama conversion script
// applies to Meta's query and key weights (adjacent rotary pairs) to get
// its own half-split layout: view(heads, d/2, 2, cols).transpose(1, 2).
func hfPermute(meta []float64, heads, cols int) []float64 {
	rows := len(meta) / cols
	d := rows / heads
	out := make([]float64, len(meta))
	for h := 0; h < heads; h++ {
		for i := 0; i < d/2; i++ {
			for j := 0; j < 2; j++ {
				src := (h*d + 2*i + j) * cols
				dst := (h*d + j*d/2 + i) * cols
				copy(out[dst:dst+cols], meta[src:src+cols])
			}
		}
	}
	return out
}

// unpermute is the inverse of hfPermute, the row order llama.cpp's
// converter produces, written out independently of the converter's.
func unpermute(hf []float64, heads, cols int) []float64 {
	rows := len(hf) / cols
	d := rows / heads
	out := make([]float64, len(hf))
	for h := 0; h < heads; h++ {
		for j := 0; j < 2; j++ {
			for i := 0; i < d/2; i++ {
				src := (h*d + j*d/2 + i) * cols
				dst := (h*d + 2*i + j) * cols
				copy(out[dst:dst+cols], hf[src:src+cols])
			}
		}
	}
	return out
}

func TestConvertLlama(t *testing.T) {
	m := newModel("LlamaForCausalLM", tiny, safetensors.F32, false)
	f := convertTiny(t, m, Options{Type: tensor.F32})
	checkMeta(t, f, map[string]any{
		"general.architecture":                   "llama",
		"general.type":                           "model",
		"general.file_type":                      uint32(0),
		"general.quantization_version":           uint32(2),
		"llama.block_count":                      uint32(2),
		"llama.context_length":                   uint32(256),
		"llama.embedding_length":                 uint32(64),
		"llama.feed_forward_length":              uint32(96),
		"llama.attention.head_count":             uint32(4),
		"llama.attention.head_count_kv":          uint32(2),
		"llama.attention.layer_norm_rms_epsilon": float32(1e-5),
		"llama.attention.key_length":             uint32(16),
		"llama.attention.value_length":           uint32(16),
		"llama.rope.freq_base":                   float32(10000),
		"llama.rope.dimension_count":             uint32(16),
		"llama.vocab_size":                       uint32(300),
		"tokenizer.ggml.model":                   "gpt2",
		"tokenizer.ggml.pre":                     "gpt-2",
		"tokenizer.ggml.eos_token_id":            uint32(263),
		"tokenizer.ggml.padding_token_id":        uint32(261),
		"tokenizer.ggml.merges":                  []string{"Ġ t", "h e", "Ġt he", "Ġ a", "i n"},
		"tokenizer.chat_template":                "{% for m in messages %}<|im_start|>{{ m.content }}<|im_end|>{% endfor %}",
	}, "tokenizer.ggml.bos_token_id", "tokenizer.ggml.add_bos_token", "llama.rope.scaling.type")

	// Every tensor, with GGUF's reversed shape; all F32 as asked.
	want := map[string][]uint64{
		"token_embd.weight":  {64, 300},
		"output_norm.weight": {64},
		"output.weight":      {64, 300},
	}
	for b := 0; b < 2; b++ {
		p := "blk." + itoa(b) + "."
		for n, d := range map[string][]uint64{
			"attn_norm.weight": {64}, "attn_q.weight": {64, 64}, "attn_k.weight": {64, 32}, "attn_v.weight": {64, 32},
			"attn_output.weight": {64, 64}, "ffn_norm.weight": {64}, "ffn_gate.weight": {64, 96},
			"ffn_up.weight": {64, 96}, "ffn_down.weight": {96, 64},
		} {
			want[p+n] = d
		}
	}
	if len(f.Tensors) != len(want) {
		t.Errorf("%d tensors, want %d", len(f.Tensors), len(want))
	}
	for _, ti := range f.Tensors {
		d, ok := want[ti.Name]
		if !ok {
			t.Errorf("unexpected tensor %s", ti.Name)
			continue
		}
		if !slices.Equal(ti.Dims, d) || ti.Type != tensor.F32 {
			t.Errorf("tensor %s: %s %v, want F32 %v", ti.Name, ti.Type, ti.Dims, d)
		}
	}

	// Queries and keys are permuted, everything else is copied.
	for hf, gg := range map[string]string{
		"model.layers.1.self_attn.q_proj.weight": "blk.1.attn_q.weight",
		"model.layers.1.self_attn.k_proj.weight": "blk.1.attn_k.weight",
		"model.layers.0.self_attn.v_proj.weight": "blk.0.attn_v.weight",
		"model.layers.0.mlp.down_proj.weight":    "blk.0.ffn_down.weight",
		"model.embed_tokens.weight":              "token_embd.weight",
	} {
		src := m.tensors[hf].vals
		switch {
		case strings.Contains(hf, "q_proj"):
			src = unpermute(src, 4, 64)
		case strings.Contains(hf, "k_proj"):
			src = unpermute(src, 2, 64)
		}
		got := tensorF32(t, f, gg)
		for i := range got {
			if got[i] != float32(src[i]) {
				t.Errorf("%s[%d] = %g, want %g", gg, i, got[i], float32(src[i]))
				break
			}
		}
	}

	mod, err := model.Load(f)
	if err != nil {
		t.Fatalf("model.Load: %v", err)
	}
	if c := mod.Config; c.VocabSize != 300 || c.HeadCountKV != 2 || c.KeyLength != 16 || c.RMSEpsilon != 1e-5 {
		t.Errorf("model config %+v", c)
	}
}

// TestPermutationRoundTrip starts from weights in Meta's layout, which is
// llama.cpp's, makes Hugging Face weights of them as transformers does,
// and checks that conversion restores them exactly.
func TestPermutationRoundTrip(t *testing.T) {
	m := newModel("LlamaForCausalLM", tiny, safetensors.F32, false)
	metaQ := values(64*64, 99, false)
	metaK := values(32*64, 98, false)
	m.tensors["model.layers.0.self_attn.q_proj.weight"] = hfTensor{[]uint64{64, 64}, hfPermute(metaQ, 4, 64), safetensors.F32}
	m.tensors["model.layers.0.self_attn.k_proj.weight"] = hfTensor{[]uint64{32, 64}, hfPermute(metaK, 2, 64), safetensors.F32}
	f := convertTiny(t, m, Options{Type: tensor.F32})
	for name, meta := range map[string][]float64{"blk.0.attn_q.weight": metaQ, "blk.0.attn_k.weight": metaK} {
		got := tensorF32(t, f, name)
		for i := range got {
			if got[i] != float32(meta[i]) {
				t.Fatalf("%s[%d] = %g, want Meta's %g", name, i, got[i], float32(meta[i]))
			}
		}
	}
}

// TestPermutationRotary checks what the permutation is for: the half-split
// rotation transformers applies to its weights and the adjacent-pair
// rotation llama.cpp applies to the converted ones give the same attention
// scores, head by head, in float64.
func TestPermutationRotary(t *testing.T) {
	m := newModel("LlamaForCausalLM", tiny, safetensors.F32, true) // values float32 holds exactly
	f := convertTiny(t, m, Options{Type: tensor.F32})
	const base = 10000.0
	d := tiny.headDim
	x := values(tiny.embd, 7, false)
	matvec := func(w []float64, rows int) []float64 {
		out := make([]float64, rows)
		for r := range out {
			for c, v := range x {
				out[r] += w[r*len(x)+c] * v
			}
		}
		return out
	}
	asF64 := func(v []float32) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	}
	theta := func(i, pos int) float64 { return float64(pos) * math.Pow(base, -2*float64(i)/float64(d)) }
	// rotate applies RoPE to each head of v at pos, pairing (a(i), b(i)).
	rotate := func(v []float64, pos int, pair func(i int) (int, int)) []float64 {
		out := slices.Clone(v)
		for h := 0; h < len(v)/d; h++ {
			for i := 0; i < d/2; i++ {
				a, b := pair(i)
				a, b = h*d+a, h*d+b
				s, c := math.Sincos(theta(i, pos))
				out[a] = v[a]*c - v[b]*s
				out[b] = v[a]*s + v[b]*c
			}
		}
		return out
	}
	neox := func(i int) (int, int) { return i, i + d/2 }
	normal := func(i int) (int, int) { return 2 * i, 2*i + 1 }
	hfQ := matvec(m.tensors["model.layers.0.self_attn.q_proj.weight"].vals, tiny.heads*d)
	hfK := matvec(m.tensors["model.layers.0.self_attn.k_proj.weight"].vals, tiny.kvHeads*d)
	ggQ := matvec(asF64(tensorF32(t, f, "blk.0.attn_q.weight")), tiny.heads*d)
	ggK := matvec(asF64(tensorF32(t, f, "blk.0.attn_k.weight")), tiny.kvHeads*d)
	group := tiny.heads / tiny.kvHeads
	for _, pos := range [][2]int{{0, 0}, {5, 2}, {17, 17}, {40, 3}} {
		hq, hk := rotate(hfQ, pos[0], neox), rotate(hfK, pos[1], neox)
		gq, gk := rotate(ggQ, pos[0], normal), rotate(ggK, pos[1], normal)
		for h := 0; h < tiny.heads; h++ {
			kv := h / group
			var hs, gs float64
			for i := 0; i < d; i++ {
				hs += hq[h*d+i] * hk[kv*d+i]
				gs += gq[h*d+i] * gk[kv*d+i]
			}
			if math.Abs(hs-gs) > 1e-9*max(1, math.Abs(hs)) {
				t.Errorf("positions %v head %d: score %g after conversion, %g before", pos, h, gs, hs)
			}
		}
	}
}

// TestConvertTypes checks each output type against tensor.Quantize of the
// source values (the quantizer llama.cpp's reference quantizers match bit
// for bit), for each source dtype.
func TestConvertTypes(t *testing.T) {
	s := tiny
	s.ff = 40 // rows of ffn_down that Q8_0 cannot split: F16 instead
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16, tensor.BF16, tensor.Q8_0} {
		for _, dtype := range []safetensors.DType{safetensors.F32, safetensors.F16, safetensors.BF16, safetensors.F64} {
			t.Run(typ.String()+"/"+string(dtype), func(t *testing.T) {
				m := newModel("LlamaForCausalLM", s, dtype, false)
				f := convertTiny(t, m, Options{Type: typ})
				checkMeta(t, f, map[string]any{"general.file_type": fileTypes[typ]})
				for hf, ht := range m.tensors {
					mn, err := archs["LlamaForCausalLM"].mapName(hf)
					if err != nil {
						t.Fatal(err)
					}
					want := ht.vals
					switch mn.kind {
					case "attn_q":
						want = unpermute(want, s.heads, s.embd)
					case "attn_k":
						want = unpermute(want, s.kvHeads, s.embd)
					}
					wantType := typ
					switch {
					case len(ht.shape) == 1:
						wantType = tensor.F32
					case typ == tensor.Q8_0 && ht.shape[1]%32 != 0:
						wantType = tensor.F16
					}
					wantData, err := tensor.Quantize(wantType, stored(want, dtype))
					if err != nil {
						t.Fatal(err)
					}
					ti, ok := f.Tensor(mn.String())
					if !ok {
						t.Fatalf("%s missing", mn)
					}
					if ti.Type != wantType {
						t.Errorf("%s is %s, want %s", mn, ti.Type, wantType)
					} else if !bytes.Equal(f.TensorData(ti), wantData) {
						t.Errorf("%s: data differs from tensor.Quantize(%s) of the source", mn, wantType)
					}
				}
				if _, err := model.Load(f); err != nil {
					t.Errorf("model.Load: %v", err)
				}
			})
		}
	}
}

func TestConvertTied(t *testing.T) {
	m := newModel("MistralForCausalLM", tiny, safetensors.BF16, true)
	m.config["tie_word_embeddings"] = true
	f := convertTiny(t, m, Options{Type: tensor.BF16})
	if _, ok := f.Tensor("output.weight"); ok {
		t.Error("output.weight written for tied embeddings")
	}
	// Without the flag, a missing lm_head also means tied.
	delete(m.tensors, "lm_head.weight")
	delete(m.config, "tie_word_embeddings")
	f = convertTiny(t, m, Options{Type: tensor.BF16})
	if _, ok := f.Tensor("output.weight"); ok {
		t.Error("output.weight written without lm_head.weight")
	}
	checkMeta(t, f, map[string]any{"general.architecture": "llama", "general.file_type": uint32(32)})
	mod, err := model.Load(f)
	if err != nil {
		t.Fatalf("model.Load: %v", err)
	}
	if mod.Config.VocabSize != tiny.vocab {
		t.Errorf("vocab %d", mod.Config.VocabSize)
	}
}
