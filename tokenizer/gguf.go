package tokenizer

import (
	"errors"
	"fmt"

	"github.com/joule-llm/joule/gguf"
)

// GGUF metadata keys of the tokenizer.
const (
	keyModel       = "tokenizer.ggml.model"
	keyTokens      = "tokenizer.ggml.tokens"
	keyScores      = "tokenizer.ggml.scores"
	keyTypes       = "tokenizer.ggml.token_type"
	keyBOS         = "tokenizer.ggml.bos_token_id"
	keyEOS         = "tokenizer.ggml.eos_token_id"
	keyUNK         = "tokenizer.ggml.unknown_token_id"
	keyPAD         = "tokenizer.ggml.padding_token_id"
	keyEOT         = "tokenizer.ggml.eot_token_id"
	keyAddBOS      = "tokenizer.ggml.add_bos_token"
	keyAddEOS      = "tokenizer.ggml.add_eos_token"
	keyAddSpacePfx = "tokenizer.ggml.add_space_prefix"
	keyMerges      = "tokenizer.ggml.merges"
	keyPre         = "tokenizer.ggml.pre"
)

// FromGGUF builds the Tokenizer described by a GGUF file's metadata:
// SentencePiece for tokenizer.ggml.model "llama", byte-level BPE for
// "gpt2". Keys that are absent take llama.cpp's defaults. For "llama": BOS
// 1, EOS 2, UNK 0 (each only if the vocabulary is that large), BOS added,
// EOS not, a space prefix added. For "gpt2": BOS and EOS 11 (likewise), no
// UNK, BOS added only for the Llama 3 pre-tokenizers, EOS not, and the
// "default" pre-tokenizer when tokenizer.ggml.pre is missing.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	model, err := f.String(keyModel)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	v := Vocab{Model: model, PAD: -1, EOT: -1}
	defBOS, defEOS, defUNK := 1, 2, 0
	switch model {
	case "llama":
		v.AddBOS, v.AddSpacePrefix = true, true
	case "gpt2":
		defBOS, defEOS, defUNK = 11, 11, -1
		if v.Merges, err = f.Strings(keyMerges); err != nil {
			return nil, fmt.Errorf("tokenizer: byte-level BPE (\"gpt2\"): %w", err)
		}
		if f.Has(keyPre) {
			if v.Pre, err = f.String(keyPre); err != nil {
				return nil, fmt.Errorf("tokenizer: %w", err)
			}
		}
		name := v.Pre
		if name == "" {
			name = "default"
		}
		v.AddBOS = preNames[name].addBOS // an unknown name fails in New
	default:
		return nil, fmt.Errorf("tokenizer: model type %q is not supported (only \"llama\", SentencePiece, and \"gpt2\", byte-level BPE)", model)
	}
	if v.Tokens, err = f.Strings(keyTokens); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	n := len(v.Tokens)

	if s, ok := f.Value(keyScores); ok && model == "llama" {
		switch s := s.(type) {
		case []float32:
			v.Scores = s
		case []int32: // llama.cpp accepts integer scores too
			v.Scores = make([]float32, len(s))
			for i, x := range s {
				v.Scores[i] = float32(x)
			}
		default:
			return nil, fmt.Errorf("tokenizer: metadata %q is %T, want an array of float32", keyScores, s)
		}
	}
	if f.Has(keyTypes) {
		if v.Types, err = f.Int32s(keyTypes); err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
	}

	for _, k := range []struct {
		key string
		id  *int
		def int
	}{
		{keyBOS, &v.BOS, defBOS}, {keyEOS, &v.EOS, defEOS}, {keyUNK, &v.UNK, defUNK},
		{keyPAD, &v.PAD, -1}, {keyEOT, &v.EOT, -1},
	} {
		*k.id = k.def
		if k.def >= n {
			*k.id = -1
		}
		if !f.Has(k.key) {
			continue
		}
		id, err := f.Int(k.key)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		if id < 0 || id >= int64(n) {
			return nil, fmt.Errorf("tokenizer: metadata %q is %d, out of range for %d tokens", k.key, id, n)
		}
		*k.id = int(id)
	}

	for _, k := range []struct {
		key string
		b   *bool
	}{{keyAddBOS, &v.AddBOS}, {keyAddEOS, &v.AddEOS}, {keyAddSpacePfx, &v.AddSpacePrefix}} {
		b, err := f.Bool(k.key)
		switch {
		case err == nil:
			*k.b = b
		case !errors.Is(err, gguf.ErrKeyNotFound):
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
	}
	return New(v)
}
