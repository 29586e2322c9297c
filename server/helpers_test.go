package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/joule-llm/joule/engine"
	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
	"github.com/joule-llm/joule/tokenizer"
)

// loaded is a model file opened for a test.
type loaded struct {
	m   *model.Model
	tok *tokenizer.Tokenizer
}

// storiesPath returns ../shared/models/stories260K.gguf, found from the
// module root, or skips the test.
func storiesPath(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("go.mod not found above the test directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "models", "stories260K.gguf")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("stories260K.gguf not available (%v); skipping", err)
	}
	return p
}

func load(t testing.TB, path string) loaded {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	m, err := model.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return loaded{m, tok}
}

// randomModel writes and loads a random llama model.
func randomModel(t testing.TB, cfg llamatest.RandomConfig) loaded {
	t.Helper()
	path := filepath.Join(t.TempDir(), "random.gguf")
	var buf bytes.Buffer
	if err := llamatest.WriteRandomLlama(&buf, cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return load(t, path)
}

// testServer is a Server on a real engine behind a loopback HTTP server.
type testServer struct {
	*Server
	ld     loaded
	eng    *engine.Engine
	http   *httptest.Server
	client openai.Client
}

const testModelID = "test-model"

func start(t testing.TB, ld loaded, ecfg engine.Config, cfg Config) *testServer {
	t.Helper()
	if ecfg.Threads == 0 {
		ecfg.Threads = 2
	}
	e, err := engine.New(ld.m, ecfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Start()
	s, err := New(e, ld.tok, ModelInfo{ID: testModelID, ContextLength: e.Config().ContextLength}, cfg)
	if err != nil {
		e.Close(context.Background())
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("closing the engine: %v", err)
		}
	})
	opts := []option.RequestOption{option.WithBaseURL(hs.URL + "/v1/"), option.WithMaxRetries(0)}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	} else {
		opts = append(opts, option.WithAPIKey("unused"))
	}
	return &testServer{Server: s, ld: ld, eng: e, http: hs, client: openai.NewClient(opts...)}
}

// post sends body (a string or a value to encode) to path and returns the
// response with its body read.
func (ts *testServer) post(t testing.TB, path string, body any, header ...string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case string:
		r = bytes.NewReader([]byte(b))
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(http.MethodPost, ts.http.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

func (ts *testServer) get(t testing.TB, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.http.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// errorBody decodes an OpenAI error response.
type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func decodeError(t testing.TB, data []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(data, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error body (%v): %s", err, data)
	}
	return e
}

// generate is the single-sequence reference: engine.Generate, greedy, on
// its own state, returning the generated tokens.
func generate(t testing.TB, ld loaded, prompt []int, maxTokens int) []int {
	t.Helper()
	st, err := ld.m.NewState(ld.m.Config.ContextLength, tensor.F16)
	if err != nil {
		t.Fatal(err)
	}
	p := tensor.NewPool(1)
	defer p.Close()
	var out []int
	_, err = engine.Generate(context.Background(), ld.m, p, st, prompt, engine.GenerateConfig{MaxTokens: maxTokens, IsEnd: ld.tok.IsEOG},
		func(tok int) error { out = append(out, tok); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// continuation decodes generated tokens as the server does.
func continuation(tok *tokenizer.Tokenizer, ids []int) string {
	d := tok.NewContinuationDecoder()
	var b bytes.Buffer
	for _, id := range ids {
		b.WriteString(d.Add(id))
	}
	b.WriteString(d.Flush())
	return b.String()
}

func sleep() { time.Sleep(10 * time.Millisecond) }

// viaJSON returns s as it reads after a trip through JSON.
func viaJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	json.Unmarshal(b, &out)
	return out
}
