//go:build !purego

package tensor

import "testing"

// testKernelSets lists the reference and every assembly set this CPU runs,
// so that the tests cover each, not only the one dispatch picks.
func testKernelSets() []kernelSet {
	sets := []kernelSet{refKernels, neonKernels()}
	if arm64.dotprod {
		sets = append(sets, dotprodKernels())
	}
	return sets
}

func TestKernelChoice(t *testing.T) {
	want := "neon"
	if arm64.dotprod {
		want = "dotprod"
	}
	if kernels.name != want {
		t.Errorf("dispatch chose %q, CPU supports %q", kernels.name, want)
	}
	t.Logf("CPU features %+v: using the %s kernels", arm64, kernels.name)
}
