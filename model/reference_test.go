package model

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

// This file checks Forward against a plain float64 forward pass written in
// the style of llama2.c: one token at a time, weights dequantized to
// float64, a full softmax over the cache. The reference reads the weights
// straight from the GGUF file and the hyperparameters from the
// llamatest.RandomConfig that wrote it, so it shares nothing with Load.

type refLayer struct {
	attnNorm, ffnNorm []float64
	wq, wk, wv, wo    [][]float64
	gate, up, down    [][]float64
	// Optional: nil when the file has no such tensor.
	bq, bk, bv, bo    []float64
	bGate, bUp, bDown []float64
	qNorm, kNorm      []float64
	// Gemma: norms of the attention and feed-forward outputs.
	postAttn, postFFN []float64
}

type refModel struct {
	c       llamatest.RandomConfig
	embd    [][]float64
	layers  []refLayer
	norm    []float64
	out     [][]float64
	outBias []float64
	freqs   []float64 // rope_freqs.weight
}

// refMatrix dequantizes tensor name to rows of float64.
func refMatrix(t *testing.T, f *gguf.File, name string) [][]float64 {
	t.Helper()
	ti, ok := f.Tensor(name)
	if !ok {
		t.Fatalf("reference: no tensor %q", name)
	}
	cols := int(ti.Dims[0])
	rows := int(ti.Elements()) / cols
	flat := make([]float32, rows*cols)
	if err := tensor.Dequantize(ti.Type, f.TensorData(ti), flat); err != nil {
		t.Fatalf("reference: %s: %v", name, err)
	}
	m := make([][]float64, rows)
	for r := range m {
		m[r] = make([]float64, cols)
		for c := range m[r] {
			m[r][c] = float64(flat[r*cols+c])
		}
	}
	return m
}

// refVector is the vector tensor name, or nil when the file has none.
func refVector(t *testing.T, f *gguf.File, name string) []float64 {
	if _, ok := f.Tensor(name); !ok {
		return nil
	}
	return refMatrix(t, f, name)[0]
}

func newRefModel(t *testing.T, f *gguf.File, c llamatest.RandomConfig) *refModel {
	m := &refModel{c: c}
	m.embd = refMatrix(t, f, "token_embd.weight")
	m.norm = refMatrix(t, f, "output_norm.weight")[0]
	if c.Tied || c.Arch == "gemma2" {
		m.out = m.embd
	} else {
		m.out = refMatrix(t, f, "output.weight")
	}
	m.outBias = refVector(t, f, "output.bias")
	m.freqs = refVector(t, f, "rope_freqs.weight")
	if c.RopeScalingType == "longrope" {
		// The long factors when the context passes the original one.
		m.freqs = refVector(t, f, "rope_factors_short.weight")
		if c.RopeOrigCtx != 0 && c.Ctx > c.RopeOrigCtx {
			m.freqs = refVector(t, f, "rope_factors_long.weight")
		}
	}
	for i := range c.Layers {
		p := fmt.Sprintf("blk.%d.", i)
		v := func(name string) []float64 { return refVector(t, f, p+name) }
		L := refLayer{
			bq: v("attn_q.bias"), bk: v("attn_k.bias"), bv: v("attn_v.bias"), bo: v("attn_output.bias"),
			bGate: v("ffn_gate.bias"), bUp: v("ffn_up.bias"), bDown: v("ffn_down.bias"),
			qNorm: v("attn_q_norm.weight"), kNorm: v("attn_k_norm.weight"),
			postAttn: v("post_attention_norm.weight"), postFFN: v("post_ffw_norm.weight"),
			attnNorm: refMatrix(t, f, p+"attn_norm.weight")[0],
			ffnNorm:  refMatrix(t, f, p+"ffn_norm.weight")[0],
			wo:       refMatrix(t, f, p+"attn_output.weight"),
			down:     refMatrix(t, f, p+"ffn_down.weight"),
		}
		q, kv := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
		if _, ok := f.Tensor(p + "attn_qkv.weight"); ok {
			w := refMatrix(t, f, p+"attn_qkv.weight")
			L.wq, L.wk, L.wv = w[:q], w[q:q+kv], w[q+kv:]
			if b := v("attn_qkv.bias"); b != nil {
				L.bq, L.bk, L.bv = b[:q], b[q:q+kv], b[q+kv:]
			}
		} else {
			L.wq, L.wk, L.wv = refMatrix(t, f, p+"attn_q.weight"), refMatrix(t, f, p+"attn_k.weight"), refMatrix(t, f, p+"attn_v.weight")
		}
		if _, ok := f.Tensor(p + "ffn_gate.weight"); ok {
			L.gate, L.up = refMatrix(t, f, p+"ffn_gate.weight"), refMatrix(t, f, p+"ffn_up.weight")
		} else {
			gu := refMatrix(t, f, p+"ffn_up.weight")
			L.gate, L.up = gu[:c.FF], gu[c.FF:]
		}
		m.layers = append(m.layers, L)
	}
	return m
}

