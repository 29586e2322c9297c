//go:build ignore

// gen writes the random models of cases.json with model/llamatest, runs
// llama.cpp on them and records what it computes. See README.md.
//
//	go run ./testdata/llamacpp/arch/gen.go [-out testdata/llamacpp/arch] [-keep DIR]
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

// caseConfig is a llamatest.RandomConfig with the weight type by name.
type caseConfig struct {
	llamatest.RandomConfig
	Type string
}

type testCase struct {
	Name   string     `json:"name"`
	Config caseConfig `json:"config"`
	SHA256 string     `json:"gguf_sha256"`
	Prompt []int      `json:"prompt"`
	Greedy []int      `json:"greedy"`
	// Logits holds llama.cpp's top logits after every token of Prompt
	// followed by all but the last of Greedy, evaluated as one batch.
	Logits []json.RawMessage `json:"top_logits,omitempty"`
}

// The shapes are small (files of a few hundred KB) but keep what matters:
// grouped-query attention, several RoPE pairs per head, a head size that
// differs from embedding/heads for qwen3.
func cases() []testCase {
	base := llamatest.RandomConfig{Embd: 64, Layers: 2, Heads: 4, KVHeads: 2, FF: 128, Vocab: 320, Ctx: 256}
	with := func(name, typ string, edit func(c *llamatest.RandomConfig)) testCase {
		c := base
		c.Name = name
		c.Seed = uint64(len(name)) * 7919
		edit(&c)
		return testCase{Name: name, Config: caseConfig{RandomConfig: c.Filled(), Type: typ}}
	}
	return []testCase{
		with("llama-rope-freqs", "F32", func(c *llamatest.RandomConfig) {
			c.RopeFreqs, c.RopeBase = true, 500000
		}),
		with("llama-yarn", "F32", func(c *llamatest.RandomConfig) {
			c.RopeScalingType, c.RopeScalingFactor, c.RopeOrigCtx = "yarn", 4, 64
		}),
		with("llama-linear-bias-q8", "Q8_0", func(c *llamatest.RandomConfig) {
			// A factor without a type: llama.cpp takes it as linear.
			c.Bias, c.RopeScalingFactor = true, 2
		}),
		with("qwen2-bias", "F32", func(c *llamatest.RandomConfig) {
			c.Arch, c.Bias = "qwen2", true
		}),
		with("qwen2-tied-q8", "Q8_0", func(c *llamatest.RandomConfig) {
			c.Arch, c.Tied, c.RopeBase = "qwen2", true, 1000000
		}),
		with("qwen3-hd32", "F32", func(c *llamatest.RandomConfig) {
			c.Arch, c.HeadDim, c.RopeBase = "qwen3", 32, 1000000
		}),
		with("qwen3-yarn-bias-f16", "F16", func(c *llamatest.RandomConfig) {
			c.Arch, c.HeadDim, c.Bias = "qwen3", 32, true
			c.RopeScalingType, c.RopeScalingFactor, c.RopeOrigCtx = "yarn", 4, 64
		}),
		with("llama-fused-qkv-bias-q8", "Q8_0", func(c *llamatest.RandomConfig) {
			c.FusedQKV, c.Bias = true, true
		}),
		// llama.cpp's context here is 256: longer than an original
		// context of 64 (the long factors), not than one of 256 (short).
		with("phi3-longrope-long", "F32", func(c *llamatest.RandomConfig) {
			c.Arch, c.Bias = "phi3", true
			c.RopeScalingType, c.RopeOrigCtx, c.RopeAttnFactor = "longrope", 64, 1.19
		}),
		with("phi3-longrope-short-partial-f16", "F16", func(c *llamatest.RandomConfig) {
			c.Arch, c.Heads, c.KVHeads, c.RopeDims = "phi3", 2, 1, 24
			c.RopeScalingType, c.RopeOrigCtx, c.RopeAttnFactor = "longrope", 256, 1.19
		}),
		with("phi3-tied-q8", "Q8_0", func(c *llamatest.RandomConfig) {
			c.Arch, c.Tied = "phi3", true
		}),
		with("gemma2-swa-softcap", "F32", func(c *llamatest.RandomConfig) {
			c.Arch, c.Layers, c.SlidingWindow = "gemma2", 4, 8
			c.AttnSoftcap, c.FinalSoftcap = 4, 8
		}),
		with("gemma3-swa-hd32", "F32", func(c *llamatest.RandomConfig) {
			c.Arch, c.Layers, c.HeadDim, c.SlidingWindow, c.RopeBase = "gemma3", 6, 32, 8, 1000000
		}),
		with("gemma3-pattern3-linear-q8", "Q8_0", func(c *llamatest.RandomConfig) {
			c.Arch, c.Layers, c.SlidingWindow, c.SlidingWindowPattern = "gemma3", 3, 6, 3
			c.RopeBase, c.RopeBaseSWA, c.RopeScalingType, c.RopeScalingFactor = 1000000, 20000, "linear", 8
			c.FinalSoftcap = 10
		}),
	}
}

