package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Target is an OpenAI-compatible server and how to ask it for completions.
type Target struct {
	// URL is the server's base URL, such as http://127.0.0.1:8080; a
	// trailing /v1 may be given or not.
	URL string
	// APIKey, when set, is sent as "Authorization: Bearer KEY".
	APIKey string
	// Model is the request's "model" field; "" leaves it out.
	Model string
	// EOS lists end-of-generation token ids. Each gets a logit bias of
	// -100, so that greedy decoding never ends a request early.
	EOS []int
	// IgnoreEOS also sends ignore_eos and min_tokens, which vLLM and
	// llama-server honour and Joule ignores. OpenAI's own API refuses
	// them.
	IgnoreEOS bool
	// Client sends the requests. nil means a client Run makes with an idle
	// connection kept for each of its clients.
	Client *http.Client
}

// Result is the outcome of one request.
type Result struct {
	Start        time.Time       // when the (first) attempt was sent
	TTFT         time.Duration   // to the first chunk carrying a token
	ITL          []time.Duration // between consecutive chunks carrying tokens
	E2E          time.Duration   // to the end of the stream
	OutputTokens int             // usage.completion_tokens, or the chunks when the server sent no usage
	PromptTokens int             // usage.prompt_tokens
	CachedTokens int             // usage.prompt_tokens_details.cached_tokens
	Usage        bool            // the stream carried a usage chunk
	Status       int             // HTTP status of the last attempt; 0 if none arrived
	RetryAfter   time.Duration   // with Status 429: how long the server asked to wait
	Rejected     int             // 429 answers, retries included
	Err          error           // why the request failed, if it did (a 429 included)
}

// OK reports whether the request completed.
func (r *Result) OK() bool { return r.Err == nil }

