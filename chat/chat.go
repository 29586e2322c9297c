package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/joule-llm/joule/gguf"
)

// Message is one chat message in the OpenAI chat format.
type Message struct {
	Role string `json:"role"`
	// Content is the text of the message. When Parts is not nil the
	// content is that list of parts instead, as in multimodal messages.
	//
	// Templates see an empty Content as an empty string, except in a
	// message decoded from JSON whose content was null or missing: there
	// they see None or no content key, as they would in transformers.
	Content string `json:"-"`
	Parts   []Part `json:"-"`
	// Name optionally names the author, e.g. a tool's name.
	Name      string     `json:"name,omitempty"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID links a role "tool" message to the call it answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	// ReasoningContent is an assistant's reasoning, which templates of
	// reasoning models such as Qwen3 render in their own way.
	ReasoningContent string `json:"reasoning_content,omitempty"`

	decoded contentForm // how JSON gave an empty content
}

type contentForm uint8

const (
	contentText contentForm = iota
	contentNull
	contentMissing
)

// Part is an element of a message's content list.
type Part struct {
	Type     string // "text", "image_url", "image", ...
	Text     string // for Type "text"
	ImageURL string // for Type "image_url": the URL of {"image_url": {"url": ...}}
}

// ToolCall is a function call requested by an assistant message.
type ToolCall struct {
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"` // "function"
	Function FunctionCall `json:"function"`
}

// FunctionCall names a function and its arguments. Arguments is JSON: an
// object, as most templates expect, or a string holding JSON, as the
// OpenAI API sends it; templates see it exactly as given.
type FunctionCall struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

type partJSON struct {
	Type     string  `json:"type"`
	Text     *string `json:"text,omitempty"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url,omitempty"`
}

