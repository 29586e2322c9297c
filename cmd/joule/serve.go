package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/joule-llm/joule/chat"
	"github.com/joule-llm/joule/engine"
	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/server"
	"github.com/joule-llm/joule/tensor"
)

type serveOptions struct {
	model        string
	host         string
	port         int
	apiKey       string
	kvMem        string
	kvType       string
	threads      int
	ctx          int
	maxQueue     int
	chatTemplate string
	alias        string
	grace        time.Duration
}

func newServeCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve -m MODEL.gguf [flags]",
		Short: "Serve a model over an OpenAI-compatible HTTP API",
		Long: `Serve a model over an OpenAI-compatible HTTP API:

  POST /v1/completions, POST /v1/chat/completions (streaming with "stream": true)
  GET  /v1/models
  GET  /health   200 while the process serves
  GET  /ready    200 once the model is loaded, 503 while loading or shutting down
  GET  /metrics  Prometheus metrics, under vLLM's names (vllm:*) and joule_*

Requests run together on one engine with continuous batching and a paged,
prefix-cached KV store. The listening address is printed once the port is
open; the model loads after that (/ready tells when it is done).

Chat requests need a chat format: the model's own Jinja template is not
rendered, so name a built-in one with --chat-template (` + strings.Join(server.ChatTemplates(), ", ") + `);
without it chat requests are refused with an explanation.

On SIGINT or SIGTERM the server stops taking requests, lets running ones
finish for --grace, then ends the rest and exits. A second signal exits at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.model, "model", "m", "", "GGUF model file (required)")
	f.StringVar(&o.host, "host", "127.0.0.1", "address to listen on")
	f.IntVar(&o.port, "port", 8080, "port to listen on (0: any free port)")
	f.StringVar(&o.apiKey, "api-key", "", "require this key as \"Authorization: Bearer KEY\" on /v1/ endpoints")
	f.StringVar(&o.kvMem, "kv-mem", "", "KV cache memory, e.g. 1GiB or 512MiB (default: 4 full contexts, at most 25% of RAM)")
	f.StringVar(&o.kvType, "kv-type", "f16", "KV cache element type: f16 or f32")
	f.IntVarP(&o.threads, "threads", "t", defaultThreads(), "threads to compute with")
	f.IntVar(&o.ctx, "ctx", 0, "context length per request in tokens (0: the model's own)")
	f.IntVar(&o.maxQueue, "max-queue", engine.DefaultMaxQueue, "most requests waiting to start; beyond it requests get 429")
	f.StringVar(&o.chatTemplate, "chat-template", "", "built-in chat format for /v1/chat/completions: "+strings.Join(server.ChatTemplates(), ", "))
	f.StringVar(&o.alias, "alias", "", "model name clients use (default: the file name without .gguf)")
	f.DurationVar(&o.grace, "grace", 30*time.Second, "on shutdown, how long running requests may take to finish")
	cmd.MarkFlagRequired("model")
	return cmd
}

func serve(cmd *cobra.Command, o serveOptions) error {
	stderr := cmd.ErrOrStderr()
	if o.threads < 1 {
		return fmt.Errorf("--threads must be at least 1, got %d", o.threads)
	}
	if o.ctx < 0 || o.maxQueue < 1 {
		return fmt.Errorf("--ctx must be at least 0 and --max-queue at least 1")
	}
	if o.grace < 0 {
		return fmt.Errorf("--grace must not be negative")
	}
	kvType, err := parseKVType(o.kvType)
	if err != nil {
		return err
	}
	kvMem, err := parseBytes(o.kvMem)
	if err != nil {
		return fmt.Errorf("--kv-mem: %w", err)
	}
	if o.chatTemplate != "" && !slices.Contains(server.ChatTemplates(), o.chatTemplate) {
		return fmt.Errorf("--chat-template %q: want one of %s", o.chatTemplate, strings.Join(server.ChatTemplates(), ", "))
	}
	id := o.alias
	if id == "" {
		id = strings.TrimSuffix(filepath.Base(o.model), ".gguf")
	}

	// SIGTERM is how service managers ask a server to stop. After the first
	// signal the default action is restored, so a second one exits at once.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", net.JoinHostPort(o.host, strconv.Itoa(o.port)))
	if err != nil {
		return err
	}
	// Until the model is loaded, /health answers and everything else 503.
	var current atomic.Pointer[http.Handler]
	loading := server.Loading()
	current.Store(&loading)
	httpSrv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			(*current.Load()).ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	fmt.Fprintf(cmd.OutOrStdout(), "listening on http://%s\n", ln.Addr())

	e, srv, file, err := loadServer(o, id, kvType, kvMem)
	if err != nil {
		httpSrv.Close()
		return err
	}
	// The weights are mapped from the file until the engine has stopped.
	defer file.Close()
	e.Start()
	h := srv.Handler()
	current.Store(&h)
	ec := e.Config()
	fmt.Fprintf(stderr, "serving %q: context %d tokens, KV cache %d blocks of %d tokens (%s), %d threads\n",
		id, ec.ContextLength, e.Stats().NumBlocks, ec.BlockSize, ec.KVType, ec.Threads)

	select {
	case err := <-serveErr:
		e.Close(context.Background())
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	stop()
	fmt.Fprintf(stderr, "shutting down: finishing running requests (up to %s)\n", o.grace)
	srv.Drain()
	grace, cancel := context.WithTimeout(context.Background(), o.grace)
	defer cancel()
	// The engine finishes what it holds by the deadline and ends the rest,
	// whose handlers then answer at once; Shutdown stops accepting and
	// waits for the handlers.
	engineDone := make(chan error, 1)
	go func() { engineDone <- e.Close(grace) }()
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), o.grace+5*time.Second)
	defer cancelShutdown()
	if err := httpSrv.Shutdown(shutdown); err != nil {
		httpSrv.Close()
	}
	if err := <-engineDone; err != nil {
		fmt.Fprintln(stderr, "grace period over: unfinished requests were ended")
	}
	return nil
}

// loadServer loads the model and builds the engine and the API server.
// The returned file must stay open while the engine runs.
func loadServer(o serveOptions, id string, kvType tensor.Type, kvMem int64) (_ *engine.Engine, _ *server.Server, _ *gguf.File, err error) {
	f, m, tok, err := loadModel(o.model)
	if err != nil {
		return nil, nil, nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	// While requests run the compute threads spin between steps
	// (tensor.Pool.Hold) and keep their processors busy; one processor
	// more lets the network poller and the HTTP goroutines run meanwhile
	// instead of waiting for the runtime's 10 ms background poll.
	if want := o.threads + 1; runtime.GOMAXPROCS(0) < want {
		runtime.GOMAXPROCS(want)
	}
	e, err := engine.New(m, engine.Config{
		Threads:       o.threads,
		KVMemBytes:    kvMem,
		KVType:        kvType,
		MaxQueue:      o.maxQueue,
		ContextLength: o.ctx,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	info := server.ModelInfo{ID: id, ContextLength: e.Config().ContextLength}
	if st, err := os.Stat(o.model); err == nil {
		info.Created = st.ModTime()
	}
	if t, err := f.String("tokenizer.chat_template"); err == nil {
		info.ChatTemplate = t
	}
	cfg := server.Config{APIKey: o.apiKey, ChatTemplate: o.chatTemplate}
	if o.chatTemplate == "" {
		// The model's own Jinja template, rendered as transformers renders it.
		if tmpl, err := chat.FromGGUF(f); err == nil {
			cfg.RenderChat = func(msgs []server.ChatMessage) (string, error) {
				cm := make([]chat.Message, len(msgs))
				for i, m := range msgs {
					cm[i] = chat.Message{Role: m.Role, Content: m.Content}
				}
				return tmpl.Render(cm, chat.Options{AddGenerationPrompt: true})
			}
		} else if !errors.Is(err, gguf.ErrKeyNotFound) {
			fmt.Fprintf(os.Stderr, "joule: the model's chat template cannot be used (%v); chat requests need --chat-template\n", err)
		}
	}
	srv, err := server.New(e, tok, info, cfg)
	if err != nil {
		e.Close(context.Background())
		return nil, nil, nil, err
	}
	return e, srv, f, nil
}

// parseBytes reads a size such as 1GiB, 512MiB, 2G or 1500000: K, M, G
// and T, with or without "iB", are powers of 1024; KB, MB, GB and TB are
// powers of 1000. "" is 0.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	i := len(s)
	for i > 0 && (s[i-1] < '0' || s[i-1] > '9') && s[i-1] != '.' {
		i--
	}
	num, unit := strings.TrimSpace(s[:i]), strings.TrimSpace(s[i:])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a size such as 1GiB or 512MiB", s)
	}
	mult := map[string]float64{
		"": 1, "B": 1,
		"K": 1 << 10, "KiB": 1 << 10, "KB": 1e3,
		"M": 1 << 20, "MiB": 1 << 20, "MB": 1e6,
		"G": 1 << 30, "GiB": 1 << 30, "GB": 1e9,
		"T": 1 << 40, "TiB": 1 << 40, "TB": 1e12,
	}
	m, ok := mult[unit]
	if !ok {
		return 0, fmt.Errorf("%q: unknown unit %q (use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)", s, unit)
	}
	if v*m >= 1<<62 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(v * m), nil
}