// completionRequest is the body of POST /v1/completions.
type completionRequest struct {
	Model         string             `json:"model,omitempty"`
	Prompt        []int              `json:"prompt"`
	MaxTokens     int                `json:"max_tokens"`
	Temperature   float64            `json:"temperature"`
	Stream        bool               `json:"stream"`
	StreamOptions streamOptions      `json:"stream_options"`
	LogitBias     map[string]float64 `json:"logit_bias,omitempty"`
	IgnoreEOS     bool               `json:"ignore_eos,omitempty"`
	MinTokens     int                `json:"min_tokens,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// endpoint returns the completions URL under the base URL u.
func endpoint(u string) string {
	u = strings.TrimRight(u, "/")
	if !strings.HasSuffix(u, "/v1") {
		u += "/v1"
	}
	return u + "/completions"
}

// ErrRejected is wrapped by a Result's error when the server answered 429.
var ErrRejected = errors.New("loadgen: rejected with 429 Too Many Requests")

// Send makes one attempt at a streaming completion of prompt, greedy, of
// maxTokens tokens, and measures it. A transport failure, a status other
// than 200, an error event in the stream and a stream that ends before
// [DONE] are failures, reported in the Result's Err.
func (t *Target) Send(ctx context.Context, prompt []int, maxTokens int) Result {
	return t.send(ctx, t.Client, prompt, maxTokens)
}

func (t *Target) send(ctx context.Context, client *http.Client, prompt []int, maxTokens int) Result {
	body := completionRequest{
		Model:         t.Model,
		Prompt:        prompt,
		MaxTokens:     maxTokens,
		Stream:        true,
		StreamOptions: streamOptions{IncludeUsage: true},
	}
	if len(t.EOS) > 0 {
		body.LogitBias = make(map[string]float64, len(t.EOS))
		for _, id := range t.EOS {
			body.LogitBias[strconv.Itoa(id)] = -100
		}
	}
	if t.IgnoreEOS {
		body.IgnoreEOS, body.MinTokens = true, maxTokens
	}
	data, err := json.Marshal(body)
	if err != nil {
		return Result{Start: time.Now(), Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint(t.URL), bytes.NewReader(data))
	if err != nil {
		return Result{Start: time.Now(), Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if t.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+t.APIKey)
	}
	if client == nil {
		client = http.DefaultClient
	}

	start := time.Now()
	res := Result{Start: start}
	resp, err := client.Do(req)
	if err != nil {
		res.Err = err
		return res
	}
	defer func() {
		// Reading to the end lets the connection be used again.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	res.Status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		msg := errorMessage(resp.Body)
		if resp.StatusCode == http.StatusTooManyRequests {
			res.Rejected = 1
			res.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
			res.Err = fmt.Errorf("%w: %s", ErrRejected, msg)
			return res
		}
		res.Err = fmt.Errorf("loadgen: %s: %s", resp.Status, msg)
		return res
	}
	s, err := readStream(resp.Body, time.Now)
	res.E2E = time.Since(start)
	if err != nil {
		res.Err = err
		return res
	}
	if len(s.arrivals) == 0 {
		res.Err = errors.New("loadgen: the stream carried no tokens")
		return res
	}
	res.TTFT = s.arrivals[0].Sub(start)
	res.ITL = make([]time.Duration, 0, len(s.arrivals)-1)
	for i := 1; i < len(s.arrivals); i++ {
		res.ITL = append(res.ITL, s.arrivals[i].Sub(s.arrivals[i-1]))
	}
	res.OutputTokens = len(s.arrivals)
	if u := s.usage; u != nil {
		res.Usage = true
		res.OutputTokens = u.CompletionTokens
		res.PromptTokens = u.PromptTokens
		if u.PromptTokensDetails != nil {
			res.CachedTokens = u.PromptTokensDetails.CachedTokens
		}
	}
	return res
}

// errorMessage returns the message of an OpenAI-shaped error body, or
// the start of the body as it is.
func errorMessage(r io.Reader) string {
	data, _ := io.ReadAll(io.LimitReader(r, 4096))
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		s = "(no body)"
	}
	return s
}

// retryAfter reads a Retry-After header: seconds or an HTTP date. Absent
// or unreadable, it is one second; it is capped at a minute, so that a
// benchmark never stalls for long on one answer.
func retryAfter(h string, now time.Time) time.Duration {
	const def, most = time.Second, time.Minute
	h = strings.TrimSpace(h)
	if h == "" {
		return def
	}
	var d time.Duration
	if n, err := strconv.Atoi(h); err == nil {
		d = time.Duration(max(n, 0)) * time.Second
	} else if at, err := http.ParseTime(h); err == nil {
		d = max(at.Sub(now), 0)
	} else {
		return def
	}
	return min(d, most)
}

// usageJSON is a completion's usage object.
type usageJSON struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

// chunk is one streamed completion event, or an error event.
type chunk struct {
	Choices []struct {
		Text         string  `json:"text"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usageJSON `json:"usage"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// streamed is what a completion stream told.
type streamed struct {
	arrivals []time.Time // when each chunk carrying a token was read
	usage    *usageJSON
}

// maxEvent bounds one server-sent event's data.
const maxEvent = 8 << 20

// readStream reads a server-sent event stream of completion chunks until
// its [DONE], noting with now when each chunk carrying a token arrived. A
// chunk carries a token when it has text, or finishes with "length": the
// last token, whose text may be empty.
func readStream(r io.Reader, now func() time.Time) (streamed, error) {
	var s streamed
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEvent)
	var data []byte
	pending := false // data lines seen since the last dispatch
	for sc.Scan() {
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if len(line) > 0 {
			// Only data fields matter; comments (":...") and other
			// fields (event, id, retry) are skipped.
			if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
				v = bytes.TrimPrefix(v, []byte(" "))
				if pending {
					data = append(data, '\n')
				}
				data = append(data, v...)
				if len(data) > maxEvent {
					return s, errors.New("loadgen: stream event too large")
				}
				pending = true
			}
			continue
		}
		if !pending {
			continue
		}
		// A blank line dispatches the event.
		at := now()
		pending = false
		if string(data) == "[DONE]" {
			return s, nil
		}
		var c chunk
		if err := json.Unmarshal(data, &c); err != nil {
			return s, fmt.Errorf("loadgen: bad stream event %.100q: %v", data, err)
		}
		data = data[:0]
		if c.Error != nil {
			return s, fmt.Errorf("loadgen: error in the stream: %s", c.Error.Message)
		}
		if c.Usage != nil {
			s.usage = c.Usage
		}
		for _, ch := range c.Choices {
			if ch.Text != "" || (ch.FinishReason != nil && *ch.FinishReason == "length") {
				s.arrivals = append(s.arrivals, at)
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		return s, fmt.Errorf("loadgen: reading the stream: %w", err)
	}
	return s, errors.New("loadgen: the stream ended before [DONE]")
}
