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
	// fused: Phi-3's blocks, with q, k and v in one matrix
	// (self_attn.qkv_proj → attn_qkv) and the gate and up projections in
	// another (mlp.gate_up_proj → ffn_up, 2 × intermediate_size rows).
	fused bool
	// gemma: Gemma 2/3's blocks, with norms before and after both the
	// attention and the feed-forward network, whose weights w are stored
	// as 1 + w (Gemma's RMSNorm multiplies by 1 + w, llama.cpp's by w).
	gemma bool
	// dropOutput: lm_head.weight is not written (llama.cpp's Gemma 2 ties
	// the output to the embedding whatever the checkpoint holds).
	dropOutput bool
	// trimEmbed: the rows of the token embedding beyond the vocabulary
	// are dropped (Gemma 3).
	trimEmbed bool
	// vocab says which tokenizer files convert.
	vocab vocabKind
	// meta writes the {arch}.* hyperparameters.
	meta metaFunc

	// The defaults of the transformers configuration class, which
	// llama.cpp's converter sees through AutoConfig when config.json
	// leaves a value out.
	defContext int
	defKVHeads int  // 0: as many as query heads
	defHeadDim int  // 0: hidden_size / num_attention_heads
	hasHeadDim bool // the class always has head_dim, so key_length is written
}

// vocabKind is the kind of vocabulary an architecture converts.
type vocabKind int

const (
	// vocabBPE: byte-level BPE from tokenizer.json only (Qwen).
	vocabBPE vocabKind = iota
	// vocabSPM: SentencePiece from tokenizer.model, else from a
	// tokenizer.json BPE model with byte fallback, else byte-level BPE.
	vocabSPM
)

// archs maps config.json's architectures[0] to its conversion.
var archs = map[string]arch{
	"LlamaForCausalLM":   {name: "llama", permuteQK: true, llamaKeys: true, vocab: vocabSPM, meta: modelMeta, defContext: 2048, hasHeadDim: true},
	"MistralForCausalLM": {name: "llama", permuteQK: true, llamaKeys: true, vocab: vocabSPM, meta: modelMeta, defContext: 4096 * 32, defKVHeads: 8, hasHeadDim: true},
	"Qwen2ForCausalLM":   {name: "qwen2", meta: modelMeta, defContext: 32768, defKVHeads: 32},
	"Qwen3ForCausalLM":   {name: "qwen3", qkNorm: true, meta: modelMeta, defContext: 32768, defKVHeads: 32, defHeadDim: 128, hasHeadDim: true},
	"Phi3ForCausalLM":    {name: "phi3", fused: true, vocab: vocabSPM, meta: phi3Meta, defContext: 4096},
	"Gemma2ForCausalLM":  {name: "gemma2", gemma: true, dropOutput: true, vocab: vocabSPM, meta: gemma2Meta, defContext: 8192, defKVHeads: 4, defHeadDim: 256},
	"Gemma3ForCausalLM":  {name: "gemma3", gemma: true, qkNorm: true, trimEmbed: true, vocab: vocabSPM, meta: gemma3Meta, defContext: 131072, defKVHeads: 4, defHeadDim: 256},
}

// supportedArchs lists the keys of archs for error messages.
func supportedArchs() string {
	names := sortedKeys(archs)
	return strings.Join(names, ", ")
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

// fusedNames replace q, k, v, gate and up for Phi-3.
var fusedNames = map[string]string{
	"self_attn.qkv_proj": "attn_qkv",
	"mlp.gate_up_proj":   "ffn_up",
	"self_attn.q_proj":   "",
	"self_attn.k_proj":   "",
	"self_attn.v_proj":   "",
	"mlp.gate_proj":      "",
	"mlp.up_proj":        "",
}

// gemmaNames are Gemma's four norms of a block: post_attention_layernorm
// is the norm of the attention's output here, not of the feed-forward
// network's input.
var gemmaNames = map[string]string{
	"post_attention_layernorm":   "post_attention_norm",
	"pre_feedforward_layernorm":  "ffn_norm",
	"post_feedforward_layernorm": "post_ffw_norm",
}

// blockKind returns the GGUF kind of part, a name inside model.layers.N.
func (a arch) blockKind(part string) (string, bool) {
	if a.fused {
		if kind, ok := fusedNames[part]; ok {
			return kind, kind != ""
		}
	}
	if a.gemma {
		if kind, ok := gemmaNames[part]; ok {
			return kind, true
		}
	}
	kind, ok := blockNames[part]
	if kind == "attn_q_norm" || kind == "attn_k_norm" {
		ok = ok && a.qkNorm
	}
	return kind, ok
}

// blockRequired returns the tensors every block of a must have.
func (a arch) blockRequired() []string {
	var kinds []string
	if a.fused {
		kinds = []string{"attn_norm", "attn_qkv", "attn_output", "ffn_norm", "ffn_up", "ffn_down"}
	} else {
		kinds = []string{"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"}
	}
	if a.qkNorm {
		kinds = append(kinds, "attn_q_norm", "attn_k_norm")
	}
	if a.gemma {
		kinds = append(kinds, "post_attention_norm", "post_ffw_norm")
	}
	for i, k := range kinds {
		kinds[i] = k + ".weight"
	}
	return kinds
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
	kind, ok := a.blockKind(part)
	if !ok {
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
func (d dims) shape(a arch, m mappedName) []uint64 {
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
	case "output_norm", "attn_norm", "ffn_norm", "post_attention_norm", "post_ffw_norm":
		w = u(d.embd)
	case "attn_q_norm", "attn_k_norm":
		w = u(d.headDim)
	case "attn_q":
		w = u(q, d.embd)
	case "attn_k", "attn_v":
		w = u(kv, d.embd)
	case "attn_output":
		w = u(d.embd, q)
	case "attn_qkv":
		w = u(q+2*kv, d.embd)
	case "ffn_up":
		w = u(d.ff, d.embd)
		if a.fused {
			w = u(2*d.ff, d.embd)
		}
	case "ffn_gate":
		w = u(d.ff, d.embd)
	case "ffn_down":
		w = u(d.embd, d.ff)
	}
	if m.suffix == "bias" {
		return w[:1]
	}
	return w
}
