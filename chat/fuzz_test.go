package chat

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzTemplate checks that any template source either fails to parse
// with an error or renders (or fails) without panicking, within a small
// step budget.
func FuzzTemplate(f *testing.F) {
	seeds := []string{
		"",
		"{{ x }}",
		"{% for m in messages %}{{ m.role }}{% endfor %}",
		"{%- if a -%}{{- b|trim -}}{%- elif c %}{% else %}{% endif %}",
		"{% set ns = namespace(x=1) %}{% set ns.x = ns.x + 1 %}{{ ns.x }}",
		"{% macro m(a, b=2) %}{{ a ~ b }}{% endmacro %}{{ m(1) }}{% call m(3) %}{% endcall %}",
		"{{ {'a': [1, 2.5, none, true]}|tojson(indent=2) }}",
		"{{ 'a b'.split()[::-1]|join(',') }}{{ x[1:2] }}{{ 'x' if y else z }}",
		"{% raw %}{{ x }}{% endraw %}{# c #}{%+ if 1 +%}{% endif %}",
		"{% for a, b in d.items() recursive %}{{ loop(b) }}{% else %}{% endfor %}",
		"{{ '%s %d' % ('a', 1) }}{{ '{0}'.format(1) }}{% filter upper %}x{% endfilter %}",
		"{{ ((((((((((1)))))))))) }}{{ [[[[[]]]]] }}",
		"{{ '\\u00e9\\x41\\n' }}{{ 1e3 }}{{ 0x1f }}{{ 1_000 }}",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	if paths, err := filepath.Glob(filepath.Join(repoRoot(f), "testdata", "chat", "templates", "*.jinja")); err == nil {
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(string(b))
			}
		}
	}
	msgs := []Message{
		{Role: "system", Content: "sys"},
		{Role: "user", Content: "hi"},
		{Role: "assistant", Content: "<think>r</think>ok", ToolCalls: []ToolCall{{Type: "function", Function: FunctionCall{Name: "f", Arguments: []byte(`{"a": 1}`)}}}},
		{Role: "user", Parts: []Part{{Type: "text", Text: "p"}}},
	}
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := New(src, "<s>", "</s>")
		if err != nil {
			if tpl != nil {
				t.Fatal("New returned a template and an error")
			}
			return
		}
		tpl.maxSteps = 1 << 14
		out, err := tpl.Render(msgs, Options{AddGenerationPrompt: true, Kwargs: map[string]any{"x": 1, "d": map[string]any{"k": []any{1}}}, Now: fixedNow})
		if err != nil && out != "" {
			t.Fatal("Render returned output and an error")
		}
	})
}
