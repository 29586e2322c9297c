package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

// These tests run the Engine on real models (random llamatest ones and,
// when ../shared has it, stories260K) and require the very tokens of
// engine.Generate on a model.State, sequence by sequence. ForwardBatch
// gives a sequence the same arithmetic whatever else is in the batch, so
// identical ids are expected, not just close logits.

func loadRandom(t testing.TB, cfg llamatest.RandomConfig) *model.Model {
	t.Helper()
	var buf bytes.Buffer
	if err := llamatest.WriteRandomLlama(&buf, cfg); err != nil {
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
	return m
}

// servingModel is small but has grouped-query attention, head size 16 and
// a quantized type.
var servingModel = llamatest.RandomConfig{Embd: 64, Layers: 2, Heads: 4, KVHeads: 2, FF: 128, Ctx: 512, Type: tensor.Q8_0, Seed: 4}

// generateAlone is what r's sample i must produce: engine.Generate on its
// own State, with the sample's seed.
func generateAlone(t testing.TB, m *model.Model, r Request, i int) []int {
	t.Helper()
	s, err := m.NewState(0, tensor.F16)
	if err != nil {
		t.Fatal(err)
	}
	cfg := r.Sampling
	cfg.Seed += uint64(i)
	var got []int
	_, err = Generate(context.Background(), m, nil, s, r.Prompt, GenerateConfig{MaxTokens: r.MaxTokens, Sampler: NewSampler(cfg), IsEnd: r.IsEnd},
		func(tok int) error { got = append(got, tok); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func startModelEngine(t testing.TB, m *model.Model, cfg Config) *Engine {
	t.Helper()
	e, err := New(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Start()
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

// checkAgainstGenerate runs reqs at once and compares every sample with
// generateAlone.
func checkAgainstGenerate(t *testing.T, m *model.Model, e *Engine, reqs []Request) []Usage {
	t.Helper()
	chans := make([]<-chan Event, len(reqs))
	for i, r := range reqs {
		chans[i] = submit(t, e, context.Background(), r)
	}
	usage := make([]Usage, len(reqs))
	for i, ch := range chans {
		n := max(reqs[i].N, 1)
		for j, res := range collect(t, n, ch) {
			want := generateAlone(t, m, reqs[i], j)
			if !slices.Equal(res.toks, want) || res.err != nil {
				t.Errorf("request %d sample %d: got %v (%s, %v)\nwant %v", i, j, res.toks, res.finish, res.err, want)
			}
			if res.usage.CompletionTokens > usage[i].CompletionTokens {
				usage[i] = res.usage
			}
		}
	}
	return usage
}

func modelPrompt(r *rand.Rand, n, vocab int) []int {
	p := make([]int, n)
	p[0] = 1
	for i := 1; i < n; i++ {
		p[i] = 3 + r.IntN(vocab-3)
	}
	return p
}

func TestModelEngineGreedyMatchesGenerate(t *testing.T) {
	m := loadRandom(t, servingModel)
	V := m.Config.VocabSize
	r := rand.New(rand.NewPCG(1, 2))
	target := Request{Prompt: modelPrompt(r, 37, V), MaxTokens: 24}

	t.Run("alone", func(t *testing.T) {
		e := startModelEngine(t, m, Config{Threads: 2})
		checkAgainstGenerate(t, m, e, []Request{target})
	})
	t.Run("with 15 others", func(t *testing.T) {
		// A small step budget splits prompts into chunks that share steps
		// with other sequences' decodes.
		e := startModelEngine(t, m, Config{Threads: 2, MaxBatchTokens: 48})
		reqs := []Request{target}
		for i := range 15 {
			req := Request{Prompt: modelPrompt(r, 1+r.IntN(90), V), MaxTokens: 1 + r.IntN(30)}
			if i%3 == 0 {
				req.Sampling = SamplerConfig{Temperature: 0.9, TopK: 20, Seed: uint64(i)}
			}
			reqs = append(reqs, req)
		}
		checkAgainstGenerate(t, m, e, reqs)
		if st := waitIdle(t, e); st.Steps == 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestModelEnginePrefixCache(t *testing.T) {
	m := loadRandom(t, servingModel)
	V := m.Config.VocabSize
	r := rand.New(rand.NewPCG(3, 4))
	prefix := modelPrompt(r, 100, V)
	a := Request{Prompt: append(slices.Clone(prefix), 10, 11, 12), MaxTokens: 8}
	b := Request{Prompt: append(slices.Clone(prefix), 20, 21), MaxTokens: 8}
	e := startModelEngine(t, m, Config{Threads: 2})
	checkAgainstGenerate(t, m, e, []Request{a})
	u := checkAgainstGenerate(t, m, e, []Request{b})
	if u[0].CachedPromptTokens < 96 {
		t.Errorf("second request: %d cached prompt tokens, want >= 96", u[0].CachedPromptTokens)
	}
}

func TestModelEnginePreemption(t *testing.T) {
	m := loadRandom(t, servingModel)
	V := m.Config.VocabSize
	c := m.Config
	perBlock := int64(2 * c.BlockCount * 16 * c.HeadCountKV * c.KeyLength * 2)
	// 12 blocks of 16: about two of these sequences at a time.
	e := startModelEngine(t, m, Config{Threads: 2, KVMemBytes: 12 * perBlock, MaxBatchTokens: 64})
	if st := e.Stats(); st.NumBlocks != 12 {
		t.Fatalf("%d blocks, want 12", st.NumBlocks)
	}
	r := rand.New(rand.NewPCG(5, 6))
	var reqs []Request
	for i := range 8 {
		reqs = append(reqs, Request{Prompt: modelPrompt(r, 20+r.IntN(30), V), MaxTokens: 40 + 5*i})
	}
	checkAgainstGenerate(t, m, e, reqs)
	st := waitIdle(t, e)
	if st.Preemptions == 0 {
		t.Errorf("no preemptions: %+v", st)
	}
}

func TestModelEngineParallelSamples(t *testing.T) {
	m := loadRandom(t, servingModel)
	r := rand.New(rand.NewPCG(7, 8))
	req := Request{Prompt: modelPrompt(r, 21, m.Config.VocabSize), MaxTokens: 16, N: 3,
		Sampling: SamplerConfig{Temperature: 1, Seed: 100}}
	e := startModelEngine(t, m, Config{Threads: 2})
	checkAgainstGenerate(t, m, e, []Request{req})
	if a, b := generateAlone(t, m, req, 0), generateAlone(t, m, req, 1); slices.Equal(a, b) {
		t.Errorf("seeds %d and %d sample the same tokens %v", req.Sampling.Seed, req.Sampling.Seed+1, a)
	}
}

// TestStoriesEngineMatchesLlamaCpp serves every greedy.json prompt at once
// to stories260K and requires llama.cpp's token ids.
func TestStoriesEngineMatchesLlamaCpp(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "..", "shared", "models", "stories260K.gguf")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("skipping: %s not found (the shared models directory is next to the repository)", path)
	}
	raw, err := os.ReadFile(filepath.Join(root, "testdata", "llamacpp", "greedy.json"))
	if err != nil {
		t.Skipf("skipping: no llama.cpp reference data: %v", err)
	}
	var doc struct {
		Runs []struct {
			Prompt    string `json:"prompt"`
			PromptIDs []int  `json:"prompt_ids"`
			IDs       []int  `json:"ids"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := model.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	e := startModelEngine(t, m, Config{Threads: 2, MaxBatchTokens: 128})
	var chans []<-chan Event
	ctxLen := e.Config().ContextLength
	for _, run := range doc.Runs {
		// The run that fills the whole context sampled its last token from
		// the last position; a request may ask for one token less.
		n := min(len(run.IDs), ctxLen-len(run.PromptIDs))
		if raceEnabled {
			n = min(n, 40)
		}
		chans = append(chans, submit(t, e, context.Background(), Request{Prompt: run.PromptIDs, MaxTokens: n}))
	}
	for i, ch := range chans {
		got := collect(t, 1, ch)[0]
		want := doc.Runs[i].IDs[:len(got.toks)]
		if (!raceEnabled && len(got.toks) < len(doc.Runs[i].IDs)-1) || !slices.Equal(got.toks, want) {
			at := 0
			for at < min(len(got.toks), len(want)) && got.toks[at] == want[at] {
				at++
			}
			t.Errorf("%q: first difference at token %d of %d (%s)", doc.Runs[i].Prompt, at, len(want), got.finish)
		}
	}
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}
