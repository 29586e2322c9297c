//go:build purego || !amd64

package tensor

import "testing"

func attnTestSets() []attnImpl { return []attnImpl{attnRef} }

func TestAttnKernelChoice(t *testing.T) {
	if attnKernels != attnRef {
		t.Errorf("dispatch chose %s without assembly kernels", attnKernels)
	}
}
