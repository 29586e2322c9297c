package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/hub"
	"github.com/joule-llm/joule/hub/hubtest"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

// fakeHub starts a fake Hugging Face Hub with the repository o/r, and
// points HF_ENDPOINT and JOULE_HOME at it and at an empty store.
func fakeHub(t *testing.T) (*hubtest.Server, string) {
	t.Helper()
	srv := hubtest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddFile("o/r", "m-Q4_K_M.gguf", bytes.Repeat([]byte("q4"), 40_000))
	srv.AddFile("o/r", "m-Q8_0.gguf", bytes.Repeat([]byte("q8"), 70_000))
	home := t.TempDir()
	t.Setenv("HF_ENDPOINT", srv.URL())
	t.Setenv("HF_TOKEN", "")
	t.Setenv("JOULE_HOME", home)
	return srv, home
}

// runCmd runs a command in-process; stderr is a buffer, so pull shows
// progress as lines rather than a bar.
func runCmd(cmd *cobra.Command, args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return stdout.String(), stderr.String(), err
}

func runPull(t *testing.T, args ...string) (string, string, error) {
	return runCmd(newPullCmd(), args...)
}

func runLs(t *testing.T, args ...string) (string, error) {
	out, _, err := runCmd(newLsCmd(), args...)
	return out, err
}

func TestPullAndLs(t *testing.T) {
	srv, home := fakeHub(t)
	out, _ := runLs(t)
	if strings.TrimSpace(out) != "NAME   SIZE   QUANT   MODIFIED" {
		t.Errorf("ls of an empty store: %q", out)
	}

	srv.CutAfter(1000)
	_, errOut, err := runPull(t, "hf.co/o/r")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "downloading m-Q4_K_M.gguf (78.1 KiB)") || !strings.Contains(errOut, "resuming m-Q4_K_M.gguf at 1000 B of 78.1 KiB") {
		t.Errorf("progress lines: %q", errOut)
	}

	out, _, err = runPull(t, "-q", "huggingface.co/o/r:q8_0")
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(home, "models", "hf.co", "o", "r", "m-Q8_0.gguf")
	if !strings.Contains(out, "o/r:Q8_0: pulled (m-Q8_0.gguf, 136.7 KiB, SHA-256 verified)") || !strings.Contains(out, "stored at "+want) {
		t.Errorf("pull output: %q", out)
	}
	out, errOut, err = runPull(t, "o/r:Q8_0")
	if err != nil || !strings.Contains(out, "o/r:Q8_0: up to date") || errOut != "" {
		t.Errorf("second pull: %q, %q, %v", out, errOut, err)
	}

	out, err = runLs(t, "--paths")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	row := regexp.MustCompile(`^(\S+)\s+(\d+\.\d KiB)\s+(\S+)\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+(\S+)$`)
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") {
		t.Fatalf("ls output:\n%s", out)
	}
	for i, w := range [][]string{{"o/r:Q4_K_M", "78.1 KiB", "Q4_K_M"}, {"o/r:Q8_0", "136.7 KiB", "Q8_0", want}} {
		m := row.FindStringSubmatch(lines[i+1])
		if m == nil || m[1] != w[0] || m[2] != w[1] || m[3] != w[2] || len(w) > 3 && m[4] != w[3] {
			t.Errorf("ls row %d: %q, want %q", i+1, lines[i+1], w)
		}
	}

	// What was pulled is what run and serve get by name.
	if p, err := hub.Resolve("o/r:Q8_0"); err != nil || p != want {
		t.Errorf("Resolve = %q, %v; want %q", p, err, want)
	}
}

func TestPullErrors(t *testing.T) {
	srv, _ := fakeHub(t)
	srv.Gate("o/r", "tok")
	_, _, err := runPull(t, "o/r")
	if !errors.Is(err, hub.ErrUnauthorized) || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Errorf("gated without a token: %v", err)
	}
	t.Setenv("HF_TOKEN", "tok")
	if _, _, err := runPull(t, "-q", "o/r"); err != nil {
		t.Errorf("gated with the token: %v", err)
	}
	if _, _, err := runPull(t, "o/none"); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("missing repository: %v", err)
	}
	if _, _, err := runPull(t, "not a model"); err == nil {
		t.Error("a bad name was accepted")
	}
	if _, _, err := runPull(t); err == nil {
		t.Error("pull with no argument succeeded")
	}
}

