package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joule-llm/joule/hub/hubtest"
)

// content is deterministic pseudo-random file content.
func content(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func hexSHA(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// fixture is a fake Hub with one repository, o/r, and a client and store
// pointed at it.
type fixture struct {
	srv   *hubtest.Server
	c     *Client
	store *Store
	q4    []byte // o/r's m-Q4_K_M.gguf
	q8    []byte // o/r's m-Q8_0.gguf
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := hubtest.NewServer()
	t.Cleanup(srv.Close)
	f := &fixture{
		srv:   srv,
		c:     &Client{Endpoint: srv.URL(), RetryWait: time.Millisecond, IdleTimeout: 10 * time.Second},
		store: NewStore(t.TempDir()),
		q4:    content(300_000, 1),
		q8:    content(500_000, 2),
	}
	srv.AddFile("o/r", "README.md", []byte("# a model\n"))
	srv.AddFile("o/r", "m-Q8_0.gguf", f.q8)
	srv.AddFile("o/r", "m-Q4_K_M.gguf", f.q4)
	return f
}

// cdnGets returns the CDN's GET requests since the n-th request.
func (f *fixture) cdnGets(from int) []hubtest.Request {
	var out []hubtest.Request
	for _, r := range f.srv.Requests()[from:] {
		if r.Server == "cdn" && r.Method == "GET" {
			out = append(out, r)
		}
	}
	return out
}

// checkStored checks that the model file holds want and no partial file is left.
func checkStored(t *testing.T, m *Manifest, want []byte) {
	t.Helper()
	got, err := os.ReadFile(m.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("stored file differs from the served one (%d bytes, want %d)", len(got), len(want))
	}
	if m.SHA256 != hexSHA(want) || m.Size != int64(len(want)) {
		t.Errorf("manifest says sha256 %s size %d, want %s %d", m.SHA256, m.Size, hexSHA(want), len(want))
	}
	if _, err := os.Stat(m.Path + ".partial"); !os.IsNotExist(err) {
		t.Errorf("partial file left behind: %v", err)
	}
}

func TestPullRepo(t *testing.T) {
	f := newFixture(t)
	var events []Progress
	f.c.Progress = func(p Progress) { events = append(events, p) }
	m, fetched, err := f.c.Pull(context.Background(), f.store, "hf.co/o/r")
	if err != nil {
		t.Fatal(err)
	}
	if !fetched {
		t.Error("first pull reports nothing fetched")
	}
	checkStored(t, m, f.q4)
	if m.Name != "o/r:Q4_K_M" || m.Repo != "o/r" || m.File != "m-Q4_K_M.gguf" || m.Quant != "Q4_K_M" ||
		!m.Verified || m.Commit != f.srv.Commit("o/r") || m.Source != f.srv.URL()+"/o/r/resolve/main/m-Q4_K_M.gguf" {
		t.Errorf("manifest %+v", m)
	}
	if want := filepath.Join(f.store.Dir(), "models", "hf.co", "o", "r", "m-Q4_K_M.gguf"); m.Path != want {
		t.Errorf("stored at %s, want %s", m.Path, want)
	}
	if len(events) == 0 || events[len(events)-1].Done != int64(len(f.q4)) || events[len(events)-1].Total != int64(len(f.q4)) {
		t.Errorf("progress events end with %+v", events[len(events)-1:])
	}
	for i := 1; i < len(events); i++ {
		if events[i].Done < events[i-1].Done {
			t.Fatalf("progress went backwards: %+v then %+v", events[i-1], events[i])
		}
	}

	list, err := f.store.List()
	if err != nil || len(list) != 1 || list[0].Name != "o/r:Q4_K_M" || list[0].Path != m.Path {
		t.Fatalf("List = %+v, %v", list, err)
	}

	// Pulled again, it is up to date: nothing comes from the CDN.
	n := len(f.srv.Requests())
	m2, fetched, err := f.c.Pull(context.Background(), f.store, "o/r:q4_k_m")
	if err != nil || fetched || m2.SHA256 != m.SHA256 {
		t.Fatalf("second pull: fetched %v, %v", fetched, err)
	}
	if gets := f.cdnGets(n); len(gets) != 0 {
		t.Errorf("an up-to-date pull downloaded: %+v", gets)
	}

	// Another tag, case-insensitively, through the other host name.
	m8, _, err := f.c.Pull(context.Background(), f.store, "huggingface.co/o/r:q8_0")
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, m8, f.q8)
	if m8.Name != "o/r:Q8_0" {
		t.Errorf("name %q, want o/r:Q8_0", m8.Name)
	}
}

func TestPullResumesAfterCut(t *testing.T) {
	f := newFixture(t)
	half := int64(len(f.q4) / 2)
	f.srv.CutAfter(half)
	_, _, err := f.c.Pull(context.Background(), f.store, "o/r")
	if err == nil {
		t.Fatal("a cut connection with no retries succeeded")
	}
	dest := filepath.Join(f.store.Dir(), "models", "hf.co", "o", "r", "m-Q4_K_M.gguf")
	fi, err := os.Stat(dest + ".partial")
	if err != nil || fi.Size() != half {
		t.Fatalf("partial file after the cut: %v, %v; want %d bytes", fi, err, half)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatalf("an incomplete file was stored: %v", err)
	}

	var first Progress
	f.c.Progress = func(p Progress) {
		if first.Done == 0 {
			first = p
		}
	}
	n := len(f.srv.Requests())
	m, fetched, err := f.c.Pull(context.Background(), f.store, "o/r")
	if err != nil || !fetched {
		t.Fatalf("resumed pull: %v, %v", fetched, err)
	}
	checkStored(t, m, f.q4)
	gets := f.cdnGets(n)
	if len(gets) != 1 || gets[0].Range != fmt.Sprintf("bytes=%d-", half) || gets[0].Status != 206 {
		t.Errorf("resume requests %+v, want one 206 for bytes=%d-", gets, half)
	}
	if first.Resumed != half {
		t.Errorf("first progress event %+v, want Resumed %d", first, half)
	}
}

func TestPullRetries(t *testing.T) {
	f := newFixture(t)
	f.c.Retries = 3
	f.srv.CutAfter(1000, 50_000)
	m, _, err := f.c.Pull(context.Background(), f.store, "o/r")
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, m, f.q4)
	var ranges []string
	for _, r := range f.cdnGets(0) {
		ranges = append(ranges, r.Range)
	}
	if want := []string{"", "bytes=1000-", "bytes=51000-"}; fmt.Sprint(ranges) != fmt.Sprint(want) {
		t.Errorf("ranges asked %q, want %q", ranges, want)
	}
}

