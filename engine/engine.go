package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/joule-llm/joule/kv"
	"github.com/joule-llm/joule/tensor"
)

// Config sizes an Engine. Zero fields take the defaults noted.
type Config struct {
	Threads        int         // compute threads; GOMAXPROCS
	KVMemBytes     int64       // KV pool budget; enough for 4 full contexts, capped at 25% of RAM
	BlockSize      int         // tokens per KV block; 16
	KVType         tensor.Type // KV element type, F16 or F32; F16
	MaxBatchTokens int         // tokens per step, the chunked-prefill budget; 512
	MaxRunning     int         // most sequences in a step; 64, and at most MaxBatchTokens
	MaxQueue       int         // most requests waiting to start; 256
	ContextLength  int         // per-sequence limit; the model's, at most, and at most what the KV pool holds
}

// Defaults of Config.
const (
	DefaultMaxBatchTokens = 512
	DefaultMaxRunning     = 64
	DefaultMaxQueue       = 256
	defaultContexts       = 4 // full contexts the default KV budget holds
)

// Errors Submit returns.
var (
	ErrQueueFull = errors.New("engine: queue full")
	ErrTooLong   = errors.New("engine: prompt and max tokens exceed the context length")
	ErrClosed    = errors.New("engine: closed")
)

// Request is one completion to generate.
type Request struct {
	Prompt    []int
	MaxTokens int                // tokens to generate at most, > 0; len(Prompt)+MaxTokens must fit the context, else ErrTooLong
	Sampling  SamplerConfig      // sample i of N draws with seed Sampling.Seed+i
	N         int                // samples sharing the prompt's KV blocks; 0 means 1
	IsEnd     func(tok int) bool // end-of-generation tokens: not emitted, the sample finishes with "stop"
	LogitBias map[int]float32    // added to the logits before sampling
	Logprobs  int                // < 0: none; 0: the chosen token's log-probability; k > 0: also the top k
}

// TokenLogprob is a token and its log-probability.
type TokenLogprob struct {
	ID      int
	Logprob float32
}

// Event reports progress of one sample of a request.
type Event struct {
	Index   int            // which of the N samples
	Token   int            // the generated token; -1 when the event carries none (a Final other than "length")
	Logprob float32        // of Token, when logprobs were asked for
	Top     []TokenLogprob // the most likely tokens, best first, when Logprobs > 0
	Final   bool           // the last event of this sample
	Finish  string         // with Final: "stop", "length", "cancelled" or "error"
	Err     error          // with Finish "error" (or "cancelled": the context's error)
	Usage   Usage          // with Final: the whole request's counts so far
}

// Usage counts a request's tokens.
type Usage struct {
	PromptTokens       int // len(Prompt)
	CachedPromptTokens int // prompt tokens served from the prefix cache
	CompletionTokens   int // tokens sampled over all samples, end tokens included
}

// Finish reasons of a final Event.
const (
	FinishStop      = "stop"
	FinishLength    = "length"
	FinishCancelled = "cancelled"
	FinishError     = "error"
)

// Stats is a snapshot of an Engine's state and counters.
type Stats struct {
	Running, Waiting int     // sequences in the running set and waiting to (re)start
	KVUsage          float64 // fraction of KV blocks in use; cached free blocks count as unused
	BlockSize        int
	NumBlocks        int
	PrefixQueries    int64 // prompt tokens looked up in the prefix cache
	PrefixHits       int64 // of which found there
	PromptTokens     int64 // prompt tokens of started requests
	GeneratedTokens  int64 // tokens sampled
	Preemptions      int64
	Steps            int64
}

// Engine serves many requests at once on one model by continuous
// batching: every step runs one forward pass over the next token of each
// decoding sequence and chunks of prompts being prefilled, with the KV
// cache held in blocks of a shared pool (see package kv).
//
// One goroutine, started by Start, owns the scheduler, the KV cache and
// the model's buffers and does nothing but step; Submit, Stats and Close
// talk to it through a small mutex-protected inbox and snapshot.
type Engine struct {
	cfg   Config
	vocab int
	be    backend
	pool  *tensor.Pool
	cache *kv.Storage
	sched *scheduler

	mu       sync.Mutex
	inbox    []*request // submitted, not yet seen by the loop
	queued   int        // submitted requests not yet started
	arrivals uint64
	started  bool
	closed   bool
	wake     chan struct{} // a request arrived (capacity 1)
	drain    chan struct{} // closed by Close: exit once idle
	abort    chan struct{} // closed when Close's context ends: cancel everything and exit
	done     chan struct{} // closed when the loop has exited
	cutShort bool          // the loop cancelled requests on abort; read after done

	statsMu sync.Mutex
	stats   Stats
}

// backend runs a step's schedule on a model and sizes its KV storage; the
// model's is modelBackend, tests use others.
type backend interface {
	init(maxTokens int) error
	newCache(budget int64, blockSize int, kvType tensor.Type) (*kv.Storage, error)
	forward(p *tensor.Pool, cache *kv.Storage, out *schedulerOutput, logits []float32) error
}

