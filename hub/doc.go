// Package hub fetches GGUF model files from Hugging Face or a plain URL into
// the local model store, and resolves stored model names to file paths.
//
// A model is named like Ollama's Hugging Face models: hf.co/OWNER/REPO:QUANT
// (or huggingface.co/..., or just OWNER/REPO:QUANT), where QUANT is a
// quantization tag such as Q4_K_M matched case-insensitively against the
// repository's .gguf file names. Without a tag Q4_K_M is chosen when the
// repository has it, else its first .gguf file. A direct https://...gguf URL
// names a single file.
//
// A quantization published split into parts by llama.cpp's gguf-split
// (NAME-00001-of-00003.gguf, ..., often in a folder named for the
// quantization) is pulled whole when the repository has no single file of
// it: every part, each resumed and verified as any file is, stored side by
// side under one manifest whose path is the first part's, which gguf.Open
// loads with the rest. A URL to any one part pulls them all.
//
// Downloads resume: an interrupted transfer leaves FILE.partial, and the next
// attempt asks for the rest with an HTTP Range request. The finished file is
// checked against the SHA-256 the Hub publishes for LFS files (the
// X-Linked-Etag header, or the lfs.sha256 of the API's listing) and only
// then renamed into place, so a stored file is always complete.
//
// The environment is read the way huggingface_hub reads it: HF_ENDPOINT
// replaces https://huggingface.co, and HF_TOKEN is sent as a bearer token
// for gated and private repositories. The store lives in $JOULE_HOME,
// by default the "joule" folder of the user's cache directory:
//
//	models/hf.co/OWNER/REPO/FILE          the model file (or each part)
//	manifests/hf.co/OWNER/REPO/FILE.json  name, source URL, SHA-256, size, time (and parts)
package hub
