package kv

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// checkInvariants verifies the bookkeeping of m and its pool against each
// other and returns the first inconsistency found.
func checkInvariants(m *Manager) error {
	p := m.pool
	n := p.NumBlocks()

	// The free queue holds exactly the unreferenced blocks, once each.
	inQueue := make([]bool, n)
	count := 0
	s := p.sentinel()
	for prev, id := s, p.blocks[s].next; id != s; prev, id = id, p.blocks[id].next {
		if id < 0 || int(id) >= n {
			return fmt.Errorf("free queue links to %d", id)
		}
		if inQueue[id] {
			return fmt.Errorf("block %d twice in the free queue", id)
		}
		if p.blocks[id].prev != prev {
			return fmt.Errorf("block %d: prev %d, want %d", id, p.blocks[id].prev, prev)
		}
		inQueue[id] = true
		count++
	}
	if count != p.NumFree() {
		return fmt.Errorf("free queue holds %d blocks, NumFree says %d", count, p.NumFree())
	}
	used := 0
	for id := range n {
		b := p.blocks[id]
		switch {
		case b.ref < 0:
			return fmt.Errorf("block %d: ref %d", id, b.ref)
		case b.ref == 0 && !inQueue[id]:
			return fmt.Errorf("block %d: unreferenced but not free", id)
		case b.ref > 0 && inQueue[id]:
			return fmt.Errorf("block %d: ref %d but in the free queue", id, b.ref)
		}
		if b.ref > 0 {
			used++
		}
	}
	if used+p.NumFree() != n {
		return fmt.Errorf("%d used + %d free != %d blocks", used, p.NumFree(), n)
	}
	if want := float64(used) / float64(n); m.Usage() != want {
		return fmt.Errorf("usage %v, want %v", m.Usage(), want)
	}

	// Every hashed block is on the list of its hash, and nothing else is.
	onList := 0
	for h, id := range p.cached {
		if p.blocks[id].hprev != none {
			return fmt.Errorf("head block %d of a hash list has prev %d", id, p.blocks[id].hprev)
		}
		for prev := int32(none); id != none; prev, id = id, p.blocks[id].hnext {
			b := p.blocks[id]
			if !b.hashed || b.hash != h {
				return fmt.Errorf("block %d on the wrong hash list", id)
			}
			if b.hprev != prev {
				return fmt.Errorf("block %d: hprev %d, want %d", id, b.hprev, prev)
			}
			onList++
			if onList > n {
				return fmt.Errorf("hash lists hold more than %d blocks: a cycle", n)
			}
		}
	}
	hashed := 0
	for id := range n {
		if p.blocks[id].hashed {
			hashed++
		}
	}
	if onList != hashed {
		return fmt.Errorf("%d blocks on hash lists, %d hashed", onList, hashed)
	}

	// Reference counts equal the references the sequences hold.
	refs := make([]int32, n)
	bs := p.BlockSize()
	for id, s := range m.seqs {
		if len(s.blocks) != ceilDiv(s.length, bs) {
			return fmt.Errorf("seq %d: %d blocks for %d slots", id, len(s.blocks), s.length)
		}
		if s.computed > s.length || s.computed > len(s.tokens) || len(s.tokens) > s.length {
			return fmt.Errorf("seq %d: computed %d, %d tokens, length %d", id, s.computed, len(s.tokens), s.length)
		}
		for _, b := range s.blocks {
			refs[b]++
		}
		if len(s.hashes) != s.computed/bs {
			return fmt.Errorf("seq %d: %d hashes for %d computed slots", id, len(s.hashes), s.computed)
		}
		// Each full computed block holds what its hash says, and is cached.
		var parent BlockHash
		for j, h := range s.hashes {
			want := HashBlock(parent, s.tokens[j*bs:(j+1)*bs], s.key)
			if h != want {
				return fmt.Errorf("seq %d: block %d hash does not match its tokens", id, j)
			}
			if got, ok := p.Hash(s.blocks[j]); !ok || got != h {
				return fmt.Errorf("seq %d: full block %d (id %d) is not cached under its hash", id, j, s.blocks[j])
			}
			parent = h
		}
		if len(slices.Compact(slices.Sorted(slices.Values(s.blocks)))) != len(s.blocks) {
			return fmt.Errorf("seq %d: a block appears twice in its table %v", id, s.blocks)
		}
	}
	for id := range n {
		if refs[id] != p.blocks[id].ref {
			return fmt.Errorf("block %d: ref %d, sequences hold %d", id, p.blocks[id].ref, refs[id])
		}
	}
	if st := m.Stats(); st.Hits < 0 || st.Hits > st.Queries {
		return fmt.Errorf("stats %+v", st)
	}
	return nil
}

