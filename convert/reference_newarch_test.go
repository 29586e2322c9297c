package convert

import (
	"math"
	"testing"

	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/safetensors"
	"github.com/joule-llm/joule/tensor"
)

// refConfig reads what the reference forward passes need of a config.
type refConfig struct{ c map[string]any }

func (r refConfig) num(key string, def float64) float64 {
	switch v := r.c[key].(type) {
	case float64:
		return v
	case int:
		return float64(v)
	}
	return def
}

// hfForwardPhiGemma computes the logits of every position as the Hugging
// Face implementations of Phi-3, Gemma 2 and Gemma 3 do, in float64, from
// the Hugging Face weights:
//
//   - Phi-3: fused qkv_proj and gate_up_proj (gate rows first), partial
//     half-split RoPE, LongRoPE frequency divisors and attention factor
//     (the long ones when the context is longer than the original, the
//     rule llama.cpp applies for the whole context).
//   - Gemma 2/3: RMSNorms that multiply by 1 + w, norms after the
//     attention and the feed-forward network, embeddings scaled by
//     sqrt(hidden_size), queries by query_pre_attn_scalar^-1/2, GELU
//     (tanh) gating, soft-capping, sliding-window layers (Gemma 2: even
//     layers; Gemma 3: all but every sliding_window_pattern-th) with
//     their own RoPE base (Gemma 3), linear RoPE scaling of the global
//     layers, and per-head q/k norms (Gemma 3).
func hfForwardPhiGemma(m *hfModel, s sizes, arch string, tokens []int) [][]float64 {
	cfg := refConfig{m.config}
	w := m.weight
	gemma := arch != "phi3"
	eps := cfg.num("rms_norm_eps", 1e-6)
	d := s.headDim
	norm := func(x, g []float64) []float64 {
		var ss float64
		for _, v := range x {
			ss += v * v
		}
		r := 1 / math.Sqrt(ss/float64(len(x))+eps)
		out := make([]float64, len(x))
		for i, v := range x {
			if gemma {
				out[i] = v * r * (1 + g[i])
			} else {
				out[i] = v * r * g[i]
			}
		}
		return out
	}
	matvec := func(wt []float64, x []float64) []float64 {
		out := make([]float64, len(wt)/len(x))
		for r := range out {
			for c, v := range x {
				out[r] += wt[r*len(x)+c] * v
			}
		}
		return out
	}
	// A rotary embedding: inverse frequencies of the rotated dimensions,
	// a position scale and a factor on cos and sin.
	type rotary struct {
		inv      []float64
		posScale float64
		mscale   float64
	}
	newRotary := func(base float64, dims int) rotary {
		r := rotary{inv: make([]float64, dims/2), posScale: 1, mscale: 1}
		for i := range r.inv {
			r.inv[i] = 1 / math.Pow(base, float64(2*i)/float64(dims))
		}
		return r
	}
	apply := func(r rotary, v []float64, pos int) {
		n := 2 * len(r.inv)
		for h := 0; h < len(v)/d; h++ {
			for i := 0; i < n/2; i++ {
				a, b := h*d+i, h*d+i+n/2
				sn, cs := math.Sincos(float64(pos) * r.posScale * r.inv[i])
				sn, cs = sn*r.mscale, cs*r.mscale
				v[a], v[b] = v[a]*cs-v[b]*sn, v[a]*sn+v[b]*cs
			}
		}
	}
	var global, local rotary
	pattern, window := 0, 0
	var attnCap, finalCap float64
	switch arch {
	case "phi3":
		rotDims := int(cfg.num("partial_rotary_factor", 1) * float64(d))
		global = newRotary(cfg.num("rope_theta", 10000), rotDims)
		if rs, ok := m.config["rope_scaling"].(map[string]any); ok {
			ctx, orig := cfg.num("max_position_embeddings", 0), cfg.num("original_max_position_embeddings", 0)
			factors := rs["short_factor"].([]float64)
			if ctx > orig {
				factors = rs["long_factor"].([]float64)
			}
			for i := range global.inv {
				global.inv[i] /= factors[i]
			}
			if scale := ctx / orig; scale > 1 {
				global.mscale = math.Sqrt(1 + math.Log(scale)/math.Log(orig))
			}
		}
	case "gemma2":
		global = newRotary(cfg.num("rope_theta", 10000), d)
		local = global
		pattern, window = 2, int(cfg.num("sliding_window", 4096))
		attnCap, finalCap = cfg.num("attn_logit_softcapping", 0), cfg.num("final_logit_softcapping", 0)
	case "gemma3":
		global = newRotary(cfg.num("rope_theta", 1e6), d)
		if rs, ok := m.config["rope_scaling"].(map[string]any); ok {
			global.posScale = 1 / rs["factor"].(float64)
		}
		local = newRotary(cfg.num("rope_local_base_freq", 10000), d)
		pattern, window = int(cfg.num("sliding_window_pattern", 6)), int(cfg.num("sliding_window", 4096))
		finalCap = cfg.num("final_logit_softcapping", 0)
	}
	qScale := 1 / math.Sqrt(float64(d))
	if gemma {
		qScale = 1 / math.Sqrt(cfg.num("query_pre_attn_scalar", float64(d)))
	}
	softcap := func(x, c float64) float64 {
		if c == 0 {
			return x
		}
		return c * math.Tanh(x/c)
	}
	gelu := func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}
	silu := func(x float64) float64 { return x / (1 + math.Exp(-x)) }

	embed := w("model.embed_tokens.weight")
	xs := make([][]float64, len(tokens))
	for p, tok := range tokens {
		xs[p] = append([]float64(nil), embed[tok*s.embd:(tok+1)*s.embd]...)
		if gemma {
			for i := range xs[p] {
				xs[p][i] *= math.Sqrt(float64(s.embd))
			}
		}
	}
	qDim, kvDim := s.heads*d, s.kvHeads*d
	for b := 0; b < s.blocks; b++ {
		pre := "model.layers." + itoa(b) + "."
		sliding := pattern > 0 && (b+1)%pattern != 0
		rot := global
		if sliding && arch == "gemma3" {
			rot = local
		}
		qs, ks, vs := make([][]float64, len(tokens)), make([][]float64, len(tokens)), make([][]float64, len(tokens))
		for p := range tokens {
			h := norm(xs[p], w(pre+"input_layernorm.weight"))
			var q, k, v []float64
			if arch == "phi3" {
				qkv := matvec(w(pre+"self_attn.qkv_proj.weight"), h)
				q, k, v = qkv[:qDim], qkv[qDim:qDim+kvDim], qkv[qDim+kvDim:]
			} else {
				q = matvec(w(pre+"self_attn.q_proj.weight"), h)
				k = matvec(w(pre+"self_attn.k_proj.weight"), h)
				v = matvec(w(pre+"self_attn.v_proj.weight"), h)
			}
			if qn := w(pre + "self_attn.q_norm.weight"); qn != nil {
				kn := w(pre + "self_attn.k_norm.weight")
				for i := 0; i < len(q); i += d {
					copy(q[i:i+d], norm(q[i:i+d], qn))
				}
				for i := 0; i < len(k); i += d {
					copy(k[i:i+d], norm(k[i:i+d], kn))
				}
			}
			apply(rot, q, p)
			apply(rot, k, p)
			qs[p], ks[p], vs[p] = q, k, v
		}
		for p := range tokens {
			attn := make([]float64, qDim)
			for h := 0; h < s.heads; h++ {
				kv := h / (s.heads / s.kvHeads)
				first := 0
				if sliding {
					first = max(0, p-window+1)
				}
				scores := make([]float64, p+1)
				top := math.Inf(-1)
				for j := first; j <= p; j++ {
					for i := 0; i < d; i++ {
						scores[j] += qs[p][h*d+i] * ks[j][kv*d+i]
					}
					scores[j] = softcap(scores[j]*qScale, attnCap)
					top = math.Max(top, scores[j])
				}
				var sum float64
				for j := first; j <= p; j++ {
					scores[j] = math.Exp(scores[j] - top)
					sum += scores[j]
				}
				for j := first; j <= p; j++ {
					for i := 0; i < d; i++ {
						attn[h*d+i] += scores[j] / sum * vs[j][kv*d+i]
					}
				}
			}
			o := matvec(w(pre+"self_attn.o_proj.weight"), attn)
			if gemma {
				o = norm(o, w(pre+"post_attention_layernorm.weight"))
			}
			for i := range o {
				xs[p][i] += o[i]
			}
			var act []float64
			if arch == "phi3" {
				h := norm(xs[p], w(pre+"post_attention_layernorm.weight"))
				gu := matvec(w(pre+"mlp.gate_up_proj.weight"), h)
				act = make([]float64, s.ff)
				for i := range act {
					act[i] = gu[s.ff+i] * silu(gu[i])
				}
			} else {
				h := norm(xs[p], w(pre+"pre_feedforward_layernorm.weight"))
				gate := matvec(w(pre+"mlp.gate_proj.weight"), h)
				up := matvec(w(pre+"mlp.up_proj.weight"), h)
				act = make([]float64, s.ff)
				for i := range act {
					act[i] = gelu(gate[i]) * up[i]
				}
			}
			down := matvec(w(pre+"mlp.down_proj.weight"), act)
			if gemma {
				down = norm(down, w(pre+"post_feedforward_layernorm.weight"))
			}
			for i := range down {
				xs[p][i] += down[i]
			}
		}
	}
	head := w("lm_head.weight")
	if head == nil || gemma {
		head = embed
	}
	out := make([][]float64, len(tokens))
	for p := range tokens {
		out[p] = matvec(head, norm(xs[p], w("model.norm.weight")))
		for i := range out[p] {
			out[p][i] = softcap(out[p][i], finalCap)
		}
	}
	return out
}

