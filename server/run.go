package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/joule-llm/joule/engine"
	"github.com/joule-llm/joule/tokenizer"
)

// tokenInfo is a generated token with its logprobs, for responses that
// ask for them.
type tokenInfo struct {
	id      int
	logprob float32
	top     []engine.TokenLogprob
	offset  int // characters of the choice's text before this token
}

// delta is what one choice gained from one engine event: text to pass on
// (after stop strings), the tokens behind it when logprobs are wanted,
// and the finish reason when the choice ended.
type delta struct {
	choice int
	text   string
	tokens []tokenInfo
	finish string
}

// usage is a request's token counts.
type usage struct {
	prompt, cached, completion int
}

type choiceState struct {
	dec      *tokenizer.Decoder
	stop     stopper
	done     bool
	received int       // tokens received from the engine
	chars    int       // characters of text so far, echo included
	last     time.Time // when the previous token arrived
}

type promptState struct {
	cancel   context.CancelFunc
	open     int // choices not done
	usage    engine.Usage
	hasFinal bool
}

type taggedEvent struct {
	prompt int
	ev     engine.Event
}

// A generation is a job submitted to the engine, its events merged from
// one engine request per prompt.
type generation struct {
	s       *Server
	j       *job
	ctx     context.Context
	start   time.Time
	prompts []promptState
	choices []choiceState
	events  chan taggedEvent
	done    chan struct{} // closed when the consumer stops reading events
	first   bool          // a token has arrived
}

// submit sends one engine request per prompt of j. It fails before
// anything is generated if the engine refuses any of them.
func (s *Server) submit(ctx context.Context, j *job, start time.Time) (*generation, *apiError) {
	g := &generation{
		s: s, j: j, ctx: ctx, start: start,
		prompts: make([]promptState, len(j.prompts)),
		choices: make([]choiceState, len(j.prompts)*j.n),
		events:  make(chan taggedEvent),
		done:    make(chan struct{}),
	}
	chans := make([]<-chan engine.Event, len(j.prompts))
	for i, p := range j.prompts {
		pctx, cancel := context.WithCancel(ctx)
		ch, err := s.eng.Submit(pctx, engine.Request{
			Prompt:    p.tokens,
			MaxTokens: p.maxTokens,
			Sampling:  j.sampling,
			N:         j.n,
			IsEnd:     s.tok.IsEOG,
			LogitBias: j.bias,
			Logprobs:  j.logprobs,
		})
		if err != nil {
			cancel()
			for k := range i {
				g.prompts[k].cancel()
				go drain(chans[k])
			}
			return nil, s.submitError(err)
		}
		chans[i] = ch
		g.prompts[i] = promptState{cancel: cancel, open: j.n}
	}
	for i := range g.choices {
		g.choices[i].dec = s.tok.NewContinuationDecoder()
		g.choices[i].stop.stops = j.stops
		if j.echo {
			g.choices[i].chars = utf8.RuneCountInString(j.prompts[i/j.n].text)
		}
	}
	var wg sync.WaitGroup
	for i, ch := range chans {
		wg.Go(func() {
			for ev := range ch {
				select {
				case g.events <- taggedEvent{i, ev}:
				case <-g.done:
					// Nobody reads any more; keep taking events so the
					// engine can finish the request.
				}
			}
		})
	}
	go func() {
		wg.Wait()
		close(g.events)
	}()
	return g, nil
}

func drain(ch <-chan engine.Event) {
	for range ch {
	}
}

func (s *Server) submitError(err error) *apiError {
	switch {
	case errors.Is(err, engine.ErrQueueFull):
		s.metrics.rejected.WithLabelValues("queue_full").Inc()
		return &apiError{Status: http.StatusTooManyRequests, Type: typeRateLimit, Code: "rate_limit_exceeded", RetryAfter: 1,
			Message: "the server is busy: too many requests are waiting; retry later"}
	case errors.Is(err, engine.ErrTooLong):
		s.metrics.rejected.WithLabelValues("too_long").Inc()
		return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: "max_tokens", Code: "context_length_exceeded", Message: err.Error()}
	case errors.Is(err, engine.ErrClosed):
		s.metrics.rejected.WithLabelValues("closed").Inc()
		return unavailable("the server is shutting down")
	}
	// Submit's other errors are requests it cannot take as they are (more
	// samples than run at once, for one), or a client already gone.
	return invalid("", "%v", err)
}

