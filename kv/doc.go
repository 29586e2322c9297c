// Package kv manages the key/value cache of a serving engine in fixed-size
// blocks, in the manner of PagedAttention: which physical blocks hold each
// sequence's tokens, and the memory those blocks live in.
//
// A BlockPool owns the blocks: a free queue, per-block reference counts and
// an automatic prefix cache that lets a full block computed for one
// sequence serve any later sequence with the same tokens up to and
// including that block. A Manager keeps one block table per sequence on top
// of a pool (allocation with prefix-cache lookup, growth, forking with
// copy-on-write, freeing). A Storage holds the K and V tensors that block
// ids index.
//
// Nothing here is safe for concurrent use: the engine loop that schedules
// sequences owns the Manager, its BlockPool and the Storage, and calls them
// from one goroutine.
package kv