// TestForwardMatchesHFPhiGemma runs converted Phi-3, Gemma 2 and Gemma 3
// models in Joule and compares their logits at every position with
// hfForwardPhiGemma on the Hugging Face weights. A norm not shifted by 1,
// a norm mapped to the wrong place, the fused matrices split the wrong
// way or the LongRoPE factors swapped move the logits by a good part of
// their scale.
func TestForwardMatchesHFPhiGemma(t *testing.T) {
	tokens := []int{2, 250, 17, 99, 3, 3, 280, 64, 5, 141, 0, 77}
	for _, tt := range []struct {
		name, arch string
		model      func(t *testing.T) (*hfModel, sizes)
	}{
		{name: "phi3 longrope", arch: "phi3", model: func(t *testing.T) (*hfModel, sizes) {
			_, m := phi3Dir(t, tiny, safetensors.F32)
			return m, tiny
		}},
		{name: "phi3 short factors, partial rotary", arch: "phi3", model: func(t *testing.T) (*hfModel, sizes) {
			_, m := phi3Dir(t, tiny, safetensors.F32)
			m.config["original_max_position_embeddings"] = 256 // the context is not longer
			m.config["partial_rotary_factor"] = 0.5
			rs := m.config["rope_scaling"].(map[string]any)
			rs["long_factor"] = rs["long_factor"].([]float64)[:4]
			rs["short_factor"] = rs["short_factor"].([]float64)[:4]
			m.config["tie_word_embeddings"] = true
			delete(m.tensors, "lm_head.weight")
			return m, tiny
		}},
		{name: "phi3 plain", arch: "phi3", model: func(t *testing.T) (*hfModel, sizes) {
			_, m := phi3Dir(t, tiny, safetensors.F32)
			delete(m.config, "rope_scaling")
			return m, tiny
		}},
		{name: "gemma2", arch: "gemma2", model: func(t *testing.T) (*hfModel, sizes) {
			m := newModel("Gemma2ForCausalLM", tiny, safetensors.F32, false)
			m.config["attn_logit_softcapping"] = 2.0 // small enough to matter
			m.config["final_logit_softcapping"] = 3.0
			m.config["sliding_window"] = 4
			m.config["query_pre_attn_scalar"] = tiny.headDim
			return m, tiny
		}},
		{name: "gemma3", arch: "gemma3", model: func(t *testing.T) (*hfModel, sizes) {
			return gemma3Model(safetensors.F32)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, s := tt.model(t)
			dir := t.TempDir()
			m.write(t, dir, 0)
			if tt.arch == "phi3" {
				writeSentencePiece(t, dir, tinyPieces(s.vocab, nil))
			} else {
				gemmaTokenizer(t, dir, false)
			}
			f := convertDir(t, dir, Options{Type: tensor.F32})
			mod, err := model.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			st, err := mod.NewState(len(tokens), tensor.F32)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, len(tokens)*s.vocab)
			if err := mod.ForwardAll(nil, st, tokens, got); err != nil {
				t.Fatal(err)
			}
			want := hfForwardPhiGemma(m, s, tt.arch, tokens)
			var worst, scale float64
			for p := range tokens {
				for i, w := range want[p] {
					worst = math.Max(worst, math.Abs(float64(got[p*s.vocab+i])-w))
					scale = math.Max(scale, math.Abs(w))
				}
			}
			if worst > 1e-3*scale {
				t.Errorf("logits differ from the Hugging Face reference by up to %g (scale %g)", worst, scale)
			}
			t.Logf("max difference %.3g, logits up to %.3g", worst, scale)
		})
	}
}
