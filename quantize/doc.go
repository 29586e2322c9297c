// Package quantize rewrites a GGUF file's tensors into another type.
//
// NewPlan chooses each tensor's output type for a llama.cpp file type
// (Q8_0, Q4_0, Q4_K_M, ...) with the rules of llama.cpp's
// llama_model_quantize: norms and other 1-D tensors keep their type, the
// output matrix (or the token embedding, when the two are tied) gets more
// bits, Q4_K_M and Q5_K_M give Q6_K to attn_v and ffn_down in a fixed
// subset of layers, and a tensor whose rows do not split into whole blocks
// falls back to a type whose blocks fit. Tensors are ordered as llama.cpp
// orders them (by layer, then by name), so that the file is laid out as
// llama-quantize lays it out.
//
// Where llama.cpp would pick a type that package tensor cannot quantize
// (Q5_0 and Q5_1, the fallbacks of Q4_K and Q5_K), the plan substitutes
// the smallest implemented type that keeps at least as many bits per
// weight and says so in the tensor's Choice.
//
// Write streams the result: the header first, whose tensor sizes are known
// from the plan, then each tensor as it is quantized, with the rows of a
// tensor split across threads. Only a bounded slab of one tensor's output
// is held in memory at a time. The quantizers are ggml's reference
// quantizers, so a tensor quantized here is byte for byte what
// llama-quantize writes without an importance matrix.
package quantize
