// Command joule runs GGUF language models on the CPU.
//
//	joule run -m MODEL "PROMPT"      generate a continuation, streamed to stdout
//	joule serve -m MODEL             OpenAI-compatible HTTP server
//	joule bench -m MODEL             prompt and generation speed, llama-bench style
//	joule inspect MODEL.gguf         a file's metadata and tensor table
//	joule tokenize -m MODEL TEXT     token ids of TEXT
//	joule pull hf.co/OWNER/REPO:Q    download a model into the local store
//	joule ls                         list the local store
//
// MODEL is a path to a GGUF file or the name of a model in the store.
package main
