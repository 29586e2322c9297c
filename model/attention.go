package model

import (
	"math"
	"slices"

	"github.com/joule-llm/joule/tensor"
)

// softmax is the running state of an online softmax over the positions a
// query has seen so far: the largest score and the sum of exp(score - max).
// Carrying it from one call of flashF16 or flashF32 to the next lets a
// query attend to a cache stored in separate blocks with the very
// arithmetic of one pass over a contiguous cache.
type softmax struct{ max, sum float32 }

func newSoftmax() softmax { return softmax{max: float32(math.Inf(-1))} }

// finish divides the weighted sum of values in out by the softmax sum.
func (s softmax) finish(out []float32) {
	inv := 1 / s.sum
	for d := range out {
		out[d] *= inv
	}
}

// attendF16 is one query head against n cached positions of an F16 cache,
// computed as ggml's CPU flash attention does it: the query rounded to
// fp16, q·k as tensor.DotF16Q sums it, an online softmax in float32, and
// the weighted sum of values kept in fp16 precision, each update a fused
// multiply-add rounded to fp16.
func attendF16(out, q []float32, keys, vals []uint16, kStride, vStride, n int, scale float32) {
	roundFP16s(q)
	clear(out)
	flashF16(out, q, keys, vals, kStride, vStride, n, scale, newSoftmax()).finish(out)
}

// flashF16 runs the loop of attendF16 over n more positions, continuing
// from the softmax state s and the unnormalised sum in out, and returns the
// new state. q must already be rounded to fp16, and out hold fp16 values.
//
// It takes the positions in runs of up to flashRun: the scores of a run
// first (tensor.DotsF16Q), then the softmax factors (their exponentials
// all at once, with tensor.Exp32s, which gives exp32's bits), then the
// value updates (tensor.AccumulateF16), which keep out in registers over
// the run. For one element of out the operations are those of the
// position by position loop: when the maximum grows, out is scaled by ms
// and rounded to fp16, and then out = fma(v, vs, out) rounded to fp16.
// AccumulateF16 skips the scaling when ms is 1, which changes nothing as
// out holds fp16 values.
func flashF16(out, q []float32, keys, vals []uint16, kStride, vStride, n int, scale float32, s softmax) softmax {
	var e, ms, vs [flashRun]float32
	var grew [flashRun]bool
	m, sum := s.max, s.sum
	for t0 := 0; t0 < n; t0 += flashRun {
		c := min(flashRun, n-t0)
		tensor.DotsF16Q(e[:c], q, keys[t0*kStride:], kStride)
		// The exponents: m - x where the scaled score x is a new maximum
		// m (ms = exp(m - x), vs = 1), else x - m (ms = 1, vs = exp(x - m)).
		for t, d := range e[:c] {
			x := d * scale
			if grew[t] = x > m; grew[t] {
				e[t] = m - x
				m = x
			} else {
				e[t] = x - m
			}
		}
		tensor.Exp32s(e[:c], e[:c])
		for t, f := range e[:c] {
			ms[t], vs[t] = 1, f
			if grew[t] {
				ms[t], vs[t] = f, 1
			}
			sum = sum*ms[t] + vs[t]
		}
		tensor.AccumulateF16(out, vals[t0*vStride:], vStride, ms[:c], vs[:c])
	}
	return softmax{m, sum}
}

// flashRun is the most positions flashF16 scores at once.
const flashRun = 64

// attendF32 is attendF16 for an F32 cache, all in float32 but the dot
// products.
func attendF32(out, q []float32, keys, vals []float32, kStride, vStride, n int, scale float32) {
	clear(out)
	flashF32(out, q, keys, vals, kStride, vStride, n, scale, newSoftmax()).finish(out)
}

// flashF32 is flashF16 for an F32 cache.
func flashF32(out, q []float32, keys, vals []float32, kStride, vStride, n int, scale float32, s softmax) softmax {
	m, sum := s.max, s.sum
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
	return softmax{m, sum}
}

