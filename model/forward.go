package model

import (
	"fmt"
	"math"

	"github.com/joule-llm/joule/kv"
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
	if err := m.checkTokens(tokens); err != nil {
		return err
	}
	out := 0 // trailing tokens whose logits are wanted
	if logits != nil {
		out = 1
		if all {
			out = n
		}
		if len(logits) != out*c.VocabSize {
			return fmt.Errorf("model: logits has %d values, want %d", len(logits), out*c.VocabSize)
		}
	}

	if s.w == nil || s.w.maxTokens < n {
		s.w = m.NewWorkspace(n)
	}
	w := s.w
	w.tokens = append(w.tokens[:0], tokens...)
	w.spans = append(w.spans[:0], span{n: n, pos: s.pos, blocks: s.blocks, out: out})
	if err := m.run(p, w, s.cache, logits); err != nil {
		return err
	}
	s.pos += n
	return nil
}

func (m *Model) checkTokens(tokens []int) error {
	for i, t := range tokens {
		if t < 0 || t >= m.Config.VocabSize {
			return fmt.Errorf("model: token %d (index %d) is outside the vocabulary of %d", t, i, m.Config.VocabSize)
		}
	}
	return nil
}

// run is the forward pass behind Forward and ForwardBatch, once they have
// checked their input and described it in w: the token of each row, and
// the spans that group consecutive rows of one sequence. It writes the
// keys and values of every row into cache through the spans' block
// tables, and the logits of the rows the spans ask for, in row order, into
// logits.
//
// Every row goes through each matmul together with all the others, so the
// weights are read once per step. A matmul computes each row's outputs on
// their own, and attention reads only the row's own sequence, so a row's
// results do not depend on the other rows of the step.
func (m *Model) run(p *tensor.Pool, w *Workspace, cache *kv.Storage, logits []float32) error {
	defer w.release()
	c := &m.Config
	E, d := c.EmbeddingLength, c.RopeDimensionCount
	n := len(w.tokens)
	x := w.x[:n*E]
	for i, t := range w.tokens {
		if err := tensor.Dequantize(m.embd.Type, m.embd.Row(t), x[i*E:(i+1)*E]); err != nil {
			return fmt.Errorf("model: token embedding: %w", err)
		}
	}
	if c.EmbedScale != 0 {
		scale(x, c.EmbedScale)
	}
	outRows := 0
	for _, sp := range w.spans {
		for i := range sp.n {
			m.rope.row(w.rope[(sp.row+i)*d:][:d], sp.pos+i)
			if w.ropeSWA != nil {
				m.ropeSWA.row(w.ropeSWA[(sp.row+i)*d:][:d], sp.pos+i)
			}
		}
		outRows += sp.out
	}
	w.attn = attnJob{cache: cache, scale: c.AttentionScale, softcap: c.AttnSoftcap}
	if c.AttnSoftcap != 0 {
		// As ggml's flash attention folds the cap into the scale.
		w.attn.scale /= c.AttnSoftcap
	}
	threads := p.Threads()

	rows := n // rows still carried through the residual stream
	for li := range m.layers {
		L := &m.layers[li]
		last := li == len(m.layers)-1
		xb := w.xb[:rows*E]
		for i := range rows {
			rmsNorm(xb[i*E:(i+1)*E], x[i*E:(i+1)*E], L.attnNorm, c.RMSEpsilon)
		}
		table := w.rope
		if L.window > 0 {
			table = w.ropeSWA
		}

		k, v := w.k[:n*L.wk.Rows], w.v[:n*L.wv.Rows]
		tensor.MatMul(p, k, L.wk, xb, n)
		addBias(k, L.bk)
		headNorm(k, L.kNorm, c.RMSEpsilon)
		ropeHeads(k, table, n, c.HeadCountKV, c.KeyLength, d, c.RopeType)
		tensor.MatMul(p, v, L.wv, xb, n)
		addBias(v, L.bv)
		w.store(li, k, v)
		if last {
			if outRows == 0 {
				break // the last block's output feeds only the logits
			}
			if outRows < rows {
				// As llama.cpp does, carry only the rows whose logits are
				// wanted through the last block's attention and
				// feed-forward network.
				w.keepOutRows()
				rows = outRows
				x, xb = x[:rows*E], xb[:rows*E]
			}
		}

		q := w.q[:rows*L.wq.Rows]
		tensor.MatMul(p, q, L.wq, xb, rows)
		addBias(q, L.bq)
		headNorm(q, L.qNorm, c.RMSEpsilon)
		ropeHeads(q, table, rows, c.HeadCount, c.KeyLength, d, c.RopeType)
		if c.QueryScale != 1 {
			scale(q, c.QueryScale)
		}
		w.attn.layer, w.attn.window = li, L.window
		w.planAttention(threads)
		if threads > 1 {
			p.Run(threads, w.attnFn)
		} else {
			w.attendWorker(0, 1)
		}
		tensor.MatMul(p, xb, L.wo, w.att[:rows*L.wo.Cols], rows)
		addBias(xb, L.bo)
		normRows(xb, L.postAttnNorm, E, c.RMSEpsilon)
		add(x, xb)

		for i := range rows {
			rmsNorm(xb[i*E:(i+1)*E], x[i*E:(i+1)*E], L.ffnNorm, c.RMSEpsilon)
		}
		F := c.FeedForwardLength
		gate, up := w.gate[:rows*F], w.up[:rows*F]
		tensor.MatMul(p, gate, L.gate, xb, rows)
		tensor.MatMul(p, up, L.up, xb, rows)
		addBias(gate, L.bGate)
		addBias(up, L.bUp)
		if m.gelu {
			geGLU(gate, up)
		} else {
			swiGLU(gate, up)
		}
		tensor.MatMul(p, xb, L.down, gate, rows)
		addBias(xb, L.bDown)
		normRows(xb, L.postFFNNorm, E, c.RMSEpsilon)
		add(x, xb)
	}
	if outRows == 0 {
		return nil
	}
	xb := w.xb[:rows*E]
	for i := range rows {
		rmsNorm(xb[i*E:(i+1)*E], x[i*E:(i+1)*E], m.norm, c.RMSEpsilon)
	}
	tensor.MatMul(p, logits, m.output, xb, rows)
	addBias(logits, m.outputBias)
	if c.FinalSoftcap != 0 {
		softcap(logits, c.FinalSoftcap)
	}
	return nil
}

