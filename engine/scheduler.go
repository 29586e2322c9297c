package engine

import (
	"errors"
	"fmt"
	"slices"

	"github.com/joule-llm/joule/kv"
)

// scheduledChunk is one sequence's share of a step: n tokens from
// position start.
type scheduledChunk struct {
	seq    *sequence
	start  int     // position of the first token; the KV of [0, start) is cached
	n      int     // tokens to run
	logits bool    // the chunk reaches the sequence's last token: sample after it
	blocks []int32 // block table covering positions [0, start+n)
}

// tokens returns the ids the chunk runs.
func (c *scheduledChunk) tokens() []int { return c.seq.tokens[c.start : c.start+c.n] }

// schedulerOutput is the scheduler's decision for one step, which the
// backend executes: decode tokens first, then prefill chunks, each group
// in FCFS order.
type schedulerOutput struct {
	chunks    []scheduledChunk
	copies    []kv.Copy // copy-on-write block copies to make before the forward pass
	numTokens int       // tokens in all chunks
	numLogits int       // chunks with logits: rows of the logits, in chunk order
}

// scheduler decides each step which sequences run and how many tokens
// each, and keeps their KV blocks through a kv.Manager. It is owned by the
// engine's loop goroutine.
//
// Policy (after vLLM's v1 scheduler and Sarathi-Serve's chunked prefill):
// within a per-step token budget, every decoding sequence gets its next
// token first, oldest first; when the pool has no block for one, the most
// recently arrived running sequence is preempted (its blocks freed, to be
// recomputed later from the front of the waiting queue). What budget is
// left goes to prompt chunks: sequences already prefilling, then waiting
// ones in arrival order, which are admitted while blocks and running
// places last. A step that preempted admits nobody, and admission never
// skips the head of the queue, so no request starves.
type scheduler struct {
	mgr        *kv.Manager
	blockSize  int
	maxTokens  int
	maxRunning int

	running []*sequence // arrival order; forked samples follow their parent
	waiting []*sequence // arrival order, preempted sequences back at the front
	nextID  kv.SeqID
	out     schedulerOutput
	biased  []float32 // logits plus a request's bias

	dequeued int // requests that left the queue since takeStarted

	promptTokens, generated, preemptions, steps int64
}

func newScheduler(mgr *kv.Manager, maxTokens, maxRunning int) *scheduler {
	return &scheduler{
		mgr:        mgr,
		blockSize:  mgr.Pool().BlockSize(),
		maxTokens:  maxTokens,
		maxRunning: maxRunning,
	}
}

// add queues a new request as one sequence that forks the other samples
// once its prompt is computed.
func (s *scheduler) add(r *request) {
	s.waiting = append(s.waiting, &sequence{
		id:      s.newID(),
		req:     r,
		tokens:  append(make([]int, 0, len(r.r.Prompt)+r.r.MaxTokens), r.r.Prompt...),
		forks:   r.r.N - 1,
		sampler: NewSampler(r.r.Sampling),
	})
}

func (s *scheduler) newID() kv.SeqID {
	s.nextID++
	return s.nextID
}

// takeStarted returns the number of requests that started (or ended
// before starting) since the last call.
func (s *scheduler) takeStarted() int {
	n := s.dequeued
	s.dequeued = 0
	return n
}

func (s *scheduler) idle() bool { return len(s.running) == 0 && len(s.waiting) == 0 }

