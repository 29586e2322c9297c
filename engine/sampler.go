package engine

import (
	"math"
	"math/rand/v2"
	"slices"
)

// SamplerConfig selects how the next token is chosen from the logits.
//
// The zero value is greedy decoding with every filter off; DefaultSamplerConfig
// gives llama.cpp's defaults. A filter is off when its field is outside its
// useful range: TopK <= 0, TopP <= 0 or >= 1, MinP <= 0, RepeatPenalty 0 or 1,
// FrequencyPenalty and PresencePenalty 0, RepeatLastN <= 0 (no penalties).
type SamplerConfig struct {
	Temperature      float32 // <= 0 means greedy: the highest logit, lowest id on ties
	TopK             int     // keep the K highest logits
	TopP             float32 // keep the smallest prefix whose probability reaches TopP
	MinP             float32 // keep tokens with probability >= MinP times the largest
	RepeatPenalty    float32 // divide positive / multiply non-positive logits of recent tokens
	FrequencyPenalty float32 // subtract count * FrequencyPenalty from a recent token's logit
	PresencePenalty  float32 // subtract PresencePenalty once from a recent token's logit
	RepeatLastN      int     // how many of the most recent tokens the penalties look at
	Seed             uint64  // seeds the random draw: same seed, same choices
}

// DefaultSamplerConfig returns llama.cpp's default sampling settings.
func DefaultSamplerConfig() SamplerConfig {
	return SamplerConfig{
		Temperature:   0.8,
		TopK:          40,
		TopP:          0.95,
		MinP:          0.05,
		RepeatPenalty: 1.0,
		RepeatLastN:   64,
	}
}

// Sampler picks tokens according to a SamplerConfig. It keeps its buffers
// between calls, so after the first call Sample does not allocate. A Sampler
// is not safe for concurrent use.
type Sampler struct {
	cfg    SamplerConfig
	rng    *rand.Rand
	cand   []candidate
	counts []int32 // occurrences per token id in the penalty window; all zero between calls
}

type candidate struct {
	id    int32
	logit float32
}

// better is the order candidates are ranked in: higher logit first, and
// the lower id first among equal logits, so that every choice is reproducible.
func better(a, b candidate) bool {
	return a.logit > b.logit || (a.logit == b.logit && a.id < b.id)
}

func compareCandidates(a, b candidate) int {
	switch {
	case better(a, b):
		return -1
	case better(b, a):
		return 1
	}
	return 0
}

// pcgIncrement is the fixed second PCG word; the seed alone picks the stream.
const pcgIncrement = 0x9e3779b97f4a7c15

// NewSampler returns a Sampler for cfg.
func NewSampler(cfg SamplerConfig) *Sampler {
	return &Sampler{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, pcgIncrement))}
}

// Config returns the configuration the sampler was made with.
func (s *Sampler) Config() SamplerConfig { return s.cfg }

// Argmax returns the index of the largest value, the lowest index on ties.
// It returns -1 for an empty slice.
func Argmax(logits []float32) int {
	best := -1
	for i, v := range logits {
		if best < 0 || v > logits[best] {
			best = i
		}
	}
	return best
}

// Sample returns the id of the next token given the logits over the
// vocabulary and the tokens seen so far (oldest first; only the last
// RepeatLastN matter, and only when a penalty is on). logits is not modified.
// It returns -1 when logits is empty.
func (s *Sampler) Sample(logits []float32, recent []int) int {
	n := len(logits)
	if n == 0 {
		return -1
	}
	penalize := s.penalties()
	if !penalize && s.cfg.Temperature <= 0 {
		return Argmax(logits)
	}

	if cap(s.cand) < n {
		s.cand = make([]candidate, n)
	}
	c := s.cand[:n]
	for i, v := range logits {
		c[i] = candidate{int32(i), v}
	}
	if penalize {
		s.applyPenalties(c, recent)
	}
	if s.cfg.Temperature <= 0 {
		best := 0
		for i := 1; i < n; i++ {
			if better(c[i], c[best]) {
				best = i
			}
		}
		return int(c[best].id)
	}

	// From here on c is kept sorted best first once any filter needs it.
	sorted := false
	if k := s.cfg.TopK; k > 0 && k < len(c) {
		c = topK(c, k)
		sorted = true
	}
	if p := s.cfg.TopP; p > 0 && p < 1 {
		if !sorted {
			slices.SortFunc(c, compareCandidates)
			sorted = true
		}
		c = topP(c, p)
	}
	if p := s.cfg.MinP; p > 0 {
		c = minP(c, p, sorted)
	}
	t := s.cfg.Temperature
	for i := range c {
		c[i].logit /= t
	}
	return int(c[s.draw(c)].id)
}

