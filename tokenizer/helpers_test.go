package tokenizer

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// pc is a piece of a hand-built vocabulary and its merge score.
type pc struct {
	text  string
	score float32
}

// buildVocab returns a vocabulary laid out like a SentencePiece one: <unk>,
// <s>, </s>, the 256 byte tokens <0x00>..<0xFF> (ids 3..258), then pieces
// (ids from 259) as normal tokens.
func buildVocab(pieces ...pc) Vocab {
	v := Vocab{
		Tokens: []string{"<unk>", "<s>", "</s>"},
		Scores: []float32{0, 0, 0},
		Types:  []int32{int32(Unknown), int32(Control), int32(Control)},
		BOS:    1, EOS: 2, UNK: 0, PAD: -1, EOT: -1,
		AddBOS: true, AddSpacePrefix: true,
	}
	for b := 0; b < 256; b++ {
		v.Tokens = append(v.Tokens, fmt.Sprintf("<0x%02X>", b))
		v.Scores = append(v.Scores, 0)
		v.Types = append(v.Types, int32(Byte))
	}
	for _, p := range pieces {
		v.Tokens = append(v.Tokens, p.text)
		v.Scores = append(v.Scores, p.score)
		v.Types = append(v.Types, int32(Normal))
	}
	return v
}

// addToken appends a token of type typ to v and returns its id.
func addToken(v *Vocab, text string, typ TokenType) int {
	v.Tokens = append(v.Tokens, text)
	v.Scores = append(v.Scores, 0)
	v.Types = append(v.Types, int32(typ))
	return len(v.Tokens) - 1
}

func mustNew(tb testing.TB, v Vocab) *Tokenizer {
	tb.Helper()
	tk, err := New(v)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return tk
}

// idsOf maps token texts to their ids, failing on a text not in tk.
func idsOf(tb testing.TB, tk *Tokenizer, texts ...string) []int {
	tb.Helper()
	out := make([]int, 0, len(texts))
	for _, s := range texts {
		id, ok := tk.ids[s]
		if !ok {
			tb.Fatalf("token %q is not in the vocabulary", s)
		}
		out = append(out, id)
	}
	return out
}

// textsOf names ids by their token texts, for readable failures.
func textsOf(tk *Tokenizer, ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = tk.Token(id)
	}
	return out
}

// findRoot returns the directory holding go.mod, walking up from the
// package directory.
func findRoot() (string, bool) {
	dir, err := filepath.Abs(".")
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// sharedDir returns the shared data folder (../shared from the module
// root), or skips the test if it is absent.
func sharedDir(tb testing.TB) string {
	tb.Helper()
	root, ok := findRoot()
	if !ok {
		tb.Skip("module root (go.mod) not found; skipping test that needs ../shared")
	}
	shared := filepath.Join(root, "..", "shared")
	if _, err := os.Stat(shared); err != nil {
		tb.Skipf("shared data folder %s is absent; skipping", shared)
	}
	return shared
}
