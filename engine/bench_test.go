package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

// BenchmarkEngine serves 1, 4 and 16 concurrent greedy requests (distinct
// 32-token prompts, 64 tokens each) and reports the aggregate generation
// rate: batching more sequences per step reads the weights once for all.
func BenchmarkEngine(b *testing.B) {
	cfg := llamatest.RandomConfig{Embd: 256, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 64, FF: 768, Ctx: 1024, Type: tensor.Q4_0, Seed: 1}
	m := loadRandom(b, cfg)
	const promptLen, maxTokens = 32, 64
	for _, conc := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("concurrent%d", conc), func(b *testing.B) {
			e := startModelEngine(b, m, Config{})
			r := rand.New(rand.NewPCG(uint64(conc), 1))
			generated := 0
			for b.Loop() {
				chans := make([]<-chan Event, conc)
				for i := range chans {
					// Fresh prompts: nothing comes from the prefix cache.
					chans[i] = submit(b, e, context.Background(), Request{Prompt: modelPrompt(r, promptLen, m.Config.VocabSize), MaxTokens: maxTokens})
				}
				for _, ch := range chans {
					for ev := range ch {
						if ev.Token >= 0 {
							generated++
						}
						if ev.Final && ev.Finish != FinishLength {
							b.Fatalf("finished with %s: %v", ev.Finish, ev.Err)
						}
					}
				}
			}
			b.ReportMetric(float64(generated)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