func matvec(w [][]float64, x []float64) []float64 {
	out := make([]float64, len(w))
	for r, row := range w {
		var s float64
		for c, v := range row {
			s += v * x[c]
		}
		out[r] = s
	}
	return out
}

func rmsnorm64(x, w []float64, eps float64) []float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	scale := 1 / math.Sqrt(ss/float64(len(x))+eps)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v * scale * w[i]
	}
	return out
}

// rope64 rotates the first RopeDims elements of every head by RoPE as
// the configuration asks: pair p turns by pos * base^(-2p/RopeDims) /
// freqs[p], scaled by 1/factor for linear scaling; with YaRN the pairs
// turning more than 32 times over the original context keep the unscaled
// angle, those turning less than once take the scaled one, a linear ramp
// between (in whole pairs), and the rotation is scaled by
// 1 + 0.1 ln(factor). rope.scaling.attn_factor scales it too. The pairs
// are adjacent elements for llama, elements RopeDims/2 apart otherwise.
func rope64(x []float64, pos int, c llamatest.RandomConfig, freqs []float64) {
	hd, d := c.HeadDim, c.RopeDims
	base := float64(c.RopeBase)
	factor := float64(c.RopeScalingFactor)
	if factor == 0 || c.RopeScalingType == "none" {
		factor = 1
	}
	yarn := c.RopeScalingType == "yarn"
	var lo, hi float64
	mscale := 1.0
	if c.RopeAttnFactor != 0 {
		mscale = float64(c.RopeAttnFactor)
	}
	if yarn {
		orig := float64(c.RopeOrigCtx)
		if orig == 0 {
			orig = float64(c.Ctx)
		}
		// The pair index turning the given number of times over orig.
		pair := func(turns float64) float64 {
			return float64(d) * math.Log(orig/(turns*2*math.Pi)) / (2 * math.Log(base))
		}
		lo, hi = max(0, math.Floor(pair(32))), min(float64(d-1), math.Ceil(pair(1)))
		mscale *= 1 + 0.1*math.Log(factor)
	}
	for h := 0; h < len(x); h += hd {
		for p := range d / 2 {
			ext := float64(pos) * math.Pow(base, -float64(2*p)/float64(d))
			if freqs != nil {
				ext /= freqs[p]
			}
			a := ext / factor
			if yarn {
				mix := 1 - min(1, max(0, (float64(p)-lo)/max(0.001, hi-lo)))
				a = a*(1-mix) + ext*mix
			}
			c0, s0 := mscale*math.Cos(a), mscale*math.Sin(a)
			i, j := h+2*p, h+2*p+1
			if c.Arch != "llama" {
				i, j = h+p, h+p+d/2
			}
			x0, x1 := x[i], x[j]
			x[i] = x0*c0 - x1*s0
			x[j] = x0*s0 + x1*c0
		}
	}
}

// addBias64 adds b to x when b is not nil.
func addBias64(x, b []float64) {
	for i := range b {
		x[i] += b[i]
	}
}

// headNorm64 applies RMSNorm with weights w to every head of x, when w is
// not nil.
func headNorm64(x, w []float64, eps float64) {
	if w == nil {
		return
	}
	for h := 0; h < len(x); h += len(w) {
		copy(x[h:], rmsnorm64(x[h:h+len(w)], w, eps))
	}
}

type refState struct {
	m    *refModel
	k, v [][][]float64 // [layer][pos][kv width]
}

