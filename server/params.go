package server

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/joule-llm/joule/engine"
)

// job is a validated request, ready for the engine: one or more prompts,
// each sampled n times with the same settings.
type job struct {
	chat         bool
	prompts      []jobPrompt
	n            int
	sampling     engine.SamplerConfig
	stops        []string
	bias         map[int]float32
	logprobs     int // as engine.Request.Logprobs: < 0 none
	stream       bool
	includeUsage bool
	echo         bool
}

type jobPrompt struct {
	tokens    []int
	text      string // the prompt's text, for echo
	maxTokens int
}

// penaltyWindow is how many recent tokens the presence, frequency and
// repetition penalties look at, as llama-server's default.
const penaltyWindow = 64

// checkCommon validates the parameters completions and chat share and
// fills j's sampling settings, n, stops and logit bias.
func (s *Server) checkCommon(p *commonParams, j *job) *apiError {
	if p.Model != "" && p.Model != s.info.ID {
		return &apiError{Status: 404, Type: typeNotFound, Param: "model", Code: "model_not_found",
			Message: fmt.Sprintf("the model %q does not exist; this server serves %q", p.Model, s.info.ID)}
	}
	sc := engine.SamplerConfig{Temperature: 1, RepeatPenalty: 1, RepeatLastN: penaltyWindow}
	if v := p.Temperature; v != nil {
		if *v < 0 || *v > 2 {
			return invalid("temperature", "temperature must be between 0 and 2, got %g", *v)
		}
		sc.Temperature = float32(*v)
	}
	if v := p.TopP; v != nil {
		if *v < 0 || *v > 1 {
			return invalid("top_p", "top_p must be between 0 and 1, got %g", *v)
		}
		if *v == 0 {
			// The smallest set of tokens whose probability reaches 0 is
			// the most likely token alone.
			sc.Temperature = 0
		}
		sc.TopP = float32(*v)
	}
	if v := p.TopK; v != nil {
		if *v < -1 {
			return invalid("top_k", "top_k must be -1 (off) or at least 0, got %d", *v)
		}
		sc.TopK = max(*v, 0)
	}
	if v := p.MinP; v != nil {
		if *v < 0 || *v > 1 {
			return invalid("min_p", "min_p must be between 0 and 1, got %g", *v)
		}
		sc.MinP = float32(*v)
	}
	for _, pen := range []struct {
		name string
		v    *float64
		dst  *float32
	}{
		{"presence_penalty", p.PresencePenalty, &sc.PresencePenalty},
		{"frequency_penalty", p.FrequencyPenalty, &sc.FrequencyPenalty},
	} {
		if pen.v == nil {
			continue
		}
		if *pen.v < -2 || *pen.v > 2 {
			return invalid(pen.name, "%s must be between -2 and 2, got %g", pen.name, *pen.v)
		}
		*pen.dst = float32(*pen.v)
	}
	if v := p.RepetitionPenalty; v != nil {
		if *v <= 0 || *v > 2 {
			return invalid("repetition_penalty", "repetition_penalty must be in (0, 2], got %g", *v)
		}
		sc.RepeatPenalty = float32(*v)
	}
	if p.Seed != nil {
		sc.Seed = uint64(*p.Seed)
	} else {
		sc.Seed = rand.Uint64()
	}
	j.sampling = sc

	j.n = 1
	if p.N != nil {
		if *p.N < 1 || *p.N > s.cfg.MaxN {
			return invalid("n", "n must be between 1 and %d, got %d", s.cfg.MaxN, *p.N)
		}
		j.n = *p.N
	}
	var err *apiError
	if j.stops, err = parseStop(p.Stop); err != nil {
		return err
	}
	if len(p.LogitBias) > 0 {
		j.bias = make(map[int]float32, len(p.LogitBias))
		for k, v := range p.LogitBias {
			id, perr := strconv.Atoi(k)
			if perr != nil || id < 0 || id >= s.vocab {
				return invalid("logit_bias", "logit_bias key %q is not a token id of this model (0 to %d)", k, s.vocab-1)
			}
			if v < -100 || v > 100 {
				return invalid("logit_bias", "logit_bias value for token %d must be between -100 and 100, got %g", id, v)
			}
			j.bias[id] = float32(v)
		}
	}
	j.stream = p.Stream
	if p.StreamOptions != nil {
		if !p.Stream {
			return invalid("stream_options", "stream_options is only allowed when stream is true")
		}
		j.includeUsage = p.StreamOptions.IncludeUsage
	}
	return nil
}

