//go:build !unix

package gguf

import (
	"fmt"
	"os"
)

// openFile reads and parses the one GGUF file at path. Platforms without
// mmap support read the whole file into memory.
func openFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	f.path = path
	return f, nil
}
