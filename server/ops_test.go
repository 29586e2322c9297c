package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	prommodel "github.com/prometheus/common/model"

	"github.com/joule-llm/joule/engine"
	"github.com/joule-llm/joule/model/llamatest"
)

// A repeated long prompt is served partly from the prefix cache, and the
// usage says how much.
func TestCachedTokens(t *testing.T) {
	ld := load(t, storiesPath(t))
	ts := start(t, ld, engine.Config{}, Config{})
	ctx := context.Background()
	prompt := strings.Repeat("Once upon a time there was a little girl named Lily. ", 6)
	n := len(ld.tok.Encode(prompt, true, true))
	first, err := ts.client.Completions.New(ctx, completionParams(prompt, 4))
	if err != nil {
		t.Fatal(err)
	}
	second, err := ts.client.Completions.New(ctx, completionParams(prompt, 4))
	if err != nil {
		t.Fatal(err)
	}
	if first.Usage.PromptTokensDetails.CachedTokens != 0 {
		t.Errorf("first request: %d cached tokens, want 0", first.Usage.PromptTokensDetails.CachedTokens)
	}
	// Whole blocks of 16 tokens are cached; the last prompt token is always
	// recomputed for its logits.
	got := second.Usage.PromptTokensDetails.CachedTokens
	if got < int64(n-16) || got >= int64(n) || got%16 != 0 {
		t.Errorf("second request: %d of %d prompt tokens cached", got, n)
	}
	if second.Choices[0].Text != first.Choices[0].Text {
		t.Errorf("the cached prefix changed the text: %q vs %q", second.Choices[0].Text, first.Choices[0].Text)
	}
}

// Completions logprobs hold each token, its logprob and the top
// alternatives with the chosen token among them.
func TestCompletionLogprobs(t *testing.T) {
	ld := load(t, storiesPath(t))
	ts := start(t, ld, engine.Config{}, Config{})
	p := completionParams("Once upon a time", 10)
	p.Logprobs = openai.Int(2)
	c, err := ts.client.Completions.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	lp := c.Choices[0].Logprobs
	if len(lp.Tokens) != 10 || len(lp.TokenLogprobs) != 10 || len(lp.TopLogprobs) != 10 || len(lp.TextOffset) != 10 {
		t.Fatalf("logprobs for 10 tokens: %s", c.Choices[0].RawJSON())
	}
	text := c.Choices[0].Text
	if strings.Join(lp.Tokens, "") != text {
		t.Errorf("tokens spell %q, text is %q", strings.Join(lp.Tokens, ""), text)
	}
	for i, tok := range lp.Tokens {
		if int(lp.TextOffset[i]) != len(strings.Join(lp.Tokens[:i], "")) {
			t.Errorf("token %d at offset %d", i, lp.TextOffset[i])
		}
		top := lp.TopLogprobs[i]
		if len(top) < 1 || len(top) > 3 || top[tok] != lp.TokenLogprobs[i] {
			t.Errorf("token %d %q (%g): top %v", i, tok, lp.TokenLogprobs[i], top)
		}
		for _, v := range top {
			if v > lp.TokenLogprobs[i] || v > 0 {
				t.Errorf("greedy token %q (%g) is not the most likely: %v", tok, lp.TokenLogprobs[i], top)
			}
		}
	}
}

