package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

// benchServeRun runs `joule bench serve` with args and returns its stdout
// and stderr.
func benchServeRun(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newBenchServeCmd()
	cmd.SetArgs(args)
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	err := cmd.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

// levelJSON is the part of a --json line the tests check.
type levelJSON struct {
	Concurrency  int     `json:"concurrency"`
	Requests     int     `json:"requests"`
	Errors       int     `json:"errors"`
	Rejected     int     `json:"rejected"`
	Short        int     `json:"short"`
	Output       int     `json:"output_tokens"`
	Cached       int     `json:"cached_tokens"`
	RequestsPerS float64 `json:"requests_per_s"`
	TokensPerS   float64 `json:"output_tokens_per_s"`
	TTFT         pctJSON `json:"ttft"`
	ITL          pctJSON `json:"itl"`
	E2E          pctJSON `json:"e2e"`
	FirstTTFT    float64 `json:"first_ttft_ms"`
	TTFTCached   pctJSON `json:"ttft_cached"`
}

type pctJSON struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
}

func decodeLevels(t *testing.T, out string) []levelJSON {
	t.Helper()
	var levels []levelJSON
	for line := range strings.Lines(strings.TrimSpace(out)) {
		var l levelJSON
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("not a JSON line (%v): %q", err, line)
		}
		levels = append(levels, l)
	}
	return levels
}

