package model

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

var smallGQA = llamatest.RandomConfig{Embd: 64, Layers: 2, Heads: 8, KVHeads: 2, FF: 172, Ctx: 64, Seed: 11}

// TestBatchMatchesSteps checks that a prefill batch, chunks of it and one
// token at a time give the same logits, with and without a pool.
func TestBatchMatchesSteps(t *testing.T) {
	for _, typ := range []tensor.Type{tensor.F32, tensor.Q8_0} {
		cfg := smallGQA
		cfg.Type = typ
		_, m := randomModel(t, cfg)
		V := m.Config.VocabSize
		toks := randomTokens(5, 20, V)

		run := func(p *tensor.Pool, chunks []int) []float32 {
			s, err := m.NewState(0, tensor.F16)
			if err != nil {
				t.Fatal(err)
			}
			var out []float32
			at := 0
			for _, n := range chunks {
				l := make([]float32, n*V)
				if err := m.ForwardAll(p, s, toks[at:at+n], l); err != nil {
					t.Fatal(err)
				}
				out = append(out, l...)
				at += n
			}
			return out
		}
		steps := make([]int, len(toks))
		for i := range steps {
			steps[i] = 1
		}
		base := run(nil, steps)
		pool := tensor.NewPool(2)
		defer pool.Close()
		for _, tc := range []struct {
			name   string
			p      *tensor.Pool
			chunks []int
		}{
			{"one batch", nil, []int{20}},
			{"chunks", nil, []int{7, 1, 12}},
			{"one batch, pool", pool, []int{20}},
			{"steps, pool", pool, steps},
		} {
			got := run(tc.p, tc.chunks)
			for i := range toks {
				// Batched matmuls may sum in another order; attention and
				// the rest are computed identically per token.
				if e := relErr32(got[i*V:(i+1)*V], base[i*V:(i+1)*V]); e > 1e-5 {
					t.Errorf("%s %s: position %d differs from step-by-step by %.3g", typ, tc.name, i, e)
				}
			}
		}
	}
}

// TestForwardLastMatchesAll checks that Forward's logits are the last row
// of ForwardAll's, and that a nil logits prefill leaves the same cache.
func TestForwardLastMatchesAll(t *testing.T) {
	_, m := randomModel(t, smallGQA)
	V := m.Config.VocabSize
	toks := randomTokens(9, 9, V)

	s1, _ := m.NewState(0, tensor.F16)
	all := make([]float32, len(toks)*V)
	if err := m.ForwardAll(nil, s1, toks, all); err != nil {
		t.Fatal(err)
	}
	s2, _ := m.NewState(0, tensor.F16)
	last := make([]float32, V)
	if err := m.Forward(nil, s2, toks, last); err != nil {
		t.Fatal(err)
	}
	if e := relErr32(last, all[(len(toks)-1)*V:]); e > 1e-5 {
		t.Errorf("Forward differs from the last row of ForwardAll by %.3g", e)
	}

	// Prefill without logits, then one more token, against the same
	// tokens run with logits throughout.
	s3, _ := m.NewState(0, tensor.F16)
	if err := m.Forward(nil, s3, toks[:8], nil); err != nil {
		t.Fatal(err)
	}
	if s3.Pos() != 8 {
		t.Fatalf("Pos() = %d after an 8-token prefill", s3.Pos())
	}
	if err := m.Forward(nil, s3, toks[8:], last); err != nil {
		t.Fatal(err)
	}
	if e := relErr32(last, all[8*V:]); e > 1e-5 {
		t.Errorf("after a nil-logits prefill, logits differ by %.3g", e)
	}
}

