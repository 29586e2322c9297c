package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// englishVocab has every printable ASCII character and some common English
// pieces; everything else goes to byte tokens.
func englishVocab() Vocab {
	var pieces []pc
	pieces = append(pieces, pc{"▁", -1000})
	for c := '!'; c <= '~'; c++ {
		pieces = append(pieces, pc{string(c), -1000})
	}
	merges := []string{
		"▁t", "he", "▁the", "in", "▁a", "an", "nd", "▁and", "er", "on", "▁o",
		"re", "at", "▁s", "▁w", "ou", "it", "is", "▁th", "▁T", "▁The", "ed",
		"▁h", "en", "es", "▁f", "▁b", "or", "▁c", "ing", "▁d", "▁m", "▁l",
		"▁p", "▁i", "▁n", "og", "▁do", "▁dog", "ox", "▁fox", "▁▁", "▁▁▁▁", "ll",
		"▁he", "llo", "▁hello", "..", "...",
	}
	for i, m := range merges {
		pieces = append(pieces, pc{m, -float32(i)})
	}
	return buildVocab(pieces...)
}

// roundTripTexts are strings that Decode(Encode(s)) must give back.
var roundTripTexts = []string{
	"",
	" ",
	"  ",
	"a",
	"The quick brown fox jumps over the lazy dog.",
	"hello hello  hello   hello",
	" leading space",
	"  two leading spaces",
	"trailing space ",
	"tabs\tand\nnewlines\r\n\n",
	"\n",
	"\x00\x01\x7f",
	"日本語のテキスト",
	"中文 和 English",
	"emoji 😀👍🏽 and flags 🇳🇴",
	"ünïcödé with ç and ß",
	"e\u0301 combining accent",
	"Ω≈ç√∫˜µ≤≥÷",
	"<s> looks special but is text </s>",
	"<0x41> is not a byte token here",
	"...and so on...",
	"\u00a0non-breaking\u2009thin\u3000ideographic spaces",
	"\uFEFFbyte order mark",
	"\U0010FFFF max rune",
}

func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"english", "space"} {
		v := englishVocab()
		if name == "space" {
			v = spaceVocab()
		}
		for _, prefix := range []bool{true, false} {
			v.AddSpacePrefix = prefix
			tk := mustNew(t, v)
			for _, s := range roundTripTexts {
				for _, addSpecial := range []bool{false, true} {
					ids := tk.Encode(s, addSpecial, false)
					if got := tk.Decode(ids); got != s {
						t.Errorf("%s vocab, prefix %v, addSpecial %v: Decode(Encode(%q)) = %q (ids %q)",
							name, prefix, addSpecial, s, got, textsOf(tk, ids))
					}
				}
			}
		}
	}
}

func TestPiece(t *testing.T) {
	v := spaceVocab()
	tool := addToken(&v, "<tool>", UserDefined)
	unused := addToken(&v, "<unused0>", Unused)
	undef := addToken(&v, "<undef>", Undefined)
	tk := mustNew(t, v)
	ids := func(s string) int { return idsOf(t, tk, s)[0] }
	tests := []struct {
		id   int
		want string
	}{
		{ids("▁hi"), " hi"},
		{ids("hi"), "hi"},
		{ids("▁"), " "},
		{ids("<0x41>"), "A"},
		{ids("<0x0A>"), "\n"},
		{ids("<0xE4>"), "\xe4"},
		{ids("<s>"), ""},
		{ids("</s>"), ""},
		{ids("<unk>"), ""},
		{tool, "<tool>"},
		{unused, ""},
		{undef, ""},
		{-1, ""},
		{tk.Len(), ""},
	}
	for _, tt := range tests {
		if got := tk.Piece(tt.id); got != tt.want {
			t.Errorf("Piece(%d %q) = %q, want %q", tt.id, tk.Token(tt.id), got, tt.want)
		}
	}
}

func TestDecode(t *testing.T) {
	tk := mustNew(t, spaceVocab())
	noPrefix := spaceVocab()
	noPrefix.AddSpacePrefix = false
	tkNoPrefix := mustNew(t, noPrefix)
	tests := []struct {
		tk   *Tokenizer
		toks []string
		want string
	}{
		{tk, []string{"▁hi"}, "hi"},
		{tk, []string{"<s>", "▁hi"}, "hi"},
		{tk, []string{"<s>", "▁hi", "▁hi", "</s>"}, "hi hi"},
		{tk, []string{"hi", "▁hi"}, "hi hi"},
		{tk, []string{"▁", "▁hi"}, " hi"},
		{tk, []string{"<0x20>", "hi"}, "hi"}, // a space byte is stripped too
		{tk, []string{"<s>", "<0xE4>", "<0xB8>", "<0xAD>"}, "中"},
		{tk, []string{"▁hi", "<0x0A>", "<s>", "▁hi"}, "hi\n hi"},
		{tk, nil, ""},
		{tk, []string{"<s>"}, ""},
		{tkNoPrefix, []string{"▁hi"}, " hi"},
		{tkNoPrefix, []string{"<s>", "▁hi", "▁hi"}, " hi hi"},
	}
	for _, tt := range tests {
		if got := tt.tk.Decode(idsOf(t, tt.tk, tt.toks...)); got != tt.want {
			t.Errorf("Decode(%q) = %q, want %q", tt.toks, got, tt.want)
		}
	}
	if got := tk.Decode([]int{-5, 1 << 30}); got != "" {
		t.Errorf("Decode of out-of-range ids = %q, want \"\"", got)
	}
}

