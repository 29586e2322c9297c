package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/joule-llm/joule/tokenizer"
)

type tokenizeOptions struct {
	model     string
	hf        string
	noSpecial bool
	json      bool
}

func newTokenizeCmd() *cobra.Command {
	var o tokenizeOptions
	cmd := &cobra.Command{
		Use:   "tokenize (-m MODEL.gguf | --hf DIR) [--no-special] [--json] TEXT",
		Short: "Print the token ids of TEXT",
		Long: `Print the token ids of TEXT on one line, separated by spaces, or with --json
as {"ids": [...], "tokens": [...]} where tokens are the vocabulary's texts of
the ids. The tokenizer comes from a GGUF model file (-m) or from a Hugging
Face tokenizer directory holding tokenizer.json (--hf).

By default special tokens are added as the tokenizer's own rules say (BOS,
for instance) and special-token text in TEXT, such as <|im_start|>, becomes
the special token; --no-special adds none and encodes such text as plain
text. With no TEXT argument the text is read from standard input.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := promptText(cmd.InOrStdin(), args)
			if err != nil {
				return err
			}
			return tokenize(cmd.OutOrStdout(), o, text)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.model, "model", "m", "", "GGUF model file to take the tokenizer from")
	f.StringVar(&o.hf, "hf", "", "Hugging Face tokenizer directory (tokenizer.json, tokenizer_config.json)")
	f.BoolVar(&o.noSpecial, "no-special", false, "add no special tokens and encode special-token text as text")
	f.BoolVar(&o.json, "json", false, `print {"ids": [...], "tokens": [...]}`)
	return cmd
}

func tokenize(w io.Writer, o tokenizeOptions, text string) error {
	tok, err := loadTokenizer(o)
	if err != nil {
		return err
	}
	special := !o.noSpecial
	ids := tok.Encode(text, special, special)
	if o.json {
		out := struct {
			IDs    []int    `json:"ids"`
			Tokens []string `json:"tokens"`
		}{IDs: ids, Tokens: make([]string, len(ids))}
		if out.IDs == nil {
			out.IDs = []int{}
		}
		for i, id := range ids {
			out.Tokens[i] = tok.Token(id)
		}
		// Token texts such as <|im_end|> read better unescaped.
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return enc.Encode(out)
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	_, err = fmt.Fprintln(w, strings.Join(s, " "))
	return err
}

func loadTokenizer(o tokenizeOptions) (*tokenizer.Tokenizer, error) {
	switch {
	case o.model != "" && o.hf != "":
		return nil, errors.New("give either -m or --hf, not both")
	case o.hf != "":
		return tokenizer.FromHF(o.hf)
	case o.model != "":
		f, err := openModel(o.model)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return tokenizer.FromGGUF(f)
	}
	return nil, errors.New("no tokenizer: give -m MODEL.gguf or --hf DIR")
}
