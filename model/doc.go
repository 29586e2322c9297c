// Package model runs transformer forward passes over GGUF weights.
//
// It implements the "llama" architecture as llama.cpp defines it: RMSNorm,
// rotary position embeddings on adjacent pairs, grouped-query attention with
// a per-sequence KV cache, and a SwiGLU feed-forward block. Weights stay in
// the GGUF file's memory; Forward runs a batch of tokens at once and keeps
// every activation buffer in the State, so decoding does not allocate.
//
// The numerics follow llama.cpp's CPU backend with its default settings
// (flash attention, F16 KV cache), so that greedy decoding picks the same
// tokens.
package model
