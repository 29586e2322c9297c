package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/joule-llm/joule/engine"
	"github.com/joule-llm/joule/tokenizer"
)

// ModelInfo describes the served model.
type ModelInfo struct {
	// ID is the name clients pass as "model" and /v1/models lists. A
	// request naming another model is answered 404; one naming none is
	// served.
	ID string
	// Created is reported as the model's creation time (e.g. the file's
	// modification time); zero means when the server was made.
	Created time.Time
	// ContextLength is the engine's per-sequence context: prompt plus
	// max_tokens must fit in it. 0 leaves the check to the engine.
	ContextLength int
	// ChatTemplate is the model's own tokenizer.chat_template, "" if none.
	// It is only used to explain, and suggest a fix, when chat requests
	// cannot be served.
	ChatTemplate string
}

// Config holds the server's settings. The zero value is usable.
type Config struct {
	// APIKey, when set, is required as "Authorization: Bearer KEY" on /v1/
	// endpoints.
	APIKey string
	// ChatTemplate names the built-in chat format (see ChatTemplates) that
	// renders chat messages. It takes precedence over RenderChat.
	ChatTemplate string
	// RenderChat, when set and ChatTemplate is not, renders chat messages
	// into prompt text ending where the assistant's reply begins: the
	// hook for the model's own template. With neither set, chat requests
	// are refused with an explanation.
	RenderChat func(msgs []ChatMessage) (string, error)
	// MaxBodyBytes limits a request body; 0 means 8 MiB.
	MaxBodyBytes int64
	// MaxN is the largest n a request may ask for; 0 means 16.
	MaxN int
	// WriteTimeout bounds each write of a streamed response, so that a
	// client that stops reading is dropped and its request ended; 0 means
	// 30 seconds.
	WriteTimeout time.Duration
}

// Server answers the OpenAI-compatible API for one model served by an
// engine.
type Server struct {
	eng         generator
	tok         *tokenizer.Tokenizer
	info        ModelInfo
	cfg         Config
	chat        chatFormat // nil: chat requests are refused
	vocab       int
	fingerprint string
	metrics     *metrics
	handler     http.Handler
	draining    atomic.Bool
}

// generator is what the server needs of the engine.
type generator interface {
	Submit(ctx context.Context, r engine.Request) (<-chan engine.Event, error)
	Stats() engine.Stats
}

// New returns a Server for the model that e serves and tok tokenizes. e
// must be started (and is closed) by the caller.
func New(e *engine.Engine, tok *tokenizer.Tokenizer, info ModelInfo, cfg Config) (*Server, error) {
	if e == nil {
		return nil, errors.New("server: an engine is required")
	}
	return newServer(e, tok, info, cfg)
}

func newServer(e generator, tok *tokenizer.Tokenizer, info ModelInfo, cfg Config) (*Server, error) {
	if tok == nil {
		return nil, errors.New("server: an engine and a tokenizer are required")
	}
	if info.ID == "" {
		return nil, errors.New("server: the model needs an ID")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 8 << 20
	}
	if cfg.MaxN <= 0 {
		cfg.MaxN = 16
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if info.Created.IsZero() {
		info.Created = time.Now()
	}
	s := &Server{eng: e, tok: tok, info: info, cfg: cfg, vocab: tok.Len()}
	if cfg.ChatTemplate != "" {
		f, ok := chatFormats[cfg.ChatTemplate]
		if !ok {
			return nil, fmt.Errorf("server: unknown chat template %q (built-in: %s)", cfg.ChatTemplate, strings.Join(ChatTemplates(), ", "))
		}
		s.chat = f
	} else if cfg.RenderChat != nil {
		render := cfg.RenderChat
		s.chat = func(msgs []message, _, _ string) (string, error) {
			cm := make([]ChatMessage, len(msgs))
			for i, m := range msgs {
				cm[i] = ChatMessage{Role: m.role, Content: m.content}
			}
			return render(cm)
		}
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d\x00%s", info.ID, info.ContextLength, s.vocab, cfg.ChatTemplate))
	s.fingerprint = "fp_" + hex.EncodeToString(sum[:5])
	s.metrics = newMetrics(info.ID, e.Stats)

	mux := http.NewServeMux()
	api := func(name string, method string, h http.HandlerFunc) http.Handler {
		return s.count(name, s.allow(method, s.auth(s.serving(h))))
	}
	mux.Handle("/v1/completions", api("completions", http.MethodPost, s.handleCompletions))
	mux.Handle("/v1/chat/completions", api("chat_completions", http.MethodPost, s.handleChat))
	mux.Handle("/v1/models", s.count("models", s.allow(http.MethodGet, s.auth(http.HandlerFunc(s.handleModels)))))
	mux.Handle("/v1/models/{id}", s.count("models", s.allow(http.MethodGet, s.auth(http.HandlerFunc(s.handleModel)))))
	mux.Handle("/health", s.allow(http.MethodGet, http.HandlerFunc(s.handleHealth)))
	mux.Handle("/ready", s.allow(http.MethodGet, http.HandlerFunc(s.handleReady)))
	mux.Handle("/metrics", s.allow(http.MethodGet, promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Type: typeNotFound, Code: "not_found",
			Message: fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)})
	})
	s.handler = mux
	return s, nil
}

