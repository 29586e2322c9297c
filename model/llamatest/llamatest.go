// Package llamatest writes small GGUF models (llama, qwen2, qwen3, phi3) with
// deterministic random weights and a byte-fallback SentencePiece-style
// vocabulary, for tests and benchmarks that need a model of a given shape,
// architecture and weight type.
package llamatest

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/tensor"
)

// RandomConfig describes a random model. Zero fields take the defaults
// noted.
type RandomConfig struct {
	Arch     string      // general.architecture: "llama", "qwen2", "qwen3", "phi3", "gemma2" or "gemma3"; "llama"
	Name     string      // general.name; "random-" + Arch
	Embd     int         // embedding length; 64
	Layers   int         // blocks; 2
	Heads    int         // query heads; 4
	KVHeads  int         // key/value heads; Heads
	HeadDim  int         // per-head width; Embd / Heads
	RopeDims int         // leading dimensions of a head that RoPE turns; HeadDim
	FF       int         // feed-forward width; 4 * Embd
	Vocab    int         // vocabulary size, at least 259 (3 control + 256 byte tokens); 320
	Ctx      int         // context length; 256
	Type     tensor.Type // type of the weight matrices; F32. Norms are always F32.
	Tied     bool        // no output.weight: the classifier is token_embd
	Seed     uint64      // weights are a function of Seed and the tensor name only
	RopeBase float32     // 10000
	Eps      float32     // RMSNorm epsilon; 1e-5

	// Bias adds every bias tensor llama.cpp accepts for the architecture:
	// q, k, v, attention output and feed-forward for llama; q, k, v and
	// the output classifier for qwen2; q, k and v for qwen3 and phi3.
	// qwen2 files always have the q, k and v biases, as Qwen2 checkpoints
	// do.
	Bias bool
	// FusedQKV stores q, k and v as one matrix, attn_qkv (and their
	// biases as attn_qkv.bias). phi3 files always do, as converted Phi-3
	// checkpoints do; phi3 files also hold the gate and up matrices in one
	// ffn_up of twice the feed-forward width.
	FusedQKV bool
	// RopeFreqs writes rope_freqs.weight (llama only): per-pair divisors
	// of the RoPE frequencies as Llama 3 files carry them, here rising
	// from 1 for the fastest pair to 8 for the slowest.
	RopeFreqs bool
	// Rope scaling metadata: rope.scaling.type ("" writes no type key,
	// which llama.cpp reads as "linear"), rope.scaling.factor (written
	// when not 0) and rope.scaling.original_context_length (when not 0).
	// With the type "longrope", phi3 and llama files get
	// rope_factors_long.weight and rope_factors_short.weight
	// (LongRopeFactors). RopeAttnFactor is written as
	// rope.scaling.attn_factor when not 0.
	RopeScalingType   string
	RopeScalingFactor float32
	RopeOrigCtx       int
	RopeAttnFactor    float32

	// Gemma (gemma2, gemma3): each written when not 0, as
	// ARCH.attention.sliding_window, ARCH.attention.sliding_window_pattern,
	// ARCH.rope.freq_base_swa, ARCH.attn_logit_softcapping and
	// ARCH.final_logit_softcapping. gemma2 files are always tied, as
	// llama.cpp reads no output.weight for them; both carry the
	// post-attention and post-feed-forward norms, gemma3 the q and k norms.
	SlidingWindow        int
	SlidingWindowPattern int
	RopeBaseSWA          float32
	AttnSoftcap          float32
	FinalSoftcap         float32
}

// MinVocab is the smallest vocabulary: <unk>, <s>, </s> and 256 byte tokens.
const MinVocab = 3 + 256

func (c RandomConfig) withDefaults() RandomConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Arch == "" {
		c.Arch = "llama"
	}
	if c.Name == "" {
		c.Name = "random-" + c.Arch
	}
	def(&c.Embd, 64)
	def(&c.Layers, 2)
	def(&c.Heads, 4)
	def(&c.KVHeads, c.Heads)
	if c.Heads > 0 {
		def(&c.HeadDim, c.Embd/c.Heads)
	}
	def(&c.RopeDims, c.HeadDim)
	def(&c.FF, 4*c.Embd)
	def(&c.Vocab, 320)
	def(&c.Ctx, 256)
	if c.RopeBase == 0 {
		c.RopeBase = 10000
	}
	if c.Eps == 0 {
		c.Eps = 1e-5
	}
	return c
}

// Filled returns c with its defaults filled in: the configuration
// WriteRandomLlama writes.
func (c RandomConfig) Filled() RandomConfig { return c.withDefaults() }

