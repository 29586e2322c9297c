package model

import (
	"errors"
	"fmt"
	"math"

	"github.com/joule-llm/joule/gguf"
)

// Config holds the hyperparameters of a model, read from the GGUF
// metadata under the prefix of its architecture ("llama.", "qwen2.", ...).
type Config struct {
	Arch               string  // general.architecture
	VocabSize          int     // tokens in the vocabulary (rows of token_embd)
	ContextLength      int     // the context the model was trained for
	EmbeddingLength    int     // width of the residual stream
	BlockCount         int     // transformer blocks
	FeedForwardLength  int     // hidden width of the SwiGLU block
	HeadCount          int     // query heads
	HeadCountKV        int     // key/value heads; HeadCount is a multiple of it
	KeyLength          int     // width of one query/key head
	ValueLength        int     // width of one value head
	RMSEpsilon         float32 // added to the mean square in RMSNorm
	AttentionScale     float32 // multiplies q·k: 1/sqrt(KeyLength), or 1 when QueryScale does it
	QueryScale         float32 // multiplies the queries after RoPE; 1 means none
	RopeType           RopeType
	RopeFreqBase       float32 // base of the RoPE frequencies
	RopeFreqScale      float32 // angles are multiplied by this (linear scaling, YaRN's interpolation); 1 means none
	RopeDimensionCount int     // leading dimensions of each head that RoPE rotates

	// YaRN (rope.scaling.type "yarn"), as llama.cpp applies it: pairs
	// turning fast enough keep their unscaled angle, slow ones take the
	// scaled angle, with a linear ramp between, and the cos/sin table is
	// multiplied by 1 + 0.1·ln(1/RopeFreqScale).
	RopeExtFactor    float32 // weight of the unscaled angle along the ramp: 1 with YaRN, 0 without
	RopeAttnFactor   float32 // multiplies the cos/sin table before YaRN's correction; 1 means none
	RopeYarnBetaFast float32 // the ramp starts at pairs turning this many times over RopeOrigContext; 32
	RopeYarnBetaSlow float32 // and ends at pairs turning this many times; 1
	RopeOrigContext  int     // rope.scaling.original_context_length; ContextLength when absent
	RopeLongRope     bool    // rope.scaling.type is "longrope"

	// Gemma.
	EmbedScale   float32 // multiplies the token embeddings; 0 means none
	AttnSoftcap  float32 // attention scores s become cap·tanh(s/cap); 0 means none
	FinalSoftcap float32 // the same for the logits
	// SlidingWindow is how many positions, its own included, a token of
	// a local layer attends to; 0 means every layer is global.
	SlidingWindow int
	// SlidingWindowPattern says which layers use the sliding window (and
	// the local RoPE base and scale): of every SlidingWindowPattern
	// layers all but the last, or all of them when it is 0, as llama.cpp
	// sets them.
	SlidingWindowPattern int
	RopeFreqBaseSWA      float32 // RoPE base of the local layers
	RopeFreqScaleSWA     float32 // and their frequency scale
}

// window returns the sliding window of layer li, 0 for a global layer.
func (c *Config) window(li int) int {
	n := c.SlidingWindowPattern
	if c.SlidingWindow > 0 && (n == 0 || li%n < n-1) {
		return c.SlidingWindow
	}
	return 0
}