func TestBenchServeInProcess(t *testing.T) {
	path := randomModel(t, llamatest.RandomConfig{Seed: 31, Ctx: 512})
	out, errOut, err := benchServeRun(t, "-m", path, "-t", "1", "-c", "1,4", "--requests", "8",
		"--prompt-tokens", "32", "--max-tokens", "16", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	levels := decodeLevels(t, out)
	if len(levels) != 2 || levels[0].Concurrency != 1 || levels[1].Concurrency != 4 {
		t.Fatalf("levels %+v", levels)
	}
	for _, l := range levels {
		// The model's end token is biased away: every request runs to
		// --max-tokens.
		if l.Requests != 8 || l.Errors != 0 || l.Rejected != 0 || l.Short != 0 || l.Output != 8*16 || l.Cached != 0 {
			t.Errorf("%d clients: %+v", l.Concurrency, l)
		}
		for name, p := range map[string]pctJSON{"TTFT": l.TTFT, "ITL": l.ITL, "E2E": l.E2E} {
			if p.N == 0 || p.P50 <= 0 || p.P50 > p.P99 {
				t.Errorf("%d clients: %s %+v", l.Concurrency, name, p)
			}
		}
		if l.RequestsPerS <= 0 || l.TokensPerS <= 0 {
			t.Errorf("%d clients: rates %g, %g", l.Concurrency, l.RequestsPerS, l.TokensPerS)
		}
	}
	if !strings.Contains(errOut, "serving random.gguf in this process on http://127.0.0.1:") {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestBenchServeTable(t *testing.T) {
	path := randomModel(t, llamatest.RandomConfig{Seed: 32, Type: tensor.Q8_0})
	out, errOut, err := benchServeRun(t, "-m", path, "-t", "1", "-c", "1,2", "--requests", "4",
		"--prompt-tokens", "40", "--shared-prefix", "32", "--max-tokens", "4")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 || !strings.Contains(lines[0], "TTFT p50") || !strings.HasPrefix(strings.TrimSpace(lines[1]), "1 ") ||
		!strings.HasPrefix(strings.TrimSpace(lines[2]), "2 ") {
		t.Fatalf("table:\n%s", out)
	}
	if !strings.Contains(out, "shared prefix of 32 of 40 prompt tokens") || !strings.Contains(out, "1 clients: first request's TTFT") {
		t.Errorf("no shared-prefix notes:\n%s", out)
	}
}

func TestBenchServeSharedPrefixJSON(t *testing.T) {
	path := randomModel(t, llamatest.RandomConfig{Seed: 33})
	out, errOut, err := benchServeRun(t, "-m", path, "-t", "1", "-c", "1", "--requests", "3",
		"--prompt-tokens", "40", "--shared-prefix", "32", "--max-tokens", "4", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	l := decodeLevels(t, out)[0]
	// The first request caches the 32 shared tokens (two blocks); the
	// other two find them. The warm-up prompt shares nothing.
	if l.Requests != 3 || l.Cached != 2*32 || l.TTFTCached.N != 2 || l.FirstTTFT <= 0 {
		t.Errorf("%+v", l)
	}
}

func TestBenchServePrefixTest(t *testing.T) {
	path := randomModel(t, llamatest.RandomConfig{Seed: 34, Ctx: 512})
	out, errOut, err := benchServeRun(t, "-m", path, "-t", "1", "--prefix-test", "--prefix-len", "200",
		"--prefix-repeats", "2", "--max-tokens", "2", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var r struct {
		Test    string  `json:"test"`
		Prefix  int     `json:"prefix_tokens"`
		Cold    float64 `json:"cold_ttft_ms"`
		Warm    float64 `json:"warm_ttft_ms"`
		Speedup float64 `json:"speedup"`
		Cached  int     `json:"cached_tokens"`
		Pairs   []struct {
			ColdCached int `json:"cold_cached_tokens"`
			WarmCached int `json:"warm_cached_tokens"`
		} `json:"pairs"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	// Whole blocks of 16 are cached: 192 of the 200 tokens.
	if r.Test != "prefix" || r.Prefix != 200 || r.Cached != 192 || r.Cold <= 0 || r.Warm <= 0 || r.Speedup <= 0 ||
		len(r.Pairs) != 2 || r.Pairs[0].ColdCached != 0 || r.Pairs[1].WarmCached != 192 {
		t.Errorf("%s", out)
	}

	// The table form says the same.
	out, errOut, err = benchServeRun(t, "-m", path, "-t", "1", "--prefix-test", "--prefix-len", "200",
		"--prefix-repeats", "1", "--max-tokens", "1")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !strings.Contains(out, "(192 cached)") || !strings.Contains(out, "sooner") {
		t.Errorf("output:\n%s", out)
	}
}

func TestBenchServeRejected(t *testing.T) {
	// The KV cache holds one request (3 blocks of 16 tokens of 512 bytes)
	// and one more may wait: most of 8 clients are refused with 429.
	path := randomModel(t, llamatest.RandomConfig{Seed: 35})
	out, errOut, err := benchServeRun(t, "-m", path, "-t", "1", "-c", "8", "--requests", "24",
		"--prompt-tokens", "32", "--max-tokens", "16", "--max-queue", "1", "--kv-mem", "24KiB", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	l := decodeLevels(t, out)[0]
	if l.Rejected == 0 || l.Errors != 0 || l.Requests+l.Rejected != 24 || l.Short != 0 || l.Output != 16*l.Requests {
		t.Errorf("%+v", l)
	}
	if !strings.Contains(errOut, "rejected; first:") {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestBenchServeURL(t *testing.T) {
	path := randomModel(t, llamatest.RandomConfig{Seed: 36})
	kvType, _ := parseKVType("f16")
	e, srv, file, err := loadServer(serveOptions{model: path, threads: 1, maxQueue: 16, apiKey: "sesame"}, "tiny", kvType, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	e.Start()
	hs := httptest.NewServer(srv.Handler())
	defer func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Close(ctx)
	}()

	// The vocabulary and end token must be given with --url: the random
	// model has 320 tokens and </s> is 2.
	args := []string{"--url", hs.URL + "/v1", "--api-key", "sesame", "--vocab", "320", "--eos", "2",
		"-c", "2", "--requests", "4", "--prompt-tokens", "16", "--max-tokens", "8", "--json"}
	out, errOut, err := benchServeRun(t, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	l := decodeLevels(t, out)[0]
	if l.Requests != 4 || l.Errors != 0 || l.Short != 0 || l.Output != 32 {
		t.Errorf("%+v; stderr %s", l, errOut)
	}
	if got := firstModel(context.Background(), hs.URL, "sesame"); got != "tiny" {
		t.Errorf("model from /v1/models: %q", got)
	}

	// A wrong key fails the warm-up request; without it, every request
	// fails and says why.
	if _, _, err := benchServeRun(t, append(args, "--api-key", "wrong")...); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong key: %v", err)
	}
	out, errOut, err = benchServeRun(t, append(args, "--api-key", "wrong", "--warmup=false")...)
	if err != nil {
		t.Fatal(err)
	}
	if l := decodeLevels(t, out)[0]; l.Errors != 4 || l.Requests != 0 || !strings.Contains(errOut, "incorrect API key") {
		t.Errorf("%+v; stderr %s", l, errOut)
	}
}

func TestBenchServeRefusesBadFlags(t *testing.T) {
	path := randomModel(t, llamatest.RandomConfig{Seed: 37, Ctx: 64})
	for _, args := range [][]string{
		{},
		{"-m", path, "--url", "http://127.0.0.1:1"},
		{"-m", path, "-c", "0"},
		{"-m", path, "--prompt-tokens", "0"},
		{"-m", path, "--max-tokens", "0"},
		{"-m", path, "--shared-prefix", "200"},
		{"-m", path, "--requests", "-1"},
		{"-m", path, "--prompt-tokens", "60", "--max-tokens", "8"}, // beyond the context of 64
		{"-m", path, "--prefix-test"},                              // 1000 tokens do not fit either
		{"-m", path, "--kv-mem", "lots"},
		{"-m", path, "-t", "0"},
		{"-m", path, "--max-queue", "0"},
	} {
		if _, _, err := benchServeRun(t, args...); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}
