package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joule-llm/joule/gguf"
)

// runTemplateCmd runs the template command with args and stdin.
func runTemplateCmd(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := newTemplateCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SilenceUsage = true
	err := cmd.Execute()
	return out.String(), err
}

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const templateMessages = `[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]`

func TestTemplateGGUF(t *testing.T) {
	dir := t.TempDir()
	w := gguf.NewWriter()
	src := "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}\n{% endfor %}" +
		"{% if tools %}{{ tools|tojson }}\n{% endif %}{% if add_generation_prompt %}[assistant]{% endif %}{{ flavor }}"
	for k, v := range map[string]any{
		"tokenizer.chat_template":     src,
		"tokenizer.ggml.tokens":       []string{"<unk>", "<s>", "</s>"},
		"tokenizer.ggml.bos_token_id": uint32(1),
		"tokenizer.ggml.eos_token_id": uint32(2),
	} {
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	model := filepath.Join(dir, "m.gguf")
	if err := w.WriteFile(model); err != nil {
		t.Fatal(err)
	}
	msgs := writeFile(t, dir, "msgs.json", templateMessages)
	tools := writeFile(t, dir, "tools.json", `[{"type": "function", "function": {"name": "f", "parameters": {}}}]`)

	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"plain", "", []string{"-m", model, "--messages", msgs},
			"<s>[system] Be brief.</s>\n[user] Hi</s>\n"},
		{"generation prompt and kwargs", "", []string{"-m", model, "--messages", msgs, "--add-generation-prompt", "--kwargs", `{"flavor": "!"}`},
			"<s>[system] Be brief.</s>\n[user] Hi</s>\n[assistant]!"},
		{"tools keep key order", "", []string{"-m", model, "--messages", msgs, "--tools", tools},
			"<s>[system] Be brief.</s>\n[user] Hi</s>\n" + `[{"type": "function", "function": {"name": "f", "parameters": {}}}]` + "\n"},
		{"stdin", `[{"role": "user", "content": "x"}]`, []string{"-m", model, "--messages", "-"},
			"<s>[user] x</s>\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := runTemplateCmd(t, tt.stdin, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestTemplateHFDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "tokenizer_config.json",
		`{"bos_token": {"content": "<B>", "__type": "AddedToken"}, "eos_token": "<E>", "chat_template": "{{ bos_token }}{{ messages|length }}{{ eos_token }}"}`)
	msgs := writeFile(t, dir, "msgs.json", templateMessages)
	for _, hf := range []string{dir, filepath.Join(dir, "tokenizer_config.json")} {
		got, err := runTemplateCmd(t, "", "--hf", hf, "--messages", msgs)
		if err != nil || got != "<B>2<E>" {
			t.Fatalf("--hf %s: got %q, %v", hf, got, err)
		}
	}
	// chat_template.jinja takes precedence over the config's template.
	writeFile(t, dir, "chat_template.jinja", "{{ eos_token }}{{ messages[1].content }}\n")
	got, err := runTemplateCmd(t, "", "--hf", dir, "--messages", msgs)
	if err != nil || got != "<E>Hi" {
		t.Fatalf("with chat_template.jinja: got %q, %v", got, err)
	}
}

// TestTemplateSharedQwen3 renders through the CLI with the real Qwen3
// tokenizer config and compares with Python's rendering in testdata/chat.
func TestTemplateSharedQwen3(t *testing.T) {
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(root) == root {
			t.Fatal("go.mod not found")
		}
		root = filepath.Dir(root)
	}
	hf := filepath.Join(root, "..", "shared", "tokenizers", "qwen3")
	if _, err := os.Stat(filepath.Join(hf, "tokenizer_config.json")); err != nil {
		t.Skipf("shared tokenizers not available: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(root, "testdata", "chat", "qwen3.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []struct {
			Name                string            `json:"name"`
			Messages            json.RawMessage   `json:"messages"`
			Tools               []json.RawMessage `json:"tools"`
			AddGenerationPrompt bool              `json:"add_generation_prompt"`
			Kwargs              json.RawMessage   `json:"kwargs"`
			Want                *string           `json:"want"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	checked := 0
	for _, c := range ref.Cases {
		if c.Want == nil {
			continue
		}
		args := []string{"--hf", hf, "--messages", writeFile(t, dir, "m.json", string(c.Messages)), "--kwargs", string(c.Kwargs)}
		if c.AddGenerationPrompt {
			args = append(args, "--add-generation-prompt")
		}
		if c.Tools != nil {
			tools, _ := json.Marshal(c.Tools)
			args = append(args, "--tools", writeFile(t, dir, "t.json", string(tools)))
		}
		got, err := runTemplateCmd(t, "", args...)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if got != *c.Want {
			t.Fatalf("%s:\ngot  %q\nwant %q", c.Name, got, *c.Want)
		}
		checked++
	}
	if checked < 20 {
		t.Fatalf("only %d reference renderings", checked)
	}
}

func TestTemplateBadInput(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "tokenizer_config.json", `{"chat_template": "{{ raise_exception('nope') }}"}`)
	msgs := writeFile(t, dir, "msgs.json", templateMessages)
	bad := writeFile(t, dir, "bad.json", `{"role": "user"}`)
	tests := []struct {
		name string
		args []string
		want string // part of the error
	}{
		{"no source", []string{"--messages", msgs}, "exactly one"},
		{"two sources", []string{"-m", "x.gguf", "--hf", dir, "--messages", msgs}, "exactly one"},
		{"no messages", []string{"--hf", dir}, "--messages"},
		{"messages not a list", []string{"--hf", dir, "--messages", bad}, "messages"},
		{"missing file", []string{"--hf", dir, "--messages", filepath.Join(dir, "none.json")}, "none.json"},
		{"bad kwargs", []string{"--hf", dir, "--messages", msgs, "--kwargs", "[1]"}, "--kwargs"},
		{"bad model", []string{"-m", msgs, "--messages", msgs}, "gguf"},
		{"template raises", []string{"--hf", dir, "--messages", msgs}, "nope"},
		{"extra argument", []string{"--hf", dir, "--messages", msgs, "x"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runTemplateCmd(t, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
			if out != "" {
				t.Fatalf("printed %q on error", out)
			}
		})
	}
}
