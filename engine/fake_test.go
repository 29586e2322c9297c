package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/joule-llm/joule/kv"
	"github.com/joule-llm/joule/tensor"
)

// fakeBackend is a model whose logits are a pseudo-random function of the
// whole token history, which it reads back from the paged KV cache: each
// slot holds its token (in K) and position (in V). A block table, prefix
// hit, copy-on-write or preemption that serves the wrong KV changes the
// history it sees, hence the tokens sampled, and a slot read at the wrong
// position fails the step.
type fakeBackend struct {
	vocab int
	// before, if set, runs at the start of every step, on the loop goroutine.
	before func(out *schedulerOutput) error

	mu       sync.Mutex
	maxBatch int // most tokens seen in one step
	steps    int
	mixed    int // steps that ran decode and prefill tokens together
}

const fakeVocab = 40

func (f *fakeBackend) init(maxTokens int) error { return nil }

func (f *fakeBackend) newCache(budget int64, blockSize int, kvType tensor.Type) (*kv.Storage, error) {
	return kv.NewStorage(1, 1, 1, blockSize, tensor.F32, budget)
}

// fakeBlockBytes is the storage one block of fakeBackend takes.
func fakeBlockBytes(blockSize int) int64 { return int64(2 * 4 * blockSize) }

func (f *fakeBackend) forward(p *tensor.Pool, cache *kv.Storage, out *schedulerOutput, logits []float32) error {
	if f.before != nil {
		if err := f.before(out); err != nil {
			return err
		}
	}
	bs := cache.BlockSize()
	row, total, decodes, prefills := 0, 0, 0, 0
	for i := range out.chunks {
		c := &out.chunks[i]
		if len(c.blocks) != ceilDiv(c.start+c.n, bs) {
			return fmt.Errorf("chunk at %d+%d has %d blocks", c.start, c.n, len(c.blocks))
		}
		hist := make([]int, 0, c.start+c.n)
		for pos := range c.start {
			b, o := c.blocks[pos/bs], pos%bs
			if got := cache.V32(0, b)[o]; got != float32(pos) {
				return fmt.Errorf("slot of position %d holds position %v", pos, got)
			}
			hist = append(hist, int(cache.K32(0, b)[o]))
		}
		for i, t := range c.tokens() {
			pos := c.start + i
			b, o := c.blocks[pos/bs], pos%bs
			cache.K32(0, b)[o] = float32(t)
			cache.V32(0, b)[o] = float32(pos)
			hist = append(hist, t)
		}
		if c.logits {
			fakeLogits(logits[row*f.vocab:(row+1)*f.vocab], hist)
			row++
		}
		total += c.n
		if c.seq.decoding {
			decodes++
		} else {
			prefills++
		}
	}
	if row != out.numLogits || total != out.numTokens {
		return fmt.Errorf("schedule counts %d logits, %d tokens; chunks have %d, %d", out.numLogits, out.numTokens, row, total)
	}
	f.mu.Lock()
	f.maxBatch = max(f.maxBatch, total)
	f.steps++
	if decodes > 0 && prefills > 0 {
		f.mixed++
	}
	f.mu.Unlock()
	return nil
}

// fakeLogits fills out with values drawn from a generator seeded by a hash
// of hist.
func fakeLogits(out []float32, hist []int) {
	h := uint64(14695981039346656037)
	for _, t := range hist {
		h ^= uint64(t) + 1
		h *= 1099511628211
	}
	r := rand.New(rand.NewPCG(h, 7))
	for i := range out {
		out[i] = float32(2 * r.NormFloat64())
	}
}

