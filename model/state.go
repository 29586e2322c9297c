package model

import (
	"errors"
	"fmt"

	"github.com/joule-llm/joule/tensor"
)

// ErrContextFull is returned (wrapped) by Forward when the tokens do not fit
// in what is left of the State's context.
var ErrContextFull = errors.New("model: context full")

// State is one sequence's KV cache and the activation buffers of the
// forward pass. It belongs to the Model that made it and is not safe for
// concurrent use.
type State struct {
	m      *Model
	ctxLen int
	kvType tensor.Type
	pos    int

	// KV cache per layer: ctxLen rows of HeadCountKV*KeyLength (keys) or
	// HeadCountKV*ValueLength (values), heads side by side. One pair is used,
	// depending on kvType.
	k16, v16 [][]uint16
	k32, v32 [][]float32

	// Activations for up to batch tokens, one row per token.
	batch        int
	x, xb        []float32 // residual stream and normed/projected scratch, EmbeddingLength wide
	q, k, v, att []float32
	gate, up     []float32
	rope         []float32 // cos, sin pairs per token for its position

	attn   attnJob
	attnFn func(lo, hi int) // s.attend, bound once so that the pool call does not allocate
}

// attnJob is the part of a forward step the attention workers read.
type attnJob struct {
	layer int
	n     int // tokens in the batch
	pos   int // position of the batch's first token
	scale float32
}

// NewState returns an empty sequence state with room for ctxLen tokens
// (the model's context length when ctxLen <= 0). kvType is the KV cache
// element type, tensor.F16 (as llama.cpp by default) or tensor.F32.
func (m *Model) NewState(ctxLen int, kvType tensor.Type) (*State, error) {
	c := &m.Config
	if ctxLen <= 0 {
		ctxLen = c.ContextLength
	}
	kDim := c.HeadCountKV * c.KeyLength
	vDim := c.HeadCountKV * c.ValueLength
	s := &State{m: m, ctxLen: ctxLen, kvType: kvType}
	switch kvType {
	case tensor.F16:
		s.k16 = make([][]uint16, c.BlockCount)
		s.v16 = make([][]uint16, c.BlockCount)
		for i := range s.k16 {
			s.k16[i] = make([]uint16, ctxLen*kDim)
			s.v16[i] = make([]uint16, ctxLen*vDim)
		}
	case tensor.F32:
		s.k32 = make([][]float32, c.BlockCount)
		s.v32 = make([][]float32, c.BlockCount)
		for i := range s.k32 {
			s.k32[i] = make([]float32, ctxLen*kDim)
			s.v32[i] = make([]float32, ctxLen*vDim)
		}
	default:
		return nil, fmt.Errorf("model: KV cache type %s is not supported (want F16 or F32)", kvType)
	}
	s.attnFn = s.attend
	return s, nil
}

// Pos is the number of tokens in the cache: the position the next token
// will take.
func (s *State) Pos() int { return s.pos }

// ContextLength is the number of tokens the state can hold.
func (s *State) ContextLength() int { return s.ctxLen }

// KVType is the element type of the KV cache.
func (s *State) KVType() tensor.Type { return s.kvType }

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

// grow makes the activation buffers hold n tokens.
func (s *State) grow(n int) {
	if n <= s.batch {
		return
	}
	c := &s.m.Config
	s.batch = n
	s.x = make([]float32, n*c.EmbeddingLength)
	s.xb = make([]float32, n*c.EmbeddingLength)
	s.q = make([]float32, n*c.HeadCount*c.KeyLength)
	s.k = make([]float32, n*c.HeadCountKV*c.KeyLength)
	s.v = make([]float32, n*c.HeadCountKV*c.ValueLength)
	s.att = make([]float32, n*c.HeadCount*c.ValueLength)
	s.gate = make([]float32, n*c.FeedForwardLength)
	s.up = make([]float32, n*c.FeedForwardLength)
	s.rope = make([]float32, n*c.RopeDimensionCount)
}
