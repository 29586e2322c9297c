package main

import (
	"fmt"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/hub"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/tokenizer"
)

// openModel opens a GGUF file given as a path or as the name of a model in
// the local store (joule pull).
func openModel(nameOrPath string) (*gguf.File, error) {
	path, err := hub.Resolve(nameOrPath)
	if err != nil {
		return nil, err
	}
	return gguf.Open(path)
}

// loadModel opens a model file and loads its weights and tokenizer, which
// must agree on the vocabulary. The caller closes the file when done with
// the model; on error it is already closed.
func loadModel(nameOrPath string) (*gguf.File, *model.Model, *tokenizer.Tokenizer, error) {
	f, err := openModel(nameOrPath)
	if err != nil {
		return nil, nil, nil, err
	}
	m, err := model.Load(f)
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	if tok.Len() > m.Config.VocabSize {
		f.Close()
		return nil, nil, nil, fmt.Errorf("tokenizer has %d tokens but the model's output has only %d", tok.Len(), m.Config.VocabSize)
	}
	return f, m, tok, nil
}
