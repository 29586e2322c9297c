//go:build purego || !amd64

package tensor

// PrefetchF16Rows asks the CPU to start loading rows rows of width fp16
// values, stride values apart, from the start of x into its caches. The
// plain-Go build has no way to, and does nothing.
func PrefetchF16Rows(x []uint16, stride, rows, width int) {}
