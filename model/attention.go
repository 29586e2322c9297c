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
	tensor.RoundF16(q)
	clear(out)
	s := [1]softmax{newSoftmax()}
	var buf flashBuf
	flashF16(out, q, 1, keys, vals, kStride, vStride, n, scale, 0, s[:], &buf)
	s[0].finish(out)
}

// flashF16 runs the loop of attendF16 for heads (at most flashHeads) query
// heads that share their keys and values: q and out hold the heads one
// after the other, and s their softmax states. It goes over n more
// positions, continuing from the states and the unnormalised sums in out,
// and updates the states. q must already be rounded to fp16, and out hold
// fp16 values. buf is scratch space.
//
// It takes the positions in runs of up to flashRun: the scores of a run
// first (tensor.DotsF16QHeads), then the softmax factors (their
// exponentials all at once, with tensor.Exp32s, which gives exp32's bits),
// then the value updates (tensor.AccumulateF16Heads), which keep out in
// registers over the run. Each head's arithmetic is that of a position by
// position loop over it alone: when the maximum grows, out is scaled by ms
// and rounded to fp16, and then out = fma(v, vs, out) rounded to fp16.
// The kernels skip the scaling when ms is 1, which changes nothing as out
// holds fp16 values.
//
// A nonzero softcap makes each scaled score x softcap·tanh(x), ggml's
// soft-capping, where scale already includes the division by the cap.
func flashF16(out, q []float32, heads int, keys, vals []uint16, kStride, vStride, n int, scale, softcap float32, s []softmax, buf *flashBuf) {
	e, ms, vs, grew := &buf.e, &buf.ms, &buf.vs, &buf.grew
	for t0 := 0; t0 < n; t0 += flashRun {
		c := min(flashRun, n-t0)
		hc := heads * c // head g's factors are at [g*c, (g+1)*c)
		tensor.DotsF16QHeads(e[:hc], q, heads, keys[t0*kStride:], kStride)
		if softcap != 0 {
			for t := range e[:hc] {
				e[t] = softcap * tanh32(e[t]*scale)
			}
		}
		sc := scale
		if softcap != 0 {
			sc = 1 // the scores are scaled already
		}
		// The exponents: m - x where the scaled score x is a new maximum
		// m (ms = exp(m - x), vs = 1), else x - m (ms = 1, vs = exp(x - m)).
		for g := range heads {
			m := s[g].max
			for t := g * c; t < (g+1)*c; t++ {
				x := e[t] * sc
				if grew[t] = x > m; grew[t] {
					e[t] = m - x
					m = x
				} else {
					e[t] = x - m
				}
			}
			s[g].max = m
		}
		tensor.Exp32s(e[:hc], e[:hc])
		for g := range heads {
			sum := s[g].sum
			for t := g * c; t < (g+1)*c; t++ {
				ms[t], vs[t] = 1, e[t]
				if grew[t] {
					ms[t], vs[t] = e[t], 1
				}
				sum = sum*ms[t] + vs[t]
			}
			s[g].sum = sum
		}
		tensor.AccumulateF16Heads(out, heads, vals[t0*vStride:], vStride, ms[:hc], vs[:hc])
	}
}

// flashHeads is the most query heads flashF16 takes at once: the pairs
// tensor's kernels convert each key and value once for.
const flashHeads = 2

// flashBuf holds the scores and softmax factors of a run of positions. A
// caller keeps one for its calls of flashF16, which would otherwise clear
// a new one for every block of the cache.
type flashBuf struct {
	e, ms, vs [flashHeads * flashRun]float32
	grew      [flashHeads * flashRun]bool
}

// flashRun is the most positions flashF16 scores at once.
const flashRun = 64

// attendF32 is attendF16 for an F32 cache, all in float32 but the dot
// products.
func attendF32(out, q []float32, keys, vals []float32, kStride, vStride, n int, scale float32) {
	clear(out)
	flashF32(out, q, keys, vals, kStride, vStride, n, scale, 0, newSoftmax()).finish(out)
}

