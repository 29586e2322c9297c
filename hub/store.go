package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ErrNotStored is wrapped by lookups of a name that no stored model has.
var ErrNotStored = errors.New("no such model in the store")

// Manifest describes one stored model: one file, or the parts of a split
// model, where File, Source, SHA256, Local and Path are the first part's
// (the one gguf.Open takes) and Size and Verified cover them all.
type Manifest struct {
	Name     string    `json:"name"`             // the name to run it by: OWNER/REPO:QUANT, or HOST/PATH for a URL
	Repo     string    `json:"repo,omitempty"`   // OWNER/REPO for a Hub model
	File     string    `json:"file"`             // the file's path in the repository, or its URL's base name
	Quant    string    `json:"quant,omitempty"`  // quantization tag, upper-cased, when known
	Source   string    `json:"source"`           // the URL it was downloaded from
	Commit   string    `json:"commit,omitempty"` // the repository commit the Hub served
	SHA256   string    `json:"sha256"`           // of the file, computed while downloading
	Verified bool      `json:"verified"`         // SHA256 matched a checksum the server published (for every part)
	Size     int64     `json:"size"`             // bytes, of all parts together
	Time     time.Time `json:"time"`             // when the download finished
	Local    string    `json:"local"`            // the file's path under the store's models folder, slash-separated
	Parts    []Part    `json:"parts,omitempty"`  // every file of a split model, in order; none for a whole file

	// Path is the file's absolute path; the store fills it in.
	Path string `json:"-"`
}

// Part is one file of a split model.
type Part struct {
	File     string `json:"file"`     // its path in the repository, or its URL's base name
	Local    string `json:"local"`    // its path under the store's models folder
	SHA256   string `json:"sha256"`   // computed while downloading
	Verified bool   `json:"verified"` // SHA256 matched a checksum the server published
	Size     int64  `json:"size"`
}

// files lists the model's files as parts: its Parts, or the one file.
func (m *Manifest) files() []Part {
	if len(m.Parts) > 0 {
		return m.Parts
	}
	return []Part{{File: m.File, Local: m.Local, SHA256: m.SHA256, Verified: m.Verified, Size: m.Size}}
}

// part returns the record of the file stored at local, or nil.
func (m *Manifest) part(local string) *Part {
	files := m.files()
	for i := range files {
		if files[i].Local == local {
			return &files[i]
		}
	}
	return nil
}

// holds reports whether m records exactly the files items describe, each
// with the checksum the server publishes.
func (m *Manifest) holds(items []pullItem) bool {
	files := m.files()
	if len(files) != len(items) {
		return false
	}
	for i, it := range items {
		if files[i].Local != it.local || !current(files[i].SHA256, files[i].Size, it.expect) {
			return false
		}
	}
	return true
}

// Store is a folder of downloaded models and their manifests.
type Store struct {
	dir string
}

// NewStore returns the store rooted at dir; nothing is created until a
// model is stored.
func NewStore(dir string) *Store { return &Store{dir: dir} }

// DefaultDir is $JOULE_HOME, or the "joule" folder of the user's cache
// directory when it is unset.
func DefaultDir() (string, error) {
	if d := os.Getenv("JOULE_HOME"); d != "" {
		return d, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("hub: no store folder: set JOULE_HOME (%w)", err)
	}
	return filepath.Join(cache, "joule"), nil
}

// DefaultStore is the store in DefaultDir.
func DefaultStore() (*Store, error) {
	dir, err := DefaultDir()
	if err != nil {
		return nil, err
	}
	return NewStore(dir), nil
}

// Dir is the store's root folder.
func (s *Store) Dir() string { return s.dir }

func (s *Store) modelPath(local string) string {
	return filepath.Join(s.dir, "models", filepath.FromSlash(local))
}

func (s *Store) manifestPath(local string) string {
	return filepath.Join(s.dir, "manifests", filepath.FromSlash(local)+".json")
}

// List returns the manifests of the stored models whose files are present,
// sorted by name.
func (s *Store) List() ([]Manifest, error) {
	root := filepath.Join(s.dir, "manifests")
	var out []Manifest
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".json") {
			return nil
		}
		m, err := s.readManifest(p)
		if err != nil {
			return err
		}
		if m != nil {
			out = append(out, *m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hub: listing %s: %w", root, err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Local < out[j].Local
	})
	return out, nil
}

