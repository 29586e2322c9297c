package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newRunCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "run -m MODEL.gguf [flags] PROMPT",
		Short: "Generate a continuation of PROMPT",
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("run: not built yet")
		},
	}
}
