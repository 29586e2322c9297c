package chat

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// refNow is the clock testdata/chat/gen.py gives strftime_now.
var refNow = time.Date(2024, 7, 26, 9, 5, 3, 0, time.UTC)

func fixedNow() time.Time { return refNow }

// repoRoot walks up from the package directory to the directory of go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// refCase is one rendering of testdata/chat/*.json, with the result of
// Python's jinja2: want, or raise (a raise_exception message), or error.
type refCase struct {
	Name                string                     `json:"name"`
	Messages            json.RawMessage            `json:"messages"`
	Tools               []json.RawMessage          `json:"tools"`
	AddGenerationPrompt bool                       `json:"add_generation_prompt"`
	Kwargs              map[string]json.RawMessage `json:"kwargs"`
	Source              string                     `json:"source"` // snippets only
	Vars                map[string]json.RawMessage `json:"vars"`   // snippets only
	Want                *string                    `json:"want"`
	Raise               *string                    `json:"raise"`
	Error               *string                    `json:"error"`
}

type refFile struct {
	Template        string    `json:"template"`
	TokenizerConfig string    `json:"tokenizer_config"`
	SHA256          string    `json:"sha256"`
	BOS             string    `json:"bos"`
	EOS             string    `json:"eos"`
	Cases           []refCase `json:"cases"`
}

func loadRef(t *testing.T, path string) refFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f refFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

// check compares a rendering with the reference result.
func check(t *testing.T, c refCase, got string, err error) {
	t.Helper()
	switch {
	case c.Want != nil:
		if err != nil {
			t.Fatalf("error %v, want %q", err, *c.Want)
		}
		if got != *c.Want {
			t.Fatalf("got  %q\nwant %q", got, *c.Want)
		}
	case c.Raise != nil:
		var ex *ExceptionError
		if !errors.As(err, &ex) {
			t.Fatalf("got %q, %v; want raise_exception(%q)", got, err, *c.Raise)
		}
		if ex.Msg != *c.Raise {
			t.Fatalf("raised %q, want %q", ex.Msg, *c.Raise)
		}
	case c.Error != nil:
		if err == nil {
			t.Fatalf("got %q, want an error like Python's %s", got, *c.Error)
		}
	default:
		t.Fatal("reference case has no result")
	}
}

func rawArgs(raw map[string]json.RawMessage) map[string]any {
	out := map[string]any{}
	for k, v := range raw {
		out[k] = v
	}
	return out
}

// TestReferenceRenderings renders published chat templates for many
// conversations and options, and compares with Python's jinja2 set up as
// transformers sets it up (testdata/chat/gen.py).
func TestReferenceRenderings(t *testing.T) {
	root := repoRoot(t)
	dir := filepath.Join(root, "testdata", "chat")
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		if name == "snippets" || name == "snippets.in" {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			ref := loadRef(t, path)
			var tpl *Template
			switch {
			case ref.Template != "":
				src, err := os.ReadFile(filepath.Join(dir, ref.Template))
				if err != nil {
					t.Fatal(err)
				}
				if tpl, err = New(string(src), ref.BOS, ref.EOS); err != nil {
					t.Fatal(err)
				}
			case ref.TokenizerConfig != "":
				cfgPath := filepath.Join(root, "..", "shared", ref.TokenizerConfig)
				data, err := os.ReadFile(cfgPath)
				if err != nil {
					t.Skipf("shared tokenizer config not available: %v", err)
				}
				sum := sha256.Sum256(data)
				if hex.EncodeToString(sum[:]) != ref.SHA256 {
					t.Fatalf("%s changed since the reference was made; rerun testdata/chat/gen.py", cfgPath)
				}
				if tpl, err = FromTokenizerConfig(data); err != nil {
					t.Fatal(err)
				}
				if tpl.bos != ref.BOS || tpl.eos != ref.EOS {
					t.Fatalf("bos/eos %q/%q, want %q/%q", tpl.bos, tpl.eos, ref.BOS, ref.EOS)
				}
			default:
				t.Fatal("reference names no template")
			}
			for _, c := range ref.Cases {
				t.Run(c.Name, func(t *testing.T) {
					var msgs []Message
					if err := json.Unmarshal(c.Messages, &msgs); err != nil {
						t.Fatal(err)
					}
					// The template must see the messages exactly as Python
					// did, key order included.
					wantV, err := fromJSON(c.Messages)
					if err != nil {
						t.Fatal(err)
					}
					gotV, err := toValue(msgs)
					if err != nil {
						t.Fatal(err)
					}
					if repr(gotV) != repr(wantV) {
						t.Fatalf("messages round trip\ngot  %s\nwant %s", repr(gotV), repr(wantV))
					}
					opts := Options{AddGenerationPrompt: c.AddGenerationPrompt, Kwargs: rawArgs(c.Kwargs), Now: fixedNow}
					if c.Tools != nil {
						opts.Tools = []any{}
						for _, tool := range c.Tools {
							opts.Tools = append(opts.Tools, tool)
						}
					}
					got, err := tpl.Render(msgs, opts)
					check(t, c, got, err)
				})
			}
		})
	}
	if n < 10 {
		t.Fatalf("found %d reference files in %s, want at least 10", n, dir)
	}
}

// TestSnippets checks language features one by one against jinja2.
func TestSnippets(t *testing.T) {
	ref := loadRef(t, filepath.Join(repoRoot(t), "testdata", "chat", "snippets.json"))
	if len(ref.Cases) < 100 {
		t.Fatalf("only %d snippets", len(ref.Cases))
	}
	for _, c := range ref.Cases {
		t.Run(c.Name, func(t *testing.T) {
			tpl, err := New(c.Source, "", "")
			if err != nil {
				check(t, c, "", err)
				return
			}
			got, err := tpl.Render(nil, Options{Kwargs: rawArgs(c.Vars), Now: fixedNow})
			check(t, c, got, err)
		})
	}
}
