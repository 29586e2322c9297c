package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/safetensors"
	"github.com/joule-llm/joule/tensor"
)

// convertCLI runs the convert command in-process.
func convertCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := newConvertCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.Execute()
	return stdout.String(), stderr.String(), err
}

// writeConvertDir writes a one-block Qwen2 model of random weights with a
// byte-level tokenizer of the 256 byte symbols and one merge.
func writeConvertDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	const vocab, embd, ff, heads, kvHeads, headDim = 260, 64, 64, 2, 1, 32
	writeConvertJSON(t, filepath.Join(dir, "config.json"), map[string]any{
		"architectures": []string{"Qwen2ForCausalLM"}, "hidden_size": embd, "intermediate_size": ff,
		"num_hidden_layers": 1, "num_attention_heads": heads, "num_key_value_heads": kvHeads,
		"max_position_embeddings": 128, "rms_norm_eps": 1e-6, "rope_theta": 1e6,
		"vocab_size": vocab, "tie_word_embeddings": true,
	})
	seed := uint32(1)
	weights := func(name string, shape ...uint64) safetensors.Tensor {
		n := uint64(1)
		for _, d := range shape {
			n *= d
		}
		data := make([]byte, 4*n)
		for i := uint64(0); i < n; i++ {
			seed = seed*1664525 + 1013904223
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(int32(seed>>8)%1000)/1000))
		}
		return safetensors.Tensor{Name: name, DType: safetensors.F32, Shape: shape, Data: data}
	}
	p := "model.layers.0."
	tensors := []safetensors.Tensor{
		weights("model.embed_tokens.weight", vocab, embd),
		weights("model.norm.weight", embd),
		weights(p+"input_layernorm.weight", embd),
		weights(p+"post_attention_layernorm.weight", embd),
		weights(p+"self_attn.q_proj.weight", heads*headDim, embd),
		weights(p+"self_attn.q_proj.bias", heads*headDim),
		weights(p+"self_attn.k_proj.weight", kvHeads*headDim, embd),
		weights(p+"self_attn.k_proj.bias", kvHeads*headDim),
		weights(p+"self_attn.v_proj.weight", kvHeads*headDim, embd),
		weights(p+"self_attn.v_proj.bias", kvHeads*headDim),
		weights(p+"self_attn.o_proj.weight", embd, heads*headDim),
		weights(p+"mlp.gate_proj.weight", ff, embd),
		weights(p+"mlp.up_proj.weight", ff, embd),
		weights(p+"mlp.down_proj.weight", embd, ff),
	}
	f, err := os.Create(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(f, nil, tensors); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]int{}
	for b := 0; b < 256; b++ {
		tokens[string(byteRune(byte(b)))] = b
	}
	tokens["Ġt"] = 256
	byteLevelStage := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}
	writeConvertJSON(t, filepath.Join(dir, "tokenizer.json"), map[string]any{
		"added_tokens":   []map[string]any{{"id": 257, "content": "<|endoftext|>", "special": true}},
		"pre_tokenizer":  byteLevelStage,
		"post_processor": byteLevelStage,
		"decoder":        byteLevelStage,
		"model":          map[string]any{"type": "BPE", "vocab": tokens, "merges": []string{"Ġ t"}},
	})
	writeConvertJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{"eos_token": "<|endoftext|>"})
	return dir
}

func writeConvertJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestConvertCommand(t *testing.T) {
	dir := writeConvertDir(t)
	out := filepath.Join(t.TempDir(), "m.gguf")
	stdout, stderr, err := convertCLI(t, dir, out, "--type", "q8_0", "--pre", "gpt-2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout, "wrote "+out) {
		t.Errorf("stdout %q", stdout)
	}
	if !strings.Contains(stderr, "blk.0.attn_q.weight") || !strings.Contains(stderr, "Q8_0") {
		t.Errorf("stderr does not list the tensors:\n%s", stderr)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if a, _ := f.String("general.architecture"); a != "qwen2" {
		t.Errorf("architecture %q", a)
	}
	for name, want := range map[string]tensor.Type{
		"token_embd.weight": tensor.Q8_0, "blk.0.attn_q.weight": tensor.Q8_0, "blk.0.ffn_down.weight": tensor.Q8_0,
		"blk.0.attn_q.bias": tensor.F32, "blk.0.attn_norm.weight": tensor.F32, "output_norm.weight": tensor.F32,
	} {
		if ti, ok := f.Tensor(name); !ok || ti.Type != want {
			t.Errorf("%s: %+v, want type %s", name, ti, want)
		}
	}
	if pre, _ := f.String("tokenizer.ggml.pre"); pre != "gpt-2" {
		t.Errorf("tokenizer.ggml.pre %q", pre)
	}

	// The default type is f16; --quiet lists nothing.
	out2 := filepath.Join(t.TempDir(), "m16.gguf")
	if _, stderr, err := convertCLI(t, dir, out2, "--pre", "gpt-2", "-q"); err != nil || stderr != "" {
		t.Fatalf("err %v, stderr %q", err, stderr)
	}
	f2, err := gguf.Open(out2)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	if ti, _ := f2.Tensor("blk.0.ffn_up.weight"); ti == nil || ti.Type != tensor.F16 {
		t.Errorf("default type: %+v", ti)
	}
}

func TestConvertCommandErrors(t *testing.T) {
	dir := writeConvertDir(t)
	out := filepath.Join(t.TempDir(), "m.gguf")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{dir, out, "--type", "q4_0"}, `--type "q4_0"`},
		{[]string{dir}, "accepts 2 arg(s)"},
		{[]string{dir, out}, "--pre"}, // the tiny tokenizer is not one llama.cpp knows
		{[]string{filepath.Join(dir, "missing"), out}, "config.json"},
	} {
		if _, _, err := convertCLI(t, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one containing %q", tt.args, err, tt.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed conversion left its output")
	}
}

