package kv

import (
	"errors"
	"fmt"
	"slices"
)

// SeqID names a sequence within a Manager.
type SeqID uint64

// Copy is a block copy the KV storage must perform before the forward pass
// that writes into Dst: the contents of block Src go to block Dst.
type Copy struct{ Src, Dst int32 }

// Stats counts prefix-cache lookups, in tokens as vLLM counts them.
type Stats struct {
	Requests int64 // sequences allocated
	Queries  int64 // prompt tokens looked up in the prefix cache
	Hits     int64 // prompt tokens found there, which need no computing
}

// HitRate returns Hits/Queries, or 0 before any query.
func (s Stats) HitRate() float64 {
	if s.Queries == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Queries)
}

// sequence is a Manager's record of one sequence.
//
// Slots [0, length) are reserved in blocks; the KV of slots [0, computed)
// has been written and committed. tokens holds the ids of every slot known
// so far: the prompt, then committed generated tokens.
type sequence struct {
	key      []byte
	tokens   []int
	blocks   []int32
	hashes   []BlockHash // of the first computed/blockSize blocks
	length   int
	computed int
}

// Manager keeps a block table for each sequence on top of a BlockPool.
//
// The life of a sequence: Allocate reserves slots for its prompt, reusing
// cached blocks for the longest cached prefix; the caller computes the rest
// of the prompt and Commits those tokens, which caches each block that
// became full. Each generated token needs Append (a slot) then, once its KV
// is written, Commit. Fork shares a sequence's blocks with a new one;
// Free gives a sequence's blocks back, leaving its full blocks cached.
//
// A Manager is not safe for concurrent use.
type Manager struct {
	pool  *BlockPool
	seqs  map[SeqID]*sequence
	stats Stats
	buf   []byte // scratch for hashing
}

// NewManager returns a Manager with no sequences that takes blocks from
// pool.
func NewManager(pool *BlockPool) *Manager {
	return &Manager{pool: pool, seqs: make(map[SeqID]*sequence)}
}

// Pool returns the pool the Manager takes blocks from.
func (m *Manager) Pool() *BlockPool { return m.pool }

// Allocate is AllocateWithKey with no extra key.
func (m *Manager) Allocate(seq SeqID, prompt []int) (cached int, err error) {
	return m.AllocateWithKey(seq, prompt, nil)
}

// AllocateWithKey starts sequence seq with the given prompt and reserves
// blocks for all of it. It looks up the prompt's full blocks in the prefix
// cache and reuses the longest run of them found from the start; cached is
// the number of prompt tokens they hold, whose KV is already in storage, so
// the caller computes only prompt[cached:] and then Commits it. The last
// prompt token is never served from the cache, so that the forward pass
// has a token to produce logits for.
//
// key is mixed into every block hash (see HashBlock): only sequences with
// equal keys share blocks.
//
// If the pool has too few free blocks it returns ErrOutOfBlocks and changes
// nothing.
func (m *Manager) AllocateWithKey(seq SeqID, prompt []int, key []byte) (cached int, err error) {
	if _, ok := m.seqs[seq]; ok {
		return 0, fmt.Errorf("kv: allocate sequence %d: already allocated", seq)
	}
	if len(prompt) == 0 {
		return 0, fmt.Errorf("kv: allocate sequence %d: empty prompt", seq)
	}
	bs := m.pool.blockSize
	numBlocks := ceilDiv(len(prompt), bs)
	if numBlocks > m.pool.NumBlocks() {
		// Not ErrOutOfBlocks: preempting others would not help.
		return 0, fmt.Errorf("kv: allocate sequence %d: %d tokens need %d blocks, more than the pool's %d",
			seq, len(prompt), numBlocks, m.pool.NumBlocks())
	}
	s := &sequence{
		key:    slices.Clone(key),
		tokens: slices.Clone(prompt),
		blocks: make([]int32, 0, numBlocks),
		length: len(prompt),
	}

	// Walk the hash chain until the first miss.
	var parent BlockHash
	reclaimed := 0 // hits that are free now and will stop being so
	for j := range (len(prompt) - 1) / bs {
		var h BlockHash
		h, m.buf = hashBlock(m.buf, parent, prompt[j*bs:(j+1)*bs], s.key)
		id, ok := m.pool.Lookup(h)
		if !ok {
			break
		}
		if m.pool.blocks[id].ref == 0 {
			reclaimed++
		}
		s.blocks = append(s.blocks, id)
		s.hashes = append(s.hashes, h)
		parent = h
	}
	hits := len(s.blocks)
	if need := numBlocks - hits; need+reclaimed > m.pool.numFree {
		return 0, fmt.Errorf("kv: allocate sequence %d: %d new blocks with %d free: %w",
			seq, need+reclaimed, m.pool.numFree, ErrOutOfBlocks)
	}
	// Claim the hits before allocating, so that allocation cannot evict
	// them.
	m.pool.Touch(s.blocks)
	for len(s.blocks) < numBlocks {
		s.blocks = append(s.blocks, m.pool.pop())
	}
	s.computed = hits * bs
	m.seqs[seq] = s
	m.stats.Requests++
	m.stats.Queries += int64(len(prompt))
	m.stats.Hits += int64(s.computed)
	return s.computed, nil
}