func TestDecoderHoldsPartialCharacters(t *testing.T) {
	tk := mustNew(t, spaceVocab())
	type step struct {
		tok  string
		want string
	}
	tests := []struct {
		name  string
		steps []step
		flush string
	}{
		{"emoji split in four", []step{
			{"<s>", ""}, {"▁hi", "hi"},
			{"<0xF0>", ""}, {"<0x9F>", ""}, {"<0x98>", ""}, {"<0x80>", "😀"},
			{"▁hi", " hi"},
		}, ""},
		{"CJK after text", []step{
			{"hi", "hi"}, {"<0xE4>", ""}, {"<0xB8>", ""}, {"<0xAD>", "中"},
		}, ""},
		{"two-byte at start", []step{{"<0xC3>", ""}, {"<0xA9>", "é"}}, ""},
		{"broken sequence is passed on", []step{
			{"<0xE4>", ""}, {"<0xB8>", ""}, {"▁hi", "\xe4\xb8 hi"},
		}, ""},
		{"stray continuation bytes are not held", []step{{"<0x80>", "\x80"}, {"<0xBF>", "\xbf"}}, ""},
		{"invalid lead byte is not held", []step{{"<0xFF>", "\xff"}, {"<0xC0>", "\xc0"}}, ""},
		{"flush returns the rest", []step{{"hi", "hi"}, {"<0xF0>", ""}, {"<0x9F>", ""}}, "\xf0\x9f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tk.NewDecoder()
			var all []int
			var sb strings.Builder
			for _, s := range tt.steps {
				id := idsOf(t, tk, s.tok)[0]
				all = append(all, id)
				got := d.Add(id)
				if got != s.want {
					t.Errorf("Add(%q) = %q, want %q", s.tok, got, s.want)
				}
				sb.WriteString(got)
			}
			if got := d.Flush(); got != tt.flush {
				t.Errorf("Flush() = %q, want %q", got, tt.flush)
			} else {
				sb.WriteString(got)
			}
			if got := d.Flush(); got != "" {
				t.Errorf("second Flush() = %q, want \"\"", got)
			}
			if whole := tk.Decode(all); sb.String() != whole {
				t.Errorf("streamed %q, Decode gives %q", sb.String(), whole)
			}
		})
	}
}

func TestDecoderStreamsWholeCharacters(t *testing.T) {
	tk := mustNew(t, englishVocab())
	for _, s := range roundTripTexts {
		ids := tk.Encode(s, true, false)
		d := tk.NewDecoder()
		var sb strings.Builder
		for _, id := range ids {
			out := d.Add(id)
			if !utf8.ValidString(out) {
				t.Errorf("%q: Add returned invalid UTF-8 %q", s, out)
			}
			sb.WriteString(out)
		}
		if rest := d.Flush(); rest != "" {
			t.Errorf("%q: Flush() = %q after valid text, want \"\"", s, rest)
		}
		if sb.String() != s {
			t.Errorf("streamed %q, want %q", sb.String(), s)
		}
	}
}

func TestDecoderContinuation(t *testing.T) {
	// Streaming a continuation: the prompt goes through the Decoder first so
	// that the generated text keeps its leading space.
	tk := mustNew(t, spaceVocab())
	prompt := tk.Encode("hi", true, false)
	d := tk.NewDecoder()
	for _, id := range prompt {
		d.Add(id)
	}
	if got := d.Add(idsOf(t, tk, "▁hi")[0]); got != " hi" {
		t.Errorf("first generated piece = %q, want \" hi\"", got)
	}
}

func TestContinuationDecoderKeepsLeadingSpace(t *testing.T) {
	// After a prompt of BOS alone the first generated piece keeps its
	// space, as llama.cpp prints it.
	tk := mustNew(t, spaceVocab())
	d := tk.NewContinuationDecoder()
	got := ""
	for _, id := range tk.Encode("hi hi", false, false) {
		got += d.Add(id)
	}
	if got += d.Flush(); got != " hi hi" {
		t.Fatalf("got %q, want %q", got, " hi hi")
	}
	if plain := tk.Decode(tk.Encode("hi hi", true, false)); plain != "hi hi" {
		t.Fatalf("Decode = %q", plain)
	}
}
