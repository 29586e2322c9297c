package tokenizer

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkEncodeLlama3 encodes the shared tokenizers' README (about 4 KB
// of English, tables and code) with the Llama 3 tokenizer.
func BenchmarkEncodeLlama3(b *testing.B) {
	tk := loadHF(b, "llama3")
	text, err := os.ReadFile(filepath.Join(sharedDir(b), "tokenizers", "README.md"))
	if err != nil {
		b.Skip(err)
	}
	s := string(text)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(tk.Encode(s, true, true))
	}
	b.ReportMetric(float64(n), "tokens")
}

// BenchmarkEncodeQwen3 is BenchmarkEncodeLlama3 with the Qwen3 tokenizer
// (NFC check, single digits, no ignore_merges).
func BenchmarkEncodeQwen3(b *testing.B) {
	tk := loadHF(b, "qwen3")
	text, err := os.ReadFile(filepath.Join(sharedDir(b), "tokenizers", "README.md"))
	if err != nil {
		b.Skip(err)
	}
	s := string(text)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		tk.Encode(s, true, true)
	}
}

// BenchmarkDecodeLlama3 decodes the README's tokens.
func BenchmarkDecodeLlama3(b *testing.B) {
	tk := loadHF(b, "llama3")
	text, err := os.ReadFile(filepath.Join(sharedDir(b), "tokenizers", "README.md"))
	if err != nil {
		b.Skip(err)
	}
	ids := tk.Encode(string(text), false, false)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tk.Decode(ids)
	}
}
