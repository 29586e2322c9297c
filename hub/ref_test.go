package hub

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ref
	}{
		{"hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF", Ref{Repo: "bartowski/Llama-3.2-1B-Instruct-GGUF", Revision: "main"}},
		{"hf.co/owner/repo:q4_k_m", Ref{Repo: "owner/repo", Revision: "main", Quant: "Q4_K_M"}},
		{"HuggingFace.co/owner/repo:IQ4_XS", Ref{Repo: "owner/repo", Revision: "main", Quant: "IQ4_XS"}},
		{"owner/repo:ud-q4_k_xl", Ref{Repo: "owner/repo", Revision: "main", Quant: "UD-Q4_K_XL"}},
		{"owner/repo:latest", Ref{Repo: "owner/repo", Revision: "main"}},
		{" owner/repo ", Ref{Repo: "owner/repo", Revision: "main"}},
		{"https://huggingface.co/owner/repo", Ref{Repo: "owner/repo", Revision: "main"}},
		{"https://hf.co/owner/repo:Q8_0", Ref{Repo: "owner/repo", Revision: "main", Quant: "Q8_0"}},
		{"https://huggingface.co/owner/repo/resolve/main/model-Q8_0.gguf?download=true",
			Ref{Repo: "owner/repo", Revision: "main", File: "model-Q8_0.gguf"}},
		{"https://huggingface.co/owner/repo/blob/v1.0/sub/dir/model%20x.gguf",
			Ref{Repo: "owner/repo", Revision: "v1.0", File: "sub/dir/model x.gguf"}},
		{"https://example.com/files/tiny.gguf", Ref{URL: "https://example.com/files/tiny.gguf"}},
		{"http://127.0.0.1:8080/a/b/c.gguf?sig=1", Ref{URL: "http://127.0.0.1:8080/a/b/c.gguf?sig=1"}},
	} {
		got, err := ParseRef(tc.in)
		if err != nil {
			t.Errorf("ParseRef(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseRef(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{
		"", "owner", "owner/", "/repo", "owner/repo/extra", "own er/repo", "../repo", "owner/..",
		"owner/repo:", "owner/repo:Q4 K", "hf.co/owner", "ftp://example.com/x.gguf", "https:///x.gguf",
		"https://example.com/", "https://huggingface.co/owner/repo/tree/main",
		"https://huggingface.co/owner/repo/resolve/main/../../etc/passwd",
		"https://huggingface.co/owner/repo/resolve/main/a//b.gguf",
	} {
		if r, err := ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) = %+v, want an error", bad, r)
		}
	}
}

func TestParseRefEndpoint(t *testing.T) {
	c := &Client{Endpoint: "http://127.0.0.1:9999"}
	r, err := c.ParseRef("http://127.0.0.1:9999/o/r/resolve/main/m.gguf")
	if err != nil || r.Repo != "o/r" || r.File != "m.gguf" {
		t.Errorf("a URL on the endpoint: %+v, %v; want the Hub file o/r m.gguf", r, err)
	}
	r, err = c.ParseRef("http://127.0.0.1:9998/o/r/resolve/main/m.gguf")
	if err != nil || r.URL == "" {
		t.Errorf("a URL on another port: %+v, %v; want a plain URL", r, err)
	}
}