// Parts says which optional tensors a model of c's configuration has.
type Parts struct {
	QKVBias    bool // blk.N.attn_{q,k,v}.bias
	OutBias    bool // blk.N.attn_output.bias
	FFNBias    bool // blk.N.ffn_{gate,up,down}.bias
	OutputBias bool // output.bias
	QKNorm     bool // blk.N.attn_{q,k}_norm.weight
	RopeFreqs  bool // rope_freqs.weight
	PostNorms  bool // blk.N.post_attention_norm.weight and blk.N.post_ffw_norm.weight
	FusedQKV   bool // blk.N.attn_qkv.weight instead of attn_{q,k,v}
	GateUp     bool // blk.N.ffn_up.weight holds gate then up; no ffn_gate
	LongShort  bool // rope_factors_long.weight and rope_factors_short.weight
}

// Parts returns the optional tensors WriteRandomLlama writes for c.
func (c RandomConfig) Parts() Parts {
	c = c.withDefaults()
	var p Parts
	switch c.Arch {
	case "qwen2":
		p = Parts{QKVBias: true, OutputBias: c.Bias && !c.Tied}
	case "qwen3":
		p = Parts{QKVBias: c.Bias, QKNorm: true}
	case "phi3":
		p = Parts{QKVBias: c.Bias, FusedQKV: true, GateUp: true, LongShort: c.RopeScalingType == "longrope"}
	case "gemma2":
		p = Parts{PostNorms: true}
	case "gemma3":
		p = Parts{PostNorms: true, QKNorm: true}
	default:
		p = Parts{QKVBias: c.Bias, OutBias: c.Bias, FFNBias: c.Bias, RopeFreqs: c.RopeFreqs, LongShort: c.RopeScalingType == "longrope"}
	}
	p.FusedQKV = p.FusedQKV || c.FusedQKV
	return p
}

// LongRopeFactors returns the values of rope_factors_long.weight and
// rope_factors_short.weight for n pairs: rising from 1 to 8 and from 1
// to 2.
func LongRopeFactors(n int) (long, short []float32) {
	long, short = make([]float32, n), make([]float32, n)
	for i := range long {
		f := float32(0)
		if n > 1 {
			f = float32(i) / float32(n-1)
		}
		long[i], short[i] = 1+7*f, 1+f
	}
	return long, short
}

// RopeFreqFactors returns the values of rope_freqs.weight for n pairs.
func RopeFreqFactors(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 1
		if n > 1 {
			v[i] = 1 + 7*float32(i)/float32(n-1)
		}
	}
	return v
}

