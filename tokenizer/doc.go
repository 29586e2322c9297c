// Package tokenizer turns text into token ids and back for the
// SentencePiece vocabularies that GGUF files call "llama".
//
// It reproduces llama.cpp's tokenizer token for token: spaces are written
// as U+2581, a space is prepended to the text, characters are merged pair
// by pair in order of the score of the piece they form, and characters that
// form no piece fall back to byte tokens. Special tokens written in the text
// (such as "<s>") are recognised only when asked.
//
// Decoding hides control tokens, maps U+2581 back to a space and byte tokens
// back to raw bytes. A Decoder does the same one token at a time for
// streaming output, holding back UTF-8 sequences that byte tokens have only
// partly produced.
package tokenizer
