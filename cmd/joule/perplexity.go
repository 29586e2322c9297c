package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/tensor"
)

type perplexityOptions struct {
	model   string
	file    string
	ctx     int
	batch   int
	chunks  int
	threads int
	kvType  string
}

func newPerplexityCmd() *cobra.Command {
	var o perplexityOptions
	cmd := &cobra.Command{
		Use:   "perplexity -m MODEL.gguf -f TEXT [--ctx N] [-b N]",
		Short: "Measure a model's perplexity on a text, as llama-perplexity does",
		Long: `Measure the model's perplexity on the text of a file with llama.cpp's method
(llama-perplexity). The text is tokenized as a whole (with BOS when the model
adds one) and cut into chunks of --ctx tokens; each chunk is run from an empty
cache with its first token replaced by BOS, and only the second half of each
chunk is scored, so that every scored token has at least ctx/2 tokens before
it. The perplexity is exp of the mean negative log-likelihood of the scored
tokens.

The running perplexity after each chunk is printed as [1]x,[2]y,... and then
"Final estimate: PPL = X +/- Y", where Y is the standard error of the mean
log-likelihood carried over to the perplexity. The text must hold at least
2*ctx tokens.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPerplexity(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.model, "model", "m", "", "GGUF model file (required)")
	f.StringVarP(&o.file, "file", "f", "", "text file to score (required)")
	f.IntVarP(&o.ctx, "ctx", "c", 512, "tokens per chunk")
	f.IntVarP(&o.batch, "batch", "b", 2048, "most tokens per forward pass (at most --ctx are used)")
	f.IntVar(&o.chunks, "chunks", -1, "score at most this many chunks (-1: all)")
	f.IntVarP(&o.threads, "threads", "t", defaultThreads(), "threads to compute with")
	f.StringVar(&o.kvType, "kv-type", "f16", "KV cache element type: f16 or f32")
	cmd.MarkFlagRequired("model")
	cmd.MarkFlagRequired("file")
	return cmd
}

func runPerplexity(ctx context.Context, stdout, stderr io.Writer, o perplexityOptions) error {
	if o.threads < 1 {
		return fmt.Errorf("--threads must be at least 1, got %d", o.threads)
	}
	if o.batch < 1 {
		return fmt.Errorf("--batch must be at least 1, got %d", o.batch)
	}
	if o.ctx < 4 {
		return fmt.Errorf("--ctx must be at least 4, got %d", o.ctx)
	}
	kvType, err := parseKVType(o.kvType)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(o.file)
	if err != nil {
		return err
	}
	// llama.cpp drops one trailing newline of a prompt file.
	text := strings.TrimSuffix(string(raw), "\n")

	f, m, tok, err := loadModel(o.model)
	if err != nil {
		return err
	}
	defer f.Close()
	if tok.Vocab().AddEOS {
		// Every chunk would be scored on an EOS that is not in the text;
		// llama-perplexity refuses such models too.
		return errors.New("the model's tokenizer appends EOS to every text, which perplexity cannot score")
	}
	if o.ctx > m.Config.ContextLength {
		return fmt.Errorf("--ctx %d exceeds the model's context length %d", o.ctx, m.Config.ContextLength)
	}

	start := time.Now()
	tokens := tok.Encode(text, true, false)
	fmt.Fprintf(stderr, "perplexity: tokenized the input into %d tokens in %.2f ms\n", len(tokens), time.Since(start).Seconds()*1e3)
	if len(tokens) < 2*o.ctx {
		return fmt.Errorf("need at least %d tokens to measure perplexity with --ctx %d, the text has %d", 2*o.ctx, o.ctx, len(tokens))
	}
	bos := -1
	if tok.AddBOS() {
		bos = tok.BOS()
	}
	pool := tensor.NewPool(o.threads)
	defer pool.Close()
	pool.Hold() // one forward pass after another

	p := pplRun{model: m, pool: pool, kvType: kvType, ctx: o.ctx, batch: min(o.batch, o.ctx), bos: bos}
	n := p.chunks(len(tokens), o.chunks)
	fmt.Fprintf(stderr, "perplexity: calculating perplexity over %d chunks, n_ctx=%d, batch_size=%d\n", n, p.ctx, p.batch)
	start = time.Now()
	res, err := p.measure(ctx, tokens, n, func(i int, ppl float64) {
		if i == 0 {
			secs := time.Since(start).Seconds()
			fmt.Fprintf(stderr, "perplexity: %.2f seconds per pass - ETA %.2f minutes\n", secs, secs*float64(n)/60)
		}
		fmt.Fprintf(stdout, "[%d]%.4f,", i+1, ppl)
	})
	fmt.Fprintln(stdout)
	if err != nil {
		return err
	}
	if !(res.stderr > 0) {
		return errors.New("the log-likelihoods have no spread: cannot estimate the error")
	}
	fmt.Fprintf(stdout, "Final estimate: PPL = %.4f +/- %.5f\n", res.ppl, res.stderr)
	return nil
}

// pplRun scores chunks of tokens as llama-perplexity does.
type pplRun struct {
	model  *model.Model
	pool   *tensor.Pool
	kvType tensor.Type
	ctx    int // tokens per chunk
	batch  int // tokens per forward pass, at most ctx
	bos    int // replaces each chunk's first token; -1: none
}

type pplResult struct {
	ppl    float64   // exp(mean negative log-likelihood)
	stderr float64   // its standard error
	count  int       // scored tokens
	nll    []float64 // negative log-likelihood of each scored token
}

// chunks returns how many chunks of tokens n tokens fill, at most limit
// when limit >= 0.
func (p *pplRun) chunks(n, limit int) int {
	c := n / p.ctx
	if limit >= 0 {
		c = min(c, limit)
	}
	return c
}

// measure scores the first n chunks of tokens, calling progress with the
// running perplexity after each.
func (p *pplRun) measure(ctx context.Context, tokens []int, n int, progress func(i int, ppl float64)) (pplResult, error) {
	var res pplResult
	if n < 1 {
		return res, errors.New("no chunk to score")
	}
	s, err := p.model.NewState(p.ctx, p.kvType)
	if err != nil {
		return res, err
	}
	vocab := p.model.Config.VocabSize
	logits := make([]float32, p.batch*vocab)
	chunk := make([]int, p.ctx)
	// Each chunk predicts its tokens first+1 .. ctx-1 from the logits at
	// positions first .. ctx-2; earlier positions only build the cache.
	first := p.ctx / 2
	var sum, sum2 float64
	for i := range n {
		copy(chunk, tokens[i*p.ctx:(i+1)*p.ctx])
		if p.bos >= 0 {
			chunk[0] = p.bos
		}
		s.Reset()
		for lo := 0; lo < p.ctx; lo += p.batch {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			hi := min(lo+p.batch, p.ctx)
			if hi <= first {
				if err := p.model.Forward(p.pool, s, chunk[lo:hi], nil); err != nil {
					return res, err
				}
				continue
			}
			out := logits[:(hi-lo)*vocab]
			if err := p.model.ForwardAll(p.pool, s, chunk[lo:hi], out); err != nil {
				return res, err
			}
			for pos := max(lo, first); pos < min(hi, p.ctx-1); pos++ {
				v := -logSoftmax(out[(pos-lo)*vocab:(pos-lo+1)*vocab], chunk[pos+1])
				res.nll = append(res.nll, v)
				sum += v
				sum2 += v * v
			}
		}
		res.count = len(res.nll)
		if progress != nil {
			progress(i, math.Exp(sum/float64(res.count)))
		}
	}
	mean := sum / float64(res.count)
	res.ppl = math.Exp(mean)
	if v := sum2/float64(res.count) - mean*mean; v > 0 && res.count > 1 {
		res.stderr = math.Sqrt(v/float64(res.count-1)) * res.ppl
	}
	return res, nil
}

// logSoftmax returns log p(tok) under logits, with llama-perplexity's
// arithmetic: float32 differences from the maximum, a float64 sum.
func logSoftmax(logits []float32, tok int) float64 {
	mx := logits[0]
	for _, l := range logits[1:] {
		mx = max(mx, l)
	}
	var sum float64
	for _, l := range logits {
		sum += float64(float32(math.Exp(float64(l - mx))))
	}
	return float64(logits[tok]-mx) - math.Log(sum)
}