// normRows applies RMSNorm with weights w to every row (len(w) == width
// values) of x in place; a nil w does nothing.
func normRows(x, w []float32, width int, eps float32) {
	if w == nil {
		return
	}
	for r := 0; r < len(x); r += width {
		v := x[r : r+width]
		rmsNorm(v, v, w, eps)
	}
}

// softcap sets each x to cap·tanh(x/cap), with ggml's steps: a scale by
// 1/cap, tanh, a scale by cap.
func softcap(x []float32, cap float32) {
	inv := 1 / cap
	for i, v := range x {
		x[i] = tanh32(v*inv) * cap
	}
}

func tanh32(x float32) float32 { return float32(math.Tanh(float64(x))) }

// store writes the keys and values of every row into layer li of the
// cache: position pos of a span goes to slot pos%BlockSize of the block
// its table lists at pos/BlockSize.
func (w *Workspace) store(li int, k, v []float32) {
	cache := w.attn.cache
	n := len(w.tokens)
	kw, vw := len(k)/n, len(v)/n
	bs, rl := cache.BlockSize(), cache.RowLen()
	f16 := cache.Type() == tensor.F16
	for _, sp := range w.spans {
		for i := range sp.n {
			pos := sp.pos + i
			blk, off := sp.blocks[pos/bs], (pos%bs)*rl
			kr, vr := k[(sp.row+i)*kw:][:kw], v[(sp.row+i)*vw:][:vw]
			if f16 {
				tensor.Float32sToFP16(cache.K16(li, blk)[off:][:kw], kr)
				tensor.Float32sToFP16(cache.V16(li, blk)[off:][:vw], vr)
			} else {
				copy(cache.K32(li, blk)[off:][:kw], kr)
				copy(cache.V32(li, blk)[off:][:vw], vr)
			}
		}
	}
}

