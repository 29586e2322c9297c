package model

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

func TestArchitectures(t *testing.T) {
	if got, want := Architectures(), []string{"gemma2", "gemma3", "llama", "phi3", "qwen2", "qwen3"}; !slices.Equal(got, want) {
		t.Errorf("Architectures() = %v, want %v", got, want)
	}
	f, _ := randomModel(t, llamatest.RandomConfig{})
	g := rewrite(t, f, func(k string, v any) (any, bool) {
		if k == "general.architecture" {
			return "gemma7", true
		}
		return v, true
	}, nil, nil)
	_, err := Load(g)
	if err == nil || !strings.Contains(err.Error(), `architecture "gemma7" is not supported (supported: gemma2, gemma3, llama, phi3, qwen2, qwen3)`) {
		t.Errorf("unknown architecture: %v", err)
	}
}

func TestReadConfigArchs(t *testing.T) {
	tests := []struct {
		name string
		cfg  llamatest.RandomConfig
		want func(c Config) bool
	}{
		{"qwen2 is neox", llamatest.RandomConfig{Arch: "qwen2", Heads: 4},
			func(c Config) bool { return c.Arch == "qwen2" && c.RopeType == RopeNeox && c.KeyLength == 16 }},
		{"qwen3 head size from key_length", llamatest.RandomConfig{Arch: "qwen3", Heads: 4, HeadDim: 32},
			func(c Config) bool {
				return c.Arch == "qwen3" && c.RopeType == RopeNeox && c.KeyLength == 32 && c.RopeDimensionCount == 32 &&
					c.AttentionScale == float32(1/math.Sqrt(32))
			}},
		{"llama is norm", llamatest.RandomConfig{},
			func(c Config) bool { return c.Arch == "llama" && c.RopeType == RopeNorm && c.RopeExtFactor == 0 }},
		// llama.cpp's default scaling type is linear: a factor alone scales.
		{"factor without type", llamatest.RandomConfig{RopeScalingFactor: 2},
			func(c Config) bool { return c.RopeFreqScale == 0.5 && c.RopeExtFactor == 0 && c.RopeAttnFactor == 1 }},
		{"none ignores the factor", llamatest.RandomConfig{RopeScalingType: "none", RopeScalingFactor: 2},
			func(c Config) bool { return c.RopeFreqScale == 1 }},
		{"yarn", llamatest.RandomConfig{Arch: "qwen3", RopeScalingType: "yarn", RopeScalingFactor: 4, RopeOrigCtx: 64},
			func(c Config) bool {
				// The attention factor undoes the kernel's own magnitude
				// correction up to float32 rounding.
				return c.RopeFreqScale == 0.25 && c.RopeExtFactor == 1 && c.RopeOrigContext == 64 &&
					math.Abs(float64(c.RopeAttnFactor)-1) < 1e-6 && c.RopeYarnBetaFast == 32 && c.RopeYarnBetaSlow == 1
			}},
		{"yarn defaults to the training context", llamatest.RandomConfig{RopeScalingType: "yarn", RopeScalingFactor: 2, Ctx: 128},
			func(c Config) bool { return c.RopeOrigContext == 128 && c.RopeFreqScale == 0.5 }},
		// gemma2 without its keys: llama.cpp's defaults (window 4096 on
		// even layers, caps 50 and 30, the global RoPE on every layer).
		{"gemma2 defaults", llamatest.RandomConfig{Arch: "gemma2", Embd: 64, Heads: 4, HeadDim: 32, Layers: 4, RopeScalingFactor: 2},
			func(c Config) bool {
				return c.RopeType == RopeNeox && c.EmbedScale == 8 && c.QueryScale == float32(1/math.Sqrt(32)) && c.AttentionScale == 1 &&
					c.AttnSoftcap == 50 && c.FinalSoftcap == 30 && c.SlidingWindow == 4096 && c.SlidingWindowPattern == 2 &&
					c.window(0) == 4096 && c.window(1) == 0 && c.window(2) == 4096 &&
					c.RopeFreqBaseSWA == c.RopeFreqBase && c.RopeFreqScaleSWA == 0.5
			}},
		// The 27B models, which llama.cpp knows by their 46 blocks, scale
		// the queries by the embedding per head.
		{"gemma2 27B query scale", llamatest.RandomConfig{Arch: "gemma2", Embd: 64, Heads: 4, HeadDim: 32, Layers: 46, FF: 32},
			func(c Config) bool { return c.QueryScale == float32(1/math.Sqrt(16)) }},
		{"gemma3 without a window", llamatest.RandomConfig{Arch: "gemma3", Layers: 6},
			func(c Config) bool {
				return c.SlidingWindow == 0 && c.window(0) == 0 && c.AttnSoftcap == 0 && c.FinalSoftcap == 0 && c.EmbedScale == 8
			}},
		{"gemma3 five local to one global", llamatest.RandomConfig{Arch: "gemma3", Layers: 7, SlidingWindow: 16, RopeBase: 1e6, RopeScalingFactor: 8},
			func(c Config) bool {
				for li, w := range []int{16, 16, 16, 16, 16, 0, 16} {
					if c.window(li) != w {
						return false
					}
				}
				return c.RopeFreqBaseSWA == 10000 && c.RopeFreqScaleSWA == 1 && c.RopeFreqBase == 1e6 && c.RopeFreqScale == 0.125
			}},
		{"gemma3 pattern and local base from the file", llamatest.RandomConfig{Arch: "gemma3", Layers: 4, SlidingWindow: 16, SlidingWindowPattern: 2, RopeBaseSWA: 5000},
			func(c Config) bool {
				return c.window(0) == 16 && c.window(1) == 0 && c.window(2) == 16 && c.window(3) == 0 && c.RopeFreqBaseSWA == 5000
			}},
	}
	for _, tt := range tests {
		_, m := randomModel(t, tt.cfg)
		if !tt.want(m.Config) {
			t.Errorf("%s: %+v", tt.name, m.Config)
		}
	}
}

