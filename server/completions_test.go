package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/joule-llm/joule/engine"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

func completionParams(prompt string, maxTokens int) openai.CompletionNewParams {
	return openai.CompletionNewParams{
		Model:       testModelID,
		Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
		MaxTokens:   openai.Int(int64(maxTokens)),
		Temperature: openai.Float(0),
	}
}

// The server's greedy text is what engine.Generate produces for the same
// prompt on its own, whether the request runs alone or batched with 15
// others of different lengths and sampling settings.
func TestGreedyMatchesGenerate(t *testing.T) {
	models := map[string]func(t *testing.T) loaded{
		"stories260K": func(t *testing.T) loaded { return load(t, storiesPath(t)) },
		"random-q8": func(t *testing.T) loaded {
			return randomModel(t, llamatest.RandomConfig{Type: tensor.Q8_0, Seed: 5, KVHeads: 2, Ctx: 512})
		},
	}
	for name, get := range models {
		t.Run(name, func(t *testing.T) {
			ld := get(t)
			ts := start(t, ld, engine.Config{}, Config{})
			const prompt, maxTokens = "Once upon a time, there was a little girl", 60
			// As a client sees it: JSON carries invalid UTF-8 (bytes of
			// characters the random model never finishes) as U+FFFD.
			want := viaJSON(continuation(ld.tok, generate(t, ld, ld.tok.Encode(prompt, true, true), maxTokens)))
			if want == "" {
				t.Fatal("the reference generated nothing")
			}
			ctx := context.Background()
			got, err := ts.client.Completions.New(ctx, completionParams(prompt, maxTokens))
			if err != nil {
				t.Fatal(err)
			}
			if got.Choices[0].Text != want {
				t.Fatalf("alone:\n got %q\nwant %q", got.Choices[0].Text, want)
			}

			// The same request among 15 others.
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for i := range 15 {
				wg.Go(func() {
					p := completionParams(fmt.Sprintf("%s %d: the dog", strings.Repeat("A long time ago ", i%4), i), 20+7*i)
					p.Temperature = openai.Float(0.3 * float64(i%4))
					p.Seed = openai.Int(int64(i))
					if _, err := ts.client.Completions.New(ctx, p); err != nil {
						errs <- fmt.Errorf("background request %d: %w", i, err)
					}
				})
			}
			var batched string
			wg.Go(func() {
				c, err := ts.client.Completions.New(ctx, completionParams(prompt, maxTokens))
				if err != nil {
					errs <- err
					return
				}
				batched = c.Choices[0].Text
			})
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if batched != want {
				t.Fatalf("batched with 15 others:\n got %q\nwant %q", batched, want)
			}
		})
	}
}

func TestCompletionResponse(t *testing.T) {
	ld := load(t, storiesPath(t))
	ts := start(t, ld, engine.Config{}, Config{})
	ctx := context.Background()
	prompt := "Once upon a time"
	c, err := ts.client.Completions.New(ctx, completionParams(prompt, 12))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.ID, "cmpl-") || c.Object != "text_completion" || c.Model != testModelID || c.Created == 0 || c.SystemFingerprint == "" {
		t.Errorf("header fields: id %q object %q model %q created %d fingerprint %q", c.ID, c.Object, c.Model, c.Created, c.SystemFingerprint)
	}
	if len(c.Choices) != 1 || c.Choices[0].Index != 0 || c.Choices[0].FinishReason != "length" {
		t.Fatalf("choices: %+v", c.Choices)
	}
	promptTokens := len(ld.tok.Encode(prompt, true, true))
	if c.Usage.PromptTokens != int64(promptTokens) || c.Usage.CompletionTokens != 12 || c.Usage.TotalTokens != int64(promptTokens+12) {
		t.Errorf("usage %+v, want %d prompt and 12 completion tokens", c.Usage, promptTokens)
	}
	if !c.JSON.SystemFingerprint.Valid() || c.Choices[0].Logprobs.JSON.Tokens.Valid() {
		t.Errorf("fingerprint should be present and logprobs null: %s", c.RawJSON())
	}

	// echo puts the prompt before the completion.
	p := completionParams(prompt, 12)
	p.Echo = openai.Bool(true)
	e, err := ts.client.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if e.Choices[0].Text != prompt+c.Choices[0].Text {
		t.Errorf("echo: %q, want %q", e.Choices[0].Text, prompt+c.Choices[0].Text)
	}

	// Several prompts give len(prompts)*n choices, prompt-major.
	p = completionParams("", 8)
	p.Prompt = openai.CompletionNewParamsPromptUnion{OfArrayOfStrings: []string{"Once upon a time", "The cat"}}
	p.N = openai.Int(2)
	m, err := ts.client.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Choices) != 4 {
		t.Fatalf("%d choices, want 4", len(m.Choices))
	}
	for i, ch := range m.Choices {
		if ch.Index != int64(i) {
			t.Errorf("choice %d has index %d", i, ch.Index)
		}
	}
	if m.Choices[0].Text != c.Choices[0].Text[:len(m.Choices[0].Text)] || m.Choices[0].Text != m.Choices[1].Text {
		t.Errorf("greedy samples of the first prompt differ: %q %q (12-token text %q)", m.Choices[0].Text, m.Choices[1].Text, c.Choices[0].Text)
	}
	if m.Choices[2].Text == m.Choices[0].Text {
		t.Errorf("different prompts gave the same text %q", m.Choices[2].Text)
	}
	wantPrompt := len(ld.tok.Encode("Once upon a time", true, true)) + len(ld.tok.Encode("The cat", true, true))
	if m.Usage.PromptTokens != int64(wantPrompt) || m.Usage.CompletionTokens != 4*8 {
		t.Errorf("usage %+v, want %d prompt and 32 completion tokens", m.Usage, wantPrompt)
	}

	// A tokenized prompt is the same as its text.
	ids := ld.tok.Encode(prompt, true, true)
	p = completionParams("", 12)
	p.Prompt = openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: toInt64(ids)}
	tk, err := ts.client.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Choices[0].Text != c.Choices[0].Text {
		t.Errorf("token prompt: %q, want %q", tk.Choices[0].Text, c.Choices[0].Text)
	}
}

