package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/tensor"
)

// GenerateConfig controls Generate.
type GenerateConfig struct {
	// MaxTokens is the most tokens to generate; <= 0 means no limit other
	// than the context.
	MaxTokens int
	// BatchSize is how many prompt tokens go through the model at once;
	// <= 0 means 512.
	BatchSize int
	// Sampler picks each token; nil means greedy.
	Sampler *Sampler
	// IsEnd reports an end-of-generation token, which stops generation and
	// is not emitted. nil means no token ends generation.
	IsEnd func(tok int) bool
}

// StopReason says why Generate stopped.
type StopReason int

const (
	StopMaxTokens   StopReason = iota // MaxTokens were generated
	StopEnd                           // the model produced an end-of-generation token
	StopContextFull                   // the state's context is full
	StopCancelled                     // the context was cancelled
	StopError                         // the model or emit failed
)

func (r StopReason) String() string {
	switch r {
	case StopMaxTokens:
		return "max tokens"
	case StopEnd:
		return "end of generation"
	case StopContextFull:
		return "context full"
	case StopCancelled:
		return "cancelled"
	case StopError:
		return "error"
	}
	return fmt.Sprintf("StopReason(%d)", int(r))
}

// GenerateStats describes a Generate call.
type GenerateStats struct {
	PromptTokens       int
	PromptDuration     time.Duration // prefill, up to the first logits
	GeneratedTokens    int           // tokens passed to emit
	GenerationDuration time.Duration // sampling and decoding after the prefill
	Stop               StopReason
}

// DefaultBatchSize is the prefill chunk Generate uses when none is set.
const DefaultBatchSize = 512

// Generate feeds prompt into s (after whatever s already holds), then
// samples and decodes one token at a time, passing each to emit, until
// MaxTokens, an end token, a full context, cancellation of ctx, or an error
// from emit or the model. A full context is a normal stop (nil error); the
// other early stops return the cause (ctx.Err(), emit's error), with Stats
// up to that point.
func Generate(ctx context.Context, m *model.Model, p *tensor.Pool, s *model.State, prompt []int, cfg GenerateConfig, emit func(tok int) error) (GenerateStats, error) {
	st := GenerateStats{PromptTokens: len(prompt), Stop: StopError}
	if len(prompt) == 0 {
		return st, errors.New("engine: empty prompt")
	}
	if free := s.ContextLength() - s.Pos(); len(prompt) > free {
		return st, fmt.Errorf("engine: prompt of %d tokens does not fit in the %d free positions of the context: %w", len(prompt), free, model.ErrContextFull)
	}
	// One forward pass follows another with only sampling between them.
	p.Hold()
	defer p.Release()
	batch := cfg.BatchSize
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	sampler := cfg.Sampler
	if sampler == nil {
		sampler = NewSampler(SamplerConfig{})
	}
	logits := make([]float32, m.Config.VocabSize)
	// The penalties look back over the prompt and what was generated.
	history := make([]int, 0, len(prompt)+max(cfg.MaxTokens, 0)+1)
	history = append(history, prompt...)

	start := time.Now()
	for at := 0; at < len(prompt); at += batch {
		if err := ctx.Err(); err != nil {
			st.Stop = StopCancelled
			st.PromptDuration = time.Since(start)
			return st, err
		}
		chunk := prompt[at:min(at+batch, len(prompt))]
		out := logits
		if at+len(chunk) < len(prompt) {
			out = nil // only the last chunk's logits are needed
		}
		if err := m.Forward(p, s, chunk, out); err != nil {
			st.PromptDuration = time.Since(start)
			return st, fmt.Errorf("engine: prefill: %w", err)
		}
	}
	st.PromptDuration = time.Since(start)

	start = time.Now()
	stop := func(r StopReason, err error) (GenerateStats, error) {
		st.Stop = r
		st.GenerationDuration = time.Since(start)
		return st, err
	}
	next := make([]int, 1)
	for {
		if err := ctx.Err(); err != nil {
			return stop(StopCancelled, err)
		}
		tok := sampler.Sample(logits, history)
		if cfg.IsEnd != nil && cfg.IsEnd(tok) {
			return stop(StopEnd, nil)
		}
		if err := emit(tok); err != nil {
			return stop(StopError, err)
		}
		st.GeneratedTokens++
		history = append(history, tok)
		if cfg.MaxTokens > 0 && st.GeneratedTokens >= cfg.MaxTokens {
			return stop(StopMaxTokens, nil)
		}
		if s.Pos() >= s.ContextLength() {
			return stop(StopContextFull, nil)
		}
		next[0] = tok
		if err := m.Forward(p, s, next, logits); err != nil {
			return stop(StopError, fmt.Errorf("engine: decode: %w", err))
		}
	}
}
