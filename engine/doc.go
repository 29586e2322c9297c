// Package engine turns a model's logits into text: token sampling in
// llama.cpp's default order (penalties, top-k, top-p, min-p, temperature,
// then a seeded draw) and a generation loop that prefills a prompt and
// decodes one token at a time.
package engine
