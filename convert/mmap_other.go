//go:build !unix

package convert

import (
	"io"
	"os"
)

// mapFile reads the first size bytes of f; platforms without mmap support
// hold them in memory.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil && err != io.EOF {
		return nil, nil, err
	}
	return data, func() error { return nil }, nil
}