func TestPullRetriesStall(t *testing.T) {
	f := newFixture(t)
	f.c.Retries = 1
	f.c.IdleTimeout = 200 * time.Millisecond
	f.srv.StallAfter(2000)
	start := time.Now()
	m, _, err := f.c.Pull(context.Background(), f.store, "o/r")
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, m, f.q4)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a stall took %v to notice", d)
	}
	if gets := f.cdnGets(0); len(gets) != 2 || gets[1].Range != "bytes=2000-" {
		t.Errorf("requests %+v, want a retry from byte 2000", gets)
	}
}

func TestPullChecksumMismatch(t *testing.T) {
	f := newFixture(t)
	f.srv.SetCorrupt(true)
	_, _, err := f.c.Pull(context.Background(), f.store, "o/r")
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("corrupt download: %v, want ErrChecksum", err)
	}
	dest := filepath.Join(f.store.Dir(), "models", "hf.co", "o", "r", "m-Q4_K_M.gguf")
	for _, p := range []string{dest, dest + ".partial"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left after a checksum mismatch: %v", p, err)
		}
	}
	if list, _ := f.store.List(); len(list) != 0 {
		t.Errorf("store lists %+v after a failed pull", list)
	}
}

// writePartial leaves a partial download of o/r's Q4_K_M file.
func writePartial(t *testing.T, f *fixture, data []byte) string {
	t.Helper()
	dest := filepath.Join(f.store.Dir(), "models", "hf.co", "o", "r", "m-Q4_K_M.gguf")
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dest+".partial", data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dest
}

