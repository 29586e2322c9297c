package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzVocab is englishVocab with a few multi-byte pieces.
func fuzzVocab() Vocab {
	v := englishVocab()
	for _, p := range []pc{{"é", -5}, {"日", -5}, {"本", -5}, {"日本", -1}, {"▁日", -2}, {"▁日本", -0.5}} {
		v.Tokens = append(v.Tokens, p.text)
		v.Scores = append(v.Scores, p.score)
		v.Types = append(v.Types, int32(Normal))
	}
	return v
}

func FuzzEncodeDecode(f *testing.F) {
	for _, s := range roundTripTexts {
		f.Add(s)
	}
	for _, s := range []string{
		"<s>", "</s><unk>", "a<s>b", "\xff\xfe", "\xe2", "\xe2 a", "\xf0\x9f\x98",
		"▁", "日本 日本語", "invalid \xc3\x28 in the middle", strings.Repeat("ab ", 50),
	} {
		f.Add(s)
	}
	tk := mustNew(f, fuzzVocab())
	f.Fuzz(func(t *testing.T, s string) {
		for _, addSpecial := range []bool{false, true} {
			for _, parseSpecial := range []bool{false, true} {
				ids := tk.Encode(s, addSpecial, parseSpecial)
				for _, id := range ids {
					if id < 0 || id >= tk.Len() {
						t.Fatalf("Encode(%q, %v, %v) gave id %d out of range", s, addSpecial, parseSpecial, id)
					}
				}
				// Streaming gives the same text as decoding at once.
				d := tk.NewDecoder()
				var sb strings.Builder
				for _, id := range ids {
					sb.WriteString(d.Add(id))
				}
				sb.WriteString(d.Flush())
				whole := tk.Decode(ids)
				if sb.String() != whole {
					t.Fatalf("ids %v: streamed %q, Decode gives %q", ids, sb.String(), whole)
				}
				if parseSpecial || !utf8.ValidString(s) || strings.Contains(s, spaceMark) {
					continue
				}
				if whole != s {
					t.Fatalf("Decode(Encode(%q, %v, false)) = %q", s, addSpecial, whole)
				}
			}
		}
		if s != "" && len(s) < 512 {
			got := tk.Encode(s, false, false)
			want := naiveEncode(tk, strings.ReplaceAll(" "+s, " ", spaceMark))
			if !slices.Equal(got, want) {
				t.Fatalf("Encode(%q) = %q, naive %q", s, textsOf(tk, got), textsOf(tk, want))
			}
		}
	})
}

func FuzzDecoder(f *testing.F) {
	// Token k is picked by the pair {0, k+1}: here <s> and the three byte
	// tokens of "中".
	f.Add([]byte{0, 2, 0, 3 + 0xE4 + 1, 0, 3 + 0xB8 + 1, 0, 3 + 0xAD + 1})
	f.Add([]byte{0xFF, 0x80, 0x00, 2, 1})
	tk := mustNew(f, fuzzVocab())
	f.Fuzz(func(t *testing.T, b []byte) {
		// Each pair of bytes picks a token, covering ids beyond 255.
		var ids []int
		for i := 0; i+1 < len(b); i += 2 {
			ids = append(ids, (int(b[i])<<8|int(b[i+1]))%(tk.Len()+2)-1)
		}
		d := tk.NewDecoder()
		var sb strings.Builder
		cut := map[int]bool{} // offsets where one Add's text ends
		for _, id := range ids {
			sb.WriteString(d.Add(id))
			cut[sb.Len()] = true
		}
		sb.WriteString(d.Flush())
		whole := sb.String()
		if want := tk.Decode(ids); whole != want {
			t.Fatalf("ids %v: streamed %q, Decode gives %q", ids, whole, want)
		}
		// No valid multi-byte character is split between two results.
		for i := 0; i < len(whole); {
			r, n := utf8.DecodeRuneInString(whole[i:])
			for j := i + 1; r != utf8.RuneError && j < i+n; j++ {
				if cut[j] {
					t.Fatalf("ids %v: %q split at byte %d", ids, whole, j)
				}
			}
			i += n
		}
	})
}
