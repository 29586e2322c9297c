//go:build linux

package gguf

import "syscall"

// dontNeed drops the pages of b, page-aligned and inside a read-only file
// mapping, from the process; a later read faults them in from the file.
func dontNeed(b []byte) { _ = syscall.Madvise(b, syscall.MADV_DONTNEED) }