// step runs one token at the next position and returns its logits.
func (s *refState) step(tok int) []float64 {
	c := s.m.c
	pos := 0
	if len(s.k) > 0 {
		pos = len(s.k[0])
	} else {
		s.k = make([][][]float64, c.Layers)
		s.v = make([][][]float64, c.Layers)
	}
	hd := c.HeadDim
	gemma := c.Arch == "gemma2" || c.Arch == "gemma3"
	x := append([]float64(nil), s.m.embd[tok]...)
	if gemma {
		for i := range x {
			x[i] *= math.Sqrt(float64(c.Embd))
		}
	}
	for li, L := range s.m.layers {
		// Gemma's sliding-window layers: all but the last of every
		// pattern, with their own RoPE base (gemma3: 10000 and no scaling
		// unless the file says; gemma2: the global ones).
		window, rc := 0, c
		if pat := refPattern(c); gemma && c.SlidingWindow > 0 && (pat == 0 || li%pat < pat-1) {
			window = c.SlidingWindow
			if c.Arch == "gemma3" {
				rc.RopeBase, rc.RopeScalingFactor = 10000, 0
			}
			if c.RopeBaseSWA != 0 {
				rc.RopeBase = c.RopeBaseSWA
			}
		}
		xb := rmsnorm64(x, L.attnNorm, float64(c.Eps))
		q, k, v := matvec(L.wq, xb), matvec(L.wk, xb), matvec(L.wv, xb)
		addBias64(q, L.bq)
		addBias64(k, L.bk)
		addBias64(v, L.bv)
		headNorm64(q, L.qNorm, float64(c.Eps))
		headNorm64(k, L.kNorm, float64(c.Eps))
		rope64(q, pos, rc, s.m.freqs)
		rope64(k, pos, rc, s.m.freqs)
		s.k[li] = append(s.k[li], k)
		s.v[li] = append(s.v[li], v)
		att := make([]float64, c.Heads*hd)
		for h := range c.Heads {
			kvh := h / (c.Heads / c.KVHeads)
			qh := q[h*hd : (h+1)*hd]
			scores := make([]float64, pos+1)
			maxS := math.Inf(-1)
			first := 0
			if window > 0 {
				first = max(0, pos-window+1)
			}
			for t := range scores {
				if t < first {
					scores[t] = math.Inf(-1)
					continue
				}
				kt := s.k[li][t][kvh*hd : (kvh+1)*hd]
				var d float64
				for i := range qh {
					d += qh[i] * kt[i]
				}
				scores[t] = d / math.Sqrt(float64(hd))
				if cp := refAttnSoftcap(c); cp != 0 {
					scores[t] = softcap64(scores[t], cp)
				}
				maxS = max(maxS, scores[t])
			}
			var sum float64
			for t := range scores {
				scores[t] = math.Exp(scores[t] - maxS)
				sum += scores[t]
			}
			for t := range scores {
				vt := s.v[li][t][kvh*hd : (kvh+1)*hd]
				for i := range hd {
					att[h*hd+i] += scores[t] / sum * vt[i]
				}
			}
		}
		o := matvec(L.wo, att)
		addBias64(o, L.bo)
		if L.postAttn != nil {
			o = rmsnorm64(o, L.postAttn, float64(c.Eps))
		}
		for i := range o {
			x[i] += o[i]
		}
		xb = rmsnorm64(x, L.ffnNorm, float64(c.Eps))
		g, u := matvec(L.gate, xb), matvec(L.up, xb)
		addBias64(g, L.bGate)
		addBias64(u, L.bUp)
		for i := range g {
			if gemma {
				g[i] = gelu64(g[i]) * u[i]
			} else {
				g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
			}
		}
		d := matvec(L.down, g)
		addBias64(d, L.bDown)
		if L.postFFN != nil {
			d = rmsnorm64(d, L.postFFN, float64(c.Eps))
		}
		for i := range d {
			x[i] += d[i]
		}
	}
	logits := matvec(s.m.out, rmsnorm64(x, s.m.norm, float64(c.Eps)))
	addBias64(logits, s.m.outBias)
	if cp := refFinalSoftcap(c); cp != 0 {
		for i := range logits {
			logits[i] = softcap64(logits[i], cp)
		}
	}
	return logits
}

func softcap64(x, cap float64) float64 { return cap * math.Tanh(x/cap) }

