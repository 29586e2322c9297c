package kv

import (
	"fmt"
	"math"

	"github.com/joule-llm/joule/tensor"
)

// Storage is the KV memory of a model: for each layer, a K and a V tensor
// of [numBlocks][blockSize][kvHeads*headDim] elements, allocated once. Block
// ids from a BlockPool of the same size index it.
//
// Elements are F16 (held as raw IEEE half-precision bits, converted by the
// caller) or F32; K16 and V16 serve the first, K32 and V32 the second, and
// the others panic.
type Storage struct {
	dtype     tensor.Type
	layers    int
	blockSize int
	rowLen    int // kvHeads*headDim: elements per slot
	numBlocks int
	k16, v16  [][]uint16 // per layer; nil unless dtype is F16
	k32, v32  [][]float32
}

// NewStorage allocates as many blocks as fit in budgetBytes for a model of
// the given number of layers and KV heads of headDim elements, with
// blockSize slots per block (0 means DefaultBlockSize) and elements of type
// dtype, tensor.F16 or tensor.F32. It fails if not even one block fits.
func NewStorage(layers, kvHeads, headDim, blockSize int, dtype tensor.Type, budgetBytes int64) (*Storage, error) {
	if blockSize == 0 {
		blockSize = DefaultBlockSize
	}
	if layers <= 0 || kvHeads <= 0 || headDim <= 0 || blockSize < 0 || blockSize > MaxBlockSize {
		return nil, fmt.Errorf("kv: storage of %d layers, %d KV heads of %d, blocks of %d: need positive sizes, blocks of at most %d",
			layers, kvHeads, headDim, blockSize, MaxBlockSize)
	}
	if dtype != tensor.F16 && dtype != tensor.F32 {
		return nil, fmt.Errorf("kv: storage of %s: need F16 or F32", dtype)
	}
	perBlock, ok := mulAll(2, int64(layers), int64(blockSize), int64(kvHeads), int64(headDim), int64(dtype.BlockBytes()))
	if !ok {
		return nil, fmt.Errorf("kv: storage of %d layers, %d KV heads of %d, blocks of %d: block size overflows",
			layers, kvHeads, headDim, blockSize)
	}
	n := budgetBytes / perBlock
	if n < 1 {
		return nil, fmt.Errorf("kv: budget of %d bytes is less than one block of %d", budgetBytes, perBlock)
	}
	n = min(n, math.MaxInt32-1) // block ids are int32
	s := &Storage{
		dtype:     dtype,
		layers:    layers,
		blockSize: blockSize,
		rowLen:    kvHeads * headDim,
		numBlocks: int(n),
	}
	elems := s.numBlocks * blockSize * s.rowLen
	if dtype == tensor.F16 {
		s.k16, s.v16 = make([][]uint16, layers), make([][]uint16, layers)
		for l := range layers {
			s.k16[l], s.v16[l] = make([]uint16, elems), make([]uint16, elems)
		}
	} else {
		s.k32, s.v32 = make([][]float32, layers), make([][]float32, layers)
		for l := range layers {
			s.k32[l], s.v32[l] = make([]float32, elems), make([]float32, elems)
		}
	}
	return s, nil
}

// mulAll multiplies positive factors, reporting whether the product fits.
func mulAll(fs ...int64) (int64, bool) {
	p := int64(1)
	for _, f := range fs {
		if f > math.MaxInt64/p {
			return 0, false
		}
		p *= f
	}
	return p, true
}

// Type returns the element type, tensor.F16 or tensor.F32.
func (s *Storage) Type() tensor.Type { return s.dtype }

// Layers returns the number of layers.
func (s *Storage) Layers() int { return s.layers }

// NumBlocks returns the number of blocks per layer.
func (s *Storage) NumBlocks() int { return s.numBlocks }

// BlockSize returns the number of slots in a block.
func (s *Storage) BlockSize() int { return s.blockSize }

// RowLen returns the number of elements of one slot of K or V:
// kvHeads*headDim.
func (s *Storage) RowLen() int { return s.rowLen }

// BytesPerBlock returns the memory of one block across all layers, K and V.
func (s *Storage) BytesPerBlock() int64 {
	return BlockBytes(s.layers, s.rowLen, s.blockSize, s.dtype)
}

// BlockBytes returns the memory of one block of blockSize positions across
// layers layers, K and V, each position rowLen elements of dtype.
func BlockBytes(layers, rowLen, blockSize int, dtype tensor.Type) int64 {
	return 2 * int64(layers) * int64(blockSize) * int64(rowLen) * int64(dtype.BlockBytes())
}

// Bytes returns the memory of the whole storage.
func (s *Storage) Bytes() int64 { return int64(s.numBlocks) * s.BytesPerBlock() }

// K16 returns the keys of block b in layer l: BlockSize rows of RowLen F16
// elements, slot i at [i*RowLen, (i+1)*RowLen). It panics unless the
// storage is F16.
func (s *Storage) K16(l int, b int32) []uint16 { return s.span16(s.k16, l, b) }

// V16 is K16 for values.
func (s *Storage) V16(l int, b int32) []uint16 { return s.span16(s.v16, l, b) }

// K32 is K16 for F32 storage.
func (s *Storage) K32(l int, b int32) []float32 { return s.span32(s.k32, l, b) }

// V32 is V16 for F32 storage.
func (s *Storage) V32(l int, b int32) []float32 { return s.span32(s.v32, l, b) }

func (s *Storage) span16(t [][]uint16, l int, b int32) []uint16 {
	if t == nil {
		panic(fmt.Sprintf("kv: F16 access to %s storage", s.dtype))
	}
	lo, hi := s.span(l, b)
	return t[l][lo:hi:hi]
}

func (s *Storage) span32(t [][]float32, l int, b int32) []float32 {
	if t == nil {
		panic(fmt.Sprintf("kv: F32 access to %s storage", s.dtype))
	}
	lo, hi := s.span(l, b)
	return t[l][lo:hi:hi]
}

// span returns the element range of block b within a layer.
func (s *Storage) span(l int, b int32) (lo, hi int) {
	if l < 0 || l >= s.layers || b < 0 || int(b) >= s.numBlocks {
		panic(fmt.Sprintf("kv: layer %d block %d out of range (%d layers, %d blocks)", l, b, s.layers, s.numBlocks))
	}
	n := s.blockSize * s.rowLen
	return int(b) * n, (int(b) + 1) * n
}

// CopyBlock copies block src to block dst in every layer, keys and values.
func (s *Storage) CopyBlock(src, dst int32) {
	for l := range s.layers {
		if s.dtype == tensor.F16 {
			copy(s.K16(l, dst), s.K16(l, src))
			copy(s.V16(l, dst), s.V16(l, src))
		} else {
			copy(s.K32(l, dst), s.K32(l, src))
			copy(s.V32(l, dst), s.V32(l, src))
		}
	}
}

// CopyBlocks performs the copies Manager.Append asks for, in order.
func (s *Storage) CopyBlocks(copies []Copy) {
	for _, c := range copies {
		s.CopyBlock(c.Src, c.Dst)
	}
}
