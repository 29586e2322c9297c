package engine

import (
	"context"

	"github.com/joule-llm/joule/kv"
)

// request is a submitted Request in flight. Only the loop goroutine
// touches it after Submit.
type request struct {
	ctx     context.Context
	r       Request
	arrival uint64 // submission order: FCFS rank of all its samples
	events  chan Event
	live    int // samples without a Final event yet
	usage   Usage
	started bool // its first sequence got KV blocks
}

// sequence is one sample of a request as the scheduler sees it.
//
// tokens holds the prompt, then every sampled token. The KV of
// tokens[:computed] is in the cache; the scheduler runs the rest. While
// decoding that is the last sampled token alone; after admission it is a
// prompt, which after a preemption includes the tokens generated before,
// so the sample resumes where it stopped.
type sequence struct {
	id        kv.SeqID
	req       *request
	index     int // sample index in the request
	tokens    []int
	computed  int
	decoding  bool // the prefill since the last admission is done
	forks     int  // samples to fork from this one when its prefill ends
	generated int  // tokens sampled
	sampler   *Sampler
}

// slots is the number of running places the sequence takes, counting the
// samples it will fork.
func (s *sequence) slots() int { return 1 + s.forks }

// emit sends an event. The channel was sized for every event the request
// can produce, so this never blocks.
func (r *request) emit(ev Event) {
	if ev.Final {
		ev.Usage = r.usage
	}
	r.events <- ev
	if ev.Final {
		r.live--
		if r.live == 0 {
			close(r.events)
		}
	}
}

// finishAll ends every sample of a request that never started.
func (r *request) finishAll(reason string, err error) {
	for i := range r.r.N {
		r.emit(Event{Index: i, Token: -1, Final: true, Finish: reason, Err: err})
	}
}
