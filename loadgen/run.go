package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Options shapes a run at one concurrency level.
type Options struct {
	// Concurrency is the number of clients, each with one request in
	// flight at a time.
	Concurrency int
	// Requests is how many requests the run sends in all. 0 means clients
	// keep starting requests until Duration has passed; the run then waits
	// for the ones in flight.
	Requests int
	Duration time.Duration
	// MaxTokens is each request's max_tokens.
	MaxTokens int
	// Retry sends a request again after a 429, once the Retry-After it
	// came with has passed. Without it the request counts as rejected and
	// the client goes on with its next one.
	Retry bool
}

func (o Options) check() error {
	switch {
	case o.Concurrency < 1:
		return fmt.Errorf("loadgen: concurrency %d: need at least 1", o.Concurrency)
	case o.Requests < 0 || o.Duration < 0:
		return errors.New("loadgen: negative request count or duration")
	case o.Requests == 0 && o.Duration == 0:
		return errors.New("loadgen: need a request count or a duration")
	case o.MaxTokens < 1:
		return fmt.Errorf("loadgen: max tokens %d: need at least 1", o.MaxTokens)
	}
	return nil
}

// Run replays o.Concurrency clients sending streaming completions of
// prompts from p to t, and summarises what they saw. It returns an error
// only for options it cannot run, or when ctx ends, with the summary of
// the requests finished by then.
func Run(ctx context.Context, t *Target, p *Prompts, o Options) (*Summary, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	client := t.Client
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// An idle connection kept per client: with fewer, requests would
		// pay for new connections under load.
		tr.MaxIdleConnsPerHost = o.Concurrency
		tr.MaxIdleConns = 0
		tr.DisableCompression = true
		tr.Proxy = nil
		client = &http.Client{Transport: tr}
		defer tr.CloseIdleConnections()
	}

	var (
		mu       sync.Mutex
		results  []Result
		issued   int
		deadline time.Time
	)
	// take claims the next request's slot, reporting false once the run
	// has sent all it should.
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil || (o.Requests > 0 && issued >= o.Requests) ||
			(o.Requests == 0 && !time.Now().Before(deadline)) {
			return 0, false
		}
		issued++
		return issued - 1, true
	}
	start := time.Now()
	deadline = start.Add(o.Duration)
	first := -1 // the result of the run's first request
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Go(func() {
			for {
				k, ok := take()
				if !ok {
					return
				}
				r := t.attempt(ctx, client, p.Next(), o)
				mu.Lock()
				if k == 0 {
					first = len(results)
				}
				results = append(results, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	s := summarize(results, o.Concurrency, time.Since(start))
	if first >= 0 && results[first].OK() {
		s.FirstTTFT = results[first].TTFT
	}
	s.Prompt, s.Shared, s.MaxTokens = p.Len(), p.Shared(), o.MaxTokens
	for _, r := range results {
		if r.OK() && r.Usage && r.OutputTokens < o.MaxTokens {
			s.Short++
		}
	}
	return s, ctx.Err()
}

// attempt sends a request, again after each 429 when o.Retry is set,
// timing it from the first attempt.
func (t *Target) attempt(ctx context.Context, client *http.Client, prompt []int, o Options) Result {
	var first time.Time
	rejected := 0
	for {
		r := t.send(ctx, client, prompt, o.MaxTokens)
		if first.IsZero() {
			first = r.Start
		}
		rejected += r.Rejected
		if r.Status != http.StatusTooManyRequests || !o.Retry {
			if !first.Equal(r.Start) && r.OK() {
				// Latencies as the client saw them, from the first attempt.
				wait := r.Start.Sub(first)
				r.TTFT += wait
				r.E2E += wait
				r.Start = first
			}
			r.Rejected = rejected
			return r
		}
		select {
		case <-ctx.Done():
			r.Rejected = rejected
			return r
		case <-time.After(r.RetryAfter):
		}
	}
}

// Summary is a run's outcome. Its JSON form has durations in
// milliseconds.
type Summary struct {
	Concurrency int
	Prompt      int // prompt tokens per request
	Shared      int // of which every prompt shares
	MaxTokens   int

	Requests  int // completed
	Errors    int // failed, not counting 429s
	Rejected  int // 429 answers, retried or not
	Short     int // completed with fewer tokens than MaxTokens
	Elapsed   time.Duration
	Output    int // output tokens of the completed requests
	PromptAll int // prompt tokens of the completed requests, per usage
	Cached    int // of which the server's prefix cache held

	RequestsPerS float64
	TokensPerS   float64 // output tokens per second, all clients together

	TTFT, ITL, E2E, TPOT Latency
	// FirstTTFT is the TTFT of the run's first request (0 if it failed):
	// with a shared prefix, the one that found nothing cached.
	FirstTTFT time.Duration
	// Split by whether usage reported cached prompt tokens.
	TTFTCached, TTFTUncached Latency

	FirstError string // the first failure's message, "" if none
}

// Latency summarises durations: their count, mean and percentiles.
type Latency struct {
	N                   int
	Mean, P50, P90, P99 time.Duration
	Max                 time.Duration
}

// NewLatency summarises ds; percentiles interpolate linearly between the
// nearest ranks, as numpy's do.
func NewLatency(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum float64
	for _, d := range s {
		sum += float64(d)
	}
	return Latency{
		N:    len(s),
		Mean: time.Duration(math.Round(sum / float64(len(s)))),
		P50:  percentile(s, 50),
		P90:  percentile(s, 90),
		P99:  percentile(s, 99),
		Max:  s[len(s)-1],
	}
}

// percentile returns the p-th percentile of sorted s.
func percentile(s []time.Duration, p float64) time.Duration {
	pos := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	frac := pos - float64(lo)
	return time.Duration(math.Round(float64(s[lo]) + frac*float64(s[hi]-s[lo])))
}

func summarize(results []Result, concurrency int, elapsed time.Duration) *Summary {
	s := &Summary{Concurrency: concurrency, Elapsed: elapsed}
	var ttft, itl, e2e, tpot, cached, uncached []time.Duration
	for _, r := range results {
		s.Rejected += r.Rejected
		if !r.OK() {
			if r.Status != http.StatusTooManyRequests {
				s.Errors++
			}
			if s.FirstError == "" {
				s.FirstError = r.Err.Error()
			}
			continue
		}
		s.Requests++
		s.Output += r.OutputTokens
		s.PromptAll += r.PromptTokens
		s.Cached += r.CachedTokens
		ttft = append(ttft, r.TTFT)
		itl = append(itl, r.ITL...)
		e2e = append(e2e, r.E2E)
		if r.OutputTokens > 1 {
			tpot = append(tpot, (r.E2E-r.TTFT)/time.Duration(r.OutputTokens-1))
		}
		if r.CachedTokens > 0 {
			cached = append(cached, r.TTFT)
		} else {
			uncached = append(uncached, r.TTFT)
		}
	}
	if sec := elapsed.Seconds(); sec > 0 {
		s.RequestsPerS = float64(s.Requests) / sec
		s.TokensPerS = float64(s.Output) / sec
	}
	s.TTFT, s.ITL, s.E2E, s.TPOT = NewLatency(ttft), NewLatency(itl), NewLatency(e2e), NewLatency(tpot)
	s.TTFTCached, s.TTFTUncached = NewLatency(cached), NewLatency(uncached)
	return s
}

// ms is a duration in milliseconds, rounded to microseconds.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func (l Latency) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		N    int     `json:"n"`
		Mean float64 `json:"mean_ms"`
		P50  float64 `json:"p50_ms"`
		P90  float64 `json:"p90_ms"`
		P99  float64 `json:"p99_ms"`
		Max  float64 `json:"max_ms"`
	}{l.N, ms(l.Mean), ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max)})
}