func TestMetrics(t *testing.T) {
	ld := load(t, storiesPath(t))
	ts := start(t, ld, engine.Config{}, Config{})
	ctx := context.Background()
	for _, stop := range []string{"", "."} {
		p := completionParams("Once upon a time", 30)
		if stop != "" {
			p.Stop = openai.CompletionNewParamsStopUnion{OfString: openai.String(stop)}
		}
		if _, err := ts.client.Completions.New(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := ts.get(t, "/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(prommodel.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels ...string) float64 {
		t.Helper()
		f, ok := families[name]
		if !ok {
			t.Errorf("metric %s missing", name)
			return -1
		}
		for _, m := range f.Metric {
			if !hasLabels(m, append(labels, "model_name", testModelID)...) {
				continue
			}
			switch f.GetType() {
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue()
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
		t.Errorf("metric %s has no series with labels %v and model_name", name, labels)
		return -1
	}
	st := ts.eng.Stats()
	checks := []struct {
		name   string
		labels []string
		ok     func(v float64) bool
	}{
		{"vllm:num_requests_running", nil, func(v float64) bool { return v == 0 }},
		{"vllm:num_requests_waiting", nil, func(v float64) bool { return v == 0 }},
		{"vllm:kv_cache_usage_perc", nil, func(v float64) bool { return v >= 0 && v <= 1 }},
		{"vllm:cache_config_info", []string{"block_size", "16", "num_gpu_blocks", strconv.Itoa(st.NumBlocks)}, func(v float64) bool { return v == 1 }},
		{"vllm:prefix_cache_queries_total", nil, func(v float64) bool { return v > 0 }},
		{"vllm:prefix_cache_hits_total", nil, func(v float64) bool { return v >= 0 }},
		{"vllm:prompt_tokens_total", nil, func(v float64) bool { return v >= 2*5 }},
		{"vllm:generation_tokens_total", nil, func(v float64) bool { return v > 30 }},
		{"vllm:num_preemptions_total", nil, func(v float64) bool { return v == 0 }},
		{"vllm:request_success_total", []string{"finished_reason", "length"}, func(v float64) bool { return v == 1 }},
		{"vllm:request_success_total", []string{"finished_reason", "stop"}, func(v float64) bool { return v == 1 }},
		{"vllm:time_to_first_token_seconds", nil, func(v float64) bool { return v == 2 }},
		{"vllm:inter_token_latency_seconds", nil, func(v float64) bool { return v >= 29 }},
		{"vllm:time_per_output_token_seconds", nil, func(v float64) bool { return v >= 29 }},
		{"vllm:e2e_request_latency_seconds", nil, func(v float64) bool { return v == 2 }},
		{"joule_engine_steps_total", nil, func(v float64) bool { return v > 30 }},
	}
	for _, c := range checks {
		if v := value(c.name, c.labels...); !c.ok(v) {
			t.Errorf("%s%v = %g", c.name, c.labels, v)
		}
	}
	for name, typ := range map[string]dto.MetricType{
		"vllm:prefix_cache_queries_total":  dto.MetricType_COUNTER,
		"vllm:num_requests_running":        dto.MetricType_GAUGE,
		"vllm:e2e_request_latency_seconds": dto.MetricType_HISTOGRAM,
	} {
		if f := families[name]; f == nil || f.GetType() != typ {
			t.Errorf("%s is not a %v", name, typ)
		}
	}
	if f := families["joule_http_requests_total"]; f == nil || !strings.Contains(string(body), `joule_http_requests_total{code="200",handler="completions"} 2`) {
		t.Errorf("joule_http_requests_total missing or wrong:\n%s", grep(string(body), "joule_http"))
	}
}

func hasLabels(m *dto.Metric, kv ...string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == kv[i] && l.GetValue() == kv[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestHealthAndDrain(t *testing.T) {
	ld := randomModel(t, llamatest.RandomConfig{Seed: 4})
	ts := start(t, ld, engine.Config{}, Config{})
	for _, path := range []string{"/health", "/ready", "/health?ready"} {
		if resp, body := ts.get(t, path); resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	resp, body := ts.get(t, "/v1/models")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"id":"`+testModelID+`"`) || !strings.Contains(string(body), `"object":"list"`) {
		t.Errorf("/v1/models: %d %s", resp.StatusCode, body)
	}
	if _, err := ts.client.Models.Get(context.Background(), testModelID); err != nil {
		t.Errorf("retrieving the model: %v", err)
	}
	var apiErr *openai.Error
	if _, err := ts.client.Models.Get(context.Background(), "other"); !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Errorf("retrieving an unknown model: %v", err)
	}

	ts.Drain()
	if resp, _ := ts.get(t, "/health"); resp.StatusCode != 200 {
		t.Errorf("/health while draining: %d", resp.StatusCode)
	}
	for _, path := range []string{"/ready", "/health?ready"} {
		if resp, _ := ts.get(t, path); resp.StatusCode != 503 {
			t.Errorf("%s while draining: %d", path, resp.StatusCode)
		}
	}
	resp, body = ts.post(t, "/v1/completions", `{"prompt": "a", "max_tokens": 2}`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a request while draining: %d %s", resp.StatusCode, body)
	}
	decodeError(t, body)

	// Before the model is loaded.
	loading := httptest.NewServer(Loading())
	defer loading.Close()
	for path, want := range map[string]int{"/health": 200, "/ready": 503, "/health?ready": 503, "/v1/completions": 503, "/v1/models": 503} {
		resp, err := http.Get(loading.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("loading %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// When the engine is closed with requests still running, their clients
// get a clean error: 503 before any output, an error event in a stream.
func TestShutdownEndsRequests(t *testing.T) {
	ld := randomModel(t, llamatest.RandomConfig{Seed: 6, Embd: 128, Ctx: 2048})
	ts := start(t, ld, engine.Config{}, Config{})
	ctx := context.Background()
	long := func(prompt string) openai.CompletionNewParams {
		p := completionParams(prompt, 2000)
		p.LogitBias = map[string]int64{"2": -100} // no EOS
		return p
	}
	stream := ts.client.Completions.NewStreaming(ctx, long("a"))
	if !stream.Next() {
		t.Fatalf("no first chunk: %v", stream.Err())
	}
	plain := make(chan error, 1)
	go func() {
		_, err := ts.client.Completions.New(ctx, long("b"))
		plain <- err
	}()
	for ts.eng.Stats().Running < 2 {
		sleep()
	}
	ts.Drain()
	expired, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if err := ts.eng.Close(expired); err == nil {
		t.Error("closing with running requests past the deadline reported no error")
	}
	for stream.Next() {
	}
	if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("stream ended with %v, want a shutdown error", err)
	}
	var apiErr *openai.Error
	if err := <-plain; !errors.As(err, &apiErr) || apiErr.StatusCode != 503 {
		t.Errorf("plain request ended with %v, want 503", err)
	}
}
