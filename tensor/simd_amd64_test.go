//go:build !purego

package tensor

import "testing"

// testKernelSets lists the reference and every assembly set this CPU runs,
// so that the tests cover each, not only the one dispatch picks.
func testKernelSets() []kernelSet {
	sets := []kernelSet{refKernels}
	if x86.avx2 {
		sets = append(sets, avx2Kernels())
	}
	if x86.avx512 {
		sets = append(sets, avx512Kernels())
	}
	return sets
}

func TestKernelChoice(t *testing.T) {
	want := refKernels.name
	switch {
	case x86.avx512:
		want = "avx512"
	case x86.avx2:
		want = "avx2"
	}
	if kernels.name != want {
		t.Errorf("dispatch chose %q, CPU supports %q", kernels.name, want)
	}
	t.Logf("CPU features %+v: using the %s kernels", x86, kernels.name)
}
