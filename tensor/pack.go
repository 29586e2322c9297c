package tensor

import (
	"encoding/binary"
	"fmt"
)

// Packed weights.
//
// In a GGUF file each row's blocks follow one another, so a kernel working
// on many rows at once reads many streams and must gather their scales
// and transpose their nibbles for every block. Packing does that once, at
// load time: the rows are taken in groups of G, one per 32-bit lane of
// the kernels' vectors (G = 8 with AVX2, 16 with AVX-512), and a Q4_0
// group's block b is stored as G*18 bytes, the G rows' fp16 scales side
// by side followed by V_0..V_3, 4G bytes each, where bytes 4r..4r+3 of
// V_k are bytes 4k..4k+3 of row r's nibbles. The kernels then read one
// sequential stream. Rows past the last whole group keep the file's
// layout, after the groups. The values, and so every result, are
// unchanged.
//
// Q8_0 is packed the same way with eight vectors V_0..V_7 per block
// (G*34 bytes), each weight byte stored plus 128 (w XOR 0x80) so that the
// kernels can use it as the unsigned operand of VPDPBUSD. Its packed
// kernels add up each row's block as the Q4_0 ones do (q8pack_amd64.s),
// which is not the float order of Q8_0's file-layout kernels: the results
// agree with theirs to rounding, not bit for bit, but a row's result never
// depends on how many tokens a MatMul has. Q4_K, Q5_K and Q6_K have
// layouts of their own (packQ4_K, packQ5_K, packQ6_K), in groups of
// sixteen rows.

// Pack returns m with its rows packed for MatMul's fastest kernels on
// this CPU, in new memory, or m itself when there are none for its type
// (Q4_0 has packed kernels on x86-64 with AVX2, Q8_0 and the k-quants with
// AVX-512 VNNI) or it has fewer rows than one group. MatMul reads the
// packed matrix as one stream and gives the same results for it, bit for
// bit for Q4_0 and the k-quants and to float rounding for Q8_0 (see above); Row
// cannot be used on it.
func Pack(m Matrix) Matrix {
	if m.Packed() || m.Check() != nil {
		return m
	}
	var data []byte
	group := packGroupK
	switch k := kernels; {
	case m.Type == Q4_0 && k.q4_0.packed.rows != nil && m.Rows >= k.q4_0.packed.group:
		nb := m.Cols / qk4_0
		data = make([]byte, m.Rows*nb*blockQ4_0)
		packQ4_0(data, m.Data, m.Rows, nb, k.q4_0.packed.group)
		group = k.q4_0.packed.group
	case m.Type == Q8_0 && k.q8_0.packed.rows != nil && m.Rows >= k.q8_0.packed.group:
		nb := m.Cols / qk8_0
		data = make([]byte, m.Rows*nb*blockQ8_0)
		packQ8_0(data, m.Data, m.Rows, nb, k.q8_0.packed.group)
		group = k.q8_0.packed.group
	case m.Type == Q4_K && k.q4_K.packed.rows != nil && m.Rows >= packGroupK:
		nb := m.Cols / QK_K
		data = make([]byte, packedKBytes(m.Rows, nb, blockQ4_K, blockQ4_Kx16))
		packQ4_K(data, m.Data, m.Rows, nb)
	case m.Type == Q5_K && k.q5_K.packed.rows != nil && m.Rows >= packGroupK:
		nb := m.Cols / QK_K
		data = make([]byte, packedKBytes(m.Rows, nb, blockQ5_K, blockQ5_Kx16))
		packQ5_K(data, m.Data, m.Rows, nb)
	case m.Type == Q6_K && k.q6_K.packed.rows != nil && m.Rows >= packGroupK:
		nb := m.Cols / QK_K
		data = make([]byte, m.Rows*nb*blockQ6_K)
		packQ6_K(data, m.Data, m.Rows, nb)
	default:
		return m
	}
	return Matrix{Type: m.Type, Rows: m.Rows, Cols: m.Cols, Data: data, group: group}
}

// packQ8_0 is packQ4_0 for Q8_0, each weight byte biased by 128.
func packQ8_0(dst, src []byte, rows, nb, group int) {
	packBlocks(dst, src, rows, nb, blockQ8_0, group, 0x80808080)
}

// packQ4_0 writes the packing of the Q4_0 matrix src (rows of nb blocks)
// in groups of group rows to dst, which must have len(src) bytes.
func packQ4_0(dst, src []byte, rows, nb, group int) {
	packBlocks(dst, src, rows, nb, blockQ4_0, group, 0)
}

