package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/joule-llm/joule/hub"
)

func newLsCmd() *cobra.Command {
	var paths bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the models in the local store",
		Long: `List the models that joule pull stored, with the name run and serve take
them by, their size, quantization and when they were pulled. A model split
into parts is listed once, with the size of all its parts and, with --paths,
the path of its first part, the one to give to other tools. The store is
$JOULE_HOME (by default the "joule" folder of the user cache folder).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return ls(cmd.OutOrStdout(), paths)
		},
	}
	cmd.Flags().BoolVar(&paths, "paths", false, "show each model's file path too")
	return cmd
}

func ls(w io.Writer, paths bool) error {
	store, err := hub.DefaultStore()
	if err != nil {
		return err
	}
	models, err := store.List()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	header := "NAME\tSIZE\tQUANT\tMODIFIED"
	if paths {
		header += "\tPATH"
	}
	fmt.Fprintln(tw, header)
	for _, m := range models {
		quant := m.Quant
		if quant == "" {
			quant = "-"
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s", m.Name, humanBytes(uint64(m.Size)), quant, m.Time.Local().Format("2006-01-02 15:04"))
		if paths {
			line += "\t" + m.Path
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}
