package hub

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// Ref names what to pull: a Hub repository with an optional quantization
// tag, one file of a repository, or a plain URL.
type Ref struct {
	Repo     string // OWNER/REPO; empty for a plain URL
	Revision string // branch, tag or commit of Repo; "main" unless a URL names another
	Quant    string // quantization tag asked for, upper-cased; empty for the default
	File     string // the file of Repo the reference names, if it names one
	URL      string // a plain download URL, outside the Hub
}

// String gives the reference in the form ParseRef reads.
func (r Ref) String() string {
	switch {
	case r.URL != "":
		return r.URL
	case r.File != "":
		return "https://huggingface.co/" + r.Repo + "/resolve/" + url.PathEscape(r.Revision) + "/" + escapePath(r.File)
	case r.Quant != "":
		return "hf.co/" + r.Repo + ":" + r.Quant
	}
	return "hf.co/" + r.Repo
}

// hubHosts are the host names that mean the Hub, whatever HF_ENDPOINT says.
var hubHosts = []string{"hf.co", "huggingface.co", "www.huggingface.co"}

// ParseRef reads a model reference:
//
//	hf.co/OWNER/REPO[:QUANT]      (also huggingface.co/..., or OWNER/REPO[:QUANT])
//	https://huggingface.co/OWNER/REPO[:QUANT]
//	https://huggingface.co/OWNER/REPO/resolve/REVISION/FILE.gguf  (or /blob/)
//	https://example.com/any/file.gguf
//
// The tag "latest" means no tag, as it does for Ollama.
func ParseRef(s string) (Ref, error) { return parseRef(s, "") }

// parseRef is ParseRef that also takes URLs on endpointHost (HF_ENDPOINT's
// host and port) for Hub URLs.
func parseRef(s, endpointHost string) (Ref, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Ref{}, fmt.Errorf("hub: empty model name")
	}
	if i := strings.Index(s, "://"); i >= 0 {
		return parseURL(s, endpointHost)
	}
	lower := strings.ToLower(s)
	for _, h := range hubHosts {
		if strings.HasPrefix(lower, h+"/") {
			s = s[len(h)+1:]
			break
		}
	}
	return parseRepo(s, s)
}

// parseRepo reads OWNER/REPO[:QUANT]; orig is what the user wrote, for errors.
func parseRepo(s, orig string) (Ref, error) {
	quant := ""
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s, quant = s[:i], s[i+1:]
		if !validTag(quant) {
			return Ref{}, fmt.Errorf("hub: %q: bad quantization tag %q", orig, quant)
		}
		quant = strings.ToUpper(quant)
		if quant == "LATEST" {
			quant = ""
		}
	}
	owner, repo, ok := strings.Cut(s, "/")
	if !ok || !validName(owner) || !validName(repo) {
		return Ref{}, fmt.Errorf("hub: %q is not a model name: want hf.co/OWNER/REPO[:QUANT] or a URL", orig)
	}
	return Ref{Repo: owner + "/" + repo, Revision: "main", Quant: quant}, nil
}

func parseURL(s, endpointHost string) (Ref, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Ref{}, fmt.Errorf("hub: %q: %w", s, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return Ref{}, fmt.Errorf("hub: %q: only http and https URLs can be pulled", s)
	}
	if u.Host == "" {
		return Ref{}, fmt.Errorf("hub: %q: URL has no host", s)
	}
	if !isHubHost(u.Host, endpointHost) {
		if base := path.Base(u.Path); base == "/" || base == "." || u.Path == "" {
			return Ref{}, fmt.Errorf("hub: %q: URL names no file", s)
		}
		return Ref{URL: u.String()}, nil
	}
	seg := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	for i, p := range seg {
		if seg[i], err = url.PathUnescape(p); err != nil {
			return Ref{}, fmt.Errorf("hub: %q: %w", s, err)
		}
	}
	switch {
	case len(seg) == 2:
		return parseRepo(seg[0]+"/"+seg[1], s)
	case len(seg) >= 5 && (seg[2] == "resolve" || seg[2] == "blob"):
		r, err := parseRepo(seg[0]+"/"+seg[1], s)
		if err != nil {
			return Ref{}, err
		}
		r.Revision = seg[3]
		r.File = strings.Join(seg[4:], "/")
		if r.Revision == "" || strings.ContainsAny(r.Revision, "/\\") || !validFile(r.File) {
			return Ref{}, fmt.Errorf("hub: %q: bad file URL", s)
		}
		return r, nil
	}
	return Ref{}, fmt.Errorf("hub: %q: want a repository URL (/OWNER/REPO) or a file URL (/OWNER/REPO/resolve/REVISION/FILE)", s)
}