func toInt64(ids []int) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out
}

// Streaming gives the same text as a plain request, in chunks, with the
// finish reason last and the usage chunk when asked for.
func TestCompletionStreaming(t *testing.T) {
	ld := load(t, storiesPath(t))
	ts := start(t, ld, engine.Config{}, Config{})
	ctx := context.Background()
	p := completionParams("Once upon a time, there was a", 40)
	plain, err := ts.client.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	p.StreamOptions.IncludeUsage = openai.Bool(true)
	stream := ts.client.Completions.NewStreaming(ctx, p)
	var text strings.Builder
	var finish string
	var chunks int
	var usage *openai.CompletionUsage
	for stream.Next() {
		c := stream.Current()
		chunks++
		if c.Object != "text_completion" || !strings.HasPrefix(c.ID, "cmpl-") {
			t.Errorf("chunk header: %s", c.RawJSON())
		}
		if len(c.Choices) == 0 {
			if !c.JSON.Usage.Valid() {
				t.Errorf("a chunk without choices and usage: %s", c.RawJSON())
			}
			usage = &c.Usage
			continue
		}
		if finish != "" {
			t.Errorf("text after the finish reason: %s", c.RawJSON())
		}
		text.WriteString(c.Choices[0].Text)
		finish = string(c.Choices[0].FinishReason)
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if text.String() != plain.Choices[0].Text || finish != "length" {
		t.Errorf("streamed %q (finish %q), plain %q", text.String(), finish, plain.Choices[0].Text)
	}
	if chunks < 10 {
		t.Errorf("only %d chunks for 40 tokens: not streamed", chunks)
	}
	if usage == nil || usage.CompletionTokens != 40 || usage.PromptTokens != plain.Usage.PromptTokens {
		t.Errorf("usage chunk %+v, want 40 completion tokens and %d prompt tokens", usage, plain.Usage.PromptTokens)
	}
}

// Stop strings end the text just before them, streaming or not, with
// finish_reason "stop".
func TestStop(t *testing.T) {
	ld := load(t, storiesPath(t))
	ts := start(t, ld, engine.Config{}, Config{})
	ctx := context.Background()
	p := completionParams("Once upon a time, there was a little girl", 80)
	full, err := ts.client.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	text := full.Choices[0].Text
	// A stop string that starts mid-word, after the first few tokens.
	at := len(text) / 2
	stop := text[at : at+5]
	want := text[:strings.Index(text, stop)]
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			p := completionParams("Once upon a time, there was a little girl", 80)
			p.Stop = openai.CompletionNewParamsStopUnion{OfStringArray: []string{"zzzz", stop}}
			var got, finish string
			if stream {
				s := ts.client.Completions.NewStreaming(ctx, p)
				for s.Next() {
					c := s.Current()
					got += c.Choices[0].Text
					if c.Choices[0].FinishReason != "" {
						finish = string(c.Choices[0].FinishReason)
					}
				}
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
			} else {
				c, err := ts.client.Completions.New(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				got, finish = c.Choices[0].Text, string(c.Choices[0].FinishReason)
			}
			if got != want || finish != "stop" {
				t.Errorf("stop %q: got %q (finish %q), want %q", stop, got, finish, want)
			}
		})
	}
	waitIdle(t, ts)
}

// waitIdle waits for the engine to have no running or waiting request.
func waitIdle(t testing.TB, ts *testServer) {
	t.Helper()
	for range 500 {
		st := ts.eng.Stats()
		if st.Running == 0 && st.Waiting == 0 {
			return
		}
		sleep()
	}
	t.Fatalf("the engine still has requests: %+v", ts.eng.Stats())
}

// n samples with a seed are reproducible and differ from each other.
func TestN(t *testing.T) {
	ld := load(t, storiesPath(t))
	ts := start(t, ld, engine.Config{}, Config{})
	ctx := context.Background()
	p := completionParams("Once upon a time", 24)
	p.N = openai.Int(3)
	p.Temperature = openai.Float(1)
	p.Seed = openai.Int(42)
	a, err := ts.client.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ts.client.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	texts := func(c *openai.Completion) []string {
		var s []string
		for _, ch := range c.Choices {
			s = append(s, ch.Text)
		}
		return s
	}
	if !slices.Equal(texts(a), texts(b)) {
		t.Errorf("same seed, different samples:\n%q\n%q", texts(a), texts(b))
	}
	if len(a.Choices) != 3 || a.Choices[0].Text == a.Choices[1].Text && a.Choices[1].Text == a.Choices[2].Text {
		t.Errorf("3 samples at temperature 1 are all the same: %q", texts(a))
	}
	if a.Usage.PromptTokens != int64(len(ld.tok.Encode("Once upon a time", true, true))) {
		t.Errorf("the shared prompt is counted %d times over: %+v", a.Usage.PromptTokens, a.Usage)
	}
}
