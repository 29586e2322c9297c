// Package loadgen replays concurrent clients against an OpenAI-compatible
// server and summarises the latency and throughput they see.
//
// Each client is a goroutine with one streaming /v1/completions request in
// flight at a time. Prompts are token ids drawn from a seeded generator
// (Prompts), so their lengths are exact and runs repeat; all of them may
// begin with the same shared prefix to exercise a server's prefix cache.
// Greedy decoding with the end-of-generation tokens biased away makes
// every request generate exactly max_tokens tokens.
//
// A request's time to first token (TTFT) runs from just before it is sent
// to the first streamed chunk that carries a token; inter-token latencies
// (ITL) are the gaps between later chunks; end-to-end latency (E2E) runs
// to the end of the stream. Token counts come from the usage chunk that
// stream_options.include_usage asks for. A server sends no chunk for a
// token whose text it holds back (part of a character, or a possible stop
// string), so a chunk may carry several tokens and the ITLs are per chunk,
// as vLLM's serving benchmark measures them; TPOT, the mean time per
// output token after the first, is computed from the token count.
//
// A 429 answer counts as a rejection, not an error; with Options.Retry the
// client waits for its Retry-After and sends the request again, and its
// latencies then run from the first attempt, as its user would see them.
//
// PrefixTest measures what a prefix cache saves: the TTFT of a request
// with a long fresh prompt, then of one sharing all of that prompt but
// for a different suffix.
package loadgen
