// Command joule runs GGUF language models on the CPU.
//
//	joule run -m MODEL.gguf "PROMPT"   generate a continuation
//	joule inspect MODEL.gguf           show a file's metadata and tensors
package main
