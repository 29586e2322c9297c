//go:build purego || !(amd64 || arm64)

package tensor

// Without assembly kernels every platform runs the references.
func archKernels() kernelSet { return refKernels }
