package convert

import (
	"fmt"
	"math"
	"strings"

	"github.com/joule-llm/joule/tensor"
)

// metaFunc returns an architecture's {arch}.* metadata.
type metaFunc func(h hparams, a arch, d dims) ([]kv, error)

// generalMeta wraps the {arch}.* metadata in the general.* keys.
func generalMeta(h hparams, a arch, d dims, name string, ftype uint32) ([]kv, error) {
	meta := []kv{
		{"general.architecture", a.name},
		{"general.type", "model"},
		{"general.name", name},
	}
	archMeta, err := a.meta(h, a, d)
	if err != nil {
		return nil, err
	}
	meta = append(meta, archMeta...)
	return append(meta, kv{"general.file_type", ftype}, kv{"general.quantization_version", uint32(2)}), nil
}

// contextLength reads the trained context length, or a's default.
func contextLength(h hparams, a arch) (int, error) {
	return intOr(h, a.defContext, "max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length", "model_max_length")
}

// floatOr returns the first of keys present, or def.
func floatOr(h hparams, def float64, keys ...string) (float64, error) {
	v, ok, err := h.number(keys...)
	if err != nil {
		return 0, fmt.Errorf("convert: %w", err)
	}
	if !ok {
		return def, nil
	}
	return v, nil
}

// sizeMeta returns the sizes every architecture writes.
func sizeMeta(p string, d dims, ctx int) []kv {
	u := func(n int) uint32 { return uint32(n) }
	return []kv{
		{p + "block_count", u(d.blocks)},
		{p + "context_length", u(ctx)},
		{p + "embedding_length", u(d.embd)},
		{p + "feed_forward_length", u(d.ff)},
		{p + "attention.head_count", u(d.heads)},
		{p + "attention.head_count_kv", u(d.kvHeads)},
	}
}

// modelMeta is the metadata of llama, qwen2 and qwen3, as llama.cpp's
// generic conversion writes it.
func modelMeta(h hparams, a arch, d dims) ([]kv, error) {
	p := a.name + "."
	u := func(n int) uint32 { return uint32(n) }
	ctx, err := contextLength(h, a)
	if err != nil {
		return nil, err
	}
	meta := sizeMeta(p, d, ctx)
	rp := h.ropeParams()
	scaling, err := ropeScaling(p, rp)
	if err != nil {
		return nil, err
	}
	meta = append(meta, scaling...)
	theta, err := ropeTheta(rp, 10000) // the transformers default of all four architectures
	if err != nil {
		return nil, err
	}
	meta = append(meta, kv{p + "rope.freq_base", float32(theta)})
	eps, err := floatOr(h, 1e-6, "rms_norm_eps", "norm_eps") // likewise
	if err != nil {
		return nil, err
	}
	meta = append(meta, kv{p + "attention.layer_norm_rms_epsilon", float32(eps)})
	if _, explicit := h["head_dim"]; explicit || a.hasHeadDim {
		meta = append(meta, kv{p + "attention.key_length", u(d.headDim)}, kv{p + "attention.value_length", u(d.headDim)})
	}
	if a.llamaKeys {
		meta = append(meta, kv{p + "vocab_size", u(d.vocab)}, kv{p + "rope.dimension_count", u(d.headDim)})
	}
	return meta, nil
}

// ropeTheta is the rope_theta of the RoPE parameters rp, or def where it
// is absent or null.
func ropeTheta(rp map[string]any, def float64) (float64, error) {
	v, ok := rp["rope_theta"]
	if !ok || v == nil {
		return def, nil
	}
	f, err := asFloat(v)
	if err != nil {
		return 0, fmt.Errorf("convert: config.json: rope_theta: %w", err)
	}
	return f, nil
}

// phi3Meta is llama.cpp's Phi-3 metadata: the sizes, the RoPE base and
// the rotated dimensions (partial_rotary_factor of each head), the
// original context length that the LongRoPE factors switch on, and the
// sliding window (0 when there is none, which tells Phi-4 apart). When
// the configuration has LongRoPE factors, rope.scaling.attn_factor is the
// magnitude correction of the scaled context.
func phi3Meta(h hparams, a arch, d dims) ([]kv, error) {
	p := a.name + "."
	ctx, err := contextLength(h, a)
	if err != nil {
		return nil, err
	}
	meta := sizeMeta(p, d, ctx)
	rp := h.ropeParams()
	orig, err := phi3OrigContext(h, rp)
	if err != nil {
		return nil, err
	}
	eps, err := floatOr(h, 1e-5, "rms_norm_eps") // Phi3Config's default
	if err != nil {
		return nil, err
	}
	theta, err := ropeTheta(rp, 10000)
	if err != nil {
		return nil, err
	}
	ropeDims, err := phi3RopeDims(h, rp, d)
	if err != nil {
		return nil, err
	}
	window, err := intOr(h, 0, "sliding_window")
	if err != nil {
		return nil, err
	}
	meta = append(meta,
		kv{p + "rope.scaling.original_context_length", uint32(orig)},
		kv{p + "attention.layer_norm_rms_epsilon", float32(eps)},
		kv{p + "rope.dimension_count", uint32(ropeDims)},
		kv{p + "rope.freq_base", float32(theta)},
		kv{p + "attention.sliding_window", uint32(window)},
	)
	lr, err := phi3LongRope(h, a, rp, d)
	if err != nil || lr == nil {
		return meta, err
	}
	return append(meta, kv{p + "rope.scaling.attn_factor", float32(lr.attnFactor)}), nil
}

