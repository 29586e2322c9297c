package model

import (
	"errors"
	"fmt"
	"math"

	"github.com/joule-llm/joule/gguf"
)

// Config holds the hyperparameters of a llama model, read from the GGUF
// metadata under the "llama." prefix.
type Config struct {
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
	AttentionScale     float32 // multiplies q·k; 1/sqrt(KeyLength) unless the file sets attention.scale
	RopeFreqBase       float32 // base of the RoPE frequencies
	RopeFreqScale      float32 // positions are multiplied by this (linear RoPE scaling); 1 means none
	RopeDimensionCount int     // leading dimensions of each head that RoPE rotates
}

const arch = "llama"

// ReadConfig reads the llama hyperparameters from f's metadata and checks
// that they are consistent. Defaults follow llama.cpp: head_count_kv =
// head_count, key_length = value_length = embedding_length / head_count,
// attention.scale = 1/sqrt(key_length), rope.freq_base = 10000,
// rope.dimension_count = key_length.
func ReadConfig(f *gguf.File) (Config, error) {
	var c Config
	a, err := f.String("general.architecture")
	if err != nil {
		return c, fmt.Errorf("model: %w", err)
	}
	if a != arch {
		return c, fmt.Errorf("model: architecture %q is not supported (want %q)", a, arch)
	}
	if n, err := optUint(f, arch+".expert_count", 0); err != nil {
		return c, err
	} else if n > 0 {
		return c, fmt.Errorf("model: %s.expert_count = %d: mixture-of-experts models are not supported", arch, n)
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
		if *r.dst, err = reqUint(f, arch+"."+r.key); err != nil {
			return c, err
		}
	}
	eps, err := f.Float(arch + ".attention.layer_norm_rms_epsilon")
	if err != nil {
		return c, fmt.Errorf("model: %w", err)
	}
	c.RMSEpsilon = float32(eps)

	if c.HeadCountKV, err = optUint(f, arch+".attention.head_count_kv", c.HeadCount); err != nil {
		return c, err
	}
	if c.HeadCount > 0 && c.EmbeddingLength%c.HeadCount == 0 {
		def := c.EmbeddingLength / c.HeadCount
		if c.KeyLength, err = optUint(f, arch+".attention.key_length", def); err != nil {
			return c, err
		}
		if c.ValueLength, err = optUint(f, arch+".attention.value_length", def); err != nil {
			return c, err
		}
	} else {
		if c.KeyLength, err = reqUint(f, arch+".attention.key_length"); err != nil {
			return c, err
		}
		if c.ValueLength, err = reqUint(f, arch+".attention.value_length"); err != nil {
			return c, err
		}
	}
	scale, err := optFloat(f, arch+".attention.scale", 0)
	if err != nil {
		return c, err
	}
	c.AttentionScale = float32(scale)
	if scale == 0 && c.KeyLength > 0 {
		c.AttentionScale = 1 / float32(math.Sqrt(float64(c.KeyLength)))
	}
	if c.RopeDimensionCount, err = optUint(f, arch+".rope.dimension_count", c.KeyLength); err != nil {
		return c, err
	}
	base, err := optFloat(f, arch+".rope.freq_base", 10000)
	if err != nil {
		return c, err
	}
	c.RopeFreqBase = float32(base)
	if c.RopeFreqScale, err = ropeScale(f); err != nil {
		return c, err
	}
	if c.VocabSize, err = vocabSize(f); err != nil {
		return c, err
	}
	return c, c.validate()
}

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
	return nil
}

// vocabSize follows llama.cpp: the explicit key if present, else the
// tokenizer's token list; Load checks it against token_embd.
func vocabSize(f *gguf.File) (int, error) {
	if f.Has(arch + ".vocab_size") {
		return reqUint(f, arch+".vocab_size")
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
	return 0, fmt.Errorf("model: no vocabulary size: none of %s.vocab_size, tokenizer.ggml.tokens, token_embd.weight", arch)
}

// ropeScale returns the linear position scale. Only the scaling llama.cpp
// applies without extra parameters (none, linear) is supported.
func ropeScale(f *gguf.File) (float32, error) {
	typ := "none"
	if f.Has(arch + ".rope.scaling.type") {
		var err error
		if typ, err = f.String(arch + ".rope.scaling.type"); err != nil {
			return 0, fmt.Errorf("model: %w", err)
		}
	}
	factor, err := optFloat(f, arch+".rope.scaling.factor", 0)
	if err != nil {
		return 0, err
	}
	if factor == 0 {
		// The older key, used before rope.scaling.* existed.
		if factor, err = optFloat(f, arch+".rope.scale_linear", 0); err != nil {
			return 0, err
		}
	}
	switch typ {
	case "none":
		return 1, nil
	case "linear":
		if factor <= 0 || factor == 1 {
			return 1, nil
		}
		return float32(1 / factor), nil
	}
	return 0, fmt.Errorf("model: %s.rope.scaling.type %q is not supported", arch, typ)
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
