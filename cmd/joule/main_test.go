package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

// joule runs the CLI in-process and returns its stdout, stderr and error.
func joule(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetIn(strings.NewReader(""))
	err := root.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

func randomModel(t *testing.T, cfg llamatest.RandomConfig) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "random.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := llamatest.WriteRandomLlama(f, cfg); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunRandomModel(t *testing.T) {
	for _, typ := range []tensor.Type{tensor.F32, tensor.Q8_0, tensor.Q4_0} {
		t.Run(typ.String(), func(t *testing.T) {
			path := randomModel(t, llamatest.RandomConfig{Type: typ, Seed: 7, Embd: 64, Layers: 2, Heads: 4, KVHeads: 2})
			args := []string{"run", "-m", path, "--temp", "0.9", "--seed", "11", "-n", "24", "-t", "2", "hello world"}
			out1, errOut, err := joule(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			out2, _, _ := joule(t, args...)
			if out1 != out2 {
				t.Errorf("same seed, different output:\n%q\n%q", out1, out2)
			}
			if !strings.Contains(errOut, "prompt: ") || !strings.Contains(errOut, "generated: 24 tokens") {
				t.Errorf("summary line missing or wrong: %q", errOut)
			}
			if strings.Contains(out1, "hello world") {
				t.Errorf("the prompt was echoed: %q", out1)
			}
		})
	}
}

func TestRunStopsAtLimitAndContext(t *testing.T) {
	path := randomModel(t, llamatest.RandomConfig{Seed: 3, Ctx: 32})
	_, errOut, err := joule(t, "run", "-m", path, "--temp", "0", "-n", "5", "x")
	if err != nil || !strings.Contains(errOut, "generated: 5 tokens") {
		t.Fatalf("-n 5: %v, %q", err, errOut)
	}
	// -1 generates until the context is full (unless an end token comes first).
	_, errOut, err = joule(t, "run", "-m", path, "--temp", "0", "-n", "-1", "--ctx", "16", "x")
	if err != nil || !(strings.Contains(errOut, "context full") || strings.Contains(errOut, "end of generation")) {
		t.Fatalf("-n -1: %v, %q", err, errOut)
	}
	if _, _, err = joule(t, "run", "-m", path, "--ctx", "4", "a long prompt that does not fit"); err == nil || !strings.Contains(err.Error(), "context") {
		t.Fatalf("oversized prompt: %v", err)
	}
}

func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	good := randomModel(t, llamatest.RandomConfig{Seed: 1})
	data, _ := os.ReadFile(good)
	truncated := filepath.Join(dir, "truncated.gguf")
	os.WriteFile(truncated, data[:len(data)/2], 0o644)
	notGGUF := filepath.Join(dir, "text.gguf")
	os.WriteFile(notGGUF, []byte("hello, I am not a model"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "-m", filepath.Join(dir, "missing.gguf"), "x"}, "no such file"},
		{[]string{"run", "-m", truncated, "x"}, "truncated"},
		{[]string{"run", "-m", notGGUF, "x"}, "not a GGUF file"},
		{[]string{"run", "-m", good, "--kv-type", "q9", "x"}, "kv-type"},
		{[]string{"run", "-m", good, "-t", "0", "x"}, "threads"},
		{[]string{"run", "x"}, "model"},
		{[]string{"run", "-m", good, "--ctx", "100000000", "x"}, "exceeds the model's context length"},
		{[]string{"inspect", truncated}, "truncated"},
	}
	for _, c := range cases {
		_, _, err := joule(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one mentioning %q", c.args, err, c.want)
		}
	}
}

func TestInspect(t *testing.T) {
	path := randomModel(t, llamatest.RandomConfig{Seed: 1, Type: tensor.Q8_0, Layers: 1})
	out, _, err := joule(t, "inspect", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GGUF v3", "general.architecture", `"llama"`, "tokenizer.ggml.tokens", "array[string;320]",
		"blk.0.attn_q.weight", "Q8_0", "[64, 64]", "token_embd.weight"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q", want)
		}
	}
}