// modelSpec is what the engine needs to know of a model.
type modelSpec struct {
	vocab         int
	contextLength int
	kvBytesToken  int64 // KV bytes per token with F16 elements
}

func newEngine(be backend, spec modelSpec, cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults(spec)
	if err != nil {
		return nil, err
	}
	cache, err := be.newCache(cfg.KVMemBytes, cfg.BlockSize, cfg.KVType)
	if err != nil {
		return nil, fmt.Errorf("engine: KV cache: %w", err)
	}
	bp, err := kv.NewBlockPool(cache.NumBlocks(), cfg.BlockSize)
	if err != nil {
		return nil, fmt.Errorf("engine: KV cache: %w", err)
	}
	// A sequence must fit the pool on its own, or preemption could not
	// guarantee progress.
	cfg.ContextLength = min(cfg.ContextLength, cache.NumBlocks()*cfg.BlockSize)
	e := &Engine{
		cfg:   cfg,
		vocab: spec.vocab,
		be:    be,
		cache: cache,
		sched: newScheduler(kv.NewManager(bp), cfg.MaxBatchTokens, cfg.MaxRunning),
		wake:  make(chan struct{}, 1),
		drain: make(chan struct{}),
		abort: make(chan struct{}),
		done:  make(chan struct{}),
	}
	if err := be.init(cfg.MaxBatchTokens); err != nil {
		return nil, err
	}
	e.pool = tensor.NewPool(cfg.Threads)
	e.publishStats()
	return e, nil
}

func (c Config) withDefaults(spec modelSpec) (Config, error) {
	if c.Threads <= 0 {
		c.Threads = runtime.GOMAXPROCS(0)
	}
	if c.BlockSize == 0 {
		c.BlockSize = kv.DefaultBlockSize
	}
	if c.KVType == 0 {
		c.KVType = tensor.F16
	}
	if c.MaxBatchTokens == 0 {
		c.MaxBatchTokens = DefaultMaxBatchTokens
	}
	if c.MaxRunning == 0 {
		c.MaxRunning = DefaultMaxRunning
	}
	// Every running sequence gets its decode token each step.
	c.MaxRunning = min(c.MaxRunning, c.MaxBatchTokens)
	if c.MaxQueue == 0 {
		c.MaxQueue = DefaultMaxQueue
	}
	if c.ContextLength == 0 || c.ContextLength > spec.contextLength {
		// Positions past the model's context are not computed.
		c.ContextLength = spec.contextLength
	}
	switch {
	case c.BlockSize < 0 || c.BlockSize > kv.MaxBlockSize:
		return c, fmt.Errorf("engine: block size %d: need 1 to %d", c.BlockSize, kv.MaxBlockSize)
	case c.KVType != tensor.F16 && c.KVType != tensor.F32:
		return c, fmt.Errorf("engine: KV type %s: need F16 or F32", c.KVType)
	case c.MaxBatchTokens < 0 || c.MaxRunning < 0 || c.MaxQueue < 0 || c.ContextLength < 0 || c.KVMemBytes < 0:
		return c, fmt.Errorf("engine: negative limit in %+v", c)
	}
	if c.KVMemBytes == 0 {
		perToken := spec.kvBytesToken
		if c.KVType == tensor.F32 {
			perToken *= 2
		}
		c.KVMemBytes = defaultContexts * int64(c.ContextLength) * perToken
		if ram := totalRAM(); ram > 0 {
			c.KVMemBytes = min(c.KVMemBytes, ram/4)
		}
	}
	return c, nil
}

// totalRAM returns the machine's memory in bytes, or 0 if unknown.
func totalRAM() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest) // "16318908 kB"
			if len(f) == 2 && f[1] == "kB" {
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return n * 1024
				}
			}
		}
	}
	return 0
}

// Config returns the engine's configuration with every default resolved
// and ContextLength limited to what the KV pool holds.
func (e *Engine) Config() Config { return e.cfg }

// Start starts the step loop. It does nothing after the first call or
// after Close.
func (e *Engine) Start() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started || e.closed {
		return
	}
	e.started = true
	go e.loop()
}

// Submit queues a request and returns the channel its events arrive on.
// The channel has room for every event the request can produce, so the
// engine never waits for the reader; it is closed after the Final event of
// every sample. Cancelling ctx ends the request's samples with "cancelled"
// at the next step and frees their KV blocks.
func (e *Engine) Submit(ctx context.Context, r Request) (<-chan Event, error) {
	if err := e.check(&r); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Each sample's events end with its Final, which carries the last
	// token when the limit is reached: at most MaxTokens events a sample.
	req := &request{ctx: ctx, r: r, events: make(chan Event, r.MaxTokens*r.N+r.N), live: r.N}
	req.usage.PromptTokens = len(r.Prompt)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if e.queued >= e.cfg.MaxQueue {
		return nil, ErrQueueFull
	}
	e.queued++
	e.arrivals++
	req.arrival = e.arrivals
	e.inbox = append(e.inbox, req)
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return req.events, nil
}