// writeGemmaDir writes a one-block Gemma 2 model of random weights with a
// SentencePiece tokenizer.model of the four special pieces and the 256
// byte pieces.
func writeGemmaDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	const vocab, embd, ff, heads, kvHeads, headDim = 260, 32, 64, 2, 1, 16
	writeConvertJSON(t, filepath.Join(dir, "config.json"), map[string]any{
		"architectures": []string{"Gemma2ForCausalLM"}, "hidden_size": embd, "intermediate_size": ff,
		"num_hidden_layers": 1, "num_attention_heads": heads, "num_key_value_heads": kvHeads, "head_dim": headDim,
		"max_position_embeddings": 128, "rms_norm_eps": 1e-6, "vocab_size": vocab, "sliding_window": 16,
		"bos_token_id": 2, "eos_token_id": 1,
	})
	seed := uint32(7)
	weights := func(name string, shape ...uint64) safetensors.Tensor {
		n := uint64(1)
		for _, d := range shape {
			n *= d
		}
		data := make([]byte, 4*n)
		for i := uint64(0); i < n; i++ {
			seed = seed*1664525 + 1013904223
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(int32(seed>>8)%1000)/4000))
		}
		return safetensors.Tensor{Name: name, DType: safetensors.F32, Shape: shape, Data: data}
	}
	p := "model.layers.0."
	tensors := []safetensors.Tensor{weights("model.embed_tokens.weight", vocab, embd), weights("model.norm.weight", embd)}
	for _, n := range []string{"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"} {
		tensors = append(tensors, weights(p+n+".weight", embd))
	}
	tensors = append(tensors,
		weights(p+"self_attn.q_proj.weight", heads*headDim, embd),
		weights(p+"self_attn.k_proj.weight", kvHeads*headDim, embd),
		weights(p+"self_attn.v_proj.weight", kvHeads*headDim, embd),
		weights(p+"self_attn.o_proj.weight", embd, heads*headDim),
		weights(p+"mlp.gate_proj.weight", ff, embd),
		weights(p+"mlp.up_proj.weight", ff, embd),
		weights(p+"mlp.down_proj.weight", embd, ff),
	)
	f, err := os.Create(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(f, nil, tensors); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// A ModelProto of SentencePiece messages {1: piece, 2: score, 3: type}.
	var proto []byte
	piece := func(text string, typ uint64) {
		msg := append([]byte{0x0a, byte(len(text))}, text...)
		msg = append(msg, 0x15, 0, 0, 0, 0, 0x18, byte(typ))
		proto = append(append(proto, 0x0a, byte(len(msg))), msg...)
	}
	piece("<pad>", 3)
	piece("<eos>", 3)
	piece("<bos>", 3)
	piece("<unk>", 2)
	for b := 0; b < 256; b++ {
		piece(fmt.Sprintf("<0x%02X>", b), 6)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.model"), proto, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestConvertCommandSentencePiece(t *testing.T) {
	dir := writeGemmaDir(t)
	out := filepath.Join(t.TempDir(), "g.gguf")
	_, stderr, err := convertCLI(t, dir, out, "--type", "f32")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "gemma2") || !strings.Contains(stderr, "blk.0.post_ffw_norm.weight") {
		t.Errorf("stderr:\n%s", stderr)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for key, want := range map[string]any{
		"general.architecture": "gemma2", "tokenizer.ggml.model": "llama", "tokenizer.ggml.pre": "default",
		"tokenizer.ggml.bos_token_id": uint32(2), "tokenizer.ggml.add_space_prefix": false,
		"gemma2.attention.sliding_window": uint32(16),
	} {
		if got, _ := f.Value(key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	if toks, _ := f.Strings("tokenizer.ggml.tokens"); len(toks) != 260 || toks[3] != "<unk>" || toks[4] != "<0x00>" {
		t.Errorf("tokens %d: %q", len(toks), toks[:5])
	}
	if _, err := model.Load(f); err != nil {
		t.Errorf("model.Load: %v", err)
	}
}
