package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joule-llm/joule/kv"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

// Batched and single-sequence runs must agree bit for bit: MatMul computes
// each token's outputs from that token's activations alone, and attention
// reads one sequence's cache with the same arithmetic whether it lies in
// one piece or in blocks.

// poison marks every slot of every block with NaN, so that reading a slot
// that was never written turns the logits to NaN.
func poison(s *kv.Storage) {
	for l := range s.Layers() {
		for b := range int32(s.NumBlocks()) {
			if s.Type() == tensor.F16 {
				nan := tensor.Float32ToFP16(float32(math.NaN()))
				for _, t := range [][]uint16{s.K16(l, b), s.V16(l, b)} {
					for i := range t {
						t[i] = nan
					}
				}
			} else {
				for _, t := range [][]float32{s.K32(l, b), s.V32(l, b)} {
					for i := range t {
						t[i] = float32(math.NaN())
					}
				}
			}
		}
	}
}

// poisoned reports whether every element of block b is still NaN.
func poisoned(s *kv.Storage, b int32) bool {
	for l := range s.Layers() {
		if s.Type() == tensor.F16 {
			for _, t := range [][]uint16{s.K16(l, b), s.V16(l, b)} {
				for _, h := range t {
					if !math.IsNaN(float64(tensor.FP16ToFloat32(h))) {
						return false
					}
				}
			}
		} else {
			for _, t := range [][]float32{s.K32(l, b), s.V32(l, b)} {
				for _, f := range t {
					if !math.IsNaN(float64(f)) {
						return false
					}
				}
			}
		}
	}
	return true
}

// storageFor returns a KV store of numBlocks blocks for m.
func storageFor(t testing.TB, m *Model, numBlocks, blockSize int, kvType tensor.Type) *kv.Storage {
	t.Helper()
	c := &m.Config
	perBlock := 2 * int64(c.BlockCount*blockSize*c.HeadCountKV*max(c.KeyLength, c.ValueLength)) * int64(kvType.BlockBytes())
	s, err := m.NewKVStorage(int64(numBlocks)*perBlock, blockSize, kvType)
	if err != nil {
		t.Fatal(err)
	}
	if s.NumBlocks() != numBlocks || s.BlockSize() != blockSize || s.Type() != kvType {
		t.Fatalf("NewKVStorage: %d blocks of %d %s, want %d of %d %s",
			s.NumBlocks(), s.BlockSize(), s.Type(), numBlocks, blockSize, kvType)
	}
	return s
}

