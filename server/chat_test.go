package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/joule-llm/joule/engine"
)

func TestChatFormats(t *testing.T) {
	conv := []message{
		{"system", "Be brief."},
		{"user", " Hi there \n"},
		{"assistant", "Hello!"},
		{"user", "Tell a story."},
	}
	tests := []struct {
		format string
		msgs   []message
		want   string
	}{
		{"chatml", conv, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n Hi there \n<|im_end|>\n" +
			"<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nTell a story.<|im_end|>\n<|im_start|>assistant\n"},
		{"llama3", conv, "<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
			"<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>" +
			"<|start_header_id|>user<|end_header_id|>\n\nTell a story.<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\n"},
		{"llama2", conv, "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\n Hi there [/INST] Hello! </s><s>[INST] Tell a story. [/INST]"},
		{"llama2", conv[1:2], "<s>[INST] Hi there [/INST]"},
	}
	for _, tt := range tests {
		got, err := chatFormats[tt.format](tt.msgs, "<s>", "</s>")
		if err != nil {
			t.Fatalf("%s: %v", tt.format, err)
		}
		if got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.format, got, tt.want)
		}
	}
	if _, err := renderLlama2([]message{{"user", "a"}, {"user", "b"}}, "<s>", "</s>"); err == nil || !strings.Contains(err.Error(), "messages[1]") {
		t.Errorf("llama2 accepted two user turns in a row: %v", err)
	}
}

func chatParams(msgs ...openai.ChatCompletionMessageParamUnion) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: testModelID, Messages: msgs, MaxTokens: openai.Int(30), Temperature: openai.Float(0)}
}

