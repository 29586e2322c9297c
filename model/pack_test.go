package model

import (
	"math"
	"testing"

	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

// TestPackedMatchesFileLayout checks that the packed weights Load makes
// give the logits of the file's own layout (bit for bit for Q4_0 and the k-quants,
// to float rounding for Q8_0), in prefill and in decode, with one thread and two,
// and that a position's logits do not depend on the batching.
func TestPackedMatchesFileLayout(t *testing.T) {
	for _, ty := range []tensor.Type{tensor.Q4_0, tensor.Q8_0, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K} {
		t.Run(ty.String(), func(t *testing.T) { testPackedMatchesFileLayout(t, ty) })
	}
}

func testPackedMatchesFileLayout(t *testing.T, ty tensor.Type) {
	cfg := llamatest.RandomConfig{Embd: 128, FF: 200, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 300, Seed: 31, Type: ty}
	if ty == tensor.Q4_K || ty == tensor.Q5_K || ty == tensor.Q6_K { // rows of whole 256-element blocks
		cfg.Embd, cfg.FF = 256, 512
	}
	f, packed := randomModel(t, cfg)
	plain, err := LoadWith(f, LoadOptions{NoPack: true})
	if err != nil {
		t.Fatal(err)
	}
	if packed.layers[0].wq.Type != ty {
		t.Fatalf("the random model's weights are %v, want %v", packed.layers[0].wq.Type, ty)
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
		if ty != tensor.Q8_0 {
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%d threads: logit %d = %v packed, %v in the file's layout", threads, i, got[i], want[i])
				}
			}
		} else {
			// Packed Q8_0 adds each block up in another float order
			// (tensor.Pack): the logits agree to float rounding.
			var scale float64
			for _, v := range want {
				scale = max(scale, math.Abs(float64(v)))
			}
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*scale {
					t.Fatalf("%d threads: logit %d = %v packed, %v in the file's layout (max |logit| %v)", threads, i, got[i], want[i], scale)
				}
			}
		}
		// Either way a position's logits must not depend on how the
		// tokens were batched: all at once gives what logitsOf's half
		// batch and single steps gave.
		s, err := packed.NewState(0, tensor.F16)
		if err != nil {
			t.Fatal(err)
		}
		all := make([]float32, len(got))
		if err := packed.ForwardAll(p, s, toks, all); err != nil {
			t.Fatal(err)
		}
		for i := range all {
			if math.Float32bits(all[i]) != math.Float32bits(got[i]) {
				t.Fatalf("%d threads: logit %d = %v in one batch, %v in steps", threads, i, all[i], got[i])
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
