package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/joule-llm/joule/engine"
	"github.com/joule-llm/joule/kv"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/tensor"
	"github.com/joule-llm/joule/tokenizer"
)

type benchParallelOptions struct {
	model   string
	threads int
	np      []int
	pp      int
	tg      int
	reps    int
	shared  int
	ubatch  int
	kvType  string
	json    bool
	warmup  bool
	profile string
}

// parallelSeed seeds the random prompts, so that runs repeat.
const parallelSeed = 1

func newBenchParallelCmd() *cobra.Command {
	var o benchParallelOptions
	cmd := &cobra.Command{
		Use:   "parallel -m MODEL.gguf [-t 2] [--np 1,4,16,64] [--pp 128] [--tg 64] [-r 3] [--shared-prefix 0] [--json]",
		Short: "Measure the throughput of many sequences decoded together, as llama-batched-bench does",
		Long: `Measure the aggregate throughput of --np sequences computed together in
one batched forward pass, for each --np in turn, the way llama.cpp's
llama-batched-bench measures it, so that the two can be compared with the
same settings.

Each sequence gets its own prompt of --pp random token ids (a fixed seed;
BOS first when the model's tokenizer adds it), with its own blocks of a
paged KV cache large enough for np*(pp+tg) positions.

Prompt processing (pp): every sequence's prompt tokens, packed across
sequences in order into forward calls of at most --ubatch tokens (a
prompt may span calls), with logits only for each prompt's last token;
its greedy argmax is each sequence's first generated token.

Generation (tg): --tg steps, each ONE forward call holding the next token
of every sequence (np tokens), followed by the greedy argmax of each
sequence's logits, which is fed back in the next step. Unlike
llama-batched-bench, which feeds random ids, the sequences really generate.

With --shared-prefix S the first S prompt tokens are the same for every
sequence. The whole cache blocks among them are computed once, as
sequence 0's, and the other sequences' block tables start with those
same blocks; each sequence then computes the rest of its prompt. (At
least the last prompt token is always computed per sequence, for its
logits.)

Reported per np: pp t/s = np*pp / prompt time (the shared prefix counted
in every sequence, so an effective rate), tg t/s = np*tg / generation
time, as min/median/max over -r timed runs after one warm-up run; the
median time of one generation step, and the median wall time of a run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return benchParallel(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.model, "model", "m", "", "GGUF model file (required)")
	f.IntVarP(&o.threads, "threads", "t", defaultThreads(), "threads to compute with")
	f.IntSliceVar(&o.np, "np", []int{1, 4, 16, 64}, "numbers of concurrent sequences to test, one after another")
	f.IntVar(&o.pp, "pp", 128, "prompt tokens per sequence")
	f.IntVar(&o.tg, "tg", 64, "tokens to generate per sequence")
	f.IntVarP(&o.reps, "repetitions", "r", 3, "timed runs per np")
	f.IntVar(&o.shared, "shared-prefix", 0, "prompt tokens at the start that all sequences share, computed once")
	f.IntVar(&o.ubatch, "ubatch", 512, "most tokens in one forward call")
	f.StringVar(&o.kvType, "kv-type", "f16", "KV cache element type: f16 or f32")
	f.BoolVar(&o.json, "json", false, "print one JSON object per line and np")
	f.BoolVar(&o.warmup, "warmup", true, "run once, uncounted, before the timed runs")
	f.StringVar(&o.profile, "cpuprofile", "", "write a CPU profile of the runs to this file (go tool pprof)")
	cmd.MarkFlagRequired("model")
	return cmd
}

// parallelResult is one np's outcome; its JSON form is the --json output.
type parallelResult struct {
	Test         string    `json:"test"`
	Model        string    `json:"model"`
	Threads      int       `json:"threads"`
	NP           int       `json:"np"`
	PP           int       `json:"pp"`
	TG           int       `json:"tg"`
	SharedPrefix int       `json:"shared_prefix"`
	ComputedOnce int       `json:"shared_prefix_computed_once"` // the whole blocks of the shared prefix
	UBatch       int       `json:"ubatch"`
	KVType       string    `json:"kv_type"`
	PPTokensPerS minMedMax `json:"pp_tokens_per_s"`
	TGTokensPerS minMedMax `json:"tg_tokens_per_s"`
	StepMSMedian float64   `json:"step_ms_median"`
	WallSMedian  float64   `json:"wall_s_median"`
}

func (o *benchParallelOptions) check() error {
	switch {
	case o.threads < 1:
		return fmt.Errorf("--threads must be at least 1, got %d", o.threads)
	case len(o.np) == 0:
		return errors.New("--np needs at least one value")
	case o.pp < 1:
		return fmt.Errorf("--pp must be at least 1, got %d", o.pp)
	case o.tg < 1:
		return fmt.Errorf("--tg must be at least 1, got %d", o.tg)
	case o.reps < 1:
		return fmt.Errorf("--repetitions must be at least 1, got %d", o.reps)
	case o.shared < 0 || o.shared > o.pp:
		return fmt.Errorf("--shared-prefix %d must be between 0 and --pp (%d)", o.shared, o.pp)
	case o.ubatch < 1:
		return fmt.Errorf("--ubatch must be at least 1, got %d", o.ubatch)
	}
	for _, np := range o.np {
		if np < 1 {
			return fmt.Errorf("--np %d: need at least 1 sequence", np)
		}
		if np > o.ubatch {
			return fmt.Errorf("--np %d exceeds --ubatch %d: a generation step, one token per sequence, must fit one forward call", np, o.ubatch)
		}
	}
	return nil
}

func benchParallel(cmd *cobra.Command, o benchParallelOptions) error {
	if err := o.check(); err != nil {
		return err
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
	if ctx := m.Config.ContextLength; o.pp+o.tg > ctx {
		return fmt.Errorf("--pp %d plus --tg %d exceeds the model's context length of %d", o.pp, o.tg, ctx)
	}
	bos := -1
	if tok, err := tokenizer.FromGGUF(f); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: no tokenizer (%v): prompts start without BOS\n", err)
	} else if tok.AddBOS() && tok.BOS() >= 0 && tok.BOS() < m.Config.VocabSize {
		bos = tok.BOS()
	}

	stop, err := startCPUProfile(o.profile)
	if err != nil {
		return err
	}
	defer stop()
	pool := tensor.NewPool(o.threads)
	defer pool.Close()
	pool.Hold() // the runs are back-to-back forward passes
	defer pool.Release()
	w := m.NewWorkspace(o.ubatch)

	out := cmd.OutOrStdout()
	var results []parallelResult
	for _, np := range o.np {
		prompts := parallelPrompts(m.Config.VocabSize, np, o.pp, o.shared, bos, parallelSeed)
		r, err := newParallelRun(m, pool, w, parallelSpec{
			Prompts: prompts, Gen: o.tg, Shared: o.shared, UBatch: o.ubatch, KVType: kvType,
		})
		if err != nil {
			return err
		}
		if o.warmup {
			if _, err := r.run(); err != nil {
				return err
			}
		}
		var pp, tg, wall, steps []float64
		for range o.reps {
			if err := cmd.Context().Err(); err != nil {
				return err
			}
			t, err := r.run()
			if err != nil {
				return err
			}
			pp = append(pp, float64(np*o.pp)/t.prompt.Seconds())
			tg = append(tg, float64(np*o.tg)/t.gen.Seconds())
			wall = append(wall, (t.prompt + t.gen).Seconds())
			for _, d := range r.steps {
				steps = append(steps, float64(d)/1e6)
			}
		}
		res := parallelResult{
			Test: "parallel", Model: filepath.Base(o.model), Threads: o.threads,
			NP: np, PP: o.pp, TG: o.tg, SharedPrefix: o.shared, ComputedOnce: r.prefix,
			UBatch: o.ubatch, KVType: kvType.String(),
			PPTokensPerS: summarize(pp), TGTokensPerS: summarize(tg),
			StepMSMedian: summarize(steps).Median, WallSMedian: summarize(wall).Median,
		}
		if o.json {
			line, _ := json.Marshal(res)
			fmt.Fprintln(out, string(line))
		}
		results = append(results, res)
	}
	if !o.json {
		printBenchParallel(out, results)
	}
	return nil
}

func printBenchParallel(w io.Writer, rs []parallelResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tthreads\tnp\tpp\ttg\tshared\tpp t/s min\tmedian\tmax\ttg t/s min\tmedian\tmax\tstep ms\twall s\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.3f\t\n",
			r.Model, r.Threads, r.NP, r.PP, r.TG, r.SharedPrefix,
			r.PPTokensPerS.Min, r.PPTokensPerS.Median, r.PPTokensPerS.Max,
			r.TGTokensPerS.Min, r.TGTokensPerS.Median, r.TGTokensPerS.Max,
			r.StepMSMedian, r.WallSMedian)
	}
	tw.Flush()
	if len(rs) > 0 && rs[0].SharedPrefix > 0 {
		fmt.Fprintf(w, "\nshared prefix: %d of %d prompt tokens; its %d tokens in whole KV blocks of %d are computed once and shared\n",
			rs[0].SharedPrefix, rs[0].PP, rs[0].ComputedOnce, kv.DefaultBlockSize)
	}
}

// parallelPrompts returns np prompts of pp random token ids below vocab,
// drawn from seed: the first shared tokens are sequence 0's in every
// prompt, the rest each prompt's own. With bos >= 0 every prompt starts
// with it instead, as a tokenizer that adds BOS would have it.
func parallelPrompts(vocab, np, pp, shared, bos int, seed uint64) [][]int {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	prompts := make([][]int, np)
	for j := range prompts {
		p := make([]int, pp)
		for i := range p {
			if j > 0 && i < shared {
				p[i] = prompts[0][i]
			} else {
				p[i] = rng.IntN(vocab)
			}
		}
		if bos >= 0 {
			p[0] = bos
		}
		prompts[j] = p
	}
	return prompts
}

// parallelSpec describes one parallel measurement.
type parallelSpec struct {
	Prompts   [][]int     // one per sequence, all of the same length
	Gen       int         // generation steps
	Shared    int         // the prompts' first Shared tokens are the same
	UBatch    int         // most tokens per forward call; at least len(Prompts)
	KVType    tensor.Type // tensor.F16 or tensor.F32
	BlockSize int         // KV block size; 0 means kv.DefaultBlockSize
}

// parallelRun holds everything one parallel measurement reuses from run to
// run, so that a run allocates nothing itself.
type parallelRun struct {
	m      *model.Model
	pool   *tensor.Pool
	w      *model.Workspace
	cache  *kv.Storage
	spec   parallelSpec
	tables [][]int32 // per sequence
	prefix int       // prompt tokens computed once, as sequence 0's, and shared

	batch  model.Batch
	owner  []int // the sequence of each entry of batch.Seqs
	logits []float32
	cur    []int   // the next token to feed, per sequence
	gen    [][]int // per sequence, the Gen+1 tokens generated by the last run
	steps  []int64 // ns per generation step of the last run
	blocks int     // distinct KV blocks in use
}

// parallelTiming is one run's prompt and generation times.
type parallelTiming struct {
	prompt, gen time.Duration
}

// newParallelRun prepares the KV cache and buffers for spec on w, which
// must hold at least max(UBatch, len(Prompts)) tokens.
func newParallelRun(m *model.Model, pool *tensor.Pool, w *model.Workspace, spec parallelSpec) (*parallelRun, error) {
	np := len(spec.Prompts)
	if np == 0 || spec.Gen < 1 || spec.UBatch < np {
		return nil, fmt.Errorf("parallel run of %d sequences, %d steps, forward calls of %d tokens: need sequences, steps, and calls that hold a step",
			np, spec.Gen, spec.UBatch)
	}
	pp := len(spec.Prompts[0])
	if pp == 0 {
		return nil, errors.New("parallel run: empty prompts")
	}
	for j, p := range spec.Prompts {
		if len(p) != pp {
			return nil, fmt.Errorf("parallel run: prompt %d has %d tokens, prompt 0 has %d", j, len(p), pp)
		}
	}
	if spec.Shared < 0 || spec.Shared > pp {
		return nil, fmt.Errorf("parallel run: shared prefix %d outside [0, %d]", spec.Shared, pp)
	}
	for j, p := range spec.Prompts {
		if !slices.Equal(p[:spec.Shared], spec.Prompts[0][:spec.Shared]) {
			return nil, fmt.Errorf("parallel run: prompt %d does not start with the %d shared tokens", j, spec.Shared)
		}
	}
	bs := spec.BlockSize
	if bs == 0 {
		bs = kv.DefaultBlockSize
	}
	// Only whole blocks are shared, and never the last prompt token's,
	// whose logits each sequence needs.
	prefix := min(spec.Shared, pp-1) / bs * bs
	perSeq := (pp + spec.Gen + bs - 1) / bs
	sharedBlocks := prefix / bs
	total := perSeq + (np-1)*(perSeq-sharedBlocks)

	cache, err := m.NewKVStorage(int64(total)*m.KVBlockBytes(bs, spec.KVType), bs, spec.KVType)
	if err != nil {
		return nil, err
	}
	if cache.NumBlocks() < total {
		return nil, fmt.Errorf("parallel run: KV storage of %d blocks, need %d", cache.NumBlocks(), total)
	}
	r := &parallelRun{
		m: m, pool: pool, w: w, cache: cache, spec: spec, prefix: prefix, blocks: total,
		tables: make([][]int32, np),
		owner:  make([]int, 0, np+1),
		logits: make([]float32, np*m.Config.VocabSize),
		cur:    make([]int, np),
		gen:    make([][]int, np),
		steps:  make([]int64, spec.Gen),
	}
	r.batch.Seqs = make([]model.SeqBatch, 0, np+1)
	next := int32(0)
	for j := range np {
		t := make([]int32, perSeq)
		for i := range t {
			if j > 0 && i < sharedBlocks {
				t[i] = r.tables[0][i]
			} else {
				t[i] = next
				next++
			}
		}
		r.tables[j] = t
		r.gen[j] = make([]int, spec.Gen+1)
	}
	return r, nil
}

// run measures once: the prompts into the cache from position 0, then
// Gen steps of one token per sequence. Every position a run reads it has
// written first, so runs need no clearing in between. The generated tokens
// are left in r.gen, the step times in r.steps.
func (r *parallelRun) run() (parallelTiming, error) {
	prompts := r.spec.Prompts
	np, pp := len(prompts), len(prompts[0])
	start := time.Now()

	// The shared prefix, once, as sequence 0's: it must be in the cache
	// before any other sequence's call reads it.
	for lo := 0; lo < r.prefix; lo += r.spec.UBatch {
		hi := min(lo+r.spec.UBatch, r.prefix)
		r.add(0, model.SeqBatch{Tokens: prompts[0][lo:hi], Pos: lo, Blocks: r.tables[0]})
		if err := r.flush(); err != nil {
			return parallelTiming{}, err
		}
	}
	// The rest of every prompt, packed across sequences.
	n := 0
	for j := range np {
		for lo := r.prefix; lo < pp; {
			hi := min(pp, lo+r.spec.UBatch-n)
			r.add(j, model.SeqBatch{Tokens: prompts[j][lo:hi], Pos: lo, Blocks: r.tables[j], Logits: hi == pp})
			n += hi - lo
			lo = hi
			if n == r.spec.UBatch {
				if err := r.flush(); err != nil {
					return parallelTiming{}, err
				}
				n = 0
			}
		}
	}
	if n > 0 {
		if err := r.flush(); err != nil {
			return parallelTiming{}, err
		}
	}
	promptDone := time.Now()

	for g := range r.spec.Gen {
		s0 := time.Now()
		for j := range np {
			r.gen[j][g] = r.cur[j]
			r.add(j, model.SeqBatch{Tokens: r.cur[j : j+1], Pos: pp + g, Blocks: r.tables[j], Logits: true})
		}
		if err := r.flush(); err != nil {
			return parallelTiming{}, err
		}
		r.steps[g] = time.Since(s0).Nanoseconds()
	}
	end := time.Now()
	for j := range np {
		r.gen[j][r.spec.Gen] = r.cur[j]
	}
	return parallelTiming{prompt: promptDone.Sub(start), gen: end.Sub(promptDone)}, nil
}

// add appends s, a part of sequence seq, to the pending call.
func (r *parallelRun) add(seq int, s model.SeqBatch) {
	r.batch.Seqs = append(r.batch.Seqs, s)
	r.owner = append(r.owner, seq)
}

// flush runs the pending call and sets the next token of each sequence
// whose logits it computed to their argmax.
func (r *parallelRun) flush() error {
	err := r.m.ForwardBatch(r.pool, r.w, r.cache, &r.batch, r.logits)
	if err == nil {
		vocab := r.m.Config.VocabSize
		k := 0
		for i, s := range r.batch.Seqs {
			if s.Logits {
				r.cur[r.owner[i]] = engine.Argmax(r.logits[k*vocab : (k+1)*vocab])
				k++
			}
		}
	}
	r.batch.Seqs, r.owner = r.batch.Seqs[:0], r.owner[:0]
	return err
}
