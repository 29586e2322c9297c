// Package gguf reads and writes GGUF files, the model format of ggml and
// llama.cpp.
//
// Open memory-maps a file and exposes its tensors without copying them.
// Everything in the header is validated before it is trusted: the magic,
// the version, every count and length against the bytes that remain,
// tensor dimensions against overflow, tensor types, and every tensor's
// bytes against the end of the file. A hostile file yields an error that
// names the problem, never a panic or a huge allocation.
//
// Large models are often published split into parts by llama.cpp's
// gguf-split, named PREFIX-00001-of-00003.gguf and so on. Given the first
// part, Open opens them all and returns one File for the whole model;
// Writer.WriteSplit writes such parts.
package gguf
