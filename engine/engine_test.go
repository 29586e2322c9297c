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
)

// These tests run the scheduler on fakeBackend, whose tokens follow from
// what it reads back from the paged cache, and compare every sample with
// reference, which samples the same function without any cache.

func randomPrompt(r *rand.Rand, n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = r.IntN(fakeVocab)
	}
	return p
}

// mixedRequests returns n requests of different prompt lengths, limits and
// sampling settings.
func mixedRequests(n int, seed uint64) []Request {
	r := rand.New(rand.NewPCG(seed, 1))
	reqs := make([]Request, n)
	for i := range reqs {
		req := Request{Prompt: randomPrompt(r, 1+r.IntN(40)), MaxTokens: 1 + r.IntN(25), Logprobs: -1}
		switch i % 4 {
		case 1:
			req.Sampling = DefaultSamplerConfig()
			req.Sampling.Seed = uint64(i)
		case 2:
			req.Sampling = SamplerConfig{Temperature: 1.2, RepeatPenalty: 1.3, RepeatLastN: 8, Seed: 99}
			req.Logprobs = 0
		case 3:
			end := r.IntN(fakeVocab)
			req.IsEnd = func(tok int) bool { return tok == end }
			req.MaxTokens = 40
		}
		reqs[i] = req
	}
	return reqs
}

// runAll submits every request at once and checks each against reference.
// It returns the prompt and completion tokens of all.
func runAll(t *testing.T, e *Engine, reqs []Request) (prompts, completions int64) {
	t.Helper()
	chans := make([]<-chan Event, len(reqs))
	for i, r := range reqs {
		chans[i] = submit(t, e, context.Background(), r)
	}
	for i, ch := range chans {
		n := max(reqs[i].N, 1)
		res := collect(t, n, ch)
		checkReference(t, fmt.Sprintf("request %d", i), reqs[i], res)
		completion := 0
		for _, x := range res {
			completion += len(x.toks)
			if x.finish == FinishStop {
				completion++ // the end token is counted, not emitted
			}
		}
		// The last final event carries the whole request's usage.
		last := res[0].usage
		for _, x := range res {
			if x.usage.CompletionTokens > last.CompletionTokens {
				last = x.usage
			}
		}
		if last.PromptTokens != len(reqs[i].Prompt) || last.CompletionTokens != completion {
			t.Errorf("request %d: usage %+v, want %d prompt and %d completion tokens", i, last, len(reqs[i].Prompt), completion)
		}
		prompts += int64(len(reqs[i].Prompt))
		completions += int64(completion)
	}
	return prompts, completions
}

