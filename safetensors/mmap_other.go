//go:build !unix

package safetensors

import (
	"fmt"
	"os"
)

// Open reads and parses the safetensors file at path. Platforms without
// mmap support read the whole file into memory.
func Open(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return f, nil
}
