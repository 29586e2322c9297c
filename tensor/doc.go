// Package tensor holds the ggml tensor types, their quantized block
// layouts, and the kernels that compute with them: dequantization,
// quantization, dot products and matrix multiplication.
//
// Every kernel has a plain-Go reference; faster versions are checked
// against it.
package tensor