// Handler returns the HTTP handler serving every endpoint.
func (s *Server) Handler() http.Handler { return s.handler }

// Drain marks the server as shutting down: /ready answers 503 and new
// API requests are refused with 503, while requests already running go
// on.
func (s *Server) Drain() { s.draining.Store(true) }

// Loading returns a handler for the time before the model is loaded:
// /health answers 200 (the process is alive), /ready and every other
// endpoint 503.
func Loading() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" && !r.URL.Query().Has("ready") {
			writeStatus(w, http.StatusOK, "ok")
			return
		}
		if r.URL.Path == "/ready" || r.URL.Path == "/health" {
			writeStatus(w, http.StatusServiceUnavailable, "loading")
			return
		}
		writeError(w, unavailable("the model is loading"))
	})
}

func writeStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json")
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(code)
	fmt.Fprintf(w, "{\"status\":%q}\n", status)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("ready") {
		s.handleReady(w, r)
		return
	}
	writeStatus(w, http.StatusOK, "ok")
}

func (s *Server) handleReady(w http.ResponseWriter, _ *http.Request) {
	if s.draining.Load() {
		writeStatus(w, http.StatusServiceUnavailable, "draining")
		return
	}
	writeStatus(w, http.StatusOK, "ready")
}

func (s *Server) modelJSON() modelJSON {
	return modelJSON{ID: s.info.ID, Object: "model", Created: s.info.Created.Unix(), OwnedBy: "joule", MaxModelLen: s.info.ContextLength}
}

func (s *Server) handleModels(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, modelList{Object: "list", Data: []modelJSON{s.modelJSON()}})
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	if id := r.PathValue("id"); id != s.info.ID {
		writeError(w, &apiError{Status: http.StatusNotFound, Type: typeNotFound, Param: "model", Code: "model_not_found",
			Message: fmt.Sprintf("the model %q does not exist", id)})
		return
	}
	writeJSON(w, s.modelJSON())
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// allow answers 405 to methods other than method (HEAD goes with GET).
func (s *Server) allow(method string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", method)
			writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Type: typeInvalidRequest, Code: "method_not_allowed",
				Message: fmt.Sprintf("%s %s is not allowed; use %s", r.Method, r.URL.Path, method)})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// auth requires the API key, when one is set, compared in constant time.
func (s *Server) auth(h http.Handler) http.Handler {
	if s.cfg.APIKey == "" {
		return h
	}
	want := sha256.Sum256([]byte(s.cfg.APIKey))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		// Hashing first makes the comparison's time independent of the
		// key's length too.
		got := sha256.Sum256([]byte(strings.TrimSpace(key)))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="joule"`)
			msg := "incorrect API key provided"
			if !ok {
				msg = "an API key is required: send it as \"Authorization: Bearer KEY\""
			}
			writeError(w, &apiError{Status: http.StatusUnauthorized, Type: typeInvalidRequest, Code: "invalid_api_key", Message: msg})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// serving refuses new generation requests while the server drains.
func (s *Server) serving(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			writeError(w, unavailable("the server is shutting down"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// count records each answered request by handler and status code.
func (s *Server) count(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		s.metrics.http.WithLabelValues(name, strconv.Itoa(sw.code)).Inc()
	})
}

// statusWriter remembers the status code written. Unwrap lets
// http.ResponseController reach the connection's Flush and deadlines.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// newID returns a response id: prefix and random text.
func newID(prefix string) string { return prefix + rand.Text() }