func TestTags(t *testing.T) {
	for _, tc := range []struct {
		file  string
		tag   string
		has   bool
		quant string
	}{
		{"Llama-3.2-1B-Instruct-Q4_K_M.gguf", "q4_k_m", true, "Q4_K_M"},
		{"Llama-3.2-1B-Instruct-Q4_K_M.gguf", "Q4_K", false, "Q4_K_M"},
		{"llama-2-7b.Q4_K_M.gguf", "Q4_K_M", true, "Q4_K_M"},
		{"qwen2.5-0.5b-instruct-q8_0.gguf", "Q8_0", true, "Q8_0"},
		{"Qwen3-4B-UD-Q4_K_XL.gguf", "UD-Q4_K_XL", true, "Q4_K_XL"},
		{"Qwen3-4B-UD-Q4_K_XL.gguf", "Q4_K_XL", true, "Q4_K_XL"},
		{"model-IQ4_XS.gguf", "Q4_XS", false, "IQ4_XS"},
		{"Q4_K_M/model-Q4_K_M-00001-of-00002.gguf", "Q4_K_M", true, "Q4_K_M"},
		{"Q4_K_M/model-00001-of-00002.gguf", "Q4_K_M", true, "Q4_K_M"},
		{"Q4_K_M/model-Q8_0.gguf", "Q8_0", true, "Q8_0"},
		{"model-f16.gguf", "F16", true, "F16"},
		{"model-bf16.gguf", "F16", false, "BF16"},
		{"stories260K.gguf", "Q8_0", false, ""},
		{"stories260K.gguf", "stories260k", true, ""},
	} {
		if got := hasTag(tc.file, tc.tag); got != tc.has {
			t.Errorf("hasTag(%q, %q) = %v, want %v", tc.file, tc.tag, got, tc.has)
		}
		if got := quantOf(tc.file); got != tc.quant {
			t.Errorf("quantOf(%q) = %q, want %q", tc.file, got, tc.quant)
		}
	}
}

func TestSplitPart(t *testing.T) {
	part, count, ok := splitPart("dir/model-Q4_K_M-00002-of-00003.gguf")
	if !ok || part != 2 || count != 3 {
		t.Errorf("splitPart = %d, %d, %v; want 2, 3, true", part, count, ok)
	}
	for _, name := range []string{"model-Q4_K_M.gguf", "m-00000-of-00003.gguf", "m-00004-of-00003.gguf", "m-00001-of-00000.gguf"} {
		if _, _, ok := splitPart(name); ok {
			t.Errorf("%s taken for a part of a split model", name)
		}
	}
	if got := stem("dir/model-Q4_K_M-00002-of-00003.gguf"); got != "dir/model-Q4_K_M" {
		t.Errorf("stem = %q", got)
	}
}

func TestChoose(t *testing.T) {
	files := func(names ...string) []repoFile {
		var out []repoFile
		for _, n := range names {
			out = append(out, repoFile{Path: n, Size: 1})
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		quant string
		files []repoFile
		want  []string
		err   string // in the error, which wraps ErrNotFound
	}{
		{"default Q4_K_M", "", files("README.md", "m-Q8_0.gguf", "m-Q4_K_M.gguf", "m-Q2_K.gguf"), []string{"m-Q4_K_M.gguf"}, ""},
		{"first without Q4_K_M", "", files("m-Q8_0.gguf", "m-F16.gguf", "config.json"), []string{"m-F16.gguf"}, ""},
		{"tag", "Q8_0", files("m-Q8_0.gguf", "m-Q4_K_M.gguf"), []string{"m-Q8_0.gguf"}, ""},
		{"projector skipped", "", files("mmproj-m-f16.gguf", "m-Q6_K.gguf"), []string{"m-Q6_K.gguf"}, ""},
		{"whole before split", "Q8_0", files("Q8_0/m-Q8_0-00001-of-00002.gguf", "Q8_0/m-Q8_0-00002-of-00002.gguf", "m-Q8_0.gguf"), []string{"m-Q8_0.gguf"}, ""},
		{"split", "Q8_0", files("m-Q8_0-00002-of-00002.gguf", "m-Q4_K_M.gguf", "m-Q8_0-00001-of-00002.gguf"),
			[]string{"m-Q8_0-00001-of-00002.gguf", "m-Q8_0-00002-of-00002.gguf"}, ""},
		{"split in a folder", "", files("Q4_K_M/m-Q4_K_M-00002-of-00003.gguf", "Q4_K_M/m-Q4_K_M-00001-of-00003.gguf",
			"Q4_K_M/m-Q4_K_M-00003-of-00003.gguf", "Q8_0/m-Q8_0-00001-of-00002.gguf", "Q8_0/m-Q8_0-00002-of-00002.gguf"),
			[]string{"Q4_K_M/m-Q4_K_M-00001-of-00003.gguf", "Q4_K_M/m-Q4_K_M-00002-of-00003.gguf", "Q4_K_M/m-Q4_K_M-00003-of-00003.gguf"}, ""},
		{"tagged by its folder only", "Q4_K_M", files("Q4_K_M/model-00001-of-00002.gguf", "Q4_K_M/model-00002-of-00002.gguf", "Q8_0/model-00001-of-00001.gguf"),
			[]string{"Q4_K_M/model-00001-of-00002.gguf", "Q4_K_M/model-00002-of-00002.gguf"}, ""},
		{"split with a part missing", "Q8_0", files("m-Q8_0-00001-of-00003.gguf", "m-Q8_0-00003-of-00003.gguf"), nil,
			"no part 2, m-Q8_0-00002-of-00003.gguf"},
		{"split without its first part", "Q8_0", files("m-Q8_0-00002-of-00002.gguf"), nil, "no part 1"},
		{"missing tag", "Q5_K_M", files("m-Q8_0.gguf"), nil, "no .gguf file tagged Q5_K_M"},
		{"no gguf", "", files("README.md", "model.safetensors"), nil, "no .gguf files"},
		{"unsafe path skipped", "", files("../m-Q4_K_M.gguf", "m-Q8_0.gguf"), []string{"m-Q8_0.gguf"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := choose(Ref{Repo: "o/r", Quant: tc.quant}, tc.files)
			if tc.err != "" {
				if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want ErrNotFound mentioning %q", err, tc.err)
				}
				return
			}
			var paths []string
			for _, f := range got {
				paths = append(paths, f.Path)
			}
			if err != nil || !slices.Equal(paths, tc.want) {
				t.Fatalf("chose %q, %v; want %q", paths, err, tc.want)
			}
		})
	}
}