// TestSlidingWindowPatternList reads the per-layer form of
// attention.sliding_window_pattern, a list of booleans, which Config
// holds as the pattern it follows, and refuses one that follows none.
func TestSlidingWindowPatternList(t *testing.T) {
	f, _ := randomModel(t, llamatest.RandomConfig{Arch: "gemma3", Layers: 4, SlidingWindow: 8})
	for _, tt := range []struct {
		local []bool
		want  int // the pattern; -1: refused
	}{
		{[]bool{true, false, true, false}, 2},
		{[]bool{true, true, false, true}, 3},
		{[]bool{true, true, true, true}, 0},
		{[]bool{false, false, false, false}, 1},
		{[]bool{false, true, true, true}, -1},
		{[]bool{true, false}, -1},
	} {
		g := rewrite(t, f, nil, nil, func(w *gguf.Writer) {
			if err := w.Set("gemma3.attention.sliding_window_pattern", tt.local); err != nil {
				t.Fatal(err)
			}
		})
		c, err := ReadConfig(g)
		switch {
		case tt.want < 0 && err == nil:
			t.Errorf("%v: accepted as pattern %d", tt.local, c.SlidingWindowPattern)
		case tt.want >= 0 && err != nil:
			t.Errorf("%v: %v", tt.local, err)
		case tt.want >= 0 && c.SlidingWindowPattern != tt.want:
			t.Errorf("%v: pattern %d, want %d", tt.local, c.SlidingWindowPattern, tt.want)
		case tt.want >= 0:
			for li, l := range tt.local {
				if (c.window(li) == 8) != l {
					t.Errorf("%v: layer %d has window %d", tt.local, li, c.window(li))
				}
			}
		}
	}
}