// packBlocks packs a matrix of blocks of size bytes, each an fp16 scale
// and then (size-2)/4 groups of four quant bytes, group rows at a time as
// described above, XORing every group of quants with bias.
func packBlocks(dst, src []byte, rows, nb, size, group int, bias uint32) {
	wrow := nb * size
	if len(src) < rows*wrow || len(dst) < rows*wrow {
		panic(fmt.Sprintf("tensor: pack: %d rows of %d blocks need %d bytes, have %d and %d", rows, nb, rows*wrow, len(src), len(dst)))
	}
	le := binary.LittleEndian
	G := group
	whole := rows / G * G
	for g := 0; g < whole; g += G {
		for b := range nb {
			pb := dst[g*wrow+b*G*size:][:G*size]
			for r := range G {
				blk := src[(g+r)*wrow+b*size:][:size]
				pb[2*r], pb[2*r+1] = blk[0], blk[1]
				for k := range (size - 2) / 4 {
					le.PutUint32(pb[2*G+4*G*k+4*r:], le.Uint32(blk[2+4*k:])^bias)
				}
			}
		}
	}
	copy(dst[whole*wrow:rows*wrow], src[whole*wrow:rows*wrow])
}

// packGroupK is the number of k-quant rows packed together, one per lane
// of a 512-bit vector.
const packGroupK = 16

// blockQ4_Kx16 is the size of one packed Q4_K block of sixteen rows: 4
// bytes more per row than the file's 144, the 12 bytes of 6-bit scales
// and mins becoming 16 of whole bytes.
const blockQ4_Kx16 = packGroupK * (blockQ4_K + 4)

// packedKBytes is the size of a packed k-quant matrix of rows rows of nb
// blocks, block bytes each in the file and pblock bytes per packed block of
// a group: the groups of sixteen rows, then the rows after them in the
// file's layout.
func packedKBytes(rows, nb, block, pblock int) int {
	whole := rows / packGroupK
	return whole*nb*pblock + (rows-whole*packGroupK)*nb*block
}

// packQ4_K packs the Q4_K matrix src (rows of nb blocks) into dst, of
// packedKBytes bytes. With G = 16 rows to a group, a group's block b is
// blockQ4_Kx16 bytes: the rows' d (fp16) side by side, then their dmin;
// the 6-bit scales unpacked to bytes, sc[j][r] for sub-block j of row r
// (at 4G); the mins as pairs, m[i][r][e] for sub-block 2i+e (at 12G);
// then, at 20G, V[i][g] for the four pairs of sub-blocks i and g = 0..7,
// 4G bytes each, bytes 4r..4r+3 of which are bytes 32i+4g..32i+4g+3 of
// row r's quants (low nibbles sub-block 2i, high nibbles 2i+1). The
// values are unchanged.
func packQ4_K(dst, src []byte, rows, nb int) {
	packK(dst, src, rows, nb, blockQ4_K, 16, blockQ4_Kx16)
}

// packK packs the rows of Q4_K (qs at qsOff = 16) or Q5_K (qsOff = 48)
// blocks of size bytes into groups of pblock bytes per block, laid out as
// packQ4_K describes, and for Q5_K followed by the fifth bits (packQ5_K).
func packK(dst, src []byte, rows, nb, size, qsOff, pblock int) {
	const G = packGroupK
	wrow := nb * size
	whole := rows / G * G
	if len(src) < rows*wrow || len(dst) < packedKBytes(rows, nb, size, pblock) {
		panic(fmt.Sprintf("tensor: pack: %d rows of %d k-quant blocks: have %d and %d bytes", rows, nb, len(src), len(dst)))
	}
	for g := 0; g < whole; g += G {
		for b := range nb {
			pb := dst[(g/G*nb+b)*pblock:][:pblock]
			for r := range G {
				blk := src[(g+r)*wrow+b*size:][:size]
				pb[2*r], pb[2*r+1] = blk[0], blk[1]
				pb[2*G+2*r], pb[2*G+2*r+1] = blk[2], blk[3]
				for j := range 8 {
					sc, m := scaleMinK4(j, blk[4:16])
					pb[4*G+G*j+r] = sc
					pb[12*G+2*G*(j/2)+2*r+j%2] = m
				}
				for i := range 4 {
					for k := range 8 {
						copy(pb[20*G+4*G*(8*i+k)+4*r:][:4], blk[qsOff+32*i+4*k:])
					}
				}
				if qsOff == 16 {
					continue
				}
				// Q5_K: bit 2i+s of qh[l] is the fifth bit of quant l of
				// sub-block 2i+s; it goes to bit l/4 of byte 4r+l%4 of
				// Q[i][s].
				qh := blk[16:48]
				for i := range 4 {
					for s := range 2 {
						q := pb[148*G+4*G*(2*i+s)+4*r:][:4]
						clear(q)
						for l := range 32 {
							q[l%4] |= (qh[l] >> (2*i + s) & 1) << (l / 4)
						}
					}
				}
			}
		}
	}
	copy(dst[whole/G*nb*pblock:], src[whole*wrow:rows*wrow])
}

// blockQ5_Kx16 is the size of one packed Q5_K block of sixteen rows: the
// packed Q4_K block and the fifth bits, 4 bytes more per row than the
// file's 176.
const blockQ5_Kx16 = blockQ4_Kx16 + packGroupK*32

// packQ5_K packs the Q5_K matrix src into dst, of packedKBytes bytes:
// each group's block is laid out as packQ4_K's (the low four bits of the
// quants in V), followed at 148G by the fifth bits, Q[i][s] for pair i
// and its sub-block 2i+s, 4G bytes each: bit g of byte 4r+k is the fifth
// bit of quant 4g+k of the sub-block of row r.
func packQ5_K(dst, src []byte, rows, nb int) {
	packK(dst, src, rows, nb, blockQ5_K, 48, blockQ5_Kx16)
}

