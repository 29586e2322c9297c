package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/quantize"
	"github.com/joule-llm/joule/tensor"
)

type quantizeOptions struct {
	threads         int
	allowRequantize bool
	dryRun          bool
	verbose         bool
}

func newQuantizeCmd() *cobra.Command {
	var o quantizeOptions
	names := make([]string, 0, len(quantize.FileTypes()))
	for _, ft := range quantize.FileTypes() {
		names = append(names, ft.String())
	}
	cmd := &cobra.Command{
		Use:   "quantize IN.gguf OUT.gguf TYPE",
		Short: "Write a GGUF model with its weights quantized to TYPE",
		Long: `Write a copy of a GGUF model whose weight matrices are converted to the file
type TYPE, named as llama-quantize names it (Q3_K, Q4_K and Q5_K mean Q3_K_M,
Q4_K_M and Q5_K_M), one of:
  ` + strings.Join(names, ", ") + `

Each tensor gets the type llama.cpp's llama-quantize gives it: norms and other
1-D tensors keep their type, the output matrix (or a tied token embedding)
gets Q6_K, the _M and _L mixes and Q2_K give attn_v, ffn_down and attn_output
more bits in some layers, and a tensor whose rows do not split into whole
blocks falls back to a type whose blocks fit (Q5_0 for Q4_K, Q5_1 for Q5_K,
Q8_0 for Q6_K, Q4_0 for Q2_K and Q3_K, IQ4_NL for IQ4_XS), or to F16. IQ4_NL
and IQ4_XS are quantized as llama-quantize does without an importance matrix.
All metadata is copied; general.file_type and general.quantization_version
are set.

The input's tensors should be F32, F16 or BF16. Already quantized tensors are
converted only with --allow-requantize, since that compounds two roundings.`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuantize(cmd.OutOrStdout(), cmd.ErrOrStderr(), o, args[0], args[1], args[2])
		},
	}
	f := cmd.Flags()
	f.IntVarP(&o.threads, "threads", "t", defaultThreads(), "threads to quantize with")
	f.BoolVar(&o.allowRequantize, "allow-requantize", false, "convert tensors that are already quantized")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the type of every tensor and the sizes, write nothing")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "print the type of every tensor")
	return cmd
}

func runQuantize(stdout, stderr io.Writer, o quantizeOptions, in, out, typ string) error {
	if o.threads < 1 {
		return fmt.Errorf("--threads must be at least 1, got %d", o.threads)
	}
	ft, err := quantize.ParseFileType(typ)
	if err != nil {
		return err
	}
	f, err := gguf.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	plan, err := quantize.NewPlan(f, ft)
	if err != nil {
		return err
	}
	for _, c := range plan.Tensors {
		if c.Note != "" {
			fmt.Fprintf(stderr, "warning: %s: %s\n", c.Name, c.Note)
		}
	}
	if plan.Fallbacks > 0 {
		fmt.Fprintf(stderr, "warning: %d of %d tensors needed a fallback type for their shape\n", plan.Fallbacks, len(plan.Tensors))
	}
	if rq := plan.Requantizes(); len(rq) > 0 {
		if !o.allowRequantize {
			return fmt.Errorf("%d tensors are already quantized (%s is %s); requantizing loses quality, pass --allow-requantize to do it anyway",
				len(rq), rq[0].Name, rq[0].From)
		}
		fmt.Fprintf(stderr, "warning: requantizing %d already quantized tensors (%s is %s): quality will be worse than quantizing from F32, F16 or BF16\n",
			len(rq), rq[0].Name, rq[0].From)
	}
	if o.verbose || o.dryRun {
		printPlan(stdout, plan)
	}
	var inBytes, outBytes, params uint64
	for i := range f.Tensors {
		inBytes += f.Tensors[i].Size
		params += f.Tensors[i].Elements()
	}
	for _, c := range plan.Tensors {
		outBytes += c.Size
	}
	if o.dryRun {
		fmt.Fprintf(stdout, "%s: %s -> %s (%.2f bits per weight), %s; nothing written (--dry-run)\n",
			ft, humanBytes(inBytes), humanBytes(outBytes), bpw(outBytes, params), typeCounts(plan))
		return nil
	}

	prog := newQuantizeProgress(stderr, isTerminal(stderr), len(plan.Tensors))
	start := time.Now()
	err = quantize.WriteFile(out, f, plan, quantize.Options{
		Threads:         o.threads,
		AllowRequantize: o.allowRequantize,
		Progress:        prog.tensorDone,
	})
	prog.finish(err == nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s -> %s (%.2f bits per weight), %s, in %.2f s\n",
		ft, humanBytes(inBytes), humanBytes(outBytes), bpw(outBytes, params), typeCounts(plan), time.Since(start).Seconds())
	return nil
}

// quantizeProgress reports each tensor written: a progress bar on a
// terminal, else a line per tensor as llama-quantize prints.
type quantizeProgress struct {
	w   io.Writer
	n   int
	bar *progressbar.ProgressBar
}

func newQuantizeProgress(w io.Writer, tty bool, n int) *quantizeProgress {
	p := &quantizeProgress{w: w, n: n}
	if tty {
		p.bar = progressbar.NewOptions(n,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("quantizing"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	return p
}

func (p *quantizeProgress) tensorDone(i int, c *quantize.Choice) {
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%-28s", c.Name))
		p.bar.Add(1)
		return
	}
	width := len(fmt.Sprint(p.n))
	fmt.Fprintf(p.w, "[%*d/%d] %-32s %-5s -> %-5s %s\n", width, i+1, p.n, c.Name, c.From, c.To, humanBytes(c.Size))
}

func (p *quantizeProgress) finish(ok bool) {
	if p.bar == nil {
		return
	}
	if ok {
		p.bar.Finish()
	} else {
		p.bar.Exit()
		fmt.Fprintln(p.w)
	}
}

func bpw(bytes, params uint64) float64 {
	if params == 0 {
		return 0
	}
	return float64(8*bytes) / float64(params)
}

// typeCounts summarizes a plan as "30 Q8_0, 11 F32, 5 F16", most common
// first.
func typeCounts(p *quantize.Plan) string {
	count := map[tensor.Type]int{}
	var types []tensor.Type
	for _, c := range p.Tensors {
		if count[c.To] == 0 {
			types = append(types, c.To)
		}
		count[c.To]++
	}
	slices.SortStableFunc(types, func(a, b tensor.Type) int { return count[b] - count[a] })
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = fmt.Sprintf("%d %s", count[t], t)
	}
	return strings.Join(parts, ", ")
}

func printPlan(w io.Writer, p *quantize.Plan) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENSOR\tSHAPE\tFROM\tTO\tBYTES\tNOTE")
	for _, c := range p.Tensors {
		dims := make([]string, len(c.Dims))
		for j, d := range c.Dims {
			dims[j] = fmt.Sprint(d)
		}
		fmt.Fprintf(tw, "%s\t[%s]\t%s\t%s\t%d\t%s\n", c.Name, strings.Join(dims, ", "), c.From, c.To, c.Size, c.Note)
	}
	tw.Flush()
}