// TestRopeYarnTable checks the YaRN table against the formula in float64:
// pairs below the ramp keep the unscaled angle, pairs above it take the
// scaled one, and every entry is scaled by 1 + 0.1 ln(factor).
func TestRopeYarnTable(t *testing.T) {
	_, m := randomModel(t, llamatest.RandomConfig{Embd: 128, Heads: 2, RopeScalingType: "yarn", RopeScalingFactor: 8, RopeOrigCtx: 32})
	c := &m.Config
	d := c.RopeDimensionCount
	// With 64 dimensions, base 10000 and 32 original positions, pair p
	// turns 32/(2π·10000^(2p/64)) times: once at p = 5.66 (rounded up to
	// 6), 32 times below pair 0. The ramp runs from pair 0 to 6.
	lo, hi := yarnCorrDims(d, c.RopeOrigContext, c.RopeFreqBase, c.RopeYarnBetaFast, c.RopeYarnBetaSlow)
	if lo != 0 || hi != 6 {
		t.Fatalf("ramp from pair %v to %v, want 0 to 6", lo, hi)
	}
	const pos = 7
	row := make([]float32, d)
	m.rope.row(row, pos)
	mscale := 1 + 0.1*math.Log(8)
	for p := range d / 2 {
		ext := pos * math.Pow(10000, -float64(2*p)/float64(d))
		mix := 1 - min(1, float64(p)/6)
		a := ext/8*(1-mix) + ext*mix
		if dc, ds := math.Abs(float64(row[2*p])-mscale*math.Cos(a)), math.Abs(float64(row[2*p+1])-mscale*math.Sin(a)); dc > 1e-5 || ds > 1e-5 {
			t.Errorf("pair %d: cos, sin = %v, %v, want %v, %v", p, row[2*p], row[2*p+1], mscale*math.Cos(a), mscale*math.Sin(a))
		}
	}
}

// TestRopeHeadsNeox checks which elements each RoPE type pairs, on a head
// of 8 with the last 2 left alone (d = 6).
func TestRopeHeadsNeox(t *testing.T) {
	// Pair j turns by a quarter turn (cos 0, sin 1): (a, b) -> (-b, a).
	table := []float32{0, 1, 0, 1, 0, 1}
	for _, tt := range []struct {
		typ  RopeType
		want []float32
	}{
		{RopeNorm, []float32{-1, 0, -3, 2, -5, 4, 6, 7}},
		{RopeNeox, []float32{-3, -4, -5, 0, 1, 2, 6, 7}},
	} {
		x := []float32{0, 1, 2, 3, 4, 5, 6, 7}
		ropeHeads(x, table, 1, 1, 8, 6, tt.typ)
		if !slices.Equal(x, tt.want) {
			t.Errorf("%v: got %v, want %v", tt.typ, x, tt.want)
		}
	}
}