func TestPullNoStore(t *testing.T) {
	_, home := fakeHub(t)
	// A store folder that cannot be created.
	blocker := filepath.Join(home, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JOULE_HOME", blocker)
	if _, _, err := runPull(t, "-q", "o/r"); err == nil {
		t.Error("pull into a store under a plain file succeeded")
	}
}

// A model split into three parts, in a folder of the repository, is
// pulled whole, listed once and loads from its name.
func TestPullSplitAndLs(t *testing.T) {
	srv, home := fakeHub(t)
	var buf bytes.Buffer
	if err := llamatest.WriteRandomLlama(&buf, llamatest.RandomConfig{Type: tensor.Q8_0}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	w, err := gguf.NewWriterFrom(f)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := w.WriteSplit(filepath.Join(t.TempDir(), "m-Q8_0"), gguf.SplitOptions{MaxTensors: (len(f.Tensors) + 2) / 3})
	if err != nil || len(parts) != 3 {
		t.Fatalf("split into %v, %v", parts, err)
	}
	var total int64
	for _, p := range parts {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		total += int64(len(data))
		srv.AddFile("o/split", "Q8_0/"+filepath.Base(p), data)
	}

	_, errOut, err := runPull(t, "hf.co/o/split:Q8_0")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if !strings.Contains(errOut, "downloading Q8_0/"+filepath.Base(p)) {
			t.Errorf("progress lines do not name %s: %q", filepath.Base(p), errOut)
		}
	}
	out, _, err := runPull(t, "o/split:q8_0")
	want := "o/split:Q8_0: up to date (Q8_0/m-Q8_0-00001-of-00003.gguf and 2 more parts, " + humanBytes(uint64(total)) + ", SHA-256 verified)"
	if err != nil || !strings.Contains(out, want) {
		t.Errorf("second pull: %q, %v; want %q", out, err, want)
	}

	out, err = runLs(t, "--paths")
	if err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(home, "models", "hf.co", "o", "split", "Q8_0", "m-Q8_0-00001-of-00003.gguf")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	row := regexp.MustCompile(`^(\S+)\s+(\d+\.\d KiB)\s+(\S+)\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+(\S+)$`)
	if len(lines) != 2 {
		t.Fatalf("ls lists a split model as %d rows:\n%s", len(lines)-1, out)
	}
	if m := row.FindStringSubmatch(lines[1]); m == nil || m[1] != "o/split:Q8_0" || m[2] != humanBytes(uint64(total)) || m[3] != "Q8_0" || m[4] != first {
		t.Errorf("ls row %q, want o/split:Q8_0, %s, Q8_0, %s", lines[1], humanBytes(uint64(total)), first)
	}

	g, m, _, err := loadModel("o/split:Q8_0")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if len(g.Paths()) != 3 || len(g.Tensors) != len(f.Tensors) || m.Config.BlockCount != 2 {
		t.Errorf("loaded %d tensors from %v, %d blocks", len(g.Tensors), g.Paths(), m.Config.BlockCount)
	}
}

func TestPullBarParts(t *testing.T) {
	var buf bytes.Buffer
	b := &pullBar{w: &buf, tty: true}
	for _, name := range []string{"m-00001-of-00002.gguf", "m-00002-of-00002.gguf"} {
		b.update(hub.Progress{File: name, Done: 0, Total: 1 << 20})
		b.update(hub.Progress{File: name, Done: 1 << 20, Total: 1 << 20})
	}
	b.done(true)
	out := buf.String()
	if !strings.Contains(out, "m-00001-of-00002.gguf") || !strings.Contains(out, "m-00002-of-00002.gguf") || strings.Count(out, "\n") < 2 {
		t.Errorf("progress bars for two parts: %q", out)
	}
}

func TestPullBar(t *testing.T) {
	var buf bytes.Buffer
	b := &pullBar{w: &buf, tty: true}
	b.update(hub.Progress{File: "m.gguf", Done: 0, Total: 4 << 20})
	b.update(hub.Progress{File: "m.gguf", Done: 1 << 20, Total: 4 << 20})
	b.update(hub.Progress{File: "m.gguf", Done: 4 << 20, Total: 4 << 20})
	b.done(true)
	out := buf.String()
	if !strings.Contains(out, "m.gguf") || !strings.Contains(out, "100%") || !strings.HasSuffix(out, "\n") {
		t.Errorf("progress bar output: %q", out)
	}
	if isTerminal(&buf) {
		t.Error("a buffer taken for a terminal")
	}
}
