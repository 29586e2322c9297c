package tensor

import (
	"encoding/binary"
	"fmt"
)

// Packed Q4_0 and Q8_0 weights.
//
// In a GGUF file each row's blocks follow one another, so a kernel working
// on eight rows at once reads eight streams and must gather their scales
// and transpose their nibbles for every block. Packing does that once, at
// load time: the rows are taken in groups of eight, and a group's block b
// is stored as 144 bytes, the eight rows' fp16 scales side by side
// followed by V_0..V_3, 32 bytes each, where bytes 4r..4r+3 of V_k are
// bytes 4k..4k+3 of row r's nibbles. The kernels then read one sequential
// stream. Rows past the last whole group keep the file's layout, after
// the groups. The values, and so every result, are unchanged.
//
// Q8_0 is packed the same way with eight 32-byte vectors V_0..V_7 per
// block (272 bytes), each weight byte stored plus 128 (w XOR 0x80) so that
// the kernels can use it as the unsigned operand of VPDPBUSD. Its packed
// kernels add up each row's block as the Q4_0 ones do (q8pack_amd64.s),
// which is not the float order of Q8_0's file-layout kernels: the results
// agree with theirs to rounding, not bit for bit, but a row's result never
// depends on how many tokens a MatMul has.

// Pack returns m with its rows packed for MatMul's fastest kernels on
// this CPU, in new memory, or m itself when there are none for its type
// (Q4_0 has packed kernels on x86-64 with AVX2, Q8_0 with AVX-512 VNNI)
// or it has fewer than eight rows. MatMul reads the packed matrix as one
// stream and gives the same results for it, bit for bit for Q4_0 and to
// float rounding for Q8_0 (see above); Row cannot be used on it.
func Pack(m Matrix) Matrix {
	if m.packed || m.Rows < packGroup || m.Check() != nil {
		return m
	}
	var data []byte
	switch {
	case m.Type == Q4_0 && kernels.q4_0.prows8 != nil:
		nb := m.Cols / qk4_0
		data = make([]byte, m.Rows*nb*blockQ4_0)
		packQ4_0(data, m.Data, m.Rows, nb)
	case m.Type == Q8_0 && kernels.q8_0.prows8 != nil:
		nb := m.Cols / qk8_0
		data = make([]byte, m.Rows*nb*blockQ8_0)
		packQ8_0(data, m.Data, m.Rows, nb)
	default:
		return m
	}
	return Matrix{Type: m.Type, Rows: m.Rows, Cols: m.Cols, Data: data, packed: true}
}

// blockQ8_0x8 is the size of one packed Q8_0 block of eight rows.
const blockQ8_0x8 = packGroup * blockQ8_0

// packQ8_0 is packQ4_0 for Q8_0, each weight byte biased by 128.
func packQ8_0(dst, src []byte, rows, nb int) {
	packBlocks(dst, src, rows, nb, blockQ8_0, 0x80808080)
}

// packGroup is the number of rows packed together.
const packGroup = 8

// blockQ4_0x8 is the size of one packed block of eight rows.
const blockQ4_0x8 = packGroup * blockQ4_0

// packQ4_0 writes the packing of the Q4_0 matrix src (rows of nb blocks)
// to dst, which must have len(src) bytes.
func packQ4_0(dst, src []byte, rows, nb int) {
	packBlocks(dst, src, rows, nb, blockQ4_0, 0)
}

// packBlocks packs a matrix of blocks of size bytes, each an fp16 scale
// and then (size-2)/4 groups of four quant bytes, eight rows at a time as
// described above, XORing every group of quants with bias.
func packBlocks(dst, src []byte, rows, nb, size int, bias uint32) {
	wrow := nb * size
	if len(src) < rows*wrow || len(dst) < rows*wrow {
		panic(fmt.Sprintf("tensor: pack: %d rows of %d blocks need %d bytes, have %d and %d", rows, nb, rows*wrow, len(src), len(dst)))
	}
	le := binary.LittleEndian
	whole := rows / packGroup * packGroup
	for g := 0; g < whole; g += packGroup {
		for b := range nb {
			pb := dst[g*wrow+b*packGroup*size:][:packGroup*size]
			for r := range packGroup {
				blk := src[(g+r)*wrow+b*size:][:size]
				pb[2*r], pb[2*r+1] = blk[0], blk[1]
				for k := range (size - 2) / 4 {
					le.PutUint32(pb[16+32*k+4*r:], le.Uint32(blk[2+4*k:])^bias)
				}
			}
		}
	}
	copy(dst[whole*wrow:rows*wrow], src[whole*wrow:rows*wrow])
}