func TestLoadErrorsArchs(t *testing.T) {
	drop := func(name string) func(*gguf.TensorInfo, []byte) (tensor.Type, []uint64, []byte, bool) {
		return func(ti *gguf.TensorInfo, d []byte) (tensor.Type, []uint64, []byte, bool) {
			return ti.Type, ti.Dims, d, ti.Name != name
		}
	}
	add := func(name string, n int) func(*gguf.Writer) {
		return func(w *gguf.Writer) {
			if err := w.AddTensor(name, tensor.F32, []uint64{uint64(n)}, make([]byte, 4*n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	qwen3 := llamatest.RandomConfig{Arch: "qwen3", Embd: 64, Heads: 4, KVHeads: 2, HeadDim: 32, FF: 96}
	qwen2 := llamatest.RandomConfig{Arch: "qwen2", Embd: 64, Heads: 4, KVHeads: 2, FF: 96}
	phi3 := llamatest.RandomConfig{Arch: "phi3", Embd: 64, Heads: 4, KVHeads: 2, FF: 96}
	tests := []struct {
		name  string
		cfg   llamatest.RandomConfig
		tn    func(*gguf.TensorInfo, []byte) (tensor.Type, []uint64, []byte, bool)
		extra func(*gguf.Writer)
		want  string
	}{
		{"qwen3 without k norm", qwen3, drop("blk.1.attn_k_norm.weight"), nil, `"blk.1.attn_k_norm.weight" is missing`},
		{"qwen3 with an output bias", qwen3, nil, add("blk.0.attn_output.bias", 64), `unexpected tensor "blk.0.attn_output.bias" in a qwen3 model`},
		{"qwen2 with a q norm", qwen2, nil, add("blk.0.attn_q_norm.weight", 16), `unexpected tensor "blk.0.attn_q_norm.weight" in a qwen2 model`},
		{"qwen2 with rope_freqs", qwen2, nil, add("rope_freqs.weight", 8), `unexpected tensor "rope_freqs.weight" in a qwen2 model`},
		{"qwen2 k bias of the wrong size", qwen2, nil, nil, `"blk.0.attn_k.bias" has shape [64], want [32]`},
		{"qwen2 output bias of the wrong size", qwen2, nil, add("output.bias", 64), `"output.bias" has shape [64], want [320]`},
		{"llama rope_freqs of the wrong size", llamatest.RandomConfig{}, nil, add("rope_freqs.weight", 16), `"rope_freqs.weight" has shape [16], want [8]`},
		{"llama rope_freqs with longrope", llamatest.RandomConfig{RopeScalingType: "longrope", RopeOrigCtx: 64}, nil, add("rope_freqs.weight", 8),
			`unexpected tensor "rope_freqs.weight" in a llama model`},
		{"qwen3 longrope", llamatest.RandomConfig{Arch: "qwen3", RopeScalingType: "longrope"}, nil, nil, `"longrope" is not supported for qwen3`},
		{"phi3 with a separate gate", phi3, nil, func(w *gguf.Writer) {
			if err := w.AddTensor("blk.0.ffn_gate.weight", tensor.F32, []uint64{64, 96}, make([]byte, 4*64*96)); err != nil {
				t.Fatal(err)
			}
		}, `unexpected tensor "blk.0.ffn_gate.weight" in a phi3 model`},
		{"phi3 without ffn_up", phi3, drop("blk.1.ffn_up.weight"), nil, `"blk.1.ffn_up.weight" is missing`},
		{"phi3 without attn_qkv", phi3, drop("blk.0.attn_qkv.weight"), nil, `"blk.0.attn_q.weight" is missing`},
	}
	for _, tt := range tests {
		f := randomFile(t, tt.cfg)
		tn := tt.tn
		if tt.name == "qwen2 k bias of the wrong size" {
			tn = func(ti *gguf.TensorInfo, d []byte) (tensor.Type, []uint64, []byte, bool) {
				if ti.Name == "blk.0.attn_k.bias" {
					return ti.Type, []uint64{64}, make([]byte, 256), true
				}
				return ti.Type, ti.Dims, d, true
			}
		}
		_, err := Load(rewrite(t, f, nil, tn, tt.extra))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %s", tt.name, err, tt.want)
		}
	}

	// The biases are optional: a qwen2 file without them loads.
	f, _ := randomModel(t, qwen2)
	noBias := func(ti *gguf.TensorInfo, d []byte) (tensor.Type, []uint64, []byte, bool) {
		return ti.Type, ti.Dims, d, !strings.HasSuffix(ti.Name, ".bias")
	}
	m, err := Load(rewrite(t, f, nil, noBias, nil))
	if err != nil {
		t.Fatalf("qwen2 without biases: %v", err)
	}
	if m.layers[0].bq != nil || m.outputBias != nil {
		t.Error("qwen2 without biases: biases bound")
	}
}

func TestPhi3Config(t *testing.T) {
	f, m := randomModel(t, llamatest.RandomConfig{Arch: "phi3", Embd: 64, Heads: 4, KVHeads: 2, FF: 96})
	c := m.Config
	// The queries carry 1/sqrt(head size); q·k is not scaled again.
	if c.QueryScale != float32(1/math.Sqrt(16)) || c.AttentionScale != 1 || c.RopeType != RopeNeox {
		t.Errorf("phi3: query scale %v, attention scale %v, rope %v", c.QueryScale, c.AttentionScale, c.RopeType)
	}
	// The gate and up matrices are the two halves of ffn_up, in place, as
	// q, k and v are the thirds of attn_qkv.
	rb := 4 * 64
	for _, tt := range []struct {
		tensor string
		parts  []tensor.Matrix
	}{
		{"blk.1.ffn_up.weight", []tensor.Matrix{m.layers[1].gate, m.layers[1].up}},
		{"blk.1.attn_qkv.weight", []tensor.Matrix{m.layers[1].wq, m.layers[1].wk, m.layers[1].wv}},
	} {
		ti, _ := f.Tensor(tt.tensor)
		data := f.TensorData(ti)
		off := 0
		for i, p := range tt.parts {
			if p.Cols != 64 || len(p.Data) != p.Rows*rb || &p.Data[0] != &data[off] {
				t.Errorf("%s: part %d is not rows %d.. of it in place", tt.tensor, i, off/rb)
			}
			off += len(p.Data)
		}
		if off != len(data) {
			t.Errorf("%s: parts cover %d of %d bytes", tt.tensor, off, len(data))
		}
	}
}

// TestLongRopeFactors checks which factors Load picks: the long ones when
// the model's context is longer than the original context.
func TestLongRopeFactors(t *testing.T) {
	long, short := llamatest.LongRopeFactors(8)
	for _, tt := range []struct {
		cfg  llamatest.RandomConfig
		want []float32
	}{
		{llamatest.RandomConfig{Arch: "phi3", Ctx: 256, RopeScalingType: "longrope", RopeOrigCtx: 64}, long},
		{llamatest.RandomConfig{Arch: "phi3", Ctx: 256, RopeScalingType: "longrope", RopeOrigCtx: 256}, short},
		{llamatest.RandomConfig{Ctx: 256, RopeScalingType: "longrope", RopeOrigCtx: 128}, long},
		{llamatest.RandomConfig{Arch: "phi3", Ctx: 256}, nil},
	} {
		_, m := randomModel(t, tt.cfg)
		if !slices.Equal(m.rope.freqs, tt.want) {
			t.Errorf("%s, context %d, original %d: factors %v, want %v", tt.cfg.Arch, tt.cfg.Ctx, tt.cfg.RopeOrigCtx, m.rope.freqs, tt.want)
		}
	}
}

// randomFile writes cfg and parses it, without loading it.
func randomFile(t *testing.T, cfg llamatest.RandomConfig) *gguf.File {
	t.Helper()
	var buf bytes.Buffer
	if err := llamatest.WriteRandomLlama(&buf, cfg); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestGeGLU checks GELU gating against the tanh approximation in float64,
// to within an fp16 step of the table ggml reads it from, and exactly
// beyond ±10 where ggml takes 0 or the input.
func TestGeGLU(t *testing.T) {
	gelu := func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))) }
	for _, tt := range []struct{ g, up, want float32 }{
		{-10, 2, 0},
		{-12.5, 2, 0},
		{10, 2, 20},
		{12.5, -1, -12.5},
	} {
		gate := []float32{tt.g}
		geGLU(gate, []float32{tt.up})
		if gate[0] != tt.want {
			t.Errorf("geGLU(%g, %g) = %g, want %g", tt.g, tt.up, gate[0], tt.want)
		}
	}
	for x := -9.99; x < 10; x += 0.037 {
		gate := []float32{float32(x)}
		geGLU(gate, []float32{3})
		want := 3 * gelu(x)
		// One fp16 step of the input and one of the output.
		tol := 3 * (math.Abs(gelu(x))*2e-3 + 1e-4)
		if d := math.Abs(float64(gate[0]) - want); d > tol {
			t.Errorf("geGLU(%.3f, 3) = %g, want %g", x, gate[0], want)
		}
	}
}

func TestSoftcap(t *testing.T) {
	x := []float32{0, 1, -1, 30, -1000, 1e6}
	softcap(x, 5)
	for i, v := range []float64{0, 1, -1, 30, -1000, 1e6} {
		if want := 5 * math.Tanh(v/5); math.Abs(float64(x[i])-want) > 1e-6*5 {
			t.Errorf("softcap(%g, 5) = %g, want %g", v, x[i], want)
		}
	}
}

// TestGemma2RefusesOutputWeight: llama.cpp reads no output.weight for
// gemma2, whose classifier is always token_embd.
func TestGemma2RefusesOutputWeight(t *testing.T) {
	f, _ := randomModel(t, llamatest.RandomConfig{Arch: "gemma2"})
	g := rewrite(t, f, nil, nil, func(w *gguf.Writer) {
		e := make([]byte, 4*64*320)
		if err := w.AddTensor("output.weight", tensor.F32, []uint64{64, 320}, e); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := Load(g); err == nil || !strings.Contains(err.Error(), `unexpected tensor "output.weight"`) {
		t.Errorf("gemma2 with output.weight: %v", err)
	}
}
