package tokenizer

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/joule-llm/joule/gguf"
)

// loadStories returns the tokenizer of the shared stories260K model, or
// skips the test if the file is absent.
func loadStories(t *testing.T) *Tokenizer {
	t.Helper()
	path := filepath.Join(sharedDir(t), "models", "stories260K.gguf")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s is absent; skipping", path)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tk, err := FromGGUF(f)
	if err != nil {
		t.Fatalf("FromGGUF(%s): %v", path, err)
	}
	return tk
}

func TestStories260KVocab(t *testing.T) {
	tk := loadStories(t)
	// Facts from the model's description in shared/models/README.md.
	if tk.Len() != 512 || tk.BOS() != 1 || tk.EOS() != 2 || tk.UNK() != 0 || !tk.AddBOS() {
		t.Errorf("Len %d BOS %d EOS %d UNK %d AddBOS %v, want 512 1 2 0 true",
			tk.Len(), tk.BOS(), tk.EOS(), tk.UNK(), tk.AddBOS())
	}
	for _, tt := range []struct {
		id   int
		text string
		typ  TokenType
	}{
		{0, "<unk>", Unknown}, {1, "<s>", Control}, {2, "</s>", Control},
		{3, "<0x00>", Byte}, {3 + '\n', "<0x0A>", Byte}, {258, "<0xFF>", Byte},
	} {
		if tk.Token(tt.id) != tt.text || tk.Type(tt.id) != tt.typ {
			t.Errorf("token %d = %q %v, want %q %v", tt.id, tk.Token(tt.id), tk.Type(tt.id), tt.text, tt.typ)
		}
	}
	for id := 259; id < tk.Len(); id++ {
		if tk.Type(id) != Normal {
			t.Errorf("token %d %q has type %v, want normal", id, tk.Token(id), tk.Type(id))
		}
	}
	if !tk.IsEOG(2) || tk.IsEOG(1) {
		t.Errorf("IsEOG(</s>) = %v, IsEOG(<s>) = %v; want true, false", tk.IsEOG(2), tk.IsEOG(1))
	}
}

func TestStories260KRoundTrip(t *testing.T) {
	tk := loadStories(t)
	texts := append([]string{
		"Once upon a time, there was a little girl named Lily.",
		"She loved to play outside in the park with her friends.\n\nOne day, she saw a big, red ball.",
		"\"Can I play too?\" asked Tom. Lily said, \"Yes!\"",
	}, roundTripTexts...)
	for _, s := range texts {
		for _, addSpecial := range []bool{false, true} {
			ids := tk.Encode(s, addSpecial, false)
			for _, id := range ids {
				if id < 0 || id >= tk.Len() {
					t.Fatalf("Encode(%q) gave id %d out of range", s, id)
				}
			}
			if got := tk.Decode(ids); got != s {
				t.Errorf("Decode(Encode(%q, %v)) = %q", s, addSpecial, got)
			}
		}
	}
}

// llamaCase is one tokenization produced by llama.cpp.
type llamaCase struct {
	Text string `json:"text"`
	IDs  []int  `json:"ids"`
	// The flags llama.cpp tokenized with; absent means add_special true,
	// parse_special false.
	AddSpecial   *bool `json:"add_special"`
	ParseSpecial *bool `json:"parse_special"`
}

// TestStories260KMatchesLlamaCpp checks Encode against token ids that
// llama.cpp produced for the same model, kept in testdata/llamacpp.
func TestStories260KMatchesLlamaCpp(t *testing.T) {
	root, ok := findRoot()
	if !ok {
		t.Skip("module root (go.mod) not found")
	}
	path := filepath.Join(root, "testdata", "llamacpp", "tokenize.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s is absent; skipping the comparison with llama.cpp", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	var cases []llamaCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s holds no cases", path)
	}
	tk := loadStories(t)
	for _, c := range cases {
		addSpecial, parseSpecial := true, false
		if c.AddSpecial != nil {
			addSpecial = *c.AddSpecial
		}
		if c.ParseSpecial != nil {
			parseSpecial = *c.ParseSpecial
		}
		got := tk.Encode(c.Text, addSpecial, parseSpecial)
		if !slices.Equal(got, c.IDs) {
			t.Errorf("Encode(%q, %v, %v)\n got %v %q\nwant %v %q", c.Text, addSpecial, parseSpecial,
				got, textsOf(tk, got), c.IDs, textsOf(tk, c.IDs))
		}
	}
}
