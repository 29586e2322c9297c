package loadgen

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// clock returns a now func that advances by a millisecond on each call.
func clock() func() time.Time {
	t := time.Unix(1000, 0)
	return func() time.Time {
		t = t.Add(time.Millisecond)
		return t
	}
}

func TestReadStream(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		arrivals int    // chunks carrying tokens
		output   int    // usage.completion_tokens; -1: no usage
		cached   int    // usage cached tokens
		err      string // "" for none
	}{
		{
			name: "completion with usage",
			in: `data: {"choices":[{"text":"a","index":0,"finish_reason":null}],"usage":null}

data: {"choices":[{"text":"b","index":0,"finish_reason":null}],"usage":null}

data: {"choices":[{"text":"","index":0,"finish_reason":"length"}],"usage":null}

data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8,"prompt_tokens_details":{"cached_tokens":4}}}

data: [DONE]

`,
			arrivals: 3, output: 3, cached: 4,
		},
		{
			name:     "CRLF, comments, other fields, data without a space",
			in:       ": keep-alive\r\n\r\nevent: message\r\nid: 7\r\ndata:{\"choices\":[{\"text\":\"x\"}]}\r\n\r\ndata: [DONE]\r\n\r\n",
			arrivals: 1, output: -1,
		},
		{
			name:     "an end without a token is no arrival",
			in:       "data: {\"choices\":[{\"text\":\"x\"}]}\n\ndata: {\"choices\":[{\"text\":\"\",\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
			arrivals: 1, output: -1,
		},
		{
			name:     "data split over lines",
			in:       "data: {\"choices\":\ndata: [{\"text\":\"x\"}]}\n\ndata: [DONE]\n\n",
			arrivals: 1, output: -1,
		},
		{
			name: "error event",
			in:   "data: {\"choices\":[{\"text\":\"x\"}]}\n\ndata: {\"error\":{\"message\":\"the engine failed\",\"type\":\"server_error\"}}\n\ndata: [DONE]\n\n",
			err:  "the engine failed",
		},
		{
			name: "no [DONE]",
			in:   "data: {\"choices\":[{\"text\":\"x\"}]}\n\n",
			err:  "before [DONE]",
		},
		{
			name: "[DONE] without its blank line",
			in:   "data: {\"choices\":[{\"text\":\"x\"}]}\n\ndata: [DONE]\n",
			err:  "before [DONE]",
		},
		{
			name: "bad JSON",
			in:   "data: {\"choices\":[{\"text\":\n\ndata: [DONE]\n\n",
			err:  "bad stream event",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := readStream(strings.NewReader(tc.in), clock())
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.arrivals) != tc.arrivals {
				t.Errorf("%d arrivals, want %d", len(s.arrivals), tc.arrivals)
			}
			for i := 1; i < len(s.arrivals); i++ {
				if !s.arrivals[i].After(s.arrivals[i-1]) {
					t.Errorf("arrival %d not after the one before", i)
				}
			}
			switch {
			case tc.output < 0 && s.usage != nil:
				t.Errorf("usage %+v, want none", s.usage)
			case tc.output >= 0 && s.usage == nil:
				t.Errorf("no usage")
			case tc.output >= 0 && (s.usage.CompletionTokens != tc.output || s.usage.PromptTokensDetails == nil || s.usage.PromptTokensDetails.CachedTokens != tc.cached):
				t.Errorf("usage %+v, want %d tokens, %d cached", s.usage, tc.output, tc.cached)
			}
		})
	}
}

func FuzzReadStream(f *testing.F) {
	f.Add("data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: [DONE]\n\n")
	f.Add("data: {\"choices\":[],\"usage\":{\"completion_tokens\":3}}\r\n\r\ndata: [DONE]\r\n\r\n")
	f.Add("data: {\"error\":{\"message\":\"x\"}}\n\n")
	f.Add(": c\n\ndata:\ndata:\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := readStream(strings.NewReader(in), clock())
		if err == nil && !strings.Contains(in, "[DONE]") {
			t.Fatalf("a stream without [DONE] was accepted: %q", in)
		}
		if len(s.arrivals) > strings.Count(in, "\n") {
			t.Fatalf("%d arrivals from %d lines", len(s.arrivals), strings.Count(in, "\n"))
		}
	})
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		h    string
		want time.Duration
	}{
		{"", time.Second},
		{"0", 0},
		{"3", 3 * time.Second},
		{" 2 ", 2 * time.Second},
		{"-4", 0},
		{"3600", time.Minute},
		{"soon", time.Second},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second},
		{now.Add(-5 * time.Second).Format(http.TimeFormat), 0},
	}
	for _, tc := range tests {
		if got := retryAfter(tc.h, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"http://h:1":      "http://h:1/v1/completions",
		"http://h:1/":     "http://h:1/v1/completions",
		"http://h:1/v1":   "http://h:1/v1/completions",
		"http://h:1/v1/":  "http://h:1/v1/completions",
		"http://h/api/v1": "http://h/api/v1/completions",
	} {
		if got := endpoint(in); got != want {
			t.Errorf("endpoint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"error":{"message":"too busy","type":"rate_limit_error"}}`, "too busy"},
		{"plain failure\n", "plain failure"},
		{"", "(no body)"},
		{strings.Repeat("x", 300), strings.Repeat("x", 200) + "..."},
	}
	for _, tc := range tests {
		if got := errorMessage(strings.NewReader(tc.body)); got != tc.want {
			t.Errorf("errorMessage(%.20q) = %q, want %q", tc.body, got, tc.want)
		}
	}
}
