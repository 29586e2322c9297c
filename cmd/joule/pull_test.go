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

	"github.com/joule-llm/joule/hub"
	"github.com/joule-llm/joule/hub/hubtest"
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
