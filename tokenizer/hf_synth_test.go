package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hfJSON returns a tokenizer.json (as a map to edit) for a small byte-level
// BPE vocabulary with the English merges, a Llama 3 style pre-tokenizer
// and special tokens from id 1000.
func hfJSON() map[string]any {
	v := bpeVocab("", englishMerges)
	vocab := map[string]any{}
	for id, s := range v.Tokens {
		vocab[s] = id
	}
	merges := make([]any, len(v.Merges))
	for i, m := range v.Merges {
		// Half as "a b" strings, half as pairs: both forms are read.
		if i%2 == 0 {
			merges[i] = m
		} else {
			p, _ := splitMerge(m)
			merges[i] = []string{p[0], p[1]}
		}
	}
	added := []any{
		map[string]any{"id": 1000, "content": "<s>", "special": true, "normalized": false},
		map[string]any{"id": 1001, "content": "</s>", "special": true, "normalized": false},
		map[string]any{"id": 1002, "content": "<mark>", "special": false, "normalized": false},
	}
	return map[string]any{
		"version":      "1.0",
		"normalizer":   map[string]any{"type": "NFC"},
		"added_tokens": added,
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}},
		"post_processor": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": merges,
		},
	}
}

// writeHF writes tokenizer.json and, if config is not nil,
// tokenizer_config.json to a new directory.
func writeHF(t *testing.T, tok, config map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	for name, v := range map[string]map[string]any{"tokenizer.json": tok, "tokenizer_config.json": config} {
		if v == nil {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustFromHF(t *testing.T, tok, config map[string]any) *Tokenizer {
	t.Helper()
	tk, err := FromHF(writeHF(t, tok, config))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestFromHFSynthetic(t *testing.T) {
	tk := mustFromHF(t, hfJSON(), map[string]any{"bos_token": "<s>", "eos_token": map[string]any{"content": "</s>"}})
	if tk.Len() != 1003 || tk.BOS() != 1000 || tk.EOS() != 1001 || tk.AddBOS() {
		t.Errorf("Len %d BOS %d EOS %d AddBOS %v, want 1003 1000 1001 false", tk.Len(), tk.BOS(), tk.EOS(), tk.AddBOS())
	}
	// The ids between the vocabulary and the added tokens are filled.
	if tk.Token(500) != "[PAD500]" || tk.Type(500) != Unused || tk.Type(1000) != Control || tk.Type(1002) != UserDefined {
		t.Errorf("token 500 %q %v, types of 1000 and 1002: %v %v", tk.Token(500), tk.Type(500), tk.Type(1000), tk.Type(1002))
	}
	text := "<s>Hello world<mark> 123</s>"
	if got := strings.Join(tokenTexts(tk, text, true, true), ","); got != "<s>,Hello,Ġworld,<mark>,Ġ,123,</s>" {
		t.Errorf("parse special: %s", got)
	}
	// Without parsing, special tokens are text, other added ones still match.
	if got := strings.Join(tokenTexts(tk, text, false, false), ","); !strings.HasPrefix(got, "<,s,>,Hello,Ġworld,<mark>,") {
		t.Errorf("plain: %s", got)
	}
	// NFC: "e" + U+0301 becomes "é" before merging.
	if got := strings.Join(tokenTexts(tk, "cafe\u0301", false, false), ","); got != "cafÃ©" {
		t.Errorf("NFC: %s", got)
	}
	if got := tk.Decode(tk.Encode(text, true, true)); got != "Hello world<mark> 123" {
		t.Errorf("Decode = %q", got)
	}
}

func TestFromHFPostProcessor(t *testing.T) {
	for _, tt := range []struct {
		name string
		pp   map[string]any
		want string
	}{
		{"template BOS", map[string]any{"type": "TemplateProcessing",
			"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
			"special_tokens": map[string]any{"<s>": map[string]any{"id": "<s>", "ids": []int{1000}, "tokens": []string{"<s>"}}},
		}, "<s>,Hello"},
		{"template BOS and EOS in a sequence", map[string]any{"type": "Sequence", "processors": []any{
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
			map[string]any{"type": "TemplateProcessing",
				"single": []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}},
					map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
					map[string]any{"SpecialToken": map[string]any{"id": "</s>", "type_id": 0}}},
				"special_tokens": map[string]any{
					"<s>":  map[string]any{"id": "<s>", "ids": []int{1000}, "tokens": []string{"<s>"}},
					"</s>": map[string]any{"id": "</s>", "ids": []int{1001}, "tokens": []string{"</s>"}},
				}},
		}}, "<s>,Hello,</s>"},
		{"roberta", map[string]any{"type": "RobertaProcessing", "sep": []any{"</s>", 1001}, "cls": []any{"<s>", 1000}}, "<s>,Hello,</s>"},
		{"none", nil, "Hello"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			j := hfJSON()
			j["post_processor"] = tt.pp
			tk := mustFromHF(t, j, nil)
			if got := strings.Join(tokenTexts(tk, "Hello", true, true), ","); got != tt.want {
				t.Errorf("Encode = %s, want %s", got, tt.want)
			}
			if got := strings.Join(tokenTexts(tk, "Hello", false, true), ","); got != "Hello" {
				t.Errorf("Encode without special tokens = %s", got)
			}
			if tk.AddBOS() != strings.HasPrefix(tt.want, "<s>") || (tk.AddBOS() && tk.BOS() != 1000) {
				t.Errorf("AddBOS %v BOS %d", tk.AddBOS(), tk.BOS())
			}
		})
	}
}