// phi3OrigContext is original_max_position_embeddings, 4096 by
// Phi3Config's default.
func phi3OrigContext(h hparams, rp map[string]any) (int, error) {
	if v, ok := rp["original_max_position_embeddings"]; ok && v != nil {
		n, err := asInt(v)
		if err != nil {
			return 0, fmt.Errorf("convert: config.json: original_max_position_embeddings: %w", err)
		}
		return n, nil
	}
	return intOr(h, 4096, "original_max_position_embeddings")
}

// phi3RopeDims is int(partial_rotary_factor · hidden_size) / heads.
func phi3RopeDims(h hparams, rp map[string]any, d dims) (int, error) {
	pct := 1.0
	if v, ok := rp["partial_rotary_factor"]; ok && v != nil {
		var err error
		if pct, err = asFloat(v); err != nil {
			return 0, fmt.Errorf("convert: config.json: partial_rotary_factor: %w", err)
		}
	} else if v, ok, err := h.number("partial_rotary_factor"); err != nil {
		return 0, fmt.Errorf("convert: %w", err)
	} else if ok {
		pct = v
	}
	n := int(pct*float64(d.embd)) / d.heads
	if !(pct > 0 && pct <= 1) || n%2 != 0 || n > d.headDim {
		return 0, fmt.Errorf("convert: config.json: partial_rotary_factor %g rotates %d dimensions of heads of %d", pct, n, d.headDim)
	}
	return n, nil
}

// longRope is Phi-3's LongRoPE scaling: per-pair divisors of the RoPE
// frequencies for short and long contexts, and the attention factor.
type longRope struct {
	short, long []float32
	attnFactor  float64
}

// phi3LongRope reads the long_factor and short_factor lists of the rope
// scaling, nil if there are none, and computes the attention factor as
// llama.cpp does: sqrt(1 + ln(s)/ln(original context)) for "longrope"
// (or "su"), 0.1·ln(s) + 1 for "yarn", where s is the context length over
// the original one, and 1 when s ≤ 1.
func phi3LongRope(h hparams, a arch, rp map[string]any, d dims) (*longRope, error) {
	long, ok := rp["long_factor"].([]any)
	if !ok || len(long) == 0 {
		return nil, nil
	}
	short, _ := rp["short_factor"].([]any)
	ctx, err := contextLength(h, a)
	if err != nil {
		return nil, err
	}
	orig, err := phi3OrigContext(h, rp)
	if err != nil {
		return nil, err
	}
	ropeDims, err := phi3RopeDims(h, rp, d)
	if err != nil {
		return nil, err
	}
	if orig == 0 {
		return nil, fmt.Errorf("convert: config.json: original_max_position_embeddings is 0")
	}
	scale := float64(ctx) / float64(orig)
	typ, _ := rp["rope_type"].(string)
	lr := &longRope{attnFactor: 1}
	switch strings.ToLower(typ) {
	case "su", "longrope":
		if scale > 1 {
			lr.attnFactor = math.Sqrt(1 + math.Log(scale)/math.Log(float64(orig)))
		}
	case "yarn":
		if scale > 1 {
			lr.attnFactor = 0.1*math.Log(scale) + 1
		}
	case "":
		return nil, fmt.Errorf("convert: config.json: rope scaling with long_factor but no type")
	default:
		return nil, fmt.Errorf("convert: config.json: Phi-3 rope scaling type %q is not supported (longrope, su, yarn)", typ)
	}
	if len(long) != len(short) || len(long) != ropeDims/2 {
		return nil, fmt.Errorf("convert: config.json: %d long and %d short rope factors, want %d each", len(long), len(short), ropeDims/2)
	}
	for _, list := range []struct {
		src []any
		dst *[]float32
	}{{long, &lr.long}, {short, &lr.short}} {
		for i, v := range list.src {
			f, err := asFloat(v)
			if err != nil {
				return nil, fmt.Errorf("convert: config.json: rope factor %d: %w", i, err)
			}
			*list.dst = append(*list.dst, float32(f))
		}
	}
	return lr, nil
}

