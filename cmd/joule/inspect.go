package main

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/joule-llm/joule/gguf"
)

func newInspectCmd() *cobra.Command {
	var full bool
	cmd := &cobra.Command{
		Use:   "inspect MODEL.gguf",
		Short: "Print a GGUF file's metadata and tensor table",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := gguf.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			return inspect(cmd.OutOrStdout(), f, full)
		},
	}
	cmd.Flags().BoolVar(&full, "full", false, "print arrays in full instead of their first elements")
	return cmd
}

func inspect(w io.Writer, f *gguf.File, full bool) error {
	fmt.Fprintf(w, "GGUF v%d, %d metadata keys, %d tensors, alignment %d, data at byte %d, %s\n\n",
		f.Version, len(f.KV), len(f.Tensors), f.Alignment, f.DataOffset, humanBytes(uint64(f.Size())))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tTYPE\tVALUE")
	for _, kv := range f.KV {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", kv.Key, typeName(kv.Value), formatValue(kv.Value, full))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENSOR\tTYPE\tSHAPE\tBYTES")
	var total, params uint64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		dims := make([]string, len(t.Dims))
		for j, d := range t.Dims {
			dims[j] = fmt.Sprint(d)
		}
		fmt.Fprintf(tw, "%s\t%s\t[%s]\t%d\n", t.Name, t.Type, strings.Join(dims, ", "), t.Size)
		total += t.Size
		params += t.Elements()
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d tensors, %d parameters, %s of tensor data\n", len(f.Tensors), params, humanBytes(total))
	return nil
}

func typeName(v any) string {
	switch x := v.(type) {
	case []any:
		return fmt.Sprintf("array[array;%d]", len(x))
	case string:
		return "string"
	}
	s := fmt.Sprintf("%T", v)
	if rest, ok := strings.CutPrefix(s, "[]"); ok {
		return fmt.Sprintf("array[%s;%d]", rest, arrayLen(v))
	}
	return s
}

func arrayLen(v any) int { return reflect.ValueOf(v).Len() }

const maxShown = 8

func formatValue(v any, full bool) string {
	switch x := v.(type) {
	case string:
		return quoteShort(x, full)
	case []string:
		n := len(x)
		if !full && n > maxShown {
			x = x[:maxShown]
		}
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = quoteShort(s, full)
		}
		return listString(parts, n)
	case []any:
		parts := make([]string, 0, len(x))
		for i, el := range x {
			if !full && i == maxShown {
				break
			}
			parts = append(parts, formatValue(el, full))
		}
		return listString(parts, len(x))
	}
	s := fmt.Sprint(v)
	if strings.HasPrefix(s, "[") { // a numeric or bool array
		fields := strings.Fields(strings.Trim(s, "[]"))
		n := len(fields)
		if !full && n > maxShown {
			fields = fields[:maxShown]
		}
		return listString(fields, n)
	}
	return s
}

func listString(parts []string, total int) string {
	s := "[" + strings.Join(parts, ", ")
	if total > len(parts) {
		s += fmt.Sprintf(", … %d more", total-len(parts))
	}
	return s + "]"
}

func quoteShort(s string, full bool) string {
	const max = 80
	if !full && len(s) > max {
		cut := max
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q… (%d bytes)", s[:cut], len(s))
	}
	return fmt.Sprintf("%q", s)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func humanBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
