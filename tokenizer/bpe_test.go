package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

// bpeVocab returns a small byte-level BPE vocabulary: the 256 byte
// characters (ids 0..255, in byte order), one token per merge rule (in
// rule order, from id 256), then the extra tokens.
func bpeVocab(pre string, merges []string, extra ...pc) Vocab {
	v := Vocab{Model: "gpt2", Pre: pre, BOS: -1, EOS: -1, UNK: -1, PAD: -1, EOT: -1}
	for b := 0; b < 256; b++ {
		v.Tokens = append(v.Tokens, string(byteRunes[b]))
		v.Types = append(v.Types, int32(Normal))
	}
	for _, m := range merges {
		v.Merges = append(v.Merges, m)
		v.Tokens = append(v.Tokens, strings.Replace(m, " ", "", 1))
		v.Types = append(v.Types, int32(Normal))
	}
	for _, e := range extra {
		// pc.score carries the token type here.
		v.Tokens = append(v.Tokens, e.text)
		v.Types = append(v.Types, int32(e.score))
	}
	return v
}

// englishMerges spell some English words in byte-level form (Ġ is a space,
// Ċ a newline).
var englishMerges = []string{
	"Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ w", "o r", "Ġw or", "l d",
	"Ġwor ld", "Ġ Ġ", "ĠĠ ĠĠ", "1 2", "12 3", "Ċ Ċ", "l l", "e ll", "H ell", "Hell o",
	"' s", "Ġ d", "Ġd on", "' t", "Ã ©", "c a", "f Ã©", "ca fÃ©",
}

func englishBPE(t testing.TB, pre string) *Tokenizer {
	t.Helper()
	v := bpeVocab(pre, englishMerges,
		pc{"<|endoftext|>", float32(Control)}, pc{"<|im_start|>", float32(Control)},
		pc{"<|im_end|>", float32(Control)}, pc{"<think>", float32(UserDefined)})
	v.BOS = len(v.Tokens) - 4 // <|endoftext|>
	v.EOS = len(v.Tokens) - 2 // <|im_end|>
	return mustNew(t, v)
}

// tokenTexts encodes with tk and names the tokens.
func tokenTexts(tk *Tokenizer, s string, addSpecial, parseSpecial bool) []string {
	return textsOf(tk, tk.Encode(s, addSpecial, parseSpecial))
}

func TestBPEEncode(t *testing.T) {
	tk := englishBPE(t, "gpt-2")
	tests := []struct {
		text string
		want string // token texts, comma separated
	}{
		{"", ""},
		{"Hello world", "Hello,Ġworld"},
		{"Hello  the", "Hello,Ġ,Ġthe"},
		{"the", "t,he"},
		{"don't", "d,on,'t"},
		{"café", "cafÃ©"},
		{"123123", "123,123"}, // equal ranks merge leftmost first
		{"\n\n\n", "ĊĊ,Ċ"},
		{"    x", "ĠĠ,Ġ,Ġ,x"},
		{"\xff", "ÿ"},
		{"<think>x", "<think>,x"}, // user-defined tokens are always matched
		{"<|im_start|>", "<,|,i,m,_,s,t,a,r,t,|,>"},
	}
	for _, tt := range tests {
		got := strings.Join(tokenTexts(tk, tt.text, false, false), ",")
		if got != tt.want {
			t.Errorf("Encode(%q) = %q, want %q", tt.text, got, tt.want)
		}
		if dec := tk.Decode(tk.Encode(tt.text, false, false)); dec != tt.text {
			t.Errorf("Decode(Encode(%q)) = %q", tt.text, dec)
		}
	}
}

func TestBPEMergeRank(t *testing.T) {
	// The same word merges differently depending on which rule ranks
	// first.
	for _, tt := range []struct {
		merges []string
		want   string
	}{
		{[]string{"a b", "b c"}, "ab,c"},
		{[]string{"b c", "a b"}, "a,bc"},
		{[]string{"b c", "a b", "a bc"}, "abc"},
		{[]string{"a a"}, "aa,a"},
	} {
		tk := mustNew(t, bpeVocab("gpt-2", tt.merges))
		word := "abc"
		if tt.merges[0] == "a a" {
			word = "aaa"
		}
		if got := strings.Join(tokenTexts(tk, word, false, false), ","); got != tt.want {
			t.Errorf("merges %q: Encode(%q) = %s, want %s", tt.merges, word, got, tt.want)
		}
	}
}

func TestBPENonTokenMerges(t *testing.T) {
	// A rule may make a text that is no token (llama.cpp allows it): "xy"
	// is only a step towards "xyz".
	v := bpeVocab("gpt-2", nil, pc{"xyz", float32(Normal)})
	v.Merges = []string{"x y", "xy z"}
	tk := mustNew(t, v)
	if got := strings.Join(tokenTexts(tk, "xyz", false, false), ","); got != "xyz" {
		t.Errorf("Encode(xyz) = %s, want xyz", got)
	}
	if got := strings.Join(tokenTexts(tk, "xy", false, false), ","); got != "x,y" {
		t.Errorf("Encode(xy) = %s, want x,y (spelled in bytes)", got)
	}
}

