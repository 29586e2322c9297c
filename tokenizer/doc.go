// Package tokenizer turns text into token ids and back, for the
// SentencePiece vocabularies that GGUF files call "llama" and the
// byte-level BPE vocabularies they call "gpt2" (Llama 3, Qwen, GPT-2 and
// their relatives), read from GGUF metadata (FromGGUF) or from a Hugging
// Face tokenizer directory (FromHF).
//
// Both reproduce llama.cpp's tokenizer token for token. SentencePiece:
// spaces are written as U+2581, a space is prepended to the text,
// characters are merged pair by pair in order of the score of the piece
// they form, and characters that form no piece fall back to byte tokens.
// Byte-level BPE: a pre-tokenizer (one of llama.cpp's, named by
// tokenizer.ggml.pre) cuts the text into words, each byte of a word is
// spelled as one printable character, and neighbouring symbols are merged
// in the order of the merge rules. Special tokens written in the text
// (such as "<s>" or "<|im_start|>") are recognised only when asked.
//
// A Tokenizer from FromHF follows the Hugging Face tokenizers library
// instead where the two differ: it normalizes text (NFC), matches added
// tokens leftmost-longest, adds what the post-processor adds and cleans up
// spaces when decoding if the configuration says so.
//
// Decoding hides control tokens and maps token texts back to bytes. A
// Decoder does the same one token at a time for streaming output, holding
// back UTF-8 sequences that tokens have only partly produced.
package tokenizer
