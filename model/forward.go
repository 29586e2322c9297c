package model

import (
	"fmt"
	"math"

	"github.com/joule-llm/joule/tensor"
)

// Forward runs tokens through the model at positions s.Pos(), s.Pos()+1, ...
// as one batch, appends their keys and values to s, and writes the logits of
// the last token into logits (VocabSize values). With logits nil it only
// fills the cache, skipping the work that feeds nothing but the logits,
// which suits all but the last chunk of a long prompt.
//
// It fails, leaving s unchanged, when the tokens do not fit in the context
// (the error wraps ErrContextFull) or a token id is outside the vocabulary.
// The pool p (nil runs everything on the caller) splits the matmuls and
// attention; like the State, it must not be used by two calls at once.
func (m *Model) Forward(p *tensor.Pool, s *State, tokens []int, logits []float32) error {
	return m.forward(p, s, tokens, logits, false)
}

// ForwardAll is Forward with the logits of every token: logits holds
// len(tokens) rows of VocabSize values, row i for tokens[i].
func (m *Model) ForwardAll(p *tensor.Pool, s *State, tokens []int, logits []float32) error {
	return m.forward(p, s, tokens, logits, true)
}

func (m *Model) forward(p *tensor.Pool, s *State, tokens []int, logits []float32, all bool) error {
	c := &m.Config
	n := len(tokens)
	switch {
	case s.m != m:
		return fmt.Errorf("model: the state belongs to another model")
	case n == 0:
		return fmt.Errorf("model: no tokens to run")
	case n > s.ctxLen-s.pos:
		return fmt.Errorf("%w: %d tokens at position %d exceed the context of %d", ErrContextFull, n, s.pos, s.ctxLen)
	}
	for i, t := range tokens {
		if t < 0 || t >= c.VocabSize {
			return fmt.Errorf("model: token %d (index %d) is outside the vocabulary of %d", t, i, c.VocabSize)
		}
	}
	outRows := 1
	if all {
		outRows = n
	}
	if logits != nil && len(logits) != outRows*c.VocabSize {
		return fmt.Errorf("model: logits has %d values, want %d", len(logits), outRows*c.VocabSize)
	}

	s.grow(n)
	E := c.EmbeddingLength
	x := s.x[:n*E]
	for i, t := range tokens {
		if err := tensor.Dequantize(m.embd.Type, m.embd.Row(t), x[i*E:(i+1)*E]); err != nil {
			return fmt.Errorf("model: token embedding: %w", err)
		}
	}
	s.ropeTable(n)

	rows := n // tokens still carried through the residual stream
	for li := range m.layers {
		L := &m.layers[li]
		last := li == len(m.layers)-1
		xb := s.xb[:rows*E]
		for i := range rows {
			rmsNorm(xb[i*E:(i+1)*E], x[i*E:(i+1)*E], L.attnNorm, c.RMSEpsilon)
		}

		k, v := s.k[:n*L.wk.Rows], s.v[:n*L.wv.Rows]
		tensor.MatMul(p, k, L.wk, xb, n)
		tensor.MatMul(p, v, L.wv, xb, n)
		s.ropeHeads(k, n, c.HeadCountKV, c.KeyLength)
		s.store(li, k, v, n)
		if last && logits == nil {
			break // the last block's output feeds only the logits
		}

		q := s.q[:n*L.wq.Rows]
		tensor.MatMul(p, q, L.wq, xb, n)
		s.ropeHeads(q, n, c.HeadCount, c.KeyLength)
		s.attn = attnJob{layer: li, n: n, pos: s.pos, scale: c.AttentionScale}
		parallel(p, n*c.HeadCount, s.attnFn)
		tensor.MatMul(p, xb, L.wo, s.att[:n*L.wo.Cols], n)

		if last && !all && n > 1 {
			// As llama.cpp does, carry only the row whose logits are wanted
			// through the last feed-forward block.
			copy(x[:E], x[(n-1)*E:])
			copy(xb[:E], xb[(n-1)*E:])
			rows = 1
			x, xb = x[:E], xb[:E]
		}
		add(x, xb)

		for i := range rows {
			rmsNorm(xb[i*E:(i+1)*E], x[i*E:(i+1)*E], L.ffnNorm, c.RMSEpsilon)
		}
		F := c.FeedForwardLength
		gate, up := s.gate[:rows*F], s.up[:rows*F]
		tensor.MatMul(p, gate, L.gate, xb, rows)
		tensor.MatMul(p, up, L.up, xb, rows)
		swiGLU(gate, up)
		tensor.MatMul(p, xb, L.down, gate, rows)
		add(x, xb)
	}
	s.pos += n
	if logits == nil {
		return nil
	}
	xb := s.xb[:rows*E]
	for i := range rows {
		rmsNorm(xb[i*E:(i+1)*E], x[i*E:(i+1)*E], m.norm, c.RMSEpsilon)
	}
	tensor.MatMul(p, logits, m.output, xb, rows)
	return nil
}

