package model

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

// rewrite copies f through a gguf.Writer, letting kv and tensor edit or
// drop (keep false) entries, and extra add more.
func rewrite(t *testing.T, f *gguf.File,
	kv func(key string, v any) (any, bool),
	tn func(ti *gguf.TensorInfo, data []byte) (tensor.Type, []uint64, []byte, bool),
	extra func(w *gguf.Writer)) *gguf.File {
	t.Helper()
	w := gguf.NewWriter()
	for _, e := range f.KV {
		v, keep := e.Value, true
		if kv != nil {
			v, keep = kv(e.Key, e.Value)
		}
		if keep {
			if err := w.Set(e.Key, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		typ, dims, data, keep := ti.Type, ti.Dims, f.TensorData(ti), true
		if tn != nil {
			typ, dims, data, keep = tn(ti, data)
		}
		if keep {
			if err := w.AddTensor(ti.Name, typ, dims, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if extra != nil {
		extra(w)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	g, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestReadConfig(t *testing.T) {
	f, m := randomModel(t, llamatest.RandomConfig{Embd: 64, Layers: 3, Heads: 8, KVHeads: 2, FF: 172, Vocab: 300, Ctx: 128, RopeBase: 5000, Eps: 1e-6})
	want := Config{
		Arch: "llama", VocabSize: 300, ContextLength: 128, EmbeddingLength: 64, BlockCount: 3, FeedForwardLength: 172,
		HeadCount: 8, HeadCountKV: 2, KeyLength: 8, ValueLength: 8, RMSEpsilon: 1e-6,
		AttentionScale: float32(1 / math.Sqrt(8)), QueryScale: 1, RopeType: RopeNorm, RopeFreqBase: 5000, RopeFreqScale: 1, RopeDimensionCount: 8,
		RopeAttnFactor: 1, RopeYarnBetaFast: 32, RopeYarnBetaSlow: 1, RopeOrigContext: 128,
	}
	if m.Config != want {
		t.Errorf("Config = %+v\nwant     %+v", m.Config, want)
	}

	// Defaults when the optional keys are absent.
	optional := map[string]bool{
		"llama.attention.head_count_kv": true, "llama.attention.key_length": true,
		"llama.attention.value_length": true, "llama.rope.dimension_count": true,
		"llama.rope.freq_base": true, "llama.vocab_size": true,
	}
	g := rewrite(t, f, func(k string, v any) (any, bool) { return v, !optional[k] }, nil, nil)
	c, err := ReadConfig(g)
	if err != nil {
		t.Fatal(err)
	}
	if c.HeadCountKV != 8 || c.KeyLength != 8 || c.ValueLength != 8 || c.RopeDimensionCount != 8 || c.RopeFreqBase != 10000 || c.VocabSize != 300 {
		t.Errorf("defaults: %+v", c)
	}

	// llama.cpp reads no attention.scale for llama: q·k is scaled by
	// 1/sqrt(head size) whatever the file says.
	scaled := rewrite(t, f, nil, nil, func(w *gguf.Writer) {
		w.Set("llama.rope.scaling.type", "linear")
		w.Set("llama.rope.scaling.factor", float32(4))
		w.Set("llama.attention.scale", float32(0.125))
	})
	if c, err := ReadConfig(scaled); err != nil || c.RopeFreqScale != 0.25 || c.AttentionScale != want.AttentionScale {
		t.Errorf("linear scaling: rope scale %v, attention scale %v, %v", c.RopeFreqScale, c.AttentionScale, err)
	}
}

func TestLoadErrors(t *testing.T) {
	f, _ := randomModel(t, llamatest.RandomConfig{Embd: 64, Layers: 2, Heads: 4, KVHeads: 2, FF: 96, Seed: 1})
	dropKey := func(key string) func(string, any) (any, bool) {
		return func(k string, v any) (any, bool) { return v, k != key }
	}
	setKey := func(key string, val any) func(string, any) (any, bool) {
		return func(k string, v any) (any, bool) {
			if k == key {
				return val, true
			}
			return v, true
		}
	}
	onTensor := func(name string, edit func(ti *gguf.TensorInfo, data []byte) (tensor.Type, []uint64, []byte, bool)) func(*gguf.TensorInfo, []byte) (tensor.Type, []uint64, []byte, bool) {
		return func(ti *gguf.TensorInfo, data []byte) (tensor.Type, []uint64, []byte, bool) {
			if ti.Name == name {
				return edit(ti, data)
			}
			return ti.Type, ti.Dims, data, true
		}
	}
	drop := func(ti *gguf.TensorInfo, data []byte) (tensor.Type, []uint64, []byte, bool) {
		return ti.Type, ti.Dims, data, false
	}
	tests := []struct {
		name  string
		kv    func(string, any) (any, bool)
		tn    func(*gguf.TensorInfo, []byte) (tensor.Type, []uint64, []byte, bool)
		extra func(*gguf.Writer)
		want  string
	}{
		{"missing block_count", dropKey("llama.block_count"), nil, nil, `"llama.block_count"`},
		{"missing eps", dropKey("llama.attention.layer_norm_rms_epsilon"), nil, nil, "layer_norm_rms_epsilon"},
		{"missing head_count", dropKey("llama.attention.head_count"), nil, nil, `"llama.attention.head_count"`},
		{"other architecture", setKey("general.architecture", "gpt2"), nil, nil, `"gpt2"`},
		{"heads not a multiple", setKey("llama.attention.head_count_kv", uint32(3)), nil, nil, "multiple"},
		{"block_count a string", setKey("llama.block_count", "two"), nil, nil, "llama.block_count"},
		{"dynamic rope scaling", nil, nil, func(w *gguf.Writer) { w.Set("llama.rope.scaling.type", "dynamic") }, `"dynamic" is not supported`},
		{"experts", nil, nil, func(w *gguf.Writer) { w.Set("llama.expert_count", uint32(8)) }, "expert"},
		{"missing tensor", nil, onTensor("blk.1.ffn_up.weight", drop), nil, `"blk.1.ffn_up.weight" is missing`},
		{"missing norm", nil, onTensor("output_norm.weight", drop), nil, `"output_norm.weight" is missing`},
		{"wrong shape", nil, onTensor("blk.0.attn_k.weight", func(ti *gguf.TensorInfo, d []byte) (tensor.Type, []uint64, []byte, bool) {
			return ti.Type, []uint64{ti.Dims[1], ti.Dims[0]}, d, true
		}), nil, `"blk.0.attn_k.weight" has shape [32 64], want [64 32]`},
		{"wrong type", nil, onTensor("blk.0.attn_v.weight", func(ti *gguf.TensorInfo, d []byte) (tensor.Type, []uint64, []byte, bool) {
			return tensor.I32, ti.Dims, d, true
		}), nil, `"blk.0.attn_v.weight": tensor: matmul with I32 weights is not supported`},
		{"vocab mismatch", setKey("llama.vocab_size", uint32(500)), nil, nil, `"token_embd.weight" has shape [64 320], want [64 500]`},
		{"extra tensor", nil, nil, func(w *gguf.Writer) {
			w.AddTensor("blk.0.attn_q_norm.weight", tensor.F32, []uint64{16}, make([]byte, 64))
		}, `unexpected tensor "blk.0.attn_q_norm.weight"`},
		{"bias of the wrong size", nil, nil, func(w *gguf.Writer) {
			w.AddTensor("blk.0.attn_q.bias", tensor.F32, []uint64{32}, make([]byte, 128))
		}, `"blk.0.attn_q.bias" has shape [32], want [64]`},
	}
	for _, tt := range tests {
		g := rewrite(t, f, tt.kv, tt.tn, tt.extra)
		_, err := Load(g)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %s", tt.name, err, tt.want)
		}
	}

	// An untied file binds output.weight; a tied one reuses the embedding.
	if _, m := randomModel(t, llamatest.RandomConfig{Tied: true}); !m.tied {
		t.Error("tied model: output not tied to token_embd")
	}
	if _, m := randomModel(t, llamatest.RandomConfig{}); m.tied {
		t.Error("untied model: output tied")
	}
}