func TestChat(t *testing.T) {
	ld := load(t, storiesPath(t))
	ts := start(t, ld, engine.Config{}, Config{ChatTemplate: "llama2"})
	ctx := context.Background()
	p := chatParams(openai.SystemMessage("You tell stories."), openai.UserMessage("Once upon a time"))
	c, err := ts.client.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	// The reply is the greedy continuation of the rendered conversation,
	// with exactly one BOS at the start.
	prompt, aerr := ts.renderChat([]message{{"system", "You tell stories."}, {"user", "Once upon a time"}})
	if aerr != nil {
		t.Fatal(aerr)
	}
	if prompt[0] != ld.tok.BOS() || prompt[1] == ld.tok.BOS() {
		t.Fatalf("prompt should start with one BOS: %v", prompt[:4])
	}
	want := continuation(ld.tok, generate(t, ld, prompt, 30))
	if len(c.Choices) != 1 || c.Choices[0].Message.Content != want || c.Choices[0].Message.Role != "assistant" {
		t.Fatalf("reply %+v, want content %q", c.Choices, want)
	}
	if !strings.HasPrefix(c.ID, "chatcmpl-") || c.Object != "chat.completion" || c.SystemFingerprint == "" || c.Model != testModelID {
		t.Errorf("header: %s", c.RawJSON())
	}
	if c.Usage.PromptTokens != int64(len(prompt)) || c.Usage.CompletionTokens != 30 || c.Choices[0].FinishReason != "length" {
		t.Errorf("usage %+v finish %q, want %d prompt tokens, 30 completion tokens, length", c.Usage, c.Choices[0].FinishReason, len(prompt))
	}

	// Streaming: the role first, then the same text, then the finish
	// reason, then usage.
	p.StreamOptions.IncludeUsage = openai.Bool(true)
	s := ts.client.Chat.Completions.NewStreaming(ctx, p)
	var acc openai.ChatCompletionAccumulator
	first := true
	for s.Next() {
		chunk := s.Current()
		acc.AddChunk(chunk)
		if chunk.Object != "chat.completion.chunk" {
			t.Errorf("chunk object %q", chunk.Object)
		}
		if first && (len(chunk.Choices) != 1 || chunk.Choices[0].Delta.Role != "assistant") {
			t.Errorf("first chunk has no role: %s", chunk.RawJSON())
		}
		first = false
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.Content; got != want || acc.Choices[0].FinishReason != "length" {
		t.Errorf("streamed %q finish %q, want %q", got, acc.Choices[0].FinishReason, want)
	}
	if acc.Usage.CompletionTokens != 30 || acc.Usage.PromptTokens != int64(len(prompt)) {
		t.Errorf("streamed usage %+v", acc.Usage)
	}

	// Logprobs: the chosen token's and the top 3, best first; greedy
	// picks the best.
	p = chatParams(openai.UserMessage("Once upon a time"))
	p.Logprobs = openai.Bool(true)
	p.TopLogprobs = openai.Int(3)
	p.MaxTokens = openai.Int(8)
	lc, err := ts.client.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	content := lc.Choices[0].Logprobs.Content
	if len(content) != 8 {
		t.Fatalf("%d token logprobs for 8 tokens", len(content))
	}
	var joined strings.Builder
	for _, tl := range content {
		joined.WriteString(tl.Token)
		if len(tl.TopLogprobs) != 3 || tl.TopLogprobs[0].Token != tl.Token || tl.TopLogprobs[0].Logprob != tl.Logprob ||
			tl.TopLogprobs[1].Logprob > tl.TopLogprobs[0].Logprob || tl.Logprob > 0 || string(bytesOf(tl.Bytes)) != tl.Token {
			t.Errorf("token logprob %+v", tl)
		}
	}
	if joined.String() != lc.Choices[0].Message.Content {
		t.Errorf("logprob tokens spell %q, content is %q", joined.String(), lc.Choices[0].Message.Content)
	}
}

func bytesOf(b []int64) []byte {
	out := make([]byte, len(b))
	for i, v := range b {
		out[i] = byte(v)
	}
	return out
}

// Without a chat format, chat requests are refused with an explanation
// rather than served with a made-up prompt.
func TestChatWithoutTemplate(t *testing.T) {
	ld := load(t, storiesPath(t))
	ts := start(t, ld, engine.Config{}, Config{})
	_, err := ts.client.Chat.Completions.New(context.Background(), chatParams(openai.UserMessage("hi")))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("want an API error, got %v", err)
	}
	if apiErr.StatusCode != http.StatusBadRequest || apiErr.Code != "chat_template_unavailable" || !strings.Contains(apiErr.Message, "--chat-template") {
		t.Errorf("got %d %q: %s", apiErr.StatusCode, apiErr.Code, apiErr.Message)
	}
	if _, err := New(ts.eng, ld.tok, ModelInfo{ID: "x"}, Config{ChatTemplate: "nonesuch"}); err == nil {
		t.Error("an unknown built-in template name was accepted")
	}
	s, err := New(ts.eng, ld.tok, ModelInfo{ID: "x", ChatTemplate: "{% for m in messages %}<|im_start|>{{ m.role }}..."}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, aerr := s.renderChat([]message{{"user", "hi"}}); aerr == nil || !strings.Contains(aerr.Message, `"chatml"`) {
		t.Errorf("a ChatML-looking template should be named in the error: %v", aerr)
	}
}

// A RenderChat hook (the model's own template) renders the messages; its
// errors are the client's 400.
func TestRenderChatHook(t *testing.T) {
	ld := load(t, storiesPath(t))
	var seen []ChatMessage
	ts := start(t, ld, engine.Config{}, Config{RenderChat: func(msgs []ChatMessage) (string, error) {
		seen = msgs
		if len(msgs) > 2 {
			return "", errors.New("conversation too long for this template")
		}
		return "<s>" + msgs[len(msgs)-1].Content, nil
	}})
	ctx := context.Background()
	p := chatParams(openai.DeveloperMessage("Tell stories."), openai.UserMessage("Once upon a time"))
	c, err := ts.client.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != (ChatMessage{"system", "Tell stories."}) || seen[1] != (ChatMessage{"user", "Once upon a time"}) {
		t.Errorf("the hook saw %+v", seen)
	}
	// "<s>" is the BOS, which the prompt holds once.
	want := continuation(ld.tok, generate(t, ld, ld.tok.Encode("Once upon a time", true, true), 30))
	if c.Choices[0].Message.Content != want {
		t.Errorf("got %q, want %q", c.Choices[0].Message.Content, want)
	}
	p.Messages = append(p.Messages, openai.AssistantMessage("x"))
	_, err = ts.client.Chat.Completions.New(ctx, p)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.Message, "too long for this template") {
		t.Errorf("a failing template: %v", err)
	}
}