// reference generates what one sample of r must produce, without the
// engine: sampling the fake logits of the growing history.
func reference(r Request, index int) (toks []int, lps []float32, finish string) {
	cfg := r.Sampling
	cfg.Seed += uint64(index)
	s := NewSampler(cfg)
	hist := slices.Clone(r.Prompt)
	l := make([]float32, fakeVocab)
	for {
		fakeLogits(l, hist)
		for id, b := range r.LogitBias {
			l[id] += b
		}
		tok := s.Sample(l, hist)
		if r.IsEnd != nil && r.IsEnd(tok) {
			return toks, lps, FinishStop
		}
		lp, _ := logprobs(l, tok, 0)
		toks, lps = append(toks, tok), append(lps, lp)
		hist = append(hist, tok)
		if len(toks) == r.MaxTokens {
			return toks, lps, FinishLength
		}
	}
}

// newFakeEngine starts an engine on a fakeBackend. cfg.KVMemBytes of 0
// means room for 64 blocks.
func newFakeEngine(t testing.TB, cfg Config, f *fakeBackend) *Engine {
	t.Helper()
	if f == nil {
		f = &fakeBackend{}
	}
	f.vocab = fakeVocab
	if cfg.BlockSize == 0 {
		cfg.BlockSize = 4
	}
	if cfg.KVMemBytes == 0 {
		cfg.KVMemBytes = 64 * fakeBlockBytes(cfg.BlockSize)
	}
	if cfg.Threads == 0 {
		cfg.Threads = 1
	}
	e, err := newEngine(f, modelSpec{vocab: fakeVocab, contextLength: 256, kvBytesToken: 8}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

// result is what a request's events said about one sample.
type result struct {
	toks   []int
	lps    []float32
	tops   [][]TokenLogprob
	finish string
	err    error
	usage  Usage
}

// collect reads a request's events until the channel closes, checking
// that every sample ends with exactly one Final event and nothing follows
// it.
func collect(t testing.TB, n int, ch <-chan Event) []result {
	t.Helper()
	res := make([]result, n)
	final := make([]bool, n)
	timeout := time.After(60 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				for i, f := range final {
					if !f {
						t.Errorf("sample %d: channel closed without a final event", i)
					}
				}
				return res
			}
			if ev.Index < 0 || ev.Index >= n {
				t.Fatalf("event for sample %d of %d", ev.Index, n)
			}
			if final[ev.Index] {
				t.Errorf("sample %d: event after the final one: %+v", ev.Index, ev)
			}
			r := &res[ev.Index]
			if ev.Token >= 0 {
				r.toks = append(r.toks, ev.Token)
				r.lps = append(r.lps, ev.Logprob)
				r.tops = append(r.tops, ev.Top)
			}
			if ev.Final {
				final[ev.Index] = true
				r.finish, r.err, r.usage = ev.Finish, ev.Err, ev.Usage
			} else if ev.Token < 0 {
				t.Errorf("sample %d: non-final event without a token", ev.Index)
			}
		case <-timeout:
			t.Fatal("timed out waiting for events")
		}
	}
}

func submit(t testing.TB, e *Engine, ctx context.Context, r Request) <-chan Event {
	t.Helper()
	ch, err := e.Submit(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// checkReference compares the samples of r with reference.
func checkReference(t *testing.T, name string, r Request, res []result) {
	t.Helper()
	for i, got := range res {
		want, wantLps, finish := reference(r, i)
		if !slices.Equal(got.toks, want) || got.finish != finish || got.err != nil {
			t.Errorf("%s sample %d: got %v (%s, %v), want %v (%s)", name, i, got.toks, got.finish, got.err, want, finish)
			continue
		}
		if r.Logprobs >= 0 {
			for j := range want {
				if math.Abs(float64(got.lps[j]-wantLps[j])) > 1e-5 {
					t.Errorf("%s sample %d token %d: logprob %v, want %v", name, i, j, got.lps[j], wantLps[j])
				}
			}
		}
	}
}

// waitIdle waits until the engine has no sequences and the KV pool no
// used blocks.
func waitIdle(t testing.TB, e *Engine) Stats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := e.Stats()
		if st.Running == 0 && st.Waiting == 0 && st.KVUsage == 0 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine not idle: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkGoroutines fails if the number of goroutines does not come back to
// base, allowing the runtime a moment to retire exiting ones.
func checkGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

var errInjected = errors.New("injected failure")
