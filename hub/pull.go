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

	"github.com/joule-llm/joule/gguf"
)

// defaultQuant is the tag pulled when a reference has none: the usual
// balance of size and quality for CPU inference.
const defaultQuant = "Q4_K_M"

// Pull downloads the model that name refers to (see ParseRef) into s and
// returns its manifest. A model already stored with the checksum the
// server publishes is not downloaded again; fetched reports whether
// anything was. An interrupted pull keeps its partial file, and the next
// pull of the same file resumes it.
//
// A model published split into parts (NAME-00001-of-00003.gguf, ...) is
// pulled whole: every part, each resumed and checked as a single file
// is, into one folder, so that gguf.Open of the first part, the
// manifest's Path, finds the others.
func (c *Client) Pull(ctx context.Context, s *Store, name string) (m *Manifest, fetched bool, err error) {
	ref, err := c.ParseRef(name)
	if err != nil {
		return nil, false, err
	}
	if ref.URL != "" {
		return c.pullURL(ctx, s, ref)
	}
	var want []repoFile
	var commit string
	if ref.File != "" {
		if !isGGUF(ref.File) {
			return nil, false, fmt.Errorf("hub: %s: not a .gguf file", ref.File)
		}
		for _, p := range splitSiblings(ref.File) {
			want = append(want, repoFile{Path: p, Size: -1})
		}
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
	base := c.Endpoint + "/" + ref.Repo + "/resolve/" + url.PathEscape(ref.Revision) + "/"
	items := make([]pullItem, len(want))
	for i, f := range want {
		src := base + escapePath(f.Path)
		items[i] = pullItem{
			file:   f.Path,
			local:  "hf.co/" + ref.Repo + "/" + f.Path,
			expect: remoteFile{url: src, sha256: f.SHA256, size: f.Size, commit: commit},
		}
		if ref.File != "" {
			// No listing was read: ask for the checksum before deciding
			// whether the stored copy is current.
			if items[i].expect, err = c.stat(ctx, src, true, ref.Repo+"/"+f.Path); err != nil {
				return nil, false, err
			}
			items[i].expect.url = src
		}
	}
	first := want[0].Path
	tag := ref.Quant
	if tag == "" {
		tag = quantOf(first)
	}
	if tag == "" {
		tag = stem(path.Base(first))
	}
	m = &Manifest{
		Name:   ref.Repo + ":" + tag,
		Repo:   ref.Repo,
		File:   first,
		Quant:  quantOf(first),
		Source: items[0].expect.url,
		Local:  items[0].local,
	}
	if m.Quant == "" {
		m.Quant = ref.Quant
	}
	return c.pullFiles(ctx, s, m, items, true)
}

// splitSiblings lists the parts of the split model that file p is a part
// of, in order, or just p when it is a whole file.
func splitSiblings(p string) []string {
	part, count, ok := splitPart(p)
	if !ok {
		return []string{p}
	}
	prefix := p[:len(p)-len(gguf.SplitPath("", part-1, count))]
	out := make([]string, count)
	for i := range out {
		out[i] = gguf.SplitPath(prefix, i, count)
	}
	return out
}

// pullURL pulls a file from a plain URL, stored as HOST/PATH; a part of a
// split model brings the other parts, from the same folder of the server.
func (c *Client) pullURL(ctx context.Context, s *Store, ref Ref) (*Manifest, bool, error) {
	u, err := url.Parse(ref.URL)
	if err != nil {
		return nil, false, fmt.Errorf("hub: %w", err)
	}
	p := strings.TrimPrefix(path.Clean("/"+u.Path), "/")
	dir := strings.ReplaceAll(u.Host, ":", "_") + "/"
	if !validFile(dir + p) {
		return nil, false, fmt.Errorf("hub: %s: cannot store a file from this URL", ref.URL)
	}
	parts := splitSiblings(p)
	items := make([]pullItem, len(parts))
	for i, part := range parts {
		pu := *u
		pu.Path, pu.RawPath = "/"+part, ""
		if len(parts) == 1 {
			pu = *u // as given, escaping and all
		}
		expect, err := c.stat(ctx, pu.String(), false, path.Base(part))
		if err != nil {
			return nil, false, err
		}
		expect.url = pu.String()
		items[i] = pullItem{file: path.Base(part), local: dir + part, expect: expect}
	}
	m := &Manifest{
		Name:   u.Host + "/" + parts[0],
		File:   items[0].file,
		Quant:  quantOf(parts[0]),
		Source: items[0].expect.url,
		Local:  items[0].local,
	}
	if len(parts) == 1 {
		m.Source = ref.URL
	}
	return c.pullFiles(ctx, s, m, items, false)
}

// pullItem is one file to pull: a whole model, or one part of a split one.
type pullItem struct {
	file   string     // its name in the repository, or its URL's base name
	local  string     // where it goes under the store's models folder
	expect remoteFile // what the server says of it
}

// pullFiles downloads the files of m (one, or the parts of a split model)
// unless the store has them already, then records m.
func (c *Client) pullFiles(ctx context.Context, s *Store, m *Manifest, items []pullItem, fromHub bool) (*Manifest, bool, error) {
	old := s.manifest(m.Local)
	if old != nil && old.holds(items) {
		return old, false, nil
	}
	parts := make([]Part, len(items))
	anyFetched := false
	for i := range items {
		var known *Part
		if old != nil {
			known = old.part(items[i].local)
		}
		p, fetched, err := c.fetchFile(ctx, s, &items[i], known, fromHub)
		if err != nil {
			return nil, false, err
		}
		parts[i] = p
		anyFetched = anyFetched || fetched
	}
	for _, it := range items {
		if it.expect.commit != "" {
			m.Commit = it.expect.commit
			break
		}
	}
	return c.record(s, m, parts, anyFetched)
}

// fetchFile makes sure the store holds the file it describes. A copy
// already there is kept if its checksum is the published one: known, a
// previous manifest's record of it, saves reading it again. Otherwise it
// downloads the file, resuming a partial one, and notes in it the commit
// the server named.
func (c *Client) fetchFile(ctx context.Context, s *Store, it *pullItem, known *Part, fromHub bool) (Part, bool, error) {
	dest := s.modelPath(it.local)
	p := Part{File: it.file, Local: it.local}
	if known != nil && current(known.SHA256, known.Size, it.expect) {
		if fi, err := os.Stat(dest); err == nil && fi.Mode().IsRegular() && fi.Size() == known.Size {
			p.SHA256, p.Size = known.SHA256, known.Size
			p.Verified = it.expect.sha256 != "" && it.expect.sha256 == p.SHA256
			return p, false, nil
		}
	}
	// A complete file without a manifest (a pull stopped just before
	// writing it) needs no download if its checksum is the published one.
	if it.expect.sha256 != "" {
		if sum, size, err := fileSHA256(dest); err == nil && current(sum, size, it.expect) {
			p.SHA256, p.Size, p.Verified = sum, size, true
			return p, false, nil
		}
	}
	rf, sum, err := c.download(ctx, it.expect, fromHub, it.file, dest)
	if err != nil {
		return Part{}, false, err
	}
	fi, err := os.Stat(dest)
	if err != nil {
		return Part{}, false, fmt.Errorf("hub: %w", err)
	}
	published := it.expect.sha256
	if rf.sha256 != "" {
		published = rf.sha256
	}
	if rf.commit != "" {
		it.expect.commit = rf.commit
	}
	p.SHA256, p.Size, p.Verified = sum, fi.Size(), published != "" && published == sum
	return p, true, nil
}

// record fills in m from its files' records and writes it to the store.
func (c *Client) record(s *Store, m *Manifest, parts []Part, fetched bool) (*Manifest, bool, error) {
	m.SHA256 = parts[0].SHA256
	m.Verified = true
	m.Size = 0
	for _, p := range parts {
		m.Size += p.Size
		m.Verified = m.Verified && p.Verified
	}
	if len(parts) > 1 {
		m.Parts = parts
	}
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

// choose picks the files to pull from a repository listing: the .gguf file
// carrying ref's tag, or with no tag the Q4_K_M file, else the first one.
// Multimodal projectors are never picked. A whole file is preferred to a
// split one; for a split model choose returns every part, in order.
func choose(ref Ref, files []repoFile) ([]repoFile, error) {
	var ggufs []repoFile
	for _, f := range files {
		if isGGUF(f.Path) && !isProjector(f.Path) && validFile(f.Path) {
			ggufs = append(ggufs, f)
		}
	}
	sort.Slice(ggufs, func(i, j int) bool { return ggufs[i].Path < ggufs[j].Path })
	if len(ggufs) == 0 {
		return nil, fmt.Errorf("hub: %s has no .gguf files: %w", ref.Repo, ErrNotFound)
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
			return nil, fmt.Errorf("hub: %s has no .gguf file tagged %s (it has %s): %w",
				ref.Repo, ref.Quant, strings.Join(tags(ggufs), ", "), ErrNotFound)
		}
		match = ggufs
	}
	// Prefer a whole file to a split one.
	for _, f := range match {
		if _, _, split := splitPart(f.Path); !split {
			return []repoFile{f}, nil
		}
	}
	// The first split model in name order; the listing must have all of it.
	names := splitSiblings(match[0].Path)
	byPath := make(map[string]repoFile, len(ggufs))
	for _, f := range ggufs {
		byPath[f.Path] = f
	}
	parts := make([]repoFile, len(names))
	for i, n := range names {
		f, ok := byPath[n]
		if !ok {
			return nil, fmt.Errorf("hub: %s:%s is split into %d files, but the repository has no part %d, %s: %w",
				ref.Repo, tag, len(names), i+1, n, ErrNotFound)
		}
		parts[i] = f
	}
	return parts, nil
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