// runOps interprets data as a sequence of operations on a small manager,
// checking the invariants and the results of each. Tokens come from a tiny
// vocabulary and prompts often start with a common pattern, so prefixes are
// shared, cached, evicted and forked often.
func runOps(t testing.TB, data []byte) {
	const (
		numBlocks = 12
		bs        = 4
		numSeqs   = 6
	)
	pool, err := NewBlockPool(numBlocks, bs)
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(pool)
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b)
	}
	for step := 0; len(data) > 0; step++ {
		op, seq := next(), SeqID(next()%numSeqs)
		var desc string
		s, exists := m.seqs[seq]
		freeBefore := pool.NumFree()
		switch op % 6 {
		case 0: // allocate
			n, shared, salt := 1+next()%24, next(), next()
			prompt := make([]int, n)
			for i := range prompt {
				if i < shared%(n+1) {
					prompt[i] = i % 3
				} else {
					prompt[i] = next() % 3
				}
			}
			var key []byte
			if salt%5 == 0 {
				key = []byte{byte(salt)}
			}
			desc = fmt.Sprintf("allocate %d %v key %v", seq, prompt, key)
			cached, err := m.AllocateWithKey(seq, prompt, key)
			switch {
			case exists:
				if err == nil {
					t.Fatalf("step %d: %s: allocated twice", step, desc)
				}
			case err != nil:
				// With as many free blocks as the prompt needs, hits or
				// not, allocation cannot fail.
				if !errors.Is(err, ErrOutOfBlocks) || freeBefore >= ceilDiv(n, bs) {
					t.Fatalf("step %d: %s with %d free: %v", step, desc, freeBefore, err)
				}
				if _, ok := m.seqs[seq]; ok || pool.NumFree() != freeBefore {
					t.Fatalf("step %d: %s: failed but changed state", step, desc)
				}
			default:
				if cached%bs != 0 || cached >= n || m.Computed(seq) != cached || m.Len(seq) != n {
					t.Fatalf("step %d: %s: cached %d, computed %d, len %d", step, desc, cached, m.Computed(seq), m.Len(seq))
				}
			}
		case 1: // commit
			k := 1 + next()%8
			desc = fmt.Sprintf("commit %d tokens to %d", k, seq)
			if !exists {
				if m.Commit(seq, []int{0}) == nil {
					t.Fatalf("step %d: %s: unknown sequence accepted", step, desc)
				}
				break
			}
			k = min(k, s.length-s.computed)
			toks := make([]int, k)
			for i := range toks {
				if pos := s.computed + i; pos < len(s.tokens) {
					toks[i] = s.tokens[pos]
				} else {
					toks[i] = next() % 3
				}
			}
			if err := m.Commit(seq, toks); err != nil {
				t.Fatalf("step %d: %s: %v", step, desc, err)
			}
		case 2: // append
			k := next() % 7
			desc = fmt.Sprintf("append %d to %d", k, seq)
			if !exists {
				if _, err := m.Append(seq, k); err == nil {
					t.Fatalf("step %d: %s: unknown sequence accepted", step, desc)
				}
				break
			}
			checkAppend(t, m, seq, k, fmt.Sprintf("step %d: %s", step, desc))
		case 3: // fork
			child := SeqID(next() % numSeqs)
			desc = fmt.Sprintf("fork %d into %d", seq, child)
			_, childExists := m.seqs[child]
			err := m.Fork(seq, child)
			if ok := exists && !childExists && s.computed == s.length; ok != (err == nil) {
				t.Fatalf("step %d: %s: %v", step, desc, err)
			}
			if err == nil && !slices.Equal(m.BlockTable(seq), m.BlockTable(child)) {
				t.Fatalf("step %d: %s: tables differ", step, desc)
			}
		case 4: // free
			desc = fmt.Sprintf("free %d", seq)
			if err := m.Free(seq); (err == nil) != exists {
				t.Fatalf("step %d: %s: %v", step, desc, err)
			}
		case 5: // decode step: one slot, then its token
			desc = fmt.Sprintf("decode %d", seq)
			if !exists || s.computed != s.length {
				break
			}
			if checkAppend(t, m, seq, 1, fmt.Sprintf("step %d: %s", step, desc)) {
				if err := m.Commit(seq, []int{next() % 3}); err != nil {
					t.Fatalf("step %d: %s: %v", step, desc, err)
				}
			}
		}
		if err := checkInvariants(m); err != nil {
			t.Fatalf("step %d: after %s: %v", step, desc, err)
		}
	}
	// Freeing everything returns every block.
	for id := range m.seqs {
		if err := m.Free(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkInvariants(m); err != nil {
		t.Fatalf("after freeing all: %v", err)
	}
	if pool.NumFree() != numBlocks || m.Usage() != 0 {
		t.Fatalf("after freeing all: %d of %d free, usage %v", pool.NumFree(), numBlocks, m.Usage())
	}
}

// checkAppend appends k slots to existing sequence seq and checks that it
// fails exactly when it must, changes nothing when it fails, and asks for a
// copy exactly when the last block is partly filled and shared. It reports
// whether the append succeeded.
func checkAppend(t testing.TB, m *Manager, seq SeqID, k int, desc string) bool {
	t.Helper()
	p, s := m.pool, m.seqs[seq]
	bs := p.BlockSize()
	table, length, free := slices.Clone(s.blocks), s.length, p.NumFree()
	cow := k > 0 && length%bs != 0 && p.RefCount(table[len(table)-1]) > 1
	need := ceilDiv(length+k, bs) - len(table)
	if cow {
		need++
	}
	copies, err := m.Append(seq, k)
	if err != nil {
		tooLong := length+k > p.NumBlocks()*bs
		if tooLong == errors.Is(err, ErrOutOfBlocks) || (!tooLong && need <= free) {
			t.Fatalf("%s: length %d, %d free, need %d: %v", desc, length, free, need, err)
		}
		if !slices.Equal(table, s.blocks) || s.length != length || p.NumFree() != free {
			t.Fatalf("%s: failed but changed state", desc)
		}
		return false
	}
	if s.length != length+k || free-p.NumFree() != need {
		t.Fatalf("%s: length %d → %d, free %d → %d, need %d", desc, length, s.length, free, p.NumFree(), need)
	}
	if !cow {
		if len(copies) != 0 {
			t.Fatalf("%s: unexpected copies %v", desc, copies)
		}
		if !slices.Equal(table, s.blocks[:len(table)]) {
			t.Fatalf("%s: table %v → %v without a copy", desc, table, s.blocks)
		}
		return true
	}
	last := len(table) - 1
	if len(copies) != 1 {
		t.Fatalf("%s: copies %v, want one", desc, copies)
	}
	c := copies[0]
	if c.Src != table[last] || c.Dst != s.blocks[last] || c.Src == c.Dst || p.RefCount(c.Src) < 1 || p.RefCount(c.Dst) != 1 {
		t.Fatalf("%s: copy %+v, table %v → %v", desc, c, table, s.blocks)
	}
	return true
}
