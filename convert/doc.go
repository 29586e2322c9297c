// Package convert turns a Hugging Face model directory (config.json,
// safetensors weights, tokenizer.json) into a GGUF file, as llama.cpp's
// convert_hf_to_gguf.py does, so that the result loads and tokenizes in
// Joule and in llama.cpp alike.
//
// Supported: LlamaForCausalLM and MistralForCausalLM (GGUF architecture
// "llama"), Qwen2ForCausalLM ("qwen2") and Qwen3ForCausalLM ("qwen3"),
// with byte-level BPE tokenizers (tokenizer.ggml.model "gpt2").
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
//   - The vocabulary: tokens (with ids missing from the tokenizer filled as
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