// parallel runs fn over [0, n) on the pool, or directly without one.
func parallel(p *tensor.Pool, n int, fn func(lo, hi int)) {
	if p == nil || p.Threads() <= 1 || n <= 1 {
		fn(0, n)
		return
	}
	p.Run(n, fn)
}

// rmsNorm writes x / sqrt(mean(x²) + eps) * w into out with ggml's
// arithmetic: squares in float32, summed in float64, the scale in float32.
func rmsNorm(out, x, w []float32, eps float32) {
	var sum float64
	for _, v := range x {
		sum += float64(v * v)
	}
	mean := float32(sum / float64(len(x)))
	scale := 1 / float32(math.Sqrt(float64(mean+eps)))
	for i, v := range x {
		out[i] = v * scale * w[i]
	}
}

func add(x, y []float32) {
	y = y[:len(x)]
	for i := range x {
		x[i] += y[i]
	}
}

// swiGLU sets gate to silu(gate) * up.
func swiGLU(gate, up []float32) {
	up = up[:len(gate)]
	for i, g := range gate {
		gate[i] = g / (1 + exp32(-g)) * up[i]
	}
}

func exp32(x float32) float32 { return float32(math.Exp(float64(x))) }

// ropeTable fills s.rope with the cos/sin pairs of the batch's positions,
// computed the way ggml's rope cache does: the angle of pair j is
// pos * base^(-2j/n_rot), stepped by repeated float32 multiplication.
func (s *State) ropeTable(n int) {
	c := &s.m.Config
	d := c.RopeDimensionCount
	step := float32(math.Pow(float64(c.RopeFreqBase), float64(-2/float32(d))))
	for i := range n {
		theta := float32(s.pos + i)
		t := s.rope[i*d : (i+1)*d]
		for j := 0; j < d; j += 2 {
			a := theta
			if s.m.ropeFreqs != nil {
				a /= s.m.ropeFreqs[j/2]
			}
			a *= c.RopeFreqScale
			t[j] = float32(math.Cos(float64(a)))
			t[j+1] = float32(math.Sin(float64(a)))
			theta *= step
		}
	}
}

// ropeHeads rotates adjacent pairs (x[2j], x[2j+1]) of the first
// RopeDimensionCount dimensions of every head of n rows of heads*headDim.
func (s *State) ropeHeads(x []float32, n, heads, headDim int) {
	d := s.m.Config.RopeDimensionCount
	for i := range n {
		t := s.rope[i*d : (i+1)*d]
		for h := range heads {
			v := x[(i*heads+h)*headDim:][:d]
			for j := 0; j < d; j += 2 {
				x0, x1 := v[j], v[j+1]
				cos, sin := t[j], t[j+1]
				v[j] = x0*cos - x1*sin
				v[j+1] = x0*sin + x1*cos
			}
		}
	}
}

// store appends n rows of keys and values to layer li's cache.
func (s *State) store(li int, k, v []float32, n int) {
	kw, vw := len(k)/n, len(v)/n
	if s.kvType == tensor.F16 {
		kc := s.k16[li][s.pos*kw : (s.pos+n)*kw]
		vc := s.v16[li][s.pos*vw : (s.pos+n)*vw]
		for i, f := range k {
			kc[i] = tensor.Float32ToFP16(f)
		}
		for i, f := range v {
			vc[i] = tensor.Float32ToFP16(f)
		}
		return
	}
	copy(s.k32[li][s.pos*kw:], k)
	copy(s.v32[li][s.pos*vw:], v)
}

