package kv

import (
	"math"
	"testing"

	"github.com/joule-llm/joule/tensor"
)

func TestNewStorageSizes(t *testing.T) {
	tests := []struct {
		name                                string
		layers, kvHeads, headDim, blockSize int
		dtype                               tensor.Type
		budget                              int64
		wantBlocks                          int // 0: must fail
		wantPerBlock                        int64
	}{
		// 2 (K,V) * 2 layers * 16 slots * 4*8 elements * 2 bytes = 4096.
		{"f16 exact", 2, 4, 8, 16, tensor.F16, 10 * 4096, 10, 4096},
		{"f16 rounds down", 2, 4, 8, 16, tensor.F16, 10*4096 + 4095, 10, 4096},
		{"f32 doubles the block", 2, 4, 8, 16, tensor.F32, 10 * 4096, 5, 8192},
		{"default block size", 2, 4, 8, 0, tensor.F16, 10 * 4096, 10, 4096},
		{"block size 1", 1, 1, 1, 1, tensor.F32, 80, 10, 8},
		{"budget under one block", 2, 4, 8, 16, tensor.F16, 4095, 0, 0},
		{"negative budget", 2, 4, 8, 16, tensor.F16, -1, 0, 0},
		{"quantized type", 2, 4, 8, 16, tensor.Q8_0, 1 << 20, 0, 0},
		{"bf16", 2, 4, 8, 16, tensor.BF16, 1 << 20, 0, 0},
		{"no layers", 0, 4, 8, 16, tensor.F16, 1 << 20, 0, 0},
		{"no heads", 2, 0, 8, 16, tensor.F16, 1 << 20, 0, 0},
		{"negative head dim", 2, 4, -8, 16, tensor.F16, 1 << 20, 0, 0},
		{"negative block size", 2, 4, 8, -16, tensor.F16, 1 << 20, 0, 0},
		{"huge block size", 2, 4, 8, MaxBlockSize + 1, tensor.F16, 1 << 40, 0, 0},
		{"block bytes overflow", math.MaxInt32, math.MaxInt32, math.MaxInt32, 16, tensor.F32, math.MaxInt64, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewStorage(tt.layers, tt.kvHeads, tt.headDim, tt.blockSize, tt.dtype, tt.budget)
			if tt.wantBlocks == 0 {
				if err == nil {
					t.Fatalf("succeeded with %d blocks", s.NumBlocks())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.NumBlocks() != tt.wantBlocks || s.BytesPerBlock() != tt.wantPerBlock || s.Bytes() > tt.budget {
				t.Errorf("%d blocks of %d bytes (%d in all), want %d of %d within %d",
					s.NumBlocks(), s.BytesPerBlock(), s.Bytes(), tt.wantBlocks, tt.wantPerBlock, tt.budget)
			}
			if s.Type() != tt.dtype || s.Layers() != tt.layers || s.RowLen() != tt.kvHeads*tt.headDim {
				t.Errorf("type %s, %d layers, row %d", s.Type(), s.Layers(), s.RowLen())
			}
			wantSize := tt.blockSize
			if wantSize == 0 {
				wantSize = DefaultBlockSize
			}
			if s.BlockSize() != wantSize {
				t.Errorf("block size %d, want %d", s.BlockSize(), wantSize)
			}
		})
	}
}

// fill writes into every element of s a value naming its layer, K or V,
// block and offset, so that views that overlap or copies that stray show.
func fill(s *Storage) {
	for l := range s.Layers() {
		for b := range int32(s.NumBlocks()) {
			if s.Type() == tensor.F16 {
				for i := range s.K16(l, b) {
					s.K16(l, b)[i] = tag(l, 0, b, i)
					s.V16(l, b)[i] = tag(l, 1, b, i)
				}
			} else {
				for i := range s.K32(l, b) {
					s.K32(l, b)[i] = float32(tag(l, 0, b, i))
					s.V32(l, b)[i] = float32(tag(l, 1, b, i))
				}
			}
		}
	}
}

func tag(l, kv int, b int32, i int) uint16 {
	return uint16(l<<13 | kv<<12 | int(b)<<8 | i)
}

// at reads element i of block b of layer l, K (kv 0) or V (kv 1).
func at(s *Storage, l, kv int, b int32, i int) uint16 {
	switch {
	case s.Type() == tensor.F16 && kv == 0:
		return s.K16(l, b)[i]
	case s.Type() == tensor.F16:
		return s.V16(l, b)[i]
	case kv == 0:
		return uint16(s.K32(l, b)[i])
	default:
		return uint16(s.V32(l, b)[i])
	}
}

func TestStorageViewsAndCopy(t *testing.T) {
	for _, dtype := range []tensor.Type{tensor.F16, tensor.F32} {
		t.Run(dtype.String(), func(t *testing.T) {
			// 3 layers, 2 heads of 4, blocks of 4 slots: 32 elements a block.
			perBlock := int64(2 * 3 * 4 * 2 * 4 * dtype.BlockBytes())
			s, err := NewStorage(3, 2, 4, 4, dtype, 5*perBlock)
			if err != nil {
				t.Fatal(err)
			}
			if s.NumBlocks() != 5 {
				t.Fatalf("%d blocks, want 5", s.NumBlocks())
			}
			fill(s)
			// Every view has BlockSize*RowLen elements and reads back what
			// fill wrote to it, so no two views overlap.
			for l := range 3 {
				for b := range int32(5) {
					for kv := range 2 {
						for i := range 32 {
							if got := at(s, l, kv, b, i); got != tag(l, kv, b, i) {
								t.Fatalf("layer %d kv %d block %d [%d] = %#x, want %#x", l, kv, b, i, got, tag(l, kv, b, i))
							}
						}
					}
				}
			}
			s.CopyBlocks([]Copy{{Src: 1, Dst: 3}, {Src: 4, Dst: 0}})
			for l := range 3 {
				for b := range int32(5) {
					src := map[int32]int32{3: 1, 0: 4}[b]
					if b != 3 && b != 0 {
						src = b
					}
					for kv := range 2 {
						for i := range 32 {
							if got := at(s, l, kv, b, i); got != tag(l, kv, src, i) {
								t.Fatalf("after copy: layer %d kv %d block %d [%d] = %#x, want block %d's %#x",
									l, kv, b, i, got, src, tag(l, kv, src, i))
							}
						}
					}
				}
			}
		})
	}
}

func TestStoragePanics(t *testing.T) {
	f16, err := NewStorage(1, 1, 4, 4, tensor.F16, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	f32, err := NewStorage(1, 1, 4, 4, tensor.F32, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    func()
	}{
		{"F32 view of F16", func() { f16.K32(0, 0) }},
		{"F16 view of F32", func() { f32.V16(0, 0) }},
		{"layer out of range", func() { f16.K16(1, 0) }},
		{"negative layer", func() { f32.K32(-1, 0) }},
		{"block out of range", func() { f16.V16(0, int32(f16.NumBlocks())) }},
		{"negative block", func() { f32.V32(0, -1) }},
		{"copy out of range", func() { f16.CopyBlock(0, int32(f16.NumBlocks())) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.f()
		})
	}
}

// TestStorageWithManager runs a fork and copy-on-write through both halves:
// the copy Append asks for gives the child the parent's KV for the shared
// slots, and later writes stay private.
func TestStorageWithManager(t *testing.T) {
	s, err := NewStorage(2, 1, 2, 4, tensor.F32, 1<<12)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := NewBlockPool(s.NumBlocks(), s.BlockSize())
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(pool)
	row := s.RowLen()
	write := func(seq SeqID, pos int, v float32) {
		b := m.BlockTable(seq)[pos/s.BlockSize()]
		off := pos % s.BlockSize() * row
		for l := range s.Layers() {
			s.K32(l, b)[off] = v
			s.V32(l, b)[off] = -v
		}
	}
	read := func(seq SeqID, pos int) float32 {
		b := m.BlockTable(seq)[pos/s.BlockSize()]
		return s.K32(1, b)[pos%s.BlockSize()*row]
	}
	prompt := []int{1, 2, 3, 4, 5, 6}
	if _, err := m.Allocate(1, prompt); err != nil {
		t.Fatal(err)
	}
	for pos := range prompt {
		write(1, pos, float32(pos+1))
	}
	if err := m.Commit(1, prompt); err != nil {
		t.Fatal(err)
	}
	if err := m.Fork(1, 2); err != nil {
		t.Fatal(err)
	}
	// The child writes first and gets the copy; the parent then owns the
	// original alone.
	for _, w := range []struct {
		seq    SeqID
		v      float32
		copies int
	}{{2, 200, 1}, {1, 100, 0}} {
		copies, err := m.Append(w.seq, 1)
		if err != nil || len(copies) != w.copies {
			t.Fatalf("seq %d: copies %v, %v; want %d", w.seq, copies, err, w.copies)
		}
		s.CopyBlocks(copies)
		write(w.seq, 6, w.v)
	}
	for pos := range 6 {
		if read(1, pos) != float32(pos+1) || read(2, pos) != float32(pos+1) {
			t.Errorf("pos %d: parent %v, child %v, want %v", pos, read(1, pos), read(2, pos), pos+1)
		}
	}
	if read(1, 6) != 100 || read(2, 6) != 200 {
		t.Errorf("pos 6: parent %v, child %v, want 100 and 200", read(1, 6), read(2, 6))
	}
}