func TestEngineMatchesReference(t *testing.T) {
	for _, budget := range []int{1, 7, 512} {
		t.Run(fmt.Sprint("budget", budget), func(t *testing.T) {
			f := &fakeBackend{}
			e := newFakeEngine(t, Config{MaxBatchTokens: budget, MaxRunning: 16}, f)
			e.Start()
			prompts, completions := runAll(t, e, mixedRequests(16, uint64(budget)))
			st := waitIdle(t, e)
			if st.PromptTokens != prompts || st.GeneratedTokens != completions || st.PrefixQueries < prompts {
				t.Errorf("stats %+v: want %d prompt tokens (each looked up at least once) and %d generated", st, prompts, completions)
			}
			if f.maxBatch > budget {
				t.Errorf("a step ran %d tokens, budget %d", f.maxBatch, budget)
			}
			if budget == 7 && f.mixed == 0 {
				t.Error("no step mixed decodes with prefill chunks")
			}
			if st.Steps == 0 || st.GeneratedTokens == 0 || st.PromptTokens == 0 || st.BlockSize != 4 || st.NumBlocks != 64 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestEngineStepsAreSmallWithLongPrompt(t *testing.T) {
	// A long prompt is prefilled in chunks while another sequence keeps
	// decoding one token every step.
	gate := make(chan struct{})
	var once sync.Once
	f := &fakeBackend{before: func(out *schedulerOutput) error {
		if out.chunks[0].seq.decoding {
			once.Do(func() { <-gate }) // hold the first decode until the long prompt is queued
		}
		return nil
	}}
	e := newFakeEngine(t, Config{MaxBatchTokens: 8, ContextLength: 256}, f)
	r := rand.New(rand.NewPCG(3, 3))
	short := Request{Prompt: randomPrompt(r, 3), MaxTokens: 30}
	long := Request{Prompt: randomPrompt(r, 150), MaxTokens: 2}
	e.Start()
	chShort := submit(t, e, context.Background(), short)
	chLong := submit(t, e, context.Background(), long)
	close(gate)
	checkReference(t, "short", short, collect(t, 1, chShort))
	checkReference(t, "long", long, collect(t, 1, chLong))
	if f.maxBatch > 8 {
		t.Errorf("a step ran %d tokens, budget 8", f.maxBatch)
	}
	// The prompt takes 150/7 steps beside the decode.
	if f.mixed < 150/7 {
		t.Errorf("%d steps mixed the decode with prefill chunks, want %d", f.mixed, 150/7)
	}
}

func TestEnginePrefixCache(t *testing.T) {
	e := newFakeEngine(t, Config{BlockSize: 16, KVMemBytes: 64 * fakeBlockBytes(16)}, nil)
	e.Start()
	r := rand.New(rand.NewPCG(5, 5))
	prefix := randomPrompt(r, 100)
	a := Request{Prompt: append(slices.Clone(prefix), 1, 2, 3), MaxTokens: 5, Logprobs: -1}
	b := Request{Prompt: append(slices.Clone(prefix), 4, 5), MaxTokens: 5, Logprobs: -1}
	resA := collect(t, 1, submit(t, e, context.Background(), a))
	checkReference(t, "first", a, resA)
	if got := resA[0].usage.CachedPromptTokens; got != 0 {
		t.Errorf("first request: %d cached prompt tokens", got)
	}
	resB := collect(t, 1, submit(t, e, context.Background(), b))
	checkReference(t, "second", b, resB)
	if got := resB[0].usage.CachedPromptTokens; got < 96 {
		t.Errorf("second request: %d cached prompt tokens, want >= 96", got)
	}
	// The same prompt again: the same six full blocks are cached (the
	// seventh never filled).
	resC := collect(t, 1, submit(t, e, context.Background(), b))
	checkReference(t, "repeat", b, resC)
	if got := resC[0].usage.CachedPromptTokens; got != 96 {
		t.Errorf("repeated request: %d cached prompt tokens, want 96", got)
	}
	st := waitIdle(t, e)
	if st.PrefixHits != 192 || st.PrefixQueries != int64(len(a.Prompt)+2*len(b.Prompt)) {
		t.Errorf("prefix stats %d hits of %d queries", st.PrefixHits, st.PrefixQueries)
	}
}

func TestEnginePreemption(t *testing.T) {
	// 12 blocks of 4 slots: two or three sequences at a time.
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprint("n", n), func(t *testing.T) {
			e := newFakeEngine(t, Config{KVMemBytes: 12 * fakeBlockBytes(4), MaxBatchTokens: 16}, nil)
			if got := e.Config().ContextLength; got != 48 {
				t.Fatalf("context length %d, want the pool's 48", got)
			}
			e.Start()
			reqs := mixedRequests(12, 77)
			for i := range reqs {
				reqs[i].Prompt = reqs[i].Prompt[:min(len(reqs[i].Prompt), 10)]
				reqs[i].MaxTokens = 20 + i%7
				reqs[i].IsEnd = nil
				reqs[i].N = n
			}
			runAll(t, e, reqs)
			st := waitIdle(t, e)
			if st.Preemptions == 0 {
				t.Errorf("no preemptions: %+v", st)
			}
			t.Logf("%d preemptions in %d steps", st.Preemptions, st.Steps)
		})
	}
}

func TestEngineParallelSamples(t *testing.T) {
	e := newFakeEngine(t, Config{}, nil)
	e.Start()
	r := rand.New(rand.NewPCG(9, 9))
	req := Request{
		Prompt:    randomPrompt(r, 10), // not a whole number of blocks: the samples copy the last one
		MaxTokens: 12,
		N:         3,
		Sampling:  SamplerConfig{Temperature: 1.5, Seed: 40},
		Logprobs:  2,
	}
	res := collect(t, 3, submit(t, e, context.Background(), req))
	checkReference(t, "n=3", req, res)
	if slices.Equal(res[0].toks, res[1].toks) && slices.Equal(res[1].toks, res[2].toks) {
		t.Errorf("three samples with different seeds are equal: %v", res[0].toks)
	}
	for i, x := range res {
		for j, top := range x.tops {
			if len(top) != 2 || top[0].Logprob < top[1].Logprob || x.lps[j] > top[0].Logprob {
				t.Errorf("sample %d token %d: logprob %v, top %v", i, j, x.lps[j], top)
			}
		}
	}
	for _, x := range res {
		if x.usage.PromptTokens != 10 {
			t.Errorf("usage %+v: prompt counted once", x.usage)
		}
	}
	if st := waitIdle(t, e); st.PrefixQueries != 10 {
		t.Errorf("prefix queries %d: the prompt was allocated more than once", st.PrefixQueries)
	}
}

func TestEngineLogprobsAndBias(t *testing.T) {
	e := newFakeEngine(t, Config{}, nil)
	e.Start()
	prompt := []int{3, 1, 4, 1, 5}
	req := Request{Prompt: prompt, MaxTokens: 4, Logprobs: 3}
	res := collect(t, 1, submit(t, e, context.Background(), req))
	checkReference(t, "logprobs", req, res)
	// Check the first token's numbers against a direct computation.
	l := make([]float32, fakeVocab)
	fakeLogits(l, prompt)
	var sum float64
	for _, v := range l {
		sum += math.Exp(float64(v))
	}
	ids := make([]int, fakeVocab)
	for i := range ids {
		ids[i] = i
	}
	slices.SortStableFunc(ids, func(a, b int) int {
		switch {
		case l[a] > l[b]:
			return -1
		case l[a] < l[b]:
			return 1
		}
		return 0
	})
	top := res[0].tops[0]
	for k := range 3 {
		want := float32(float64(l[ids[k]]) - math.Log(sum))
		if top[k].ID != ids[k] || math.Abs(float64(top[k].Logprob-want)) > 1e-5 {
			t.Errorf("top %d: %+v, want id %d logprob %v", k, top[k], ids[k], want)
		}
	}
	if res[0].toks[0] != ids[0] || res[0].lps[0] != top[0].Logprob {
		t.Errorf("greedy token %d (%v), want %d (%v)", res[0].toks[0], res[0].lps[0], ids[0], top[0].Logprob)
	}

	// A strong bias forces a token; its logprob is after the bias.
	biased := Request{Prompt: prompt, MaxTokens: 3, LogitBias: map[int]float32{17: 100}, Logprobs: 0}
	res = collect(t, 1, submit(t, e, context.Background(), biased))
	checkReference(t, "bias", biased, res)
	for i, tok := range res[0].toks {
		if tok != 17 || res[0].lps[i] < -1e-3 {
			t.Errorf("biased token %d: %d with logprob %v", i, tok, res[0].lps[i])
		}
	}
}

func TestEngineStop(t *testing.T) {
	e := newFakeEngine(t, Config{}, nil)
	e.Start()
	prompt := []int{7, 7, 7}
	free, _, _ := reference(Request{Prompt: prompt, MaxTokens: 10}, 0)
	end := free[4]
	req := Request{Prompt: prompt, MaxTokens: 10, IsEnd: func(tok int) bool { return tok == end }}
	res := collect(t, 1, submit(t, e, context.Background(), req))
	checkReference(t, "stop", req, res)
	if res[0].finish != FinishStop || slices.Contains(res[0].toks, end) {
		t.Errorf("got %v, %s", res[0].toks, res[0].finish)
	}
}

func TestEngineCancel(t *testing.T) {
	base := runtime.NumGoroutine()
	// Step 5 waits for release, so that the state seen in between holds
	// still.
	release := make(chan struct{})
	steps := 0
	f := &fakeBackend{before: func(*schedulerOutput) error {
		if steps++; steps == 5 {
			<-release
		}
		return nil
	}}
	e := newFakeEngine(t, Config{MaxRunning: 2, MaxBatchTokens: 64, KVMemBytes: 256 * fakeBlockBytes(4)}, f)
	e.Start()
	long := Request{Prompt: []int{1, 2, 3, 4, 5, 6}, MaxTokens: 200, N: 2}

	ctx, cancel := context.WithCancel(context.Background())
	ch := submit(t, e, ctx, long)
	// A second request waits for running places and is cancelled there.
	ctxWait, cancelWait := context.WithCancel(context.Background())
	chWait := submit(t, e, ctxWait, long)
	for range 6 {
		<-ch
	}
	if st := e.Stats(); st.KVUsage == 0 || st.Running != 2 || st.Waiting != 1 {
		t.Errorf("while running: %+v", st)
	}
	cancelWait()
	cancel()
	close(release)
	for _, c := range []<-chan Event{ch, chWait} {
		for i, x := range collect(t, 2, c) {
			if x.finish != FinishCancelled || !errors.Is(x.err, context.Canceled) {
				t.Errorf("sample %d: finish %q, %v", i, x.finish, x.err)
			}
		}
	}
	st := waitIdle(t, e)
	if st.KVUsage != 0 {
		t.Errorf("KV usage %v after cancellation", st.KVUsage)
	}

	// A request whose context is already done is refused.
	if _, err := e.Submit(ctx, long); !errors.Is(err, context.Canceled) {
		t.Errorf("submit with a cancelled context: %v", err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkGoroutines(t, base)
}

func TestEngineQueueFull(t *testing.T) {
	e := newFakeEngine(t, Config{MaxQueue: 2}, nil)
	req := Request{Prompt: []int{1, 2}, MaxTokens: 3}
	// Not started: requests stay queued.
	a := submit(t, e, context.Background(), req)
	b := submit(t, e, context.Background(), req)
	if _, err := e.Submit(context.Background(), req); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third request: %v, want ErrQueueFull", err)
	}
	if st := e.Stats(); st.Waiting != 2 {
		t.Errorf("waiting %d, want 2", st.Waiting)
	}
	e.Start()
	for _, ch := range []<-chan Event{a, b} {
		checkReference(t, "queued", req, collect(t, 1, ch))
	}
	// Started requests leave the queue.
	checkReference(t, "after", req, collect(t, 1, submit(t, e, context.Background(), req)))
}

func TestEngineRejects(t *testing.T) {
	e := newFakeEngine(t, Config{ContextLength: 20, MaxRunning: 4}, nil)
	tests := []struct {
		name string
		r    Request
		want error
	}{
		{"too long", Request{Prompt: make([]int, 15), MaxTokens: 6}, ErrTooLong},
		{"prompt too long", Request{Prompt: make([]int, 21), MaxTokens: 1}, ErrTooLong},
		{"empty", Request{MaxTokens: 1}, nil},
		{"no tokens", Request{Prompt: []int{1}}, nil},
		{"bad token", Request{Prompt: []int{fakeVocab}, MaxTokens: 1}, nil},
		{"negative token", Request{Prompt: []int{-1}, MaxTokens: 1}, nil},
		{"too many samples", Request{Prompt: []int{1}, MaxTokens: 1, N: 5}, nil},
		{"negative samples", Request{Prompt: []int{1}, MaxTokens: 1, N: -1}, nil},
		{"bias outside the vocabulary", Request{Prompt: []int{1}, MaxTokens: 1, LogitBias: map[int]float32{fakeVocab: 1}}, nil},
	}
	for _, tt := range tests {
		ch, err := e.Submit(context.Background(), tt.r)
		if err == nil || ch != nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: %v, want an error (%v)", tt.name, err, tt.want)
		}
	}
	// Exactly full fits.
	e.Start()
	ok := Request{Prompt: make([]int, 15), MaxTokens: 5}
	checkReference(t, "full", ok, collect(t, 1, submit(t, e, context.Background(), ok)))
}

func TestEngineClose(t *testing.T) {
	base := runtime.NumGoroutine()
	t.Run("drains", func(t *testing.T) {
		e := newFakeEngine(t, Config{}, nil)
		e.Start()
		reqs := mixedRequests(6, 11)
		var chans []<-chan Event
		for _, r := range reqs {
			chans = append(chans, submit(t, e, context.Background(), r))
		}
		if err := e.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Submit(context.Background(), reqs[0]); !errors.Is(err, ErrClosed) {
			t.Errorf("submit after close: %v", err)
		}
		for i, ch := range chans {
			checkReference(t, fmt.Sprint("request ", i), reqs[i], collect(t, 1, ch))
		}
	})
	checkGoroutines(t, base)

	t.Run("deadline", func(t *testing.T) {
		stepped := make(chan struct{}, 1)
		f := &fakeBackend{before: func(*schedulerOutput) error {
			select {
			case stepped <- struct{}{}:
			default:
			}
			time.Sleep(time.Millisecond)
			return nil
		}}
		e := newFakeEngine(t, Config{}, f)
		e.Start()
		long := Request{Prompt: []int{1, 2, 3}, MaxTokens: 250}
		var chans []<-chan Event
		for range 3 {
			chans = append(chans, submit(t, e, context.Background(), long))
		}
		<-stepped
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := e.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("close: %v, want the deadline", err)
		}
		for _, ch := range chans {
			res := collect(t, 1, ch)
			if res[0].finish != FinishCancelled || !errors.Is(res[0].err, ErrClosed) || len(res[0].toks) >= 250 {
				t.Errorf("after close: %d tokens, %s, %v", len(res[0].toks), res[0].finish, res[0].err)
			}
		}
		if err := e.Close(context.Background()); err != nil {
			t.Errorf("second close: %v", err)
		}
	})
	checkGoroutines(t, base)

	t.Run("idle", func(t *testing.T) {
		e := newFakeEngine(t, Config{}, nil)
		e.Start()
		req := Request{Prompt: []int{1, 2}, MaxTokens: 3}
		checkReference(t, "before close", req, collect(t, 1, submit(t, e, context.Background(), req)))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		// Nothing is in flight, so nothing is cut short.
		if err := e.Close(ctx); err != nil {
			t.Errorf("close of an idle engine: %v", err)
		}
	})
	checkGoroutines(t, base)

	t.Run("never started", func(t *testing.T) {
		e := newFakeEngine(t, Config{}, nil)
		ch := submit(t, e, context.Background(), Request{Prompt: []int{1}, MaxTokens: 1, N: 2})
		if err := e.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, x := range collect(t, 2, ch) {
			if x.finish != FinishCancelled {
				t.Errorf("finish %q", x.finish)
			}
		}
		e.Start() // does nothing after Close
	})
	checkGoroutines(t, base)
}

func TestEngineStepError(t *testing.T) {
	var once sync.Once
	f := &fakeBackend{}
	f.before = func(out *schedulerOutput) error {
		var err error
		if out.numLogits > 0 {
			once.Do(func() { err = errInjected })
		}
		return err
	}
	e := newFakeEngine(t, Config{}, f)
	e.Start()
	req := Request{Prompt: []int{1, 2, 3}, MaxTokens: 5, N: 2}
	for _, x := range collect(t, 2, submit(t, e, context.Background(), req)) {
		if x.finish != FinishError || !errors.Is(x.err, errInjected) {
			t.Errorf("finish %q, %v", x.finish, x.err)
		}
	}
	waitIdle(t, e)
	// The engine goes on serving.
	checkReference(t, "after error", req, collect(t, 2, submit(t, e, context.Background(), req)))
}

func TestEngineConcurrentSubmitters(t *testing.T) {
	e := newFakeEngine(t, Config{MaxBatchTokens: 32, KVMemBytes: 40 * fakeBlockBytes(4)}, nil)
	e.Start()
	reqs := mixedRequests(24, 123)
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch := submit(t, e, ctx, r)
			if i%5 == 4 {
				<-ch
				cancel() // some readers leave early
				collect(t, 1, ch)
				return
			}
			checkReference(t, fmt.Sprint("request ", i), r, collect(t, 1, ch))
			_ = e.Stats()
		})
	}
	wg.Wait()
	waitIdle(t, e)
}

func TestEngineFCFS(t *testing.T) {
	// One sequence at a time: every step runs the oldest unfinished
	// request, so the arrival numbers the steps see never go down.
	var seen []uint64
	f := &fakeBackend{before: func(out *schedulerOutput) error {
		for _, c := range out.chunks {
			seen = append(seen, c.seq.req.arrival)
		}
		return nil
	}}
	e := newFakeEngine(t, Config{MaxRunning: 1}, f)
	reqs := mixedRequests(8, 5)
	var chans []<-chan Event
	for _, r := range reqs {
		chans = append(chans, submit(t, e, context.Background(), r))
	}
	e.Start()
	for i, ch := range chans {
		checkReference(t, fmt.Sprint("request ", i), reqs[i], collect(t, 1, ch))
	}
	waitIdle(t, e)
	if !slices.IsSorted(seen) || len(seen) == 0 || seen[0] != 1 || seen[len(seen)-1] != 8 {
		t.Errorf("steps ran requests %v", seen)
	}
}