// attnItem is one unit of attention work: one head of the rows of span
// that are first, first+stride, first+2*stride, ... Taking every
// stride-th row, rather than a run of rows, gives each piece of a long
// prefill chunk about the same number of positions to attend to.
type attnItem struct {
	span, head    int32
	first, stride int32
	cost          int64 // positions attended to, summed over the rows
}

// planAttention splits the attention of the current step into items for
// threads workers. Each (span, head) pair becomes one item, or several when
// there are too few pairs to keep the threads busy; with more than one
// thread the items are sorted costliest first, so that workers taking them
// in turn finish together.
func (w *Workspace) planAttention(threads int) {
	H := w.m.Config.HeadCount
	rows := 0
	for _, sp := range w.spans {
		rows += sp.n
	}
	want := 1 // items wanted in all
	if threads > 1 {
		want = 4 * threads
	}
	w.items = w.items[:0]
	for si, sp := range w.spans {
		if sp.n == 0 {
			continue
		}
		// A share of the items in proportion to the span's rows, and at
		// most one per row, which bounds the items by H times the rows of
		// the step: the capacity the Workspace reserves.
		pieces := min(sp.n, max(1, (want*sp.n+H*rows-1)/(H*rows)))
		for h := range H {
			for k := range pieces {
				cnt := int64((sp.n - k + pieces - 1) / pieces) // rows k, k+pieces, ... below sp.n
				cost := cnt*int64(sp.pos+k+1) + int64(pieces)*cnt*(cnt-1)/2
				w.items = append(w.items, attnItem{
					span: int32(si), head: int32(h),
					first: int32(k), stride: int32(pieces),
					cost: cost,
				})
			}
		}
	}
	if threads > 1 {
		slices.SortFunc(w.items, func(a, b attnItem) int {
			if a.cost != b.cost {
				if a.cost > b.cost {
					return -1
				}
				return 1
			}
			return 0
		})
	}
	w.next.Store(0)
}

// attendWorker runs attention items, taking the next one not yet taken
// until none are left. Every thread of the pool runs it once, whatever
// range it is given: taking items one by one balances the threads where
// fixed ranges could not.
func (w *Workspace) attendWorker(_, _ int) {
	for {
		i := int(w.next.Add(1) - 1)
		if i >= len(w.items) {
			return
		}
		w.attendItem(&w.items[i])
	}
}

// attendItem computes the attention output of one item's rows and head:
// the row at position pos sees positions 0..pos of its own sequence, read
// block by block through the sequence's block table.
func (w *Workspace) attendItem(it *attnItem) {
	c := &w.m.Config
	j := &w.attn
	sp := &w.spans[it.span]
	H, Dk, Dv := c.HeadCount, c.KeyLength, c.ValueLength
	h := int(it.head)
	kvh := h / (H / c.HeadCountKV)
	ko, vo := kvh*Dk, kvh*Dv
	bs, stride := j.cache.BlockSize(), j.cache.RowLen()
	for i := int(it.first); i < sp.n; i += int(it.stride) {
		r := sp.row + i
		q := w.q[(r*H+h)*Dk:][:Dk]
		out := w.att[(r*H+h)*Dv:][:Dv]
		n := sp.pos + i + 1 // positions to attend to
		clear(out)
		s := newSoftmax()
		if j.cache.Type() == tensor.F16 {
			roundFP16s(q)
			for b := 0; n > 0; b++ {
				blk, cnt := sp.blocks[b], min(bs, n)
				s = flashF16(out, q, j.cache.K16(j.layer, blk)[ko:], j.cache.V16(j.layer, blk)[vo:], stride, stride, cnt, j.scale, s)
				n -= cnt
			}
		} else {
			for b := 0; n > 0; b++ {
				blk, cnt := sp.blocks[b], min(bs, n)
				s = flashF32(out, q, j.cache.K32(j.layer, blk)[ko:], j.cache.V32(j.layer, blk)[vo:], stride, stride, cnt, j.scale, s)
				n -= cnt
			}
		}
		s.finish(out)
	}
}
