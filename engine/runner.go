package engine

import (
	"github.com/joule-llm/joule/kv"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/tensor"
)

// New returns an Engine for m. Call Start to begin serving and Close when
// done.
func New(m *model.Model, cfg Config) (*Engine, error) {
	c := &m.Config
	spec := modelSpec{
		vocab:         c.VocabSize,
		contextLength: c.ContextLength,
		kvBytesToken:  int64(c.BlockCount) * int64(c.HeadCountKV) * int64(c.KeyLength+c.ValueLength) * 2,
	}
	return newEngine(&modelBackend{m: m}, spec, cfg)
}

// modelBackend executes schedules with the model's paged, batched forward
// pass.
type modelBackend struct {
	m     *model.Model
	ws    *model.Workspace
	batch model.Batch
}

func (b *modelBackend) init(maxTokens int) error {
	b.ws = b.m.NewWorkspace(maxTokens)
	return nil
}

func (b *modelBackend) newCache(budget int64, blockSize int, kvType tensor.Type) (*kv.Storage, error) {
	return b.m.NewKVStorage(budget, blockSize, kvType)
}

func (b *modelBackend) forward(p *tensor.Pool, cache *kv.Storage, out *schedulerOutput, logits []float32) error {
	seqs := b.batch.Seqs[:0]
	for i := range out.chunks {
		c := &out.chunks[i]
		seqs = append(seqs, model.SeqBatch{Tokens: c.tokens(), Pos: c.start, Blocks: c.blocks, Logits: c.logits})
	}
	b.batch.Seqs = seqs
	return b.m.ForwardBatch(p, b.ws, cache, &b.batch, logits)
}