func TestFromHFAddedTokenOptions(t *testing.T) {
	j := hfJSON()
	j["added_tokens"] = []any{
		map[string]any{"id": 1000, "content": "<L>", "special": true, "lstrip": true},
		map[string]any{"id": 1001, "content": "<R>", "special": true, "rstrip": true},
		map[string]any{"id": 1002, "content": "ǹ", "special": false, "normalized": true},
		map[string]any{"id": 1003, "content": "Ω", "special": false, "normalized": false},
		map[string]any{"id": 1004, "content": "<LL>", "special": true},
	}
	tk := mustFromHF(t, j, nil)
	for _, tt := range []struct{ text, want string }{
		{" the  <L>  the", "Ġthe,<L>,Ġ,Ġthe"},  // lstrip eats the spaces before
		{" the  <R>  the", "Ġthe,ĠĠ,<R>,t,he"}, // rstrip those after
		{" n\u0300", "Ġ,ǹ"},                    // matched after NFC
		{" \u2126", "Ġ,Î,©"},                   // NFC makes U+2126 Ω, but "Ω" is matched before NFC
		{" \u03A9", "Ġ,Ω"},                     // which finds U+03A9 itself
		{" <LL><L>", "Ġ,<LL>,<L>"},             // longest first
	} {
		if got := strings.Join(tokenTexts(tk, tt.text, false, true), ","); got != tt.want {
			t.Errorf("Encode(%q) = %s, want %s", tt.text, got, tt.want)
		}
	}
}

func TestFromHFByteFallback(t *testing.T) {
	// A model without byte-level spelling: symbols are characters, and
	// characters without a token fall back to <0xXX> tokens or <unk>.
	vocab := map[string]any{"<unk>": 0, "a": 257, "b": 258, "ab": 259, "▁": 260}
	for b := 0; b < 256; b++ {
		vocab[fmt.Sprintf("<0x%02X>", b)] = 1 + b
	}
	j := map[string]any{
		"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": []any{"a b"},
			"byte_fallback": true, "unk_token": "<unk>", "fuse_unk": true},
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "ByteFallback"}, map[string]any{"type": "Fuse"}}},
	}
	tk := mustFromHF(t, j, nil)
	if got := strings.Join(tokenTexts(tk, "abé", false, false), ","); got != "ab,<0xC3>,<0xA9>" {
		t.Errorf("byte fallback: %s", got)
	}
	if got := tk.Decode(tk.Encode("abéa", false, false)); got != "abéa" {
		t.Errorf("Decode = %q", got)
	}
	j["model"].(map[string]any)["byte_fallback"] = false
	tk = mustFromHF(t, j, nil)
	if got := strings.Join(tokenTexts(tk, "abéé", false, false), ","); got != "ab,<unk>" {
		t.Errorf("unk, fused: %s", got)
	}
}

