package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/tensor"
)

// splitFixture adds to f's server the repository o/big: a Q4_K_M model in
// three parts in a Q4_K_M folder, and a whole Q8_0 file.
func splitFixture(t *testing.T, f *fixture) (names []string, parts [][]byte) {
	t.Helper()
	parts = [][]byte{content(200_000, 11), content(150_000, 12), content(90_000, 13)}
	names = f.srv.AddSplit("o/big", "Q4_K_M/Big-Q4_K_M", parts...)
	f.srv.AddFile("o/big", "Big-Q8_0.gguf", content(1000, 14))
	return names, parts
}

// checkSplit checks that m records the split model of names and parts and
// that the store holds every part.
func checkSplit(t *testing.T, f *fixture, m *Manifest, names []string, parts [][]byte) {
	t.Helper()
	var total int64
	for _, p := range parts {
		total += int64(len(p))
	}
	dir := filepath.Join(f.store.Dir(), "models", "hf.co", "o", "big")
	if m.File != names[0] || m.Path != filepath.Join(dir, filepath.FromSlash(names[0])) || m.Size != total ||
		!m.Verified || m.SHA256 != hexSHA(parts[0]) || len(m.Parts) != len(parts) {
		t.Fatalf("manifest %+v", m)
	}
	for i, p := range m.Parts {
		path := filepath.Join(dir, filepath.FromSlash(names[i]))
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, parts[i]) {
			t.Errorf("part %d: stored file differs from the served one", i+1)
		}
		if p.File != names[i] || p.Local != "hf.co/o/big/"+names[i] || p.SHA256 != hexSHA(parts[i]) ||
			p.Size != int64(len(parts[i])) || !p.Verified {
			t.Errorf("part %d: %+v", i+1, p)
		}
		if _, err := os.Stat(path + ".partial"); !os.IsNotExist(err) {
			t.Errorf("part %d: partial file left behind: %v", i+1, err)
		}
	}
}

func TestPullSplit(t *testing.T) {
	f := newFixture(t)
	names, parts := splitFixture(t, f)
	var files []string
	f.c.Progress = func(p Progress) {
		if len(files) == 0 || files[len(files)-1] != p.File {
			files = append(files, p.File)
		}
	}
	m, fetched, err := f.c.Pull(context.Background(), f.store, "hf.co/o/big")
	if err != nil {
		t.Fatal(err)
	}
	if !fetched || m.Name != "o/big:Q4_K_M" || m.Quant != "Q4_K_M" || m.Commit != f.srv.Commit("o/big") ||
		m.Source != f.srv.URL()+"/o/big/resolve/main/"+names[0] {
		t.Errorf("pull: fetched %v, manifest %+v", fetched, m)
	}
	checkSplit(t, f, m, names, parts)
	if fmt.Sprint(files) != fmt.Sprint(names) {
		t.Errorf("progress named %q, want the parts in order", files)
	}

	// Listed once, found by name.
	list, err := f.store.List()
	if err != nil || len(list) != 1 || list[0].Name != "o/big:Q4_K_M" || list[0].Size != m.Size {
		t.Fatalf("List = %+v, %v", list, err)
	}
	for _, name := range []string{"o/big", "o/big:q4_k_m", "o/big:Big-Q4_K_M", "https://huggingface.co/o/big/resolve/main/" + names[1]} {
		got, err := f.store.Lookup(name)
		if err != nil || got.Path != m.Path {
			t.Errorf("Lookup(%q) = %+v, %v", name, got, err)
		}
	}

	// Pulled again, it is up to date.
	n := len(f.srv.Requests())
	m2, fetched, err := f.c.Pull(context.Background(), f.store, "o/big:Q4_K_M")
	if err != nil || fetched || m2.Size != m.Size {
		t.Fatalf("second pull: fetched %v, %v", fetched, err)
	}
	if gets := f.cdnGets(n); len(gets) != 0 {
		t.Errorf("an up-to-date pull downloaded: %+v", gets)
	}

	// One part changes upstream: only that part is fetched again.
	parts[1] = content(160_000, 15)
	f.srv.AddFile("o/big", names[1], parts[1])
	n = len(f.srv.Requests())
	m3, fetched, err := f.c.Pull(context.Background(), f.store, "o/big")
	if err != nil || !fetched {
		t.Fatalf("pull after a change: fetched %v, %v", fetched, err)
	}
	checkSplit(t, f, m3, names, parts)
	if gets := f.cdnGets(n); len(gets) != 1 || !strings.Contains(gets[0].Path, hexSHA(parts[1])) {
		t.Errorf("pull after part 2 changed fetched %+v, want part 2 alone", gets)
	}
}

