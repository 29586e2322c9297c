package kv

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// seqTokens returns n token ids: the first shared follow a fixed pattern
// common to every call, the rest depend on salt.
func seqTokens(n, shared, salt int) []int {
	toks := make([]int, n)
	for i := range toks {
		if i < shared {
			toks[i] = 1000 + i
		} else {
			toks[i] = 100000*(salt+1) + i
		}
	}
	return toks
}

func newManager(t testing.TB, numBlocks, blockSize int) *Manager {
	t.Helper()
	p, err := NewBlockPool(numBlocks, blockSize)
	if err != nil {
		t.Fatal(err)
	}
	return NewManager(p)
}

// prefill allocates seq for prompt and commits the part not served from
// the cache, as an engine does after the forward pass; it returns the
// cached token count.
func prefill(t testing.TB, m *Manager, seq SeqID, prompt []int) int {
	t.Helper()
	cached, err := m.Allocate(seq, prompt)
	if err != nil {
		t.Fatalf("allocate %d: %v", seq, err)
	}
	if err := m.Commit(seq, prompt[cached:]); err != nil {
		t.Fatalf("commit %d: %v", seq, err)
	}
	if err := checkInvariants(m); err != nil {
		t.Fatal(err)
	}
	return cached
}

func TestPrefixHits(t *testing.T) {
	tests := []struct {
		name       string
		first      []int // prefilled, then kept or freed
		freeFirst  bool
		second     []int
		wantCached int
	}{
		{"three shared full blocks", seqTokens(60, 50, 0), false, seqTokens(70, 50, 1), 48},
		{"three shared blocks after free", seqTokens(60, 50, 0), true, seqTokens(70, 50, 1), 48},
		{"nothing shared", seqTokens(60, 0, 0), false, seqTokens(60, 0, 1), 0},
		{"first token differs", seqTokens(60, 0, 0), false, append([]int{7}, seqTokens(60, 0, 0)[1:]...), 0},
		{"shared partial block is not cached", seqTokens(40, 40, 0), false, seqTokens(60, 45, 1), 32},
		{"shorter than one block", seqTokens(10, 10, 0), false, seqTokens(10, 10, 0), 0},
		{"identical prompt leaves its last block", seqTokens(48, 48, 0), false, seqTokens(48, 48, 0), 32},
		{"identical prompt after free", seqTokens(48, 48, 0), true, seqTokens(48, 48, 0), 32},
		{"identical prompt with partial tail", seqTokens(50, 50, 0), false, seqTokens(50, 50, 0), 48},
		{"one token past the cached blocks", seqTokens(48, 48, 0), false, seqTokens(49, 48, 1), 48},
		{"prefix of the first", seqTokens(64, 64, 0), false, seqTokens(33, 33, 0), 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newManager(t, 16, 16)
			if got := prefill(t, m, 1, tt.first); got != 0 {
				t.Fatalf("first prompt: %d tokens cached in an empty pool", got)
			}
			if tt.freeFirst {
				if err := m.Free(1); err != nil {
					t.Fatal(err)
				}
			}
			got := prefill(t, m, 2, tt.second)
			if got != tt.wantCached {
				t.Fatalf("cached %d tokens, want %d", got, tt.wantCached)
			}
			// The hits are the first prompt's blocks, now shared.
			shared := got / 16
			if !tt.freeFirst {
				a, b := m.BlockTable(1), m.BlockTable(2)
				if !slices.Equal(a[:shared], b[:shared]) || shared < len(b) && slices.Contains(a, b[shared]) {
					t.Errorf("tables %v and %v do not share exactly %d blocks", a, b, shared)
				}
				for _, id := range b[:shared] {
					if m.Pool().RefCount(id) != 2 {
						t.Errorf("shared block %d: ref %d, want 2", id, m.Pool().RefCount(id))
					}
				}
			}
			st := m.Stats()
			want := Stats{Requests: 2, Queries: int64(len(tt.first) + len(tt.second)), Hits: int64(got)}
			if st != want {
				t.Errorf("stats %+v, want %+v", st, want)
			}
		})
	}
}

func TestUncommittedBlocksAreNotShared(t *testing.T) {
	m := newManager(t, 16, 16)
	prompt := seqTokens(40, 40, 0)
	if _, err := m.Allocate(1, prompt); err != nil {
		t.Fatal(err)
	}
	if got := prefill(t, m, 2, prompt); got != 0 {
		t.Errorf("cached %d tokens of a prompt nobody has computed", got)
	}
	// Committing part of the prompt caches the blocks it fills.
	if err := m.Commit(1, prompt[:20]); err != nil {
		t.Fatal(err)
	}
	if got := prefill(t, m, 3, prompt); got != 32 {
		t.Errorf("cached %d tokens, want 32", got)
	}
}

