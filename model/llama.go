package model

import (
	"fmt"
	"slices"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/tensor"
)

// Model is a loaded model of one of the architectures Architectures
// lists. Its weight matrices alias the memory of the gguf.File it was
// loaded from, which must stay open while the model is used. A Model is
// read-only: any number of States may use it at once.
type Model struct {
	Config Config

	embd       tensor.Matrix // token_embd: VocabSize rows of EmbeddingLength
	layers     []layer
	norm       []float32     // output_norm
	output     tensor.Matrix // the classifier; token_embd when the file ties them
	outputBias []float32     // output.bias, or nil
	rope       ropeTable
	ropeSWA    ropeTable // for the sliding-window layers, when there are any
	tied       bool
	gelu       bool // GELU rather than SiLU gates the feed-forward network
}

// layer holds one block's weights. The vectors a file may leave out are
// nil when it does.
type layer struct {
	attnNorm     []float32
	wq, wk, wv   tensor.Matrix
	bq, bk, bv   []float32 // projection biases
	qNorm, kNorm []float32 // per-head RMSNorm weights of queries and keys
	wo           tensor.Matrix
	bo           []float32
	ffnNorm      []float32
	gate, up     tensor.Matrix
	down         tensor.Matrix
	bGate, bUp   []float32
	bDown        []float32

	postAttnNorm, postFFNNorm []float32 // Gemma's norms of the block outputs
	window                    int       // sliding window; 0 for a global layer
}

// Load reads the configuration and binds every tensor of a GGUF file of a
// supported architecture, checking each one's presence, type and shape. It
// refuses a file with a tensor the architecture does not use. The small
// norm and bias vectors are decoded to float32. Weight matrices with a
// packed layout on this CPU (tensor.Pack) are packed into new memory, as
// llama.cpp repacks them; the others, and the token embeddings, stay in
// the file's memory.
func Load(f *gguf.File) (*Model, error) { return LoadWith(f, LoadOptions{}) }

// LoadOptions change how Load binds a model.
type LoadOptions struct {
	// NoPack leaves every matrix in the file's memory, not copied.
	NoPack bool
}

// LoadWith is Load with options.
func LoadWith(f *gguf.File, o LoadOptions) (*Model, error) {
	c, err := ReadConfig(f)
	if err != nil {
		return nil, err
	}
	fam, err := lookupFamily(c.Arch)
	if err != nil {
		return nil, err
	}
	l := loader{f: f, used: map[string]bool{}}
	m := &Model{Config: c, gelu: fam.gemma}
	E, V := c.EmbeddingLength, c.VocabSize
	qDim, kDim, vDim := c.HeadCount*c.KeyLength, c.HeadCountKV*c.KeyLength, c.HeadCountKV*c.ValueLength

	m.embd = l.matrix("token_embd.weight", E, V)
	if l.err == nil {
		// Token lookup decodes rows of the embedding.
		if err := tensor.Dequantize(m.embd.Type, m.embd.Row(0), make([]float32, E)); err != nil {
			return nil, fmt.Errorf("model: tensor %q: %w", "token_embd.weight", err)
		}
	}
	m.norm = l.vector("output_norm.weight", E)
	if _, ok := f.Tensor("output.weight"); ok && !fam.tiedOutput {
		m.output = l.matrix("output.weight", E, V)
	} else {
		m.output, m.tied = m.embd, true
	}
	if fam.outputBias {
		m.outputBias = l.optVector("output.bias", V)
	}
	var freqs []float32
	if pairs := c.RopeDimensionCount / 2; fam.ropeLongShort || fam.ropeFreqs && c.RopeLongRope {
		long := l.optVector("rope_factors_long.weight", pairs)
		freqs = l.optVector("rope_factors_short.weight", pairs)
		if c.ContextLength > c.RopeOrigContext {
			freqs = long
		}
	} else if fam.ropeFreqs {
		freqs = l.optVector("rope_freqs.weight", pairs)
	}
	m.rope = newRopeTable(&c, freqs)
	if c.SlidingWindow > 0 {
		local := c
		local.RopeFreqBase, local.RopeFreqScale = c.RopeFreqBaseSWA, c.RopeFreqScaleSWA
		m.ropeSWA = newRopeTable(&local, freqs)
	}
	m.layers = make([]layer, c.BlockCount)
	for i := range m.layers {
		p := fmt.Sprintf("blk.%d.", i)
		F := c.FeedForwardLength
		L := layer{
			attnNorm: l.vector(p+"attn_norm.weight", E),
			wo:       l.matrix(p+"attn_output.weight", c.HeadCount*c.ValueLength, E),
			ffnNorm:  l.vector(p+"ffn_norm.weight", E),
			down:     l.matrix(p+"ffn_down.weight", F, E),
		}
		if _, ok := f.Tensor(p + "attn_qkv.weight"); ok {
			// One matmul's rows are split three ways: each output row is
			// computed on its own, so this is the fused product.
			qkv := l.matrix(p+"attn_qkv.weight", E, qDim+kDim+vDim)
			L.wq, L.wk, L.wv = l.rows(qkv, 0, qDim), l.rows(qkv, qDim, qDim+kDim), l.rows(qkv, qDim+kDim, qDim+kDim+vDim)
			if b := l.optVector(p+"attn_qkv.bias", qDim+kDim+vDim); b != nil {
				L.bq, L.bk, L.bv = b[:qDim], b[qDim:qDim+kDim], b[qDim+kDim:]
			}
		} else {
			L.wq = l.matrix(p+"attn_q.weight", E, qDim)
			L.wk = l.matrix(p+"attn_k.weight", E, kDim)
			L.wv = l.matrix(p+"attn_v.weight", E, vDim)
		}
		if fam.qkvBias && L.bq == nil {
			// Fused weights may come with separate biases.
			L.bq = l.optVector(p+"attn_q.bias", qDim)
			L.bk = l.optVector(p+"attn_k.bias", kDim)
			L.bv = l.optVector(p+"attn_v.bias", vDim)
		}
		if fam.fusedGateUp {
			gu := l.matrix(p+"ffn_up.weight", E, 2*F)
			L.gate, L.up = l.rows(gu, 0, F), l.rows(gu, F, 2*F)
		} else {
			L.gate = l.matrix(p+"ffn_gate.weight", E, F)
			L.up = l.matrix(p+"ffn_up.weight", E, F)
		}
		if fam.qkNorm {
			L.qNorm = l.vector(p+"attn_q_norm.weight", c.KeyLength)
			L.kNorm = l.vector(p+"attn_k_norm.weight", c.KeyLength)
		}
		if fam.outBias {
			L.bo = l.optVector(p+"attn_output.bias", E)
		}
		if fam.ffnBias {
			L.bGate = l.optVector(p+"ffn_gate.bias", c.FeedForwardLength)
			L.bUp = l.optVector(p+"ffn_up.bias", c.FeedForwardLength)
			L.bDown = l.optVector(p+"ffn_down.bias", E)
		}
		if fam.gemma {
			L.postAttnNorm = l.vector(p+"post_attention_norm.weight", E)
			L.postFFNNorm = l.vector(p+"post_ffw_norm.weight", E)
		}
		L.window = c.window(i)
		m.layers[i] = L
	}
	if l.err != nil {
		return nil, l.err
	}
	// A tensor this code does not read (a bias the architecture has no
	// place for, an expert) means the file describes a model it would
	// compute wrongly.
	for _, t := range f.Tensors {
		if !l.used[t.Name] {
			return nil, fmt.Errorf("model: unexpected tensor %q in a %s model", t.Name, c.Arch)
		}
	}
	if !o.NoPack {
		m.pack(f)
	}
	return m, nil
}

