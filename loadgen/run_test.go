package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewLatency(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		in                       []time.Duration
		mean, p50, p90, p99, max time.Duration
	}{
		{nil, 0, 0, 0, 0, 0},
		{ms(7), 7e6, 7e6, 7e6, 7e6, 7e6},
		// numpy.percentile([1, 2, 3, 4], [50, 90, 99]) = 2.5, 3.7, 3.97
		{ms(4, 1, 3, 2), 2.5e6, 2.5e6, 3.7e6, 3.97e6, 4e6},
		// 1..101: the percentiles are exact ranks.
		{ms(func() []int {
			var xs []int
			for i := 101; i >= 1; i-- {
				xs = append(xs, i)
			}
			return xs
		}()...), 51e6, 51e6, 91e6, 100e6, 101e6},
	}
	for _, tc := range tests {
		got := NewLatency(tc.in)
		want := Latency{N: len(tc.in), Mean: tc.mean, P50: tc.p50, P90: tc.p90, P99: tc.p99, Max: tc.max}
		if got != want {
			t.Errorf("NewLatency(%v) = %+v, want %+v", tc.in, got, want)
		}
	}
}

func TestPrompts(t *testing.T) {
	if _, err := NewPrompts(0, 4, 0, 1); err == nil {
		t.Error("an empty vocabulary was accepted")
	}
	if _, err := NewPrompts(10, 4, 5, 1); err == nil {
		t.Error("a shared prefix longer than the prompt was accepted")
	}
	if _, err := NewPrompts(10, 0, 0, 1); err == nil {
		t.Error("empty prompts were accepted")
	}
	p, err := NewPrompts(50, 40, 24, 9)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := NewPrompts(50, 40, 24, 9)
	other, _ := NewPrompts(50, 40, 24, 10)
	a, b := p.Next(), p.Next()
	if !slices.Equal(a, q.Next()) || !slices.Equal(b, q.Next()) {
		t.Error("the same seed gave different prompts")
	}
	if slices.Equal(a[:24], other.Next()[:24]) {
		t.Error("another seed gave the same shared prefix")
	}
	if len(a) != 40 || len(b) != 40 {
		t.Fatalf("lengths %d and %d, want 40", len(a), len(b))
	}
	if !slices.Equal(a[:24], b[:24]) {
		t.Error("the prompts do not share their prefix")
	}
	if slices.Equal(a[24:], b[24:]) {
		t.Error("two prompts have the same suffix")
	}
	for _, id := range append(a, b...) {
		if id < 0 || id >= 50 {
			t.Fatalf("token %d outside the vocabulary", id)
		}
	}
}

// fakeServer answers completions with a canned stream of n tokens after
// the first reject requests, which get 429 with Retry-After 0. It records
// the request bodies.
type fakeServer struct {
	*httptest.Server
	reject atomic.Int64
	conns  atomic.Int64 // connections opened
	mu     sync.Mutex
	bodies []map[string]any
}

