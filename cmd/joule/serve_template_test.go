package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tokenizer"
)

// withChatTemplate copies the GGUF file at src adding a chat template.
func withChatTemplate(t *testing.T, src, template string) string {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := gguf.NewWriter()
	for _, kv := range f.KV {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	w.Set("tokenizer.chat_template", template)
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, f.TensorData(ti)); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "templated.gguf")
	if err := w.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestServeUsesModelTemplate checks that without --chat-template the
// server renders chat requests with the model's own Jinja template.
func TestServeUsesModelTemplate(t *testing.T) {
	const tmpl = `{{ bos_token }}{% for m in messages %}[{{ m.role | upper }}] {{ m.content | trim }}
{% endfor %}{% if add_generation_prompt %}[ASSISTANT] {% endif %}`
	path := withChatTemplate(t, randomModel(t, llamatest.RandomConfig{Seed: 5, Ctx: 512}), tmpl)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	url, done, stderr := serveInProcess(t, ctx, "-m", path, "--port", "0", "--alias", "m", "-t", "1", "--kv-mem", "4MiB")
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/ready")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	body := `{"model":"m","messages":[{"role":"system","content":"be kind "},{"role":"user","content":"hello there"}],"max_tokens":2,"temperature":0}`
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}

	// The prompt the template gives, tokenized as the server does: BOS once.
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	want := tok.Encode("[SYSTEM] be kind\n[USER] hello there\n[ASSISTANT] ", true, true)
	if out.Usage.PromptTokens != len(want) {
		t.Errorf("prompt_tokens %d, want %d (the rendered template)", out.Usage.PromptTokens, len(want))
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
