package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/joule-llm/joule/model/llamatest"
)

// serveInProcess runs `joule serve` with args until ctx ends and returns
// the base URL it listens on and a channel with its result.
func serveInProcess(t *testing.T, ctx context.Context, args ...string) (string, <-chan error, *bytes.Buffer) {
	t.Helper()
	cmd := newServeCmd()
	cmd.SetArgs(args)
	out, outW := io.Pipe()
	var stderr bytes.Buffer
	cmd.SetOut(outW)
	cmd.SetErr(&stderr)
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(ctx)
		outW.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line (%v); result %v, stderr %s", err, <-done, stderr.String())
	}
	go io.Copy(io.Discard, out)
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("first line %q", line)
	}
	return url, done, &stderr
}

func TestServe(t *testing.T) {
	path := randomModel(t, llamatest.RandomConfig{Seed: 21, Ctx: 1024})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	url, done, stderr := serveInProcess(t, ctx, "-m", path, "--port", "0", "--alias", "tiny", "-t", "1",
		"--kv-mem", "4MiB", "--chat-template", "chatml", "--grace", "20s")

	// /health answers at once; /ready once the model is loaded.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/ready")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			break
		}
		if resp.StatusCode != 503 || time.Now().After(deadline) {
			t.Fatalf("/ready: %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var models struct {
		Data []struct {
			ID          string `json:"id"`
			MaxModelLen int    `json:"max_model_len"`
		} `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&models)
	resp.Body.Close()
	if len(models.Data) != 1 || models.Data[0].ID != "tiny" || models.Data[0].MaxModelLen != 1024 {
		t.Errorf("/v1/models: %+v", models)
	}

	// A request running when the shutdown begins is finished within the
	// grace period.
	resp, err = http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(
		`{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 300, "temperature": 0, "stream": true, "logit_bias": {"2": -100}}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	stop()
	rest, _ := io.ReadAll(r)
	if !strings.Contains(string(rest), `"finish_reason":"length"`) || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Errorf("the running request did not finish normally:\n%s", tail(string(rest), 400))
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return after the shutdown")
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("stderr: %s", stderr.String())
	}
	if _, err := http.Get(url + "/health"); err == nil {
		t.Error("still listening after the shutdown")
	}
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }

func TestServeRefusesBadFlags(t *testing.T) {
	path := randomModel(t, llamatest.RandomConfig{Seed: 22})
	for _, args := range [][]string{
		{"--chat-template", "nonesuch"},
		{"--kv-mem", "lots"},
		{"--kv-type", "q4"},
		{"-t", "0"},
		{"--port", "-5"},
	} {
		cmd := newServeCmd()
		cmd.SetArgs(append([]string{"-m", path}, args...))
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		if err := cmd.Execute(); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true},
		{"1GiB", 1 << 30, true},
		{"512MiB", 512 << 20, true},
		{"2G", 2 << 30, true},
		{"1.5 GB", 1_500_000_000, true},
		{"1000", 1000, true},
		{"64KB", 64_000, true},
		{"1Q", 0, false},
		{"GiB", 0, false},
		{"-1GiB", 0, false},
		{"1e30", 0, false},
	}
	for _, tt := range tests {
		got, err := parseBytes(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