func TestExtraKeySeparatesCaches(t *testing.T) {
	m := newManager(t, 16, 16)
	prompt := seqTokens(40, 40, 0)
	if _, err := m.AllocateWithKey(1, prompt, []byte("adapter-a")); err != nil {
		t.Fatal(err)
	}
	if err := m.Commit(1, prompt); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		seq  SeqID
		key  []byte
		want int
	}{
		{2, nil, 0},
		{3, []byte("adapter-b"), 0},
		{4, []byte("adapter-a"), 32},
	}
	for _, tt := range tests {
		got, err := m.AllocateWithKey(tt.seq, prompt, tt.key)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("key %q: cached %d, want %d", tt.key, got, tt.want)
		}
	}
}

func TestCommitErrors(t *testing.T) {
	m := newManager(t, 16, 16)
	prompt := seqTokens(20, 20, 0)
	if _, err := m.Allocate(1, prompt); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		tokens []int
	}{
		{"differs from the prompt", append([]int{5}, prompt[1:]...)},
		{"more than reserved", seqTokens(21, 20, 0)},
	}
	for _, tt := range tests {
		if err := m.Commit(1, tt.tokens); err == nil {
			t.Errorf("%s: Commit succeeded", tt.name)
		}
		if m.Computed(1) != 0 {
			t.Errorf("%s: failed Commit changed computed to %d", tt.name, m.Computed(1))
		}
	}
	if err := m.Commit(9, prompt); !errors.Is(err, ErrUnknownSequence) {
		t.Errorf("Commit to unknown sequence: %v", err)
	}
	// Generated tokens are committed after Append reserves their slots.
	if err := m.Commit(1, prompt); err != nil {
		t.Fatal(err)
	}
	if err := m.Commit(1, []int{42}); err == nil {
		t.Error("Commit without a reserved slot succeeded")
	}
	if _, err := m.Append(1, 13); err != nil {
		t.Fatal(err)
	}
	gen := seqTokens(13, 0, 3)
	if err := m.Commit(1, gen); err != nil {
		t.Fatal(err)
	}
	if m.Len(1) != 33 || m.Computed(1) != 33 {
		t.Errorf("len %d, computed %d; want 33, 33", m.Len(1), m.Computed(1))
	}
	if err := checkInvariants(m); err != nil {
		t.Fatal(err)
	}
	// The generated tokens are part of the cached prefix.
	whole := append(slices.Clone(prompt), gen...)
	if got := prefill(t, m, 2, append(whole, 1, 2)); got != 32 {
		t.Errorf("prompt + generated: cached %d, want 32", got)
	}
}

