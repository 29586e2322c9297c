package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestRunMatchesLlamaCpp runs `joule run` greedily on the shared model and
// requires exactly the text llama.cpp printed for the same prompts
// (testdata/llamacpp/greedy.json; its README says how it was made).
func TestRunMatchesLlamaCpp(t *testing.T) {
	modelPath := filepath.Join("..", "..", "..", "shared", "models", "stories260K.gguf")
	if _, err := os.Stat(modelPath); err != nil {
		t.Skipf("stories260K.gguf not present (needs ../shared beside the repository): %v", err)
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "llamacpp", "greedy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Runs []struct {
			Prompt string
			N      int
			Text   string
		}
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Runs) == 0 {
		t.Fatal("no runs in greedy.json")
	}
	for _, r := range ref.Runs {
		t.Run(r.Prompt, func(t *testing.T) {
			args := []string{"run", "-m", modelPath, "--temp", "0", "-n", strconv.Itoa(r.N), "--ctx", "512", "-t", "2"}
			// An empty prompt is BOS alone, as in llama.cpp.
			args = append(args, r.Prompt)
			out, _, err := joule(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			if out != r.Text {
				t.Errorf("joule run differs from llama.cpp\n joule: %q\n llama: %q", out, r.Text)
			}
		})
	}
}
