package convert

import (
	"math"
	"strings"
	"testing"

	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/safetensors"
	"github.com/joule-llm/joule/tensor"
)

// hfForward computes the logits of every position as the Hugging Face
// implementations of Llama, Qwen2 and Qwen3 do, in float64, from the
// Hugging Face weights: half-split rotary pairs (i, i+d/2), Llama 3's
// frequency smoothing when configured, q/k biases and per-head q/k norms
// where the model has them.
func hfForward(m *hfModel, s sizes, tokens []int) [][]float64 {
	w := m.weight
	eps := m.config["rms_norm_eps"].(float64)
	base := m.config["rope_theta"].(float64)
	d := s.headDim
	invFreq := make([]float64, d/2)
	for i := range invFreq {
		invFreq[i] = 1 / math.Pow(base, float64(2*i)/float64(d))
	}
	if rs, ok := m.config["rope_scaling"].(map[string]any); ok && rs["rope_type"] == "llama3" {
		factor, low, high := rs["factor"].(float64), rs["low_freq_factor"].(float64), rs["high_freq_factor"].(float64)
		orig := float64(rs["original_max_position_embeddings"].(int))
		for i, f := range invFreq {
			wavelen := 2 * math.Pi / f
			switch {
			case wavelen > orig/low:
				invFreq[i] = f / factor
			case wavelen >= orig/high:
				smooth := (orig/wavelen - low) / (high - low)
				invFreq[i] = (1-smooth)*f/factor + smooth*f
			}
		}
	}
	rmsNorm := func(x, g []float64) []float64 {
		var ss float64
		for _, v := range x {
			ss += v * v
		}
		r := 1 / math.Sqrt(ss/float64(len(x))+eps)
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = v * r * g[i]
		}
		return out
	}
	matvec := func(wt []float64, x []float64, bias []float64) []float64 {
		out := make([]float64, len(wt)/len(x))
		for r := range out {
			for c, v := range x {
				out[r] += wt[r*len(x)+c] * v
			}
			if bias != nil {
				out[r] += bias[r]
			}
		}
		return out
	}
	rope := func(v []float64, pos int) {
		for h := 0; h < len(v)/d; h++ {
			for i := 0; i < d/2; i++ {
				a, b := h*d+i, h*d+i+d/2
				sn, cs := math.Sincos(float64(pos) * invFreq[i])
				v[a], v[b] = v[a]*cs-v[b]*sn, v[a]*sn+v[b]*cs
			}
		}
	}
	embed := w("model.embed_tokens.weight")
	xs := make([][]float64, len(tokens))
	for p, tok := range tokens {
		xs[p] = append([]float64(nil), embed[tok*s.embd:(tok+1)*s.embd]...)
	}
	for b := 0; b < s.blocks; b++ {
		pre := "model.layers." + itoa(b) + "."
		ks, vs := make([][]float64, len(tokens)), make([][]float64, len(tokens))
		qs := make([][]float64, len(tokens))
		for p := range tokens {
			h := rmsNorm(xs[p], w(pre+"input_layernorm.weight"))
			q := matvec(w(pre+"self_attn.q_proj.weight"), h, w(pre+"self_attn.q_proj.bias"))
			k := matvec(w(pre+"self_attn.k_proj.weight"), h, w(pre+"self_attn.k_proj.bias"))
			v := matvec(w(pre+"self_attn.v_proj.weight"), h, w(pre+"self_attn.v_proj.bias"))
			if qn := w(pre + "self_attn.q_norm.weight"); qn != nil {
				kn := w(pre + "self_attn.k_norm.weight")
				for i := 0; i < len(q); i += d {
					copy(q[i:i+d], rmsNorm(q[i:i+d], qn))
				}
				for i := 0; i < len(k); i += d {
					copy(k[i:i+d], rmsNorm(k[i:i+d], kn))
				}
			}
			rope(q, p)
			rope(k, p)
			qs[p], ks[p], vs[p] = q, k, v
		}
		for p := range tokens {
			attn := make([]float64, s.heads*d)
			for h := 0; h < s.heads; h++ {
				kv := h / (s.heads / s.kvHeads)
				scores := make([]float64, p+1)
				top := math.Inf(-1)
				for j := 0; j <= p; j++ {
					for i := 0; i < d; i++ {
						scores[j] += qs[p][h*d+i] * ks[j][kv*d+i]
					}
					scores[j] /= math.Sqrt(float64(d))
					top = math.Max(top, scores[j])
				}
				var sum float64
				for j := range scores {
					scores[j] = math.Exp(scores[j] - top)
					sum += scores[j]
				}
				for j := range scores {
					for i := 0; i < d; i++ {
						attn[h*d+i] += scores[j] / sum * vs[j][kv*d+i]
					}
				}
			}
			o := matvec(w(pre+"self_attn.o_proj.weight"), attn, nil)
			for i := range o {
				xs[p][i] += o[i]
			}
			h := rmsNorm(xs[p], w(pre+"post_attention_layernorm.weight"))
			gate := matvec(w(pre+"mlp.gate_proj.weight"), h, nil)
			up := matvec(w(pre+"mlp.up_proj.weight"), h, nil)
			for i, g := range gate {
				gate[i] = g / (1 + math.Exp(-g)) * up[i]
			}
			down := matvec(w(pre+"mlp.down_proj.weight"), gate, nil)
			for i := range down {
				xs[p][i] += down[i]
			}
		}
	}
	head := w("lm_head.weight")
	if head == nil {
		head = embed
	}
	out := make([][]float64, len(tokens))
	for p := range tokens {
		out[p] = matvec(head, rmsNorm(xs[p], w("model.norm.weight")), nil)
	}
	return out
}