func TestAllocateErrors(t *testing.T) {
	m := newManager(t, 4, 16)
	if _, err := m.Allocate(1, nil); err == nil {
		t.Error("empty prompt allocated")
	}
	if _, err := m.Allocate(1, seqTokens(65, 0, 0)); err == nil || errors.Is(err, ErrOutOfBlocks) {
		t.Errorf("prompt larger than the pool: %v, want a non-ErrOutOfBlocks error", err)
	}
	if _, err := m.Allocate(1, seqTokens(40, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Allocate(1, seqTokens(10, 0, 1)); err == nil {
		t.Error("sequence allocated twice")
	}
	if _, err := m.Allocate(2, seqTokens(20, 0, 1)); !errors.Is(err, ErrOutOfBlocks) {
		t.Errorf("2 blocks with 1 free: %v, want ErrOutOfBlocks", err)
	}
	if m.Len(2) != 0 || m.BlockTable(2) != nil || m.FreeBlocks() != 1 || m.Stats().Requests != 1 {
		t.Error("failed Allocate changed state")
	}
	if err := checkInvariants(m); err != nil {
		t.Fatal(err)
	}
}

// TestAllocateCountsReclaimedHits checks that cached blocks sitting in the
// free queue count against the free blocks a prompt needs: claiming them
// makes them unavailable for the rest of the prompt.
func TestAllocateCountsReclaimedHits(t *testing.T) {
	m := newManager(t, 4, 16)
	prompt := seqTokens(48, 48, 0)
	prefill(t, m, 1, prompt)
	if err := m.Free(1); err != nil {
		t.Fatal(err)
	}
	// 4 free blocks, 3 of them cached. A 64-token prompt with that prefix
	// needs all 4: it fits, with 48 tokens cached.
	long := seqTokens(64, 48, 1)
	if got := prefill(t, m, 2, long); got != 48 {
		t.Fatalf("cached %d, want 48", got)
	}
	if err := m.Free(2); err != nil {
		t.Fatal(err)
	}
	// Hold one block elsewhere: 3 free, all needed by the 2 hits plus 2
	// new blocks a 64-token prompt would take, so it must fail whole.
	if _, err := m.Allocate(3, seqTokens(1, 0, 9)); err != nil {
		t.Fatal(err)
	}
	before := m.FreeBlocks()
	if _, err := m.Allocate(4, seqTokens(64, 32, 2)); !errors.Is(err, ErrOutOfBlocks) {
		t.Fatalf("allocate with %d free: %v, want ErrOutOfBlocks", before, err)
	}
	if m.FreeBlocks() != before {
		t.Errorf("failed Allocate took blocks")
	}
	if err := checkInvariants(m); err != nil {
		t.Fatal(err)
	}
}

// TestFreeEvictsTailFirst checks the LRU order across sequences: the
// sequence freed first is evicted first, and within a sequence its last
// block goes before its first.
func TestFreeEvictsTailFirst(t *testing.T) {
	m := newManager(t, 6, 16)
	a, b := seqTokens(48, 0, 0), seqTokens(48, 0, 1)
	prefill(t, m, 1, a)
	prefill(t, m, 2, b)
	tableA, tableB := slices.Clone(m.BlockTable(1)), slices.Clone(m.BlockTable(2))
	if err := m.Free(1); err != nil {
		t.Fatal(err)
	}
	if err := m.Free(2); err != nil {
		t.Fatal(err)
	}
	// Each new single-block sequence evicts the next block in LRU order.
	want := []int32{tableA[2], tableA[1], tableA[0], tableB[2]}
	for i, w := range want {
		if _, err := m.Allocate(SeqID(10+i), []int{i}); err != nil {
			t.Fatal(err)
		}
		if got := m.BlockTable(SeqID(10 + i))[0]; got != w {
			t.Fatalf("allocation %d took block %d, want %d (A %v, B %v)", i, got, w, tableA, tableB)
		}
	}
	for i := range want {
		if err := m.Free(SeqID(10 + i)); err != nil {
			t.Fatal(err)
		}
	}
	// B lost only its last block, A is gone from the cache.
	for i, tt := range []struct {
		prompt []int
		want   int
	}{{b, 32}, {a, 0}} {
		if got, err := m.Allocate(SeqID(20+i), tt.prompt); err != nil || got != tt.want {
			t.Errorf("re-allocate: cached %d, %v; want %d", got, err, tt.want)
		}
	}
	if err := checkInvariants(m); err != nil {
		t.Fatal(err)
	}
}

func TestForkCopyOnWrite(t *testing.T) {
	m := newManager(t, 8, 16)
	prompt := seqTokens(20, 20, 0)
	prefill(t, m, 1, prompt)
	if err := m.Fork(1, 2); err != nil {
		t.Fatal(err)
	}
	parent := slices.Clone(m.BlockTable(1))
	if !slices.Equal(parent, m.BlockTable(2)) || m.Len(2) != 20 || m.Computed(2) != 20 {
		t.Fatalf("child table %v, len %d; parent %v", m.BlockTable(2), m.Len(2), parent)
	}
	for _, id := range parent {
		if m.Pool().RefCount(id) != 2 {
			t.Errorf("block %d: ref %d after fork, want 2", id, m.Pool().RefCount(id))
		}
	}
	if err := checkInvariants(m); err != nil {
		t.Fatal(err)
	}

	// The child writes into the shared partial block: it gets a copy.
	copies, err := m.Append(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	child := m.BlockTable(2)
	if len(copies) != 1 || copies[0].Src != parent[1] || copies[0].Dst != child[1] || child[0] != parent[0] {
		t.Fatalf("copies %v, parent %v, child %v", copies, parent, child)
	}
	if m.Pool().RefCount(parent[0]) != 2 || m.Pool().RefCount(parent[1]) != 1 || m.Pool().RefCount(child[1]) != 1 {
		t.Error("reference counts after copy-on-write are wrong")
	}
	// The parent now owns its last block alone: no copy.
	if copies, err := m.Append(1, 1); err != nil || len(copies) != 0 {
		t.Errorf("parent append: copies %v, %v; want none", copies, err)
	}
	if !slices.Equal(m.BlockTable(1), parent) {
		t.Errorf("parent table changed to %v", m.BlockTable(1))
	}
	// Diverging generated tokens fill diverging blocks; both get cached.
	for seq, salt := range map[SeqID]int{1: 1, 2: 2} {
		if err := m.Commit(seq, seqTokens(1, 0, salt)); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkInvariants(m); err != nil {
		t.Fatal(err)
	}
	if err := m.Free(1); err != nil {
		t.Fatal(err)
	}
	if m.Pool().RefCount(parent[0]) != 1 {
		t.Errorf("shared block ref %d after parent free, want 1", m.Pool().RefCount(parent[0]))
	}
	if err := checkInvariants(m); err != nil {
		t.Fatal(err)
	}
}

func TestForkAtBlockBoundary(t *testing.T) {
	m := newManager(t, 8, 16)
	prefill(t, m, 1, seqTokens(32, 32, 0))
	if err := m.Fork(1, 2); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []SeqID{1, 2} {
		copies, err := m.Append(seq, 1)
		if err != nil || len(copies) != 0 {
			t.Errorf("seq %d: append into a new block: copies %v, %v", seq, copies, err)
		}
	}
	a, b := m.BlockTable(1), m.BlockTable(2)
	if !slices.Equal(a[:2], b[:2]) || a[2] == b[2] {
		t.Errorf("tables %v and %v", a, b)
	}
	if err := checkInvariants(m); err != nil {
		t.Fatal(err)
	}
}

func TestForkErrors(t *testing.T) {
	m := newManager(t, 8, 16)
	if _, err := m.Allocate(1, seqTokens(20, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := m.Fork(1, 2); err == nil {
		t.Error("forked a sequence with uncommitted slots")
	}
	if err := m.Commit(1, seqTokens(20, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := m.Fork(9, 2); !errors.Is(err, ErrUnknownSequence) {
		t.Errorf("fork of unknown sequence: %v", err)
	}
	if err := m.Fork(1, 1); err == nil {
		t.Error("forked onto an existing sequence")
	}
	if m.FreeBlocks() != 6 {
		t.Errorf("failed forks changed free blocks to %d", m.FreeBlocks())
	}
}

func TestAppendOutOfBlocks(t *testing.T) {
	m := newManager(t, 5, 16)
	prefill(t, m, 1, seqTokens(60, 0, 0)) // 4 blocks, the last 12/16 full
	if err := m.Fork(1, 2); err != nil {
		t.Fatal(err)
	}
	prefill(t, m, 3, seqTokens(16, 0, 1)) // the fifth block
	check := func(seq SeqID, n int, oob bool) {
		t.Helper()
		table, length := slices.Clone(m.BlockTable(seq)), m.Len(seq)
		_, err := m.Append(seq, n)
		if err == nil || errors.Is(err, ErrOutOfBlocks) != oob {
			t.Errorf("Append(%d, %d): %v, want out of blocks %v", seq, n, err, oob)
		}
		if !slices.Equal(m.BlockTable(seq), table) || m.Len(seq) != length {
			t.Errorf("failed Append(%d, %d) changed state", seq, n)
		}
	}
	check(1, 1, true)   // needs a copy of the shared last block
	check(2, 4, true)   // so does the fork, even within the block
	check(1, 21, false) // more than the pool could ever hold
	check(1, -1, false)
	check(9, 1, false)
	if err := checkInvariants(m); err != nil {
		t.Fatal(err)
	}

	// Preempting the third sequence makes room for the copy.
	if err := m.Free(3); err != nil {
		t.Fatal(err)
	}
	if copies, err := m.Append(1, 4); err != nil || len(copies) != 1 {
		t.Fatalf("append after preemption: copies %v, %v", copies, err)
	}
	// The fork owns its last block alone now.
	if copies, err := m.Append(2, 4); err != nil || len(copies) != 0 {
		t.Fatalf("fork append: copies %v, %v", copies, err)
	}
	check(1, 1, true) // a new block, none free
	check(2, 1, true)
	if err := checkInvariants(m); err != nil {
		t.Fatal(err)
	}
	if err := m.Free(2); err != nil {
		t.Fatal(err)
	}
	if m.FreeBlocks() != 1 {
		t.Errorf("%d free blocks after freeing the fork, want its 1 private block", m.FreeBlocks())
	}
	if err := m.Free(2); !errors.Is(err, ErrUnknownSequence) {
		t.Errorf("double free: %v", err)
	}
	if copies, err := m.Append(1, 1); err != nil || len(copies) != 0 {
		t.Errorf("append after freeing the fork: copies %v, %v", copies, err)
	}
	if err := checkInvariants(m); err != nil {
		t.Fatal(err)
	}
}

func TestUsage(t *testing.T) {
	m := newManager(t, 10, 16)
	steps := []struct {
		do    func() error
		usage float64
		free  int
	}{
		{func() error { _, err := m.Allocate(1, seqTokens(40, 40, 0)); return err }, 0.3, 7},
		{func() error { return m.Commit(1, seqTokens(40, 40, 0)) }, 0.3, 7},
		{func() error { _, err := m.Allocate(2, seqTokens(40, 40, 0)); return err }, 0.4, 6}, // 2 shared + 1 new
		{func() error { _, err := m.Append(2, 9); return err }, 0.5, 5},
		{func() error { return m.Free(1) }, 0.4, 6},
		{func() error { return m.Free(2) }, 0, 10}, // cached but free
	}
	for i, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := m.Usage(); got < st.usage-1e-9 || got > st.usage+1e-9 || m.FreeBlocks() != st.free {
			t.Errorf("step %d: usage %v, %d free; want %v, %d", i, got, m.FreeBlocks(), st.usage, st.free)
		}
	}
}

func TestStats(t *testing.T) {
	m := newManager(t, 16, 16)
	prefill(t, m, 1, seqTokens(50, 50, 0)) // 50 queried, 0 hit
	prefill(t, m, 2, seqTokens(50, 50, 0)) // 50 queried, 48 hit
	prefill(t, m, 3, seqTokens(30, 20, 1)) // 30 queried, 16 hit
	if _, err := m.Allocate(3, seqTokens(30, 20, 1)); err == nil {
		t.Fatal("duplicate allocation succeeded")
	}
	want := Stats{Requests: 3, Queries: 130, Hits: 64}
	if got := m.Stats(); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	if got := m.Stats().HitRate(); got != 64.0/130 {
		t.Errorf("hit rate %v", got)
	}
	if (Stats{}).HitRate() != 0 {
		t.Error("hit rate of no queries is not 0")
	}
}

// TestRandomOperations runs random operation sequences and checks the
// invariants after every step: no block leaks, reference counts match the
// block tables, cached blocks hold what their hashes say.
func TestRandomOperations(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	runs := 300
	if testing.Short() {
		runs = 50
	}
	for range runs {
		data := make([]byte, 600)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		runOps(t, data)
	}
}

func FuzzManager(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 20, 20, 7})                                  // allocate
	f.Add([]byte{0, 1, 20, 20, 7, 1, 1, 7, 1, 1, 7, 1, 1, 7, 4, 1}) // allocate, commit, free
	f.Add([]byte{0, 0, 9, 9, 1, 1, 0, 7, 3, 0, 1, 2, 1, 1, 2, 0, 1, 5, 0, 5, 1})
	f.Add([]byte{0, 2, 23, 23, 3, 0, 3, 23, 23, 3, 1, 2, 7, 1, 3, 7, 4, 2, 0, 4, 23, 23, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			data = data[:4096]
		}
		runOps(t, data)
	})
}

func BenchmarkAllocateFree(b *testing.B) {
	prompt := seqTokens(1000, 1000, 0)
	b.Run("miss", func(b *testing.B) {
		m := newManager(b, 128, 16)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			prompt[0] = i // a new first token defeats the cache
			if _, err := m.Allocate(1, prompt); err != nil {
				b.Fatal(err)
			}
			if err := m.Free(1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("miss+commit", func(b *testing.B) {
		m := newManager(b, 128, 16)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			prompt[0] = i
			if _, err := m.Allocate(1, prompt); err != nil {
				b.Fatal(err)
			}
			if err := m.Commit(1, prompt); err != nil {
				b.Fatal(err)
			}
			if err := m.Free(1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hit", func(b *testing.B) {
		m := newManager(b, 128, 16)
		prompt[0] = -1
		prefill(b, m, 1, prompt)
		if err := m.Free(1); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			cached, err := m.Allocate(1, prompt)
			if err != nil || cached != 992 {
				b.Fatal(cached, err)
			}
			if err := m.Free(1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