// WriteRandomLlama writes a GGUF v3 model described by cfg to w; despite
// the name, of any architecture RandomConfig.Arch names.
//
// Weights are normal with standard deviation 1/sqrt(columns) (token_embd:
// 0.5), biases with standard deviation 0.5 (the output's 0.1), norms
// 1 ± 0.1; each tensor's values depend only on cfg.Seed and its name, so
// models differing only in Type hold the same real-valued weights before
// rounding. A matrix whose rows are not a whole number of cfg.Type blocks
// is stored as F16, as llama.cpp's quantizer falls back for such tensors.
// Norms and biases are always F32.
func WriteRandomLlama(w io.Writer, cfg RandomConfig) error {
	c := cfg.withDefaults()
	if err := c.check(); err != nil {
		return err
	}
	gw := gguf.NewWriter()
	if err := c.setMetadata(gw); err != nil {
		return err
	}
	qDim, kvK := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	parts := c.Parts()
	type spec struct {
		name       string
		cols, rows int     // rows == 0: a vector of cols
		std        float64 // for a vector: 0 makes a norm, otherwise a bias
	}
	specs := []spec{{"token_embd.weight", c.Embd, c.Vocab, 0.5}}
	if parts.RopeFreqs {
		specs = append(specs, spec{"rope_freqs.weight", c.RopeDims / 2, 0, 0})
	}
	if parts.LongShort {
		specs = append(specs, spec{"rope_factors_long.weight", c.RopeDims / 2, 0, 0}, spec{"rope_factors_short.weight", c.RopeDims / 2, 0, 0})
	}
	for i := range c.Layers {
		p := fmt.Sprintf("blk.%d.", i)
		specs = append(specs, spec{p + "attn_norm.weight", c.Embd, 0, 0})
		switch {
		case parts.FusedQKV:
			specs = append(specs, spec{p + "attn_qkv.weight", c.Embd, qDim + 2*kvK, 0})
			if parts.QKVBias {
				specs = append(specs, spec{p + "attn_qkv.bias", qDim + 2*kvK, 0, 0.5})
			}
		default:
			specs = append(specs,
				spec{p + "attn_q.weight", c.Embd, qDim, 0},
				spec{p + "attn_k.weight", c.Embd, kvK, 0},
				spec{p + "attn_v.weight", c.Embd, kvK, 0},
			)
			if parts.QKVBias {
				specs = append(specs,
					spec{p + "attn_q.bias", qDim, 0, 0.5},
					spec{p + "attn_k.bias", kvK, 0, 0.5},
					spec{p + "attn_v.bias", kvK, 0, 0.5},
				)
			}
		}
		if parts.QKNorm {
			specs = append(specs,
				spec{p + "attn_q_norm.weight", c.HeadDim, 0, 0},
				spec{p + "attn_k_norm.weight", c.HeadDim, 0, 0},
			)
		}
		specs = append(specs, spec{p + "attn_output.weight", qDim, c.Embd, 0})
		if parts.OutBias {
			specs = append(specs, spec{p + "attn_output.bias", c.Embd, 0, 0.5})
		}
		specs = append(specs, spec{p + "ffn_norm.weight", c.Embd, 0, 0})
		if parts.GateUp {
			specs = append(specs, spec{p + "ffn_up.weight", c.Embd, 2 * c.FF, 0})
		} else {
			specs = append(specs, spec{p + "ffn_gate.weight", c.Embd, c.FF, 0}, spec{p + "ffn_up.weight", c.Embd, c.FF, 0})
		}
		specs = append(specs, spec{p + "ffn_down.weight", c.FF, c.Embd, 0})
		if parts.PostNorms {
			specs = append(specs, spec{p + "post_attention_norm.weight", c.Embd, 0, 0}, spec{p + "post_ffw_norm.weight", c.Embd, 0, 0})
		}
		if parts.FFNBias {
			specs = append(specs,
				spec{p + "ffn_gate.bias", c.FF, 0, 0.5},
				spec{p + "ffn_up.bias", c.FF, 0, 0.5},
				spec{p + "ffn_down.bias", c.Embd, 0, 0.5},
			)
		}
	}
	specs = append(specs, spec{"output_norm.weight", c.Embd, 0, 0})
	if !c.Tied && c.Arch != "gemma2" {
		specs = append(specs, spec{"output.weight", c.Embd, c.Vocab, 0})
	}
	if parts.OutputBias {
		specs = append(specs, spec{"output.bias", c.Vocab, 0, 0.1})
	}
	for _, s := range specs {
		r := rand.New(rand.NewPCG(c.Seed, nameHash(s.name)))
		if s.rows == 0 {
			v := make([]float32, s.cols)
			for i := range v {
				if s.std == 0 {
					v[i] = float32(1 + 0.1*r.NormFloat64())
				} else {
					v[i] = float32(s.std * r.NormFloat64())
				}
			}
			long, short := LongRopeFactors(s.cols)
			switch s.name {
			case "rope_freqs.weight":
				v = RopeFreqFactors(s.cols)
			case "rope_factors_long.weight":
				v = long
			case "rope_factors_short.weight":
				v = short
			}
			if err := gw.AddTensor(s.name, tensor.F32, []uint64{uint64(s.cols)}, encodeF32(v)); err != nil {
				return fmt.Errorf("llamatest: %w", err)
			}
			continue
		}
		std := s.std
		if std == 0 {
			std = 1 / math.Sqrt(float64(s.cols))
		}
		v := make([]float32, s.cols*s.rows)
		for i := range v {
			v[i] = float32(std * r.NormFloat64())
		}
		t := c.Type
		if s.cols%t.BlockSize() != 0 {
			t = tensor.F16
		}
		data, err := Encode(t, v)
		if err != nil {
			return fmt.Errorf("llamatest: tensor %q: %w", s.name, err)
		}
		if err := gw.AddTensor(s.name, t, []uint64{uint64(s.cols), uint64(s.rows)}, data); err != nil {
			return fmt.Errorf("llamatest: %w", err)
		}
	}
	_, err := gw.WriteTo(w)
	return err
}