// keepOutRows moves the rows whose logits are wanted (the last sp.out rows
// of each span) to the front of the residual stream, the normed rows and
// the RoPE table, in order, and makes the spans describe just them.
func (w *Workspace) keepOutRows() {
	c := &w.m.Config
	E, d := c.EmbeddingLength, c.RopeDimensionCount
	j := 0
	for s := range w.spans {
		sp := &w.spans[s]
		from := sp.row + sp.n - sp.out
		// Rows only move towards the front, past rows already moved.
		copy(w.x[j*E:], w.x[from*E:(from+sp.out)*E])
		copy(w.xb[j*E:], w.xb[from*E:(from+sp.out)*E])
		copy(w.rope[j*d:], w.rope[from*d:(from+sp.out)*d])
		sp.pos += sp.n - sp.out
		sp.row, sp.n = j, sp.out
		j += sp.out
	}
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

// addBias adds b to every row of x, a whole number of rows of len(b); a
// nil b adds nothing.
func addBias(x, b []float32) {
	if b == nil {
		return
	}
	for r := 0; r < len(x); r += len(b) {
		add(x[r:r+len(b)], b)
	}
}

// headNorm applies RMSNorm with weights w to every head (len(w) values)
// of x in place; a nil w does nothing.
func headNorm(x, w []float32, eps float32) {
	if w == nil {
		return
	}
	for h := 0; h < len(x); h += len(w) {
		v := x[h : h+len(w)]
		rmsNorm(v, v, w, eps)
	}
}

func scale(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

func add(x, y []float32) {
	y = y[:len(x)]
	for i := range x {
		x[i] += y[i]
	}
}

// geGLU sets gate to gelu(gate) * up with ggml's CPU arithmetic: GELU's
// tanh approximation is read from a table of fp16 inputs and outputs,
// except beyond ±10 where it is 0 or the input.
func geGLU(gate, up []float32) {
	up = up[:len(gate)]
	for i, g := range gate {
		switch {
		case g <= -10:
			gate[i] = 0
		case g >= 10:
			gate[i] = g * up[i]
		default:
			gate[i] = geluFP16(g) * up[i]
		}
	}
}

// geluFP16 is GELU's tanh approximation of x rounded to fp16, computed in
// float32 and rounded to fp16, as ggml tabulates it.
func geluFP16(x float32) float32 {
	h := tensor.FP16ToFloat32(tensor.Float32ToFP16(x))
	const a, s = 0.044715, 0.79788456080286535587989211986876
	y := 0.5 * h * (1 + tanh32(s*h*(1+a*h*h)))
	return tensor.FP16ToFloat32(tensor.Float32ToFP16(y))
}

// swiGLU sets gate to silu(gate) * up.
func swiGLU(gate, up []float32) {
	up = up[:len(gate)]
	// The exponentials a chunk at a time through the vector kernel, which
	// gives exp32's bits.
	var e [64]float32
	for lo := 0; lo < len(gate); lo += len(e) {
		g := gate[lo:min(lo+len(e), len(gate))]
		for i, v := range g {
			e[i] = -v
		}
		tensor.Exp32s(e[:len(g)], e[:len(g)])
		for i, v := range g {
			g[i] = v / (1 + e[i]) * up[lo+i]
		}
	}
}

func exp32(x float32) float32 { return float32(math.Exp(float64(x))) }
