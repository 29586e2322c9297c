package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/joule-llm/joule/hub"
)

func newPullCmd() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "pull hf.co/OWNER/REPO[:QUANT] | URL",
		Short: "Download a GGUF model from Hugging Face or a URL into the local store",
		Long: `Download a GGUF model into the local store, from which run and serve take it
by name (joule ls lists them).

A Hugging Face repository is named hf.co/OWNER/REPO:QUANT (huggingface.co/...
and OWNER/REPO:QUANT work too), where QUANT is a quantization tag such as
Q4_K_M or Q8_0, matched case-insensitively against the repository's .gguf
file names. Without a tag Q4_K_M is pulled if the repository has it, else
its first .gguf file. A URL names one file: a Hugging Face file URL
(.../resolve/main/FILE.gguf) or any https URL.

A model split into parts (FILE-00001-of-00003.gguf, ...) is pulled with all
its parts, which run and serve then load together.

An interrupted pull keeps its partial file and resumes where it stopped
when run again. The finished file is checked against the SHA-256 that
Hugging Face publishes before it is stored.

Environment:
  HF_TOKEN     Hugging Face access token, for gated and private models
  HF_ENDPOINT  Hugging Face address (default https://huggingface.co)
  JOULE_HOME   the store's folder (default: "joule" in the user cache folder)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return pull(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), quiet, args[0])
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "show no download progress")
	return cmd
}

func pull(ctx context.Context, stdout, stderr io.Writer, quiet bool, name string) error {
	store, err := hub.DefaultStore()
	if err != nil {
		return err
	}
	c := hub.NewClient()
	var bar *pullBar
	if !quiet {
		bar = &pullBar{w: stderr, tty: isTerminal(stderr)}
		c.Progress = bar.update
	}
	m, fetched, err := c.Pull(ctx, store, name)
	if bar != nil {
		bar.done(err == nil)
	}
	if err != nil {
		return err
	}
	check := "SHA-256 verified"
	if !m.Verified {
		check = "no published SHA-256 to check against"
	}
	state := "pulled"
	if !fetched {
		state = "up to date"
	}
	file := m.File
	if len(m.Parts) > 1 {
		file = fmt.Sprintf("%s and %d more parts", m.File, len(m.Parts)-1)
	}
	fmt.Fprintf(stdout, "%s: %s (%s, %s, %s)\n", m.Name, state, file, humanBytes(uint64(m.Size)), check)
	fmt.Fprintf(stdout, "stored at %s\n", m.Path)
	return nil
}

// pullBar shows download progress: a progress bar on a terminal, one for
// each file (each part of a split model), and a line when each transfer
// starts elsewhere (logs, pipes).
type pullBar struct {
	w     io.Writer
	tty   bool
	bar   *progressbar.ProgressBar
	file  string // the file bar shows
	total int64
}

func (p *pullBar) update(ev hub.Progress) {
	if !p.tty {
		// Each transfer attempt reports first with Done == Resumed.
		if ev.Done == ev.Resumed {
			size := "unknown size"
			if ev.Total >= 0 {
				size = humanBytes(uint64(ev.Total))
			}
			if ev.Resumed > 0 {
				fmt.Fprintf(p.w, "resuming %s at %s of %s\n", ev.File, humanBytes(uint64(ev.Resumed)), size)
			} else {
				fmt.Fprintf(p.w, "downloading %s (%s)\n", ev.File, size)
			}
		}
		return
	}
	if p.bar != nil && ev.File != p.file {
		p.bar.Finish()
		p.bar = nil
	}
	if p.bar == nil {
		p.file = ev.File
		p.total = ev.Total
		p.bar = progressbar.NewOptions64(ev.Total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(ev.File),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionFullWidth(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
		)
	}
	if ev.Total != p.total && ev.Total >= 0 {
		p.total = ev.Total
		p.bar.ChangeMax64(ev.Total)
	}
	p.bar.Set64(ev.Done)
}

func (p *pullBar) done(ok bool) {
	if p.bar == nil {
		return
	}
	if ok {
		p.bar.Finish()
	} else {
		p.bar.Exit()
	}
}

// isTerminal reports whether w is a terminal, where a progress bar that
// redraws itself makes sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
