package tokenizer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/joule-llm/joule/gguf"
)

// llamacppCase is one string of testdata/tokenizers/llamacpp_*.json:
// llama.cpp's tokens for it, without BOS/EOS, with special-token text
// parsed and not.
type llamacppCase struct {
	Text       string `json:"text"`
	IDsSpecial []int  `json:"ids_special"`
	IDsPlain   []int  `json:"ids_plain"`
}

func loadLlamacppRef(t *testing.T, name string) []llamacppCase {
	t.Helper()
	root, ok := findRoot()
	if !ok {
		t.Fatal("module root not found")
	}
	b, err := os.ReadFile(filepath.Join(root, "testdata", "tokenizers", "llamacpp_"+name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Cases []llamacppCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Cases) < 50 {
		t.Fatalf("%s: only %d cases", name, len(r.Cases))
	}
	return r.Cases
}

// looksSpecial is the rule by which llama.cpp's converter writes added
// tokens that are not marked special as control tokens anyway.
func looksSpecial(s string) bool {
	switch s {
	case "<pad>", "<mask>", "<2mass>", "[@BOS@]":
		return true
	}
	return (strings.HasPrefix(s, "<|") && strings.HasSuffix(s, "|>")) ||
		(strings.HasPrefix(s, "<｜") && strings.HasSuffix(s, "｜>")) ||
		(strings.HasPrefix(s, "<unused") && strings.HasSuffix(s, ">"))
}

// ggufFromHF writes the GGUF tokenizer metadata that llama.cpp's converter
// makes of a shared Hugging Face tokenizer, and reads it back.
func ggufFromHF(t *testing.T, name, pre string, extra map[string]any) *gguf.File {
	t.Helper()
	tk := loadHF(t, name)
	v := tk.Vocab()
	for id, typ := range v.Types {
		if TokenType(typ) == UserDefined && looksSpecial(v.Tokens[id]) {
			v.Types[id] = int32(Control)
		}
	}
	data, err := os.ReadFile(filepath.Join(sharedDir(t), "tokenizers", name, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Model struct {
			Merges json.RawMessage `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	pairs, err := parseMerges(f.Model.Merges)
	if err != nil {
		t.Fatal(err)
	}
	merges := make([]string, len(pairs))
	for i, p := range pairs {
		merges[i] = p[0] + " " + p[1]
	}

	w := gguf.NewWriter()
	kv := map[string]any{
		"general.architecture": "llama",
		keyModel:               "gpt2",
		keyPre:                 pre,
		keyTokens:              v.Tokens,
		keyTypes:               v.Types,
		keyMerges:              merges,
	}
	for _, k := range []struct {
		key string
		id  int
	}{{keyBOS, v.BOS}, {keyEOS, v.EOS}, {keyPAD, v.PAD}} {
		if k.id >= 0 {
			kv[k.key] = uint32(k.id)
		}
	}
	for k, val := range extra {
		kv[k] = val
	}
	for k, val := range kv {
		if err := w.Set(k, val); err != nil {
			t.Fatalf("Set(%q): %v", k, err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	gf, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return gf
}

// TestGGUFBPEMatchesLlamaCpp checks the GGUF path against llama.cpp's own
// tokens for the reference strings (from a GGUF converted the same way),
// and against the Hugging Face tokenizer where the two agree.
func TestGGUFBPEMatchesLlamaCpp(t *testing.T) {
	for _, tt := range []struct {
		name, pre string
		addBOS    bool
	}{
		{"llama3", "llama-bpe", true},
		{"qwen3", "qwen2", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tk, err := FromGGUF(ggufFromHF(t, tt.name, tt.pre, nil))
			if err != nil {
				t.Fatal(err)
			}
			if tk.AddBOS() != tt.addBOS {
				t.Errorf("AddBOS() = %v, want %v (llama.cpp's default for %q)", tk.AddBOS(), tt.addBOS, tt.pre)
			}
			ref := loadRef(t, tt.name)
			for i, c := range loadLlamacppRef(t, tt.name) {
				if got := tk.Encode(c.Text, false, true); !slices.Equal(got, c.IDsSpecial) {
					t.Errorf("Encode(%q, parse special) =\n%v %q\nllama.cpp\n%v %q", c.Text, got, textsOf(tk, got), c.IDsSpecial, textsOf(tk, c.IDsSpecial))
				}
				plain := tk.Encode(c.Text, false, false)
				if !slices.Equal(plain, c.IDsPlain) {
					t.Errorf("Encode(%q, plain) =\n%v %q\nllama.cpp\n%v %q", c.Text, plain, textsOf(tk, plain), c.IDsPlain, textsOf(tk, c.IDsPlain))
				}
				if got := tk.Decode(plain); got != c.Text {
					t.Errorf("Decode(Encode(%q)) = %q", c.Text, got)
				}
				withBOS := tk.Encode(c.Text, true, true)
				if tt.addBOS {
					if len(withBOS) == 0 || withBOS[0] != tk.BOS() || !slices.Equal(withBOS[1:], c.IDsSpecial) {
						t.Errorf("Encode(%q, add special) = %v, want BOS then %v", c.Text, withBOS, c.IDsSpecial)
					}
				} else if !slices.Equal(withBOS, c.IDsSpecial) {
					t.Errorf("Encode(%q, add special) = %v, want %v", c.Text, withBOS, c.IDsSpecial)
				}
				// Hugging Face normalizes Qwen's text to NFC first; llama.cpp
				// does not. Elsewhere the two agree.
				if r := ref.Cases[i]; r.Text == c.Text && nfc(c.Text) == c.Text && !slices.Equal(c.IDsSpecial, r.IDs) {
					t.Errorf("%q: llama.cpp's %v differ from Hugging Face's %v", c.Text, c.IDsSpecial, r.IDs)
				}
			}
		})
	}
}
