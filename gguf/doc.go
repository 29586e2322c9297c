// Package gguf reads and writes GGUF files, the model format of ggml and
// llama.cpp.
//
// Open memory-maps a file and exposes its tensors without copying them.
// Everything in the header is validated before it is trusted: the magic,
// the version, every count and length against the bytes that remain,
// tensor dimensions against overflow, tensor types, and every tensor's
// bytes against the end of the file. A hostile file yields an error that
// names the problem, never a panic or a huge allocation.
package gguf