func TestPullPartialCases(t *testing.T) {
	for _, tc := range []struct {
		name        string
		partial     func(q4 []byte) []byte
		ignoreRange bool
		ranges      []string // of the CDN's GETs
		statuses    []int
	}{
		{"complete partial gets 416", func(q4 []byte) []byte { return q4 },
			false, []string{fmt.Sprintf("bytes=%d-", 300_000)}, []int{416}},
		{"server ignores the range", func(q4 []byte) []byte { return q4[:1234] },
			true, []string{"bytes=1234-"}, []int{200}},
		{"partial longer than the file", func(q4 []byte) []byte { return append(bytes.Clone(q4), 1, 2, 3) },
			false, []string{""}, []int{200}},
		{"partial of another file is refetched whole", func([]byte) []byte { return content(1000, 99) },
			false, []string{"bytes=1000-", ""}, []int{206, 200}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			writePartial(t, f, tc.partial(f.q4))
			f.srv.SetIgnoreRange(tc.ignoreRange)
			m, _, err := f.c.Pull(context.Background(), f.store, "o/r")
			if err != nil {
				t.Fatal(err)
			}
			checkStored(t, m, f.q4)
			var ranges []string
			var statuses []int
			for _, r := range f.cdnGets(0) {
				ranges = append(ranges, r.Range)
				statuses = append(statuses, r.Status)
			}
			if fmt.Sprint(ranges) != fmt.Sprint(tc.ranges) || fmt.Sprint(statuses) != fmt.Sprint(tc.statuses) {
				t.Errorf("CDN saw ranges %q answered %v, want %q answered %v", ranges, statuses, tc.ranges, tc.statuses)
			}
		})
	}
}

func TestPullCompleteFileWithoutManifest(t *testing.T) {
	f := newFixture(t)
	dest := writePartial(t, f, nil)
	if err := os.WriteFile(dest, f.q4, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(dest + ".partial")
	m, fetched, err := f.c.Pull(context.Background(), f.store, "o/r")
	if err != nil || fetched || !m.Verified {
		t.Fatalf("pull over a complete file: fetched %v, verified %v, %v", fetched, m != nil && m.Verified, err)
	}
	if gets := f.cdnGets(0); len(gets) != 0 {
		t.Errorf("downloaded a file already there: %+v", gets)
	}
}

func TestPullGated(t *testing.T) {
	f := newFixture(t)
	f.srv.Gate("o/r", "secret")
	for _, token := range []string{"", "wrong"} {
		f.c.Token = token
		_, _, err := f.c.Pull(context.Background(), f.store, "o/r")
		if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "HF_TOKEN") {
			t.Errorf("token %q: %v, want ErrUnauthorized mentioning HF_TOKEN", token, err)
		}
	}
	f.c.Token = "secret"
	n := len(f.srv.Requests())
	m, _, err := f.c.Pull(context.Background(), f.store, "o/r")
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, m, f.q4)
	hub, cdn := 0, 0
	for _, r := range f.srv.Requests()[n:] {
		switch {
		case r.Server == "hub" && r.Authorization == "Bearer secret":
			hub++
		case r.Server == "hub":
			t.Errorf("hub request without the token: %+v", r)
		case r.Authorization != "":
			t.Errorf("the token reached the CDN: %+v", r)
		default:
			cdn++
		}
	}
	if hub < 2 || cdn != 1 {
		t.Errorf("%d hub requests with the token, %d CDN requests; want the listing and the resolve, and one download", hub, cdn)
	}
}

