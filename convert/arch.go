package convert

import (
	"fmt"
	"strconv"
	"strings"
)

// arch describes how one Hugging Face architecture converts.
type arch struct {
	name string // general.architecture
	// permuteQK: the query and key rows are permuted from the half-split
	// rotary layout to adjacent pairs (llama.cpp's "llama" rotates pairs).
	permuteQK bool
	// llamaKeys: {arch}.vocab_size and rope.dimension_count are written,
	// as llama.cpp's converter does for "llama" only.
	llamaKeys bool
	// qkNorm: the blocks have per-head RMSNorms of queries and keys.
	qkNorm bool

	// The defaults of the transformers configuration class, which
	// llama.cpp's converter sees through AutoConfig when config.json
	// leaves a value out.
	defContext int
	defKVHeads int  // 0: as many as query heads
	defHeadDim int  // 0: hidden_size / num_attention_heads
	hasHeadDim bool // the class always has head_dim, so key_length is written
}

// archs maps config.json's architectures[0] to its conversion.
var archs = map[string]arch{
	"LlamaForCausalLM":   {name: "llama", permuteQK: true, llamaKeys: true, defContext: 2048, hasHeadDim: true},
	"MistralForCausalLM": {name: "llama", permuteQK: true, llamaKeys: true, defContext: 4096 * 32, defKVHeads: 8, hasHeadDim: true},
	"Qwen2ForCausalLM":   {name: "qwen2", defContext: 32768, defKVHeads: 32},
	"Qwen3ForCausalLM":   {name: "qwen3", qkNorm: true, defContext: 32768, defKVHeads: 32, defHeadDim: 128, hasHeadDim: true},
}

// supportedArchs lists the keys of archs for error messages.
func supportedArchs() string {
	return "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM"
}

// dims are the sizes that tensor shapes are checked against.
type dims struct {
	vocab, embd, ff, blocks int
	heads, kvHeads, headDim int
}

// globalNames maps the Hugging Face names of tensors outside the blocks.
var globalNames = map[string]string{
	"model.embed_tokens": "token_embd",
	"model.norm":         "output_norm",
	"lm_head":            "output",
}

// blockNames maps the names inside model.layers.N.
var blockNames = map[string]string{
	"input_layernorm":          "attn_norm",
	"self_attn.q_proj":         "attn_q",
	"self_attn.k_proj":         "attn_k",
	"self_attn.v_proj":         "attn_v",
	"self_attn.o_proj":         "attn_output",
	"self_attn.q_norm":         "attn_q_norm",
	"self_attn.k_norm":         "attn_k_norm",
	"post_attention_layernorm": "ffn_norm",
	"mlp.gate_proj":            "ffn_gate",
	"mlp.up_proj":              "ffn_up",
	"mlp.down_proj":            "ffn_down",
}

// blockRequired are the tensors every block must have.
var blockRequired = []string{
	"attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
	"ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
}

// skipped reports the tensors llama.cpp's converter drops: buffers
// recomputed at load time, not weights.
func skipped(name string) bool {
	for _, s := range []string{".rotary_emb.inv_freq", ".attention.masked_bias", ".attention.bias"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// mappedName is a tensor's GGUF name, split up.
type mappedName struct {
	kind   string // "attn_q", "token_embd", ...
	block  int    // -1 outside the blocks
	suffix string // "weight" or "bias"
}

func (m mappedName) String() string {
	if m.block < 0 {
		return m.kind + "." + m.suffix
	}
	return fmt.Sprintf("blk.%d.%s.%s", m.block, m.kind, m.suffix)
}

// mapName returns the GGUF name of a Hugging Face tensor of a.
func (a arch) mapName(hf string) (mappedName, error) {
	base, suffix, ok := cutLast(hf, ".")
	if !ok || (suffix != "weight" && suffix != "bias") {
		return mappedName{}, fmt.Errorf("convert: cannot map tensor %q", hf)
	}
	if kind, ok := globalNames[base]; ok {
		return mappedName{kind: kind, block: -1, suffix: suffix}, nil
	}
	rest, ok := strings.CutPrefix(base, "model.layers.")
	if !ok {
		return mappedName{}, fmt.Errorf("convert: cannot map tensor %q", hf)
	}
	num, part, ok := strings.Cut(rest, ".")
	bid, err := strconv.Atoi(num)
	if !ok || err != nil || bid < 0 || strconv.Itoa(bid) != num {
		return mappedName{}, fmt.Errorf("convert: cannot map tensor %q", hf)
	}
	kind, ok := blockNames[part]
	if !ok || (!a.qkNorm && (kind == "attn_q_norm" || kind == "attn_k_norm")) {
		return mappedName{}, fmt.Errorf("convert: cannot map tensor %q for %s", hf, a.name)
	}
	return mappedName{kind: kind, block: bid, suffix: suffix}, nil
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// shape returns the Hugging Face shape (outermost first) that tensor m
// must have.
func (d dims) shape(m mappedName) []uint64 {
	u := func(v ...int) []uint64 {
		out := make([]uint64, len(v))
		for i, x := range v {
			out[i] = uint64(x)
		}
		return out
	}
	q, kv := d.heads*d.headDim, d.kvHeads*d.headDim
	var w []uint64 // the weight's shape; a bias has its first dimension
	switch m.kind {
	case "token_embd", "output":
		w = u(d.vocab, d.embd)
	case "output_norm", "attn_norm", "ffn_norm":
		w = u(d.embd)
	case "attn_q_norm", "attn_k_norm":
		w = u(d.headDim)
	case "attn_q":
		w = u(q, d.embd)
	case "attn_k", "attn_v":
		w = u(kv, d.embd)
	case "attn_output":
		w = u(d.embd, q)
	case "ffn_gate", "ffn_up":
		w = u(d.ff, d.embd)
	case "ffn_down":
		w = u(d.embd, d.ff)
	}
	if m.suffix == "bias" {
		return w[:1]
	}
	return w
}