func TestBPEIgnoreMerges(t *testing.T) {
	// "Ġworld" is reached by merges, "Ġmoon" only as a whole token: the
	// Llama 3 pre-tokenizers emit a pre-token that is a token whole.
	extra := pc{"Ġmoon", float32(Normal)}
	llama := mustNew(t, bpeVocab("llama-bpe", englishMerges, extra))
	gpt2 := mustNew(t, bpeVocab("gpt-2", englishMerges, extra))
	if got := strings.Join(tokenTexts(llama, " moon world", false, false), ","); got != "Ġmoon,Ġworld" {
		t.Errorf("llama-bpe: %s", got)
	}
	if got := strings.Join(tokenTexts(gpt2, " moon world", false, false), ","); got != "Ġ,m,o,on,Ġworld" {
		t.Errorf("gpt-2: %s", got)
	}
}

func TestBPESpecialTokens(t *testing.T) {
	tk := englishBPE(t, "llama-bpe")
	text := "<|im_start|>the<think><|im_end|>"
	if got := strings.Join(tokenTexts(tk, text, false, true), ","); got != "<|im_start|>,t,he,<think>,<|im_end|>" {
		t.Errorf("parse special: %s", got)
	}
	if got := tokenTexts(tk, text, false, false); len(got) != 25 || got[0] != "<" || got[len(got)-1] != ">" {
		t.Errorf("without parse special the control tokens are text: %q", got)
	}
	// llama-bpe adds BOS by default; here the vocabulary says what to add.
	if ids := tk.Encode("the", true, false); len(ids) != 2 || tk.AddBOS() {
		t.Errorf("AddBOS false: Encode = %q", textsOf(tk, ids))
	}
	v := tk.Vocab()
	v.AddBOS, v.AddEOS = true, true
	tk2 := mustNew(t, v)
	if got := strings.Join(tokenTexts(tk2, "the", true, false), ","); got != "<|endoftext|>,t,he,<|im_end|>" || !tk2.AddBOS() {
		t.Errorf("AddBOS, AddEOS: %s", got)
	}
	// Decoding hides control tokens and shows user-defined ones.
	if got := tk.Decode(tk.Encode(text, false, true)); got != "the<think>" {
		t.Errorf("Decode = %q, want %q", got, "the<think>")
	}
	if !tk.IsEOG(tk.EOS()) || tk.EOT() != tk.EOS() {
		t.Errorf("EOS %d EOT %d: <|im_end|> should be both and end generation", tk.EOS(), tk.EOT())
	}
}

func TestBPEFIMTokens(t *testing.T) {
	// llama.cpp makes fill-in-the-middle tokens control tokens, whatever
	// their type, and the pad, repository and file-separator ones end
	// generation.
	v := bpeVocab("qwen2", nil,
		pc{"<|fim_prefix|>", float32(UserDefined)}, pc{"<|fim_pad|>", float32(UserDefined)},
		pc{"<|repo_name|>", float32(UserDefined)}, pc{"<|file_sep|>", float32(UserDefined)},
		pc{"<tool_call>", float32(UserDefined)})
	tk := mustNew(t, v)
	n := len(v.Tokens)
	prefix, pad, repo, sep, call := n-5, n-4, n-3, n-2, n-1
	if tk.IsEOG(prefix) || !tk.IsEOG(pad) || !tk.IsEOG(repo) || !tk.IsEOG(sep) || tk.IsEOG(call) {
		t.Errorf("IsEOG prefix %v pad %v repo %v sep %v tool_call %v, want false true true true false",
			tk.IsEOG(prefix), tk.IsEOG(pad), tk.IsEOG(repo), tk.IsEOG(sep), tk.IsEOG(call))
	}
	if got := tk.Encode("<|fim_prefix|><tool_call>", false, false); len(got) < 3 || got[len(got)-1] != call {
		t.Errorf("without parse special: %q, want <|fim_prefix|> as text and <tool_call> matched", textsOf(tk, got))
	}
	if got := tk.Encode("<|fim_prefix|><tool_call>", false, true); !slices.Equal(got, []int{prefix, call}) {
		t.Errorf("parse special: %q", textsOf(tk, got))
	}
	if got := tk.Decode([]int{prefix, call}); got != "<tool_call>" {
		t.Errorf("Decode = %q, want the control token hidden", got)
	}
}

func TestBPEDecoder(t *testing.T) {
	tk := englishBPE(t, "llama-bpe")
	// "é" is two bytes, each its own token here: the streaming decoder
	// holds the first until the second arrives.
	ids := []int{tk.ids["Ã"], tk.ids["©"], tk.ids["Ġthe"]}
	d := tk.NewDecoder()
	if got := d.Add(ids[0]); got != "" {
		t.Errorf("first half of é: %q", got)
	}
	if got := d.Add(ids[1]); got != "é" {
		t.Errorf("second half of é: %q", got)
	}
	if got := d.Add(ids[2]); got != " the" {
		t.Errorf("Ġthe: %q (byte-level BPE keeps leading spaces)", got)
	}
	if got := tk.NewContinuationDecoder().Add(ids[2]); got != " the" {
		t.Errorf("continuation: %q", got)
	}
}

func TestBPEPretokenizerNames(t *testing.T) {
	for _, name := range preNameList() {
		v := bpeVocab(name, englishMerges)
		tk, err := New(v)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		s := "Hello world, 12345 don't\n\n  x"
		if got := tk.Decode(tk.Encode(s, false, false)); got != s {
			t.Errorf("%s: round trip %q", name, got)
		}
	}
	tk := mustNew(t, bpeVocab("", englishMerges))
	if tk.Vocab().Pre != "" {
		t.Errorf("Pre = %q", tk.Vocab().Pre)
	}
}
