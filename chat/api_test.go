package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/joule-llm/joule/gguf"
)

func TestMessageJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Message
		out  string // re-encoded form
	}{
		{"text", `{"role":"user","content":"hi"}`, Message{Role: "user", Content: "hi"}, `{"role":"user","content":"hi"}`},
		{"parts", `{"role":"user","content":[{"type":"image"},{"type":"text","text":"what?"},{"type":"image_url","image_url":{"url":"http://x/y.png"}},{"type":"text","text":""}]}`,
			Message{Role: "user", Parts: []Part{{Type: "image"}, {Type: "text", Text: "what?"}, {Type: "image_url", ImageURL: "http://x/y.png"}, {Type: "text"}}},
			`{"role":"user","content":[{"type":"image"},{"type":"text","text":"what?"},{"type":"image_url","image_url":{"url":"http://x/y.png"}},{"type":"text","text":""}]}`},
		{"empty parts", `{"role":"user","content":[]}`, Message{Role: "user", Parts: []Part{}}, `{"role":"user","content":[]}`},
		{"null content", `{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":{"b":1,"a":2}}}]}`,
			Message{Role: "assistant", ToolCalls: []ToolCall{{ID: "c1", Type: "function", Function: FunctionCall{Name: "f", Arguments: json.RawMessage(`{"b":1,"a":2}`)}}}, decoded: contentNull},
			`{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":{"b":1,"a":2}}}]}`},
		{"missing content", `{"role":"tool","tool_call_id":"c1","name":"f"}`,
			Message{Role: "tool", Name: "f", ToolCallID: "c1", decoded: contentMissing},
			`{"role":"tool","name":"f","tool_call_id":"c1"}`},
		{"reasoning", `{"role":"assistant","content":"4","reasoning_content":"2+2"}`,
			Message{Role: "assistant", Content: "4", ReasoningContent: "2+2"},
			`{"role":"assistant","content":"4","reasoning_content":"2+2"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			if err := json.Unmarshal([]byte(tt.in), &m); err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(m)
			want, _ := json.Marshal(tt.want)
			if !bytes.Equal(got, want) || m.decoded != tt.want.decoded {
				t.Fatalf("decoded %s (%d), want %s (%d)", got, m.decoded, want, tt.want.decoded)
			}
			if string(got) != tt.out {
				t.Fatalf("encoded %s, want %s", got, tt.out)
			}
		})
	}
	// A message built in Go with tool calls and no text has "" content.
	b, _ := json.Marshal(Message{Role: "assistant", ToolCalls: []ToolCall{{Function: FunctionCall{Name: "f"}}}})
	if !strings.Contains(string(b), `"content":""`) {
		t.Fatalf("Go-built message encodes as %s", b)
	}
	var m Message
	if err := json.Unmarshal([]byte(`{"role":"user","content":5}`), &m); err == nil {
		t.Fatal("numeric content accepted")
	}
}

func writeGGUF(t *testing.T, kv map[string]any) *gguf.File {
	t.Helper()
	w := gguf.NewWriter()
	for k, v := range kv {
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFromGGUF(t *testing.T) {
	src := "{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}"
	tokens := []string{"<unk>", "<s>", "</s>", "a"}
	f := writeGGUF(t, map[string]any{
		"tokenizer.chat_template":      src,
		"tokenizer.ggml.tokens":        tokens,
		"tokenizer.ggml.bos_token_id":  uint32(1),
		"tokenizer.ggml.eos_token_id":  uint32(2),
		"tokenizer.ggml.add_bos_token": true,
	})
	tpl, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Source() != src {
		t.Fatalf("source %q", tpl.Source())
	}
	got, err := tpl.Render([]Message{{Role: "user", Content: "x"}, {Role: "assistant", Content: "y"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "<s>x</s>y</s>"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}

	// Without token ids the names stay undefined.
	f = writeGGUF(t, map[string]any{"tokenizer.chat_template": "{{ bos_token is defined }}"})
	if tpl, err = FromGGUF(f); err != nil {
		t.Fatal(err)
	}
	if got, _ := tpl.Render(nil, Options{}); got != "False" {
		t.Fatalf("got %q, want False", got)
	}

	f = writeGGUF(t, map[string]any{"general.name": "x"})
	if _, err := FromGGUF(f); !errors.Is(err, gguf.ErrKeyNotFound) {
		t.Fatalf("missing template: %v", err)
	}
	f = writeGGUF(t, map[string]any{"tokenizer.chat_template": "x", "tokenizer.ggml.tokens": tokens, "tokenizer.ggml.bos_token_id": uint32(9)})
	if _, err := FromGGUF(f); err == nil {
		t.Fatal("out-of-range bos id accepted")
	}
	f = writeGGUF(t, map[string]any{"tokenizer.chat_template": "{% if %}"})
	var se *SyntaxError
	if _, err := FromGGUF(f); !errors.As(err, &se) {
		t.Fatalf("bad template: %v", err)
	}
}

func TestFromTokenizerConfig(t *testing.T) {
	tests := []struct {
		name, cfg string
		want      string // rendering of one user message "hi", or "error"
	}{
		{"strings", `{"chat_template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}", "bos_token": "<s>", "eos_token": "</s>"}`, "<s>hi</s>"},
		{"added tokens", `{"chat_template": "{{ bos_token }}|{{ eos_token }}", "bos_token": {"__type": "AddedToken", "content": "<|b|>", "lstrip": false}, "eos_token": {"content": "<|e|>"}}`, "<|b|>|<|e|>"},
		{"null bos", `{"chat_template": "{{ bos_token is defined }}", "bos_token": null, "eos_token": "x"}`, "False"},
		{"named templates", `{"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}`, "D"},
		{"no default", `{"chat_template": [{"name": "tool_use", "template": "T"}]}`, "error"},
		{"no template", `{"bos_token": "<s>"}`, "error"},
		{"not json", `{`, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := FromTokenizerConfig([]byte(tt.cfg))
			if tt.want == "error" {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := tpl.Render([]Message{{Role: "user", Content: "hi"}}, Options{})
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestRenderOptions(t *testing.T) {
	render := func(src string, opts Options) (string, error) {
		t.Helper()
		tpl, err := New(src, "<s>", "")
		if err != nil {
			t.Fatal(err)
		}
		return tpl.Render([]Message{{Role: "user", Content: "hi"}}, opts)
	}
	tests := []struct {
		name, src string
		opts      Options
		want      string
	}{
		{"no tools is none", "{{ tools is none }}", Options{}, "True"},
		{"empty tools", "{{ tools is none }}{{ tools }}", Options{Tools: []any{}}, "False[]"},
		{"tool key order kept", "{{ tools[0]|tojson }}", Options{Tools: []any{json.RawMessage(`{"z": 1, "a": {"y": [], "b": null}}`)}}, `{"z": 1, "a": {"y": [], "b": null}}`},
		{"go map tools sorted", "{{ tools[0]|tojson }}", Options{Tools: []any{map[string]any{"z": 1, "a": 2}}}, `{"a": 2, "z": 1}`},
		{"generation prompt", "{{ add_generation_prompt }}", Options{AddGenerationPrompt: true}, "True"},
		{"kwargs", "{{ enable_thinking is false }}{{ n + 1 }}{{ s }}", Options{Kwargs: map[string]any{"enable_thinking": false, "n": 41, "s": "x"}}, "True42x"},
		{"kwargs override bos", "{{ bos_token }}", Options{Kwargs: map[string]any{"bos_token": "B"}}, "B"},
		{"empty eos undefined", "{{ eos_token is defined }}{{ bos_token }}", Options{}, "False<s>"},
		{"documents", "{{ documents }}", Options{}, "None"},
		{"clock", "{{ strftime_now('%Y-%m-%d %H:%M') }}", Options{Now: func() time.Time { return time.Date(2025, 3, 4, 5, 6, 0, 0, time.UTC) }}, "2025-03-04 05:06"},
		{"messages", "{{ messages }}", Options{}, "[{'role': 'user', 'content': 'hi'}]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := render(tt.src, tt.opts)
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	for _, k := range reserved {
		if _, err := render("x", Options{Kwargs: map[string]any{k: 1}}); err == nil {
			t.Errorf("Kwargs %q accepted", k)
		}
	}
	if _, err := render("x", Options{Kwargs: map[string]any{"f": func() {}}}); err == nil {
		t.Error("unencodable kwarg accepted")
	}
}

func TestErrors(t *testing.T) {
	var se *SyntaxError
	_, err := New("line one\n{{ x }}\n{% if x %}\n{{ y + }}\n{% endif %}", "", "")
	if !errors.As(err, &se) || se.Line != 4 {
		t.Fatalf("syntax error %v, want one on line 4", err)
	}

	tpl, err := New("a\n\n{{ raise_exception('no ' ~ 'way') }}", "", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tpl.Render(nil, Options{})
	var ex *ExceptionError
	if !errors.As(err, &ex) || ex.Msg != "no way" {
		t.Fatalf("raise_exception gave %v", err)
	}

	tpl, _ = New("a\n{% for m in messages %}\n{{ m.nope.deeper }}{% endfor %}", "", "")
	_, err = tpl.Render([]Message{{Role: "user"}}, Options{})
	var re *RenderError
	if !errors.As(err, &re) || re.Line != 3 || !strings.Contains(re.Msg, "nope") {
		t.Fatalf("render error %v, want one on line 3 naming the attribute", err)
	}
}

func TestLimits(t *testing.T) {
	tests := []struct{ name, src string }{
		{"recursion", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"},
		{"long string", "{{ 'x' * 100000000 }}"},
		{"long list", "{{ [1] * 100000000 }}"},
		{"doubling", "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}"},
		{"steps", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"},
		{"range", "{{ range(1000000) }}"},
		{"output", "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := New(tt.src, "", "")
			if err != nil {
				t.Fatal(err)
			}
			tpl.maxSteps = 1 << 16
			start := time.Now()
			if _, err := tpl.Render(nil, Options{}); err == nil {
				t.Fatal("no error")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
	deep := strings.Repeat("(", 1000) + "1" + strings.Repeat(")", 1000)
	if _, err := New("{{ "+deep+" }}", "", ""); err == nil {
		t.Fatal("deeply nested expression accepted")
	}
	deep = strings.Repeat("{% if 1 %}", 1000) + strings.Repeat("{% endif %}", 1000)
	if _, err := New(deep, "", ""); err == nil {
		t.Fatal("deeply nested blocks accepted")
	}
}

func TestGeneratorsAreConsumedOnce(t *testing.T) {
	// Python generators run dry after one pass; templates can observe it.
	tpl, err := New("{% set g = [1, 2, 3]|select('odd') %}{{ g|first }}{{ g|list }}{{ g|list }}|{% set h = [1, 2]|map('string') %}{{ 1 in h }}{{ h|list }}", "", "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := tpl.Render(nil, Options{})
	if want := "1[3][]|False[]"; err != nil || got != want {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
}
