package engine

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

func tinyModel(t *testing.T) *model.Model {
	t.Helper()
	var buf bytes.Buffer
	cfg := llamatest.RandomConfig{Embd: 32, Layers: 2, Heads: 4, KVHeads: 2, FF: 64, Ctx: 64, Seed: 21}
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

var prompt = []int{1, 300, 17, 42, 99, 250, 260, 8, 77, 123}

// greedyByHand decodes n tokens with Forward and Argmax.
func greedyByHand(t *testing.T, m *model.Model, n int) []int {
	s, err := m.NewState(0, tensor.F16)
	if err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, m.Config.VocabSize)
	if err := m.Forward(nil, s, prompt, logits); err != nil {
		t.Fatal(err)
	}
	var out []int
	for range n {
		tok := Argmax(logits)
		out = append(out, tok)
		if err := m.Forward(nil, s, []int{tok}, logits); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func generate(t *testing.T, m *model.Model, ctxLen int, cfg GenerateConfig, ctx context.Context, emitErr func(n int) error) ([]int, GenerateStats, error) {
	s, err := m.NewState(ctxLen, tensor.F16)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	st, err := Generate(ctx, m, nil, s, prompt, cfg, func(tok int) error {
		got = append(got, tok)
		if emitErr != nil {
			return emitErr(len(got))
		}
		return nil
	})
	return got, st, err
}

func TestGenerateGreedy(t *testing.T) {
	m := tinyModel(t)
	want := greedyByHand(t, m, 12)
	for _, batch := range []int{0, 3, 1} {
		got, st, err := generate(t, m, 0, GenerateConfig{MaxTokens: 12, BatchSize: batch}, context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("batch %d: generated %v, want %v", batch, got, want)
		}
		if st.Stop != StopMaxTokens || st.GeneratedTokens != 12 || st.PromptTokens != len(prompt) {
			t.Errorf("batch %d: stats %+v", batch, st)
		}
	}
}

func TestGenerateStopsAtEnd(t *testing.T) {
	m := tinyModel(t)
	want := greedyByHand(t, m, 6)
	end := want[3]
	first := slices.Index(want, end) // the end token may occur earlier too
	got, st, err := generate(t, m, 0, GenerateConfig{MaxTokens: 50, IsEnd: func(tok int) bool { return tok == end }}, context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want[:first]) || st.Stop != StopEnd || st.GeneratedTokens != first {
		t.Errorf("got %v (%v), want %v then end", got, st.Stop, want[:first])
	}
}

func TestGenerateContextFull(t *testing.T) {
	m := tinyModel(t)
	const ctxLen = 16
	got, st, err := generate(t, m, ctxLen, GenerateConfig{}, context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Every position after the prompt is filled, and the token sampled from
	// the last one is still emitted.
	if want := ctxLen - len(prompt) + 1; len(got) != want || st.Stop != StopContextFull {
		t.Errorf("generated %d tokens, stop %v; want %d, context full", len(got), st.Stop, want)
	}
	if want := greedyByHand(t, m, len(got)); !slices.Equal(got, want) {
		t.Errorf("generated %v, want %v", got, want)
	}

	// A prompt that does not fit is refused up front.
	s, _ := m.NewState(len(prompt)-1, tensor.F16)
	_, err = Generate(context.Background(), m, nil, s, prompt, GenerateConfig{}, func(int) error { return nil })
	if !errors.Is(err, model.ErrContextFull) || s.Pos() != 0 {
		t.Errorf("oversized prompt: %v, Pos %d", err, s.Pos())
	}
}

func TestGenerateCancel(t *testing.T) {
	m := tinyModel(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got, st, err := generate(t, m, 0, GenerateConfig{}, ctx, func(n int) error {
		if n == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || len(got) != 3 || st.Stop != StopCancelled || st.GeneratedTokens != 3 {
		t.Errorf("got %d tokens, %v, %v", len(got), st.Stop, err)
	}

	// Cancelled before the prompt: nothing runs.
	s, _ := m.NewState(0, tensor.F16)
	_, err = Generate(ctx, m, nil, s, prompt, GenerateConfig{}, func(int) error { t.Fatal("emitted"); return nil })
	if !errors.Is(err, context.Canceled) || s.Pos() != 0 {
		t.Errorf("cancelled before prefill: %v, Pos %d", err, s.Pos())
	}
}

func TestGenerateEmitError(t *testing.T) {
	m := tinyModel(t)
	stop := errors.New("reader went away")
	got, st, err := generate(t, m, 0, GenerateConfig{}, context.Background(), func(n int) error {
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || len(got) != 2 || st.GeneratedTokens != 1 || st.Stop != StopError {
		t.Errorf("got %d tokens, stats %+v, %v", len(got), st, err)
	}
}

func TestGenerateEmptyPrompt(t *testing.T) {
	m := tinyModel(t)
	s, _ := m.NewState(0, tensor.F16)
	if _, err := Generate(context.Background(), m, nil, s, nil, GenerateConfig{}, func(int) error { return nil }); err == nil {
		t.Error("empty prompt: no error")
	}
}

func TestGenerateSampledReproducible(t *testing.T) {
	m := tinyModel(t)
	run := func(seed uint64) []int {
		cfg := DefaultSamplerConfig()
		cfg.Temperature, cfg.Seed, cfg.RepeatPenalty = 1.5, seed, 1.1
		got, _, err := generate(t, m, 0, GenerateConfig{MaxTokens: 30, Sampler: NewSampler(cfg)}, context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	a, b := run(1), run(1)
	if !slices.Equal(a, b) {
		t.Errorf("same seed: %v and %v", a, b)
	}
	if c := run(2); slices.Equal(a, c) {
		t.Errorf("seeds 1 and 2 both gave %v", a)
	}
}
