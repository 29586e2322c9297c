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

// TestKQRowsChosen checks that the avx512 set has the k-quant multi-row
// kernels and VDPBF16PS where the CPU has AVX512_BF16, so that the tests
// above exercise them.
func TestKQRowsChosen(t *testing.T) {
	if !x86.avx512 {
		t.Skip("no AVX-512 VNNI")
	}
	k := avx512Kernels()
	for _, kq := range []kqRows{k.q4_K, k.q5_K, k.q6_K} {
		if kq.rows4 == nil || kq.tile4 == nil {
			t.Errorf("avx512 set lacks k-quant row kernels")
		}
	}
	if x86.bf16 && k.dotBF16 == nil {
		t.Errorf("avx512 set lacks the AVX512_BF16 dot product")
	}
	t.Logf("AVX512_BF16: %v", x86.bf16)
}
