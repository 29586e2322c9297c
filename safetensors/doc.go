// Package safetensors reads and writes safetensors files, the weight format
// of the Hugging Face hub, and the sharded model directories built from
// them.
//
// A file is an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, and the tensors' bytes. Open
// memory-maps a file and hands out tensor data without copying it. Nothing
// is trusted before it is checked: the header length against the file and a
// 100 MB limit, the JSON (well-formed UTF-8, one object, no duplicate
// names, no trailing bytes but the space padding writers add), every dtype,
// every shape against overflow and against its byte range, and the byte
// ranges themselves, which must tile the data section exactly, without gaps
// or overlaps, as the format requires. A hostile file yields an error, never
// a panic or a huge allocation.
//
// OpenDir opens the weights of a model directory: model.safetensors, or the
// shards listed by model.safetensors.index.json, whose weight map must
// agree with the shards' contents.
package safetensors
