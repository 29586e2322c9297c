package kv

import (
	"errors"
	"fmt"
	"math"
)

// DefaultBlockSize is the number of token slots in a block when none is
// given.
const DefaultBlockSize = 16

// MaxBlockSize bounds the block size, so that slot counts cannot overflow.
const MaxBlockSize = 1 << 16

// ErrOutOfBlocks reports that the pool has too few free blocks for a
// request. Nothing is taken when it is returned, so a scheduler can preempt
// a sequence and retry.
var ErrOutOfBlocks = errors.New("kv: out of blocks")

// none marks an absent link in the pool's intrusive lists.
const none = -1

// block is the pool's record of one physical block.
type block struct {
	ref int32 // references held; 0 means the block is in the free queue

	// Links in the free queue, in which the sentinel is blocks[len-1].
	prev, next int32

	// A block whose full contents are known carries their hash and is on
	// the list of blocks with that hash, linked by hprev and hnext.
	hashed       bool
	hash         BlockHash
	hprev, hnext int32
}

// BlockPool hands out a fixed number of blocks, counts references to them,
// and keeps an automatic prefix cache of full blocks.
//
// A block with no references is free and sits in the free queue. If it was
// full when freed it keeps its hash, so Lookup can still find it and a new
// sequence can take it back with Touch instead of recomputing it. Allocate
// takes blocks from the front of the queue and Release adds them at the
// back, so the cached block evicted first is the one freed longest ago
// (least recently used). Every operation is O(1) per block.
//
// Several blocks may hold the same hash (two sequences that computed the
// same prefix at once); Lookup returns the one cached most recently, and
// evicting one leaves the others findable.
type BlockPool struct {
	blockSize int
	blocks    []block // numBlocks real blocks, then the free-queue sentinel
	numFree   int
	cached    map[BlockHash]int32 // hash → first block on its list
}

// NewBlockPool returns a pool of numBlocks blocks of blockSize token slots
// each, all free. A blockSize of 0 means DefaultBlockSize.
func NewBlockPool(numBlocks, blockSize int) (*BlockPool, error) {
	if blockSize == 0 {
		blockSize = DefaultBlockSize
	}
	if blockSize < 0 || blockSize > MaxBlockSize {
		return nil, fmt.Errorf("kv: block size %d: need 1 to %d", blockSize, MaxBlockSize)
	}
	// Block ids are int32 (the element type of block tables) and the
	// sentinel needs one more index.
	if numBlocks <= 0 || numBlocks >= math.MaxInt32 {
		return nil, fmt.Errorf("kv: pool of %d blocks: need 1 to %d", numBlocks, math.MaxInt32-1)
	}
	p := &BlockPool{
		blockSize: blockSize,
		blocks:    make([]block, numBlocks+1),
		cached:    make(map[BlockHash]int32),
	}
	s := p.sentinel()
	p.blocks[s].prev, p.blocks[s].next = s, s
	for id := range int32(numBlocks) {
		p.blocks[id].hprev, p.blocks[id].hnext = none, none
		p.pushBack(id)
	}
	return p, nil
}

// BlockSize returns the number of token slots in each block.
func (p *BlockPool) BlockSize() int { return p.blockSize }

// NumBlocks returns the number of blocks in the pool.
func (p *BlockPool) NumBlocks() int { return len(p.blocks) - 1 }

// NumFree returns the number of blocks with no references, cached or not:
// the number Allocate can hand out.
func (p *BlockPool) NumFree() int { return p.numFree }

// Usage returns the fraction of blocks in use (referenced), from 0 to 1.
// Free blocks that still hold cached prefixes count as unused.
func (p *BlockPool) Usage() float64 {
	return float64(p.NumBlocks()-p.numFree) / float64(p.NumBlocks())
}

// RefCount returns the number of references held on block id.
func (p *BlockPool) RefCount(id int32) int { return int(p.at(id).ref) }

// Hash returns the hash of block id's contents, if it has been cached and
// not evicted since.
func (p *BlockPool) Hash(id int32) (BlockHash, bool) {
	b := p.at(id)
	return b.hash, b.hashed
}

// Lookup returns a block holding the contents with hash h, if one is
// cached. The block may be free; Touch claims it.
func (p *BlockPool) Lookup(h BlockHash) (int32, bool) {
	id, ok := p.cached[h]
	return id, ok
}