// readManifest reads one manifest; it returns nil, nil when a model file
// it describes is gone or does not have the recorded size, so a file
// removed by hand simply drops out of the list.
func (s *Store) readManifest(p string) (*Manifest, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", p, err)
	}
	if !validFile(m.Local) {
		return nil, fmt.Errorf("manifest %s: bad local path %q", p, m.Local)
	}
	if len(m.Parts) > 0 && m.Parts[0].Local != m.Local {
		return nil, fmt.Errorf("manifest %s: its first part is %q, not the model's file %q", p, m.Parts[0].Local, m.Local)
	}
	for _, part := range m.Parts {
		if !validFile(part.Local) {
			return nil, fmt.Errorf("manifest %s: bad local path %q", p, part.Local)
		}
	}
	m.Path = s.modelPath(m.Local)
	var total int64
	for _, part := range m.files() {
		fi, err := os.Stat(s.modelPath(part.Local))
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != part.Size {
			return nil, nil
		}
		total += part.Size
	}
	if total != m.Size {
		return nil, nil
	}
	return &m, nil
}

// manifest returns the manifest of the model stored at local, or nil.
func (s *Store) manifest(local string) *Manifest {
	m, err := s.readManifest(s.manifestPath(local))
	if err != nil {
		return nil
	}
	return m
}

// writeManifest records m, replacing any earlier manifest atomically.
func (s *Store) writeManifest(m *Manifest) error {
	p := s.manifestPath(m.Local)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("hub: manifest: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".manifest-*")
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("hub: writing manifest: %w", err)
	}
	return nil
}

// Lookup finds a stored model by name: the exact name it was stored under,
// or a Hub reference as ParseRef reads it (hf.co/OWNER/REPO:QUANT,
// OWNER/REPO:QUANT, OWNER/REPO), where QUANT may also be the file's name.
// Without QUANT it picks what pull would: Q4_K_M if stored, else the
// repository's only stored model.
func (s *Store) Lookup(name string) (*Manifest, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Name == name || all[i].Source == name {
			return &all[i], nil
		}
	}
	ref, err := ParseRef(name)
	if err != nil || ref.Repo == "" {
		return nil, fmt.Errorf("hub: %q: %w", name, ErrNotStored)
	}
	var repo []Manifest
	for _, m := range all {
		if strings.EqualFold(m.Repo, ref.Repo) {
			repo = append(repo, m)
		}
	}
	var match []Manifest
	for _, m := range repo {
		switch {
		case ref.File != "":
			// A URL to any part of a split model names the model.
			for _, part := range m.files() {
				if part.File == ref.File {
					match = append(match, m)
					break
				}
			}
		case ref.Quant != "":
			if strings.EqualFold(m.Quant, ref.Quant) || hasTag(m.File, ref.Quant) ||
				strings.EqualFold(stem(path.Base(m.File)), ref.Quant) {
				match = append(match, m)
			}
		default:
			if strings.EqualFold(m.Quant, defaultQuant) || hasTag(m.File, defaultQuant) {
				match = append(match, m)
			}
		}
	}
	if len(match) == 0 && ref.Quant == "" && ref.File == "" {
		match = repo
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("hub: %q: %w", name, ErrNotStored)
	case 1:
		return &match[0], nil
	}
	names := make([]string, len(match))
	for i, m := range match {
		names[i] = m.Name + " (" + m.File + ")"
	}
	return nil, fmt.Errorf("hub: %q names %d stored models: %s", name, len(match), strings.Join(names, ", "))
}

// Resolve turns what a user gave as a model into a file path: an existing
// file is taken as it is; anything else is looked up in DefaultStore.
func Resolve(nameOrPath string) (string, error) {
	if fi, err := os.Stat(nameOrPath); err == nil && !fi.IsDir() {
		return nameOrPath, nil
	}
	s, err := DefaultStore()
	if err != nil {
		return "", err
	}
	m, err := s.Lookup(nameOrPath)
	if errors.Is(err, ErrNotStored) {
		return "", fmt.Errorf("%s: no such file or stored model (joule ls lists the stored ones; joule pull fetches one): %w", nameOrPath, ErrNotStored)
	}
	if err != nil {
		return "", err
	}
	return m.Path, nil
}
