// Package convert turns a Hugging Face model directory (config.json,
// safetensors weights, tokenizer.model or tokenizer.json) into a GGUF
// file, as llama.cpp's convert_hf_to_gguf.py does, so that the result
// loads and tokenizes in Joule and in llama.cpp alike.
//
// Supported: LlamaForCausalLM and MistralForCausalLM (GGUF architecture
// "llama"), Qwen2ForCausalLM ("qwen2"), Qwen3ForCausalLM ("qwen3"),
// Phi3ForCausalLM ("phi3"), Gemma2ForCausalLM ("gemma2") and
// Gemma3ForCausalLM ("gemma3", the text model). Vocabularies are
// SentencePiece (tokenizer.ggml.model "llama") or byte-level BPE ("gpt2").
//
// What the conversion does, following llama.cpp's converter:
//
//   - config.json becomes the {arch}.* hyperparameter keys: context and
//     embedding lengths, block count, feed-forward length, head counts,
//     RMSNorm epsilon, RoPE base and scaling (linear, YaRN; Llama 3's
//     frequency smoothing becomes a rope_freqs.weight tensor), and head
//     sizes where the configuration gives them.
//   - Hugging Face tensor names become GGUF names
//     (model.layers.N.self_attn.q_proj.weight → blk.N.attn_q.weight, ...).
//     Shapes are reversed into GGUF's innermost-first order.
//   - Phi-3 keeps its fused matrices: self_attn.qkv_proj becomes
//     attn_qkv, mlp.gate_up_proj (gate rows, then up rows) ffn_up. Its
//     LongRoPE factors become rope_factors_long and rope_factors_short
//     tensors, with rope.scaling.attn_factor and the original context.
//   - Gemma's RMSNorm multiplies by 1 + w where llama.cpp's multiplies by
//     w, so 1 is added to every norm weight (in float32, or in float16
//     for a float16 source, as llama.cpp does). Gemma's four norms of a
//     block map to attn_norm, post_attention_norm, ffn_norm and
//     post_ffw_norm; the output is tied to the embedding. Soft-capping,
//     the sliding window, Gemma 3's local RoPE base and scaling are
//     written as llama.cpp writes them, and Gemma 3's embedding loses the
//     rows beyond the vocabulary as llama.cpp counts it.
//   - For "llama" the rows of the query and key projections are permuted
//     back from the half-split rotary layout the Hugging Face weights use
//     (pairs (i, i+d/2) of a head) to the adjacent-pair layout llama.cpp's
//     "llama" architecture rotates (pairs (2i, 2i+1)). Qwen models are
//     rotated half-split by llama.cpp too, so they are left alone.
//   - 1-D tensors (norms, biases) are stored as F32; the chosen type (F32,
//     F16, BF16 or Q8_0) applies to the matrices. Q8_0 falls back to F16
//     for a matrix whose rows are not a whole number of blocks.
//   - With tied embeddings no output.weight is written: the output layer
//     is token_embd.weight.
//   - A SentencePiece vocabulary comes from tokenizer.model (a protobuf
//     ModelProto, parsed here): pieces, scores and types, "[PADn]" up to
//     vocab_size, then added_tokens.json and tokenizer_config.json's
//     added tokens on top (Phi-3 has its own rules for those). Without
//     tokenizer.model, a tokenizer.json BPE model with byte fallback is
//     read as llama.cpp's _set_vocab_llama_hf does, with every score
//     -1000: its SentencePiece tokenizer then merges leftmost first, not
//     in BPE merge order, which is llama.cpp's behaviour too.
//   - The byte-level BPE vocabulary: tokens (with ids missing from the tokenizer filled as
//     "[PADn]" up to the configuration's vocab_size), token types (added
//     tokens are control tokens when special or when they look special,
//     such as <|...|>), merges, special token ids from
//     tokenizer_config.json and config.json, add_bos/add_eos and the chat
//     template. tokenizer.ggml.pre, which names llama.cpp's pre-tokenizer,
//     is found as llama.cpp finds it, by hashing the tokens of a fixed
//     text, or named by Options.Pre.
//
// Converted tensor data goes to a scratch file beside the output, not to
// memory, so a model larger than RAM converts; tensors that need no change
// are copied straight from the memory-mapped safetensors files.
package convert
