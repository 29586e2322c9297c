// Package quantize rewrites a GGUF file's tensors into another type.
//
// NewPlan chooses each tensor's output type for a llama.cpp file type
// (Q8_0, Q4_0, Q4_K_M, Q3_K_M, IQ4_XS, ...) with the rules of llama.cpp's
// llama_model_quantize: norms and other 1-D tensors keep their type, the
// output matrix (or the token embedding, when the two are tied) gets more
// bits, the _M and _L mixes and Q2_K give attn_v, ffn_down and
// attn_output more bits in fixed subsets of layers, and a tensor whose rows
// do not split into whole blocks falls back to a type whose blocks fit
// (Q5_0 for Q4_K, Q5_1 for Q5_K, Q8_0 for Q6_K, Q4_0 for Q2_K and Q3_K,
// IQ4_NL for IQ4_XS, F16 when none does). Tensors are ordered as llama.cpp
// orders them (by layer, then by name), so that the file is laid out as
// llama-quantize lays it out.
//
// Every type those rules pick for the supported file types has a
// quantizer in package tensor; were a rule to pick one without, the plan
// would substitute the smallest implemented type that keeps at least as
// many bits per weight and say so in the tensor's Choice.
//
// Write streams the result: the header first, whose tensor sizes are known
// from the plan, then each tensor as it is quantized, with the rows of a
// tensor split across threads. Only a bounded slab of one tensor's output
// is held in memory at a time. The quantizers are ggml's reference
// quantizers, so a tensor quantized here is byte for byte what
// llama-quantize writes without an importance matrix.
package quantize