// wait passes each choice's progress to emit until every choice has ended,
// and returns the request's usage. An error from emit (a client that went
// away) cancels the requests; an engine error or shutdown ends the wait
// with the error to report.
func (g *generation) wait(emit func(delta) error) (usage, *apiError) {
	defer close(g.done)
	defer g.cancelAll()
	if g.j.echo {
		for i := range g.choices {
			if err := emit(delta{choice: i, text: g.j.prompts[i/g.j.n].text}); err != nil {
				return usage{}, nil
			}
		}
	}
	var failed *apiError
	emitting := true
	for te := range g.events {
		ev := te.ev
		ps := &g.prompts[te.prompt]
		if ev.Final {
			ps.usage, ps.hasFinal = ev.Usage, true
		}
		ci := te.prompt*g.j.n + ev.Index
		if ev.Index < 0 || ev.Index >= g.j.n {
			continue
		}
		c := &g.choices[ci]
		if c.done || failed != nil || !emitting {
			continue
		}
		d, err := g.step(ci, c, ev)
		if err != nil {
			failed = err
			g.cancelAll()
			continue
		}
		if d.finish != "" {
			c.done = true
			g.s.metrics.finished(d.finish)
			if ps.open--; ps.open == 0 {
				ps.cancel() // stop strings may end choices before the engine does
			}
		}
		if d.text != "" || len(d.tokens) > 0 || d.finish != "" {
			if emit(d) != nil {
				emitting = false
				g.cancelAll()
			}
		}
	}
	g.s.metrics.e2e.Observe(time.Since(g.start).Seconds())
	var u usage
	for i, p := range g.j.prompts {
		ps := g.prompts[i]
		u.prompt += len(p.tokens)
		u.cached += ps.usage.CachedPromptTokens
		completion := ps.usage.CompletionTokens
		if !ps.hasFinal {
			completion = 0
			for k := range g.j.n {
				completion += g.choices[i*g.j.n+k].received
			}
		}
		u.completion += completion
	}
	return u, failed
}

func (g *generation) cancelAll() {
	for _, p := range g.prompts {
		p.cancel()
	}
}

// step applies one engine event to choice c.
func (g *generation) step(ci int, c *choiceState, ev engine.Event) (delta, *apiError) {
	d := delta{choice: ci}
	if ev.Final && ev.Finish == engine.FinishError {
		g.s.metrics.finished("error")
		err := ev.Err
		if err == nil {
			err = errors.New("the engine failed without saying why")
		}
		return d, internal(err)
	}
	hasToken := ev.Token >= 0 && (!ev.Final || ev.Finish == engine.FinishLength)
	if hasToken {
		now := time.Now()
		if !g.first {
			g.first = true
			g.s.metrics.ttft.Observe(now.Sub(g.start).Seconds())
		}
		if c.received > 0 {
			gap := now.Sub(c.last).Seconds()
			g.s.metrics.itl.Observe(gap)
			g.s.metrics.tpot.Observe(gap)
		}
		c.last = now
		c.received++
		if g.j.logprobs >= 0 {
			d.tokens = []tokenInfo{{id: ev.Token, logprob: ev.Logprob, top: ev.Top, offset: c.chars}}
		}
		text, stopped := c.stop.push(c.dec.Add(ev.Token))
		d.text = text
		c.chars += utf8.RuneCountInString(text)
		if stopped {
			d.finish = "stop"
			return d, nil
		}
	}
	if !ev.Final {
		return d, nil
	}
	switch ev.Finish {
	case engine.FinishStop, engine.FinishLength:
		// The end of the text: bytes of an unfinished character, and text
		// held back in case a stop string began there.
		rest, stopped := c.stop.push(c.dec.Flush())
		if !stopped {
			rest += c.stop.flush()
		}
		d.text += rest
		d.finish = ev.Finish
		if stopped {
			d.finish = "stop"
		}
		return d, nil
	case engine.FinishCancelled:
		if g.ctx.Err() != nil {
			// The client went away; there is no one to answer.
			d.finish = "cancelled"
			return d, nil
		}
		return d, unavailable("the server is shutting down and ended the request")
	}
	return d, internal(errors.New("the engine ended a sample for an unknown reason " + strings.TrimSpace(ev.Finish)))
}
