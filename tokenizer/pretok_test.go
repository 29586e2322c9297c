package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func splitAll(p pretokenizer, text string) []string {
	out, _ := p.split(text, nil, nil)
	if out == nil {
		out = []string{}
	}
	return out
}

func TestPretokenizersHandPicked(t *testing.T) {
	tests := []struct {
		kind preKind
		text string
		want []string
	}{
		{preLlama3, "Hello world", []string{"Hello", " world"}},
		{preLlama3, "don't I'LL we've", []string{"don", "'t", " I", "'LL", " we", "'ve"}},
		{preLlama3, "'sun 'x", []string{"'s", "un", " '", "x"}},
		{preLlama3, "$hello\tworld", []string{"$hello", "\tworld"}},
		{preLlama3, "1234567", []string{"123", "456", "7"}},
		{preLlama3, "a  b", []string{"a", " ", " b"}},
		{preLlama3, "a \tb", []string{"a", " ", "\tb"}},
		{preLlama3, "x   ", []string{"x", "   "}},
		{preLlama3, "x \n\n  y", []string{"x", " \n\n", " ", " y"}},
		{preLlama3, "}\n\n{", []string{"}\n\n", "{"}},
		{preLlama3, "a\r\nb", []string{"a", "\r\n", "b"}},
		{preLlama3, "\rb", []string{"\r", "b"}},
		{preLlama3, " !!x", []string{" !!", "x"}},
		{preLlama3, "cafe\u0301s", []string{"cafe", "\u0301s"}},
		{preLlama3, "\xff\xfeab", []string{"\xff\xfe", "ab"}},
		{preLlama3, "", []string{}},
		{preQwen2, "1234", []string{"1", "2", "3", "4"}},
		{preGPT2, "don't I'LL", []string{"don", "'t", " I", "'", "LL"}},
		{preGPT2, "a  b  ", []string{"a", " ", " b", "  "}},
		{preGPT2, " 123 !?", []string{" 123", " !?"}},
		{preGPT2, "a\n\nb", []string{"a", "\n", "\n", "b"}},
		{preSmolLM, "ab12 c", []string{"ab", "1", "2", " c"}},
		{preDefault, "a,b 1234", []string{"a", ",", "b", " ", "123", "4"}},
		{preDeepseekLLM, "Hi 你好\n 123  ", []string{"Hi", " ", "你好", "\n", " ", "123", "  "}},
	}
	for _, tt := range tests {
		if got := splitAll(newPretokenizer(tt.kind), tt.text); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("kind %d, %q: got %q, want %q", tt.kind, tt.text, got, tt.want)
		}
	}
}

// TestPretokenizersReference compares the scanners with the Hugging Face
// JavaScript tokenizer's Split pre-tokenizer on random strings
// (testdata/tokenizers/pretok.json).
func TestPretokenizersReference(t *testing.T) {
	root, ok := findRoot()
	if !ok {
		t.Fatal("module root not found")
	}
	data, err := os.ReadFile(filepath.Join(root, "testdata", "tokenizers", "pretok.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Pipelines map[string][]string `json:"pipelines"`
		Cases     []map[string]any    `json:"cases"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) < 100 {
		t.Fatalf("only %d cases", len(ref.Cases))
	}
	// The pipelines as llama.cpp names them, and as a Hugging Face file
	// would spell them with Split pre-tokenizers.
	named := map[string]pretokenizer{
		"llama3":       newPretokenizer(preLlama3),
		"qwen2":        newPretokenizer(preQwen2),
		"gpt2":         newPretokenizer(preGPT2),
		"smollm":       newPretokenizer(preSmolLM),
		"default":      newPretokenizer(preDefault),
		"deepseek-llm": newPretokenizer(preDeepseekLLM),
	}
	pipelines := map[string]pretokenizer{}
	for name, exprs := range ref.Pipelines {
		if p, ok := named[name]; ok {
			pipelines[name] = p
		}
		var hf pretokenizer
		for _, e := range exprs {
			st, ok := hfPatterns[e]
			if !ok {
				hf = nil
				break
			}
			hf = append(hf, st)
		}
		switch {
		case hf != nil:
			pipelines["split:"+name] = hf
		case name != "llama3" && name != "qwen2": // llama.cpp's rewrites of the two
			t.Errorf("pipeline %s: an expression is missing from hfPatterns", name)
		}
	}
	if len(pipelines) < 12 {
		t.Fatalf("only %d pipelines to test: %v", len(pipelines), pipelines)
	}
	for name, p := range pipelines {
		key := name
		if len(key) > 6 && key[:6] == "split:" {
			key = key[6:]
		}
		for _, c := range ref.Cases {
			text := c["text"].(string)
			var want []string
			for _, w := range c[key].([]any) {
				want = append(want, w.(string))
			}
			if got := splitAll(p, text); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %q: got %q, want %q", name, text, got, want)
			}
		}
	}
}

func TestByteLevelMapping(t *testing.T) {
	seen := map[rune]bool{}
	for b, r := range byteRunes {
		if seen[r] {
			t.Fatalf("byte %#x maps to %q, already taken", b, r)
		}
		seen[r] = true
		if int(runeBytes[r]) != b {
			t.Errorf("runeBytes[%q] = %d, want %d", r, runeBytes[r], b)
		}
	}
	for _, tt := range []struct{ raw, enc string }{
		{" the", "Ġthe"}, {"\n", "Ċ"}, {"\t", "ĉ"}, {"é", "Ã©"}, {"\x00\x7f\xad", "ĀġŃ"},
	} {
		if got := byteLevelEncode(tt.raw); got != tt.enc {
			t.Errorf("byteLevelEncode(%q) = %q, want %q", tt.raw, got, tt.enc)
		}
		if got, ok := byteLevelDecode(tt.enc); got != tt.raw || !ok {
			t.Errorf("byteLevelDecode(%q) = %q, %v", tt.enc, got, ok)
		}
	}
	if got, ok := byteLevelDecode("<|x|>€"); got != "<|x|>€" || ok {
		t.Errorf("byteLevelDecode of a text with unmapped characters = %q, %v; want it kept, false", got, ok)
	}
}
