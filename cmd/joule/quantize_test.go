package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/quantize"
	"github.com/joule-llm/joule/tensor"
)

// jouleQ runs the CLI in-process like joule, with the quantize and
// perplexity commands present whether or not the root command has them
// yet.
func jouleQ(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRootCmd()
	have := map[string]bool{}
	for _, c := range root.Commands() {
		have[c.Name()] = true
	}
	for _, c := range []*cobra.Command{newQuantizeCmd(), newPerplexityCmd()} {
		if !have[c.Name()] {
			root.AddCommand(c)
		}
	}
	var stdout, stderr bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetIn(strings.NewReader(""))
	err := root.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

func TestQuantizeCommand(t *testing.T) {
	in := randomModel(t, llamatest.RandomConfig{Embd: 256, FF: 256, Layers: 2, Heads: 4, KVHeads: 2, Seed: 9})
	dir := t.TempDir()
	for _, tc := range []struct {
		typ   string
		types map[string]tensor.Type // some tensors' types in the output
	}{
		{"Q8_0", map[string]tensor.Type{"blk.0.attn_q.weight": tensor.Q8_0, "output.weight": tensor.Q8_0, "output_norm.weight": tensor.F32}},
		{"q4_0", map[string]tensor.Type{"blk.1.ffn_up.weight": tensor.Q4_0, "output.weight": tensor.Q6_K, "token_embd.weight": tensor.Q4_0}},
		// Of two layers, the second gets more bits for attn_v and ffn_down.
		{"Q4_K_M", map[string]tensor.Type{
			"blk.0.attn_q.weight": tensor.Q4_K, "blk.0.attn_v.weight": tensor.Q4_K, "blk.1.attn_v.weight": tensor.Q6_K,
			"blk.0.ffn_down.weight": tensor.Q4_K, "blk.1.ffn_down.weight": tensor.Q6_K, "output.weight": tensor.Q6_K,
		}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			out := filepath.Join(dir, tc.typ+".gguf")
			stdout, stderr, err := jouleQ(t, "quantize", "-t", "2", in, out, tc.typ)
			if err != nil {
				t.Fatal(err)
			}
			// Not on a terminal: a line per tensor instead of a bar.
			if !strings.Contains(stdout, "bits per weight") || !strings.Contains(stderr, "[21/21] ") || strings.Count(stderr, "\n") < 21 {
				t.Errorf("no summary or progress lines:\nstdout %q\nstderr %q", stdout, stderr)
			}
			f, err := gguf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for name, want := range tc.types {
				if ti, ok := f.Tensor(name); !ok || ti.Type != want {
					t.Errorf("%s: %v, want %s", name, ti, want)
				}
			}
			if _, err := model.Load(f); err != nil {
				t.Fatal(err)
			}
			if _, _, err := jouleQ(t, "run", "-m", out, "--temp", "0", "-n", "8", "hello"); err != nil {
				t.Errorf("run on the %s model: %v", tc.typ, err)
			}
		})
	}
}

func TestQuantizeProgressBar(t *testing.T) {
	var buf bytes.Buffer
	p := newQuantizeProgress(&buf, true, 3)
	for i, name := range []string{"a.weight", "b.weight", "c.weight"} {
		p.tensorDone(i, &quantize.Choice{Name: name, From: tensor.F32, To: tensor.Q8_0})
	}
	p.finish(true)
	if out := buf.String(); !strings.Contains(out, "100%") || !strings.Contains(out, "(3/3)") || !strings.HasSuffix(out, "\n") {
		t.Errorf("progress bar output %q", out)
	}
}

func TestQuantizeDryRunAndErrors(t *testing.T) {
	in := randomModel(t, llamatest.RandomConfig{Embd: 64, FF: 96, Layers: 1, Heads: 2, Seed: 2})
	out := filepath.Join(t.TempDir(), "out.gguf")

	stdout, stderr, err := jouleQ(t, "quantize", "--dry-run", in, out, "Q4_K_M")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("--dry-run wrote the output file")
	}
	for _, s := range []string{"blk.0.attn_q.weight", "Q5_0", "nothing written"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("--dry-run output lacks %q:\n%s", s, stdout)
		}
	}
	// 64 columns do not fit Q4_K: llama.cpp's fallback is Q5_0.
	if !strings.Contains(stderr, "row of 64 is not a multiple of 256 (Q4_K): Q5_0") || !strings.Contains(stderr, "needed a fallback type") {
		t.Errorf("no fallback warnings:\n%s", stderr)
	}

	q8 := randomModel(t, llamatest.RandomConfig{Embd: 64, FF: 96, Layers: 1, Heads: 2, Seed: 2, Type: tensor.Q8_0})
	if _, _, err := jouleQ(t, "quantize", q8, out, "Q4_0"); err == nil || !strings.Contains(err.Error(), "--allow-requantize") {
		t.Errorf("requantizing without the flag: %v", err)
	}
	if _, stderr, err := jouleQ(t, "quantize", "--allow-requantize", q8, out, "Q4_0"); err != nil || !strings.Contains(stderr, "warning: requantizing") {
		t.Errorf("requantizing with the flag: %v\n%s", err, stderr)
	}

	for _, args := range [][]string{
		{"quantize", in, out, "IQ2_XXS"},
		{"quantize", in, out},
		{"quantize", filepath.Join(t.TempDir(), "missing.gguf"), out, "Q8_0"},
		{"quantize", "-t", "0", in, out, "Q8_0"},
	} {
		if _, _, err := jouleQ(t, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