func TestPullSplitResumes(t *testing.T) {
	f := newFixture(t)
	names, parts := splitFixture(t, f)
	// The first part arrives whole, the second is cut off part way.
	f.srv.CutAfter(-1, 70_000)
	_, _, err := f.c.Pull(context.Background(), f.store, "o/big")
	if err == nil {
		t.Fatal("a cut connection with no retries succeeded")
	}
	if list, _ := f.store.List(); len(list) != 0 {
		t.Errorf("a model missing a part is listed: %+v", list)
	}
	dir := filepath.Join(f.store.Dir(), "models", "hf.co", "o", "big")
	if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(names[1])) + ".partial"); err != nil || fi.Size() != 70_000 {
		t.Fatalf("part 2's partial file: %v, %v", fi, err)
	}

	n := len(f.srv.Requests())
	m, fetched, err := f.c.Pull(context.Background(), f.store, "o/big")
	if err != nil || !fetched {
		t.Fatalf("resumed pull: %v, %v", fetched, err)
	}
	checkSplit(t, f, m, names, parts)
	gets := f.cdnGets(n)
	if len(gets) != 2 || gets[0].Range != "bytes=70000-" || gets[0].Status != 206 || gets[1].Range != "" {
		t.Errorf("resumed pull asked %+v; want part 2 from byte 70000 and part 3 whole, and not part 1 again", gets)
	}
}

func TestPullSplitChecksum(t *testing.T) {
	f := newFixture(t)
	names, _ := splitFixture(t, f)
	f.srv.SetCorrupt(true)
	_, _, err := f.c.Pull(context.Background(), f.store, "o/big")
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), names[0]) {
		t.Fatalf("corrupt download: %v, want ErrChecksum naming the part", err)
	}
	if list, _ := f.store.List(); len(list) != 0 {
		t.Errorf("store lists %+v after a failed pull", list)
	}
}

func TestPullSplitMissingPart(t *testing.T) {
	f := newFixture(t)
	f.srv.AddFile("o/big", "big-Q4_K_M-00001-of-00003.gguf", []byte("a"))
	f.srv.AddFile("o/big", "big-Q4_K_M-00003-of-00003.gguf", []byte("c"))
	_, _, err := f.c.Pull(context.Background(), f.store, "o/big")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "big-Q4_K_M-00002-of-00003.gguf") {
		t.Errorf("split model without part 2: %v, want ErrNotFound naming it", err)
	}
	// Named by a file URL, the missing part is found missing on the Hub.
	_, _, err = f.c.Pull(context.Background(), f.store, f.srv.URL()+"/o/big/resolve/main/big-Q4_K_M-00001-of-00003.gguf")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "big-Q4_K_M-00002-of-00003.gguf") {
		t.Errorf("file URL of a split model without part 2: %v, want ErrNotFound naming it", err)
	}
}

func TestPullSplitFileURL(t *testing.T) {
	f := newFixture(t)
	names, parts := splitFixture(t, f)
	// A URL to any part pulls the whole model.
	m, _, err := f.c.Pull(context.Background(), f.store, f.srv.URL()+"/o/big/resolve/main/"+names[2])
	if err != nil {
		t.Fatal(err)
	}
	checkSplit(t, f, m, names, parts)
	if m.Name != "o/big:Q4_K_M" || m.Source != f.srv.URL()+"/o/big/resolve/main/"+names[0] {
		t.Errorf("manifest %+v", m)
	}
}

