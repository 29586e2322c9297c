// Package model runs transformer forward passes over GGUF weights.
//
// It implements the "llama" architecture as llama.cpp defines it: RMSNorm,
// rotary position embeddings on adjacent pairs, grouped-query attention
// over a KV cache, and a SwiGLU feed-forward block. Weights stay in the
// GGUF file's memory.
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
