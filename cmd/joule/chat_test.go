package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/joule-llm/joule/chat"
	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
	"github.com/joule-llm/joule/tokenizer"
)

const testTemplate = `{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}
{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}`

// TestRunChat drives the interactive chat through stdin and checks that the
// second turn, computed on top of the first turn's KV cache, says what a
// fresh session given the whole conversation says.
func TestRunChat(t *testing.T) {
	path := withChatTemplate(t, randomModel(t, llamatest.RandomConfig{Seed: 9, Ctx: 512}), testTemplate)
	run := func(input string) []string {
		t.Helper()
		var stdout strings.Builder
		root := newRootCmd()
		root.SetArgs([]string{"run", "-m", path, "--chat", "--temp", "0", "-n", "12", "-t", "1", "--system", "be kind"})
		root.SetIn(strings.NewReader(input))
		root.SetOut(&stdout)
		root.SetErr(&strings.Builder{})
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	}
	two := run("hello\nand then?\n/bye\nnot read\n")
	if len(two) != 2 || two[0] == "" || two[1] == "" {
		t.Fatalf("want two replies, got %q", two)
	}
	if strings.Contains(strings.Join(two, ""), "not read") {
		t.Fatal("input after /bye was used")
	}

	// The second turn, computed on top of the first turn's cache, must say
	// what a fresh session given the whole conversation says.
	newSession := func() *chatSession {
		f, err := gguf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		m, err := model.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := tokenizer.FromGGUF(f)
		if err != nil {
			t.Fatal(err)
		}
		tmpl, err := chat.FromGGUF(f)
		if err != nil {
			t.Fatal(err)
		}
		st, err := m.NewState(512, tensor.F16)
		if err != nil {
			t.Fatal(err)
		}
		return &chatSession{m: m, tok: tok, tmpl: tmpl, state: st, pool: tensor.NewPool(1), maxTokens: 12,
			history: []chat.Message{{Role: "system", Content: "be kind"}}}
	}
	kept := newSession()
	r1, err := kept.turn(context.Background(), "hello", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	kept.history = append(kept.history, chat.Message{Role: "assistant", Content: r1})
	fedBefore := kept.state.Pos()
	r2, err := kept.turn(context.Background(), "and then?", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if r1 != strings.TrimSpace(two[0]) || r2 != strings.TrimSpace(two[1]) {
		t.Fatalf("session replies %q, %q differ from the CLI's %q", r1, r2, two)
	}
	if fedBefore == 0 {
		t.Fatal("nothing stayed in the cache after the first turn")
	}

	fresh := newSession()
	fresh.history = append(fresh.history, chat.Message{Role: "user", Content: "hello"}, chat.Message{Role: "assistant", Content: r1})
	got, err := fresh.turn(context.Background(), "and then?", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got != r2 {
		t.Fatalf("reply with the cache kept %q, computed afresh %q", r2, got)
	}
}