// gelu64 is GELU's tanh approximation as ggml defines it on the CPU: of
// the input rounded to fp16, the result rounded to fp16, and exact
// beyond ±10.
func gelu64(x float64) float64 {
	switch {
	case x <= -10:
		return 0
	case x >= 10:
		return x
	}
	fp16 := func(v float64) float64 { return float64(tensor.FP16ToFloat32(tensor.Float32ToFP16(float32(v)))) }
	h := fp16(x)
	return fp16(0.5 * h * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(h+0.044715*h*h*h))))
}

// refAttnSoftcap and refFinalSoftcap are the soft caps of a configuration:
// the file's, else gemma2's defaults of 50 and 30.
func refAttnSoftcap(c llamatest.RandomConfig) float64 {
	switch {
	case c.Arch != "gemma2" && c.Arch != "gemma3":
		return 0
	case c.AttnSoftcap != 0:
		return float64(c.AttnSoftcap)
	case c.Arch == "gemma2":
		return 50
	}
	return 0 // gemma3 reads no attention cap
}

func refFinalSoftcap(c llamatest.RandomConfig) float64 {
	switch {
	case c.Arch != "gemma2" && c.Arch != "gemma3":
		return 0
	case c.FinalSoftcap != 0:
		return float64(c.FinalSoftcap)
	case c.Arch == "gemma2":
		return 30
	}
	return 0
}

// refPattern is the sliding-window pattern of a Gemma configuration: the
// file's, else every other layer for gemma2 and five of six for gemma3.
func refPattern(c llamatest.RandomConfig) int {
	switch {
	case c.SlidingWindowPattern != 0:
		return c.SlidingWindowPattern
	case c.Arch == "gemma2":
		return 2
	}
	return 6
}

// relErr is max|got-want| / max|want|.
func relErr(got []float32, want []float64) float64 {
	var maxD, maxW float64
	for i, w := range want {
		maxD = max(maxD, math.Abs(float64(got[i])-w))
		maxW = max(maxW, math.Abs(w))
	}
	if math.IsNaN(maxD) || len(got) != len(want) {
		return math.Inf(1)
	}
	return maxD / maxW
}

// relErr32 is relErr between two float32 vectors.
func relErr32(got, want []float32) float64 {
	w := make([]float64, len(want))
	for i, v := range want {
		w[i] = float64(v)
	}
	return relErr(got, w)
}

// randomModel writes cfg, parses it and loads it with both Load and the reference.
func randomModel(t testing.TB, cfg llamatest.RandomConfig) (*gguf.File, *Model) {
	t.Helper()
	var buf bytes.Buffer
	if err := llamatest.WriteRandomLlama(&buf, cfg); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	return f, m
}

func randomTokens(seed uint64, n, vocab int) []int {
	r := rand.New(rand.NewPCG(seed, 1))
	toks := make([]int, n)
	toks[0] = 1 // BOS
	for i := 1; i < n; i++ {
		toks[i] = 3 + r.IntN(vocab-3)
	}
	return toks
}

var referenceShapes = []struct {
	name string
	cfg  llamatest.RandomConfig
}{
	{"mha-hd16", llamatest.RandomConfig{Embd: 64, Layers: 2, Heads: 4, KVHeads: 4, FF: 96}},
	{"gqa-hd8-tied-ff172", llamatest.RandomConfig{Embd: 64, Layers: 2, Heads: 8, KVHeads: 2, FF: 172, Tied: true}},
	{"gqa-hd64", llamatest.RandomConfig{Embd: 128, Layers: 2, Heads: 2, KVHeads: 1, HeadDim: 64, FF: 320}},
	{"odd-ff97-tied", llamatest.RandomConfig{Embd: 32, Layers: 3, Heads: 2, KVHeads: 1, FF: 97, Tied: true}},
}

// referenceTolerance is the largest relative logit error allowed against
// the float64 reference, about twice the worst measured over the shapes
// here. It is set by what the type rounds: F32 matmuls only their float32
// sums (measured < 1e-6); an F16 cache rounds keys, values and queries of
// attention to fp16 (1.5e-3); F16 and BF16 weights round the activations to
// their own type before the dot products (1.4e-3, 7.5e-3), and the block
// types quantize them to 8 bits per block (3.4e-2 in these small random
// models), as llama.cpp does.
func referenceTolerance(w, kv tensor.Type) float64 {
	tol := map[tensor.Type]float64{
		tensor.F32:  3e-6,
		tensor.F16:  4e-3,
		tensor.BF16: 2e-2,
		tensor.Q8_0: 6e-2,
		tensor.Q4_0: 6e-2,
		tensor.Q4_K: 6e-2,
		tensor.Q5_K: 6e-2,
		tensor.Q6_K: 6e-2,
	}[w]
	if kv == tensor.F16 {
		tol = max(tol, 4e-3)
	}
	return tol
}

