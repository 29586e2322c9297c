package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/joule-llm/joule/convert"
	"github.com/joule-llm/joule/tensor"
)

type convertOptions struct {
	typ   string
	pre   string
	quiet bool
}

func newConvertCmd() *cobra.Command {
	var o convertOptions
	cmd := &cobra.Command{
		Use:   "convert DIR OUT.gguf [--type f16|bf16|f32|q8_0]",
		Short: "Convert a Hugging Face model directory to a GGUF file",
		Long: `Convert a Hugging Face model directory (config.json, model.safetensors or
sharded model-*.safetensors with model.safetensors.index.json, and the
tokenizer: tokenizer.model and/or tokenizer.json, tokenizer_config.json) to a
GGUF file, as llama.cpp's convert_hf_to_gguf.py does. Supported:
LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM,
Phi3ForCausalLM, Gemma2ForCausalLM and Gemma3ForCausalLM (text). Llama,
Mistral, Phi-3 and Gemma models take a SentencePiece vocabulary from
tokenizer.model, or from a tokenizer.json BPE model with byte fallback when
there is no tokenizer.model; otherwise, and for Qwen, the tokenizer is
byte-level BPE from tokenizer.json.

--type sets the type of the weight matrices (f16 by default); norms and
biases stay f32. A byte-level BPE tokenizer's pre-tokenizer is identified as
llama.cpp identifies it; --pre names it instead for a tokenizer that is not
recognised. Each tensor is listed on standard error as it is written (--quiet: not).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConvert(cmd, args[0], args[1], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.typ, "type", "f16", "type of the weight matrices: f32, f16, bf16 or q8_0")
	f.StringVar(&o.pre, "pre", "", "tokenizer.ggml.pre to write instead of the pre-tokenizer found by hashing (e.g. llama-bpe, qwen2, gpt-2)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "do not list the tensors")
	return cmd
}

func runConvert(cmd *cobra.Command, dir, out string, o convertOptions) error {
	var typ tensor.Type
	switch strings.ToLower(o.typ) {
	case "f32":
		typ = tensor.F32
	case "f16":
		typ = tensor.F16
	case "bf16":
		typ = tensor.BF16
	case "q8_0":
		typ = tensor.Q8_0
	default:
		return fmt.Errorf("--type %q: want f32, f16, bf16 or q8_0", o.typ)
	}
	opts := convert.Options{Type: typ, Pre: o.pre}
	if !o.quiet {
		opts.Log = cmd.ErrOrStderr()
	}
	if err := convert.Convert(dir, out, opts); err != nil {
		return err
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s)\n", out, humanBytes(uint64(st.Size())))
	return nil
}
