// Package engine turns a model's logits into text.
//
// Generate runs one sequence: it prefills a prompt and decodes one token at
// a time with a Sampler, which picks tokens in llama.cpp's default order
// (penalties, top-k, top-p, min-p, temperature, then a seeded draw).
//
// Engine serves many requests at once by continuous batching. Its loop
// goroutine steps forever: the scheduler decides which sequences run and
// how many tokens each (the next token of every decoding sequence, then
// chunks of prompts within a per-step token budget), the model runs them
// all in one batched forward pass over a paged KV cache (package kv), and
// each sequence samples its next token. Requests join and leave at every
// step; prompts sharing a prefix share its KV blocks; when blocks run out,
// the newest sequence is preempted and later recomputed.
package engine