func newFakeServer(t *testing.T, reject int, status int) *fakeServer {
	f := &fakeServer{}
	f.reject.Store(int64(reject))
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/completions" || r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "wrong path or key", http.StatusBadRequest)
			return
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.bodies = append(f.bodies, body)
		f.mu.Unlock()
		if f.reject.Add(-1) >= 0 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"message":"busy","type":"rate_limit_error"}}`)
			return
		}
		if status != http.StatusOK {
			w.WriteHeader(status)
			fmt.Fprint(w, `{"error":{"message":"broken","type":"server_error"}}`)
			return
		}
		n := int(body["max_tokens"].(float64))
		prompt := len(body["prompt"].([]any))
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range n {
			time.Sleep(200 * time.Microsecond)
			fmt.Fprintf(w, "data: {\"choices\":[{\"text\":\"t%d\",\"index\":0}]}\n\n", i)
			w.(http.Flusher).Flush()
		}
		fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"prompt_tokens_details\":{\"cached_tokens\":0}}}\n\ndata: [DONE]\n\n", prompt, n)
		// The end of the chunked body follows a little later, so that a
		// client that stops reading at [DONE] loses the connection.
		w.(http.Flusher).Flush()
		time.Sleep(2 * time.Millisecond)
	}))
	f.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.Start()
	t.Cleanup(f.Close)
	return f
}

func TestRunFake(t *testing.T) {
	f := newFakeServer(t, 0, http.StatusOK)
	target := &Target{URL: f.URL + "/v1/", APIKey: "k", Model: "m", EOS: []int{2, 7}, IgnoreEOS: true}
	p, _ := NewPrompts(100, 12, 4, 1)
	s, err := Run(context.Background(), target, p, Options{Concurrency: 3, Requests: 7, MaxTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 7 || s.Errors != 0 || s.Rejected != 0 || s.Short != 0 || s.Output != 35 || s.PromptAll != 7*12 {
		t.Fatalf("summary %+v", s)
	}
	if s.TTFT.N != 7 || s.ITL.N != 7*4 || s.E2E.N != 7 || s.TPOT.N != 7 || s.TTFTUncached.N != 7 || s.TTFTCached.N != 0 {
		t.Errorf("sample counts: TTFT %d, ITL %d, E2E %d, TPOT %d", s.TTFT.N, s.ITL.N, s.E2E.N, s.TPOT.N)
	}
	if s.FirstTTFT <= 0 || s.TTFT.P50 <= 0 || s.ITL.P50 <= 0 || s.E2E.P50 < s.TTFT.P50 {
		t.Errorf("latencies: first %v, TTFT %+v, ITL %+v, E2E %+v", s.FirstTTFT, s.TTFT, s.ITL, s.E2E)
	}
	if s.RequestsPerS <= 0 || s.TokensPerS <= 0 {
		t.Errorf("rates %g req/s, %g tok/s", s.RequestsPerS, s.TokensPerS)
	}
	// Each client keeps its connection from request to request.
	if n := f.conns.Load(); n > 3 {
		t.Errorf("%d connections for 3 clients", n)
	}
	body := f.bodies[0]
	want := map[string]any{
		"model": "m", "max_tokens": 5.0, "temperature": 0.0, "stream": true,
		"stream_options": map[string]any{"include_usage": true},
		"logit_bias":     map[string]any{"2": -100.0, "7": -100.0},
		"ignore_eos":     true, "min_tokens": 5.0,
	}
	for k, v := range want {
		if got, _ := json.Marshal(body[k]); string(got) != mustJSON(v) {
			t.Errorf("request field %s = %s, want %s", k, got, mustJSON(v))
		}
	}
	// Prompts are the ones handed out, all sharing their first 4 tokens.
	seen := map[string]bool{}
	for _, b := range f.bodies {
		ids := b["prompt"].([]any)
		if len(ids) != 12 || mustJSON(ids[:4]) != mustJSON(f.bodies[0]["prompt"].([]any)[:4]) {
			t.Fatalf("prompt %v", ids)
		}
		seen[mustJSON(ids)] = true
	}
	if len(seen) != 7 {
		t.Errorf("%d distinct prompts in 7 requests", len(seen))
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestRunRejected(t *testing.T) {
	p, _ := NewPrompts(100, 8, 0, 1)
	o := Options{Concurrency: 2, Requests: 6, MaxTokens: 3}

	// Without Retry, each 429 is a request rejected, not an error.
	f := newFakeServer(t, 4, http.StatusOK)
	s, err := Run(context.Background(), &Target{URL: f.URL, APIKey: "k"}, p, o)
	if err != nil {
		t.Fatal(err)
	}
	if s.Rejected != 4 || s.Requests != 2 || s.Errors != 0 || !strings.Contains(s.FirstError, "busy") {
		t.Errorf("without retry: %+v", s)
	}

	// With it, every request completes in the end.
	o.Retry = true
	f = newFakeServer(t, 4, http.StatusOK)
	s, err = Run(context.Background(), &Target{URL: f.URL, APIKey: "k"}, p, o)
	if err != nil {
		t.Fatal(err)
	}
	if s.Rejected != 4 || s.Requests != 6 || s.Errors != 0 || s.Output != 18 || len(f.bodies) != 10 {
		t.Errorf("with retry: %+v, %d requests sent", s, len(f.bodies))
	}
}

func TestRunErrors(t *testing.T) {
	p, _ := NewPrompts(100, 8, 0, 1)
	f := newFakeServer(t, 0, http.StatusInternalServerError)
	s, err := Run(context.Background(), &Target{URL: f.URL, APIKey: "k"}, p, Options{Concurrency: 2, Requests: 3, MaxTokens: 2, Retry: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Errors != 3 || s.Requests != 0 || s.Rejected != 0 || !strings.Contains(s.FirstError, "500") || !strings.Contains(s.FirstError, "broken") {
		t.Errorf("summary %+v", s)
	}
	// A wrong key is an error too (the fake answers 400).
	s, _ = Run(context.Background(), &Target{URL: f.URL}, p, Options{Concurrency: 1, Requests: 1, MaxTokens: 2})
	if s.Errors != 1 || !strings.Contains(s.FirstError, "400") {
		t.Errorf("without the key: %+v", s)
	}

	for _, o := range []Options{
		{Concurrency: 0, Requests: 1, MaxTokens: 1},
		{Concurrency: 1, MaxTokens: 1},
		{Concurrency: 1, Requests: 1},
		{Concurrency: 1, Requests: -1, MaxTokens: 1},
	} {
		if _, err := Run(context.Background(), &Target{URL: f.URL}, p, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

func TestRunDuration(t *testing.T) {
	f := newFakeServer(t, 0, http.StatusOK)
	p, _ := NewPrompts(100, 8, 0, 1)
	start := time.Now()
	s, err := Run(context.Background(), &Target{URL: f.URL, APIKey: "k"}, p, Options{Concurrency: 2, Duration: 50 * time.Millisecond, MaxTokens: 4})
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests < 2 || s.Errors != 0 || s.Elapsed < 50*time.Millisecond || s.Elapsed > time.Since(start) {
		t.Errorf("summary %+v", s)
	}
}

func TestRunCancelled(t *testing.T) {
	f := newFakeServer(t, 0, http.StatusOK)
	p, _ := NewPrompts(100, 8, 0, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := Run(ctx, &Target{URL: f.URL, APIKey: "k"}, p, Options{Concurrency: 2, Requests: 100, MaxTokens: 4})
	if err == nil || s == nil || s.Requests != 0 {
		t.Errorf("cancelled run: %v, %+v", err, s)
	}
}

func TestSummaryJSON(t *testing.T) {
	s := summarize([]Result{
		{TTFT: 2 * time.Millisecond, E2E: 10 * time.Millisecond, ITL: []time.Duration{4 * time.Millisecond, 4 * time.Millisecond},
			OutputTokens: 3, CachedTokens: 16, Usage: true},
		{Status: 429, Rejected: 1, Err: ErrRejected},
	}, 2, time.Second)
	var got map[string]any
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	ttft := got["ttft"].(map[string]any)
	if got["concurrency"] != 2.0 || got["requests"] != 1.0 || got["rejected"] != 1.0 || got["errors"] != 0.0 ||
		got["cached_tokens"] != 16.0 || ttft["p50_ms"] != 2.0 || got["output_tokens_per_s"] != 3.0 {
		t.Errorf("JSON %s", b)
	}
	if s.TPOT.P50 != 4*time.Millisecond || s.TTFTCached.N != 1 || s.TTFTUncached.N != 0 {
		t.Errorf("TPOT %v, cached %d, uncached %d", s.TPOT.P50, s.TTFTCached.N, s.TTFTUncached.N)
	}
}
