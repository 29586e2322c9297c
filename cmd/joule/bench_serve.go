package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/joule-llm/joule/engine"
	"github.com/joule-llm/joule/loadgen"
	"github.com/joule-llm/joule/tokenizer"
)

type benchServeOptions struct {
	profile      string
	url          string
	model        string
	concurrency  []int
	requests     int
	duration     time.Duration
	promptTokens int
	maxTokens    int
	sharedPrefix int
	seed         uint64
	apiKey       string
	modelName    string
	json         bool
	vocab        int
	eos          []int
	ignoreEOS    bool
	retry        bool
	warmup       bool

	prefixTest    bool
	prefixLen     int
	prefixRepeats int

	// The in-process server's settings.
	threads  int
	kvMem    string
	kvType   string
	ctx      int
	maxQueue int
}

// defaultURLVocab is the vocabulary assumed with --url when --vocab is not
// given: the smallest of the common model families' (Llama 2, Mistral).
const defaultURLVocab = 32000

func newBenchServeCmd() *cobra.Command {
	var o benchServeOptions
	cmd := &cobra.Command{
		Use:   "serve (--url URL | -m MODEL.gguf) [-c 1,4,16,64] [--requests N | --duration 30s] [flags]",
		Short: "Load an OpenAI-compatible server with concurrent streaming clients",
		Long: `Load an OpenAI-compatible server with concurrent clients and report the
latency and throughput they see, at each concurrency level in turn.

Each client sends streaming /v1/completions requests one after another:
prompts of --prompt-tokens random token ids (from --seed, so runs repeat,
and never the same prompt twice), greedy, with the end-of-generation
tokens biased away (logit_bias -100 on --eos; ignore_eos and min_tokens
are sent too, for servers that know them) so that each request generates
exactly --max-tokens tokens. With --shared-prefix K every prompt begins with
the same K tokens, to show a prefix cache at work.

Per level: requests and output tokens per second (all clients together),
time to first token (TTFT) and inter-token latency (ITL, between streamed
chunks) at the 50th and 99th percentiles, median end-to-end latency,
errors, and 429 answers (rejected; with --retry the request is sent again
after its Retry-After, and its latencies count from the first attempt).
Token counts are the server's, from the usage chunk.

--url benchmarks a running server. -m starts one in this process on a
loopback port with the real engine (then -t, --kv-mem, --kv-type, --ctx
and --max-queue configure it, and the vocabulary and end tokens come
from the model); it shares the CPU with the clients.

--prefix-test instead measures what the prefix cache saves: the TTFT of a
request with a fresh --prefix-len token prompt (plus 16 more), then of one
with the same prefix and other 16 tokens, their ratio and the cached
tokens the second reports, over --prefix-repeats pairs.

A warm-up request (not counted) runs first, so that loading the weights
into memory does not count against the first level. A server that kept
its prefix cache from an earlier run with the same --seed finds those
prompts there: change the seed between runs against one server.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return benchServe(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "", "base URL of the server to load, e.g. http://127.0.0.1:8080")
	f.StringVarP(&o.model, "model", "m", "", "GGUF model to serve in this process instead")
	f.IntSliceVarP(&o.concurrency, "concurrency", "c", []int{1, 4, 16, 64}, "concurrent clients, one level after another")
	f.IntVar(&o.requests, "requests", 0, "requests per level (0: 8 per client, or as many as fit in --duration)")
	f.DurationVar(&o.duration, "duration", 0, "run each level this long instead of a number of requests; requests in flight then finish")
	f.IntVar(&o.promptTokens, "prompt-tokens", 128, "prompt length in tokens")
	f.IntVar(&o.maxTokens, "max-tokens", 64, "tokens to generate per request")
	f.IntVar(&o.sharedPrefix, "shared-prefix", 0, "tokens at the start of the prompt that all prompts share")
	f.Uint64Var(&o.seed, "seed", 1, "seed of the random prompts")
	f.StringVar(&o.apiKey, "api-key", "", "API key, sent as \"Authorization: Bearer KEY\" (with -m, also required by the server)")
	f.StringVar(&o.modelName, "model-name", "", "the requests' \"model\" (default: with --url the first of /v1/models, with -m the file name)")
	f.BoolVar(&o.json, "json", false, "print one JSON object per line and level")
	f.IntVar(&o.vocab, "vocab", 0, fmt.Sprintf("draw prompt token ids from [0, N) (default: the model's with -m, %d with --url)", defaultURLVocab))
	f.IntSliceVar(&o.eos, "eos", nil, "end-of-generation token ids to bias away (default: the model's with -m)")
	f.BoolVar(&o.ignoreEOS, "ignore-eos", true, "also send ignore_eos and min_tokens (OpenAI's own API refuses them)")
	f.BoolVar(&o.retry, "retry", false, "after a 429, wait for Retry-After and send the request again")
	f.BoolVar(&o.warmup, "warmup", true, "send one uncounted request first")
	f.BoolVar(&o.prefixTest, "prefix-test", false, "measure the prefix cache's effect on TTFT instead of loading the server")
	f.IntVar(&o.prefixLen, "prefix-len", 1000, "with --prefix-test: the shared prefix in tokens")
	f.IntVar(&o.prefixRepeats, "prefix-repeats", 3, "with --prefix-test: pairs of requests, each with a fresh prefix")
	f.IntVarP(&o.threads, "threads", "t", defaultThreads(), "with -m: threads to compute with")
	f.StringVar(&o.kvMem, "kv-mem", "", "with -m: KV cache memory, e.g. 1GiB (default: as joule serve)")
	f.StringVar(&o.kvType, "kv-type", "f16", "with -m: KV cache element type: f16 or f32")
	f.IntVar(&o.ctx, "ctx", 0, "with -m: context length per request (0: the model's own)")
	f.IntVar(&o.maxQueue, "max-queue", engine.DefaultMaxQueue, "with -m: most requests waiting to start; beyond it requests get 429")
	f.StringVar(&o.profile, "cpuprofile", "", "write a CPU profile of the measured levels to this file (go tool pprof); with -m it covers the server too")
	return cmd
}

func benchServe(cmd *cobra.Command, o benchServeOptions) error {
	if (o.url == "") == (o.model == "") {
		return errors.New("give either --url or -m")
	}
	switch {
	case o.requests < 0 || o.duration < 0:
		return errors.New("--requests and --duration must not be negative")
	case o.promptTokens < 1 || o.maxTokens < 1:
		return errors.New("--prompt-tokens and --max-tokens must be at least 1")
	case o.sharedPrefix < 0 || o.sharedPrefix > o.promptTokens:
		return fmt.Errorf("--shared-prefix %d must be between 0 and --prompt-tokens (%d)", o.sharedPrefix, o.promptTokens)
	case o.prefixLen < 1 || o.prefixRepeats < 1:
		return errors.New("--prefix-len and --prefix-repeats must be at least 1")
	case o.vocab < 0:
		return errors.New("--vocab must not be negative")
	}
	for _, c := range o.concurrency {
		if c < 1 {
			return fmt.Errorf("--concurrency %d: need at least 1", c)
		}
	}
	if len(o.concurrency) == 0 {
		return errors.New("--concurrency needs at least one level")
	}
	ctx := cmd.Context()
	stderr := cmd.ErrOrStderr()
	target := &loadgen.Target{URL: o.url, APIKey: o.apiKey, Model: o.modelName, EOS: o.eos, IgnoreEOS: o.ignoreEOS}
	vocab := o.vocab

	if o.model != "" {
		need := o.promptTokens + o.maxTokens
		if o.prefixTest {
			need = o.prefixLen + prefixSuffix + o.maxTokens
		}
		ip, err := startInProcess(o, need)
		if err != nil {
			return err
		}
		defer ip.close()
		fmt.Fprintf(stderr, "serving %s in this process on %s: context %d tokens, KV cache %d blocks of %d tokens, %d threads\n",
			filepath.Base(o.model), ip.url, ip.cfg.ContextLength, ip.blocks, ip.cfg.BlockSize, ip.cfg.Threads)
		target.URL = ip.url
		if target.Model == "" {
			target.Model = ip.id
		}
		if vocab == 0 {
			vocab = ip.tok.Len()
		}
		if !cmd.Flags().Changed("eos") {
			target.EOS = eogTokens(ip.tok)
		}
	} else {
		if vocab == 0 {
			vocab = defaultURLVocab
		}
		if target.Model == "" {
			target.Model = firstModel(ctx, o.url, o.apiKey)
		}
	}
	if len(target.EOS) == 0 && !o.ignoreEOS {
		fmt.Fprintln(stderr, "warning: no --eos and --ignore-eos=false: requests may end before --max-tokens")
	}
	out := cmd.OutOrStdout()

	if o.warmup {
		wp, err := loadgen.NewPrompts(vocab, o.promptTokens, 0, o.seed^warmupSeed)
		if err != nil {
			return err
		}
		if r := target.Send(ctx, wp.Next(), min(o.maxTokens, 8)); !r.OK() {
			return fmt.Errorf("warm-up request: %w", r.Err)
		}
	}

	if o.prefixTest {
		s, err := loadgen.PrefixTest(ctx, target, loadgen.PrefixOptions{
			Prefix: o.prefixLen, Suffix: prefixSuffix, MaxTokens: o.maxTokens,
			Pairs: o.prefixRepeats, Vocab: vocab, Seed: o.seed,
		})
		if err != nil {
			return err
		}
		if o.json {
			line, _ := json.Marshal(s)
			fmt.Fprintln(out, string(line))
		} else {
			printPrefixTest(out, s)
		}
		if s.Pairs[0].ColdCached > 0 {
			fmt.Fprintln(stderr, "warning: the first request found cached tokens already: the server has seen this seed's prompts; change --seed")
		}
		return nil
	}

	prompts, err := loadgen.NewPrompts(vocab, o.promptTokens, o.sharedPrefix, o.seed)
	if err != nil {
		return err
	}
	stop, err := startCPUProfile(o.profile)
	if err != nil {
		return err
	}
	defer stop()
	var sums []*loadgen.Summary
	for _, c := range o.concurrency {
		opts := loadgen.Options{Concurrency: c, Requests: o.requests, Duration: o.duration, MaxTokens: o.maxTokens, Retry: o.retry}
		if o.requests == 0 && o.duration == 0 {
			opts.Requests = 8 * c
		}
		s, err := loadgen.Run(ctx, target, prompts, opts)
		if err != nil {
			return err
		}
		if o.json {
			line, _ := json.Marshal(s)
			fmt.Fprintln(out, string(line))
		}
		if s.FirstError != "" {
			fmt.Fprintf(stderr, "concurrency %d: %d errors, %d rejected; first: %s\n", c, s.Errors, s.Rejected, s.FirstError)
		}
		if s.Short > 0 {
			fmt.Fprintf(stderr, "concurrency %d: %d requests generated fewer than %d tokens: pass the model's end tokens with --eos\n", c, s.Short, o.maxTokens)
		}
		sums = append(sums, s)
	}
	if !o.json {
		printBenchServe(out, sums)
	}
	return nil
}

// prefixSuffix is the length of the suffixes that tell the two requests of
// a prefix-test pair apart.
const prefixSuffix = 16

// warmupSeed makes the warm-up prompt unlike the measured ones.
const warmupSeed = 0x9e3779b97f4a7c15

// inProcess is a server run in this process for the benchmark.
type inProcess struct {
	url    string
	id     string
	tok    *tokenizer.Tokenizer
	cfg    engine.Config
	blocks int
	close  func()
}

// startInProcess loads o.model and serves it on a loopback port with the
// real engine, as joule serve would; need is the most tokens a request
// takes, prompt and output, which must fit the context.
func startInProcess(o benchServeOptions, need int) (*inProcess, error) {
	if o.threads < 1 {
		return nil, fmt.Errorf("--threads must be at least 1, got %d", o.threads)
	}
	if o.ctx < 0 || o.maxQueue < 1 {
		return nil, errors.New("--ctx must be at least 0 and --max-queue at least 1")
	}
	kvType, err := parseKVType(o.kvType)
	if err != nil {
		return nil, err
	}
	kvMem, err := parseBytes(o.kvMem)
	if err != nil {
		return nil, fmt.Errorf("--kv-mem: %w", err)
	}
	id := o.modelName
	if id == "" {
		id = strings.TrimSuffix(filepath.Base(o.model), ".gguf")
	}
	so := serveOptions{model: o.model, apiKey: o.apiKey, threads: o.threads, ctx: o.ctx, maxQueue: o.maxQueue}
	e, srv, file, err := loadServer(so, id, kvType, kvMem)
	if err != nil {
		return nil, err
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.Close(ctx)
		file.Close()
	}
	cfg := e.Config()
	if need > cfg.ContextLength {
		stop()
		return nil, fmt.Errorf("requests of %d tokens (prompt and output) do not fit the context of %d tokens", need, cfg.ContextLength)
	}
	tok, err := tokenizer.FromGGUF(file)
	if err != nil {
		stop()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stop()
		return nil, err
	}
	e.Start()
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 30 * time.Second}
	go hs.Serve(ln)
	return &inProcess{
		url: "http://" + ln.Addr().String(), id: id, tok: tok, cfg: cfg, blocks: e.Stats().NumBlocks,
		close: func() {
			hs.Close()
			stop()
		},
	}, nil
}

// eogTokens returns the tokenizer's end-of-generation token ids.
func eogTokens(tok *tokenizer.Tokenizer) []int {
	var ids []int
	for id := range tok.Len() {
		if tok.IsEOG(id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// firstModel returns the first model id the server at url lists, or ""
// when it lists none or cannot be asked: the field is then left out,
// which servers of one model accept.
func firstModel(ctx context.Context, url, apiKey string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(strings.TrimRight(url, "/"), "/v1")+"/v1/models", nil)
	if err != nil {
		return ""
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&list) != nil || len(list.Data) == 0 {
		return ""
	}
	return list.Data[0].ID
}

func printBenchServe(w io.Writer, sums []*loadgen.Summary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\trequests\terrors\trejected\treq/s\tout tok/s\tTTFT p50\tTTFT p99\tITL p50\tITL p99\tE2E p50\tcached\t")
	for _, s := range sums {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%.2f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%d\t\n",
			s.Concurrency, s.Requests, s.Errors, s.Rejected, s.RequestsPerS, s.TokensPerS,
			latencyMS(s.TTFT, s.TTFT.P50), latencyMS(s.TTFT, s.TTFT.P99), latencyMS(s.ITL, s.ITL.P50),
			latencyMS(s.ITL, s.ITL.P99), latencyMS(s.E2E, s.E2E.P50), s.Cached)
	}
	tw.Flush()
	if len(sums) > 0 && sums[0].Shared > 0 {
		fmt.Fprintf(w, "\nshared prefix of %d of %d prompt tokens:\n", sums[0].Shared, sums[0].Prompt)
		for _, s := range sums {
			first := "failed"
			if s.FirstTTFT > 0 {
				first = msString(s.FirstTTFT)
			}
			fmt.Fprintf(w, "  %d clients: first request's TTFT %s; TTFT p50 %s over %d requests with cached tokens, %s over %d without\n",
				s.Concurrency, first, latencyMS(s.TTFTCached, s.TTFTCached.P50), s.TTFTCached.N,
				latencyMS(s.TTFTUncached, s.TTFTUncached.P50), s.TTFTUncached.N)
		}
	}
}

func printPrefixTest(w io.Writer, s *loadgen.PrefixSummary) {
	fmt.Fprintf(w, "prefix cache: %d-token prefix, then %d different tokens\n", s.Prefix, s.Suffix)
	for i, p := range s.Pairs {
		fmt.Fprintf(w, "  pair %d: TTFT %s fresh (%d cached), %s sharing the prefix (%d cached)\n",
			i+1, msString(p.ColdTTFT), p.ColdCached, msString(p.WarmTTFT), p.WarmCached)
	}
	fmt.Fprintf(w, "median TTFT %s fresh, %s with the prefix cached (%d tokens): %.1fx sooner\n",
		msString(s.ColdTTFT), msString(s.WarmTTFT), s.WarmCached, s.Speedup)
}

// latencyMS formats d, a statistic of l, in milliseconds, or "-" when l
// has no samples.
func latencyMS(l loadgen.Latency, d time.Duration) string {
	if l.N == 0 {
		return "-"
	}
	return msString(d)
}

// msString formats d in milliseconds.
func msString(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/1e6)
}
