package tensor

import (
	"encoding/binary"
	"math"
)

// Block layouts, byte for byte as ggml stores them (all little-endian; "fp16"
// is IEEE binary16):
//
//	Q4_0 (32 elements, 18 bytes): d fp16 | qs[16]
//	    element j in the low nibble of qs[j], element j+16 in the high
//	    nibble; value (q-8)*d.
//	Q8_0 (32 elements, 34 bytes): d fp16 | qs[32] int8; value q*d.
//	Q4_K (256 elements, 144 bytes): d fp16 | dmin fp16 | scales[12] | qs[128]
//	    eight sub-blocks of 32 with 6-bit scale sc and 6-bit min m packed in
//	    scales (see scaleMinK4); value d*sc*q - dmin*m with q 4 bits. Each
//	    32 bytes of qs hold 64 elements: the low nibbles the first 32, the
//	    high nibbles the next 32.
//	Q5_K (256 elements, 176 bytes): d fp16 | dmin fp16 | scales[12] |
//	    qh[32] | qs[128]
//	    as Q4_K with a fifth bit per element: element 32*s+l (s the
//	    sub-block) takes bit s of qh[l].
//	Q6_K (256 elements, 210 bytes): ql[128] | qh[64] | scales[16] int8 | d fp16
//	    sixteen sub-blocks of 16, value d*scale*(q-32) with q 6 bits: each
//	    128 elements use 64 bytes of ql and 32 of qh; for l < 32, elements
//	    l, l+32, l+64, l+96 take the low nibble of ql[l], of ql[l+32], the
//	    high nibble of ql[l], of ql[l+32], and bits 0-1, 2-3, 4-5, 6-7 of
//	    qh[l] as their top two bits.
//	Q8_K (256 elements, 292 bytes): d float32 | qs[256] int8 | bsums[16] int16
//	    the activation format of the k-quant dot products; bsums[i] is the
//	    sum of qs[16i:16i+16].
const (
	qk4_0      = 32
	blockQ4_0  = 18
	qk8_0      = 32
	blockQ8_0  = 34
	blockQ4_K  = 144
	blockQ5_K  = 176
	blockQ6_K  = 210
	blockQ8_K  = 292
	q8KQsOff   = 4
	q8KSumsOff = 4 + QK_K
)

// scaleMinK4 unpacks the 6-bit scale and min of sub-block j (0..7) from the
// 12 scale bytes of a Q4_K or Q5_K block. The first four sub-blocks keep
// their values in the low 6 bits of bytes j and j+4; the last four keep
// their low 4 bits in byte j+4 and their top 2 bits in the spare top bits
// of bytes j-4 and j.
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	_ = q[11]
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// q6KQuants unpacks the 256 6-bit quants (0..63, 32 being zero) of a Q6_K
// block, in element order.
func q6KQuants(q *[QK_K]uint8, blk []byte) {
	_ = blk[blockQ6_K-1]
	for h := range 2 {
		ql, qh := blk[64*h:64*h+64], blk[128+32*h:128+32*h+32]
		for l := range 32 {
			q[128*h+l] = ql[l]&0xf | (qh[l]&3)<<4
			q[128*h+l+32] = ql[l+32]&0xf | (qh[l]>>2&3)<<4
			q[128*h+l+64] = ql[l]>>4 | (qh[l]>>4&3)<<4
			q[128*h+l+96] = ql[l+32]>>4 | (qh[l]>>6&3)<<4
		}
	}
}

func abs32(f float32) float32 {
	return math.Float32frombits(math.Float32bits(f) &^ (1 << 31))
}

func sqrt32(f float32) float32 {
	// The float64 square root rounded to float32 is the correctly rounded
	// float32 square root.
	return float32(math.Sqrt(float64(f)))
}

func getF32(b []byte) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(b))
}

func putF32(b []byte, f float32) {
	binary.LittleEndian.PutUint32(b, math.Float32bits(f))
}