func TestTruncateAndReset(t *testing.T) {
	_, m := randomModel(t, smallGQA)
	V := m.Config.VocabSize
	toks := randomTokens(3, 12, V)
	other := randomTokens(4, 12, V)

	s, _ := m.NewState(0, tensor.F16)
	want := make([]float32, V)
	if err := m.Forward(nil, s, toks, want); err != nil {
		t.Fatal(err)
	}

	// Replace the last 5 tokens with others, then go back and redo them.
	if err := s.Truncate(7); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, V)
	if err := m.Forward(nil, s, other[:5], got); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(got, want) {
		t.Fatal("different tokens gave identical logits")
	}
	if err := s.Truncate(7); err != nil {
		t.Fatal(err)
	}
	if err := m.Forward(nil, s, toks[7:], got); err != nil {
		t.Fatal(err)
	}
	if e := relErr32(got, want); e > 1e-5 {
		t.Errorf("after truncate, logits differ by %.3g", e)
	}

	s.Reset()
	if s.Pos() != 0 {
		t.Fatalf("Pos() = %d after Reset", s.Pos())
	}
	if err := m.Forward(nil, s, toks, got); err != nil {
		t.Fatal(err)
	}
	if e := relErr32(got, want); e > 1e-5 {
		t.Errorf("after reset, logits differ by %.3g", e)
	}

	for _, n := range []int{-1, 13} {
		if err := s.Truncate(n); err == nil {
			t.Errorf("Truncate(%d) with 12 tokens: no error", n)
		}
	}
}

func TestForwardErrors(t *testing.T) {
	_, m := randomModel(t, smallGQA)
	_, other := randomModel(t, smallGQA)
	V := m.Config.VocabSize
	logits := make([]float32, V)

	s, err := m.NewState(8, tensor.F16)
	if err != nil {
		t.Fatal(err)
	}
	if s.ContextLength() != 8 {
		t.Fatalf("ContextLength() = %d, want 8", s.ContextLength())
	}
	if err := m.Forward(nil, s, []int{1, 5, 6}, logits); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		m      *Model
		tokens []int
		logits []float32
		want   string
	}{
		{"context full", m, make([]int, 6), logits, "context full"},
		{"negative token", m, []int{3, -1}, logits, "outside the vocabulary"},
		{"token too large", m, []int{V}, logits, "outside the vocabulary"},
		{"no tokens", m, nil, logits, "no tokens"},
		{"short logits", m, []int{3}, logits[:V-1], "logits has"},
		{"foreign state", other, []int{3}, logits, "another model"},
	}
	for _, tt := range tests {
		err := tt.m.Forward(nil, s, tt.tokens, tt.logits)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
		if s.Pos() != 3 {
			t.Fatalf("%s: failed Forward moved Pos to %d", tt.name, s.Pos())
		}
	}
	if err := m.Forward(nil, s, make([]int, 6), logits); !errors.Is(err, ErrContextFull) {
		t.Errorf("context full: %v does not wrap ErrContextFull", err)
	}
	// Exactly filling the context is fine; one more is not.
	if err := m.Forward(nil, s, []int{3, 4, 5, 6, 7}, logits); err != nil {
		t.Fatalf("filling the context: %v", err)
	}
	if err := m.Forward(nil, s, []int{3}, logits); !errors.Is(err, ErrContextFull) {
		t.Errorf("past the context: %v", err)
	}

	if _, err := m.NewState(8, tensor.Q8_0); err == nil {
		t.Error("NewState accepted a Q8_0 cache")
	}
	if s, err := m.NewState(0, tensor.F32); err != nil || s.ContextLength() != m.Config.ContextLength {
		t.Errorf("NewState(0): %v, context %d, want %d", err, s.ContextLength(), m.Config.ContextLength)
	}
}

// TestDecodeDoesNotAllocate checks that a decode step allocates nothing
// once the state's buffers and the pool's scratch exist.
func TestDecodeDoesNotAllocate(t *testing.T) {
	for _, typ := range []tensor.Type{tensor.F32, tensor.Q4_0} {
		for _, kv := range []tensor.Type{tensor.F16, tensor.F32} {
			cfg := smallGQA
			cfg.Type, cfg.Ctx = typ, 256
			_, m := randomModel(t, cfg)
			s, _ := m.NewState(0, kv)
			logits := make([]float32, m.Config.VocabSize)
			tok := []int{5}
			for _, threads := range []int{1, 2} {
				p := tensor.NewPool(threads)
				if err := m.Forward(p, s, tok, logits); err != nil {
					t.Fatal(err)
				}
				n := testing.AllocsPerRun(20, func() {
					if err := m.Forward(p, s, tok, logits); err != nil {
						t.Fatal(err)
					}
				})
				if n != 0 {
					t.Errorf("%s weights, %s cache, %d threads: %v allocations per decode step", typ, kv, threads, n)
				}
				p.Close()
			}
		}
	}
}
