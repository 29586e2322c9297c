package server

// The OpenAI response shapes. Fields that OpenAI sends as null when unused
// are pointers or `any`, so that they encode as null rather than vanish.

type usageJSON struct {
	PromptTokens        int                `json:"prompt_tokens"`
	CompletionTokens    int                `json:"completion_tokens"`
	TotalTokens         int                `json:"total_tokens"`
	PromptTokensDetails promptTokenDetails `json:"prompt_tokens_details"`
}

type promptTokenDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

func (u usage) json() *usageJSON {
	return &usageJSON{
		PromptTokens:        u.prompt,
		CompletionTokens:    u.completion,
		TotalTokens:         u.prompt + u.completion,
		PromptTokensDetails: promptTokenDetails{CachedTokens: u.cached},
	}
}

// Completions.

type completion struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"` // "text_completion"
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint string             `json:"system_fingerprint"`
	Choices           []completionChoice `json:"choices"`
	Usage             *usageJSON         `json:"usage,omitempty"`
}

// completionChunk is a streamed completion: like completion, but usage is
// null until the last chunk when it is asked for.
type completionChunk struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"`
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint string             `json:"system_fingerprint"`
	Choices           []completionChoice `json:"choices"`
	Usage             *usageJSON         `json:"usage"`
}

type completionChoice struct {
	Text         string              `json:"text"`
	Index        int                 `json:"index"`
	Logprobs     *completionLogprobs `json:"logprobs"`
	FinishReason *string             `json:"finish_reason"`
}

type completionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float32            `json:"token_logprobs"`
	TopLogprobs   []map[string]float32 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

// Chat completions.

type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"` // "chat.completion"
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []chatChoice `json:"choices"`
	Usage             *usageJSON   `json:"usage,omitempty"`
}

type chatChoice struct {
	Index        int           `json:"index"`
	Message      chatMessageJS `json:"message"`
	Logprobs     *chatLogprobs `json:"logprobs"`
	FinishReason string        `json:"finish_reason"`
}

type chatMessageJS struct {
	Role    string  `json:"role"`
	Content string  `json:"content"`
	Refusal *string `json:"refusal"`
}

type chatChunk struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"` // "chat.completion.chunk"
	Created           int64             `json:"created"`
	Model             string            `json:"model"`
	SystemFingerprint string            `json:"system_fingerprint"`
	Choices           []chatChunkChoice `json:"choices"`
	Usage             *usageJSON        `json:"usage"`
}

type chatChunkChoice struct {
	Index        int           `json:"index"`
	Delta        chatDelta     `json:"delta"`
	Logprobs     *chatLogprobs `json:"logprobs"`
	FinishReason *string       `json:"finish_reason"`
}

type chatDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type chatLogprobs struct {
	Content []chatTokenLogprob `json:"content"`
	Refusal *string            `json:"refusal"`
}

type chatTokenLogprob struct {
	Token       string           `json:"token"`
	Logprob     float32          `json:"logprob"`
	Bytes       []int            `json:"bytes"`
	TopLogprobs []chatTopLogprob `json:"top_logprobs"`
}

type chatTopLogprob struct {
	Token   string  `json:"token"`
	Logprob float32 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

// Models.

type modelList struct {
	Object string      `json:"object"` // "list"
	Data   []modelJSON `json:"data"`
}

type modelJSON struct {
	ID          string `json:"id"`
	Object      string `json:"object"` // "model"
	Created     int64  `json:"created"`
	OwnedBy     string `json:"owned_by"`
	MaxModelLen int    `json:"max_model_len,omitempty"`
}

// Logprob conversion.

func (s *Server) chatLogprobs(tokens []tokenInfo) *chatLogprobs {
	lp := &chatLogprobs{Content: make([]chatTokenLogprob, 0, len(tokens))}
	for _, t := range tokens {
		piece := s.tok.Piece(t.id)
		c := chatTokenLogprob{Token: piece, Logprob: t.logprob, Bytes: byteInts(piece), TopLogprobs: []chatTopLogprob{}}
		for _, a := range t.top {
			p := s.tok.Piece(a.ID)
			c.TopLogprobs = append(c.TopLogprobs, chatTopLogprob{Token: p, Logprob: a.Logprob, Bytes: byteInts(p)})
		}
		lp.Content = append(lp.Content, c)
	}
	return lp
}

func (s *Server) completionLogprobs(tokens []tokenInfo, lp *completionLogprobs) *completionLogprobs {
	if lp == nil {
		lp = &completionLogprobs{Tokens: []string{}, TokenLogprobs: []float32{}, TopLogprobs: []map[string]float32{}, TextOffset: []int{}}
	}
	for _, t := range tokens {
		piece := s.tok.Piece(t.id)
		lp.Tokens = append(lp.Tokens, piece)
		lp.TokenLogprobs = append(lp.TokenLogprobs, t.logprob)
		lp.TextOffset = append(lp.TextOffset, t.offset)
		// OpenAI's top_logprobs always hold the chosen token as well.
		top := make(map[string]float32, len(t.top)+1)
		for _, a := range t.top {
			p := s.tok.Piece(a.ID)
			if old, ok := top[p]; !ok || a.Logprob > old {
				top[p] = a.Logprob
			}
		}
		if _, ok := top[piece]; !ok {
			top[piece] = t.logprob
		}
		lp.TopLogprobs = append(lp.TopLogprobs, top)
	}
	return lp
}

func byteInts(s string) []int {
	b := make([]int, len(s))
	for i := range len(s) {
		b[i] = int(s[i])
	}
	return b
}
