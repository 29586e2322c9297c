package tokenizer

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestEncodeMerges(t *testing.T) {
	chars := []pc{{"a", -10}, {"b", -10}, {"c", -10}, {"d", -10}}
	tests := []struct {
		name   string
		pieces []pc
		text   string
		want   []string
	}{
		{"higher score wins", []pc{{"ab", -1}, {"bc", -0.5}}, "abc", []string{"a", "bc"}},
		{"higher score wins on the left", []pc{{"ab", -0.5}, {"bc", -1}}, "abc", []string{"ab", "c"}},
		{"tie goes to the leftmost", []pc{{"ab", -1}, {"bc", -1}}, "abc", []string{"ab", "c"}},
		{"merged symbol merges again", []pc{{"ab", -1}, {"bc", -1.5}, {"abc", -2}}, "abc", []string{"abc"}},
		{"best pair first, not leftmost", []pc{{"bc", -1}, {"ab", -2}, {"cd", -1.5}}, "abcd", []string{"a", "bc", "d"}},
		{"two pairs join", []pc{{"ab", -1}, {"cd", -1}, {"abcd", 0}}, "abcd", []string{"abcd"}},
		{"piece not reachable by pairs", []pc{{"abcd", 0}, {"bc", -1}}, "abcd", []string{"a", "bc", "d"}},
		{"even run", []pc{{"aa", -1}}, "aaaa", []string{"aa", "aa"}},
		{"odd run", []pc{{"aa", -1}}, "aaa", []string{"aa", "a"}},
		{"no pieces", nil, "dcba", []string{"d", "c", "b", "a"}},
		{"unknown character in bytes", nil, "aé", []string{"a", "<0xC3>", "<0xA9>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := buildVocab(append(append([]pc(nil), chars...), tt.pieces...)...)
			v.AddSpacePrefix = false
			tk := mustNew(t, v)
			got := tk.Encode(tt.text, false, false)
			if want := idsOf(t, tk, tt.want...); !slices.Equal(got, want) {
				t.Errorf("Encode(%q) = %q, want %q", tt.text, textsOf(tk, got), tt.want)
			}
		})
	}
}

// spaceVocab has pieces for "hi" with and without a leading space.
func spaceVocab() Vocab {
	return buildVocab(
		pc{"▁", -5}, pc{"h", -6}, pc{"i", -6},
		pc{"▁h", -1}, pc{"hi", -2}, pc{"▁hi", -0.5},
	)
}

func TestEncodeSpacesAndBytes(t *testing.T) {
	tk := mustNew(t, spaceVocab())
	tests := []struct {
		text string
		want []string
	}{
		{"", nil},
		{"hi", []string{"▁hi"}},
		{"hi hi", []string{"▁hi", "▁hi"}},
		{"hi  hi", []string{"▁hi", "▁", "▁hi"}},
		{" hi", []string{"▁", "▁hi"}},
		{" ", []string{"▁", "▁"}},
		{"hi\nhi", []string{"▁hi", "<0x0A>", "hi"}},
		{"\t", []string{"▁", "<0x09>"}},
		{"h😀", []string{"▁h", "<0xF0>", "<0x9F>", "<0x98>", "<0x80>"}},
		{"中", []string{"▁", "<0xE4>", "<0xB8>", "<0xAD>"}},
		{"▁hi", []string{"▁", "▁hi"}}, // a literal U+2581 is a space
	}
	for _, tt := range tests {
		got := tk.Encode(tt.text, false, false)
		if want := idsOf(t, tk, tt.want...); !slices.Equal(got, want) {
			t.Errorf("Encode(%q) = %q, want %q", tt.text, textsOf(tk, got), tt.want)
		}
	}
}

func TestEncodeSpecial(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(*Vocab)
		text       string
		addSpecial bool
		want       []string
	}{
		{"BOS added", nil, "hi", true, []string{"<s>", "▁hi"}},
		{"BOS alone for empty text", nil, "", true, []string{"<s>"}},
		{"nothing for empty text", nil, "", false, nil},
		{"BOS and EOS", func(v *Vocab) { v.AddEOS = true }, "hi", true, []string{"<s>", "▁hi", "</s>"}},
		{"EOS only", func(v *Vocab) { v.AddBOS, v.AddEOS = false, true }, "hi", true, []string{"▁hi", "</s>"}},
		{"neither", func(v *Vocab) { v.AddBOS = false }, "hi", true, []string{"▁hi"}},
		{"EOS not added without addSpecial", func(v *Vocab) { v.AddEOS = true }, "hi", false, []string{"▁hi"}},
		{"no space prefix", func(v *Vocab) { v.AddSpacePrefix = false }, "hi", true, []string{"<s>", "hi"}},
		{"no space prefix, inner space kept", func(v *Vocab) { v.AddSpacePrefix = false }, "hi hi", false, []string{"hi", "▁hi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := spaceVocab()
			if tt.edit != nil {
				tt.edit(&v)
			}
			tk := mustNew(t, v)
			got := tk.Encode(tt.text, tt.addSpecial, false)
			if want := idsOf(t, tk, tt.want...); !slices.Equal(got, want) {
				t.Errorf("Encode(%q, %v) = %q, want %q", tt.text, tt.addSpecial, textsOf(tk, got), tt.want)
			}
		})
	}
}

