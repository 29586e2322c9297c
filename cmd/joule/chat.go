package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/joule-llm/joule/chat"
	"github.com/joule-llm/joule/engine"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/tensor"
	"github.com/joule-llm/joule/tokenizer"
)

// chatSession is an interactive conversation. fed holds the tokens whose
// keys and values are in state, so that each turn computes only what the
// conversation added since the last one.
type chatSession struct {
	m         *model.Model
	tok       *tokenizer.Tokenizer
	tmpl      *chat.Template
	state     *model.State
	pool      *tensor.Pool
	sampling  engine.SamplerConfig
	maxTokens int
	history   []chat.Message
	fed       []int
}

func (c *chatSession) loop(ctx context.Context, in io.Reader, out, stderr io.Writer) error {
	lines := bufio.NewScanner(in)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	interactive := inputIsTerminal(in)
	for {
		if interactive {
			fmt.Fprint(stderr, "> ")
		}
		if !lines.Scan() {
			return lines.Err()
		}
		line := strings.TrimSpace(lines.Text())
		switch {
		case line == "":
			continue
		case line == "/bye":
			return nil
		}
		reply, err := c.turn(ctx, line, out)
		if errors.Is(err, model.ErrContextFull) {
			fmt.Fprintln(stderr, "joule: the context is full; start a new chat or raise --ctx")
			return nil
		}
		if err != nil {
			return err
		}
		c.history = append(c.history, chat.Message{Role: "assistant", Content: reply})
		fmt.Fprintln(out)
	}
}

// turn adds the user's message, generates the reply and streams it to out.
func (c *chatSession) turn(ctx context.Context, text string, out io.Writer) (string, error) {
	c.history = append(c.history, chat.Message{Role: "user", Content: text})
	prompt, err := c.tmpl.Render(c.history, chat.Options{AddGenerationPrompt: true})
	if err != nil {
		return "", err
	}
	// Templates write the BOS text themselves when the model wants it.
	ids := c.tok.Encode(prompt, false, true)
	if c.tok.AddBOS() && (len(ids) == 0 || ids[0] != c.tok.BOS()) {
		ids = append([]int{c.tok.BOS()}, ids...)
	}
	keep := commonPrefix(c.fed, ids)
	if keep == len(ids) { // something must be computed to get logits
		keep--
	}
	if err := c.state.Truncate(keep); err != nil {
		return "", err
	}
	c.fed = append(c.fed[:keep], ids[keep:]...)

	w := bufio.NewWriter(out)
	dec := c.tok.NewContinuationDecoder()
	var reply strings.Builder
	emit := func(id int) error {
		c.fed = append(c.fed, id)
		s := dec.Add(id)
		reply.WriteString(s)
		w.WriteString(s)
		return w.Flush()
	}
	gc := engine.GenerateConfig{MaxTokens: max(c.maxTokens, 0), Sampler: engine.NewSampler(c.sampling), IsEnd: c.tok.IsEOG}
	_, err = engine.Generate(ctx, c.m, c.pool, c.state, ids[keep:], gc, emit)
	tail := dec.Flush()
	reply.WriteString(tail)
	w.WriteString(tail)
	w.Flush()
	// The last emitted token was sampled but never fed: the state holds one
	// token fewer than fed says.
	if len(c.fed) > c.state.Pos() {
		c.fed = c.fed[:c.state.Pos()]
	}
	return strings.TrimSpace(reply.String()), err
}

func commonPrefix(a, b []int) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// inputIsTerminal reports whether r is a terminal, not a pipe or a file.
func inputIsTerminal(r io.Reader) bool {
	w, ok := r.(io.Writer)
	return ok && isTerminal(w)
}
