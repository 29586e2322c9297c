package loadgen

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
)

// Prompts hands out prompts of random token ids, a function of the seed
// alone: each has Length tokens, the first Shared of which are the same in
// every prompt, the rest drawn afresh for each one. Prompts never repeat,
// so a server's prefix cache finds no more of them than the shared prefix
// (but for chance), including across runs that use the same Prompts. A
// server that kept its cache from an earlier benchmark with the same seed
// finds those prompts, though: change the seed.
type Prompts struct {
	vocab, length, shared int
	seed                  uint64
	prefix                []int
	next                  atomic.Uint64
}

// Random streams: stream 0 is the shared prefix, 1+i the rest of prompt
// i, and those from prefixStreams on belong to PrefixTest.
const prefixStreams = 1 << 62

// NewPrompts returns Prompts of length tokens, the first shared of them
// common to all, with ids drawn from [0, vocab).
func NewPrompts(vocab, length, shared int, seed uint64) (*Prompts, error) {
	switch {
	case vocab < 1:
		return nil, fmt.Errorf("loadgen: vocabulary of %d tokens", vocab)
	case length < 1:
		return nil, fmt.Errorf("loadgen: prompts of %d tokens: need at least 1", length)
	case shared < 0 || shared > length:
		return nil, fmt.Errorf("loadgen: shared prefix of %d tokens: need 0 to the prompt length, %d", shared, length)
	}
	return &Prompts{vocab: vocab, length: length, shared: shared, seed: seed,
		prefix: randomTokens(seed, 0, shared, vocab)}, nil
}

// Len returns the prompts' length in tokens.
func (p *Prompts) Len() int { return p.length }

// Shared returns how many tokens every prompt begins with in common.
func (p *Prompts) Shared() int { return p.shared }

// Next returns a prompt none of the earlier calls returned. It is safe
// for concurrent use.
func (p *Prompts) Next() []int {
	i := p.next.Add(1) - 1
	out := make([]int, 0, p.length)
	out = append(out, p.prefix...)
	return append(out, randomTokens(p.seed, 1+i, p.length-p.shared, p.vocab)...)
}

// randomTokens returns n ids from [0, vocab) drawn from the given stream
// of the seed's generator.
func randomTokens(seed, stream uint64, n, vocab int) []int {
	rng := rand.New(rand.NewPCG(seed, stream))
	out := make([]int, n)
	for i := range out {
		out[i] = rng.IntN(vocab)
	}
	return out
}
