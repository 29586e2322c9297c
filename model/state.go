package model

import (
	"errors"
	"fmt"

	"github.com/joule-llm/joule/kv"
	"github.com/joule-llm/joule/tensor"
)

// ErrContextFull is returned (wrapped) by Forward when the tokens do not fit
// in what is left of the State's context, and by ForwardBatch when a
// sequence would pass the model's context length.
var ErrContextFull = errors.New("model: context full")

// stateBlockSize is the block size of a State's cache: large, since its
// blocks are never shared, but no larger than needed for a short context.
const stateBlockSize = 256

// State is one sequence's KV cache and the activation buffers of the
// forward pass. It belongs to the Model that made it and is not safe for
// concurrent use.
//
// The cache is a kv.Storage of its own whose blocks the sequence uses in
// order, so Forward runs the same code as ForwardBatch.
type State struct {
	m      *Model
	ctxLen int
	pos    int
	cache  *kv.Storage
	blocks []int32    // 0, 1, 2, ...: every block of the cache, in order
	w      *Workspace // grown to the largest batch run so far
}

// NewState returns an empty sequence state with room for ctxLen tokens
// (the model's context length when ctxLen <= 0). kvType is the KV cache
// element type, tensor.F16 (as llama.cpp by default) or tensor.F32.
func (m *Model) NewState(ctxLen int, kvType tensor.Type) (*State, error) {
	c := &m.Config
	if ctxLen <= 0 {
		ctxLen = c.ContextLength
	}
	if kvType != tensor.F16 && kvType != tensor.F32 {
		return nil, fmt.Errorf("model: KV cache type %s is not supported (want F16 or F32)", kvType)
	}
	bs := min(ctxLen, stateBlockSize)
	nb := (ctxLen + bs - 1) / bs
	perBlock := 2 * int64(c.BlockCount) * int64(bs) * int64(kvRowLen(c)) * int64(kvType.BlockBytes())
	cache, err := kv.NewStorage(c.BlockCount, c.HeadCountKV, kvHeadDim(c), bs, kvType, int64(nb)*perBlock)
	if err != nil {
		return nil, fmt.Errorf("model: KV cache of %d tokens: %w", ctxLen, err)
	}
	if cache.NumBlocks() != nb {
		return nil, fmt.Errorf("model: KV cache of %d tokens: got %d blocks of %d, want %d", ctxLen, cache.NumBlocks(), bs, nb)
	}
	s := &State{m: m, ctxLen: ctxLen, cache: cache, blocks: make([]int32, nb)}
	for i := range s.blocks {
		s.blocks[i] = int32(i)
	}
	return s, nil
}

// kvHeadDim is the width of one head's slot in the KV storage: keys and
// values share the storage's row layout, so it fits the wider of the two.
func kvHeadDim(c *Config) int { return max(c.KeyLength, c.ValueLength) }

// kvRowLen is the number of elements of one token's keys (or values) in
// the KV storage.
func kvRowLen(c *Config) int { return c.HeadCountKV * kvHeadDim(c) }

// Pos is the number of tokens in the cache: the position the next token
// will take.
func (s *State) Pos() int { return s.pos }

// ContextLength is the number of tokens the state can hold.
func (s *State) ContextLength() int { return s.ctxLen }

// KVType is the element type of the KV cache.
func (s *State) KVType() tensor.Type { return s.cache.Type() }

// Reset empties the cache.
func (s *State) Reset() { s.pos = 0 }

// Truncate drops every token from position n on, so that the next Forward
// continues from n. It fails if n is negative or beyond Pos.
func (s *State) Truncate(n int) error {
	if n < 0 || n > s.pos {
		return fmt.Errorf("model: truncate to %d: the state holds %d tokens", n, s.pos)
	}
	s.pos = n
	return nil
}
