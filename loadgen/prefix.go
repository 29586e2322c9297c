package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// PrefixOptions shapes a prefix-cache test.
type PrefixOptions struct {
	Prefix    int    // tokens the two requests of a pair share; 1000
	Suffix    int    // tokens after the prefix, different in each; 16
	MaxTokens int    // each request's max_tokens; 1
	Pairs     int    // pairs, each with a fresh prefix; 1
	Vocab     int    // ids are drawn from [0, Vocab)
	Seed      uint64 // the prompts are a function of Seed alone
}

func (o PrefixOptions) withDefaults() PrefixOptions {
	if o.Prefix == 0 {
		o.Prefix = 1000
	}
	if o.Suffix == 0 {
		o.Suffix = 16
	}
	if o.MaxTokens == 0 {
		o.MaxTokens = 1
	}
	if o.Pairs == 0 {
		o.Pairs = 1
	}
	return o
}

// PrefixPair is one pair's outcome: a request with a fresh prompt (cold),
// then one with the same prefix and another suffix (warm).
type PrefixPair struct {
	ColdTTFT, WarmTTFT     time.Duration
	ColdCached, WarmCached int // cached prompt tokens, per usage
}

// PrefixSummary is a prefix-cache test's outcome.
type PrefixSummary struct {
	Prefix, Suffix int
	Pairs          []PrefixPair
	// Medians over the pairs.
	ColdTTFT, WarmTTFT time.Duration
	WarmCached         int
	// Speedup is ColdTTFT / WarmTTFT: how many times sooner the first
	// token comes when the prefix is cached.
	Speedup float64
}

// PrefixTest measures what a server's prefix cache saves. For each pair
// it sends a request whose prompt is a fresh prefix of o.Prefix tokens
// and a suffix of o.Suffix, waits for it to finish, then sends one with
// the same prefix and a different suffix, and compares their TTFTs and
// cached token counts. The requests run one at a time, so nothing else
// of the benchmark's loads the server meanwhile.
func PrefixTest(ctx context.Context, t *Target, o PrefixOptions) (*PrefixSummary, error) {
	o = o.withDefaults()
	if o.Prefix < 1 || o.Suffix < 1 || o.MaxTokens < 1 || o.Pairs < 1 || o.Vocab < 1 {
		return nil, fmt.Errorf("loadgen: prefix test options %+v: need positive sizes", o)
	}
	s := &PrefixSummary{Prefix: o.Prefix, Suffix: o.Suffix}
	for i := range o.Pairs {
		base := prefixStreams + 3*uint64(i)
		prefix := randomTokens(o.Seed, base, o.Prefix, o.Vocab)
		send := func(suffix uint64) (Result, error) {
			prompt := append(slices.Clone(prefix), randomTokens(o.Seed, suffix, o.Suffix, o.Vocab)...)
			r := t.Send(ctx, prompt, o.MaxTokens)
			if !r.OK() {
				return r, fmt.Errorf("loadgen: prefix test, pair %d: %w", i+1, r.Err)
			}
			return r, nil
		}
		cold, err := send(base + 1)
		if err != nil {
			return nil, err
		}
		warm, err := send(base + 2)
		if err != nil {
			return nil, err
		}
		s.Pairs = append(s.Pairs, PrefixPair{ColdTTFT: cold.TTFT, WarmTTFT: warm.TTFT,
			ColdCached: cold.CachedTokens, WarmCached: warm.CachedTokens})
	}
	var cold, warm []time.Duration
	var cached []int
	for _, p := range s.Pairs {
		cold, warm = append(cold, p.ColdTTFT), append(warm, p.WarmTTFT)
		cached = append(cached, p.WarmCached)
	}
	s.ColdTTFT, s.WarmTTFT = NewLatency(cold).P50, NewLatency(warm).P50
	slices.Sort(cached)
	s.WarmCached = cached[len(cached)/2]
	if s.WarmTTFT > 0 {
		s.Speedup = float64(s.ColdTTFT) / float64(s.WarmTTFT)
	}
	return s, nil
}

func (s *PrefixSummary) MarshalJSON() ([]byte, error) {
	type pair struct {
		Cold       float64 `json:"cold_ttft_ms"`
		Warm       float64 `json:"warm_ttft_ms"`
		ColdCached int     `json:"cold_cached_tokens"`
		WarmCached int     `json:"warm_cached_tokens"`
	}
	pairs := make([]pair, len(s.Pairs))
	for i, p := range s.Pairs {
		pairs[i] = pair{ms(p.ColdTTFT), ms(p.WarmTTFT), p.ColdCached, p.WarmCached}
	}
	return json.Marshal(struct {
		Test       string  `json:"test"`
		Prefix     int     `json:"prefix_tokens"`
		Suffix     int     `json:"suffix_tokens"`
		Cold       float64 `json:"cold_ttft_ms"`
		Warm       float64 `json:"warm_ttft_ms"`
		Speedup    float64 `json:"speedup"`
		WarmCached int     `json:"cached_tokens"`
		Pairs      []pair  `json:"pairs"`
	}{"prefix", s.Prefix, s.Suffix, ms(s.ColdTTFT), ms(s.WarmTTFT), s.Speedup, s.WarmCached, pairs})
}