// MarshalJSON writes a part as the OpenAI API does: {"type": "text",
// "text": ...}, {"type": "image_url", "image_url": {"url": ...}}, or just
// its type.
func (p Part) MarshalJSON() ([]byte, error) {
	w := partJSON{Type: p.Type}
	if p.Type == "text" || p.Text != "" {
		w.Text = &p.Text
	}
	if p.ImageURL != "" {
		w.ImageURL = &struct {
			URL string `json:"url"`
		}{p.ImageURL}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the fields of a part that Part keeps.
func (p *Part) UnmarshalJSON(data []byte) error {
	var w partJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*p = Part{Type: w.Type}
	if w.Text != nil {
		p.Text = *w.Text
	}
	if w.ImageURL != nil {
		p.ImageURL = w.ImageURL.URL
	}
	return nil
}

// messageJSON is Message's wire form, with content in its place.
type messageJSON struct {
	Role             string          `json:"role"`
	Content          json.RawMessage `json:"content,omitempty"`
	Name             string          `json:"name,omitempty"`
	ToolCalls        []ToolCall      `json:"tool_calls,omitempty"`
	ToolCallID       string          `json:"tool_call_id,omitempty"`
	ReasoningContent string          `json:"reasoning_content,omitempty"`
}

// MarshalJSON writes content as a string, or as a list when Parts is set;
// an empty content that was null or missing in decoded JSON stays so.
func (m Message) MarshalJSON() ([]byte, error) {
	w := messageJSON{Role: m.Role, Name: m.Name, ToolCalls: m.ToolCalls, ToolCallID: m.ToolCallID, ReasoningContent: m.ReasoningContent}
	var err error
	switch {
	case m.Parts != nil:
		w.Content, err = json.Marshal(m.Parts)
	case m.Content == "" && m.decoded == contentNull:
		w.Content = json.RawMessage("null")
	case m.Content == "" && m.decoded == contentMissing:
		// omitempty leaves the key out
	default:
		w.Content, err = json.Marshal(m.Content)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads an OpenAI chat message; content may be a string, a
// list of parts or null.
func (m *Message) UnmarshalJSON(data []byte) error {
	var w messageJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*m = Message{Role: w.Role, Name: w.Name, ToolCalls: w.ToolCalls, ToolCallID: w.ToolCallID, ReasoningContent: w.ReasoningContent}
	c := bytes.TrimSpace(w.Content)
	switch {
	case len(c) == 0:
		m.decoded = contentMissing
	case string(c) == "null":
		m.decoded = contentNull
	case c[0] == '[':
		m.Parts = []Part{}
		if err := json.Unmarshal(c, &m.Parts); err != nil {
			return fmt.Errorf("chat: message content: %w", err)
		}
	default:
		if err := json.Unmarshal(c, &m.Content); err != nil {
			return fmt.Errorf("chat: message content: %w", err)
		}
	}
	return nil
}

// Options are the inputs of a rendering besides the messages.
type Options struct {
	// AddGenerationPrompt asks the template to end with the start of an
	// assistant turn.
	AddGenerationPrompt bool
	// Tools are the tool (function) schemas offered to the model, in the
	// OpenAI format; nil renders as None, as when no tools are given.
	// Values are converted through JSON; a json.RawMessage keeps its key
	// order, a Go map is written with sorted keys.
	Tools []any
	// Kwargs are extra template variables, such as enable_thinking.
	Kwargs map[string]any
	// Now is the clock of strftime_now; nil means time.Now.
	Now func() time.Time
}

// Template is a parsed chat template with the texts of the model's BOS
// and EOS tokens.
type Template struct {
	source   string
	body     []node
	unset    []string // see markFrames
	bos, eos string
	maxSteps int // the evaluator's budget; tests lower it
}

// New parses a chat template. bos and eos are the texts of the model's
// begin- and end-of-sequence tokens; an empty one is left undefined in
// the template, as transformers does for a token the tokenizer lacks.
func New(source, bos, eos string) (*Template, error) {
	body, err := parse(source)
	if err != nil {
		return nil, err
	}
	return &Template{source: source, body: body, unset: markFrames(body, nil, nil), bos: bos, eos: eos, maxSteps: maxSteps}, nil
}

// Source returns the template's text.
func (t *Template) Source() string { return t.source }

// FromGGUF reads the chat template of a GGUF model and the texts of its
// BOS and EOS tokens.
func FromGGUF(f *gguf.File) (*Template, error) {
	src, err := f.String("tokenizer.chat_template")
	if err != nil {
		return nil, err
	}
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil && !errors.Is(err, gguf.ErrKeyNotFound) {
		return nil, err
	}
	text := func(key string) (string, error) {
		id, err := f.Uint(key)
		if errors.Is(err, gguf.ErrKeyNotFound) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if id >= uint64(len(tokens)) {
			return "", fmt.Errorf("chat: %s %d is not a token id (vocabulary of %d)", key, id, len(tokens))
		}
		return tokens[id], nil
	}
	bos, err := text("tokenizer.ggml.bos_token_id")
	if err != nil {
		return nil, err
	}
	eos, err := text("tokenizer.ggml.eos_token_id")
	if err != nil {
		return nil, err
	}
	return New(src, bos, eos)
}

// FromTokenizerConfig reads the chat template and BOS and EOS tokens of a
// Hugging Face tokenizer_config.json. A template stored as a list of
// named templates yields the one named "default".
func FromTokenizerConfig(data []byte) (*Template, error) {
	var cfg struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
		BOS          json.RawMessage `json:"bos_token"`
		EOS          json.RawMessage `json:"eos_token"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("chat: tokenizer config: %w", err)
	}
	src, err := configTemplate(cfg.ChatTemplate)
	if err != nil {
		return nil, err
	}
	bos, err := configToken(cfg.BOS)
	if err != nil {
		return nil, fmt.Errorf("chat: tokenizer config bos_token: %w", err)
	}
	eos, err := configToken(cfg.EOS)
	if err != nil {
		return nil, fmt.Errorf("chat: tokenizer config eos_token: %w", err)
	}
	return New(src, bos, eos)
}

func configTemplate(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", errors.New("chat: tokenizer config has no chat_template")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &named); err != nil {
		return "", fmt.Errorf("chat: tokenizer config chat_template: %w", err)
	}
	for _, n := range named {
		if n.Name == "default" {
			return n.Template, nil
		}
	}
	return "", errors.New("chat: tokenizer config has no default chat_template")
}

// configToken reads a special token, written as a string, null, or an
// AddedToken object with a "content" field.
func configToken(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var tok struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &tok); err != nil {
		return "", err
	}
	return tok.Content, nil
}

// reserved are variables Render sets that Kwargs may not replace.
var reserved = []string{"messages", "tools", "add_generation_prompt"}

// Render renders the template for messages.
func (t *Template) Render(messages []Message, opts Options) (string, error) {
	if messages == nil {
		messages = []Message{}
	}
	msgs, err := toValue(messages)
	if err != nil {
		return "", fmt.Errorf("chat: messages: %w", err)
	}
	// The caller's variables sit between the globals and the template's
	// own variables, as Jinja2's render context does.
	ctx := newScope(&scope{vars: globals()})
	if t.bos != "" {
		ctx.vars["bos_token"] = t.bos
	}
	if t.eos != "" {
		ctx.vars["eos_token"] = t.eos
	}
	ctx.vars["documents"] = nil
	for k, v := range opts.Kwargs {
		if slices.Contains(reserved, k) {
			return "", fmt.Errorf("chat: keyword argument %q is set by Render", k)
		}
		if ctx.vars[k], err = toValue(v); err != nil {
			return "", fmt.Errorf("chat: keyword argument %q: %w", k, err)
		}
	}
	ctx.vars["messages"] = msgs
	ctx.vars["add_generation_prompt"] = opts.AddGenerationPrompt
	ctx.vars["tools"] = nil
	if opts.Tools != nil {
		if ctx.vars["tools"], err = toValue(opts.Tools); err != nil {
			return "", fmt.Errorf("chat: tools: %w", err)
		}
	}
	root := newScope(ctx)
	markUnset(root, t.unset)
	var out strings.Builder
	e := &evaluator{out: &out, now: opts.Now, maxSteps: t.maxSteps}
	if e.now == nil {
		e.now = time.Now
	}
	err = e.execBody(t.body, root)
	if err == errBreak || err == errContinue {
		err = errorf("%v", err)
	}
	if err != nil {
		return "", err
	}
	return out.String(), nil
}
