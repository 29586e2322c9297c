package tokenizer

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/joule-llm/joule/gguf"
)

// ggufOf writes the metadata of v (plus extra keys, which may override) to
// an in-memory GGUF file and parses it back.
func ggufOf(t *testing.T, v Vocab, extra map[string]any) *gguf.File {
	t.Helper()
	w := gguf.NewWriter()
	set := func(k string, val any) {
		if err := w.Set(k, val); err != nil {
			t.Fatalf("Set(%q): %v", k, err)
		}
	}
	set("general.architecture", "llama")
	set(keyModel, "llama")
	set(keyTokens, v.Tokens)
	set(keyScores, v.Scores)
	set(keyTypes, v.Types)
	for k, val := range extra {
		if val == nil {
			continue
		}
		set(k, val)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func TestFromGGUFDefaults(t *testing.T) {
	v := spaceVocab()
	tk, err := FromGGUF(ggufOf(t, v, nil))
	if err != nil {
		t.Fatal(err)
	}
	got := tk.Vocab()
	if got.BOS != 1 || got.EOS != 2 || got.UNK != 0 || got.PAD != -1 || got.EOT != -1 {
		t.Errorf("ids BOS %d EOS %d UNK %d PAD %d EOT %d, want 1 2 0 -1 -1", got.BOS, got.EOS, got.UNK, got.PAD, got.EOT)
	}
	if !got.AddBOS || got.AddEOS || !got.AddSpacePrefix || got.Model != "llama" {
		t.Errorf("AddBOS %v AddEOS %v AddSpacePrefix %v Model %q, want true false true llama",
			got.AddBOS, got.AddEOS, got.AddSpacePrefix, got.Model)
	}
	if ids := tk.Encode("hi hi", true, false); !slices.Equal(ids, idsOf(t, tk, "<s>", "▁hi", "▁hi")) {
		t.Errorf("Encode = %q", textsOf(tk, ids))
	}
}

func TestFromGGUFKeys(t *testing.T) {
	v := spaceVocab()
	tk, err := FromGGUF(ggufOf(t, v, map[string]any{
		keyBOS: uint32(2), keyEOS: uint32(1), keyUNK: uint32(3), keyPAD: uint32(4), keyEOT: uint32(5),
		keyAddBOS: false, keyAddEOS: true, keyAddSpacePfx: false,
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := tk.Vocab()
	if got.BOS != 2 || got.EOS != 1 || got.UNK != 3 || got.PAD != 4 || got.EOT != 5 {
		t.Errorf("ids BOS %d EOS %d UNK %d PAD %d EOT %d, want 2 1 3 4 5", got.BOS, got.EOS, got.UNK, got.PAD, got.EOT)
	}
	if got.AddBOS || !got.AddEOS || got.AddSpacePrefix {
		t.Errorf("AddBOS %v AddEOS %v AddSpacePrefix %v, want false true false", got.AddBOS, got.AddEOS, got.AddSpacePrefix)
	}
	if ids := tk.Encode("hi", true, false); !slices.Equal(ids, idsOf(t, tk, "hi", "<s>")) {
		t.Errorf("Encode = %q, want [hi <s>] (EOS is id 1 here)", textsOf(tk, ids))
	}
}

func TestFromGGUFIntegerScores(t *testing.T) {
	v := spaceVocab()
	scores := make([]int32, len(v.Scores))
	for i, s := range v.Scores {
		scores[i] = int32(s * 2) // keeps the order of the float scores
	}
	tk, err := FromGGUF(ggufOf(t, v, map[string]any{keyScores: scores}))
	if err != nil {
		t.Fatal(err)
	}
	if ids := tk.Encode("hi", false, false); !slices.Equal(ids, idsOf(t, tk, "▁hi")) {
		t.Errorf("Encode = %q, want [▁hi]", textsOf(tk, ids))
	}
}

func TestFromGGUFDefaultsOutOfRange(t *testing.T) {
	// A vocabulary of two tokens cannot have the default EOS (2): with no
	// EOS key it has none.
	v := Vocab{Tokens: []string{"<unk>", "<s>"}, Scores: []float32{0, 0}, Types: []int32{2, 3}}
	tk, err := FromGGUF(ggufOf(t, v, nil))
	if err != nil {
		t.Fatal(err)
	}
	if tk.EOS() != -1 || tk.BOS() != 1 {
		t.Errorf("EOS %d BOS %d, want -1 1", tk.EOS(), tk.BOS())
	}
}

func TestFromGGUFRejects(t *testing.T) {
	v := spaceVocab()
	n := len(v.Tokens)
	tests := []struct {
		name  string
		extra map[string]any
		want  string
	}{
		{"unsupported model", map[string]any{keyModel: "bert"}, `"bert"`},
		{"gpt2 without merges", map[string]any{keyModel: "gpt2"}, keyMerges},
		{"gpt2 merges not strings", map[string]any{keyModel: "gpt2", keyMerges: []int32{1}}, keyMerges},
		{"gpt2 unknown pre-tokenizer", map[string]any{keyModel: "gpt2", keyMerges: []string{"h i"}, keyPre: "nope"}, `"nope"`},
		{"model not a string", map[string]any{keyModel: uint32(1)}, keyModel},
		{"tokens not strings", map[string]any{keyTokens: []int32{1, 2}}, keyTokens},
		{"scores too short", map[string]any{keyScores: []float32{1, 2}}, "2 scores"},
		{"scores of strings", map[string]any{keyScores: []string{"x"}}, keyScores},
		{"types too short", map[string]any{keyTypes: []int32{1}}, "1 token types"},
		{"types not integers", map[string]any{keyTypes: []float32{1}}, keyTypes},
		{"BOS out of range", map[string]any{keyBOS: uint32(n)}, keyBOS},
		{"EOS negative", map[string]any{keyEOS: int32(-1)}, keyEOS},
		{"UNK not an integer", map[string]any{keyUNK: "0"}, keyUNK},
		{"add_bos not a bool", map[string]any{keyAddBOS: uint8(1)}, keyAddBOS},
		{"add_eos without EOS", map[string]any{keyAddEOS: true, keyTokens: []string{"<unk>", "<s>"},
			keyScores: []float32{0, 0}, keyTypes: []int32{2, 3}}, "no EOS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromGGUF(ggufOf(t, v, tt.extra))
			if err == nil {
				t.Fatal("FromGGUF succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestFromGGUFMissingKeys(t *testing.T) {
	w := gguf.NewWriter()
	if err := w.Set("general.architecture", "llama"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FromGGUF(f); err == nil || !strings.Contains(err.Error(), keyModel) {
		t.Errorf("FromGGUF without %s: error %v", keyModel, err)
	}
	if err := w.Set(keyModel, "llama"); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if f, err = gguf.Parse(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if _, err := FromGGUF(f); err == nil || !strings.Contains(err.Error(), keyTokens) {
		t.Errorf("FromGGUF without %s: error %v", keyTokens, err)
	}
}
