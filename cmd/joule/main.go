package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "joule:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "joule",
		Short:         "Run GGUF language models fast on the CPU",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newInspectCmd(), newRunCmd(), newBenchCmd(), newTokenizeCmd(), newServeCmd(), newPullCmd(), newLsCmd(), newConvertCmd(), newQuantizeCmd(), newPerplexityCmd(), newTemplateCmd())
	return root
}
