package model

import (
	"math"
	"testing"

	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

// TestPackedMatchesFileLayout checks that the packed weights Load makes
// give the logits of the file's own layout, bit for bit, in prefill and in
// decode, with one thread and two.
func TestPackedMatchesFileLayout(t *testing.T) {
	for _, ty := range []tensor.Type{tensor.Q4_0, tensor.Q8_0} {
		t.Run(ty.String(), func(t *testing.T) { testPackedMatchesFileLayout(t, ty) })
	}
}

func testPackedMatchesFileLayout(t *testing.T, ty tensor.Type) {
	f, packed := randomModel(t, llamatest.RandomConfig{Embd: 128, FF: 200, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 300, Seed: 31, Type: ty})
	plain, err := LoadWith(f, LoadOptions{NoPack: true})
	if err != nil {
		t.Fatal(err)
	}
	if !packed.layers[0].wq.Packed() && tensor.Pack(plain.layers[0].wq).Packed() {
		t.Fatal("Load did not pack a matrix that can be packed")
	}
	if plain.layers[0].wq.Packed() {
		t.Fatal("LoadWith(NoPack) packed a matrix")
	}
	toks := []int{1, 17, 5, 250, 9, 33, 2, 101, 77, 4, 8}
	for _, threads := range []int{1, 2} {
		p := tensor.NewPool(threads)
		got := logitsOf(t, packed, p, toks)
		want := logitsOf(t, plain, p, toks)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%d threads: logit %d = %v packed, %v in the file's layout", threads, i, got[i], want[i])
			}
		}
		p.Close()
	}
}

// logitsOf runs the first half of toks as one batch and the rest one at a
// time, returning every position's logits.
func logitsOf(t *testing.T, m *Model, p *tensor.Pool, toks []int) []float32 {
	t.Helper()
	V := m.Config.VocabSize
	s, err := m.NewState(0, tensor.F16)
	if err != nil {
		t.Fatal(err)
	}
	half := len(toks) / 2
	out := make([]float32, len(toks)*V)
	if err := m.ForwardAll(p, s, toks[:half], out[:half*V]); err != nil {
		t.Fatal(err)
	}
	for i := half; i < len(toks); i++ {
		if err := m.Forward(p, s, toks[i:i+1], out[i*V:(i+1)*V]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
