package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// Limits on request parameters.
const (
	maxStops       = 16 // OpenAI allows 4; a few more cost little
	maxLogprobs    = 20 // top alternatives per token, as vLLM's default max_logprobs
	maxPrompts     = 64 // prompts in one completions request
	defaultCompMax = 16 // OpenAI's default max_tokens for completions
)

// streamOptions is stream_options.
type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// commonParams are the fields completions and chat share. Pointers tell an
// absent (or null) field from a zero one.
type commonParams struct {
	Model            string             `json:"model"`
	Temperature      *float64           `json:"temperature"`
	TopP             *float64           `json:"top_p"`
	N                *int               `json:"n"`
	Stream           bool               `json:"stream"`
	StreamOptions    *streamOptions     `json:"stream_options"`
	Stop             json.RawMessage    `json:"stop"`
	PresencePenalty  *float64           `json:"presence_penalty"`
	FrequencyPenalty *float64           `json:"frequency_penalty"`
	LogitBias        map[string]float64 `json:"logit_bias"`
	Seed             *int64             `json:"seed"`
	User             string             `json:"user"`

	// Extensions that vLLM and llama-server accept too.
	TopK              *int     `json:"top_k"`
	MinP              *float64 `json:"min_p"`
	RepetitionPenalty *float64 `json:"repetition_penalty"`
}

type completionRequest struct {
	commonParams
	Prompt    json.RawMessage `json:"prompt"`
	MaxTokens *int            `json:"max_tokens"`
	Logprobs  *int            `json:"logprobs"`
	Echo      bool            `json:"echo"`
	Suffix    *string         `json:"suffix"`
	BestOf    *int            `json:"best_of"`
}

type chatRequest struct {
	commonParams
	Messages            []chatMessage   `json:"messages"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Logprobs            *bool           `json:"logprobs"`
	TopLogprobs         *int            `json:"top_logprobs"`
	ResponseFormat      *responseFormat `json:"response_format"`
	Tools               json.RawMessage `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
}

type responseFormat struct {
	Type string `json:"type"`
}

// chatMessage is one message as sent; Content is a string or an array of
// content parts, decoded by text.
type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	Name    string          `json:"name"`
}

// decodeJSON reads a JSON object from r's body into v. Unknown fields are
// ignored, as OpenAI's API does; a field of the wrong type is an error that
// names it.
func decodeJSON(r *http.Request, w http.ResponseWriter, limit int64, v any) *apiError {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return &apiError{Status: http.StatusRequestEntityTooLarge, Type: typeInvalidRequest, Code: "request_too_large",
				Message: fmt.Sprintf("the request body is larger than the limit of %d bytes", mbe.Limit)}
		}
		return invalid("", "reading the request body: %v", err)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return invalid("", "the request body must be a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			// The path names the embedded struct of the shared fields.
			field := strings.ReplaceAll(te.Field, "commonParams.", "")
			return invalid(field, "invalid type for %q: expected %s, got a JSON %s", field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return invalid("", "the request body is not valid JSON: %v", err)
	}
	return nil
}

// jsonKind names a Go kind as the JSON type a client sends.
func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "an integer"
	case strings.HasPrefix(k, "float"):
		return "a number"
	case k == "bool":
		return "a boolean"
	case k == "string":
		return "a string"
	case k == "slice", k == "array":
		return "an array"
	case k == "map", k == "struct":
		return "an object"
	}
	return k
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// parseStop reads stop: a string or an array of strings. Empty strings are
// dropped: they would match at once.
func parseStop(raw json.RawMessage) ([]string, *apiError) {
	if isNull(raw) {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		if one == "" {
			return nil, nil
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, invalid("stop", "stop must be a string or an array of strings")
	}
	if len(many) > maxStops {
		return nil, invalid("stop", "at most %d stop sequences are allowed, got %d", maxStops, len(many))
	}
	out := many[:0]
	for _, s := range many {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// promptInput is one prompt of a completions request: text, or token ids.
type promptInput struct {
	text   string
	tokens []int
	isText bool
}

// parsePrompt reads prompt as OpenAI allows: a string, an array of strings,
// an array of token ids, or an array of arrays of token ids.
func parsePrompt(raw json.RawMessage) ([]promptInput, *apiError) {
	if isNull(raw) {
		return nil, invalid("prompt", "prompt is required")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []promptInput{{text: s, isText: true}}, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, invalid("prompt", "prompt must be a string, an array of strings, an array of token ids or an array of arrays of token ids")
	}
	if len(items) == 0 {
		return nil, invalid("prompt", "prompt must not be an empty array")
	}
	// An array of integers is a single tokenized prompt.
	if ids, ok := tokenArray(items); ok {
		return []promptInput{{tokens: ids}}, nil
	}
	if len(items) > maxPrompts {
		return nil, invalid("prompt", "at most %d prompts are allowed in one request, got %d", maxPrompts, len(items))
	}
	out := make([]promptInput, len(items))
	for i, it := range items {
		if err := json.Unmarshal(it, &out[i].text); err == nil {
			out[i].isText = true
			continue
		}
		var sub []json.RawMessage
		if json.Unmarshal(it, &sub) == nil {
			if ids, ok := tokenArray(sub); ok && len(ids) > 0 {
				out[i].tokens = ids
				continue
			}
		}
		return nil, invalid(fmt.Sprintf("prompt[%d]", i), "each prompt must be a string or a non-empty array of token ids")
	}
	return out, nil
}

// tokenArray decodes items as integers, reporting false if any is not one.
func tokenArray(items []json.RawMessage) ([]int, bool) {
	ids := make([]int, len(items))
	for i, it := range items {
		n, err := strconv.ParseInt(string(it), 10, 64)
		if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
			return nil, false
		}
		ids[i] = int(n)
	}
	return ids, true
}

// messageText returns the text of a message's content: a string, or an
// array of {"type":"text","text":...} parts, concatenated.
func messageText(raw json.RawMessage, param string) (string, *apiError) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", invalid(param, "%s must be a string or an array of content parts", param)
	}
	var b strings.Builder
	for i, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return "", invalid(fmt.Sprintf("%s[%d]", param, i), "only text content parts are supported, got type %q", p.Type)
		}
		b.WriteString(*p.Text)
	}
	return b.String(), nil
}
