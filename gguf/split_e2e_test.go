package gguf_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

// logits loads the model at path and returns the logits of every token of
// a short prompt.
func logits(t *testing.T, path string) ([]float32, *gguf.File) {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	m, err := model.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.NewState(0, tensor.F16)
	if err != nil {
		t.Fatal(err)
	}
	tokens := []int{1, 70, 200, 5, 311, 42}
	out := make([]float32, len(tokens)*m.Config.VocabSize)
	if err := m.ForwardAll(nil, s, tokens, out); err != nil {
		t.Fatal(err)
	}
	return out, f
}

// A random model split into three parts loads from its first part and
// computes exactly what the whole file does.
func TestSplitModelForward(t *testing.T) {
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole.gguf")
	out, err := os.Create(whole)
	if err != nil {
		t.Fatal(err)
	}
	cfg := llamatest.RandomConfig{Layers: 3, KVHeads: 2, Type: tensor.Q8_0, Seed: 7}
	if err := llamatest.WriteRandomLlama(out, cfg); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	want, f := logits(t, whole)

	w, err := gguf.NewWriterFrom(f)
	if err != nil {
		t.Fatal(err)
	}
	per := (len(f.Tensors) + 2) / 3
	paths, err := w.WriteSplit(filepath.Join(dir, "random-Q8_0"), gguf.SplitOptions{MaxTensors: per})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("split into %d parts, want 3", len(paths))
	}
	got, g := logits(t, paths[0])
	if !slices.Equal(g.Paths(), paths) || len(g.Tensors) != len(f.Tensors) {
		t.Fatalf("opened %v with %d tensors, want %v with %d", g.Paths(), len(g.Tensors), paths, len(f.Tensors))
	}
	if !slices.Equal(got, want) {
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("logit %d is %v from the split model, %v from the whole file", i, got[i], want[i])
			}
		}
	}
}

// TestReleaseKeepsData checks that tensor data stays correct after its
// pages are released: they come back from the file.
func TestReleaseKeepsData(t *testing.T) {
	var buf bytes.Buffer
	if err := llamatest.WriteRandomLlama(&buf, llamatest.RandomConfig{Embd: 256, FF: 512, Layers: 2, Heads: 4, Seed: 12, Type: tensor.Q8_0}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string][]byte{}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		want[ti.Name] = bytes.Clone(f.TensorData(ti))
	}
	for i := range f.Tensors {
		f.Release(f.TensorData(&f.Tensors[i]))
	}
	f.Release(buf.Bytes()) // not the file's memory: ignored
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		if !bytes.Equal(f.TensorData(ti), want[ti.Name]) {
			t.Fatalf("tensor %q changed after Release", ti.Name)
		}
	}
}
