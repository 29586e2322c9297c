package tensor

import (
	"slices"
	"testing"
)

// TestPrefetchF16Rows checks that prefetching, a hint with no result,
// leaves the data alone and accepts any counts, including rows and widths
// that run past the end of the slice.
func TestPrefetchF16Rows(t *testing.T) {
	x := make([]uint16, 1000)
	for i := range x {
		x[i] = uint16(i)
	}
	want := slices.Clone(x)
	for _, c := range []struct{ stride, rows, width int }{
		{64, 16, 64}, {64, 100, 64}, {768, 16, 64}, {0, 3, 10}, {64, 0, 64},
		{64, -1, 64}, {64, 4, 0}, {64, 4, 2000}, {-5, 4, 8},
	} {
		PrefetchF16Rows(x, c.stride, c.rows, c.width)
		PrefetchF16Rows(x[990:], c.stride, c.rows, c.width)
		PrefetchF16Rows(nil, c.stride, c.rows, c.width)
	}
	if !slices.Equal(x, want) {
		t.Fatal("PrefetchF16Rows changed the data")
	}
}