// TestForwardMatchesHF runs converted models in Joule and compares their
// logits at every position with hfForward on the Hugging Face weights.
// This is what the conversion must preserve: tensor names, the query/key
// permutation (against the rotation each side applies), biases, norms,
// tied embeddings and Llama 3's RoPE factors.
func TestForwardMatchesHF(t *testing.T) {
	tokens := []int{1, 250, 17, 99, 3, 3, 280, 64, 5, 141, 0, 77}
	llama3 := map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
	for _, tt := range []struct {
		name, arch string
		edit       func(m *hfModel)
	}{
		{name: "llama", arch: "LlamaForCausalLM"},
		{name: "llama tied", arch: "LlamaForCausalLM", edit: func(m *hfModel) {
			delete(m.tensors, "lm_head.weight")
			m.config["tie_word_embeddings"] = true
		}},
		{name: "llama3 rope", arch: "LlamaForCausalLM", edit: func(m *hfModel) {
			m.config["rope_theta"] = 500000.0
			m.config["rope_scaling"] = llama3
		}},
		{name: "mistral", arch: "MistralForCausalLM"},
		{name: "qwen2", arch: "Qwen2ForCausalLM"},
		{name: "qwen3", arch: "Qwen3ForCausalLM"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newModel(tt.arch, tiny, safetensors.F32, false)
			if tt.edit != nil {
				tt.edit(m)
			}
			f := convertTiny(t, m, Options{Type: tensor.F32})
			mod, err := model.Load(f)
			if err != nil && strings.Contains(err.Error(), "is not supported") {
				t.Skipf("model.Load: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			st, err := mod.NewState(len(tokens), tensor.F32)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, len(tokens)*tiny.vocab)
			if err := mod.ForwardAll(nil, st, tokens, got); err != nil {
				t.Fatal(err)
			}
			want := hfForward(m, tiny, tokens)
			var worst, scale float64
			for p := range tokens {
				for i, w := range want[p] {
					worst = math.Max(worst, math.Abs(float64(got[p*tiny.vocab+i])-w))
					scale = math.Max(scale, math.Abs(w))
				}
			}
			// float32 arithmetic against float64: a wrong permutation or
			// a swapped tensor moves logits by a good part of their
			// scale.
			if worst > 1e-4*scale {
				t.Errorf("logits differ from the Hugging Face reference by up to %g (scale %g)", worst, scale)
			}
			t.Logf("max difference %.3g, logits up to %.3g", worst, scale)
		})
	}
}
