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
)

// FromGGUF builds the Tokenizer described by a GGUF file's metadata. Keys
// that are absent take llama.cpp's defaults for a "llama" vocabulary: BOS
// 1, EOS 2, UNK 0 (each only if the vocabulary is that large), BOS added,
// EOS not, a space prefix added.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	model, err := f.String(keyModel)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if model != "llama" {
		return nil, fmt.Errorf("tokenizer: model type %q is not supported (only \"llama\", SentencePiece)", model)
	}
	v := Vocab{Model: model, PAD: -1, EOT: -1, AddBOS: true, AddSpacePrefix: true}
	if v.Tokens, err = f.Strings(keyTokens); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	n := len(v.Tokens)

	if s, ok := f.Value(keyScores); ok {
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
		{keyBOS, &v.BOS, 1}, {keyEOS, &v.EOS, 2}, {keyUNK, &v.UNK, 0},
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
