package model

import (
	"fmt"
	"testing"

	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

// benchModel is small enough to build in milliseconds and wide enough
// (head size 64, GQA) to exercise the same paths as real models.
var benchModel = llamatest.RandomConfig{Embd: 256, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 64, FF: 768, Ctx: 1024, Seed: 1}

func BenchmarkDecode(b *testing.B) {
	for _, typ := range []tensor.Type{tensor.F32, tensor.Q8_0, tensor.Q4_0} {
		for _, ctx := range []int{16, 512} {
			b.Run(fmt.Sprintf("%s/ctx%d", typ, ctx), func(b *testing.B) {
				cfg := benchModel
				cfg.Type = typ
				_, m := randomModel(b, cfg)
				p := tensor.NewPool(0)
				defer p.Close()
				s, _ := m.NewState(0, tensor.F16)
				logits := make([]float32, m.Config.VocabSize)
				if err := m.Forward(p, s, randomTokens(1, ctx, m.Config.VocabSize), nil); err != nil {
					b.Fatal(err)
				}
				tok := []int{5}
				for b.Loop() {
					if err := m.Forward(p, s, tok, logits); err != nil {
						b.Fatal(err)
					}
					s.Truncate(ctx) // decode at the same position every time
				}
			})
		}
	}
}

func BenchmarkPrefill(b *testing.B) {
	for _, typ := range []tensor.Type{tensor.F32, tensor.Q4_0} {
		b.Run(typ.String(), func(b *testing.B) {
			cfg := benchModel
			cfg.Type = typ
			_, m := randomModel(b, cfg)
			p := tensor.NewPool(0)
			defer p.Close()
			s, _ := m.NewState(0, tensor.F16)
			toks := randomTokens(1, 256, m.Config.VocabSize)
			logits := make([]float32, m.Config.VocabSize)
			for b.Loop() {
				s.Reset()
				if err := m.Forward(p, s, toks, logits); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(toks)*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
