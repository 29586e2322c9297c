// Package model runs transformer forward passes over GGUF weights.
//
// It implements the transformer block llama.cpp builds for "llama":
// RMSNorm, rotary position embeddings (RoPE), grouped-query attention over
// a KV cache, and a SwiGLU feed-forward block. The other architectures are
// that block with differences held as data (see arch.go), not copies of
// it: "qwen2" (q, k, v biases, RoPE rotating elements half a head apart),
// "qwen3" (the same RoPE, and an RMSNorm over each query and key head) and
// "phi3" (fused gate and up matrices, queries scaled before attention,
// LongRoPE factors), "gemma2" and "gemma3" (text only: scaled embeddings,
// norms of the attention and feed-forward outputs, GELU gating, soft caps
// on attention scores and logits, gemma3's per-head q and k norms). RoPE
// takes llama.cpp's scalings: Llama 3's per-pair frequency factors
// (rope_freqs.weight), linear, YaRN and LongRoPE. Architectures lists
// what Load accepts. Weights stay in the GGUF file's memory, but for the
// matrices Load repacks for this CPU's kernels (see Load).
//
// Sliding-window attention applies where llama.cpp applies it: to Gemma's
// local layers (every other layer for gemma2, five of six for gemma3, or
// the file's attention.sliding_window_pattern), each with a RoPE table of
// its own base. A token there attends to the window's last positions
// only; the cache still holds every position. llama.cpp ignores the
// window of Mistral files converted as llama and disables Phi-3's, and so
// does this package.
//
// Two entry points share one implementation. ForwardBatch runs a step of
// several sequences at once for a serving engine: their tokens are stacked
// so that every matmul reads the weights once for all of them, and each
// sequence attends to its own blocks of a paged KV store (a kv.Storage
// made by NewKVStorage, indexed through a block table). Forward runs one
// sequence held in a State, which owns its cache. Activation buffers live
// in a Workspace (inside the State for Forward), so steps do not allocate.
//
// The numerics follow llama.cpp's CPU backend with its default settings
// (flash attention, F16 KV cache), so that greedy decoding picks the same
// tokens. A token's results do not depend on the other tokens of its step,
// so a sequence gets the same logits batched or alone.
package model