// schedule ends cancelled sequences and decides the next step.
func (s *scheduler) schedule() *schedulerOutput {
	s.reap()
	out := &s.out
	out.chunks, out.copies = out.chunks[:0], out.copies[:0]
	out.numTokens, out.numLogits = 0, 0
	budget := s.maxTokens
	preempted := false

	// Decodes: one token each, oldest first.
	for i := 0; i < len(s.running) && budget > 0; i++ {
		q := s.running[i]
		if !q.decoding {
			continue
		}
		ok, err := s.reserve(q, len(q.tokens), &preempted)
		if err != nil {
			s.running = slices.Delete(s.running, i, i+1)
			i--
			s.finish(q, true, Event{Index: q.index, Token: -1, Final: true, Finish: FinishError, Err: err})
			continue
		}
		if !ok {
			break // q preempted itself: it was the last one
		}
		s.addChunk(q, 1)
		budget--
	}

	// Prompt chunks of the sequences already running.
	slots := 0
	for _, q := range s.running {
		slots += q.slots()
		if q.decoding || budget == 0 {
			continue
		}
		n := min(len(q.tokens)-q.computed, budget)
		s.addChunk(q, n)
		budget -= n
	}

	// Admissions, in order, while blocks, places and budget last.
	for !preempted && budget > 0 && len(s.waiting) > 0 {
		q := s.waiting[0]
		if slots+q.slots() > s.maxRunning {
			break
		}
		cached, err := s.mgr.Allocate(q.id, q.tokens)
		if errors.Is(err, kv.ErrOutOfBlocks) {
			break
		}
		s.waiting = slices.Delete(s.waiting, 0, 1)
		if err != nil {
			s.finish(q, false, Event{Index: q.index, Token: -1, Final: true, Finish: FinishError, Err: err})
			continue
		}
		if r := q.req; !r.started {
			r.started = true
			r.usage.CachedPromptTokens = cached
			s.dequeued++
			s.promptTokens += int64(len(r.r.Prompt))
		}
		q.computed = cached
		s.running = append(s.running, q)
		slots += q.slots()
		n := min(len(q.tokens)-q.computed, budget)
		s.addChunk(q, n)
		budget -= n
	}

	// Block tables last: Appends and preemptions above may have changed
	// them.
	for i := range out.chunks {
		c := &out.chunks[i]
		c.blocks = s.mgr.BlockTable(c.seq.id)[:ceilDiv(c.start+c.n, s.blockSize)]
	}
	return out
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func (s *scheduler) addChunk(q *sequence, n int) {
	c := scheduledChunk{seq: q, start: q.computed, n: n, logits: q.computed+n == len(q.tokens)}
	s.out.chunks = append(s.out.chunks, c)
	s.out.numTokens += n
	if c.logits {
		s.out.numLogits++
	}
}

// reserve makes sure q has KV slots for tokens [0, end), preempting the
// newest running sequences while the pool is out of blocks. It reports
// false if q itself had to be preempted.
func (s *scheduler) reserve(q *sequence, end int, preempted *bool) (bool, error) {
	for {
		n := end - s.mgr.Len(q.id)
		if n <= 0 {
			return true, nil
		}
		copies, err := s.mgr.Append(q.id, n)
		if err == nil {
			s.out.copies = append(s.out.copies, copies...)
			return true, nil
		}
		if !errors.Is(err, kv.ErrOutOfBlocks) {
			return false, err
		}
		victim := s.running[len(s.running)-1]
		s.preempt(victim)
		*preempted = true
		if victim == q {
			return false, nil
		}
	}
}

// preempt moves the last running sequence back to the front of the
// waiting queue, freeing its blocks. It will recompute everything it holds,
// sampled tokens included (full blocks may come back from the prefix
// cache), and then go on sampling.
func (s *scheduler) preempt(q *sequence) {
	s.running = s.running[:len(s.running)-1]
	if err := s.mgr.Free(q.id); err != nil {
		panic(fmt.Sprintf("engine: preempt: %v", err)) // a running sequence has blocks
	}
	q.computed, q.decoding = 0, false
	s.waiting = slices.Insert(s.waiting, 0, q)
	s.preemptions++
}

// reap ends the sequences whose request's context is done.
func (s *scheduler) reap() {
	s.running = s.dropCancelled(s.running, true)
	s.waiting = s.dropCancelled(s.waiting, false)
}

func (s *scheduler) dropCancelled(list []*sequence, allocated bool) []*sequence {
	return slices.DeleteFunc(list, func(q *sequence) bool {
		err := q.req.ctx.Err()
		if err != nil {
			s.finish(q, allocated, Event{Index: q.index, Token: -1, Final: true, Finish: FinishCancelled, Err: err})
		}
		return err != nil
	})
}

// cancelAll ends every sequence with "cancelled" and returns how many
// there were.
func (s *scheduler) cancelAll(err error) int {
	n := len(s.running) + len(s.waiting)
	for _, q := range s.running {
		s.finish(q, true, Event{Index: q.index, Token: -1, Final: true, Finish: FinishCancelled, Err: err})
	}
	for _, q := range s.waiting {
		s.finish(q, false, Event{Index: q.index, Token: -1, Final: true, Finish: FinishCancelled, Err: err})
	}
	s.running, s.waiting = nil, nil
	return n
}

// finish sends q's final event (and those of the samples it has yet to
// fork) and frees its blocks if it holds any. The caller takes q out of
// the running or waiting list.
func (s *scheduler) finish(q *sequence, allocated bool, final Event) {
	if allocated {
		if err := s.mgr.Free(q.id); err != nil {
			panic(fmt.Sprintf("engine: finish: %v", err))
		}
	}
	if r := q.req; !r.started {
		r.started = true
		s.dequeued++
	}
	q.req.emit(final)
	for i := range q.forks {
		ev := final
		ev.Index = q.index + 1 + i
		q.req.emit(ev)
	}
	q.forks = 0
}

// update records a step's results: it commits the computed tokens to the
// block tables and samples after each chunk that produced logits. logits
// holds out.numLogits rows of vocab values. If the forward pass failed,
// every sequence in the step ends with the error.
func (s *scheduler) update(out *schedulerOutput, logits []float32, vocab int, stepErr error) {
	s.steps++
	var done map[*sequence]bool // sequences that ended in this step
	end := func(q *sequence, final *Event) {
		if final != nil {
			s.finish(q, true, *final)
		} else if err := s.mgr.Free(q.id); err != nil {
			panic(fmt.Sprintf("engine: free: %v", err))
		}
		if done == nil {
			done = make(map[*sequence]bool)
		}
		done[q] = true
	}
	row := 0
	for i := range out.chunks {
		c := &out.chunks[i]
		q := c.seq
		if stepErr != nil {
			end(q, &Event{Index: q.index, Token: -1, Final: true, Finish: FinishError, Err: fmt.Errorf("engine: step: %w", stepErr)})
			continue
		}
		var l []float32
		if c.logits {
			l = logits[row*vocab : (row+1)*vocab : (row+1)*vocab]
			row++
		}
		if err := s.mgr.Commit(q.id, c.tokens()); err != nil {
			end(q, &Event{Index: q.index, Token: -1, Final: true, Finish: FinishError, Err: err})
			continue
		}
		q.computed += c.n
		if !c.logits {
			continue
		}
		q.decoding = true
		var kids []*sequence
		if q.forks > 0 {
			kids = s.fork(q) // before q samples: they share its prompt only
		}
		if !s.sample(q, l) {
			end(q, nil) // sample sent the final event
		}
		for _, k := range kids {
			if !s.sample(k, l) {
				end(k, nil)
			}
		}
	}
	if done != nil {
		s.running = slices.DeleteFunc(s.running, func(q *sequence) bool { return done[q] })
	}
}

// fork starts q's other samples as sequences sharing its blocks, placed
// after it in the running list. A sample whose fork fails ends with the
// error.
func (s *scheduler) fork(q *sequence) []*sequence {
	var kids []*sequence
	for i := range q.forks {
		cfg := q.req.r.Sampling
		index := q.index + 1 + i
		cfg.Seed += uint64(index)
		k := &sequence{
			id:       s.newID(),
			req:      q.req,
			index:    index,
			tokens:   append(make([]int, 0, cap(q.tokens)), q.tokens...),
			computed: q.computed,
			decoding: true,
			sampler:  NewSampler(cfg),
		}
		if err := s.mgr.Fork(q.id, k.id); err != nil {
			q.req.emit(Event{Index: index, Token: -1, Final: true, Finish: FinishError, Err: err})
			continue
		}
		kids = append(kids, k)
	}
	q.forks = 0
	at := slices.Index(s.running, q) + 1
	s.running = slices.Insert(s.running, at, kids...)
	return kids
}

// sample draws q's next token from its logits row and sends it. It returns
// false when that ends the sample: the caller frees it; the final event
// has been sent.
func (s *scheduler) sample(q *sequence, row []float32) bool {
	r := q.req
	l := row
	if len(r.r.LogitBias) > 0 {
		s.biased = append(s.biased[:0], row...)
		for id, b := range r.r.LogitBias { // ids checked by Submit
			s.biased[id] += b
		}
		l = s.biased
	}
	tok := q.sampler.Sample(l, q.tokens)
	q.generated++
	s.generated++
	r.usage.CompletionTokens++
	if r.r.IsEnd != nil && r.r.IsEnd(tok) {
		r.emit(Event{Index: q.index, Token: -1, Final: true, Finish: FinishStop})
		return false
	}
	ev := Event{Index: q.index, Token: tok}
	if k := r.r.Logprobs; k >= 0 {
		ev.Logprob, ev.Top = logprobs(l, tok, k)
	}
	q.tokens = append(q.tokens, tok)
	if q.generated >= r.r.MaxTokens {
		ev.Final, ev.Finish = true, FinishLength
	}
	r.emit(ev)
	return !ev.Final
}