func TestPullNotFound(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{
		"o/missing",
		"o/r:Q5_K_M",
		f.srv.URL() + "/o/r/resolve/main/missing.gguf",
		f.srv.CDN.URL + "/static/missing.gguf",
	} {
		_, _, err := f.c.Pull(context.Background(), f.store, name)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
	_, _, err := f.c.Pull(context.Background(), f.store, "o/r:Q5_K_M")
	if err == nil || !strings.Contains(err.Error(), "Q4_K_M, Q8_0") {
		t.Errorf("a missing tag's error should list the tags there are: %v", err)
	}
}

func TestPullOffline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &Client{Endpoint: "http://" + addr, Retries: 5, RetryWait: time.Second}
	for _, name := range []string{"o/r", "http://" + addr + "/x/model.gguf"} {
		start := time.Now()
		_, _, err := c.Pull(context.Background(), NewStore(t.TempDir()), name)
		if !errors.Is(err, ErrOffline) || !strings.Contains(err.Error(), "offline") {
			t.Errorf("%s: %v, want ErrOffline", name, err)
		}
		if d := time.Since(start); d > 900*time.Millisecond {
			t.Errorf("%s: took %v; an unreachable server should fail at once, not after retries", name, d)
		}
	}
}

func TestPullURL(t *testing.T) {
	f := newFixture(t)
	data := content(70_000, 5)
	u := f.srv.AddStatic("files/tiny-Q8_0.gguf", data)
	f.srv.CutAfter(10_000)
	f.c.Retries = 1
	m, _, err := f.c.Pull(context.Background(), f.store, u)
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, m, data)
	host := strings.TrimPrefix(f.srv.CDN.URL, "http://")
	if m.Name != host+"/static/files/tiny-Q8_0.gguf" || m.Quant != "Q8_0" || m.Verified || m.Source != u {
		t.Errorf("manifest %+v", m)
	}
	got, err := f.store.Lookup(m.Name)
	if err != nil || got.Path != m.Path {
		t.Errorf("Lookup(%q) = %+v, %v", m.Name, got, err)
	}
}

func TestPullFileURL(t *testing.T) {
	f := newFixture(t)
	m, _, err := f.c.Pull(context.Background(), f.store, f.srv.URL()+"/o/r/resolve/main/m-Q8_0.gguf")
	if err != nil {
		t.Fatal(err)
	}
	checkStored(t, m, f.q8)
	if m.Name != "o/r:Q8_0" || !m.Verified || m.Commit != f.srv.Commit("o/r") {
		t.Errorf("manifest %+v", m)
	}
	// The README is not in LFS: its ETag is a git blob id, not a SHA-256.
	if _, _, err := f.c.Pull(context.Background(), f.store, f.srv.URL()+"/o/r/resolve/main/README.md"); err == nil {
		t.Error("pulled a file that is not GGUF")
	}
}

func TestPullCanceled(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	f.c.Retries = 5
	f.c.Progress = func(p Progress) {
		if p.Done > 0 {
			cancel()
		}
	}
	f.srv.StallAfter(5000)
	_, _, err := f.c.Pull(ctx, f.store, "o/r")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled pull: %v", err)
	}
	dest := filepath.Join(f.store.Dir(), "models", "hf.co", "o", "r", "m-Q4_K_M.gguf")
	if fi, err := os.Stat(dest + ".partial"); err != nil || fi.Size() == 0 {
		t.Errorf("a canceled pull should keep its partial file: %v, %v", fi, err)
	}
}

func TestNewClient(t *testing.T) {
	t.Setenv("HF_ENDPOINT", "http://mirror.example:8080/")
	t.Setenv("HF_TOKEN", "hf_abc")
	c := NewClient()
	if c.Endpoint != "http://mirror.example:8080" || c.Token != "hf_abc" || c.Retries == 0 {
		t.Errorf("NewClient() = %+v", c)
	}
	t.Setenv("HF_ENDPOINT", "")
	if c := NewClient(); c.Endpoint != DefaultEndpoint {
		t.Errorf("default endpoint %q", c.Endpoint)
	}
}