// Append reserves n more slots at the end of sequence seq for tokens about
// to be computed.
//
// If the sequence's last block is partly filled and shared with another
// sequence (after Fork), writing into it would change the other's KV, so
// Append gives seq a private copy: it returns the copy the storage must make
// before the new slots are written. Otherwise it returns no copies.
//
// If the pool has too few free blocks it returns ErrOutOfBlocks and changes
// nothing, so the scheduler can preempt a sequence and try again.
func (m *Manager) Append(seq SeqID, n int) ([]Copy, error) {
	s, err := m.get("append to", seq)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("kv: append %d slots to sequence %d", n, seq)
	}
	if n == 0 {
		return nil, nil
	}
	bs := m.pool.blockSize
	if n > m.pool.NumBlocks()*bs-s.length {
		// Not ErrOutOfBlocks: preempting others would not help.
		return nil, fmt.Errorf("kv: append %d slots to sequence %d of %d: more than the pool's %d blocks hold",
			n, seq, s.length, m.pool.NumBlocks())
	}
	need := ceilDiv(s.length+n, bs) - len(s.blocks)
	last := len(s.blocks) - 1
	cow := s.length%bs != 0 && m.pool.blocks[s.blocks[last]].ref > 1
	if cow {
		need++
	}
	if need > m.pool.numFree {
		return nil, fmt.Errorf("kv: append %d slots to sequence %d: %d new blocks with %d free: %w",
			n, seq, need, m.pool.numFree, ErrOutOfBlocks)
	}
	var copies []Copy
	if cow {
		src, dst := s.blocks[last], m.pool.pop()
		s.blocks[last] = dst
		m.pool.release(src) // still referenced by the other sharers
		copies = []Copy{{Src: src, Dst: dst}}
		need--
	}
	for range need {
		s.blocks = append(s.blocks, m.pool.pop())
	}
	s.length += n
	return copies, nil
}

// Commit records that the KV of tokens has been written to the next
// len(tokens) reserved slots of sequence seq, and caches every block that
// this fills so that later sequences can share it. Tokens committed within
// the prompt must equal the prompt's; the rest become part of the
// sequence's known tokens.
func (m *Manager) Commit(seq SeqID, tokens []int) error {
	s, err := m.get("commit to", seq)
	if err != nil {
		return err
	}
	if len(tokens) > s.length-s.computed {
		return fmt.Errorf("kv: commit %d tokens to sequence %d: only %d reserved slots are uncommitted",
			len(tokens), seq, s.length-s.computed)
	}
	known := min(len(tokens), len(s.tokens)-s.computed)
	for i, t := range tokens[:known] {
		if pos := s.computed + i; s.tokens[pos] != t {
			return fmt.Errorf("kv: commit to sequence %d: token %d at position %d, prompt has %d", seq, t, pos, s.tokens[pos])
		}
	}
	s.tokens = append(s.tokens, tokens[known:]...)
	s.computed += len(tokens)

	bs := m.pool.blockSize
	for j := len(s.hashes); j < s.computed/bs; j++ {
		var parent BlockHash
		if j > 0 {
			parent = s.hashes[j-1]
		}
		var h BlockHash
		h, m.buf = hashBlock(m.buf, parent, s.tokens[j*bs:(j+1)*bs], s.key)
		m.pool.Cache(s.blocks[j], h)
		s.hashes = append(s.hashes, h)
	}
	return nil
}