// check validates r, setting N's default.
func (e *Engine) check(r *Request) error {
	if r.N == 0 {
		r.N = 1
	}
	switch {
	case len(r.Prompt) == 0:
		return errors.New("engine: empty prompt")
	case r.MaxTokens <= 0:
		return fmt.Errorf("engine: max tokens %d: need at least 1", r.MaxTokens)
	case r.N < 0 || r.N > e.cfg.MaxRunning:
		return fmt.Errorf("engine: %d samples: need 1 to %d", r.N, e.cfg.MaxRunning)
	case len(r.Prompt) > e.cfg.ContextLength || r.MaxTokens > e.cfg.ContextLength-len(r.Prompt):
		return fmt.Errorf("%w: %d prompt tokens and %d to generate, context of %d", ErrTooLong, len(r.Prompt), r.MaxTokens, e.cfg.ContextLength)
	}
	for i, t := range r.Prompt {
		if t < 0 || t >= e.vocab {
			return fmt.Errorf("engine: prompt token %d (index %d) is outside the vocabulary of %d", t, i, e.vocab)
		}
	}
	for t := range r.LogitBias {
		if t < 0 || t >= e.vocab {
			return fmt.Errorf("engine: logit bias for token %d, outside the vocabulary of %d", t, e.vocab)
		}
	}
	return nil
}

// Stats returns a snapshot taken after the latest step, with the requests
// submitted since counted as waiting. It is safe to call from any goroutine.
func (e *Engine) Stats() Stats {
	e.statsMu.Lock()
	s := e.stats
	e.statsMu.Unlock()
	e.mu.Lock()
	s.Waiting += len(e.inbox)
	e.mu.Unlock()
	return s
}

// Close stops accepting requests (Submit returns ErrClosed), lets the
// accepted ones run until they finish or ctx is done, then ends the rest
// with "cancelled", stops the loop and releases the compute threads. It
// returns ctx's error if requests had to be cut short.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		<-e.done
		return nil
	}
	e.closed = true
	started := e.started
	e.mu.Unlock()
	if !started {
		// No loop to drain through: end what was submitted.
		e.mu.Lock()
		inbox := e.inbox
		e.inbox, e.queued = nil, 0
		e.mu.Unlock()
		for _, r := range inbox {
			r.finishAll(FinishCancelled, ErrClosed)
		}
		e.pool.Close()
		close(e.done)
		return nil
	}
	close(e.drain)
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		close(e.abort)
		<-e.done
		if e.cutShort {
			return ctx.Err()
		}
		return nil
	}
}

// loop steps until Close: it takes in new requests, schedules, runs the
// model, samples and publishes the stats, once per step.
func (e *Engine) loop() {
	defer close(e.done)
	defer e.pool.Close()
	logits := make([]float32, e.cfg.MaxRunning*e.vocab)
	// While there is work the pool's workers spin between steps instead
	// of parking: see tensor.Pool.Hold.
	held := false
	defer func() {
		if held {
			e.pool.Release()
		}
	}()
	for {
		e.takeInbox()
		select {
		case <-e.abort:
			// Submit fails once Close has begun, so the inbox taken now
			// holds every request left.
			e.takeInbox()
			e.cutShort = e.sched.cancelAll(ErrClosed) > 0
			e.publishStats()
			return
		default:
		}
		if e.sched.idle() {
			if held {
				e.pool.Release()
				held = false
			}
			select {
			case <-e.drain:
				if e.takeInbox(); e.sched.idle() {
					return
				}
			case <-e.wake:
			case <-e.abort:
			}
			continue
		}
		if !held {
			e.pool.Hold()
			held = true
		}
		out := e.sched.schedule()
		if len(out.chunks) > 0 {
			e.cache.CopyBlocks(out.copies)
			err := e.be.forward(e.pool, e.cache, out, logits[:out.numLogits*e.vocab])
			e.sched.update(out, logits, e.vocab, err)
		}
		e.publishStats()
	}
}

// takeInbox moves submitted requests into the scheduler's waiting queue.
func (e *Engine) takeInbox() {
	e.mu.Lock()
	inbox := e.inbox
	e.inbox = nil
	e.mu.Unlock()
	for _, r := range inbox {
		e.sched.add(r)
	}
	if n := e.sched.takeStarted(); n > 0 {
		e.mu.Lock()
		e.queued -= n
		e.mu.Unlock()
	}
}

func (e *Engine) publishStats() {
	s := e.sched
	ms := s.mgr.Stats()
	st := Stats{
		Running:         len(s.running),
		Waiting:         len(s.waiting),
		KVUsage:         s.mgr.Usage(),
		BlockSize:       s.mgr.Pool().BlockSize(),
		NumBlocks:       s.mgr.Pool().NumBlocks(),
		PrefixQueries:   ms.Queries,
		PrefixHits:      ms.Hits,
		PromptTokens:    s.promptTokens,
		GeneratedTokens: s.generated,
		Preemptions:     s.preemptions,
		Steps:           s.steps,
	}
	e.statsMu.Lock()
	e.stats = st
	e.statsMu.Unlock()
}