func TestEncodeParseSpecial(t *testing.T) {
	v := spaceVocab()
	addToken(&v, "<tool>", UserDefined)
	addToken(&v, "<x>", Control)
	addToken(&v, "<x><y>", Control)
	tk := mustNew(t, v)
	tests := []struct {
		text         string
		addSpecial   bool
		parseSpecial bool
		want         []string
	}{
		{"<s>hi", false, true, []string{"<s>", "▁hi"}},
		{"<s>hi", false, false, []string{"▁", "<0x3C>", "<0x73>", "<0x3E>", "hi"}},
		{"<s>hi", true, true, []string{"<s>", "<s>", "▁hi"}},
		{"hi<s>", false, true, []string{"▁hi", "<s>"}},
		{"hi</s>hi", false, true, []string{"▁hi", "</s>", "▁hi"}},
		{"hi </s> hi", false, true, []string{"▁hi", "▁", "</s>", "▁", "▁hi"}},
		{"<unk>", true, true, []string{"<s>", "<unk>"}},
		{"<s><s>", false, true, []string{"<s>", "<s>"}},
		// User-defined tokens are found even without parseSpecial.
		{"hi<tool>hi", false, false, []string{"▁hi", "<tool>", "▁hi"}},
		{"<tool>", true, false, []string{"<s>", "<tool>"}},
		// Longer special tokens are matched first.
		{"<x><y>", false, true, []string{"<x><y>"}},
		{"<x><x><y><x>", false, true, []string{"<x>", "<x><y>", "<x>"}},
	}
	for _, tt := range tests {
		got := tk.Encode(tt.text, tt.addSpecial, tt.parseSpecial)
		if want := idsOf(t, tk, tt.want...); !slices.Equal(got, want) {
			t.Errorf("Encode(%q, %v, %v) = %q, want %q", tt.text, tt.addSpecial, tt.parseSpecial, textsOf(tk, got), tt.want)
		}
	}
}

func TestEncodeByteFallbackWithoutByteTokens(t *testing.T) {
	v := Vocab{
		Tokens: []string{"<unk>", "a", "!"},
		Types:  []int32{int32(Unknown), int32(Normal), int32(Normal)},
		BOS:    -1, EOS: -1, UNK: 0, PAD: -1, EOT: -1,
	}
	tk := mustNew(t, v)
	// "é" has no byte tokens: each byte falls back to UNK; "!" is a one-byte
	// token and stands for its byte.
	got := tk.Encode("aé!", true, false)
	want := []int{1, 0, 0, 2}
	if !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
}

// naiveEncode is a slow, direct statement of SentencePiece BPE: split text
// (already escaped) into characters, then repeatedly merge the adjacent pair
// that forms the highest-scoring token, the leftmost on ties.
func naiveEncode(tk *Tokenizer, text string) []int {
	var syms []string
	for len(text) > 0 {
		n := min(utf8Len(text[0]), len(text))
		syms = append(syms, text[:n])
		text = text[n:]
	}
	for {
		best, bestScore := -1, float32(0)
		for i := 0; i+1 < len(syms); i++ {
			id, ok := tk.ids[syms[i]+syms[i+1]]
			if !ok {
				continue
			}
			if s := tk.v.Scores[id]; best < 0 || s > bestScore {
				best, bestScore = i, s
			}
		}
		if best < 0 {
			break
		}
		syms[best] += syms[best+1]
		syms = append(syms[:best+1], syms[best+2:]...)
	}
	var out []int
	for _, s := range syms {
		if id, ok := tk.ids[s]; ok {
			out = append(out, id)
			continue
		}
		for i := 0; i < len(s); i++ {
			out = append(out, tk.bytes[s[i]])
		}
	}
	return out
}

func TestEncodeMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "c", "▁", "é"}
	for round := 0; round < 50; round++ {
		// A random vocabulary of short pieces with few distinct scores, so
		// that ties are common.
		seen := map[string]bool{}
		var pieces []pc
		for _, c := range alphabet[:4] {
			pieces = append(pieces, pc{c, -100})
			seen[c] = true
		}
		for len(pieces) < 30 {
			var b strings.Builder
			for n := 2 + rng.IntN(3); n > 0; n-- {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			if s := b.String(); !seen[s] {
				seen[s] = true
				pieces = append(pieces, pc{s, -float32(rng.IntN(4))})
			}
		}
		tk := mustNew(t, buildVocab(pieces...))
		for i := 0; i < 40; i++ {
			var b strings.Builder
			for n := rng.IntN(16); n > 0; n-- {
				b.WriteString([]string{"a", "b", "c", " ", "é"}[rng.IntN(5)])
			}
			text := b.String()
			got := tk.Encode(text, false, false)
			want := naiveEncode(tk, strings.ReplaceAll(" "+text, " ", "▁"))
			if text == "" {
				want = nil
			}
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: Encode(%q) = %q, naive %q", round, text, textsOf(tk, got), textsOf(tk, want))
			}
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	tk := mustNew(b, englishVocab())
	text := strings.Repeat("The quick brown fox jumps over the lazy dog, and then it naps. ", 64)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tk.Encode(text, true, false)
	}
}
