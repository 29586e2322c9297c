package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/tensor"
)

type benchOptions struct {
	model   string
	prompt  []int
	gen     []int
	reps    int
	threads []int
	kvType  string
	json    bool
	profile string
}

func newBenchCmd() *cobra.Command {
	o := benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench -m MODEL.gguf [-p 512] [-n 128] [-r 5] [-t 1,2] [--json]",
		Short: "Measure prompt processing and generation speed as llama-bench does",
		Long: `Measure prompt processing (ppN: N prompt tokens in one batch from an empty
cache) and token generation (tgN: N single-token steps from an empty cache)
as llama-bench measures them: one warm-up run, then -r timed runs, reported
as min/median/max tokens per second. The tg rows also give the bandwidth
achieved: the bytes of weights read per token times tokens per second.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return bench(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.model, "model", "m", "", "GGUF model file (required)")
	f.IntSliceVarP(&o.prompt, "n-prompt", "p", []int{512}, "prompt lengths to test (0: none)")
	f.IntSliceVarP(&o.gen, "n-gen", "n", []int{128}, "generation lengths to test (0: none)")
	f.IntVarP(&o.reps, "repetitions", "r", 5, "timed runs per test")
	f.IntSliceVarP(&o.threads, "threads", "t", []int{defaultThreads()}, "thread counts to test")
	f.StringVar(&o.kvType, "kv-type", "f16", "KV cache element type: f16 or f32")
	f.BoolVar(&o.json, "json", false, "print one JSON object per line and test")
	f.StringVar(&o.profile, "cpuprofile", "", "write a CPU profile of the timed runs to this file (go tool pprof)")
	cmd.MarkFlagRequired("model")
	cmd.AddCommand(newBenchServeCmd())
	cmd.AddCommand(newBenchParallelCmd())
	return cmd
}

// benchResult is one test's outcome; its JSON form is the --json output.
type benchResult struct {
	Test       string     `json:"test"`
	Model      string     `json:"model"`
	ModelBytes uint64     `json:"model_bytes"`
	Params     uint64     `json:"params"`
	Threads    int        `json:"threads"`
	NPrompt    int        `json:"n_prompt"`
	NGen       int        `json:"n_gen"`
	TokensPerS minMedMax  `json:"tokens_per_s"`
	GBPerS     *minMedMax `json:"gb_per_s,omitempty"`
	SamplesNS  []int64    `json:"samples_ns"`
}

type minMedMax struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

func bench(cmd *cobra.Command, o benchOptions) error {
	if o.reps < 1 {
		return fmt.Errorf("--repetitions must be at least 1, got %d", o.reps)
	}
	kvType, err := parseKVType(o.kvType)
	if err != nil {
		return err
	}
	f, err := openModel(o.model)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := model.Load(f)
	if err != nil {
		return err
	}
	var modelBytes, params, streamed uint64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		modelBytes += t.Size
		params += t.Elements()
		// Generation reads every weight once per token, except the token
		// embedding, of which it gathers one row (unless it is also the
		// output matrix).
		if t.Name != "token_embd.weight" {
			streamed += t.Size
		}
	}
	if _, ok := f.Tensor("output.weight"); !ok {
		if t, ok := f.Tensor("token_embd.weight"); ok {
			streamed += t.Size
		}
	}

	stop, err := startCPUProfile(o.profile)
	if err != nil {
		return err
	}
	defer stop()
	out := cmd.OutOrStdout()
	var results []benchResult
	rng := rand.New(rand.NewPCG(1, 2))
	for _, threads := range o.threads {
		if threads < 1 {
			return fmt.Errorf("--threads must be at least 1, got %d", threads)
		}
		pool := tensor.NewPool(threads)
		pool.Hold() // the timed runs are back-to-back forward passes
		tests := make([]struct{ p, n int }, 0)
		for _, p := range o.prompt {
			if p > 0 {
				tests = append(tests, struct{ p, n int }{p, 0})
			}
		}
		for _, n := range o.gen {
			if n > 0 {
				tests = append(tests, struct{ p, n int }{0, n})
			}
		}
		for _, tc := range tests {
			length := tc.p + tc.n
			if length > m.Config.ContextLength {
				pool.Close()
				return fmt.Errorf("test of %d tokens exceeds the model's context of %d", length, m.Config.ContextLength)
			}
			state, err := m.NewState(length, kvType)
			if err != nil {
				pool.Close()
				return err
			}
			logits := make([]float32, m.Config.VocabSize)
			tokens := make([]int, max(tc.p, tc.n))
			for i := range tokens {
				tokens[i] = rng.IntN(m.Config.VocabSize)
			}
			runOnce := func() (time.Duration, error) {
				state.Reset()
				start := time.Now()
				if tc.p > 0 {
					if err := m.Forward(pool, state, tokens[:tc.p], logits); err != nil {
						return 0, err
					}
				}
				for i := 0; i < tc.n; i++ {
					if err := m.Forward(pool, state, tokens[i:i+1], logits); err != nil {
						return 0, err
					}
				}
				return time.Since(start), nil
			}
			if _, err := runOnce(); err != nil { // warm-up
				pool.Close()
				return err
			}
			r := benchResult{
				Model: filepath.Base(o.model), ModelBytes: modelBytes, Params: params,
				Threads: threads, NPrompt: tc.p, NGen: tc.n,
			}
			if tc.p > 0 {
				r.Test = fmt.Sprintf("pp%d", tc.p)
			} else {
				r.Test = fmt.Sprintf("tg%d", tc.n)
			}
			rates := make([]float64, 0, o.reps)
			for range o.reps {
				if err := cmd.Context().Err(); err != nil {
					pool.Close()
					return err
				}
				d, err := runOnce()
				if err != nil {
					pool.Close()
					return err
				}
				r.SamplesNS = append(r.SamplesNS, d.Nanoseconds())
				rates = append(rates, float64(length)/d.Seconds())
			}
			r.TokensPerS = summarize(rates)
			if tc.n > 0 {
				gb := summarize(scale(rates, float64(streamed)/1e9))
				r.GBPerS = &gb
			}
			if o.json {
				line, _ := json.Marshal(r)
				fmt.Fprintln(out, string(line))
			}
			results = append(results, r)
		}
		pool.Close()
	}
	if !o.json {
		printBench(out, results)
	}
	return nil
}

func summarize(xs []float64) minMedMax {
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return minMedMax{Min: s[0], Median: med, Max: s[len(s)-1]}
}

func scale(xs []float64, k float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x * k
	}
	return out
}

func printBench(w io.Writer, rs []benchResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tsize\tparams\tthreads\ttest\tt/s (median)\tmin\tmax\tGB/s\t")
	for _, r := range rs {
		gb := ""
		if r.GBPerS != nil {
			gb = fmt.Sprintf("%.2f", r.GBPerS.Median)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%.2f\t%.2f\t%.2f\t%s\t\n",
			r.Model, humanBytes(r.ModelBytes), humanCount(r.Params), r.Threads, r.Test,
			r.TokensPerS.Median, r.TokensPerS.Min, r.TokensPerS.Max, gb)
	}
	tw.Flush()
}

func humanCount(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f B", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2f M", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.2f K", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// startCPUProfile starts writing a CPU profile to path, for the
// --cpuprofile flags; stop ends it and closes the file. An empty path
// profiles nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
