package model

import (
	"fmt"

	"github.com/joule-llm/joule/kv"
	"github.com/joule-llm/joule/tensor"
)

// NewKVStorage returns a paged KV store for this model: as many blocks of
// blockSize token slots (0 means kv.DefaultBlockSize) as fit in
// budgetBytes, holding keys and values of type kvType, tensor.F16 or
// tensor.F32, for every layer. Pair it with a kv.BlockPool of
// NumBlocks() blocks of the same size.
func (m *Model) NewKVStorage(budgetBytes int64, blockSize int, kvType tensor.Type) (*kv.Storage, error) {
	c := &m.Config
	s, err := kv.NewStorage(c.BlockCount, c.HeadCountKV, kvHeadDim(c), blockSize, kvType, budgetBytes)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return s, nil
}

// KVBlockBytes returns the memory one block of blockSize positions takes
// in this model's KV storage of type kvType, so that a caller can budget
// NewKVStorage for a number of blocks.
func (m *Model) KVBlockBytes(blockSize int, kvType tensor.Type) int64 {
	c := &m.Config
	return kv.BlockBytes(c.BlockCount, kvRowLen(c), blockSize, kvType)
}

// SeqBatch is one sequence's part of a step.
type SeqBatch struct {
	Tokens []int   // this step's tokens of the sequence (a prefill chunk, or one decode token)
	Pos    int     // position of Tokens[0]; positions [0,Pos) are already in the cache
	Blocks []int32 // block table covering positions [0, Pos+len(Tokens))
	Logits bool    // compute logits for the last token of Tokens
}

// Batch is one forward step over several sequences.
type Batch struct {
	Seqs []SeqBatch
}

// ForwardBatch runs one step for several sequences at once. Every token of
// every sequence goes through the matmuls together, so the weights are read
// once per step; each token attends to positions [0, its own] of its own
// sequence, reading keys and values through the sequence's block table
// (slot pos%BlockSize of block Blocks[pos/BlockSize]) and never another's,
// after its own keys and values are written there.
//
// The logits of the sequences with Logits set are written consecutively
// into logits, VocabSize values each, in the order of b.Seqs; logits may be
// longer than that, and may be nil when no sequence wants logits.
//
// A sequence computed in a batch gets the same logits as when run alone
// with a State: the arithmetic of each token does not depend on the others.
//
// Blocks written in a step (those holding positions Pos and on) must not
// be read or written by another sequence of the batch: shared blocks are
// for full, already computed prefixes, as kv.Manager hands them out.
//
// It returns an error, changing nothing, when the batch is empty, holds
// more tokens than w.MaxTokens, a sequence has no tokens, a token is
// outside the vocabulary, Pos is negative or the tokens pass the model's
// context length (wrapping ErrContextFull), a block table is too short or
// names a block outside cache, cache does not fit the model, or logits is
// too short. The pool p (nil runs everything on the caller) splits the
// matmuls and attention; w and p serve one call at a time.
func (m *Model) ForwardBatch(p *tensor.Pool, w *Workspace, cache *kv.Storage, b *Batch, logits []float32) error {
	c := &m.Config
	switch {
	case w == nil:
		return fmt.Errorf("model: no workspace")
	case w.m != m:
		return fmt.Errorf("model: the workspace belongs to another model")
	case cache == nil:
		return fmt.Errorf("model: no KV storage")
	case cache.Layers() != c.BlockCount || cache.RowLen() != kvRowLen(c):
		return fmt.Errorf("model: KV storage of %d layers with %d-element rows does not fit the model (%d layers, %d-element rows)",
			cache.Layers(), cache.RowLen(), c.BlockCount, kvRowLen(c))
	case b == nil || len(b.Seqs) == 0:
		return fmt.Errorf("model: empty batch")
	}
	total, outs := 0, 0
	bs := cache.BlockSize()
	for i := range b.Seqs {
		s := &b.Seqs[i]
		n := len(s.Tokens)
		switch {
		case n == 0:
			return fmt.Errorf("model: batch sequence %d has no tokens", i)
		case s.Pos < 0:
			return fmt.Errorf("model: batch sequence %d: negative position %d", i, s.Pos)
		case s.Pos > c.ContextLength-n:
			return fmt.Errorf("%w: batch sequence %d: %d tokens at position %d exceed the context of %d",
				ErrContextFull, i, n, s.Pos, c.ContextLength)
		}
		if err := m.checkTokens(s.Tokens); err != nil {
			return fmt.Errorf("model: batch sequence %d: %w", i, err)
		}
		need := (s.Pos + n + bs - 1) / bs
		if len(s.Blocks) < need {
			return fmt.Errorf("model: batch sequence %d: %d blocks of %d cannot hold positions up to %d",
				i, len(s.Blocks), bs, s.Pos+n)
		}
		for j, id := range s.Blocks[:need] {
			if id < 0 || int(id) >= cache.NumBlocks() {
				return fmt.Errorf("model: batch sequence %d: block %d of its table is %d, outside the storage's %d blocks",
					i, j, id, cache.NumBlocks())
			}
		}
		total += n
		if s.Logits {
			outs++
		}
	}
	if total > w.maxTokens {
		return fmt.Errorf("model: batch of %d tokens exceeds the workspace's %d", total, w.maxTokens)
	}
	if len(logits) < outs*c.VocabSize {
		return fmt.Errorf("model: logits has %d values, %d sequences need %d", len(logits), outs, outs*c.VocabSize)
	}

	w.tokens, w.spans = w.tokens[:0], w.spans[:0]
	row := 0
	for i := range b.Seqs {
		s := &b.Seqs[i]
		n := len(s.Tokens)
		out := 0
		if s.Logits {
			out = 1
		}
		w.tokens = append(w.tokens, s.Tokens...)
		w.spans = append(w.spans, span{row: row, n: n, pos: s.Pos, blocks: s.Blocks, out: out})
		row += n
	}
	return m.run(p, w, cache, logits[:outs*c.VocabSize])
}