// flashF32 is flashF16 for an F32 cache.
func flashF32(out, q []float32, keys, vals []float32, kStride, vStride, n int, scale, softcap float32, s softmax) softmax {
	m, sum := s.max, s.sum
	for t := range n {
		k := keys[t*kStride:][:len(q)]
		var dot float64
		for d, f := range q {
			dot += float64(f) * float64(k[d])
		}
		sc := float32(dot) * scale
		if softcap != 0 {
			sc = softcap * tanh32(sc)
		}
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

// attnItem is one unit of attention work: heads query heads from head on
// (one, or two that share a KV head) of the rows of span that are first,
// first+stride, first+2*stride, ... Taking every stride-th row, rather
// than a run of rows, gives each piece of a long prefill chunk about the
// same number of positions to attend to.
type attnItem struct {
	span          int32
	head, heads   int32
	first, stride int32
	cost          int64 // positions attended to, summed over the rows and heads
}

// planAttention splits the attention of the current step into items for
// threads workers. Each span and unit of heads becomes one item, or
// several when there are too few to keep the threads busy; with more than
// one thread the items are sorted costliest first, so that workers taking
// them in turn finish together.
//
// A unit is one query head, or, with an F16 cache, two heads that share a
// KV head, which flashF16 runs together (an odd head of a group goes
// alone). Pairs halve the items, so they are taken only while there are
// at least two items per thread.
func (w *Workspace) planAttention(threads int) {
	c := &w.m.Config
	H, group := c.HeadCount, c.HeadCount/c.HeadCountKV
	rows := 0
	for _, sp := range w.spans {
		rows += sp.n
	}
	unit := 1 // heads per unit
	if units := c.HeadCountKV * ((group + 1) / 2); group > 1 && w.attn.cache.Type() == tensor.F16 &&
		(threads <= 1 || units*rows >= 2*threads) {
		unit = 2
	}
	units := c.HeadCountKV * ((group + unit - 1) / unit)
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
		pieces := min(sp.n, max(1, (want*sp.n+units*rows-1)/(units*rows)))
		for h := 0; h < H; {
			nh := min(unit, group-h%group) // within h's group
			for k := range pieces {
				cnt := int64((sp.n - k + pieces - 1) / pieces) // rows k, k+pieces, ... below sp.n
				cost := cnt*int64(sp.pos+k+1) + int64(pieces)*cnt*(cnt-1)/2
				if win := w.attn.window; win > 0 && sp.pos+sp.n > win {
					// A row sees at most the window.
					cost = 0
					for i := k; i < sp.n; i += pieces {
						cost += int64(min(sp.pos+i+1, win))
					}
				}
				w.items = append(w.items, attnItem{
					span: int32(si), head: int32(h), heads: int32(nh),
					first: int32(k), stride: int32(pieces),
					cost: cost * int64(nh),
				})
			}
			h += nh
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

// attendItem computes the attention output of one item's rows and heads:
// the row at position pos sees positions 0..pos of its own sequence, or in
// a layer with a sliding window of W only max(0, pos-W+1)..pos, read block
// by block through the sequence's block table.
func (w *Workspace) attendItem(it *attnItem) {
	c := &w.m.Config
	j := &w.attn
	sp := &w.spans[it.span]
	H, Dk, Dv := c.HeadCount, c.KeyLength, c.ValueLength
	h, nh := int(it.head), int(it.heads)
	kvh := h / (H / c.HeadCountKV)
	ko, vo := kvh*Dk, kvh*Dv
	bs, stride := j.cache.BlockSize(), j.cache.RowLen()
	var buf flashBuf
	for i := int(it.first); i < sp.n; i += int(it.stride) {
		r := sp.row + i
		// The item's heads are consecutive, and so are their queries and
		// outputs.
		q := w.q[(r*H+h)*Dk:][:nh*Dk]
		out := w.att[(r*H+h)*Dv:][:nh*Dv]
		clear(out)
		if j.cache.Type() == tensor.F16 {
			tensor.RoundF16(q)
			var s [flashHeads]softmax
			for g := range nh {
				s[g] = newSoftmax()
			}
			first, last := start(sp.pos+i, j.window), sp.pos+i
			j.prefetch(sp.blocks, first, last, ko, vo, Dk, Dv)
			for t := first; t <= last; { // t: the next position
				blk, off := sp.blocks[t/bs], t%bs
				cnt := min(bs-off, last+1-t)
				// The rows of a paged cache are too far apart for the
				// hardware prefetcher: ask for the next block's now.
				j.prefetch(sp.blocks, t+cnt, last, ko, vo, Dk, Dv)
				flashF16(out, q, nh, j.cache.K16(j.layer, blk)[off*stride+ko:], j.cache.V16(j.layer, blk)[off*stride+vo:], stride, stride, cnt, j.scale, j.softcap, s[:nh], &buf)
				t += cnt
			}
			for g := range nh {
				s[g].finish(out[g*Dv : (g+1)*Dv])
			}
			continue
		}
		for g := range nh {
			qg, og := q[g*Dk:(g+1)*Dk], out[g*Dv:(g+1)*Dv]
			s := newSoftmax()
			for t := start(sp.pos+i, j.window); t <= sp.pos+i; {
				blk, off := sp.blocks[t/bs], t%bs
				cnt := min(bs-off, sp.pos+i+1-t)
				s = flashF32(og, qg, j.cache.K32(j.layer, blk)[off*stride+ko:], j.cache.V32(j.layer, blk)[off*stride+vo:], stride, stride, cnt, j.scale, j.softcap, s)
				t += cnt
			}
			s.finish(og)
		}
	}
}

// start returns the first position a query at pos attends to with a
// sliding window of window positions (0: none), as llama.cpp masks
// positions at least window before the query.
func start(pos, window int) int {
	if window <= 0 {
		return 0
	}
	return max(0, pos-window+1)
}

// prefetch starts loading, for the positions from t on (at most a block's
// worth, those of t's block) up to last, the keys at ko and values at vo
// of one KV head from an F16 cache.
func (j *attnJob) prefetch(blocks []int32, t, last, ko, vo, dk, dv int) {
	if t > last {
		return
	}
	bs, stride := j.cache.BlockSize(), j.cache.RowLen()
	blk, off := blocks[t/bs], t%bs
	cnt := min(bs-off, last+1-t)
	tensor.PrefetchF16Rows(j.cache.K16(j.layer, blk)[off*stride+ko:], stride, cnt, dk)
	tensor.PrefetchF16Rows(j.cache.V16(j.layer, blk)[off*stride+vo:], stride, cnt, dv)
}
