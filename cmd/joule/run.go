package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/joule-llm/joule/chat"
	"github.com/joule-llm/joule/engine"
	"github.com/joule-llm/joule/tensor"
)

type runOptions struct {
	model     string
	maxTokens int
	threads   int
	ctx       int
	seed      uint64
	kvType    string
	noBOS     bool
	special   bool
	chat      bool
	system    string
	sampling  engine.SamplerConfig
}

func newRunCmd() *cobra.Command {
	o := runOptions{sampling: engine.DefaultSamplerConfig()}
	cmd := &cobra.Command{
		Use:   "run -m MODEL.gguf [flags] PROMPT",
		Short: "Generate a continuation of PROMPT, streamed to stdout",
		Long: `Generate a continuation of PROMPT and stream it to stdout as tokens arrive
(the prompt is not echoed). A one-line summary with prompt and generation
speed goes to stderr. Generation stops at the model's end-of-generation token,
after --max-tokens tokens, or when the context is full. With no PROMPT
argument the prompt is read from standard input.

With --chat, or with no PROMPT on a terminal, joule run is an interactive
chat: each line typed is a user message, formatted with the model's chat
template; the conversation stays in the KV cache between turns. /bye (or
end of input) leaves.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.chat || (len(args) == 0 && inputIsTerminal(cmd.InOrStdin())) {
				if len(args) > 0 {
					return errors.New("--chat takes no PROMPT argument: type the messages")
				}
				return run(cmd, o, "", true)
			}
			prompt, err := promptText(cmd.InOrStdin(), args)
			if err != nil {
				return err
			}
			return run(cmd, o, prompt, false)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.model, "model", "m", "", "GGUF model file (required)")
	f.IntVarP(&o.maxTokens, "max-tokens", "n", 256, "most tokens to generate (-1: until the context is full)")
	f.IntVarP(&o.threads, "threads", "t", defaultThreads(), "threads to compute with")
	f.IntVar(&o.ctx, "ctx", 0, "context length in tokens, at most the model's own (0: the model's own, capped at 4096)")
	f.Float32Var(&o.sampling.Temperature, "temp", o.sampling.Temperature, "temperature; 0 is greedy decoding")
	f.IntVar(&o.sampling.TopK, "top-k", o.sampling.TopK, "keep the k most likely tokens (0: off)")
	f.Float32Var(&o.sampling.TopP, "top-p", o.sampling.TopP, "keep the smallest set of tokens whose probability reaches p (1: off)")
	f.Float32Var(&o.sampling.MinP, "min-p", o.sampling.MinP, "drop tokens less likely than p times the most likely (0: off)")
	f.Float32Var(&o.sampling.RepeatPenalty, "repeat-penalty", o.sampling.RepeatPenalty, "penalise recently seen tokens (1: off)")
	f.IntVar(&o.sampling.RepeatLastN, "repeat-last-n", o.sampling.RepeatLastN, "how many recent tokens the penalties look at")
	f.Float32Var(&o.sampling.FrequencyPenalty, "frequency-penalty", 0, "subtract this times a token's count in the recent tokens")
	f.Float32Var(&o.sampling.PresencePenalty, "presence-penalty", 0, "subtract this from tokens present in the recent tokens")
	f.Uint64Var(&o.seed, "seed", 0, "random seed (0: a random one)")
	f.StringVar(&o.kvType, "kv-type", "f16", "KV cache element type: f16 or f32")
	f.BoolVar(&o.noBOS, "no-bos", false, "do not add the model's BOS token to the prompt")
	f.BoolVar(&o.special, "special", false, "parse special-token text such as <s> in the prompt")
	f.BoolVar(&o.chat, "chat", false, "interactive chat with the model's chat template")
	f.StringVar(&o.system, "system", "", "system message for --chat")
	cmd.MarkFlagRequired("model")
	return cmd
}

// defaultThreads is the number of cores Go may use; on hyper-threaded
// machines one thread per physical core is usually fastest, which -t sets.
func defaultThreads() int { return runtime.GOMAXPROCS(0) }

func promptText(stdin io.Reader, args []string) (string, error) {
	if len(args) == 1 {
		return args[0], nil
	}
	b, err := io.ReadAll(stdin)
	if err != nil {
		return "", fmt.Errorf("reading the prompt from stdin: %w", err)
	}
	return strings.TrimRight(string(b), "\n"), nil
}

func run(cmd *cobra.Command, o runOptions, prompt string, chatMode bool) error {
	ctx := cmd.Context()
	stderr := cmd.ErrOrStderr()
	if o.threads < 1 {
		return fmt.Errorf("--threads must be at least 1, got %d", o.threads)
	}
	kvType, err := parseKVType(o.kvType)
	if err != nil {
		return err
	}
	f, m, tok, err := loadModel(o.model)
	if err != nil {
		return err
	}
	defer f.Close()

	ctxLen := o.ctx
	if ctxLen <= 0 {
		ctxLen = min(m.Config.ContextLength, 4096)
	}
	if ctxLen > m.Config.ContextLength {
		// Beyond its training context a model without rope scaling produces
		// garbage, and the KV cache is allocated up front: refuse early.
		return fmt.Errorf("--ctx %d exceeds the model's context length %d", ctxLen, m.Config.ContextLength)
	}
	state, err := m.NewState(ctxLen, kvType)
	if err != nil {
		return err
	}
	sampling := o.sampling
	sampling.Seed = o.seed
	if sampling.Seed == 0 {
		sampling.Seed = uint64(time.Now().UnixNano())
	}
	pool := tensor.NewPool(o.threads)
	defer pool.Close()
	if chatMode {
		tmpl, err := chat.FromGGUF(f)
		if err != nil {
			return fmt.Errorf("chat needs the model's chat template: %w", err)
		}
		c := &chatSession{m: m, tok: tok, tmpl: tmpl, state: state, pool: pool, sampling: sampling, maxTokens: o.maxTokens}
		if o.system != "" {
			c.history = append(c.history, chat.Message{Role: "system", Content: o.system})
		}
		return c.loop(ctx, cmd.InOrStdin(), cmd.OutOrStdout(), stderr)
	}
	ids := tok.Encode(prompt, !o.noBOS, o.special)
	if len(ids) == 0 {
		return errors.New("the prompt is empty and the model adds no BOS token: nothing to generate from")
	}
	if len(ids) >= ctxLen {
		return fmt.Errorf("the prompt is %d tokens, the context only %d (raise --ctx)", len(ids), ctxLen)
	}

	out := bufio.NewWriter(cmd.OutOrStdout())
	dec := tok.NewContinuationDecoder()
	// Flush at every token: the point of streaming is that text appears as
	// it is generated.
	emit := func(id int) error {
		if s := dec.Add(id); s != "" {
			out.WriteString(s)
			return out.Flush()
		}
		return nil
	}
	gc := engine.GenerateConfig{
		MaxTokens: o.maxTokens,
		Sampler:   engine.NewSampler(sampling),
		IsEnd:     tok.IsEOG,
	}
	switch {
	case o.maxTokens == 0:
		return nil
	case o.maxTokens < 0:
		gc.MaxTokens = 0 // until the context is full
	}
	st, genErr := engine.Generate(ctx, m, pool, state, ids, gc, emit)
	out.WriteString(dec.Flush())
	out.Flush()
	// stdout holds exactly the continuation; the line break that ends it on
	// a terminal goes to stderr with the summary.
	fmt.Fprintf(stderr, "\nprompt: %d tokens, %.1f tokens/s | generated: %d tokens, %.1f tokens/s | stop: %s\n",
		st.PromptTokens, rate(st.PromptTokens, st.PromptDuration),
		st.GeneratedTokens, rate(st.GeneratedTokens, st.GenerationDuration), st.Stop)
	if genErr != nil && !errors.Is(genErr, ctx.Err()) {
		return genErr
	}
	return nil
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func parseKVType(s string) (tensor.Type, error) {
	switch strings.ToLower(s) {
	case "f16":
		return tensor.F16, nil
	case "f32":
		return tensor.F32, nil
	}
	return 0, fmt.Errorf("--kv-type %q: want f16 or f32", s)
}
