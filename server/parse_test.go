package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/joule-llm/joule/engine"
	"github.com/joule-llm/joule/model/llamatest"
)

func TestStopper(t *testing.T) {
	tests := []struct {
		stops  []string
		chunks []string
		want   []string // what push passes on, chunk by chunk
		stop   bool
	}{
		{nil, []string{"ab", "c"}, []string{"ab", "c"}, false},
		{[]string{"xyz"}, []string{"ab", "cx", "y", "q"}, []string{"ab", "c", "", "xyq"}, false},
		{[]string{"xyz"}, []string{"ab", "cx", "y", "zq"}, []string{"ab", "c", "", ""}, true},
		{[]string{"\n\n", "END"}, []string{"one\n", "two E", "N", "D!"}, []string{"one", "\ntwo ", "", ""}, true},
		{[]string{"aa"}, []string{"ba", "a"}, []string{"b", ""}, true},
		{[]string{"abc", "b"}, []string{"xab"}, []string{"xa"}, true}, // the earliest match wins
		{[]string{"é"}, []string{"caf", "é au lait"}, []string{"caf", ""}, true},
	}
	for _, tt := range tests {
		s := stopper{stops: tt.stops}
		var got []string
		stopped := false
		for _, c := range tt.chunks {
			out, st := s.push(c)
			got = append(got, out)
			if st {
				stopped = true
				break
			}
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || stopped != tt.stop {
			t.Errorf("stops %q chunks %q: got %q stopped %v, want %q %v", tt.stops, tt.chunks, got, stopped, tt.want, tt.stop)
		}
	}
}

// Whatever the chunking, the text passed on is the text up to the first
// stop string, or all of it.
func FuzzStopper(f *testing.F) {
	f.Add("hello world\n\nbye", "\n\n", "wor", uint8(3))
	f.Add("aaaa", "aa", "", uint8(1))
	f.Fuzz(func(t *testing.T, text, stop1, stop2 string, step uint8) {
		var stops []string
		for _, s := range []string{stop1, stop2} {
			if s != "" {
				stops = append(stops, s)
			}
		}
		want, wantStop := text, false
		first := -1
		for _, s := range stops {
			if i := strings.Index(text, s); i >= 0 && (first < 0 || i < first) {
				first = i
			}
		}
		if first >= 0 {
			want, wantStop = text[:first], true
		}
		n := int(step%7) + 1
		st := stopper{stops: stops}
		var got strings.Builder
		stopped := false
		for i := 0; i < len(text) && !stopped; i += n {
			out, s := st.push(text[i:min(i+n, len(text))])
			got.WriteString(out)
			stopped = s
		}
		if !stopped {
			got.WriteString(st.flush())
		}
		if got.String() != want || stopped != wantStop {
			t.Fatalf("text %q stops %q chunk %d: got %q stopped %v, want %q %v", text, stops, n, got.String(), stopped, want, wantStop)
		}
	})
}

// fuzzServer is a Server whose engine is never started: request
// validation does not need it.
func fuzzServer(f *testing.F, cfg Config) *Server {
	ld := randomModel(f, llamatest.RandomConfig{Seed: 9, Ctx: 64})
	e, err := engine.New(ld.m, engine.Config{Threads: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { e.Close(context.Background()) })
	s, err := New(e, ld.tok, ModelInfo{ID: testModelID, ContextLength: 64}, cfg)
	if err != nil {
		f.Fatal(err)
	}
	return s
}

// Any request body is either refused with a 4xx naming the problem or
// becomes a job within the limits.
func FuzzRequests(f *testing.F) {
	s := fuzzServer(f, Config{ChatTemplate: "chatml", MaxBodyBytes: 1 << 16})
	for _, seed := range []string{
		`{"prompt": "hi", "max_tokens": 5, "n": 2, "stop": ["a", "b"], "logprobs": 3}`,
		`{"prompt": ["a", "b"], "echo": true, "logit_bias": {"7": 5}}`,
		`{"prompt": [[1, 2], [3]], "temperature": 0.5, "top_p": 0}`,
		`{"prompt": [1, 2, 3], "stream": true, "stream_options": {"include_usage": true}}`,
		`{"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 3, "logprobs": true, "top_logprobs": 2}`,
		`{"messages": [{"role": "system", "content": [{"type": "text", "text": "x"}]}], "seed": -1}`,
		`{"prompt": null, "max_tokens": 1e3}`,
		`{"messages": [{"role": "tool"}]}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, chat := range []bool{false, true} {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			w := httptest.NewRecorder()
			var j *job
			var aerr *apiError
			if chat {
				var req chatRequest
				if aerr = decodeJSON(r, w, s.cfg.MaxBodyBytes, &req); aerr == nil {
					j, aerr = s.chatJob(&req)
				}
			} else {
				var req completionRequest
				if aerr = decodeJSON(r, w, s.cfg.MaxBodyBytes, &req); aerr == nil {
					j, aerr = s.completionJob(&req)
				}
			}
			if aerr != nil {
				if aerr.Status < 400 || aerr.Status >= 500 || aerr.Message == "" || aerr.Type == "" {
					t.Fatalf("bad error %+v", aerr)
				}
				continue
			}
			if j.n < 1 || j.n > s.cfg.MaxN || len(j.prompts) == 0 || j.logprobs > maxLogprobs {
				t.Fatalf("job out of limits: %+v", j)
			}
			for _, p := range j.prompts {
				if len(p.tokens) == 0 || p.maxTokens < 1 || len(p.tokens)+p.maxTokens > s.info.ContextLength {
					t.Fatalf("prompt of %d tokens with %d to generate in a context of %d", len(p.tokens), p.maxTokens, s.info.ContextLength)
				}
				for _, id := range p.tokens {
					if id < 0 || id >= s.vocab {
						t.Fatalf("token %d outside the vocabulary", id)
					}
				}
			}
		}
	})
}
