package server

import (
	"fmt"
	"slices"
	"strings"
)

// message is a chat message after validation: role is system, user or
// assistant.
type message struct {
	role, content string
}

// ChatMessage is a chat message as Config.RenderChat receives it: Role is
// "system", "user" or "assistant" (a request's "developer" arrives as
// "system"), Content the message's text.
type ChatMessage struct {
	Role, Content string
}

// A chatFormat renders a conversation, ending with the prompt for the
// assistant's reply, as the text the model was trained on. bos and eos
// are the texts of the vocabulary's BOS and EOS tokens. The text may begin
// with bos; renderChat makes sure the prompt holds one BOS only.
type chatFormat func(msgs []message, bos, eos string) (string, error)

// chatFormats are the built-in formats, named as llama.cpp names them.
// Each follows the model family's published template for plain text
// messages.
var chatFormats = map[string]chatFormat{
	"chatml": renderChatML,
	"llama2": renderLlama2,
	"llama3": renderLlama3,
}

// ChatTemplates returns the names of the built-in chat formats, sorted.
func ChatTemplates() []string {
	names := make([]string, 0, len(chatFormats))
	for n := range chatFormats {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// renderChatML: each message as <|im_start|>ROLE\nCONTENT<|im_end|>\n, then
// <|im_start|>assistant\n.
func renderChatML(msgs []message, _, _ string) (string, error) {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n")
	}
	b.WriteString("<|im_start|>assistant\n")
	return b.String(), nil
}

// renderLlama3: BOS, then each message as
// <|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|> with the
// content trimmed, then the assistant header.
func renderLlama3(msgs []message, bos, _ string) (string, error) {
	var b strings.Builder
	b.WriteString(bos)
	for _, m := range msgs {
		b.WriteString("<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + strings.TrimSpace(m.content) + "<|eot_id|>")
	}
	b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
	return b.String(), nil
}

// renderLlama2: an optional system message folded into the first user
// turn inside <<SYS>> markers; user turns as BOS[INST] CONTENT [/INST],
// assistant turns as " CONTENT EOS"; turns must alternate, user first.
func renderLlama2(msgs []message, bos, eos string) (string, error) {
	system, hasSystem, offset := "", false, 0
	if len(msgs) > 0 && msgs[0].role == "system" {
		system, hasSystem, offset = msgs[0].content, true, 1
		msgs = msgs[1:]
	}
	var b strings.Builder
	for i, m := range msgs {
		want := "user"
		if i%2 == 1 {
			want = "assistant"
		}
		if m.role != want {
			return "", fmt.Errorf("the llama2 format needs the messages after an optional first system message to alternate user, assistant, user, ...; messages[%d] is %q", i+offset, m.role)
		}
		content := m.content
		if i == 0 && hasSystem {
			content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content
		}
		if m.role == "user" {
			b.WriteString(bos + "[INST] " + strings.TrimSpace(content) + " [/INST]")
		} else {
			b.WriteString(" " + strings.TrimSpace(content) + " " + eos)
		}
	}
	return b.String(), nil
}

// guessFormat names the built-in format a GGUF chat template looks like,
// for the error message that suggests --chat-template.
func guessFormat(tmpl string) string {
	switch {
	case strings.Contains(tmpl, "<|im_start|>"):
		return "chatml"
	case strings.Contains(tmpl, "<|start_header_id|>"):
		return "llama3"
	case strings.Contains(tmpl, "[INST]") && strings.Contains(tmpl, "<<SYS>>"):
		return "llama2"
	}
	return ""
}

// renderChat turns messages into prompt tokens with the configured format.
// A model's own Jinja template is not interpreted: without a built-in
// format chosen, chat requests are refused rather than given a prompt the
// model was not trained on.
func (s *Server) renderChat(msgs []message) ([]int, *apiError) {
	if s.chat == nil {
		msg := "this model has no usable chat template: "
		switch {
		case s.info.ChatTemplate == "":
			msg += "its GGUF file has none (tokenizer.chat_template)"
		default:
			msg += "its GGUF chat template (Jinja) cannot be rendered by this server"
		}
		msg += "; start the server with --chat-template NAME, NAME one of " + strings.Join(ChatTemplates(), ", ")
		if g := guessFormat(s.info.ChatTemplate); g != "" {
			msg += fmt.Sprintf(" (the model's template looks like %q)", g)
		}
		msg += ", or use /v1/completions"
		return nil, &apiError{Status: 400, Type: typeInvalidRequest, Param: "messages", Code: "chat_template_unavailable", Message: msg}
	}
	bos, eos := "", ""
	if id := s.tok.BOS(); id >= 0 {
		bos = s.tok.Token(id)
	}
	if id := s.tok.EOS(); id >= 0 {
		eos = s.tok.Token(id)
	}
	text, err := s.chat(msgs, bos, eos)
	if err != nil {
		return nil, invalid("messages", "%v", err)
	}
	// Special-token text in the prompt becomes those tokens, as llama-server
	// does. The vocabulary's BOS is added once: the format's own leading
	// BOS counts.
	tokens := s.tok.Encode(text, false, true)
	if s.tok.AddBOS() && s.tok.BOS() >= 0 && (len(tokens) == 0 || tokens[0] != s.tok.BOS()) {
		tokens = append([]int{s.tok.BOS()}, tokens...)
	}
	return tokens, nil
}
