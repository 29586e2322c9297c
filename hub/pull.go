package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// defaultQuant is the tag pulled when a reference has none: the usual
// balance of size and quality for CPU inference.
const defaultQuant = "Q4_K_M"

// Pull downloads the model that name refers to (see ParseRef) into s and
// returns its manifest. A model already stored with the checksum the
// server publishes is not downloaded again; fetched reports whether
// anything was. An interrupted pull keeps its partial file, and the next
// pull of the same file resumes it.
func (c *Client) Pull(ctx context.Context, s *Store, name string) (m *Manifest, fetched bool, err error) {
	ref, err := c.ParseRef(name)
	if err != nil {
		return nil, false, err
	}
	if ref.URL != "" {
		return c.pullURL(ctx, s, ref)
	}
	var want repoFile
	var commit string
	if ref.File != "" {
		if !isGGUF(ref.File) {
			return nil, false, fmt.Errorf("hub: %s: not a .gguf file", ref.File)
		}
		if _, _, split := splitPart(ref.File); split {
			return nil, false, fmt.Errorf("hub: %s: %w", ref.File, ErrSplit)
		}
		want = repoFile{Path: ref.File, Size: -1}
	} else {
		var files []repoFile
		files, commit, err = c.listFiles(ctx, ref)
		if err != nil {
			return nil, false, err
		}
		if want, err = choose(ref, files); err != nil {
			return nil, false, err
		}
	}
	src := c.Endpoint + "/" + ref.Repo + "/resolve/" + url.PathEscape(ref.Revision) + "/" + escapePath(want.Path)
	expect := remoteFile{url: src, sha256: want.SHA256, size: want.Size, commit: commit}
	if ref.File != "" {
		// No listing was read: ask for the checksum before deciding
		// whether the stored copy is current.
		if expect, err = c.stat(ctx, src, true, ref.Repo+"/"+want.Path); err != nil {
			return nil, false, err
		}
		expect.url = src
	}
	tag := ref.Quant
	if tag == "" {
		tag = quantOf(want.Path)
	}
	if tag == "" {
		tag = stem(path.Base(want.Path))
	}
	m = &Manifest{
		Name:   ref.Repo + ":" + tag,
		Repo:   ref.Repo,
		File:   want.Path,
		Quant:  quantOf(want.Path),
		Source: src,
		Local:  "hf.co/" + ref.Repo + "/" + want.Path,
	}
	if m.Quant == "" {
		m.Quant = ref.Quant
	}
	return c.pullFile(ctx, s, m, expect, true)
}

// pullURL pulls a file from a plain URL, stored as HOST/PATH.
func (c *Client) pullURL(ctx context.Context, s *Store, ref Ref) (*Manifest, bool, error) {
	u, err := url.Parse(ref.URL)
	if err != nil {
		return nil, false, fmt.Errorf("hub: %w", err)
	}
	p := strings.TrimPrefix(path.Clean("/"+u.Path), "/")
	local := strings.ReplaceAll(u.Host, ":", "_") + "/" + p
	if !validFile(local) {
		return nil, false, fmt.Errorf("hub: %s: cannot store a file from this URL", ref.URL)
	}
	if _, _, split := splitPart(p); split {
		return nil, false, fmt.Errorf("hub: %s: %w", ref.URL, ErrSplit)
	}
	base := path.Base(p)
	expect, err := c.stat(ctx, ref.URL, false, base)
	if err != nil {
		return nil, false, err
	}
	expect.url = ref.URL
	m := &Manifest{
		Name:   u.Host + "/" + p,
		File:   base,
		Quant:  quantOf(base),
		Source: ref.URL,
		Local:  local,
	}
	return c.pullFile(ctx, s, m, expect, false)
}

// pullFile downloads the file m describes unless the store has it already,
// then records m.
func (c *Client) pullFile(ctx context.Context, s *Store, m *Manifest, expect remoteFile, fromHub bool) (*Manifest, bool, error) {
	dest := s.modelPath(m.Local)
	if old := s.manifest(m.Local); old != nil && current(old.SHA256, old.Size, expect) {
		return old, false, nil
	}
	// A complete file without a manifest (a pull stopped just before
	// writing it) needs no download if its checksum is the published one.
	if expect.sha256 != "" {
		if sum, size, err := fileSHA256(dest); err == nil && current(sum, size, expect) {
			return c.record(s, m, expect, sum, size, false)
		}
	}
	rf, sum, err := c.download(ctx, expect, fromHub, m.File, dest)
	if err != nil {
		return nil, false, err
	}
	if rf.commit != "" {
		expect.commit = rf.commit
	}
	if rf.sha256 != "" {
		expect.sha256 = rf.sha256
	}
	fi, err := os.Stat(dest)
	if err != nil {
		return nil, false, fmt.Errorf("hub: %w", err)
	}
	return c.record(s, m, expect, sum, fi.Size(), true)
}

func (c *Client) record(s *Store, m *Manifest, rf remoteFile, sum string, size int64, fetched bool) (*Manifest, bool, error) {
	m.Commit = rf.commit
	m.SHA256 = sum
	m.Verified = rf.sha256 != "" && rf.sha256 == sum
	m.Size = size
	m.Time = time.Now().UTC().Truncate(time.Second)
	m.Path = s.modelPath(m.Local)
	if err := s.writeManifest(m); err != nil {
		return nil, false, err
	}
	return m, fetched, nil
}

// current reports whether a file with this checksum and size is the one
// the server publishes; with no published checksum, a matching (or
// unknown) size is taken as enough.
func current(sum string, size int64, rf remoteFile) bool {
	if rf.size >= 0 && size != rf.size {
		return false
	}
	return rf.sha256 == "" || sum == rf.sha256
}

func fileSHA256(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// choose picks the file to pull from a repository listing: the .gguf file
// carrying ref's tag, or with no tag the Q4_K_M file, else the first one.
// Multimodal projectors are never picked, and split files are refused.
func choose(ref Ref, files []repoFile) (repoFile, error) {
	var ggufs []repoFile
	for _, f := range files {
		if isGGUF(f.Path) && !isProjector(f.Path) && validFile(f.Path) {
			ggufs = append(ggufs, f)
		}
	}
	sort.Slice(ggufs, func(i, j int) bool { return ggufs[i].Path < ggufs[j].Path })
	if len(ggufs) == 0 {
		return repoFile{}, fmt.Errorf("hub: %s has no .gguf files: %w", ref.Repo, ErrNotFound)
	}
	tag := ref.Quant
	if tag == "" {
		tag = defaultQuant
	}
	var match []repoFile
	for _, f := range ggufs {
		if hasTag(f.Path, tag) {
			match = append(match, f)
		}
	}
	if len(match) == 0 {
		if ref.Quant != "" {
			return repoFile{}, fmt.Errorf("hub: %s has no .gguf file tagged %s (it has %s): %w",
				ref.Repo, ref.Quant, strings.Join(tags(ggufs), ", "), ErrNotFound)
		}
		match = ggufs
	}
	// Prefer a whole file to a split one.
	for _, f := range match {
		if _, _, split := splitPart(f.Path); !split {
			return f, nil
		}
	}
	f := match[0]
	_, count, _ := splitPart(f.Path)
	return repoFile{}, fmt.Errorf("hub: %s:%s is split into %d files (%s, ...): %w", ref.Repo, tag, count, f.Path, ErrSplit)
}

// tags lists the distinct tags of a repository's files, for an error
// message: their quantization tags, or their names when they have none.
func tags(files []repoFile) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		t := quantOf(f.Path)
		if t == "" {
			t = path.Base(f.Path)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}