// setMaxTokens resolves each prompt's token budget. A max_tokens that does
// not fit in the context with the prompt is refused, never cut down; with
// none given, the default is def (<= 0: the rest of the context), capped
// by the context.
func (s *Server) setMaxTokens(j *job, requested *int, param, promptParam string, def int) *apiError {
	if requested != nil && *requested < 1 {
		return invalid(param, "%s must be at least 1, got %d", param, *requested)
	}
	ctx := s.info.ContextLength
	for i := range j.prompts {
		p := &j.prompts[i]
		if len(p.tokens) == 0 {
			return invalid(promptParam, "the prompt is empty")
		}
		for _, id := range p.tokens {
			if id < 0 || id >= s.vocab {
				return invalid(promptParam, "token id %d is outside this model's vocabulary (0 to %d)", id, s.vocab-1)
			}
		}
		if ctx > 0 && len(p.tokens) >= ctx {
			return &apiError{Status: 400, Type: typeInvalidRequest, Param: promptParam, Code: "context_length_exceeded",
				Message: fmt.Sprintf("This model's maximum context length is %d tokens. However, your prompt is %d tokens, which leaves no room for a completion.", ctx, len(p.tokens))}
		}
		switch {
		case requested != nil:
			p.maxTokens = *requested
			if ctx > 0 && len(p.tokens)+p.maxTokens > ctx {
				return &apiError{Status: 400, Type: typeInvalidRequest, Param: param, Code: "context_length_exceeded",
					Message: fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the prompt, %d in the completion). Please reduce the length of the prompt or completion.",
						ctx, len(p.tokens)+p.maxTokens, len(p.tokens), p.maxTokens)}
			}
		case def > 0:
			p.maxTokens = def
			if ctx > 0 {
				p.maxTokens = min(def, ctx-len(p.tokens))
			}
		case ctx > 0:
			p.maxTokens = ctx - len(p.tokens)
		default:
			return invalid(param, "%s is required: the server does not know the model's context length", param)
		}
	}
	return nil
}

// completionJob validates a completions request.
func (s *Server) completionJob(r *completionRequest) (*job, *apiError) {
	j := &job{}
	if err := s.checkCommon(&r.commonParams, j); err != nil {
		return nil, err
	}
	if r.Suffix != nil && *r.Suffix != "" {
		return nil, invalid("suffix", "suffix is not supported")
	}
	if r.BestOf != nil && *r.BestOf != j.n {
		if *r.BestOf < j.n {
			return nil, invalid("best_of", "best_of must be at least n (%d), got %d", j.n, *r.BestOf)
		}
		return nil, invalid("best_of", "best_of greater than n is not supported")
	}
	j.logprobs = -1
	if r.Logprobs != nil {
		if *r.Logprobs < 0 || *r.Logprobs > maxLogprobs {
			return nil, invalid("logprobs", "logprobs must be between 0 and %d, got %d", maxLogprobs, *r.Logprobs)
		}
		if r.Echo {
			return nil, invalid("logprobs", "logprobs together with echo is not supported: the server does not compute prompt logprobs")
		}
		j.logprobs = *r.Logprobs
	}
	j.echo = r.Echo
	prompts, err := parsePrompt(r.Prompt)
	if err != nil {
		return nil, err
	}
	j.prompts = make([]jobPrompt, len(prompts))
	for i, p := range prompts {
		if p.isText {
			// As llama-server: BOS per the vocabulary, special-token text
			// parsed.
			j.prompts[i] = jobPrompt{tokens: s.tok.Encode(p.text, true, true), text: p.text}
		} else {
			j.prompts[i] = jobPrompt{tokens: p.tokens}
		}
	}
	if err := s.setMaxTokens(j, r.MaxTokens, "max_tokens", "prompt", defaultCompMax); err != nil {
		return nil, err
	}
	if j.echo {
		for i := range j.prompts {
			if !prompts[i].isText {
				j.prompts[i].text = s.tok.Decode(j.prompts[i].tokens)
			}
		}
	}
	return j, nil
}

// chatJob validates a chat completions request and renders its messages.
func (s *Server) chatJob(r *chatRequest) (*job, *apiError) {
	j := &job{chat: true}
	if err := s.checkCommon(&r.commonParams, j); err != nil {
		return nil, err
	}
	if len(r.Messages) == 0 {
		return nil, invalid("messages", "messages must be a non-empty array")
	}
	if rf := r.ResponseFormat; rf != nil && rf.Type != "" && rf.Type != "text" {
		return nil, invalid("response_format", "response_format %q is not supported; only \"text\"", rf.Type)
	}
	if !isNull(r.Tools) && string(r.Tools) != "[]" {
		return nil, invalid("tools", "tools are not supported")
	}
	j.logprobs = -1
	if r.Logprobs != nil && *r.Logprobs {
		j.logprobs = 0
	}
	if r.TopLogprobs != nil {
		if *r.TopLogprobs < 0 || *r.TopLogprobs > maxLogprobs {
			return nil, invalid("top_logprobs", "top_logprobs must be between 0 and %d, got %d", maxLogprobs, *r.TopLogprobs)
		}
		if j.logprobs < 0 && *r.TopLogprobs > 0 {
			return nil, invalid("top_logprobs", "top_logprobs requires logprobs to be true")
		}
		if j.logprobs >= 0 {
			j.logprobs = *r.TopLogprobs
		}
	}
	msgs := make([]message, len(r.Messages))
	for i, m := range r.Messages {
		param := fmt.Sprintf("messages[%d]", i)
		role := m.Role
		switch role {
		case "system", "user", "assistant":
		case "developer":
			role = "system" // OpenAI's newer name for the system role
		case "":
			return nil, invalid(param+".role", "%s.role is required", param)
		default:
			return nil, invalid(param+".role", "role %q is not supported; use system, developer, user or assistant", m.Role)
		}
		text, err := messageText(m.Content, param+".content")
		if err != nil {
			return nil, err
		}
		msgs[i] = message{role: role, content: text}
	}
	tokens, err := s.renderChat(msgs)
	if err != nil {
		return nil, err
	}
	j.prompts = []jobPrompt{{tokens: tokens}}
	mt := r.MaxTokens
	param := "max_tokens"
	if r.MaxCompletionTokens != nil {
		mt, param = r.MaxCompletionTokens, "max_completion_tokens"
	}
	if err := s.setMaxTokens(j, mt, param, "messages", 0); err != nil {
		return nil, err
	}
	return j, nil
}
