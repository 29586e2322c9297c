package model

import (
	"sync/atomic"

	"github.com/joule-llm/joule/kv"
)

// Workspace holds the activation buffers of forward steps of up to a fixed
// number of tokens in all, so that steps allocate nothing. It belongs to
// the Model that made it and serves one step at a time.
type Workspace struct {
	m         *Model
	maxTokens int

	// One row per token of the step.
	x, xb        []float32 // residual stream and normed/projected scratch, EmbeddingLength wide
	q, k, v, att []float32
	gate, up     []float32
	rope         []float32 // cos, sin pairs for the row's position
	ropeSWA      []float32 // the same for the sliding-window layers, if any
	tokens       []int

	spans  []span
	items  []attnItem
	next   atomic.Int64 // the next item a worker takes
	attn   attnJob
	attnFn func(lo, hi int) // w.attendWorker, bound once so that passing it to the pool does not allocate
}

// span is the part of a step that belongs to one sequence: rows
// [row, row+n) hold its tokens at positions pos, pos+1, ..., and the last
// out of them (none, the last or all) need logits.
type span struct {
	row, n int
	pos    int
	blocks []int32 // the sequence's block table
	out    int
}

// attnJob is what the attention workers read besides the spans.
type attnJob struct {
	cache *kv.Storage
	layer int
	scale float32
	// The current layer's sliding window (0: none) and soft cap of the
	// scores (0: none; scale then includes the division by it).
	window  int
	softcap float32
}

// NewWorkspace returns buffers for steps of up to maxTokens tokens in all,
// summed over the sequences of a batch. A maxTokens below 1 is taken as 1.
func (m *Model) NewWorkspace(maxTokens int) *Workspace {
	maxTokens = max(maxTokens, 1)
	c := &m.Config
	n := maxTokens
	w := &Workspace{
		m:         m,
		maxTokens: n,
		x:         make([]float32, n*c.EmbeddingLength),
		xb:        make([]float32, n*c.EmbeddingLength),
		q:         make([]float32, n*c.HeadCount*c.KeyLength),
		k:         make([]float32, n*c.HeadCountKV*c.KeyLength),
		v:         make([]float32, n*c.HeadCountKV*c.ValueLength),
		att:       make([]float32, n*c.HeadCount*c.ValueLength),
		gate:      make([]float32, n*c.FeedForwardLength),
		up:        make([]float32, n*c.FeedForwardLength),
		rope:      make([]float32, n*c.RopeDimensionCount),
		tokens:    make([]int, 0, n),
		// Every sequence has at least one token, and planAttention makes at
		// most one item per row and head.
		spans: make([]span, 0, n),
		items: make([]attnItem, 0, n*c.HeadCount),
	}
	if c.SlidingWindow > 0 {
		w.ropeSWA = make([]float32, n*c.RopeDimensionCount)
	}
	w.attnFn = w.attendWorker
	return w
}

// MaxTokens returns the most tokens a step using w may hold.
func (w *Workspace) MaxTokens() int { return w.maxTokens }

// release drops the references a step took to the caller's block tables
// and cache.
func (w *Workspace) release() {
	clear(w.spans)
	w.spans = w.spans[:0]
	w.tokens = w.tokens[:0]
	w.attn = attnJob{}
}
