package main

import (
	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/hub"
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