// ReadConfig reads the hyperparameters from f's metadata, under the prefix
// of its general.architecture, and checks that they are consistent. It
// fails for an architecture Load does not implement, naming those it
// does. Defaults follow llama.cpp: head_count_kv = head_count, key_length
// = value_length = embedding_length / head_count, rope.freq_base = 10000,
// rope.dimension_count = key_length, rope.scaling.type = "linear" (which
// without rope.scaling.factor scales nothing).
func ReadConfig(f *gguf.File) (Config, error) {
	var c Config
	a, err := f.String("general.architecture")
	if err != nil {
		return c, fmt.Errorf("model: %w", err)
	}
	fam, err := lookupFamily(a)
	if err != nil {
		return c, err
	}
	c.Arch, c.RopeType = a, fam.rope
	p := a + "."
	if n, err := optUint(f, p+"expert_count", 0); err != nil {
		return c, err
	} else if n > 0 {
		return c, fmt.Errorf("model: %sexpert_count = %d: mixture-of-experts models are not supported", p, n)
	}

	required := []struct {
		key string
		dst *int
	}{
		{"context_length", &c.ContextLength},
		{"embedding_length", &c.EmbeddingLength},
		{"block_count", &c.BlockCount},
		{"feed_forward_length", &c.FeedForwardLength},
		{"attention.head_count", &c.HeadCount},
	}
	for _, r := range required {
		if *r.dst, err = reqUint(f, p+r.key); err != nil {
			return c, err
		}
	}
	eps, err := f.Float(p + "attention.layer_norm_rms_epsilon")
	if err != nil {
		return c, fmt.Errorf("model: %w", err)
	}
	c.RMSEpsilon = float32(eps)

	if c.HeadCountKV, err = optUint(f, p+"attention.head_count_kv", c.HeadCount); err != nil {
		return c, err
	}
	if c.HeadCount > 0 && c.EmbeddingLength%c.HeadCount == 0 {
		def := c.EmbeddingLength / c.HeadCount
		if c.KeyLength, err = optUint(f, p+"attention.key_length", def); err != nil {
			return c, err
		}
		if c.ValueLength, err = optUint(f, p+"attention.value_length", def); err != nil {
			return c, err
		}
	} else {
		if c.KeyLength, err = reqUint(f, p+"attention.key_length"); err != nil {
			return c, err
		}
		if c.ValueLength, err = reqUint(f, p+"attention.value_length"); err != nil {
			return c, err
		}
	}
	var scale float64
	if fam.attnScaleKey {
		if scale, err = optFloat(f, p+"attention.scale", 0); err != nil {
			return c, err
		}
	}
	c.AttentionScale, c.QueryScale = float32(scale), 1
	if scale == 0 && c.KeyLength > 0 {
		c.AttentionScale = 1 / float32(math.Sqrt(float64(c.KeyLength)))
	}
	if fam.scaleQ {
		c.QueryScale, c.AttentionScale = c.AttentionScale, 1
	}
	if c.RopeDimensionCount, err = optUint(f, p+"rope.dimension_count", c.KeyLength); err != nil {
		return c, err
	}
	base, err := optFloat(f, p+"rope.freq_base", 10000)
	if err != nil {
		return c, err
	}
	c.RopeFreqBase = float32(base)
	if err := readRopeScaling(f, p, fam, &c); err != nil {
		return c, err
	}
	if c.VocabSize, err = vocabSize(f, p); err != nil {
		return c, err
	}
	if fam.gemma {
		if err := readGemma(f, p, fam, &c); err != nil {
			return c, err
		}
	}
	return c, c.validate()
}

// readRopeScaling reads rope.scaling.* the way llama.cpp sets up its
// context: the type defaults to "linear", the factor f (or the older
// rope.scale_linear) makes the frequency scale 1/f, "none" scales nothing,
// and "yarn" turns on the extrapolation ramp with llama.cpp's defaults
// (beta_fast 32, beta_slow 1) and sets the magnitude factor so that,
// after the rope kernel's own 1 + 0.1·ln(f), the table is scaled by
// about 1 + 0.1·ln(f) once.
func readRopeScaling(f *gguf.File, p string, fam family, c *Config) error {
	typ := "linear"
	if f.Has(p + "rope.scaling.type") {
		var err error
		if typ, err = f.String(p + "rope.scaling.type"); err != nil {
			return fmt.Errorf("model: %w", err)
		}
	}
	factor, err := optFloat(f, p+"rope.scaling.factor", 0)
	if err != nil {
		return err
	}
	if !f.Has(p + "rope.scaling.factor") {
		if factor, err = optFloat(f, p+"rope.scale_linear", 0); err != nil {
			return err
		}
	}
	attn, err := optFloat(f, p+"rope.scaling.attn_factor", 1)
	if err != nil {
		return err
	}
	if c.RopeOrigContext, err = optUint(f, p+"rope.scaling.original_context_length", 0); err != nil {
		return err
	}
	if c.RopeOrigContext == 0 {
		c.RopeOrigContext = c.ContextLength
	}
	c.RopeFreqScale = 1
	if factor != 0 {
		c.RopeFreqScale = 1 / float32(factor)
	}
	c.RopeAttnFactor = 1
	c.RopeYarnBetaFast, c.RopeYarnBetaSlow = 32, 1
	switch typ {
	case "none":
		c.RopeFreqScale = 1
	case "linear":
	case "longrope":
		// The scaling is in the rope_factors_* tensors.
		if !fam.ropeLongShort && !fam.ropeFreqs {
			return fmt.Errorf("model: %srope.scaling.type %q is not supported for %s", p, typ, c.Arch)
		}
		c.RopeLongRope = true
	case "yarn":
		c.RopeExtFactor = 1
		if !(c.RopeFreqScale > 0) {
			break // validate reports it
		}
		// All in float32, as llama.cpp computes it.
		fac := 1 / c.RopeFreqScale
		m := float32(1)
		if fac > 1 {
			m = 0.1*logf(fac) + 1
		}
		c.RopeAttnFactor = m * (1 / (1 + 0.1*logf(fac)))
	default:
		return fmt.Errorf("model: %srope.scaling.type %q is not supported (want none, linear, yarn or longrope)", p, typ)
	}
	c.RopeAttnFactor *= float32(attn)
	return nil
}

