//go:build purego || !(amd64 || arm64)

package tensor

import "testing"

func testKernelSets() []kernelSet { return []kernelSet{refKernels} }

func TestKernelChoice(t *testing.T) {
	if kernels.name != refKernels.name || accelerated {
		t.Errorf("dispatch chose %q without assembly kernels", kernels.name)
	}
}
