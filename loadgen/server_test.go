package loadgen

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/joule-llm/joule/engine"
	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/server"
	"github.com/joule-llm/joule/tokenizer"
)

// joule serves a tiny random llama model with the real engine and server
// on a loopback port, and returns a Target for it with the model's end
// tokens, and the vocabulary size.
func joule(t *testing.T, ecfg engine.Config) (*Target, int) {
	t.Helper()
	var buf bytes.Buffer
	if err := llamatest.WriteRandomLlama(&buf, llamatest.RandomConfig{Seed: 5, Ctx: 2048}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	ecfg.Threads = 1
	e, err := engine.New(m, ecfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Start()
	srv, err := server.New(e, tok, server.ModelInfo{ID: "tiny", ContextLength: e.Config().ContextLength}, server.Config{})
	if err != nil {
		e.Close(context.Background())
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("closing the engine: %v", err)
		}
	})
	var eos []int
	for id := range tok.Len() {
		if tok.IsEOG(id) {
			eos = append(eos, id)
		}
	}
	if len(eos) == 0 {
		t.Fatal("the model has no end-of-generation token")
	}
	return &Target{URL: hs.URL, Model: "tiny", EOS: eos}, tok.Len()
}

func TestRunJoule(t *testing.T) {
	target, vocab := joule(t, engine.Config{})
	for _, c := range []int{1, 4} {
		p, err := NewPrompts(vocab, 32, 0, uint64(c))
		if err != nil {
			t.Fatal(err)
		}
		const requests, maxTokens = 8, 16
		s, err := Run(context.Background(), target, p, Options{Concurrency: c, Requests: requests, MaxTokens: maxTokens})
		if err != nil {
			t.Fatal(err)
		}
		if s.Requests != requests || s.Errors != 0 || s.Rejected != 0 || s.FirstError != "" {
			t.Fatalf("%d clients: %d completed, %d errors, %d rejected (%s)", c, s.Requests, s.Errors, s.Rejected, s.FirstError)
		}
		// The end tokens are biased away, so each request runs to its limit.
		if s.Short != 0 || s.Output != requests*maxTokens || s.PromptAll != requests*32 {
			t.Errorf("%d clients: %d short, %d output tokens, %d prompt tokens", c, s.Short, s.Output, s.PromptAll)
		}
		if s.Cached != 0 {
			t.Errorf("%d clients: %d cached tokens of prompts that share nothing", c, s.Cached)
		}
		for name, l := range map[string]Latency{"TTFT": s.TTFT, "ITL": s.ITL, "E2E": s.E2E, "TPOT": s.TPOT} {
			if l.N == 0 || l.P50 <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.Max || l.Mean <= 0 {
				t.Errorf("%d clients: %s %+v", c, name, l)
			}
		}
		if s.TTFT.N != requests || s.E2E.N != requests || s.E2E.P50 <= s.TTFT.P50 || s.FirstTTFT <= 0 {
			t.Errorf("%d clients: TTFT %+v, E2E %+v, first %v", c, s.TTFT, s.E2E, s.FirstTTFT)
		}
		if s.RequestsPerS <= 0 || s.TokensPerS <= s.RequestsPerS {
			t.Errorf("%d clients: %g requests/s, %g tokens/s", c, s.RequestsPerS, s.TokensPerS)
		}
	}
}

func TestRunJouleSharedPrefix(t *testing.T) {
	target, vocab := joule(t, engine.Config{})
	p, err := NewPrompts(vocab, 80, 64, 3)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Run(context.Background(), target, p, Options{Concurrency: 1, Requests: 4, MaxTokens: 4})
	if err != nil {
		t.Fatal(err)
	}
	// One at a time, every request after the first finds the 64 shared
	// tokens (four whole blocks) cached.
	if s.Requests != 4 || s.Cached != 3*64 || s.TTFTCached.N != 3 || s.TTFTUncached.N != 1 || s.FirstTTFT <= 0 {
		t.Errorf("%d requests, %d cached tokens, %d cached and %d uncached TTFTs, first %v",
			s.Requests, s.Cached, s.TTFTCached.N, s.TTFTUncached.N, s.FirstTTFT)
	}
}

func TestPrefixTestJoule(t *testing.T) {
	target, vocab := joule(t, engine.Config{})
	s, err := PrefixTest(context.Background(), target, PrefixOptions{Prefix: 250, Vocab: vocab, Pairs: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Pairs) != 2 || s.Prefix != 250 || s.Suffix != 16 {
		t.Fatalf("summary %+v", s)
	}
	for i, p := range s.Pairs {
		// The cache holds whole blocks of 16: 240 of the 250 tokens.
		if p.ColdCached != 0 || p.WarmCached != 240 || p.ColdTTFT <= 0 || p.WarmTTFT <= 0 {
			t.Errorf("pair %d: %+v", i, p)
		}
	}
	if s.WarmCached != 240 || s.Speedup <= 0 || s.ColdTTFT <= 0 {
		t.Errorf("summary %+v", s)
	}
	// Prefilling 26 tokens instead of 266 should be quicker even on a
	// tiny model, but timing on a shared machine is not asserted.
	t.Logf("cold TTFT %v, warm %v, speedup %.1fx", s.ColdTTFT, s.WarmTTFT, s.Speedup)

	if _, err := PrefixTest(context.Background(), target, PrefixOptions{}); err == nil {
		t.Error("a prefix test without a vocabulary was accepted")
	}
}

func TestRunJouleRejects(t *testing.T) {
	// The KV cache holds one request's 48 tokens and one more may wait,
	// so of eight clients at least six are refused with 429 while a
	// request runs.
	target, vocab := joule(t, engine.Config{MaxQueue: 1, KVMemBytes: 3 * 16 * 512})
	p, err := NewPrompts(vocab, 32, 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	const requests = 24
	s, err := Run(context.Background(), target, p, Options{Concurrency: 8, Requests: requests, MaxTokens: 16})
	if err != nil {
		t.Fatal(err)
	}
	if s.Rejected == 0 || s.Errors != 0 || s.Requests+s.Rejected != requests || s.Short != 0 {
		t.Errorf("%d completed, %d rejected, %d errors (%s), %d short", s.Requests, s.Rejected, s.Errors, s.FirstError, s.Short)
	}
}
