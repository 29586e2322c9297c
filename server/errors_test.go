package server

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/joule-llm/joule/engine"
	"github.com/joule-llm/joule/model/llamatest"
)

// Invalid requests get OpenAI's error shape with the right status, seen
// through the official SDK.
func TestErrorsThroughSDK(t *testing.T) {
	ld := load(t, storiesPath(t))
	ts := start(t, ld, engine.Config{}, Config{})
	ctx := context.Background()
	ok := completionParams("Once upon a time", 4)
	tests := []struct {
		name   string
		params openai.CompletionNewParams
		opts   []option.RequestOption
		status int
		param  string
		code   string
	}{
		{"unknown model", func() openai.CompletionNewParams { p := ok; p.Model = "gpt-9"; return p }(), nil, 404, "model", "model_not_found"},
		{"max_tokens past the context", func() openai.CompletionNewParams { p := ok; p.MaxTokens = openai.Int(600); return p }(), nil, 400, "max_tokens", "context_length_exceeded"},
		{"max_tokens zero", func() openai.CompletionNewParams { p := ok; p.MaxTokens = openai.Int(0); return p }(), nil, 400, "max_tokens", ""},
		{"n too large", func() openai.CompletionNewParams { p := ok; p.N = openai.Int(1000); return p }(), nil, 400, "n", ""},
		{"temperature out of range", func() openai.CompletionNewParams { p := ok; p.Temperature = openai.Float(3); return p }(), nil, 400, "temperature", ""},
		{"logit_bias not a token", func() openai.CompletionNewParams { p := ok; p.LogitBias = map[string]int64{"99999": 1}; return p }(), nil, 400, "logit_bias", ""},
		{"wrong type", ok, []option.RequestOption{option.WithJSONSet("temperature", "hot")}, 400, "temperature", ""},
		{"wrong nested type", ok, []option.RequestOption{option.WithJSONSet("stream_options", map[string]any{"include_usage": "yes"})}, 400, "stream_options.include_usage", ""},
		{"prompt of objects", ok, []option.RequestOption{option.WithJSONSet("prompt", []any{map[string]any{}})}, 400, "prompt[0]", ""},
		{"token out of range", ok, []option.RequestOption{option.WithJSONSet("prompt", []int{1, 5000})}, 400, "prompt", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ts.client.Completions.New(ctx, tt.params, tt.opts...)
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("want an API error, got %v", err)
			}
			if apiErr.StatusCode != tt.status || apiErr.Param != tt.param || apiErr.Code != tt.code || apiErr.Message == "" || apiErr.Type == "" {
				t.Errorf("got status %d param %q code %q type %q: %s; want %d %q %q", apiErr.StatusCode, apiErr.Param, apiErr.Code, apiErr.Type, apiErr.Message, tt.status, tt.param, tt.code)
			}
		})
	}
	// Unknown fields are tolerated.
	if _, err := ts.client.Completions.New(ctx, ok, option.WithJSONSet("some_future_field", 3)); err != nil {
		t.Errorf("an unknown field was refused: %v", err)
	}
	// Chat: max_completion_tokens is checked against the context too.
	cs := start(t, ld, engine.Config{}, Config{ChatTemplate: "chatml"})
	p := chatParams(openai.UserMessage("hi"))
	p.MaxCompletionTokens = openai.Int(100000)
	_, err := cs.client.Chat.Completions.New(ctx, p)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "max_completion_tokens" || apiErr.Code != "context_length_exceeded" {
		t.Errorf("max_completion_tokens past the context: %v", err)
	}
}