func TestSplitSiblings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"m.gguf", []string{"m.gguf"}},
		{"d/m-Q8_0-00002-of-00003.gguf", []string{"d/m-Q8_0-00001-of-00003.gguf", "d/m-Q8_0-00002-of-00003.gguf", "d/m-Q8_0-00003-of-00003.gguf"}},
		{"m-00001-of-00001.gguf", []string{"m-00001-of-00001.gguf"}},
		{"m-00001-of-00000.gguf", []string{"m-00001-of-00000.gguf"}},
	} {
		if got := splitSiblings(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("splitSiblings(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in          string
		start, size int64
		ok          bool
	}{
		{"bytes 100-199/200", 100, 200, true},
		{"bytes 0-0/1", 0, 1, true},
		{"bytes 5-9/*", 5, -1, true},
		{"bytes */300", 0, 300, true},
		{"bytes 100-99/200", 0, 0, false},
		{"bytes 100-200/200", 0, 0, false},
		{"bytes 100-199", 0, 0, false},
		{"items 0-1/2", 0, 0, false},
		{"bytes -1-5/9", 0, 0, false},
		{"", 0, 0, false},
	} {
		start, size, ok := parseContentRange(tc.in)
		if ok != tc.ok || ok && (start != tc.start || size != tc.size) {
			t.Errorf("parseContentRange(%q) = %d, %d, %v; want %d, %d, %v", tc.in, start, size, ok, tc.start, tc.size, tc.ok)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"hf.co/o/r:Q4_K_M", "o/r", "https://huggingface.co/o/r/resolve/main/a/b.gguf",
		"https://example.com/x.gguf", "huggingface.co/o/r:latest", "https://hf.co/o/r/blob/x/%2e%2e/y.gguf",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		if r.URL != "" {
			if r.Repo != "" || r.File != "" {
				t.Fatalf("%q: both a URL and a repository: %+v", s, r)
			}
			return
		}
		owner, name, ok := strings.Cut(r.Repo, "/")
		if !ok || !validName(owner) || !validName(name) {
			t.Fatalf("%q: bad repository %q", s, r.Repo)
		}
		if r.File != "" && !validFile(r.File) {
			t.Fatalf("%q: unsafe file %q", s, r.File)
		}
		again, err := ParseRef(r.String())
		if err != nil || again != r {
			t.Fatalf("%q: %+v prints as %q, which reads back as %+v, %v", s, r, r.String(), again, err)
		}
	})
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-9/10", "bytes */10", "bytes 1-2/*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, size, ok := parseContentRange(s)
		if ok && (start < 0 || size < -1 || size >= 0 && start > size) {
			t.Fatalf("%q: start %d, size %d", s, start, size)
		}
	})
}
