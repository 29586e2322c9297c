package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joule-llm/joule/gguf"
)

// tokenizeCLI runs the tokenize command in-process.
func tokenizeCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := newTokenizeCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.Execute()
	return stdout.String(), err
}

// byteLevel spells bytes the way GPT-2 vocabularies do: printable Latin-1
// bytes as themselves, the others from U+0100 on.
func byteLevel(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		b.WriteRune(byteRune(raw[i]))
	}
	return b.String()
}

func byteRune(c byte) rune {
	next := rune(256)
	for b := 0; b < 256; b++ {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE
		if b == int(c) {
			if printable {
				return rune(b)
			}
			return next
		}
		if !printable {
			next++
		}
	}
	panic("unreachable")
}

// bpeModel writes a GGUF file holding only a byte-level BPE tokenizer:
// the 256 byte tokens (ids 0..255), " hello" and " world" by merges, and
// <|endoftext|> (id 262) as BOS and EOS.
func bpeModel(t *testing.T) string {
	t.Helper()
	var tokens []string
	var types []int32
	for b := 0; b < 256; b++ {
		tokens = append(tokens, byteLevel(string([]byte{byte(b)})))
		types = append(types, 1)
	}
	merges := []string{"h e", "l l", "he ll", "hell o", byteLevel(" ") + " hello", "w o", "wo r", "wor l", "worl d", byteLevel(" ") + " world"}
	for _, m := range merges {
		tokens = append(tokens, strings.Replace(m, " ", "", 1))
		types = append(types, 1)
	}
	tokens = append(tokens, "<|endoftext|>")
	types = append(types, 3)
	w := gguf.NewWriter()
	for _, kv := range []struct {
		k string
		v any
	}{
		{"general.architecture", "gpt2"},
		{"tokenizer.ggml.model", "gpt2"},
		{"tokenizer.ggml.pre", "gpt-2"},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.merges", merges},
		{"tokenizer.ggml.bos_token_id", uint32(len(tokens) - 1)},
		{"tokenizer.ggml.eos_token_id", uint32(len(tokens) - 1)},
		{"tokenizer.ggml.add_bos_token", true},
	} {
		if err := w.Set(kv.k, kv.v); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "bpe.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTokenizeGGUF(t *testing.T) {
	path := bpeModel(t)
	// Ids: 259 "hello", 260 "Ġhello", 265 "Ġworld", 266 <|endoftext|>.
	for _, tt := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"-m", path, "hello world"}, "", "266 259 265"},
		{[]string{"-m", path, "--no-special", " hello world"}, "", "260 265"},
		{[]string{"-m", path, "<|endoftext|> world"}, "", "266 266 265"},
		{[]string{"-m", path, "--no-special", "<|endoftext|>"}, "", "60 124 101 110 100 111 102 116 101 120 116 124 62"},
		{[]string{"-m", path}, " world", "266 265"},
		{[]string{"-m", path, "--no-special", ""}, "", ""},
	} {
		got, err := tokenizeCLI(t, tt.stdin, tt.args...)
		if err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		if got != tt.want+"\n" {
			t.Errorf("%q: %q, want %q", tt.args, got, tt.want+"\n")
		}
	}

	got, err := tokenizeCLI(t, "", "-m", path, "--json", "hello world")
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		IDs    []int    `json:"ids"`
		Tokens []string `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(got), &out); err != nil {
		t.Fatalf("--json output %q: %v", got, err)
	}
	if want := []string{"<|endoftext|>", "hello", "Ġworld"}; len(out.IDs) != 3 || out.IDs[1] != 259 || strings.Join(out.Tokens, ",") != strings.Join(want, ",") {
		t.Errorf("--json: %+v, want ids 266 259 265 and tokens %q", out, want)
	}
	if got, _ := tokenizeCLI(t, "", "-m", path, "--json", "--no-special", ""); got != `{"ids":[],"tokens":[]}`+"\n" {
		t.Errorf("--json of nothing: %q", got)
	}
}

func TestTokenizeHF(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "tokenizers", "qwen3"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "tokenizer.json")); err != nil {
		t.Skipf("%s is absent; skipping", root)
	}
	got, err := tokenizeCLI(t, "", "--hf", root, "<|im_start|>user\nHello<|im_end|>")
	if err != nil {
		t.Fatal(err)
	}
	// Qwen adds no BOS; the chat markers are special tokens.
	if want := "151644 872 198 9707 151645\n"; got != want {
		t.Errorf("--hf: %q, want %q", got, want)
	}
	got, err = tokenizeCLI(t, "", "--hf", root, "--no-special", "--json", "<|im_end|>")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "151645") || !strings.Contains(got, `"tokens":["<","|","im"`) {
		t.Errorf("--no-special: %s, want <|im_end|> spelled as text", got)
	}
}

func TestTokenizeErrors(t *testing.T) {
	path := bpeModel(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"x"}, "give -m MODEL.gguf or --hf DIR"},
		{[]string{"-m", path, "--hf", t.TempDir(), "x"}, "not both"},
		{[]string{"-m", filepath.Join(t.TempDir(), "none.gguf"), "x"}, "none.gguf"},
		{[]string{"--hf", t.TempDir(), "x"}, "tokenizer.json"},
		{[]string{"-m", path, "a", "b"}, "accepts at most 1 arg"},
	} {
		_, err := tokenizeCLI(t, "", tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want one mentioning %q", tt.args, err, tt.want)
		}
	}
}