// gemmaAttention is the RMSNorm epsilon (Gemma's default 1e-6) and the
// key and value head sizes that Gemma 2 and 3 both write.
func gemmaAttention(h hparams, p string, d dims) ([]kv, error) {
	eps, err := floatOr(h, 1e-6, "rms_norm_eps")
	if err != nil {
		return nil, err
	}
	return []kv{
		{p + "attention.layer_norm_rms_epsilon", float32(eps)},
		{p + "attention.key_length", uint32(d.headDim)},
		{p + "attention.value_length", uint32(d.headDim)},
	}, nil
}

// gemma2Meta is llama.cpp's Gemma 2 metadata: the sizes, head size,
// soft-capping of attention scores and logits, and the sliding window.
// It writes no RoPE base: Gemma 2 uses 10000, llama.cpp's default.
func gemma2Meta(h hparams, a arch, d dims) ([]kv, error) {
	p := a.name + "."
	ctx, err := contextLength(h, a)
	if err != nil {
		return nil, err
	}
	meta := sizeMeta(p, d, ctx)
	attn, err := gemmaAttention(h, p, d)
	if err != nil {
		return nil, err
	}
	meta = append(meta, attn...)
	// Gemma2Config's defaults; a null cap turns capping off.
	for _, c := range []struct {
		key string
		def float64
	}{{"attn_logit_softcapping", 50}, {"final_logit_softcapping", 30}} {
		if v, ok := h[c.key]; ok && v == nil {
			continue
		}
		f, err := floatOr(h, c.def, c.key)
		if err != nil {
			return nil, err
		}
		meta = append(meta, kv{p + c.key, float32(f)})
	}
	window, err := intOr(h, 4096, "sliding_window")
	if err != nil {
		return nil, err
	}
	return append(meta, kv{p + "attention.sliding_window", uint32(window)}), nil
}

// gemma3Meta is llama.cpp's Gemma 3 metadata: the generic keys (RoPE
// scaling of the global layers, the local layers' base from
// rope_local_base_freq) with Gemma3TextConfig's defaults, the final
// soft-cap when there is one, and the sliding window unless every layer
// is global (sliding_window_pattern 1).
func gemma3Meta(h hparams, a arch, d dims) ([]kv, error) {
	p := a.name + "."
	ctx, err := contextLength(h, a)
	if err != nil {
		return nil, err
	}
	meta := sizeMeta(p, d, ctx)
	// Newer configurations give rope_parameters per attention type.
	all, _ := h["rope_parameters"].(map[string]any)
	global, _ := all["full_attention"].(map[string]any)
	local, _ := all["sliding_attention"].(map[string]any)
	if global == nil {
		global = h.ropeParams()
	}
	scaling, err := ropeScaling(p, global)
	if err != nil {
		return nil, err
	}
	meta = append(meta, scaling...)
	theta, err := ropeTheta(global, 1e6)
	if err != nil {
		return nil, err
	}
	meta = append(meta, kv{p + "rope.freq_base", float32(theta)})
	var localTheta any
	if local != nil {
		localTheta = local["rope_theta"]
	} else if _, v, ok := h.find("local_rope_theta", "rope_local_theta", "rope_theta_local", "swa_rope_theta", "rope_local_base_freq"); ok {
		localTheta = v
	}
	if localTheta != nil {
		f, err := asFloat(localTheta)
		if err != nil {
			return nil, fmt.Errorf("convert: config.json: local RoPE base: %w", err)
		}
		meta = append(meta, kv{p + "rope.freq_base_swa", float32(f)})
	}
	attn, err := gemmaAttention(h, p, d)
	if err != nil {
		return nil, err
	}
	meta = append(meta, attn...)
	if v, ok := h["attn_logit_softcapping"]; ok && v != nil {
		return nil, fmt.Errorf("convert: config.json: attn_logit_softcapping is set; Gemma 3 has none")
	}
	if capping, err := floatOr(h, 0, "final_logit_softcapping"); err != nil {
		return nil, err
	} else if capping != 0 {
		meta = append(meta, kv{p + "final_logit_softcapping", float32(capping)})
	}
	if pattern, ok, err := h.integer("sliding_window_pattern"); err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	} else if !ok || pattern != 1 {
		window, err := intOr(h, 4096, "sliding_window")
		if err != nil {
			return nil, err
		}
		meta = append(meta, kv{p + "attention.sliding_window", uint32(window)})
	}
	return meta, nil
}