const (
	promptLen = 12
	genLen    = 24
	topK      = 8
)

func main() {
	out := flag.String("out", "testdata/llamacpp/arch", "directory for cases.json")
	keep := flag.String("keep", "", "directory to keep the GGUF files in (default: a temporary one)")
	flag.Parse()
	bench := env("LLAMABENCH", "/tmp/peers/llamabench/build/llamabench")
	mjs := env("LLAMACPP_MJS", "/tmp/peers/llamacpp.mjs")

	dir := *keep
	if dir == "" {
		d, err := os.MkdirTemp("", "archgen")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var all []testCase
	for _, tc := range cases() {
		cfg := tc.Config.RandomConfig
		t, ok := tensor.ParseType(tc.Config.Type)
		if !ok {
			log.Fatalf("%s: type %q", tc.Name, tc.Config.Type)
		}
		cfg.Type = t
		var buf bytes.Buffer
		if err := llamatest.WriteRandomLlama(&buf, cfg); err != nil {
			log.Fatalf("%s: %v", tc.Name, err)
		}
		sum := sha256.Sum256(buf.Bytes())
		tc.SHA256 = hex.EncodeToString(sum[:])
		path := filepath.Join(dir, tc.Name+".gguf")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}

		r := rand.New(rand.NewPCG(cfg.Seed, 2))
		tc.Prompt = []int{1}
		for len(tc.Prompt) < promptLen {
			tc.Prompt = append(tc.Prompt, 3+r.IntN(cfg.Vocab-3))
		}
		tc.Greedy = parseIDs(run(bench, "greedy", path, "--tokens", ids(tc.Prompt), "-n", strconv.Itoa(genLen), "-t", "2"))
		if len(tc.Greedy) != genLen {
			log.Fatalf("%s: %d greedy ids", tc.Name, len(tc.Greedy))
		}
		seq := append(append([]int{}, tc.Prompt...), tc.Greedy[:genLen-1]...)
		var lg struct {
			Logits []struct {
				Pos int          `json:"pos"`
				Top [][2]float64 `json:"top"`
			} `json:"logits"`
		}
		if err := json.Unmarshal([]byte(run("node", mjs, "logits", path, "--tokens", ids(seq),
			"--positions", "all", "--top", strconv.Itoa(topK), "--threads", "2", "--json")), &lg); err != nil {
			log.Fatalf("%s: logits: %v", tc.Name, err)
		}
		for i, p := range lg.Logits {
			if p.Pos != i {
				log.Fatalf("%s: logits for position %d at %d", tc.Name, p.Pos, i)
			}
			// One line per position: [id, logit] pairs, the logits with
			// the digits of their float32 values.
			var row []string
			for _, e := range p.Top {
				row = append(row, fmt.Sprintf("[%d,%s]", int(e[0]), strconv.FormatFloat(e[1], 'g', -1, 32)))
			}
			tc.Logits = append(tc.Logits, json.RawMessage("["+strings.Join(row, ",")+"]"))
		}
		if len(tc.Logits) != len(seq) {
			log.Fatalf("%s: %d logit rows for %d positions", tc.Name, len(tc.Logits), len(seq))
		}
		log.Printf("%s: greedy %v", tc.Name, tc.Greedy)
		all = append(all, tc)
	}
	// Indented, but with each number array on one line.
	var b bytes.Buffer
	b.WriteString("{\"cases\": [\n")
	for i, tc := range all {
		logits := tc.Logits
		tc.Logits = nil
		head, err := json.Marshal(tc)
		if err != nil {
			log.Fatal(err)
		}
		b.Write(head[:len(head)-1])
		b.WriteString(",\n  \"top_logits\": [\n")
		for j, row := range logits {
			b.WriteString("   ")
			b.Write(row)
			if j < len(logits)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString("  ]}")
		if i < len(all)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]}\n")
	var check any
	if err := json.Unmarshal(b.Bytes(), &check); err != nil {
		log.Fatalf("cases.json: %v", err)
	}
	if err := os.WriteFile(filepath.Join(*out, "cases.json"), b.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func ids(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func parseIDs(s string) []int {
	var v []int
	for _, f := range strings.Split(strings.TrimSpace(s), ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			log.Fatalf("greedy output %q: %v", s, err)
		}
		v = append(v, n)
	}
	return v
}

func run(name string, args ...string) string {
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		log.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
