package kv

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func TestNewBlockPool(t *testing.T) {
	tests := []struct {
		numBlocks, blockSize int
		wantSize             int // 0: must fail
	}{
		{10, 16, 16},
		{1, 1, 1},
		{10, 0, DefaultBlockSize},
		{10, MaxBlockSize, MaxBlockSize},
		{0, 16, 0},
		{-1, 16, 0},
		{10, -1, 0},
		{10, MaxBlockSize + 1, 0},
		{math.MaxInt32, 16, 0},
	}
	for _, tt := range tests {
		p, err := NewBlockPool(tt.numBlocks, tt.blockSize)
		if tt.wantSize == 0 {
			if err == nil {
				t.Errorf("NewBlockPool(%d, %d) succeeded", tt.numBlocks, tt.blockSize)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewBlockPool(%d, %d): %v", tt.numBlocks, tt.blockSize, err)
			continue
		}
		if p.BlockSize() != tt.wantSize || p.NumBlocks() != tt.numBlocks || p.NumFree() != tt.numBlocks || p.Usage() != 0 {
			t.Errorf("NewBlockPool(%d, %d): size %d, %d blocks, %d free, usage %v",
				tt.numBlocks, tt.blockSize, p.BlockSize(), p.NumBlocks(), p.NumFree(), p.Usage())
		}
	}
}

func newPool(t *testing.T, numBlocks, blockSize int) *BlockPool {
	t.Helper()
	p, err := NewBlockPool(numBlocks, blockSize)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustAllocate(t *testing.T, p *BlockPool, n int) []int32 {
	t.Helper()
	ids, err := p.Allocate(n)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestPoolAllocateRelease(t *testing.T) {
	p := newPool(t, 4, 16)
	a := mustAllocate(t, p, 3)
	if !slices.Equal(a, []int32{0, 1, 2}) {
		t.Errorf("fresh pool allocated %v, want [0 1 2]", a)
	}
	for _, id := range a {
		if p.RefCount(id) != 1 {
			t.Errorf("block %d: ref %d after Allocate", id, p.RefCount(id))
		}
	}
	if p.NumFree() != 1 || p.Usage() != 0.75 {
		t.Errorf("%d free, usage %v; want 1, 0.75", p.NumFree(), p.Usage())
	}
	if _, err := p.Allocate(2); !errors.Is(err, ErrOutOfBlocks) {
		t.Errorf("Allocate(2) with 1 free: %v, want ErrOutOfBlocks", err)
	}
	if p.NumFree() != 1 {
		t.Errorf("failed Allocate took blocks: %d free", p.NumFree())
	}
	if _, err := p.Allocate(-1); err == nil {
		t.Error("Allocate(-1) succeeded")
	}
	if ids, err := p.Allocate(0); err != nil || len(ids) != 0 {
		t.Errorf("Allocate(0) = %v, %v", ids, err)
	}

	p.Touch(a[:1])
	if p.RefCount(a[0]) != 2 {
		t.Errorf("ref after Touch = %d, want 2", p.RefCount(a[0]))
	}
	p.Release(a)
	if p.NumFree() != 3 || p.RefCount(a[0]) != 1 {
		t.Errorf("after Release: %d free, block %d ref %d; want 3 free, ref 1", p.NumFree(), a[0], p.RefCount(a[0]))
	}
	p.Release(a[:1])
	if p.NumFree() != 4 || p.Usage() != 0 {
		t.Errorf("after releasing all: %d free, usage %v", p.NumFree(), p.Usage())
	}
}

func TestPoolPanicsOnMisuse(t *testing.T) {
	tests := []struct {
		name string
		f    func(p *BlockPool)
	}{
		{"release free block", func(p *BlockPool) { p.Release([]int32{0}) }},
		{"release out of range", func(p *BlockPool) { p.Release([]int32{4}) }},
		{"touch negative", func(p *BlockPool) { p.Touch([]int32{-1}) }},
		{"cache free block", func(p *BlockPool) { p.Cache(0, BlockHash{1}) }},
		{"recache under another hash", func(p *BlockPool) {
			ids, _ := p.Allocate(1)
			p.Cache(ids[0], BlockHash{1})
			p.Cache(ids[0], BlockHash{2})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.f(newPool(t, 4, 16))
		})
	}
}

// TestPoolLRUEviction checks that cached free blocks are reused in the
// order they were freed, and that reuse forgets their hashes.
func TestPoolLRUEviction(t *testing.T) {
	p := newPool(t, 4, 16)
	ids := mustAllocate(t, p, 4)
	hashes := []BlockHash{{10}, {11}, {12}, {13}}
	for i, id := range ids {
		p.Cache(id, hashes[i])
	}
	// Free in the order 2, 0, 3, 1: that is the eviction order.
	order := []int32{ids[2], ids[0], ids[3], ids[1]}
	p.Release(order)
	for i, h := range hashes {
		if id, ok := p.Lookup(h); !ok || id != ids[i] {
			t.Fatalf("Lookup(hash %d) = %d, %v before eviction", i, id, ok)
		}
	}
	for i, want := range order {
		got := mustAllocate(t, p, 1)[0]
		if got != want {
			t.Fatalf("allocation %d took block %d, want %d", i, got, want)
		}
		if _, ok := p.Hash(got); ok {
			t.Errorf("reused block %d kept its hash", got)
		}
		if _, ok := p.Lookup(hashes[slices.Index(ids, got)]); ok {
			t.Errorf("hash of reused block %d still found", got)
		}
		// The blocks not yet reused are still cached.
		for _, rest := range order[i+1:] {
			if id, ok := p.Lookup(hashes[slices.Index(ids, rest)]); !ok || id != rest {
				t.Errorf("block %d lost its hash early", rest)
			}
		}
	}
}

// TestPoolTouchRefreshes checks that reclaiming a cached free block takes
// it out of the free queue, and that freeing it again puts it at the back.
func TestPoolTouchRefreshes(t *testing.T) {
	p := newPool(t, 3, 16)
	ids := mustAllocate(t, p, 3)
	p.Cache(ids[0], BlockHash{1})
	p.Release(ids) // queue: 0 1 2
	p.Touch(ids[:1])
	if p.NumFree() != 2 || p.RefCount(ids[0]) != 1 {
		t.Fatalf("after Touch: %d free, ref %d", p.NumFree(), p.RefCount(ids[0]))
	}
	if got := mustAllocate(t, p, 1)[0]; got != ids[1] {
		t.Errorf("allocated %d, want %d (the touched block is not free)", got, ids[1])
	}
	p.Release(ids[:1]) // queue: 2 0
	if got := mustAllocate(t, p, 2); !slices.Equal(got, []int32{ids[2], ids[0]}) {
		t.Errorf("allocated %v, want [%d %d]", got, ids[2], ids[0])
	}
}

// TestPoolDuplicateHashes checks that two blocks cached under one hash are
// each findable until both are evicted.
func TestPoolDuplicateHashes(t *testing.T) {
	p := newPool(t, 4, 16)
	ids := mustAllocate(t, p, 3)
	h := BlockHash{7}
	p.Cache(ids[0], h)
	p.Cache(ids[1], h)
	p.Cache(ids[1], h) // again: no change
	p.Cache(ids[2], h)
	if id, _ := p.Lookup(h); id != ids[2] {
		t.Errorf("Lookup = %d, want the latest, %d", id, ids[2])
	}
	p.Release([]int32{ids[1], ids[2], ids[0]}) // queue: 3, ids[1], ids[2], ids[0]
	steps := []struct {
		evict int32 // the block the next allocation takes
		found int32 // what Lookup returns after it, or none
	}{
		{3, ids[2]},
		{ids[1], ids[2]},
		{ids[2], ids[0]},
		{ids[0], none},
	}
	for _, st := range steps {
		if got := mustAllocate(t, p, 1)[0]; got != st.evict {
			t.Fatalf("allocated %d, want %d", got, st.evict)
		}
		id, ok := p.Lookup(h)
		if st.found == none && ok || st.found != none && (!ok || id != st.found) {
			t.Errorf("after evicting %d: Lookup = %d, %v; want %d", st.evict, id, ok, st.found)
		}
	}
}