func (s *Summary) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Concurrency  int     `json:"concurrency"`
		Prompt       int     `json:"prompt_tokens"`
		Shared       int     `json:"shared_prefix"`
		MaxTokens    int     `json:"max_tokens"`
		Requests     int     `json:"requests"`
		Errors       int     `json:"errors"`
		Rejected     int     `json:"rejected"`
		Short        int     `json:"short"`
		Elapsed      float64 `json:"elapsed_s"`
		Output       int     `json:"output_tokens"`
		PromptAll    int     `json:"usage_prompt_tokens"`
		Cached       int     `json:"cached_tokens"`
		RequestsPerS float64 `json:"requests_per_s"`
		TokensPerS   float64 `json:"output_tokens_per_s"`
		TTFT         Latency `json:"ttft"`
		ITL          Latency `json:"itl"`
		E2E          Latency `json:"e2e"`
		TPOT         Latency `json:"tpot"`
		FirstTTFT    float64 `json:"first_ttft_ms"`
		TTFTCached   Latency `json:"ttft_cached"`
		TTFTUncached Latency `json:"ttft_uncached"`
		FirstError   string  `json:"first_error,omitempty"`
	}{s.Concurrency, s.Prompt, s.Shared, s.MaxTokens, s.Requests, s.Errors, s.Rejected, s.Short,
		s.Elapsed.Seconds(), s.Output, s.PromptAll, s.Cached, s.RequestsPerS, s.TokensPerS,
		s.TTFT, s.ITL, s.E2E, s.TPOT, ms(s.FirstTTFT), s.TTFTCached, s.TTFTUncached, s.FirstError})
}