// Fork starts sequence child as a copy of sequence parent that shares all
// of its blocks, for parallel sampling or beam search. The parent must have
// committed every slot it reserved: shared blocks must not be written
// except through the copy-on-write in Append.
func (m *Manager) Fork(parent, child SeqID) error {
	p, err := m.get("fork", parent)
	if err != nil {
		return err
	}
	if _, ok := m.seqs[child]; ok {
		return fmt.Errorf("kv: fork sequence %d into %d: already allocated", parent, child)
	}
	if p.computed != p.length {
		return fmt.Errorf("kv: fork sequence %d: %d reserved slots are uncommitted", parent, p.length-p.computed)
	}
	m.pool.Touch(p.blocks)
	m.seqs[child] = &sequence{
		key:      p.key, // never modified
		tokens:   slices.Clone(p.tokens),
		blocks:   slices.Clone(p.blocks),
		hashes:   slices.Clone(p.hashes),
		length:   p.length,
		computed: p.computed,
	}
	return nil
}

// Free ends sequence seq and drops its references. Its blocks are released
// last first, so that when they become free the end of the sequence is
// evicted before its beginning, which other prompts are likelier to share.
func (m *Manager) Free(seq SeqID) error {
	s, err := m.get("free", seq)
	if err != nil {
		return err
	}
	for i := len(s.blocks) - 1; i >= 0; i-- {
		m.pool.release(s.blocks[i])
	}
	delete(m.seqs, seq)
	return nil
}

// BlockTable returns the physical block of each of sequence seq's logical
// blocks: slot pos lives in block BlockTable(seq)[pos/BlockSize] at offset
// pos%BlockSize. It returns nil for an unknown sequence. The slice belongs
// to the Manager: it must not be modified, and it is valid only until the
// next Append, Fork or Free of seq.
func (m *Manager) BlockTable(seq SeqID) []int32 {
	s, ok := m.seqs[seq]
	if !ok {
		return nil
	}
	return slices.Clip(s.blocks)
}

// Len returns the number of slots reserved for sequence seq, or 0 for an
// unknown sequence.
func (m *Manager) Len(seq SeqID) int {
	if s, ok := m.seqs[seq]; ok {
		return s.length
	}
	return 0
}

// Computed returns the number of sequence seq's slots whose KV is
// committed (cached prefix included), or 0 for an unknown sequence.
func (m *Manager) Computed(seq SeqID) int {
	if s, ok := m.seqs[seq]; ok {
		return s.computed
	}
	return 0
}

// Stats returns the prefix-cache counters since the Manager was made. A
// failed Allocate counts nothing, so a request retried after preemption is
// counted once per successful allocation.
func (m *Manager) Stats() Stats { return m.stats }

// Usage returns the fraction of the pool's blocks in use, from 0 to 1.
func (m *Manager) Usage() float64 { return m.pool.Usage() }

// FreeBlocks returns the number of blocks free for allocation.
func (m *Manager) FreeBlocks() int { return m.pool.NumFree() }

// ErrUnknownSequence reports a SeqID the Manager does not hold.
var ErrUnknownSequence = errors.New("kv: unknown sequence")

func (m *Manager) get(op string, seq SeqID) (*sequence, error) {
	s, ok := m.seqs[seq]
	if !ok {
		return nil, fmt.Errorf("%w %d (%s)", ErrUnknownSequence, seq, op)
	}
	return s, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
