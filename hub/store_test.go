package hub

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stored puts a model file with its manifest into s.
func stored(t *testing.T, s *Store, m Manifest) Manifest {
	t.Helper()
	p := s.modelPath(m.Local)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	data := []byte("GGUF" + m.Name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	m.Size = int64(len(data))
	if err := s.writeManifest(&m); err != nil {
		t.Fatal(err)
	}
	m.Path = p
	return m
}

func hubModel(repo, file, quant string) Manifest {
	tag := quant
	if tag == "" {
		tag = stem(file)
	}
	return Manifest{Name: repo + ":" + tag, Repo: repo, File: file, Quant: quant, Local: "hf.co/" + repo + "/" + file}
}

func TestLookup(t *testing.T) {
	s := NewStore(t.TempDir())
	a4 := stored(t, s, hubModel("o/a", "a-Q4_K_M.gguf", "Q4_K_M"))
	a8 := stored(t, s, hubModel("o/a", "a-Q8_0.gguf", "Q8_0"))
	b8 := stored(t, s, hubModel("o/b", "b-Q8_0.gguf", "Q8_0"))
	c1 := stored(t, s, hubModel("o/c", "c-Q8_0.gguf", "Q8_0"))
	c2 := stored(t, s, hubModel("o/c", "c-F16.gguf", "F16"))
	st := stored(t, s, hubModel("o/s", "stories260K.gguf", ""))
	u := stored(t, s, Manifest{Name: "example.com:8080/m/tiny.gguf", File: "tiny.gguf", Local: "example.com_8080/m/tiny.gguf",
		Source: "https://example.com:8080/m/tiny.gguf"})

	for _, tc := range []struct {
		name string
		want Manifest
	}{
		{"o/a:Q4_K_M", a4},
		{"o/a", a4}, // Q4_K_M is the default
		{"hf.co/o/a:q8_0", a8},
		{"huggingface.co/O/A:Q8_0", a8},
		{"o/b", b8}, // the only one
		{"o/b:latest", b8},
		{"o/c:f16", c2},
		{"o/c:c-Q8_0", c1}, // by file name
		{"o/s:stories260K", st},
		{"o/s", st},
		{"https://huggingface.co/o/a/resolve/main/a-Q8_0.gguf", a8},
		{"example.com:8080/m/tiny.gguf", u},
		{"https://example.com:8080/m/tiny.gguf", u},
	} {
		m, err := s.Lookup(tc.name)
		if err != nil {
			t.Errorf("Lookup(%q): %v", tc.name, err)
			continue
		}
		if m.Path != tc.want.Path || m.Name != tc.want.Name {
			t.Errorf("Lookup(%q) = %s (%s), want %s (%s)", tc.name, m.Name, m.Path, tc.want.Name, tc.want.Path)
		}
	}
	for _, name := range []string{"o/a:Q5_K_M", "o/missing", "nothing", "o/b:Q4_K_M"} {
		if _, err := s.Lookup(name); !errors.Is(err, ErrNotStored) {
			t.Errorf("Lookup(%q): %v, want ErrNotStored", name, err)
		}
	}
	if _, err := s.Lookup("o/c"); err == nil || errors.Is(err, ErrNotStored) || !strings.Contains(err.Error(), "2 stored models") {
		t.Errorf("ambiguous Lookup: %v", err)
	}
}

func TestListSkipsMissingFiles(t *testing.T) {
	s := NewStore(t.TempDir())
	if list, err := s.List(); err != nil || len(list) != 0 {
		t.Fatalf("empty store: %v, %v", list, err)
	}
	a := stored(t, s, hubModel("o/a", "a-Q4_K_M.gguf", "Q4_K_M"))
	b := stored(t, s, hubModel("o/b", "b-Q4_K_M.gguf", "Q4_K_M"))
	if err := os.Remove(a.Path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.Path, []byte("truncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := stored(t, s, hubModel("o/c", "c-Q4_K_M.gguf", "Q4_K_M"))
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].Name != c.Name {
		t.Fatalf("List = %+v, %v; want only %s", list, err, c.Name)
	}
}

func TestListBadManifest(t *testing.T) {
	s := NewStore(t.TempDir())
	p := filepath.Join(s.Dir(), "manifests", "x.json")
	os.MkdirAll(filepath.Dir(p), 0o755)
	for _, body := range []string{"{", `{"local": "../../etc/passwd"}`,
		`{"local": "a-00001-of-00002.gguf", "parts": [{"local": "a-00001-of-00002.gguf"}, {"local": "../../etc/passwd"}]}`,
		`{"local": "a-00001-of-00002.gguf", "parts": [{"local": "b-00001-of-00002.gguf"}, {"local": "a-00002-of-00002.gguf"}]}`} {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := s.List(); err == nil {
			t.Errorf("manifest %s: no error", body)
		}
	}
}

func TestResolve(t *testing.T) {
	home := t.TempDir()
	t.Setenv("JOULE_HOME", home)
	s := NewStore(home)
	m := stored(t, s, hubModel("o/a", "a-Q4_K_M.gguf", "Q4_K_M"))

	file := filepath.Join(t.TempDir(), "local.gguf")
	if err := os.WriteFile(file, []byte("GGUF"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{file, file},
		{"o/a:Q4_K_M", m.Path},
		{"hf.co/o/a", m.Path},
	} {
		got, err := Resolve(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{filepath.Join(t.TempDir(), "gone.gguf"), "o/a:Q8_0", t.TempDir()} {
		_, err := Resolve(in)
		if !errors.Is(err, ErrNotStored) || !strings.Contains(err.Error(), in) {
			t.Errorf("Resolve(%q): %v, want ErrNotStored naming it", in, err)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("JOULE_HOME", "/somewhere/joule")
	if d, err := DefaultDir(); err != nil || d != "/somewhere/joule" {
		t.Errorf("DefaultDir with JOULE_HOME = %q, %v", d, err)
	}
	t.Setenv("JOULE_HOME", "")
	t.Setenv("XDG_CACHE_HOME", "/cache")
	t.Setenv("HOME", "/home/u")
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Skip("no user cache directory here:", err)
	}
	if d, err := DefaultDir(); err != nil || d != filepath.Join(cache, "joule") {
		t.Errorf("DefaultDir = %q, %v; want %q", d, err, filepath.Join(cache, "joule"))
	}
}