// readGemma reads what sets Gemma 2 and 3 apart, as llama.cpp does: the
// embedding scale, the query scale (1/sqrt(embedding_length/head_count)
// for the 27B models, which llama.cpp knows by their block counts, else
// 1/sqrt(key length)), soft-capping and the sliding-window layers.
func readGemma(f *gguf.File, p string, fam family, c *Config) error {
	c.EmbedScale = float32(math.Sqrt(float64(c.EmbeddingLength)))
	qs := c.KeyLength
	if (c.Arch == "gemma2" && c.BlockCount == 46) || (c.Arch == "gemma3" && c.BlockCount == 62) {
		qs = c.EmbeddingLength / c.HeadCount
	}
	c.QueryScale, c.AttentionScale = 1/float32(math.Sqrt(float64(qs))), 1
	var attnCap, finalCap float64
	var err error
	if fam.softcap {
		if attnCap, err = optFloat(f, p+"attn_logit_softcapping", 50); err != nil {
			return err
		}
		if finalCap, err = optFloat(f, p+"final_logit_softcapping", 30); err != nil {
			return err
		}
	} else if finalCap, err = optFloat(f, p+"final_logit_softcapping", 0); err != nil {
		return err
	}
	c.AttnSoftcap, c.FinalSoftcap = float32(attnCap), float32(finalCap)
	if c.SlidingWindow, err = optUint(f, p+"attention.sliding_window", fam.swaDefault); err != nil {
		return err
	}
	if c.SlidingWindow == 0 || fam.swaPattern == 0 {
		c.SlidingWindow = 0
		return nil
	}
	key := p + "attention.sliding_window_pattern"
	if v, ok := f.Value(key); !ok {
		c.SlidingWindowPattern = fam.swaPattern
	} else if local, isArr := v.([]bool); isArr {
		// llama.cpp takes any per-layer list; Config holds a pattern.
		if c.SlidingWindowPattern, err = patternOf(local, c.BlockCount); err != nil {
			return fmt.Errorf("model: %s: %w", key, err)
		}
	} else if c.SlidingWindowPattern, err = reqUint(f, key); err != nil {
		return err
	}
	c.RopeFreqBaseSWA, c.RopeFreqScaleSWA = 10000, 1
	if fam.swaRopeGlobal {
		c.RopeFreqBaseSWA, c.RopeFreqScaleSWA = c.RopeFreqBase, c.RopeFreqScale
	}
	base, err := optFloat(f, p+"rope.freq_base_swa", float64(c.RopeFreqBaseSWA))
	if err != nil {
		return err
	}
	c.RopeFreqBaseSWA = float32(base)
	if !(c.RopeFreqBaseSWA > 0) {
		return fmt.Errorf("model: %srope.freq_base_swa %g must be positive", p, c.RopeFreqBaseSWA)
	}
	return nil
}