func isHubHost(host, endpointHost string) bool {
	if endpointHost != "" && strings.EqualFold(host, endpointHost) {
		return true
	}
	for _, h := range hubHosts {
		if strings.EqualFold(host, h) {
			return true
		}
	}
	return false
}

// validName reports whether s can be a Hub owner or repository name:
// letters, digits, '-', '_' and '.', and not a path step like "..".
func validName(s string) bool {
	if s == "" || len(s) > 96 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func validTag(s string) bool { return s != "" && validName(s) }

// validFile reports whether p is a relative slash-separated path that stays
// inside its directory, so a name from a server cannot escape the store.
func validFile(p string) bool {
	if p == "" || strings.ContainsAny(p, "\\\x00") || strings.HasPrefix(p, "/") {
		return false
	}
	for _, s := range strings.Split(p, "/") {
		if s == "" || s == "." || s == ".." {
			return false
		}
	}
	return true
}

var splitRE = regexp.MustCompile(`(?i)-(\d{5})-of-(\d{5})\.gguf$`)

// splitPart reports the part number (from 1) and the part count of a
// split GGUF file name such as model-00001-of-00003.gguf. A name whose
// numbers make no sense, such as part 0 or part 4 of 3, is not a part.
func splitPart(name string) (part, count int, ok bool) {
	m := splitRE.FindStringSubmatch(name)
	if m == nil {
		return 0, 0, false
	}
	part, _ = strconv.Atoi(m[1])
	count, _ = strconv.Atoi(m[2])
	if part < 1 || part > count {
		return 0, 0, false
	}
	return part, count, true
}

// stem is a file path without its .gguf extension and split-part suffix.
func stem(p string) string {
	if loc := splitRE.FindStringIndex(p); loc != nil {
		return p[:loc[0]]
	}
	if len(p) >= 5 && strings.EqualFold(p[len(p)-5:], ".gguf") {
		return p[:len(p)-5]
	}
	return p
}

// hasTag reports whether file path p carries the quantization tag, compared
// case-insensitively as a whole word: Q4_K matches x-Q4_K.gguf but not
// x-Q4_K_M.gguf.
func hasTag(p, tag string) bool {
	s, t := strings.ToLower(stem(p)), strings.ToLower(tag)
	if t == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(s[i:], t)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(t)
		before := j == 0 || strings.IndexByte("-._/", s[j-1]) >= 0
		after := end == len(s) || strings.IndexByte("-./", s[end]) >= 0
		if before && after {
			return true
		}
		i = j + 1
	}
}

var quantRE = regexp.MustCompile(`(?i)^(I?Q[0-9]+(_[A-Z0-9]+)*|TQ[0-9]+_[0-9]+|MXFP4(_MOE)?|BF16|F16|FP16|F32|FP32)$`)

// quantOf finds the quantization tag in a file name, the last word of its
// stem that looks like one, upper-cased; else in the name of its folder,
// where repositories of split models often keep each quantization's
// parts; "" when there is none.
func quantOf(p string) string {
	for _, name := range []string{stem(path.Base(p)), path.Base(path.Dir(p))} {
		words := strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '.' })
		for i := len(words) - 1; i >= 0; i-- {
			if quantRE.MatchString(words[i]) {
				return strings.ToUpper(words[i])
			}
		}
	}
	return ""
}

// isProjector reports whether a .gguf file is a multimodal projector
// (mmproj-*.gguf), which is never the model itself.
func isProjector(p string) bool {
	return strings.Contains(strings.ToLower(path.Base(p)), "mmproj")
}

func isGGUF(p string) bool {
	return len(p) >= 5 && strings.EqualFold(p[len(p)-5:], ".gguf")
}