func (s *Sampler) penalties() bool {
	c := s.cfg
	if c.RepeatLastN <= 0 {
		return false
	}
	repeat := c.RepeatPenalty != 0 && c.RepeatPenalty != 1
	return repeat || c.FrequencyPenalty != 0 || c.PresencePenalty != 0
}

// applyPenalties adjusts, as llama.cpp does, the logit of every token that
// occurs in the last RepeatLastN entries of recent. c is indexed by token id.
func (s *Sampler) applyPenalties(c []candidate, recent []int) {
	if len(recent) > s.cfg.RepeatLastN {
		recent = recent[len(recent)-s.cfg.RepeatLastN:]
	}
	if len(s.counts) < len(c) {
		s.counts = make([]int32, len(c))
	}
	for _, t := range recent {
		if t >= 0 && t < len(c) {
			s.counts[t]++
		}
	}
	repeat := s.cfg.RepeatPenalty
	if repeat == 0 {
		repeat = 1
	}
	for _, t := range recent {
		if t < 0 || t >= len(c) || s.counts[t] == 0 {
			continue
		}
		count := s.counts[t]
		s.counts[t] = 0 // each distinct token once; leaves counts zeroed for the next call
		l := c[t].logit
		if l <= 0 {
			l *= repeat
		} else {
			l /= repeat
		}
		l -= float32(count)*s.cfg.FrequencyPenalty + s.cfg.PresencePenalty
		c[t].logit = l
	}
}

// topK moves the k best candidates to the front of c, sorted best first,
// and returns them. It keeps a min-heap of the k best seen so far, so the
// cost is about len(c) comparisons when k is small.
func topK(c []candidate, k int) []candidate {
	h := c[:k]
	for i := k/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
	for i := k; i < len(c); i++ {
		if better(c[i], h[0]) {
			h[0], c[i] = c[i], h[0]
			siftDown(h, 0)
		}
	}
	slices.SortFunc(h, compareCandidates)
	return h
}

// siftDown restores the heap property below i in a heap whose root is the
// worst candidate.
func siftDown(h []candidate, i int) {
	for {
		worst := i
		l, r := 2*i+1, 2*i+2
		if l < len(h) && better(h[worst], h[l]) {
			worst = l
		}
		if r < len(h) && better(h[worst], h[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		h[i], h[worst] = h[worst], h[i]
		i = worst
	}
}

// topP keeps the shortest prefix of the sorted candidates whose
// probabilities add up to at least p.
func topP(c []candidate, p float32) []candidate {
	maxL := float64(c[0].logit)
	var sum float64
	for _, x := range c {
		sum += math.Exp(float64(x.logit) - maxL)
	}
	var cum float64
	for i, x := range c {
		cum += math.Exp(float64(x.logit)-maxL) / sum
		if cum >= float64(p) {
			return c[:i+1]
		}
	}
	return c
}

// minP keeps the candidates whose probability is at least p times the
// largest one, i.e. whose logit is at least max + log(p). The result keeps
// the input's order.
func minP(c []candidate, p float32, sorted bool) []candidate {
	maxL := c[0].logit
	if !sorted {
		for _, x := range c[1:] {
			maxL = max(maxL, x.logit)
		}
	}
	minL := maxL + float32(math.Log(float64(p)))
	if sorted {
		i := 1
		for i < len(c) && c[i].logit >= minL {
			i++
		}
		return c[:i]
	}
	kept := c[:0]
	for _, x := range c {
		if x.logit >= minL {
			kept = append(kept, x)
		}
	}
	return kept
}

// draw picks an index of c with probability softmax(logits).
func (s *Sampler) draw(c []candidate) int {
	if len(c) == 1 {
		return 0
	}
	maxL := c[0].logit
	for _, x := range c[1:] {
		maxL = max(maxL, x.logit)
	}
	var sum float64
	for _, x := range c {
		sum += math.Exp(float64(x.logit - maxL))
	}
	target := s.rng.Float64() * sum
	var run float64
	for i, x := range c {
		run += math.Exp(float64(x.logit - maxL))
		if run > target {
			return i
		}
	}
	// Only reachable through rounding when target is within an ulp of sum.
	for i := len(c) - 1; i > 0; i-- {
		if c[i].logit > float32(math.Inf(-1)) {
			return i
		}
	}
	return 0
}
