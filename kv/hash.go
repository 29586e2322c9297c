package kv

import (
	"crypto/sha256"
	"encoding/binary"
)

// BlockHash identifies the contents of a full block: its tokens, the extra
// key of its sequence, and (through the parent hash) every token before it.
//
// It is a full SHA-256 digest. Prompts come from clients, so a collision
// would let one client read KV computed for another's text; a
// non-cryptographic hash such as FNV can be collided on purpose, and even
// a truncated 128-bit digest leaves only 64 bits against a birthday search.
// Hashing costs a few hundred nanoseconds per block, next to a forward
// pass over the block's tokens that costs milliseconds.
type BlockHash [32]byte

// hashDomain starts every hashed message so that these digests cannot
// coincide with SHA-256 of anything else, and so that a change of encoding
// can change the tag.
const hashDomain = "joule/kv/block/v1\x00"

// HashBlock returns the hash of a full block holding tokens, whose
// predecessor block has hash parent (the zero BlockHash for a sequence's
// first block). extra distinguishes caches that must not share blocks even
// for the same tokens, such as different LoRA adapters or per-tenant salts;
// nil and empty are the same key.
//
// The message is the domain tag, the parent hash, the length and bytes of
// extra, the token count, and each token as 64-bit little-endian: every
// field has a fixed size or a length prefix, so distinct inputs never
// encode to the same bytes.
func HashBlock(parent BlockHash, tokens []int, extra []byte) BlockHash {
	h, _ := hashBlock(nil, parent, tokens, extra)
	return h
}

// hashBlock is HashBlock building its message in buf, which it returns
// grown so that callers can reuse it without allocating.
func hashBlock(buf []byte, parent BlockHash, tokens []int, extra []byte) (BlockHash, []byte) {
	buf = append(buf[:0], hashDomain...)
	buf = append(buf, parent[:]...)
	buf = binary.AppendUvarint(buf, uint64(len(extra)))
	buf = append(buf, extra...)
	buf = binary.AppendUvarint(buf, uint64(len(tokens)))
	for _, t := range tokens {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(int64(t)))
	}
	return sha256.Sum256(buf), buf
}