// pack packs the matrices only MatMul reads, and lets the file's pages of
// those it copied go. The embeddings are also read by row, so a tied
// output stays as it is.
func (m *Model) pack(f *gguf.File) {
	mats := []*tensor.Matrix{}
	for i := range m.layers {
		L := &m.layers[i]
		mats = append(mats, &L.wq, &L.wk, &L.wv, &L.wo, &L.gate, &L.up, &L.down)
	}
	if !m.tied {
		mats = append(mats, &m.output)
	}
	for _, w := range mats {
		old := w.Data
		if *w = tensor.Pack(*w); w.Packed() {
			f.Release(old)
		}
	}
}

// loader binds tensors, keeping the first error so that Load reads as a
// list of the tensors it expects.
type loader struct {
	f    *gguf.File
	used map[string]bool
	err  error
}

func (l *loader) tensor(name string, dims ...int) *gguf.TensorInfo {
	if l.err != nil {
		return nil
	}
	t, ok := l.f.Tensor(name)
	if !ok {
		l.err = fmt.Errorf("model: tensor %q is missing", name)
		return nil
	}
	l.used[name] = true
	want := make([]uint64, len(dims))
	for i, d := range dims {
		want[i] = uint64(d)
	}
	if !slices.Equal(t.Dims, want) {
		l.err = fmt.Errorf("model: tensor %q has shape %v, want %v", name, t.Dims, want)
		return nil
	}
	return t
}

// matrix binds a 2-D tensor of rows x cols (GGUF dims [cols, rows]) that
// tensor.MatMul can multiply by.
func (l *loader) matrix(name string, cols, rows int) tensor.Matrix {
	t := l.tensor(name, cols, rows)
	if t == nil {
		return tensor.Matrix{}
	}
	m := tensor.Matrix{Type: t.Type, Rows: rows, Cols: cols, Data: l.f.TensorData(t)}
	if err := m.Check(); err != nil {
		l.err = fmt.Errorf("model: tensor %q: %w", name, err)
	}
	return m
}

// rows returns rows [lo, hi) of m, sharing its memory.
func (l *loader) rows(m tensor.Matrix, lo, hi int) tensor.Matrix {
	if l.err != nil {
		return tensor.Matrix{}
	}
	rb, err := m.Type.RowBytes(m.Cols)
	if err != nil {
		l.err = fmt.Errorf("model: %w", err)
		return tensor.Matrix{}
	}
	return tensor.Matrix{Type: m.Type, Rows: hi - lo, Cols: m.Cols, Data: m.Data[lo*rb : hi*rb]}
}

// optVector is vector for a tensor the file may leave out: nil when it
// does.
func (l *loader) optVector(name string, n int) []float32 {
	if _, ok := l.f.Tensor(name); !ok {
		return nil
	}
	return l.vector(name, n)
}

// vector decodes a 1-D tensor of n elements.
func (l *loader) vector(name string, n int) []float32 {
	t := l.tensor(name, n)
	if t == nil {
		return nil
	}
	v := make([]float32, n)
	if err := tensor.Dequantize(t.Type, l.f.TensorData(t), v); err != nil {
		l.err = fmt.Errorf("model: tensor %q: %w", name, err)
	}
	return v
}
