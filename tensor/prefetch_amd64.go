//go:build !purego

package tensor

import "unsafe"

//go:noescape
func prefetchRows(p *uint16, stride, rows, lines int)

// PrefetchF16Rows asks the CPU to start loading rows rows of width fp16
// values, stride values apart, from the start of x into its caches,
// without waiting for them. Attention calls it for the next block of keys
// and values while it works on the current one: rows of a paged cache lie
// far apart, too far for the hardware to guess. Rows past the end of x
// are not touched.
func PrefetchF16Rows(x []uint16, stride, rows, width int) {
	if rows <= 0 || width <= 0 || width > len(x) || stride < 0 {
		return
	}
	if stride > 0 {
		rows = min(rows, (len(x)-width)/stride+1)
	}
	p := unsafe.SliceData(x)
	skew := int(uintptr(unsafe.Pointer(p)) % 64)
	prefetchRows(p, 2*stride, rows, (skew+2*width+63)/64)
}