// aloneLogits runs toks through a State, the prompt as one batch and the
// rest one token at a time, and returns the logits of every position.
func aloneLogits(t testing.TB, m *Model, kvType tensor.Type, toks []int, prompt int) [][]float32 {
	t.Helper()
	V := m.Config.VocabSize
	s, err := m.NewState(0, kvType)
	if err != nil {
		t.Fatal(err)
	}
	all := make([]float32, prompt*V)
	if err := m.ForwardAll(nil, s, toks[:prompt], all); err != nil {
		t.Fatal(err)
	}
	out := make([][]float32, len(toks))
	for i := range prompt {
		out[i] = all[i*V : (i+1)*V]
	}
	for i := prompt; i < len(toks); i++ {
		out[i] = make([]float32, V)
		if err := m.Forward(nil, s, toks[i:i+1], out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// sameBits reports the first index where a and b differ bit for bit, or -1.
func sameBits(a, b []float32) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestForwardBatchMatchesAlone runs four sequences of different prompt
// lengths through steps of a limited token budget: prompts in chunks, in
// the same steps as other sequences' decode tokens, blocks taken in
// shuffled order. Every logit must equal the one the sequence gets alone
// through a State, no slot outside a sequence's blocks may be read (they
// hold NaN), and blocks no sequence owns must stay untouched.
func TestForwardBatchMatchesAlone(t *testing.T) {
	type sim struct {
		toks   []int // prompt, then the tokens fed one at a time
		prompt int
		done   int
		blocks []int32
		want   [][]float32
	}
	const bs, budget, numBlocks = 8, 24, 48
	prompts := []int{37, 5, 20, 50}
	const decode = 6
	// Every combination for llama; one for each other architecture, whose
	// extra parts (biases, q/k norms, NeoX RoPE, sliding windows) work on
	// rows alike.
	models := []struct {
		name string
		cfg  llamatest.RandomConfig
		all  bool
	}{
		{"llama", smallGQA, true},
		{"qwen3", llamatest.RandomConfig{Arch: "qwen3", Embd: 64, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 32, FF: 96, Bias: true, Seed: 12}, false},
		{"phi3", llamatest.RandomConfig{Arch: "phi3", Embd: 64, Layers: 2, Heads: 4, KVHeads: 2, FF: 96, Seed: 13,
			RopeScalingType: "longrope", RopeOrigCtx: 64}, false},
		// Windows that start mid-block, soft caps, two RoPE tables.
		{"gemma2", llamatest.RandomConfig{Arch: "gemma2", Embd: 64, Layers: 2, Heads: 4, KVHeads: 2, FF: 96, Seed: 14,
			SlidingWindow: 5, AttnSoftcap: 3, FinalSoftcap: 6}, false},
		{"gemma3", llamatest.RandomConfig{Arch: "gemma3", Embd: 64, Layers: 3, Heads: 4, KVHeads: 1, HeadDim: 32, FF: 96, Seed: 15,
			SlidingWindow: 11, SlidingWindowPattern: 3, RopeBase: 1000000}, false},
	}
	for _, mc := range models {
		for _, wt := range []tensor.Type{tensor.F32, tensor.Q8_0} {
			for _, kvType := range []tensor.Type{tensor.F16, tensor.F32} {
				for _, threads := range []int{1, 2} {
					if !mc.all && (wt != tensor.Q8_0 || kvType != tensor.F16 || threads != 2) {
						continue
					}
					t.Run(fmt.Sprintf("%s/%s/kv-%s/threads-%d", mc.name, wt, kvType, threads), func(t *testing.T) {
						cfg := mc.cfg
						cfg.Type, cfg.Ctx = wt, 128
						_, m := randomModel(t, cfg)
						V := m.Config.VocabSize
						var p *tensor.Pool
						if threads > 1 {
							p = tensor.NewPool(threads)
							defer p.Close()
						}
						r := rand.New(rand.NewPCG(uint64(threads), 9))
						free := make([]int32, numBlocks)
						for i := range free {
							free[i] = int32(i)
						}
						r.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
						cache := storageFor(t, m, numBlocks, bs, kvType)
						poison(cache)

						seqs := make([]*sim, len(prompts))
						for i, n := range prompts {
							toks := randomTokens(uint64(20+i), n+decode, V)
							seqs[i] = &sim{toks: toks, prompt: n, want: aloneLogits(t, m, kvType, toks, n)}
						}
						w := m.NewWorkspace(budget)
						logits := make([]float32, len(seqs)*V)
						var b Batch
						var members []*sim // the sequence of each entry of b.Seqs
						checked, steps := 0, 0
						for first := 0; ; first++ {
							b.Seqs, members = b.Seqs[:0], members[:0]
							left := budget
							// Start with another sequence each step, so that
							// each sometimes gets the budget first.
							for k := range seqs {
								s := seqs[(first+k)%len(seqs)]
								if left == 0 || s.done == len(s.toks) {
									continue
								}
								n := 1
								if s.done < s.prompt {
									n = min(s.prompt-s.done, left, 1+r.IntN(16))
								}
								for len(s.blocks)*bs < s.done+n {
									s.blocks = append(s.blocks, free[0])
									free = free[1:]
								}
								// Logits at the end of the prompt and for each
								// decode token, and now and then mid-prompt.
								want := s.done+n >= s.prompt || r.IntN(3) == 0
								b.Seqs = append(b.Seqs, SeqBatch{Tokens: s.toks[s.done : s.done+n], Pos: s.done, Blocks: s.blocks, Logits: want})
								members = append(members, s)
								left -= n
							}
							if len(b.Seqs) == 0 {
								break
							}
							if err := m.ForwardBatch(p, w, cache, &b, logits); err != nil {
								t.Fatal(err)
							}
							steps++
							k := 0
							for i, sb := range b.Seqs {
								s := members[i]
								s.done += len(sb.Tokens)
								if !sb.Logits {
									continue
								}
								pos := s.done - 1
								if i := sameBits(logits[k*V:(k+1)*V], s.want[pos]); i >= 0 {
									t.Fatalf("step %d: sequence of prompt %d, position %d: logit %d is %g, alone %g",
										steps, s.prompt, pos, i, logits[k*V+i], s.want[pos][i])
								}
								k++
								checked++
							}
						}
						if want := len(prompts) * decode; checked < want {
							t.Fatalf("checked %d logits rows, want at least %d", checked, want)
						}
						for _, id := range free {
							if !poisoned(cache, id) {
								t.Errorf("block %d, owned by no sequence, was written", id)
							}
						}
						t.Logf("%d steps, %d logits rows equal", steps, checked)
					})
				}
			}
		}
	}
}

// TestForwardBatchSharedPrefix has sequences share blocks the way
// kv.Manager hands them out: a prompt that starts with another's full
// blocks reuses them from the prefix cache, and a forked sequence shares
// every block with its parent until copy-on-write gives it its own last
// one. Each must get the logits it gets alone, and the owner of the shared
// blocks must be unaffected.
func TestForwardBatchSharedPrefix(t *testing.T) {
	const bs, numBlocks = 8, 16
	for _, kvType := range []tensor.Type{tensor.F16, tensor.F32} {
		t.Run(kvType.String(), func(t *testing.T) {
			_, m := randomModel(t, smallGQA)
			V := m.Config.VocabSize
			p := tensor.NewPool(2)
			defer p.Close()
			pool, err := kv.NewBlockPool(numBlocks, bs)
			if err != nil {
				t.Fatal(err)
			}
			mgr := kv.NewManager(pool)
			cache := storageFor(t, m, numBlocks, bs, kvType)
			poison(cache)
			w := m.NewWorkspace(32)
			logits := make([]float32, 2*V)

			prefix := randomTokens(31, 2*bs+5, V)
			seqA := append(append([]int(nil), prefix...), randomTokens(32, 7, V)[1:]...) // 2 full shared blocks, then its own
			seqB := append(append([]int(nil), prefix...), randomTokens(33, 5, V)[1:]...)
			const promptA = 2*bs + 8 // A's last token is decoded alongside B's prompt
			wantA := aloneLogits(t, m, kvType, seqA, promptA)
			wantB := aloneLogits(t, m, kvType, seqB, len(seqB))

			check := func(step string, got, want []float32) {
				t.Helper()
				if i := sameBits(got, want); i >= 0 {
					t.Fatalf("%s: logit %d is %g, alone %g", step, i, got[i], want[i])
				}
			}
			// Step 1: A's prompt.
			if cached, err := mgr.Allocate(1, seqA[:promptA]); err != nil || cached != 0 {
				t.Fatalf("Allocate A: cached %d, %v", cached, err)
			}
			b := Batch{Seqs: []SeqBatch{{Tokens: seqA[:promptA], Pos: 0, Blocks: mgr.BlockTable(1), Logits: true}}}
			if err := m.ForwardBatch(p, w, cache, &b, logits); err != nil {
				t.Fatal(err)
			}
			check("A's prompt", logits[:V], wantA[promptA-1])
			if err := mgr.Commit(1, seqA[:promptA]); err != nil {
				t.Fatal(err)
			}

			// Step 2: B's prompt, of which the prefix cache serves the two
			// full blocks A computed, and A's next token.
			cached, err := mgr.Allocate(2, seqB)
			if err != nil || cached != 2*bs {
				t.Fatalf("Allocate B: cached %d, %v; want %d", cached, err, 2*bs)
			}
			tableA, tableB := mgr.BlockTable(1), mgr.BlockTable(2)
			if tableA[0] != tableB[0] || tableA[1] != tableB[1] || tableA[2] == tableB[2] {
				t.Fatalf("block tables A %v, B %v: want the first two shared", tableA, tableB)
			}
			copies, err := mgr.Append(1, 1)
			if err != nil || len(copies) != 0 {
				t.Fatalf("Append A: copies %v, %v", copies, err)
			}
			b.Seqs = []SeqBatch{
				{Tokens: seqB[cached:], Pos: cached, Blocks: mgr.BlockTable(2), Logits: true},
				{Tokens: seqA[promptA : promptA+1], Pos: promptA, Blocks: mgr.BlockTable(1), Logits: true},
			}
			if err := m.ForwardBatch(p, w, cache, &b, logits); err != nil {
				t.Fatal(err)
			}
			check("B's prompt on A's blocks", logits[:V], wantB[len(seqB)-1])
			check("A's decode step", logits[V:], wantA[promptA])
			if err := mgr.Commit(2, seqB[cached:]); err != nil {
				t.Fatal(err)
			}
			if err := mgr.Commit(1, seqA[promptA:promptA+1]); err != nil {
				t.Fatal(err)
			}

			// Step 3: fork B into C (parallel sampling) and decode a
			// different token in each. B's last block is partly filled
			// and now shared, so B's Append copies it.
			if err := mgr.Fork(2, 3); err != nil {
				t.Fatal(err)
			}
			nextB, nextC := 7, 9
			copies, err = mgr.Append(2, 1)
			if err != nil || len(copies) != 1 {
				t.Fatalf("Append B after fork: copies %v, %v; want one", copies, err)
			}
			cache.CopyBlocks(copies)
			if copies, err = mgr.Append(3, 1); err != nil || len(copies) != 0 {
				t.Fatalf("Append C: copies %v, %v", copies, err)
			}
			n := len(seqB)
			b.Seqs = []SeqBatch{
				{Tokens: []int{nextB}, Pos: n, Blocks: mgr.BlockTable(2), Logits: true},
				{Tokens: []int{nextC}, Pos: n, Blocks: mgr.BlockTable(3), Logits: true},
			}
			if err := m.ForwardBatch(p, w, cache, &b, logits); err != nil {
				t.Fatal(err)
			}
			wantNextB := aloneLogits(t, m, kvType, append(seqB[:n:n], nextB), n)
			wantNextC := aloneLogits(t, m, kvType, append(seqB[:n:n], nextC), n)
			check("B after the fork", logits[:V], wantNextB[n])
			check("C after the fork", logits[V:], wantNextC[n])
			if sameBits(wantNextB[n], wantNextC[n]) < 0 {
				t.Fatal("different tokens gave identical logits")
			}
		})
	}
}

// TestForwardBatchStoriesGreedy decodes every prompt of greedy.json at once
// through ForwardBatch with stories260K: prompts prefilled in chunks of a
// shared budget, then one token per sequence per step, each step taking
// the argmax. Every token must be llama.cpp's, with an F16 cache (llama.cpp's
// defaults) and an F32 one (flash attention with an F32 cache).
func TestForwardBatchStoriesGreedy(t *testing.T) {
	m, dir := stories(t)
	var doc struct {
		Runs []greedyRun `json:"runs"`
	}
	readJSON(t, filepath.Join(dir, "greedy.json"), &doc)
	if len(doc.Runs) < 2 {
		t.Fatalf("greedy.json has %d runs, want several", len(doc.Runs))
	}
	p := tensor.NewPool(2)
	defer p.Close()
	const bs, budget = 16, 16
	V := m.Config.VocabSize
	for _, kvType := range []tensor.Type{tensor.F16, tensor.F32} {
		type run struct {
			toks   []int // prompt, then the generated tokens
			prompt int
			n      int // tokens to generate
			done   int // tokens in the cache
			blocks []int32
			want   []int
		}
		runs := make([]*run, len(doc.Runs))
		next := int32(0) // blocks are handed out in order; the storage has room for all
		for i, r := range doc.Runs {
			want := r.IDs
			if kvType == tensor.F32 {
				want = r.variantIDs(t, "fa_on_kv_f32")
			}
			if len(want) != r.N {
				t.Fatalf("greedy.json: %q has %d ids, n = %d", r.Prompt, len(want), r.N)
			}
			u := &run{toks: append([]int(nil), r.PromptIDs...), prompt: len(r.PromptIDs), n: r.N, want: want}
			for range (len(r.PromptIDs) + r.N + bs - 1) / bs {
				u.blocks = append(u.blocks, next)
				next++
			}
			runs[i] = u
		}
		cache := storageFor(t, m, int(next), bs, kvType)
		w := m.NewWorkspace(budget)
		logits := make([]float32, len(runs)*V)
		var b Batch
		var members []*run
		for {
			b.Seqs, members = b.Seqs[:0], members[:0]
			left := budget
			for _, u := range runs {
				if left == 0 || len(u.toks) == u.prompt+u.n {
					continue
				}
				n := min(len(u.toks)-u.done, left) // the rest of the prompt, or the last generated token
				end := u.done+n == len(u.toks)
				b.Seqs = append(b.Seqs, SeqBatch{Tokens: u.toks[u.done : u.done+n], Pos: u.done, Blocks: u.blocks, Logits: end})
				members = append(members, u)
				left -= n
			}
			if len(b.Seqs) == 0 {
				break
			}
			if err := m.ForwardBatch(p, w, cache, &b, logits); err != nil {
				t.Fatal(err)
			}
			k := 0
			for i, sb := range b.Seqs {
				u := members[i]
				u.done += len(sb.Tokens)
				if sb.Logits {
					u.toks = append(u.toks, argmax(logits[k*V:(k+1)*V]))
					k++
				}
			}
		}
		for i, u := range runs {
			got := u.toks[u.prompt:]
			if j := firstDiff(got, u.want); j >= 0 {
				t.Errorf("%q, %s cache: token %d of %d is %d, llama.cpp has %d", doc.Runs[i].Prompt, kvType, j, u.n, got[j], u.want[j])
			}
		}
	}
}

func TestForwardBatchErrors(t *testing.T) {
	_, m := randomModel(t, smallGQA)
	_, other := randomModel(t, smallGQA)
	_, m3 := randomModel(t, llamatest.RandomConfig{Embd: 64, Layers: 3, Heads: 8, KVHeads: 2, FF: 172})
	V, ctx := m.Config.VocabSize, m.Config.ContextLength
	const bs = 4
	cache := storageFor(t, m, 20, bs, tensor.F16)
	w := m.NewWorkspace(8)
	logits := make([]float32, 2*V)
	blocks := []int32{3, 1, 4}
	long := make([]int32, ctx/bs+1)
	seq := func(toks []int, pos int, blocks []int32) SeqBatch {
		return SeqBatch{Tokens: toks, Pos: pos, Blocks: blocks, Logits: true}
	}
	ok := seq([]int{1, 2, 3}, 0, blocks)
	tests := []struct {
		name   string
		m      *Model
		w      *Workspace
		cache  *kv.Storage
		b      *Batch
		logits []float32
		want   string
	}{
		{"nil workspace", m, nil, cache, &Batch{Seqs: []SeqBatch{ok}}, logits, "no workspace"},
		{"foreign workspace", m, other.NewWorkspace(8), cache, &Batch{Seqs: []SeqBatch{ok}}, logits, "another model"},
		{"nil storage", m, w, nil, &Batch{Seqs: []SeqBatch{ok}}, logits, "no KV storage"},
		{"storage of another shape", m3, m3.NewWorkspace(8), cache, &Batch{Seqs: []SeqBatch{ok}}, logits, "does not fit"},
		{"nil batch", m, w, cache, nil, logits, "empty batch"},
		{"empty batch", m, w, cache, &Batch{}, logits, "empty batch"},
		{"no tokens", m, w, cache, &Batch{Seqs: []SeqBatch{ok, seq(nil, 0, blocks)}}, logits, "has no tokens"},
		{"too many tokens", m, w, cache, &Batch{Seqs: []SeqBatch{ok, seq(make([]int, 6), 0, blocks)}}, logits, "exceeds the workspace"},
		{"negative token", m, w, cache, &Batch{Seqs: []SeqBatch{seq([]int{1, -1}, 0, blocks)}}, logits, "outside the vocabulary"},
		{"token too large", m, w, cache, &Batch{Seqs: []SeqBatch{ok, seq([]int{V}, 0, blocks)}}, logits, "outside the vocabulary"},
		{"negative position", m, w, cache, &Batch{Seqs: []SeqBatch{seq([]int{1}, -1, blocks)}}, logits, "negative position"},
		{"past the context", m, w, cache, &Batch{Seqs: []SeqBatch{seq([]int{1, 2}, ctx-1, long)}}, logits, "context full"},
		{"short block table", m, w, cache, &Batch{Seqs: []SeqBatch{seq([]int{1, 2}, 11, blocks)}}, logits, "cannot hold"},
		{"nil block table", m, w, cache, &Batch{Seqs: []SeqBatch{seq([]int{1}, 0, nil)}}, logits, "cannot hold"},
		{"block out of range", m, w, cache, &Batch{Seqs: []SeqBatch{seq([]int{1}, 4, []int32{0, 20})}}, logits, "outside the storage"},
		{"negative block", m, w, cache, &Batch{Seqs: []SeqBatch{seq([]int{1}, 0, []int32{-1})}}, logits, "outside the storage"},
		{"short logits", m, w, cache, &Batch{Seqs: []SeqBatch{ok, seq([]int{5}, 0, []int32{7})}}, logits[:2*V-1], "logits has"},
		{"nil logits", m, w, cache, &Batch{Seqs: []SeqBatch{ok}}, nil, "logits has"},
	}
	poison(cache)
	for _, tt := range tests {
		err := tt.m.ForwardBatch(nil, tt.w, tt.cache, tt.b, tt.logits)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	// A failed call writes nothing.
	for b := range int32(cache.NumBlocks()) {
		if !poisoned(cache, b) {
			t.Fatalf("a failed ForwardBatch wrote block %d", b)
		}
	}
	err := m.ForwardBatch(nil, w, cache, &Batch{Seqs: []SeqBatch{seq([]int{1, 2}, ctx-1, long)}}, logits)
	if !errors.Is(err, ErrContextFull) {
		t.Errorf("past the context: %v does not wrap ErrContextFull", err)
	}
	// The limits themselves are fine: a batch filling the workspace, a
	// sequence filling the context, a table with spare blocks, logits
	// longer than needed or nil when none are wanted.
	end := seq([]int{1, 2}, ctx-2, long)
	if err := m.ForwardBatch(nil, w, cache, &Batch{Seqs: []SeqBatch{seq(make([]int, 6), 0, blocks), end}}, logits); err != nil {
		t.Errorf("a batch at the limits: %v", err)
	}
	quiet := seq([]int{1}, 0, blocks)
	quiet.Logits = false
	if err := m.ForwardBatch(nil, w, cache, &Batch{Seqs: []SeqBatch{quiet}}, nil); err != nil {
		t.Errorf("no logits wanted, nil logits: %v", err)
	}

	if _, err := m.NewKVStorage(1<<20, 16, tensor.Q8_0); err == nil {
		t.Error("NewKVStorage accepted a Q8_0 cache")
	}
	if _, err := m.NewKVStorage(10, 16, tensor.F16); err == nil {
		t.Error("NewKVStorage accepted a budget below one block")
	}
	if w := m.NewWorkspace(0); w.MaxTokens() != 1 {
		t.Errorf("NewWorkspace(0).MaxTokens() = %d, want 1", w.MaxTokens())
	}
}

// TestForwardBatchDoesNotAllocate checks that a step within the
// workspace's size allocates nothing once the pool's scratch has grown.
func TestForwardBatchDoesNotAllocate(t *testing.T) {
	const bs = 16
	for _, typ := range []tensor.Type{tensor.F32, tensor.Q4_0} {
		for _, kvType := range []tensor.Type{tensor.F16, tensor.F32} {
			cfg := smallGQA
			cfg.Type, cfg.Ctx = typ, 256
			_, m := randomModel(t, cfg)
			V := m.Config.VocabSize
			cache := storageFor(t, m, 24, bs, kvType)
			w := m.NewWorkspace(40)
			logits := make([]float32, 4*V)
			// A prefill chunk in the middle of a prompt, two decode steps
			// and the end of a prompt.
			b := &Batch{Seqs: []SeqBatch{
				{Tokens: randomTokens(1, 20, V), Pos: 40, Blocks: []int32{0, 1, 2, 3}},
				{Tokens: []int{5}, Pos: 70, Blocks: []int32{4, 5, 6, 7, 8}, Logits: true},
				{Tokens: []int{6}, Pos: 3, Blocks: []int32{9}, Logits: true},
				{Tokens: randomTokens(2, 7, V), Pos: 0, Blocks: []int32{10}, Logits: true},
			}}
			for _, threads := range []int{1, 2} {
				p := tensor.NewPool(threads)
				// Fill the positions before each sequence's tokens, in
				// chunks that fit the workspace.
				for _, sb := range b.Seqs {
					for at := 0; at < sb.Pos; at += w.MaxTokens() {
						n := min(w.MaxTokens(), sb.Pos-at)
						pre := &Batch{Seqs: []SeqBatch{{Tokens: randomTokens(uint64(at+1), n, V), Pos: at, Blocks: sb.Blocks}}}
						if err := m.ForwardBatch(p, w, cache, pre, nil); err != nil {
							t.Fatal(err)
						}
					}
				}
				if err := m.ForwardBatch(p, w, cache, b, logits); err != nil {
					t.Fatal(err)
				}
				n := testing.AllocsPerRun(10, func() {
					if err := m.ForwardBatch(p, w, cache, b, logits); err != nil {
						t.Fatal(err)
					}
				})
				if n != 0 {
					t.Errorf("%s weights, %s cache, %d threads: %v allocations per step", typ, kvType, threads, n)
				}
				p.Close()
			}
		}
	}
}

// benchBatchModel is a random model of a realistic width for the decode
// benchmark: head size 64, grouped-query attention, 8-bit weights.
var benchBatchModel = llamatest.RandomConfig{Embd: 512, Layers: 4, Heads: 8, KVHeads: 4, HeadDim: 64, FF: 1408, Ctx: 1024, Type: tensor.Q8_0, Seed: 2}

// BenchmarkForwardBatchDecode measures aggregate decode throughput: one
// step decodes one token for each of 1, 4 or 16 sequences, each with 128
// tokens already in the cache, so the weights are read once for all of
// them.
func BenchmarkForwardBatchDecode(b *testing.B) {
	const bs, ctx = 16, 128
	_, m := randomModel(b, benchBatchModel)
	V := m.Config.VocabSize
	for _, seqs := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("seqs-%d", seqs), func(b *testing.B) {
			p := tensor.NewPool(0)
			defer p.Close()
			per := (ctx + 1 + bs - 1) / bs
			cache := storageFor(b, m, seqs*per, bs, tensor.F16)
			w := m.NewWorkspace(max(seqs, ctx))
			logits := make([]float32, seqs*V)
			batch := &Batch{Seqs: make([]SeqBatch, seqs)}
			for i := range batch.Seqs {
				blocks := make([]int32, per)
				for j := range blocks {
					blocks[j] = int32(i*per + j)
				}
				prefill := &Batch{Seqs: []SeqBatch{{Tokens: randomTokens(uint64(i), ctx, V), Blocks: blocks}}}
				if err := m.ForwardBatch(p, w, cache, prefill, nil); err != nil {
					b.Fatal(err)
				}
				batch.Seqs[i] = SeqBatch{Tokens: []int{5 + i}, Pos: ctx, Blocks: blocks, Logits: true}
			}
			for b.Loop() {
				// Each step decodes at the same positions.
				if err := m.ForwardBatch(p, w, cache, batch, logits); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(seqs*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// TestKVBlockBytes checks KVBlockBytes against the storage NewKVStorage
// makes, so that a budget of n blocks' bytes gives n blocks.
func TestKVBlockBytes(t *testing.T) {
	_, m := randomModel(t, llamatest.RandomConfig{Seed: 7, Type: tensor.F32})
	for _, kvType := range []tensor.Type{tensor.F16, tensor.F32} {
		for _, bs := range []int{8, 16} {
			per := m.KVBlockBytes(bs, kvType)
			s, err := m.NewKVStorage(5*per, bs, kvType)
			if err != nil {
				t.Fatal(err)
			}
			if s.BytesPerBlock() != per || s.NumBlocks() != 5 {
				t.Errorf("%v, blocks of %d: KVBlockBytes %d, storage %d bytes per block and %d blocks from 5 blocks' budget",
					kvType, bs, per, s.BytesPerBlock(), s.NumBlocks())
			}
		}
	}
}