func TestPullSplitURL(t *testing.T) {
	f := newFixture(t)
	var urls []string
	var parts [][]byte
	for i := range 2 {
		parts = append(parts, content(50_000+i, uint64(20+i)))
		urls = append(urls, f.srv.AddStatic(gguf.SplitPath("files/tiny-Q8_0", i, 2), parts[i]))
	}
	m, _, err := f.c.Pull(context.Background(), f.store, urls[0])
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(f.srv.CDN.URL, "http://")
	if m.Name != host+"/static/files/tiny-Q8_0-00001-of-00002.gguf" || m.Quant != "Q8_0" || len(m.Parts) != 2 ||
		m.Size != int64(len(parts[0])+len(parts[1])) || m.Parts[1].File != "tiny-Q8_0-00002-of-00002.gguf" {
		t.Fatalf("manifest %+v", m)
	}
	for i, p := range m.Parts {
		got, err := os.ReadFile(filepath.Join(f.store.Dir(), "models", filepath.FromSlash(p.Local)))
		if err != nil || !bytes.Equal(got, parts[i]) {
			t.Errorf("part %d: stored %d bytes, %v", i+1, len(got), err)
		}
	}
}

// A split GGUF model pulled from the Hub opens whole by the path Resolve
// gives.
func TestPullSplitOpens(t *testing.T) {
	w := gguf.NewWriter()
	w.Set("general.architecture", "llama")
	for i := range 5 {
		data := make([]byte, 4*64)
		for j := range data {
			data[j] = byte(i + j)
		}
		if err := w.AddTensor(fmt.Sprintf("t%d", i), tensor.F32, []uint64{64}, data); err != nil {
			t.Fatal(err)
		}
	}
	paths, err := w.WriteSplit(filepath.Join(t.TempDir(), "model-Q8_0"), gguf.SplitOptions{MaxTensors: 2})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f.srv.AddFile("o/gguf", "Q8_0/"+filepath.Base(p), data)
	}
	t.Setenv("JOULE_HOME", f.store.Dir())
	if _, _, err := f.c.Pull(context.Background(), f.store, "o/gguf:Q8_0"); err != nil {
		t.Fatal(err)
	}
	p, err := Resolve("hf.co/o/gguf:Q8_0")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p) != "model-Q8_0-00001-of-00003.gguf" {
		t.Errorf("Resolve = %s, want the first part", p)
	}
	g, err := gguf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if len(g.Tensors) != 5 || len(g.Paths()) != 3 {
		t.Fatalf("opened %d tensors from %v", len(g.Tensors), g.Paths())
	}
	t4, _ := g.Tensor("t4")
	if d := g.TensorData(t4); d[0] != 4 || d[255] != byte((4+255)%256) {
		t.Errorf("t4 starts %d, ends %d", d[0], d[255])
	}
}

func TestListSplitPartMissing(t *testing.T) {
	f := newFixture(t)
	names, _ := splitFixture(t, f)
	if _, _, err := f.c.Pull(context.Background(), f.store, "o/big"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(f.store.Dir(), "models", "hf.co", "o", "big", filepath.FromSlash(names[2]))); err != nil {
		t.Fatal(err)
	}
	if list, err := f.store.List(); err != nil || len(list) != 0 {
		t.Errorf("a split model missing its last part is listed: %+v, %v", list, err)
	}
	// Pulling again brings back the part that is gone, and only it.
	n := len(f.srv.Requests())
	if _, _, err := f.c.Pull(context.Background(), f.store, "o/big"); err != nil {
		t.Fatal(err)
	}
	if gets := f.cdnGets(n); len(gets) != 1 {
		t.Errorf("re-pull fetched %+v, want the missing part alone", gets)
	}
}