func (c RandomConfig) check() error {
	switch {
	case c.Embd <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.KVHeads <= 0 || c.HeadDim <= 0 || c.FF <= 0 || c.Ctx <= 0:
		return fmt.Errorf("llamatest: sizes must be positive: %+v", c)
	case c.Heads%c.KVHeads != 0:
		return fmt.Errorf("llamatest: %d heads is not a multiple of %d KV heads", c.Heads, c.KVHeads)
	case c.HeadDim%2 != 0:
		return fmt.Errorf("llamatest: head dimension %d is odd", c.HeadDim)
	case c.RopeDims%2 != 0 || c.RopeDims > c.HeadDim:
		return fmt.Errorf("llamatest: RoPE dimensions %d must be even and at most the head dimension %d", c.RopeDims, c.HeadDim)
	case c.Vocab < MinVocab:
		return fmt.Errorf("llamatest: vocabulary of %d is below the minimum %d", c.Vocab, MinVocab)
	case !c.Type.Known() || c.Type.BlockSize() == 0:
		return fmt.Errorf("llamatest: unknown type %v", c.Type)
	case c.Arch != "llama" && c.Arch != "qwen2" && c.Arch != "qwen3" && c.Arch != "phi3" && c.Arch != "gemma2" && c.Arch != "gemma3":
		return fmt.Errorf("llamatest: architecture %q is not one of llama, qwen2, qwen3, phi3, gemma2, gemma3", c.Arch)
	case c.Bias && (c.Arch == "gemma2" || c.Arch == "gemma3"):
		return fmt.Errorf("llamatest: %s has no biases", c.Arch)
	case (c.Arch == "qwen2" || c.Arch == "phi3") && c.Heads*c.HeadDim != c.Embd:
		return fmt.Errorf("llamatest: %s needs heads × head dimension = embedding length, have %d × %d != %d", c.Arch, c.Heads, c.HeadDim, c.Embd)
	case c.RopeFreqs && c.Arch != "llama":
		return fmt.Errorf("llamatest: rope_freqs.weight is for llama only")
	}
	return nil
}

func (c RandomConfig) setMetadata(w *gguf.Writer) error {
	toks, scores, types := Vocab(c.Vocab)
	if c.Arch == "phi3" {
		// llama.cpp looks this token up when loading a model whose name
		// says Phi-3, as Phi-3's vocabulary has it.
		toks[len(toks)-1], types[len(types)-1] = "<|endoftext|>", TypeControl
	}
	a := c.Arch + "."
	type entry struct {
		key string
		val any
	}
	kv := []entry{
		{"general.architecture", c.Arch},
		{"general.name", c.Name},
		{"general.file_type", fileType(c.Type)},
		{a + "vocab_size", uint32(c.Vocab)},
		{a + "context_length", uint32(c.Ctx)},
		{a + "embedding_length", uint32(c.Embd)},
		{a + "block_count", uint32(c.Layers)},
		{a + "feed_forward_length", uint32(c.FF)},
		{a + "rope.dimension_count", uint32(c.RopeDims)},
		{a + "attention.head_count", uint32(c.Heads)},
		{a + "attention.head_count_kv", uint32(c.KVHeads)},
		{a + "attention.key_length", uint32(c.HeadDim)},
		{a + "attention.value_length", uint32(c.HeadDim)},
		{a + "attention.layer_norm_rms_epsilon", c.Eps},
		{a + "rope.freq_base", c.RopeBase},
	}
	if c.RopeScalingType != "" {
		kv = append(kv, entry{a + "rope.scaling.type", c.RopeScalingType})
	}
	if c.RopeScalingFactor != 0 {
		kv = append(kv, entry{a + "rope.scaling.factor", c.RopeScalingFactor})
	}
	if c.RopeOrigCtx != 0 {
		kv = append(kv, entry{a + "rope.scaling.original_context_length", uint32(c.RopeOrigCtx)})
	}
	if c.RopeAttnFactor != 0 {
		kv = append(kv, entry{a + "rope.scaling.attn_factor", c.RopeAttnFactor})
	}
	if c.SlidingWindow != 0 {
		kv = append(kv, entry{a + "attention.sliding_window", uint32(c.SlidingWindow)})
	}
	if c.SlidingWindowPattern != 0 {
		kv = append(kv, entry{a + "attention.sliding_window_pattern", uint32(c.SlidingWindowPattern)})
	}
	if c.RopeBaseSWA != 0 {
		kv = append(kv, entry{a + "rope.freq_base_swa", c.RopeBaseSWA})
	}
	if c.AttnSoftcap != 0 {
		kv = append(kv, entry{a + "attn_logit_softcapping", c.AttnSoftcap})
	}
	if c.FinalSoftcap != 0 {
		kv = append(kv, entry{a + "final_logit_softcapping", c.FinalSoftcap})
	}
	kv = append(kv, []entry{
		{"tokenizer.ggml.model", "llama"},
		{"tokenizer.ggml.tokens", toks},
		{"tokenizer.ggml.scores", scores},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.unknown_token_id", uint32(0)},
		{"tokenizer.ggml.bos_token_id", uint32(1)},
		{"tokenizer.ggml.eos_token_id", uint32(2)},
		{"tokenizer.ggml.add_bos_token", true},
		{"tokenizer.ggml.add_eos_token", false},
		{"tokenizer.ggml.add_space_prefix", true},
	}...)
	for _, e := range kv {
		if err := w.Set(e.key, e.val); err != nil {
			return fmt.Errorf("llamatest: %w", err)
		}
	}
	return nil
}