// patternOf returns the pattern n whose local layers are those local
// marks, the smallest that fits.
func patternOf(local []bool, layers int) (int, error) {
	if len(local) != layers {
		return 0, fmt.Errorf("%d values for %d layers", len(local), layers)
	}
	for n := 0; n <= layers+1; n++ {
		ok := true
		for i, l := range local {
			if l != (n == 0 || i%n < n-1) {
				ok = false
				break
			}
		}
		if ok {
			return n, nil
		}
	}
	return 0, fmt.Errorf("the local layers %v follow no pattern of every n layers all but the last", local)
}

func logf(x float32) float32 { return float32(math.Log(float64(x))) }

func (c Config) validate() error {
	positive := []struct {
		name string
		v    int
	}{
		{"vocab size", c.VocabSize},
		{"context_length", c.ContextLength},
		{"embedding_length", c.EmbeddingLength},
		{"block_count", c.BlockCount},
		{"feed_forward_length", c.FeedForwardLength},
		{"attention.head_count", c.HeadCount},
		{"attention.head_count_kv", c.HeadCountKV},
		{"attention.key_length", c.KeyLength},
		{"attention.value_length", c.ValueLength},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return fmt.Errorf("model: %s is %d, must be positive", p.name, p.v)
		}
	}
	if c.HeadCount%c.HeadCountKV != 0 {
		return fmt.Errorf("model: attention.head_count %d is not a multiple of attention.head_count_kv %d", c.HeadCount, c.HeadCountKV)
	}
	if c.RopeDimensionCount < 0 || c.RopeDimensionCount > c.KeyLength || c.RopeDimensionCount%2 != 0 {
		return fmt.Errorf("model: rope.dimension_count %d must be even and at most the key length %d", c.RopeDimensionCount, c.KeyLength)
	}
	if !(c.RMSEpsilon >= 0) {
		return fmt.Errorf("model: attention.layer_norm_rms_epsilon %g is invalid", c.RMSEpsilon)
	}
	if !(c.RopeFreqBase > 0) {
		return fmt.Errorf("model: rope.freq_base %g must be positive", c.RopeFreqBase)
	}
	if !(c.RopeFreqScale > 0) {
		return fmt.Errorf("model: rope frequency scale %g must be positive", c.RopeFreqScale)
	}
	if !(c.RopeAttnFactor > 0) || math.IsInf(float64(c.RopeAttnFactor), 0) {
		return fmt.Errorf("model: rope.scaling.attn_factor gives a table scale of %g", c.RopeAttnFactor)
	}
	if c.RopeOrigContext <= 0 {
		return fmt.Errorf("model: rope.scaling.original_context_length %d must be positive", c.RopeOrigContext)
	}
	return nil
}

// vocabSize follows llama.cpp: the explicit key if present, else the
// tokenizer's token list; Load checks it against token_embd.
func vocabSize(f *gguf.File, p string) (int, error) {
	if f.Has(p + "vocab_size") {
		return reqUint(f, p+"vocab_size")
	}
	if f.Has("tokenizer.ggml.tokens") {
		toks, err := f.Strings("tokenizer.ggml.tokens")
		if err != nil {
			return 0, fmt.Errorf("model: %w", err)
		}
		return len(toks), nil
	}
	if t, ok := f.Tensor("token_embd.weight"); ok && len(t.Dims) == 2 {
		return int(t.Dims[1]), nil
	}
	return 0, fmt.Errorf("model: no vocabulary size: none of %svocab_size, tokenizer.ggml.tokens, token_embd.weight", p)
}

func reqUint(f *gguf.File, key string) (int, error) {
	v, err := f.Uint(key)
	if err != nil {
		return 0, fmt.Errorf("model: %w", err)
	}
	if v > 1<<31 {
		return 0, fmt.Errorf("model: %s = %d is too large", key, v)
	}
	return int(v), nil
}

func optUint(f *gguf.File, key string, def int) (int, error) {
	n, err := reqUint(f, key)
	if errors.Is(err, gguf.ErrKeyNotFound) {
		return def, nil
	}
	return n, err
}

func optFloat(f *gguf.File, key string, def float64) (float64, error) {
	v, err := f.Float(key)
	if errors.Is(err, gguf.ErrKeyNotFound) {
		return def, nil
	}
	if err != nil {
		return 0, fmt.Errorf("model: %w", err)
	}
	return v, nil
}