// ropeScaling returns the rope.scaling.* keys: linear and YaRN scaling as
// llama.cpp writes them. Llama 3's scaling is a tensor (ropeFreqs);
// "default" is none. Other kinds are refused rather than dropped.
func ropeScaling(p string, rp map[string]any) ([]kv, error) {
	typ, _ := rp["rope_type"].(string)
	num := func(key string) (float64, bool, error) {
		v, ok := rp[key]
		if !ok || v == nil {
			return 0, false, nil
		}
		f, err := asFloat(v)
		if err != nil {
			return 0, false, fmt.Errorf("convert: config.json: rope scaling %s: %w", key, err)
		}
		return f, true, nil
	}
	factor, hasFactor, err := num("factor")
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(typ) {
	case "", "default", "llama3":
		return nil, nil
	case "linear":
		if !hasFactor {
			return nil, nil
		}
		return []kv{{p + "rope.scaling.type", "linear"}, {p + "rope.scaling.factor", float32(factor)}}, nil
	case "yarn":
		if !hasFactor {
			return nil, nil
		}
		orig, ok := rp["original_max_position_embeddings"]
		if !ok {
			return nil, fmt.Errorf("convert: config.json: YaRN rope scaling without original_max_position_embeddings")
		}
		n, err := asInt(orig)
		if err != nil {
			return nil, fmt.Errorf("convert: config.json: original_max_position_embeddings: %w", err)
		}
		out := []kv{
			{p + "rope.scaling.type", "yarn"},
			{p + "rope.scaling.factor", float32(factor)},
			{p + "rope.scaling.original_context_length", uint32(n)},
		}
		for _, o := range []struct{ keys, gguf string }{
			{"extrapolation_factor", "yarn_ext_factor"},
			{"attention_factor attn_factor", "yarn_attn_factor"},
			{"beta_fast", "yarn_beta_fast"},
			{"beta_slow", "yarn_beta_slow"},
		} {
			for _, k := range strings.Fields(o.keys) {
				v, ok, err := num(k)
				if err != nil {
					return nil, err
				}
				if ok {
					out = append(out, kv{p + "rope.scaling." + o.gguf, float32(v)})
					break
				}
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("convert: config.json: rope scaling type %q is not supported (default, linear, yarn, llama3)", typ)
}

// ropeFreqs returns the rope_freqs.weight tensor that stands for Llama 3's
// RoPE frequency smoothing in llama.cpp's "llama" architecture: one factor
// per rotated pair, 1 for high frequencies, factor for low ones, and a
// smooth blend between. It is computed in float32 as llama.cpp's converter
// does (its float32 pow may differ from this one in the last bit).
func ropeFreqs(h hparams, a arch, d dims) ([]*job, error) {
	rp := h.ropeParams()
	if typ, _ := rp["rope_type"].(string); !strings.EqualFold(typ, "llama3") || a.name != "llama" {
		return nil, nil
	}
	get := func(key string, def float64) (float64, error) {
		v, ok := rp[key]
		if !ok || v == nil {
			return def, nil
		}
		f, err := asFloat(v)
		if err != nil {
			return 0, fmt.Errorf("convert: config.json: rope scaling %s: %w", key, err)
		}
		return f, nil
	}
	var vals [5]float64
	for i, k := range []struct {
		key string
		def float64
	}{{"rope_theta", 10000}, {"factor", 8}, {"low_freq_factor", 1}, {"high_freq_factor", 4}, {"original_max_position_embeddings", 8192}} {
		var err error
		if vals[i], err = get(k.key, k.def); err != nil {
			return nil, err
		}
	}
	if v, ok, err := h.number("original_max_position_embeddings"); err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	} else if ok {
		vals[4] = v
	}
	base, factor, low, high, orig := float32(vals[0]), float32(vals[1]), float32(vals[2]), float32(vals[3]), float32(vals[4])
	if high == low {
		return nil, fmt.Errorf("convert: config.json: llama3 rope scaling with low_freq_factor = high_freq_factor = %g", low)
	}
	lowWavelen, highWavelen := orig/low, orig/high
	n := d.headDim / 2
	data := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		exp := float32(2*i) / float32(d.headDim)
		freq := 1 / float32(math.Pow(float64(base), float64(exp)))
		wavelen := float32(2*math.Pi) / freq
		var f float32
		switch {
		case wavelen < highWavelen:
			f = 1
		case wavelen > lowWavelen:
			f = factor
		default:
			smooth := (orig/wavelen - low) / (high - low)
			f = 1 / ((1-smooth)/factor + smooth)
		}
		putF32(data[4*i:], f)
	}
	return []*job{{name: "rope_freqs.weight", shape: []uint64{uint64(n)}, typ: tensor.F32, direct: data}}, nil
}