// Allocate takes n blocks from the front of the free queue, each with one
// reference, evicting whatever prefix they cached. If fewer than n are free
// it takes none and returns ErrOutOfBlocks.
func (p *BlockPool) Allocate(n int) ([]int32, error) {
	if n < 0 {
		return nil, fmt.Errorf("kv: allocate %d blocks", n)
	}
	if n > p.numFree {
		return nil, fmt.Errorf("kv: allocate %d blocks with %d free: %w", n, p.numFree, ErrOutOfBlocks)
	}
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = p.pop()
	}
	return ids, nil
}

// Touch takes one more reference on each block in ids, taking those that
// were free out of the free queue with their cached contents intact. It is
// how a sequence claims the blocks Lookup found.
func (p *BlockPool) Touch(ids []int32) {
	for _, id := range ids {
		p.touch(id)
	}
}

// Release drops one reference on each block in ids, in order. Blocks left
// with none join the back of the free queue in that order, so among them
// the first released is the first evicted. It panics if a block has no
// reference to drop.
func (p *BlockPool) Release(ids []int32) {
	for _, id := range ids {
		p.release(id)
	}
}

// Cache records that block id is full and its contents hash to h, making
// it findable by Lookup until it is evicted. Caching a block again under
// the same hash does nothing. It panics if the block has no references
// (the caller must own what it describes) or already holds another hash.
func (p *BlockPool) Cache(id int32, h BlockHash) {
	b := p.at(id)
	if b.ref == 0 {
		panic(fmt.Sprintf("kv: cache free block %d", id))
	}
	if b.hashed {
		if b.hash != h {
			panic(fmt.Sprintf("kv: block %d is already cached under another hash", id))
		}
		return
	}
	b.hashed, b.hash = true, h
	if first, ok := p.cached[h]; ok {
		b.hnext = first
		p.blocks[first].hprev = id
	}
	p.cached[h] = id
}

// at returns block id, panicking with a clear message for a bad id.
func (p *BlockPool) at(id int32) *block {
	if id < 0 || int(id) >= p.NumBlocks() {
		panic(fmt.Sprintf("kv: block %d out of range [0, %d)", id, p.NumBlocks()))
	}
	return &p.blocks[id]
}

func (p *BlockPool) sentinel() int32 { return int32(len(p.blocks) - 1) }

func (p *BlockPool) touch(id int32) {
	b := p.at(id)
	if b.ref == 0 {
		p.unlink(id)
	}
	b.ref++
}

func (p *BlockPool) release(id int32) {
	b := p.at(id)
	if b.ref == 0 {
		panic(fmt.Sprintf("kv: release free block %d", id))
	}
	b.ref--
	if b.ref == 0 {
		p.pushBack(id)
	}
}

// pop takes the block at the front of the free queue, which must not be
// empty, and gives it one reference and no cached contents.
func (p *BlockPool) pop() int32 {
	id := p.blocks[p.sentinel()].next
	p.unlink(id)
	p.evict(id)
	p.blocks[id].ref = 1
	return id
}

// evict forgets block id's cached contents.
func (p *BlockPool) evict(id int32) {
	b := &p.blocks[id]
	if !b.hashed {
		return
	}
	switch {
	case b.hprev != none:
		p.blocks[b.hprev].hnext = b.hnext
	case b.hnext != none:
		p.cached[b.hash] = b.hnext
	default:
		delete(p.cached, b.hash)
	}
	if b.hnext != none {
		p.blocks[b.hnext].hprev = b.hprev
	}
	b.hashed, b.hash = false, BlockHash{}
	b.hprev, b.hnext = none, none
}

func (p *BlockPool) pushBack(id int32) {
	s := p.sentinel()
	last := p.blocks[s].prev
	p.blocks[id].prev, p.blocks[id].next = last, s
	p.blocks[last].next = id
	p.blocks[s].prev = id
	p.numFree++
}

func (p *BlockPool) unlink(id int32) {
	b := &p.blocks[id]
	p.blocks[b.prev].next = b.next
	p.blocks[b.next].prev = b.prev
	b.prev, b.next = none, none
	p.numFree--
}