// attend computes attention outputs for the (token, head) pairs lo..hi-1 of
// the current batch: token i of the batch sees cache positions 0..pos+i.
// Pairs are numbered so that tokens alternate from both ends of the batch
// (first, last, second, second to last, ...): the later a token, the more
// positions it sees, and this way every contiguous range the pool hands
// out holds a fair share of the work.
func (s *State) attend(lo, hi int) {
	c := &s.m.Config
	j := s.attn
	H, Dk, Dv := c.HeadCount, c.KeyLength, c.ValueLength
	group := H / c.HeadCountKV
	kStride, vStride := c.HeadCountKV*Dk, c.HeadCountKV*Dv
	for it := lo; it < hi; it++ {
		i, h := it/H, it%H
		if i%2 == 0 {
			i /= 2
		} else {
			i = j.n - 1 - i/2
		}
		kvh := h / group
		q := s.q[(i*H+h)*Dk:][:Dk]
		out := s.att[(i*H+h)*Dv:][:Dv]
		n := j.pos + i + 1
		if s.kvType == tensor.F16 {
			attendF16(out, q, s.k16[j.layer][kvh*Dk:], s.v16[j.layer][kvh*Dv:], kStride, vStride, n, j.scale)
		} else {
			attendF32(out, q, s.k32[j.layer][kvh*Dk:], s.v32[j.layer][kvh*Dv:], kStride, vStride, n, j.scale)
		}
	}
}

// attendF16 is one query head against n cached positions of an F16 cache,
// computed as ggml's CPU flash attention does it: the query rounded to
// fp16, q·k as dotFP16, an online softmax in float32, and the weighted sum
// of values kept in fp16 precision, each update a fused multiply-add
// rounded to fp16.
func attendF16(out, q []float32, keys, vals []uint16, kStride, vStride, n int, scale float32) {
	roundFP16s(q)
	clear(out)
	m := float32(math.Inf(-1))
	var sum float32
	for t := range n {
		sc := dotFP16(q, keys[t*kStride:][:len(q)]) * scale
		ms, vs := float32(1), float32(1)
		if sc > m {
			ms = exp32(m - sc)
			m = sc
			for d := range out {
				out[d] *= ms
			}
			roundFP16s(out)
		} else {
			vs = exp32(sc - m)
		}
		v := vals[t*vStride:][:len(out)]
		for d, h := range v {
			// The product of an fp16 value and a float32 is exact in
			// float64, so this rounds once to float32, as an FMA does.
			out[d] = float32(float64(out[d]) + float64(fp16to32(h))*float64(vs))
		}
		roundFP16s(out)
		sum = sum*ms + vs
	}
	inv := 1 / sum
	for d := range out {
		out[d] *= inv
	}
}

// dotFP16 returns q·k for an fp16-valued q the way ggml_vec_dot_f16 sums it
// in llama.cpp's AVX-512 build (the zen4 CPU backend the reference outputs
// come from): blocks of 64 elements accumulate into four 16-lane float32
// registers, lane by lane (each product of two fp16 values is exact, so the
// fused multiply-add rounds just once, as a float32 add does here); the
// registers are added pairwise and the 16 lanes reduced in the order of
// _mm512_reduce_add_ps; the elements after the last whole block are added
// in float64. Heads narrower than 64 are thus summed entirely in float64.
func dotFP16(q []float32, k []uint16) float32 {
	k = k[:len(q)]
	whole := len(q) &^ 63
	var sum float64
	if whole > 0 {
		var acc [64]float32 // register j, lane l at acc[16*j+l]
		for i := 0; i < whole; i += 64 {
			qb, kb := q[i:i+64], k[i:i+64]
			for e := range acc {
				acc[e] += qb[e] * fp16to32(kb[e])
			}
		}
		var r [16]float32
		for l := range r {
			r[l] = (acc[l] + acc[32+l]) + (acc[16+l] + acc[48+l])
		}
		for w := 8; w >= 2; w /= 2 { // add the upper half of the lanes onto the lower
			for l := range w {
				r[l] = r[w+l] + r[l]
			}
		}
		sum = float64(r[0] + r[1])
	}
	for i := whole; i < len(q); i++ {
		sum += float64(q[i] * fp16to32(k[i]))
	}
	return float32(sum)
}

// attendF32 is attendF16 for an F32 cache, all in float32 but the dot
// products.
func attendF32(out, q []float32, keys, vals []float32, kStride, vStride, n int, scale float32) {
	clear(out)
	m := float32(math.Inf(-1))
	var sum float32
	for t := range n {
		k := keys[t*kStride:][:len(q)]
		var dot float64
		for d, f := range q {
			dot += float64(f) * float64(k[d])
		}
		sc := float32(dot) * scale
		ms, vs := float32(1), float32(1)
		if sc > m {
			ms = exp32(m - sc)
			m = sc
			for d := range out {
				out[d] *= ms
			}
		} else {
			vs = exp32(sc - m)
		}
		v := vals[t*vStride:][:len(out)]
		for d, f := range v {
			out[d] += f * vs
		}
		sum = sum*ms + vs
	}
	inv := 1 / sum
	for d := range out {
		out[d] *= inv
	}
}
