package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// refCase is one string of testdata/tokenizers/*.json, encoded by the
// Hugging Face JavaScript tokenizer (see the README there).
type refCase struct {
	Text         string `json:"text"`
	IDs          []int  `json:"ids"`           // special tokens added and parsed
	IDsPlain     []int  `json:"ids_plain"`     // nothing added, special-token text as text
	Decoded      string `json:"decoded"`       // decode(ids), special tokens skipped
	DecodedPlain string `json:"decoded_plain"` // decode(ids_plain)
}

type refFile struct {
	Tokenizer string    `json:"tokenizer"`
	Cases     []refCase `json:"cases"`
}

// loadRef reads the reference data for a tokenizer; it is in the
// repository, so a missing file is a failure.
func loadRef(t testing.TB, name string) refFile {
	t.Helper()
	root, ok := findRoot()
	if !ok {
		t.Fatal("module root not found")
	}
	b, err := os.ReadFile(filepath.Join(root, "testdata", "tokenizers", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var r refFile
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Cases) < 50 {
		t.Fatalf("%s: only %d cases", name, len(r.Cases))
	}
	return r
}

// hfCache holds the tokenizers read from ../shared, which take a moment
// to load, for the tests that share them.
var hfCache struct {
	sync.Mutex
	m map[string]*Tokenizer
}

// loadHF returns FromHF of a shared tokenizer directory, or skips the test
// if ../shared is absent.
func loadHF(t testing.TB, name string) *Tokenizer {
	t.Helper()
	dir := filepath.Join(sharedDir(t), "tokenizers", name)
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err != nil {
		t.Skipf("%s is absent; skipping", dir)
	}
	hfCache.Lock()
	defer hfCache.Unlock()
	if tk := hfCache.m[name]; tk != nil {
		return tk
	}
	tk, err := FromHF(dir)
	if err != nil {
		t.Fatalf("FromHF(%s): %v", dir, err)
	}
	if hfCache.m == nil {
		hfCache.m = map[string]*Tokenizer{}
	}
	hfCache.m[name] = tk
	return tk
}

func streamed(tk *Tokenizer, ids []int) string {
	d := tk.NewDecoder()
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(d.Add(id))
	}
	b.WriteString(d.Flush())
	return b.String()
}

func TestFromHFReference(t *testing.T) {
	for _, name := range []string{"llama3", "qwen3"} {
		t.Run(name, func(t *testing.T) {
			ref := loadRef(t, name)
			tk := loadHF(t, name)
			for _, c := range ref.Cases {
				if got := tk.Encode(c.Text, true, true); !slices.Equal(got, c.IDs) {
					t.Errorf("Encode(%q, special) =\n%v %q\nwant\n%v %q", c.Text, got, textsOf(tk, got), c.IDs, textsOf(tk, c.IDs))
				}
				if got := tk.Encode(c.Text, false, false); !slices.Equal(got, c.IDsPlain) {
					t.Errorf("Encode(%q, plain) =\n%v %q\nwant\n%v %q", c.Text, got, textsOf(tk, got), c.IDsPlain, textsOf(tk, c.IDsPlain))
				}
				if got := tk.Decode(c.IDs); got != c.Decoded {
					t.Errorf("Decode(ids of %q) = %q, want %q", c.Text, got, c.Decoded)
				}
				if got := tk.Decode(c.IDsPlain); got != c.DecodedPlain {
					t.Errorf("Decode(plain ids of %q) = %q, want %q", c.Text, got, c.DecodedPlain)
				}
				if got := streamed(tk, c.IDs); got != c.Decoded {
					t.Errorf("streamed ids of %q = %q, want %q", c.Text, got, c.Decoded)
				}
			}
		})
	}
}