// Errors the SDK does not let a client make, over raw HTTP.
func TestErrorsRaw(t *testing.T) {
	ld := load(t, storiesPath(t))
	ts := start(t, ld, engine.Config{}, Config{MaxBodyBytes: 1 << 10})

	resp, body := ts.post(t, "/v1/completions", `{"prompt": "hi", "max_tokens": `)
	if resp.StatusCode != 400 || !strings.Contains(decodeError(t, body).Error.Message, "JSON") {
		t.Errorf("malformed JSON: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.post(t, "/v1/completions", `{"prompt": "`+strings.Repeat("a", 2000)+`"}`)
	if e := decodeError(t, body); resp.StatusCode != 413 || e.Error.Code == nil || *e.Error.Code != "request_too_large" {
		t.Errorf("body over the limit: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.get(t, "/v1/completions")
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET on completions: %d %s", resp.StatusCode, body)
	}
	decodeError(t, body)
	resp, body = ts.get(t, "/v1/nothing")
	if resp.StatusCode != 404 {
		t.Errorf("unknown path: %d %s", resp.StatusCode, body)
	}
	decodeError(t, body)
	resp, body = ts.post(t, "/v1/completions", `[1, 2]`)
	if resp.StatusCode != 400 {
		t.Errorf("an array body: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.post(t, "/v1/completions", `{"prompt": "hi", "stream_options": {"include_usage": true}}`)
	if resp.StatusCode != 400 || *decodeError(t, body).Error.Param != "stream_options" {
		t.Errorf("stream_options without stream: %d %s", resp.StatusCode, body)
	}
}

func TestAPIKey(t *testing.T) {
	ld := randomModel(t, llamatest.RandomConfig{Seed: 1})
	ts := start(t, ld, engine.Config{}, Config{APIKey: "sekrit"})
	body := `{"prompt": "hi", "max_tokens": 2}`
	for _, h := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", "sekrit"}} {
		resp, data := ts.post(t, "/v1/completions", body, h...)
		e := decodeError(t, data)
		if resp.StatusCode != 401 || e.Error.Code == nil || *e.Error.Code != "invalid_api_key" || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("header %v: %d %s", h, resp.StatusCode, data)
		}
	}
	if resp, data := ts.post(t, "/v1/completions", body, "Authorization", "Bearer sekrit"); resp.StatusCode != 200 {
		t.Errorf("right key: %d %s", resp.StatusCode, data)
	}
	// The SDK sends the key as a bearer token.
	if _, err := ts.client.Completions.New(context.Background(), completionParams("hi", 2)); err != nil {
		t.Errorf("SDK with the key: %v", err)
	}
	// Probes and metrics need no key.
	for _, path := range []string{"/health", "/ready", "/metrics"} {
		if resp, _ := ts.get(t, path); resp.StatusCode != 200 {
			t.Errorf("%s with no key: %d", path, resp.StatusCode)
		}
	}
}

// A full queue is answered 429 with Retry-After, and the requests that
// were accepted are unaffected.
func TestQueueFull(t *testing.T) {
	// Slow enough that the first request is still running when the third
	// arrives.
	ld := randomModel(t, llamatest.RandomConfig{Seed: 2, Embd: 256, Layers: 4, Ctx: 2048})
	ts := start(t, ld, engine.Config{MaxRunning: 1, MaxQueue: 1}, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// More samples than the engine runs at once are refused up front.
	resp, data := ts.post(t, "/v1/completions", `{"prompt": "n", "max_tokens": 4, "n": 2}`)
	if resp.StatusCode != 400 || !strings.Contains(decodeError(t, data).Error.Message, "samples") {
		t.Errorf("n=2 with one running sequence at most: %d %s", resp.StatusCode, data)
	}

	// A is running once its first token has streamed.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.http.URL+"/v1/completions",
		strings.NewReader(`{"prompt": "a", "max_tokens": 2000, "stream": true, "temperature": 0, "logit_bias": {"2": -100}}`))
	a, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Body.Close()
	if _, err := bufio.NewReader(a.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	// B waits.
	bDone := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.http.URL+"/v1/completions",
			strings.NewReader(`{"prompt": "b", "max_tokens": 4}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			bDone <- 0
			return
		}
		resp.Body.Close()
		bDone <- resp.StatusCode
	}()
	for ts.eng.Stats().Waiting == 0 {
		sleep()
	}
	// C finds the queue full.
	resp, data = ts.post(t, "/v1/completions", `{"prompt": "c", "max_tokens": 4}`)
	e := decodeError(t, data)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || e.Error.Code == nil || *e.Error.Code != "rate_limit_exceeded" {
		t.Errorf("third request: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), data)
	}
	// Ending A lets B run.
	a.Body.Close()
	select {
	case code := <-bDone:
		if code != 200 {
			t.Errorf("the waiting request got %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting request never ran after the running one was cancelled")
	}
	waitIdle(t, ts)
}

// A client that goes away mid-stream has its request cancelled and freed.
// (Here and below, a bias against the random model's EOS, token 2, keeps
// requests running.)
func TestClientDisconnect(t *testing.T) {
	ld := randomModel(t, llamatest.RandomConfig{Seed: 3, Ctx: 1024})
	ts := start(t, ld, engine.Config{}, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.http.URL+"/v1/completions",
		strings.NewReader(`{"prompt": "x", "max_tokens": 1000, "stream": true, "logit_bias": {"2": -100}}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if ts.eng.Stats().Running != 1 {
		t.Fatalf("the request is not running: %+v", ts.eng.Stats())
	}
	cancel()
	resp.Body.Close()
	waitIdle(t, ts)
	if st := ts.eng.Stats(); st.GeneratedTokens >= 1000 || st.KVUsage != 0 {
		t.Errorf("the request ran on or kept its blocks: %+v", st)
	}
}

// A client that stops reading a stream (but keeps the connection open)
// is dropped when a write stalls past the write timeout, and its request
// ends.
func TestStalledReader(t *testing.T) {
	ld := randomModel(t, llamatest.RandomConfig{Seed: 8, Ctx: 2048})
	ts := start(t, ld, engine.Config{}, Config{WriteTimeout: 200 * time.Millisecond})
	req, _ := http.NewRequest(http.MethodPost, ts.http.URL+"/v1/completions",
		strings.NewReader(`{"prompt": "x", "max_tokens": 2000, "n": 16, "stream": true, "logprobs": 20, "logit_bias": {"2": -100}}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Read nothing more: the socket buffers fill (16 samples with 20
	// alternatives each make about 16 KB a step) and the server's writes
	// block.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := ts.eng.Stats()
		if st.Running == 0 && st.GeneratedTokens > 0 {
			t.Logf("ended after %d tokens", st.GeneratedTokens)
			if st.GeneratedTokens >= 16*2000 {
				t.Fatalf("the request ran to its end: %+v", st)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stalled request still runs: %+v", st)
		}
		sleep()
	}
}