// blockQ8_KP is the size of a Q8_K block expanded by expandQ8_KPacked.
const blockQ8_KP = 280

// expandQ8_KPacked expands nb Q8_K blocks from src into dst for the packed
// Q4_K kernels: d float32 | four int16 pairs (bs_2i, bs_2i+1), bs_j the sum
// of the quants of sub-block j (32 elements) | qs[256] | 4 bytes unused.
func expandQ8_KPacked(dst, src []byte, nb int) {
	_, _ = dst[nb*blockQ8_KP-1], src[nb*blockQ8_K-1]
	le := binary.LittleEndian
	for b := range nb {
		s, d := src[b*blockQ8_K:][:blockQ8_K], dst[b*blockQ8_KP:][:blockQ8_KP]
		copy(d[:4], s[:4])
		for j := range 8 {
			bs := int16(le.Uint16(s[q8KSumsOff+4*j:])) + int16(le.Uint16(s[q8KSumsOff+4*j+2:]))
			le.PutUint16(d[4+2*j:], uint16(bs))
		}
		copy(d[20:20+QK_K], s[q8KQsOff:q8KQsOff+QK_K])
	}
}

// blockQ6_Kx16 is the size of one packed Q6_K block of sixteen rows, the
// same as theirs in the file.
const blockQ6_Kx16 = packGroupK * blockQ6_K

// packQ6_K packs the Q6_K matrix src (rows of nb blocks) into dst, of the
// same size, in groups of G = 16 rows. A group's block b is blockQ6_Kx16
// bytes: the rows' d (fp16) side by side; their int8 scales, sc[j][r] for
// sub-block j (16 quants) of row r (at 2G); then, at 18G, for each
// sub-block 12G bytes: L0, L1 and H, 4G bytes each, whose bytes 4r+k
// (k = 0..3) hold quants 4g+k of row r's sub-block: L0 their low four
// bits for g = 0 (low nibble) and g = 1 (high nibble), L1 for g = 2 and
// 3, and H their top two bits, g = 0 in bits 4-5, 1 in 6-7, 2 in 0-1 and
// 3 in 2-3. The values are unchanged.
func packQ6_K(dst, src []byte, rows, nb int) {
	const G = packGroupK
	wrow := nb * blockQ6_K
	if len(src) < rows*wrow || len(dst) < rows*wrow {
		panic(fmt.Sprintf("tensor: pack: %d rows of %d Q6_K blocks: have %d and %d bytes", rows, nb, len(src), len(dst)))
	}
	var q [QK_K]uint8
	whole := rows / G * G
	for g := 0; g < whole; g += G {
		for b := range nb {
			pb := dst[(g/G*nb+b)*blockQ6_Kx16:][:blockQ6_Kx16]
			for r := range G {
				blk := src[(g+r)*wrow+b*blockQ6_K:][:blockQ6_K]
				sc := blk[192:208]
				q6KQuants(&q, blk)
				pb[2*r], pb[2*r+1] = blk[208], blk[209]
				for j := range 16 {
					pb[2*G+G*j+r] = sc[j]
					sub := q[16*j:][:16]
					v := pb[18*G+12*G*j:][:12*G]
					for k := range 4 {
						l0, l1 := v[4*r+k:], v[4*G+4*r+k:]
						h := v[8*G+4*r+k:]
						l0[0] = sub[k]&0xf | (sub[4+k]&0xf)<<4
						l1[0] = sub[8+k]&0xf | (sub[12+k]&0xf)<<4
						h[0] = sub[k]>>4<<4 | sub[4+k]>>4<<6 | sub[8+k]>>4 | sub[12+k]>>4<<2
					}
				}
			}
		}
	}
	copy(dst[whole*wrow:rows*wrow], src[whole*wrow:rows*wrow])
}

// blockQ8_KQ6 is the size of a Q8_K block expanded by expandQ8_KQ6.
const blockQ8_KQ6 = 4 + 16*20

// expandQ8_KQ6 expands nb Q8_K blocks from src into dst for the packed
// Q6_K kernels: d float32, then for each of the 16 sub-blocks -32 times
// the sum of its quants (int32, the offset of Q6_K's quants) and its 16
// quants.
func expandQ8_KQ6(dst, src []byte, nb int) {
	_, _ = dst[nb*blockQ8_KQ6-1], src[nb*blockQ8_K-1]
	le := binary.LittleEndian
	for b := range nb {
		s, d := src[b*blockQ8_K:][:blockQ8_K], dst[b*blockQ8_KQ6:][:blockQ8_KQ6]
		copy(d[:4], s[:4])
		for j := range 16 {
			bs := int32(int16(le.Uint16(s[q8KSumsOff+2*j:])))
			le.PutUint32(d[4+20*j:], uint32(-32*bs))
			copy(d[8+20*j:][:16], s[q8KQsOff+16*j:])
		}
	}
}
