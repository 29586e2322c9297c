//go:build !purego

package tensor

import "testing"

// attnTestSets lists the reference and every assembly set this CPU runs.
func attnTestSets() []attnImpl {
	sets := []attnImpl{attnRef}
	if x86.avx2 {
		sets = append(sets, attnAVX2)
	}
	if x86.avx512 {
		sets = append(sets, attnAVX512)
	}
	return sets
}

func TestAttnKernelChoice(t *testing.T) {
	want := attnRef
	switch {
	case x86.avx512:
		want = attnAVX512
	case x86.avx2:
		want = attnAVX2
	}
	if attnKernels != want {
		t.Errorf("dispatch chose %s, CPU supports %s", attnKernels, want)
	}
}

// TestExpMatchesGo fails when the vector exp no longer reproduces
// math.Exp (as after a change to math/exp_amd64.s), which leaves Exp32s on
// the slower reference.
func TestExpMatchesGo(t *testing.T) {
	if x86.avx2 && !expMatchesGo {
		t.Error("the vector exp differs from math.Exp: Exp32s runs the reference")
	}
}
