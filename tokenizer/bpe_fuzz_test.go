package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzTexts seed the fuzz tests.
var fuzzTexts = []string{
	"", " ", "Hello world", "don't I'LL", "1234567 3.14", "\n\n  \t x \r\n", "café", "cafe\u0301",
	"<think>x</think>", "<|im_start|>a<|im_end|>", "<|endoftext|", "日本語 テキスト", "😀👨‍👩‍👧",
	"\xff\xfe\xe2\x82", "a\u00a0b\u3000c", strings.Repeat("ab", 40), strings.Repeat("a", 70) + " x",
	"Hello , world . do n't", "A\u030A\u0323", "\u1100\u1161\u11A8",
}

// mergedIDs merges the symbols of piece with the given method and returns
// the resulting symbol ids in order.
func mergedIDs(t *Tokenizer, piece string, heap bool) []int32 {
	m := t.bpe
	syms := m.symbols(t, piece, nil)
	if heap {
		var q bpeQueue
		m.mergeHeap(syms, &q)
	} else {
		m.mergeLinear(syms)
	}
	var out []int32
	for i := int32(0); i >= 0; i = syms[i].next {
		out = append(out, syms[i].id)
	}
	return out
}

func checkBPE(t *testing.T, name string, tk *Tokenizer, s string, roundTrip func(string) (string, bool)) {
	for _, sp := range []bool{false, true} {
		ids := tk.Encode(s, sp, sp)
		for _, id := range ids {
			if id < 0 || id >= tk.Len() {
				t.Fatalf("%s: Encode(%q, %v) gave id %d out of range", name, s, sp, id)
			}
		}
		whole := tk.Decode(ids)
		if got := streamed(tk, ids); got != whole {
			t.Fatalf("%s: ids %v of %q: streamed %q, Decode %q", name, ids, s, got, whole)
		}
		if !sp {
			if want, ok := roundTrip(s); ok && whole != want {
				t.Fatalf("%s: Decode(Encode(%q)) = %q, want %q", name, s, whole, want)
			}
		}
	}
	// The two ways of merging agree, and pre-tokens cover the text.
	pieces, _ := tk.bpe.pre.split(s, nil, nil)
	if strings.Join(pieces, "") != s && tk.hf == nil {
		t.Fatalf("%s: pre-tokens %q do not make up %q", name, pieces, s)
	}
	for _, p := range pieces {
		if p == "" || len(tk.bpe.symbols(tk, p, nil)) > linearMergeMax {
			continue
		}
		if a, b := mergedIDs(tk, p, false), mergedIDs(tk, p, true); !slices.Equal(a, b) {
			t.Fatalf("%s: piece %q: linear merge %v, heap merge %v", name, p, a, b)
		}
	}
}

// FuzzBPE checks byte-level BPE on any input: ids in range, streaming
// decoding equal to Decode, Decode(Encode(s)) == s, both merge loops
// agreeing, and no panics. With ../shared present it also runs the real
// Llama 3 and Qwen3 tokenizers (Qwen3 gives back the NFC form).
func FuzzBPE(f *testing.F) {
	for _, s := range fuzzTexts {
		f.Add(s)
	}
	type named struct {
		name string
		tk   *Tokenizer
		rt   func(string) (string, bool)
	}
	exact := func(s string) (string, bool) { return s, true }
	var tks []named
	for _, pre := range preNameList() {
		tks = append(tks, named{pre, englishBPE(f, pre), exact})
	}
	if root, ok := findRoot(); ok {
		if _, err := os.Stat(filepath.Join(root, "..", "shared", "tokenizers")); err == nil {
			tks = append(tks,
				// Llama 3 cleans up spaces when decoding: no round trip.
				named{"hf-llama3", loadHF(f, "llama3"), func(string) (string, bool) { return "", false }},
				named{"hf-qwen3", loadHF(f, "qwen3"), func(s string) (string, bool) { return nfc(s), utf8.ValidString(s) }})
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range tks {
			checkBPE(t, n.name, n.tk, s, n.rt)
		}
	})
}

// FuzzCleanup checks that the streaming clean-up gives what clean-up of
// the whole text gives, however the text is cut.
func FuzzCleanup(f *testing.F) {
	f.Add("Hello , world . I do n't know , he 's ' here ' ?", []byte{3, 1, 4, 1, 5})
	f.Add(" ' ' '  ,, ..", []byte{1, 1, 1})
	f.Fuzz(func(t *testing.T, s string, cuts []byte) {
		var c cleaner
		var b strings.Builder
		rest := s
		for _, k := range cuts {
			n := min(int(k)%8, len(rest))
			b.WriteString(c.write(rest[:n], false))
			rest = rest[n:]
		}
		b.WriteString(c.write(rest, true))
		if want := cleanup(s); b.String() != want {
			t.Fatalf("streamed clean-up of %q (cuts %v) = %q, want %q", s, cuts, b.String(), want)
		}
	})
}

// FuzzNFC checks that nfc is idempotent, keeps valid UTF-8 valid and
// leaves text that passes the quick check alone.
func FuzzNFC(f *testing.F) {
	for _, s := range fuzzTexts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := nfc(s)
		if again := nfc(r); again != r {
			t.Fatalf("nfc(%+q) = %+q, but nfc of that is %+q", s, r, again)
		}
		if utf8.ValidString(s) && !utf8.ValidString(r) {
			t.Fatalf("nfc(%+q) = %+q is not valid UTF-8", s, r)
		}
		if nfcQuick(s) && r != s {
			t.Fatalf("nfc(%+q) = %+q changed text that passed the quick check", s, r)
		}
	})
}