// fileType is llama.cpp's general.file_type for files whose matrices are t.
func fileType(t tensor.Type) uint32 {
	switch t {
	case tensor.F32:
		return 0
	case tensor.F16:
		return 1
	case tensor.Q4_0:
		return 2
	case tensor.Q8_0:
		return 7
	case tensor.Q4_K:
		return 15 // Q4_K_M
	case tensor.Q5_K:
		return 17 // Q5_K_M
	case tensor.Q6_K:
		return 18
	case tensor.BF16:
		return 32
	}
	return 0
}

// Token types of the SentencePiece vocabulary, as GGUF stores them.
const (
	TypeNormal  = 1
	TypeUnknown = 2
	TypeControl = 3
	TypeByte    = 6
)

// commonPieces are the first pieces after the byte tokens, so that English
// text tokenizes into something better than bytes.
var commonPieces = []string{
	"▁", "e", "t", "a", "o", "n", "i", "h", "s", "r", "d", "l", "u", "m", "w", "c", "y", "f", "g", "p",
	"b", ".", ",", "v", "k", "T", "I", "S", "O", "'", "!", "?", "\"", "x", "j", "q", "z",
	"▁t", "he", "▁a", "▁s", "▁w", "nd", "▁the", "ed", "▁b", "▁to", "▁and", "▁h", "▁f", "in", "▁wa", "re",
	"it", "ou", "▁l", "▁d", "▁c", "▁p", "ay", "▁m", "er", "▁was", "om", "▁he", "im", "is", "ar", "▁T",
	"ll", "▁O", "ing", "▁n", "▁The", "▁Once", "▁upon", "▁time", "▁there", "▁little", "▁girl", "▁day",
}

// Vocab returns n tokens with their scores and types: <unk>, <s>, </s>, the
// 256 byte tokens <0x00>..<0xFF>, common English pieces, then filler
// pieces. n must be at least MinVocab.
func Vocab(n int) (tokens []string, scores []float32, types []int32) {
	tokens = append(tokens, "<unk>", "<s>", "</s>")
	types = append(types, TypeUnknown, TypeControl, TypeControl)
	for b := range 256 {
		tokens = append(tokens, fmt.Sprintf("<0x%02X>", b))
		types = append(types, TypeByte)
	}
	seen := map[string]bool{}
	add := func(p string) {
		if len(tokens) < n && !seen[p] {
			seen[p] = true
			tokens = append(tokens, p)
			types = append(types, TypeNormal)
		}
	}
	for _, p := range commonPieces {
		add(p)
	}
	for i := 0; len(tokens) < n; i++ {
		add("▁" + fillerWord(i))
	}
	tokens = tokens[:n]
	types = types[:n]
	scores = make([]float32, n)
	for i := MinVocab; i < n; i++ {
		scores[i] = -float32(i - MinVocab)
	}
	return tokens, scores, types
}

// Encode stores v as type t: plain little-endian for F32, F16 and BF16,
// ggml's reference quantizer for the block types.
func Encode(t tensor.Type, v []float32) ([]byte, error) {
	switch t {
	case tensor.F32:
		return encodeF32(v), nil
	case tensor.F16, tensor.BF16:
		b := make([]byte, 2*len(v))
		for i, f := range v {
			h := tensor.Float32ToFP16(f)
			if t == tensor.BF16 {
				h = tensor.Float32ToBF16(f)
			}
			binary.LittleEndian.PutUint16(b[2*i:], h)
		}
		return b, nil
	}
	return tensor.Quantize(t, v)
}

// fillerWord spells i+len(letters) in base len(letters): distinct words of
// two or more letters.
func fillerWord(i int) string {
	const letters = "etaoinshrdlucmwfygpbvk"
	var w []byte
	for j := i + len(letters); j > 0; j /= len(letters) {
		w = append(w, letters[j%len(letters)])
	}
	return string(w)
}

func encodeF32(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

func nameHash(s string) uint64 {
	h := fnv.New64a()
	io.WriteString(h, s)
	return h.Sum64()
}