func TestForwardMatchesReference(t *testing.T) {
	types := []tensor.Type{tensor.F32, tensor.F16, tensor.BF16, tensor.Q8_0, tensor.Q4_0}
	for _, shape := range referenceShapes {
		for _, wt := range types {
			for _, kv := range []tensor.Type{tensor.F32, tensor.F16} {
				cfg := shape.cfg
				cfg.Type, cfg.Seed = wt, 7
				t.Run(fmt.Sprintf("%s/%s/kv-%s", shape.name, wt, kv), func(t *testing.T) {
					checkAgainstReference(t, cfg, kv, referenceTolerance(wt, kv))
				})
			}
		}
	}
}

// archShapes are models of every supported architecture and every
// optional part, checked against the reference like referenceShapes.
var archShapes = []struct {
	name string
	cfg  llamatest.RandomConfig
}{
	{"llama-freqs-bias", llamatest.RandomConfig{Embd: 64, Heads: 4, KVHeads: 2, FF: 96, RopeFreqs: true, Bias: true, RopeBase: 500000}},
	{"llama-yarn-tied", llamatest.RandomConfig{Embd: 64, Heads: 2, KVHeads: 1, FF: 96, Tied: true,
		RopeScalingType: "yarn", RopeScalingFactor: 8, RopeOrigCtx: 32}},
	{"llama-linear", llamatest.RandomConfig{Embd: 64, Heads: 4, FF: 96, RopeScalingType: "linear", RopeScalingFactor: 4}},
	{"llama-none", llamatest.RandomConfig{Embd: 64, Heads: 4, FF: 96, RopeScalingType: "none", RopeScalingFactor: 4}},
	{"qwen2-bias", llamatest.RandomConfig{Arch: "qwen2", Embd: 64, Heads: 4, KVHeads: 2, FF: 96, Bias: true}},
	{"qwen2-tied", llamatest.RandomConfig{Arch: "qwen2", Embd: 64, Heads: 8, KVHeads: 2, FF: 96, Tied: true}},
	{"qwen3-hd32", llamatest.RandomConfig{Arch: "qwen3", Embd: 64, Heads: 4, KVHeads: 2, HeadDim: 32, FF: 96}},
	{"qwen3-yarn-bias", llamatest.RandomConfig{Arch: "qwen3", Embd: 64, Heads: 2, KVHeads: 1, HeadDim: 64, FF: 96, Bias: true,
		RopeScalingType: "yarn", RopeScalingFactor: 4, RopeOrigCtx: 64}},
	{"llama-fused-qkv-bias", llamatest.RandomConfig{Embd: 64, Heads: 4, KVHeads: 2, FF: 96, FusedQKV: true, Bias: true}},
	{"llama-longrope", llamatest.RandomConfig{Embd: 64, Heads: 4, KVHeads: 2, FF: 96, RopeScalingType: "longrope", RopeOrigCtx: 64, RopeAttnFactor: 1.2}},
	{"phi3-long", llamatest.RandomConfig{Arch: "phi3", Embd: 64, Heads: 4, KVHeads: 2, FF: 96, Bias: true,
		RopeScalingType: "longrope", RopeOrigCtx: 64, RopeAttnFactor: 1.2}},
	{"phi3-short-partial", llamatest.RandomConfig{Arch: "phi3", Embd: 64, Heads: 2, KVHeads: 2, FF: 96, RopeDims: 24,
		RopeScalingType: "longrope", RopeOrigCtx: 256, Ctx: 256}},
	{"phi3-plain", llamatest.RandomConfig{Arch: "phi3", Embd: 64, Heads: 4, FF: 96, Tied: true}},
	// Windows of 4 and 3 positions, shorter than the 12 tokens run.
	{"gemma2-swa-softcap", llamatest.RandomConfig{Arch: "gemma2", Embd: 64, Layers: 4, Heads: 4, KVHeads: 2, FF: 96,
		SlidingWindow: 4, AttnSoftcap: 2, FinalSoftcap: 3}},
	{"gemma2-defaults", llamatest.RandomConfig{Arch: "gemma2", Embd: 64, Layers: 2, Heads: 4, FF: 96}},
	{"gemma3-swa-linear", llamatest.RandomConfig{Arch: "gemma3", Embd: 64, Layers: 6, Heads: 2, KVHeads: 1, HeadDim: 32, FF: 96,
		SlidingWindow: 4, RopeBase: 1000000, RopeScalingType: "linear", RopeScalingFactor: 8, FinalSoftcap: 5}},
	{"gemma3-pattern3-base", llamatest.RandomConfig{Arch: "gemma3", Embd: 64, Layers: 3, Heads: 4, FF: 96, Tied: true,
		SlidingWindow: 3, SlidingWindowPattern: 3, RopeBaseSWA: 20000}},
	{"gemma3-global", llamatest.RandomConfig{Arch: "gemma3", Embd: 64, Layers: 2, Heads: 4, FF: 96}},
}