func TestFromHFCleanup(t *testing.T) {
	text := "Hello , world . I do n't know , he 's ' here ' ?"
	// The rules apply one after the other: " ?" goes before " ' " is
	// looked for.
	want := "Hello, world. I don't know, he's'here '?"
	for _, tt := range []struct {
		config map[string]any
		want   string
	}{
		{map[string]any{"clean_up_tokenization_spaces": true}, want},
		{map[string]any{"clean_up_tokenization_spaces": false}, text},
		{nil, text},
	} {
		tk := mustFromHF(t, hfJSON(), tt.config)
		ids := tk.Encode(text, false, false)
		if got := tk.Decode(ids); got != tt.want {
			t.Errorf("config %v: Decode = %q, want %q", tt.config, got, tt.want)
		}
		if got := streamed(tk, ids); got != tt.want {
			t.Errorf("config %v: streamed = %q, want %q", tt.config, got, tt.want)
		}
	}
}

func TestFromHFErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(j map[string]any)
		want string
	}{
		{"model type", func(j map[string]any) { j["model"].(map[string]any)["type"] = "WordPiece" }, `"WordPiece" is not supported`},
		{"dropout", func(j map[string]any) { j["model"].(map[string]any)["dropout"] = 0.1 }, "dropout"},
		{"suffix", func(j map[string]any) { j["model"].(map[string]any)["end_of_word_suffix"] = "</w>" }, "end_of_word_suffix"},
		{"bad merge", func(j map[string]any) { j["model"].(map[string]any)["merges"] = []any{"ab"} }, `merge rule "ab"`},
		{"merge triple", func(j map[string]any) { j["model"].(map[string]any)["merges"] = []any{[]string{"a", "b", "c"}} }, "model.merges"},
		{"vocab id twice", func(j map[string]any) { j["model"].(map[string]any)["vocab"].(map[string]any)["zz"] = 5 }, "id 5 twice"},
		{"normalizer", func(j map[string]any) { j["normalizer"] = map[string]any{"type": "NFKC"} }, `normalizer "NFKC" is not supported`},
		{"regex", func(j map[string]any) {
			j["pre_tokenizer"] = map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `\w+`}, "behavior": "Isolated"}
		}, `regular expression "\\w+" is not supported`},
		{"behavior", func(j map[string]any) {
			j["pre_tokenizer"] = map[string]any{"type": "Split", "pattern": map[string]any{"String": " "}, "behavior": "MergedWithNext"}
		}, `behavior "MergedWithNext"`},
		{"pre-tokenizer", func(j map[string]any) { j["pre_tokenizer"] = map[string]any{"type": "Metaspace"} }, `pre-tokenizer "Metaspace" is not supported`},
		{"decoder", func(j map[string]any) { j["decoder"] = map[string]any{"type": "WordPiece"} }, `decoder "WordPiece" is not supported`},
		{"post-processor", func(j map[string]any) { j["post_processor"] = map[string]any{"type": "BertLike"} }, `post-processor "BertLike" is not supported`},
		{"single word", func(j map[string]any) {
			j["added_tokens"] = []any{map[string]any{"id": 1000, "content": "x", "single_word": true}}
		}, "single_word"},
		{"added id taken", func(j map[string]any) {
			j["added_tokens"] = []any{map[string]any{"id": 5, "content": "<x>"}}
		}, `added token "<x>" has id 5`},
		{"not JSON", func(j map[string]any) { j["model"] = "x" }, "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := hfJSON()
			tt.edit(j)
			_, err := FromHF(writeHF(t, j, nil))
			if err == nil {
				t.Fatal("FromHF succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
	t.Run("config token unknown", func(t *testing.T) {
		_, err := FromHF(writeHF(t, hfJSON(), map[string]any{"bos_token": "<nope>"}))
		if err == nil || !strings.Contains(err.Error(), `bos_token "<nope>"`) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		if _, err := FromHF(filepath.Join(t.TempDir(), "none")); err == nil {
			t.Error("FromHF of a missing directory succeeded")
		}
	})
}
