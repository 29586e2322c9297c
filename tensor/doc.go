// Package tensor holds the ggml tensor types, their quantized block
// layouts, and the kernels that compute with them: dequantization,
// quantization, dot products and matrix multiplication.
//
// Every kernel has a plain-Go reference; faster versions are checked
// against it. Building with the purego tag forces the reference kernels.
//
// Formats and arithmetic follow ggml: the quantizers are ggml's reference
// quantizers, bit for bit, and MatMul converts activations to the
// weights' companion format (fp16, bf16, Q8_0 or Q8_K blocks) before the
// dot products, as llama.cpp's CPU backend does, so that results track
// llama.cpp's rather than exact products.
//
// Pack rearranges Q4_0, Q8_0, Q4_K, Q5_K and Q6_K weight matrices, once at
// load time, into groups of interleaved rows (eight with AVX2, sixteen
// with AVX-512, one row per 32-bit lane) that the x86-64 kernels read as
// one stream; results do not change, but for packed Q8_0's float order
// (see Pack).
// A Pool of persistent threads splits each
// kernel's work; its workers spin briefly between jobs, and through a
// whole generation while held (Pool.Hold), because on virtual machines
// waking a parked thread costs more than a small matmul.
package tensor