func TestForwardMatchesReferenceArchs(t *testing.T) {
	for _, shape := range archShapes {
		for _, wt := range []tensor.Type{tensor.F32, tensor.Q8_0} {
			for _, kv := range []tensor.Type{tensor.F32, tensor.F16} {
				cfg := shape.cfg
				cfg.Type, cfg.Seed = wt, 11
				tol := referenceTolerance(wt, kv)
				if cfg.Arch == "gemma2" || cfg.Arch == "gemma3" {
					// GELU's fp16 table: float32 and float64 inputs on
					// either side of an fp16 rounding boundary give
					// outputs one fp16 step apart.
					tol = max(tol, 2e-4)
				}
				t.Run(fmt.Sprintf("%s/%s/kv-%s", shape.name, wt, kv), func(t *testing.T) {
					checkAgainstReference(t, cfg, kv, tol)
				})
			}
		}
	}
}

// TestForwardMatchesReferenceKQuants covers the k-quant types, whose
// 256-element blocks need a wider model.
func TestForwardMatchesReferenceKQuants(t *testing.T) {
	for _, wt := range []tensor.Type{tensor.Q4_K, tensor.Q5_K, tensor.Q6_K} {
		cfg := llamatest.RandomConfig{Embd: 256, Layers: 1, Heads: 4, KVHeads: 2, HeadDim: 64, FF: 512, Type: wt, Seed: 3}
		t.Run(wt.String(), func(t *testing.T) {
			checkAgainstReference(t, cfg, tensor.F16, referenceTolerance(wt, tensor.F16))
		})
	}
}

// checkAgainstReference prefills 7 tokens as one batch and decodes 5 more
// one at a time, comparing the logits of every position with the reference.
func checkAgainstReference(t *testing.T, cfg llamatest.RandomConfig, kv tensor.Type, tol float64) {
	f, m := randomModel(t, cfg)
	ref := &refState{m: newRefModel(t, f, cfg.Filled())}
	const prefill, decode = 7, 5
	toks := randomTokens(cfg.Seed, prefill+decode, m.Config.VocabSize)
	want := make([][]float64, len(toks))
	for i, tok := range toks {
		want[i] = ref.step(tok)
	}

	V := m.Config.VocabSize
	s, err := m.NewState(0, kv)
	if err != nil {
		t.Fatal(err)
	}
	all := make([]float32, prefill*V)
	if err := m.ForwardAll(nil, s, toks[:prefill], all); err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i := range prefill {
		e := relErr(all[i*V:(i+1)*V], want[i])
		worst = max(worst, e)
		if e > tol {
			t.Errorf("prefill position %d: relative error %.3g > %.3g", i, e, tol)
		}
	}
	logits := make([]float32, V)
	for i := prefill; i < len(toks); i++ {
		if err := m.Forward(nil, s, toks[i:i+1], logits); err != nil {
			t.Fatal(err)
		}
		e := relErr(logits, want[i])
		worst = max(worst, e)
		if e > tol {
			t.Errorf("decode position %d: relative error %.3g > %.3g", i, e, tol)
		}
	}
	if s.Pos() != len(toks) {
		t.Errorf("Pos() = %d after %d tokens", s.Pos(), len(toks))
	}
	t.Logf("worst relative error %.3g (tolerance %.3g)", worst, tol)
}
