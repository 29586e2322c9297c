package model

import (
	"fmt"
	"slices"
	"strings"
)

// RopeType is the way rotary position embeddings pair the dimensions of a
// head: pair j turns by the angle pos·base^(-2j/n) either way, only the
// two elements it rotates differ.
type RopeType int

const (
	// RopeNorm rotates adjacent elements (x[2j], x[2j+1]), as llama.cpp
	// does for llama.
	RopeNorm RopeType = iota
	// RopeNeox rotates elements half a rotation apart, (x[j], x[j+n/2]),
	// as GPT-NeoX and llama.cpp's qwen2 and qwen3 do.
	RopeNeox
)

func (r RopeType) String() string {
	switch r {
	case RopeNorm:
		return "norm"
	case RopeNeox:
		return "neox"
	}
	return fmt.Sprintf("RopeType(%d)", int(r))
}

// family is what sets an architecture apart from the llama block: RMSNorm,
// attention with RoPE, residual, RMSNorm, SwiGLU feed-forward, residual.
// Everything else is the same code; the tensors a family may add are
// optional in the file unless listed as required.
//
// Every family may store q, k and v as one matrix, blk.N.attn_qkv.weight
// (q rows, then k, then v; with an optional attn_qkv.bias), as llama.cpp's
// shared loader accepts.
type family struct {
	rope RopeType

	// Optional tensors llama.cpp reads for the family; a file with any
	// other tensor is refused.
	qkvBias    bool // blk.N.attn_{q,k,v}.bias, added to the projections
	outBias    bool // blk.N.attn_output.bias
	ffnBias    bool // blk.N.ffn_{gate,up,down}.bias
	outputBias bool // output.bias, added to the logits
	ropeFreqs  bool // rope_freqs.weight: per-pair divisors of the RoPE frequencies (Llama 3)

	// qkNorm requires blk.N.attn_{q,k}_norm.weight: an RMSNorm over each
	// head of the queries and keys, before RoPE.
	qkNorm bool

	// fusedGateUp: blk.N.ffn_up.weight holds the gate rows then the up
	// rows (2 × feed_forward_length), and there is no ffn_gate.
	fusedGateUp bool

	// ropeLongShort: rope_factors_long.weight and rope_factors_short.weight
	// may give per-pair divisors of the RoPE frequencies (Phi-3's
	// "longrope"); llama also takes them when rope.scaling.type is
	// longrope. llama.cpp picks the long ones when its context is longer
	// than rope.scaling.original_context_length; Load picks them when the
	// model's context length is, which is what llama.cpp does run with the
	// whole trained context.
	ropeLongShort bool

	// scaleQ multiplies the queries by 1/sqrt(head size) before
	// attention, which then scales q·k by 1, rather than scaling q·k.
	// The result differs only in rounding, which is why it is data.
	scaleQ bool

	// attnScaleKey reads ARCH.attention.scale for the scale of q·k.
	// llama.cpp reads it for none of these families (only for granite and
	// a few others), so a llama file carrying the key gets 1/sqrt(head
	// size) all the same.
	attnScaleKey bool

	// gemma is the Gemma 2/3 block: the embeddings scaled by
	// sqrt(embedding_length); RMSNorms (blk.N.post_attention_norm,
	// blk.N.post_ffw_norm) on the attention and feed-forward outputs
	// before they join the residual stream; GELU (tanh approximation)
	// for the gate instead of SiLU; queries scaled by 1/sqrt(key length)
	// after RoPE; and the output tied to token_embd. llama.cpp's converter
	// already adds 1 to Gemma's norm weights, so they are plain RMSNorms.
	gemma bool

	// softcap reads ARCH.attn_logit_softcapping (default 50) and
	// ARCH.final_logit_softcapping (default 30): scores and logits x
	// become cap·tanh(x/cap). Without it only the final cap is read, with
	// no default.
	softcap bool

	// swaPattern is the default of ARCH.attention.sliding_window_pattern:
	// of every swaPattern layers, all but the last attend to a sliding
	// window (ARCH.attention.sliding_window positions) and use RoPE base
	// ARCH.rope.freq_base_swa. 0 means no sliding-window attention.
	swaPattern int
	// swaDefault is the window when the file gives none; 0 turns sliding
	// windows off unless the file gives one.
	swaDefault int
	// swaRopeGlobal: the local layers' RoPE base and scale default to
	// the global ones; otherwise to 10000 and no scaling.
	swaRopeGlobal bool

	// tiedOutput: the classifier is always token_embd; an output.weight
	// is refused as unused.
	tiedOutput bool
}

// families are the architectures Load accepts, by general.architecture.
// Facts from llama.cpp's src/models/{llama,qwen2,qwen3,phi3,gemma2,gemma3}.cpp, the optional
// q, k, v biases of its shared create_tensor_qkv, and llama_model_rope_type.
var families = map[string]family{
	"llama": {
		rope:    RopeNorm,
		qkvBias: true, outBias: true, ffnBias: true,
		ropeFreqs: true,
	},
	"qwen2": {
		rope:       RopeNeox,
		qkvBias:    true,
		outputBias: true,
	},
	"qwen3": {
		rope:    RopeNeox,
		qkvBias: true,
		qkNorm:  true,
	},
	// Phi-3: llama.cpp ignores attention.sliding_window for it (its
	// sliding-window attention is disabled), and so does Load.
	"phi3": {
		rope:          RopeNeox,
		qkvBias:       true,
		fusedGateUp:   true,
		ropeLongShort: true,
		scaleQ:        true,
	},
	// Gemma 2: sliding windows of 4096 on even layers, soft-capping.
	"gemma2": {
		rope:          RopeNeox,
		gemma:         true,
		softcap:       true,
		swaPattern:    2,
		swaDefault:    4096,
		swaRopeGlobal: true,
		tiedOutput:    true,
	},
	// Gemma 3 (text): five local layers to one global, only when the file
	// gives a window; per-head q and k norms.
	"gemma3": {
		rope:       RopeNeox,
		gemma:      true,
		qkNorm:     true,
		swaPattern: 6,
	},
}

// Architectures lists the values of general.architecture Load accepts.
func Architectures() []string {
	names := make([]string, 0, len(families))
	for n := range families {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func lookupFamily(name string) (family, error) {
	f, ok := families[name]
	if !ok {
		return f, fmt.Errorf("model: architecture %q is not supported (supported: %s)", name, strings.Join(Architectures(), ", "))
	}
	return f, nil
}
