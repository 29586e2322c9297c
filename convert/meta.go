package convert

import (
	"fmt"
	"math"
	"strings"

	"github.com/joule-llm/joule/tensor"
)

// modelMeta returns the general.* and {arch}.* metadata.
func modelMeta(h hparams, a arch, d dims, name string, ftype uint32) ([]kv, error) {
	p := a.name + "."
	u := func(n int) uint32 { return uint32(n) }
	ctx, err := intOr(h, a.defContext, "max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length", "model_max_length")
	if err != nil {
		return nil, err
	}
	meta := []kv{
		{"general.architecture", a.name},
		{"general.type", "model"},
		{"general.name", name},
		{p + "block_count", u(d.blocks)},
		{p + "context_length", u(ctx)},
		{p + "embedding_length", u(d.embd)},
		{p + "feed_forward_length", u(d.ff)},
		{p + "attention.head_count", u(d.heads)},
		{p + "attention.head_count_kv", u(d.kvHeads)},
	}
	rp := h.ropeParams()
	scaling, err := ropeScaling(p, rp)
	if err != nil {
		return nil, err
	}
	meta = append(meta, scaling...)
	theta := 10000.0 // the transformers default of all four architectures
	if v, ok := rp["rope_theta"]; ok && v != nil {
		if theta, err = asFloat(v); err != nil {
			return nil, fmt.Errorf("convert: config.json: rope_theta: %w", err)
		}
	}
	meta = append(meta, kv{p + "rope.freq_base", float32(theta)})
	eps := 1e-6 // likewise
	if v, ok, err := h.number("rms_norm_eps", "norm_eps"); err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	} else if ok {
		eps = v
	}
	meta = append(meta, kv{p + "attention.layer_norm_rms_epsilon", float32(eps)})
	if _, explicit := h["head_dim"]; explicit || a.hasHeadDim {
		meta = append(meta, kv{p + "attention.key_length", u(d.headDim)}, kv{p + "attention.value_length", u(d.headDim)})
	}
	meta = append(meta, kv{"general.file_type", ftype})
	if a.llamaKeys {
		meta = append(meta, kv{p + "vocab_size", u(d.vocab)}, kv{p + "rope.dimension_count", u(d.headDim)})
	}
	meta = append(meta, kv{"general.quantization_version", uint32(2)})
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
