package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Vocab)
		want string // part of the error
	}{
		{"other model", func(v *Vocab) { v.Model = "bert" }, `"bert"`},
		{"unknown pre-tokenizer", func(v *Vocab) { v.Model, v.Pre = "gpt2", "nope" }, `"nope" is not supported (supported: command-r, dbrx, deepseek-llm, `},
		{"bad merge", func(v *Vocab) { v.Model, v.Merges = "gpt2", []string{"h i", "hi"} }, `merge 1: merge rule "hi"`},
		{"no tokens", func(v *Vocab) { v.Tokens, v.Scores, v.Types = nil, nil, nil }, "no tokens"},
		{"short scores", func(v *Vocab) { v.Scores = v.Scores[:10] }, "10 scores"},
		{"long types", func(v *Vocab) { v.Types = append(v.Types, 1) }, "token types"},
		{"BOS out of range", func(v *Vocab) { v.BOS = len(v.Tokens) }, "BOS token id"},
		{"EOS negative", func(v *Vocab) { v.EOS = -2 }, "EOS token id"},
		{"UNK out of range", func(v *Vocab) { v.UNK = 1 << 20 }, "UNK token id"},
		{"PAD out of range", func(v *Vocab) { v.PAD = len(v.Tokens) }, "PAD token id"},
		{"EOT out of range", func(v *Vocab) { v.EOT = len(v.Tokens) }, "EOT token id"},
		{"add BOS without BOS", func(v *Vocab) { v.BOS = -1 }, "no BOS"},
		{"add EOS without EOS", func(v *Vocab) { v.AddEOS, v.EOS = true, -1 }, "no EOS"},
		{"duplicate token", func(v *Vocab) { v.Tokens[len(v.Tokens)-1] = "▁h" }, "appears twice"},
		{"bad byte token", func(v *Vocab) { v.Tokens[3+0x41] = "A" }, "not <0xXX>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := spaceVocab()
			tt.edit(&v)
			_, err := New(v)
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestAccessors(t *testing.T) {
	v := spaceVocab()
	v.Tokens[259] = "" // empty texts are renamed, as llama.cpp does
	tk := mustNew(t, v)
	if tk.Len() != len(v.Tokens) {
		t.Errorf("Len() = %d, want %d", tk.Len(), len(v.Tokens))
	}
	if tk.BOS() != 1 || tk.EOS() != 2 || tk.UNK() != 0 || tk.EOT() != -1 || !tk.AddBOS() {
		t.Errorf("BOS %d EOS %d UNK %d EOT %d AddBOS %v, want 1 2 0 -1 true",
			tk.BOS(), tk.EOS(), tk.UNK(), tk.EOT(), tk.AddBOS())
	}
	for _, tt := range []struct {
		id   int
		text string
		typ  TokenType
	}{
		{0, "<unk>", Unknown}, {1, "<s>", Control}, {3 + 0x41, "<0x41>", Byte},
		{259, "[EMPTY_259]", Normal}, {260, "h", Normal},
		{-1, "", Undefined}, {len(v.Tokens), "", Undefined},
	} {
		if got := tk.Token(tt.id); got != tt.text {
			t.Errorf("Token(%d) = %q, want %q", tt.id, got, tt.text)
		}
		if got := tk.Type(tt.id); got != tt.typ {
			t.Errorf("Type(%d) = %v, want %v", tt.id, got, tt.typ)
		}
	}
	if v.Tokens[259] != "" {
		t.Error("New modified the caller's Tokens")
	}
	got := tk.Vocab()
	got.Tokens[260] = "changed"
	if tk.Token(260) != "h" {
		t.Error("Vocab() shares its Tokens with the Tokenizer")
	}
}

func TestTypesDefaultToNormal(t *testing.T) {
	tk := mustNew(t, Vocab{Tokens: []string{"a", "b"}, BOS: -1, EOS: -1, UNK: -1, PAD: -1, EOT: -1})
	if tk.Type(1) != Normal {
		t.Errorf("Type(1) = %v, want normal", tk.Type(1))
	}
	if got := tk.Decode(tk.Encode("ab ba", true, false)); got != "abba" {
		// Without ▁ or byte tokens the space cannot be spelled; it is
		// dropped (there is no UNK either).
		t.Errorf("round trip = %q, want %q", got, "abba")
	}
}

func TestIsEOG(t *testing.T) {
	v := spaceVocab()
	imEnd := addToken(&v, "<|im_end|>", Normal)
	eot := addToken(&v, "<end_of_turn>", Control)
	tk := mustNew(t, v)
	// "<|im_end|>" comes first among the known end-of-turn texts.
	if tk.EOT() != imEnd {
		t.Errorf("EOT() = %d, want %d (detected by text)", tk.EOT(), imEnd)
	}
	for _, tt := range []struct {
		id   int
		want bool
	}{
		{2, true}, {imEnd, true}, {eot, true},
		{1, false}, {0, false}, {259, false}, {-1, false},
	} {
		if got := tk.IsEOG(tt.id); got != tt.want {
			t.Errorf("IsEOG(%d %q) = %v, want %v", tt.id, tk.Token(tt.id), got, tt.want)
		}
	}
	// A normal token known as an end marker becomes a control token: hidden
	// when decoding and matched in text only with parseSpecial.
	if p := tk.Piece(imEnd); p != "" {
		t.Errorf("Piece(<|im_end|>) = %q, want \"\"", p)
	}
	if got := tk.Encode("<|im_end|>", false, true); !slices.Equal(got, []int{imEnd}) {
		t.Errorf("Encode(<|im_end|>, parseSpecial) = %v, want [%d]", got, imEnd)
	}

	// An EOT named by the vocabulary wins over detection.
	v.EOT = 260
	tk = mustNew(t, v)
	if tk.EOT() != 260 || !tk.IsEOG(260) {
		t.Errorf("EOT() = %d, IsEOG(260) = %v; want 260, true", tk.EOT(), tk.IsEOG(260))
	}
}

func TestTokenTypeString(t *testing.T) {
	for typ, want := range map[TokenType]string{
		Undefined: "undefined", Normal: "normal", Unknown: "unknown", Control: "control",
		UserDefined: "user-defined", Unused: "unused", Byte: "byte", 9: "TokenType(9)",
	} {
		if got := typ.String(); got != want {
			t.Errorf("TokenType(%d).String() = %q, want %q", int32(typ), got, want)
		}
	}
}
