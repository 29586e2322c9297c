package main

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
	"github.com/joule-llm/joule/tokenizer"
)

const storiesText = "testdata/stories.txt"

func TestLogSoftmax(t *testing.T) {
	for _, tc := range []struct {
		logits []float32
		tok    int
		want   float64
	}{
		{[]float32{0, 0, 0, 0}, 2, -math.Log(4)},
		{[]float32{1, 2, 3}, 2, 3 - math.Log(math.E+math.E*math.E+math.Exp(3))},
		{[]float32{1000, 0}, 0, -math.Log1p(math.Exp(-1000))},
		{[]float32{1000, 0}, 1, -1000},
		{[]float32{-5, 7, 2.5}, 0, -12 - math.Log(math.Exp(-12)+1+math.Exp(-4.5))},
	} {
		if got := logSoftmax(tc.logits, tc.tok); math.Abs(got-tc.want) > 1e-5*max(1, math.Abs(tc.want)) {
			t.Errorf("logSoftmax(%v, %d) = %v, want %v", tc.logits, tc.tok, got, tc.want)
		}
	}
	logits := []float32{0.3, -1.2, 4, 2.2, 0}
	var sum float64
	for i := range logits {
		sum += math.Exp(logSoftmax(logits, i))
	}
	if math.Abs(sum-1) > 1e-6 {
		t.Errorf("probabilities sum to %v", sum)
	}
}

var (
	chunkRE = regexp.MustCompile(`\[(\d+)\]([0-9.]+),`)
	finalRE = regexp.MustCompile(`Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)`)
)

// parsePerplexity returns the running values and the final estimate.
func parsePerplexity(t *testing.T, out string) (chunks []float64, ppl, stderr float64) {
	t.Helper()
	for i, m := range chunkRE.FindAllStringSubmatch(out, -1) {
		if m[1] != strconv.Itoa(i+1) {
			t.Fatalf("chunk %s printed as number %d:\n%s", m[1], i+1, out)
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		chunks = append(chunks, v)
	}
	m := finalRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no final estimate in:\n%s", out)
	}
	ppl, _ = strconv.ParseFloat(m[1], 64)
	stderr, _ = strconv.ParseFloat(m[2], 64)
	return chunks, ppl, stderr
}

// chunkPerplexity scores one chunk the plain way: one forward pass, the
// second half's next-token log-probabilities in float64.
func chunkPerplexity(t *testing.T, m *model.Model, chunk []int) float64 {
	t.Helper()
	s, err := m.NewState(len(chunk), tensor.F16)
	if err != nil {
		t.Fatal(err)
	}
	V := m.Config.VocabSize
	logits := make([]float32, len(chunk)*V)
	if err := m.ForwardAll(nil, s, chunk, logits); err != nil {
		t.Fatal(err)
	}
	var nll float64
	n := 0
	for pos := len(chunk) / 2; pos < len(chunk)-1; pos++ {
		row := logits[pos*V : (pos+1)*V]
		var sum float64
		for _, l := range row {
			sum += math.Exp(float64(l))
		}
		nll -= float64(row[chunk[pos+1]]) - math.Log(sum)
		n++
	}
	return math.Exp(nll / float64(n))
}

func TestPerplexityRandomModel(t *testing.T) {
	path := randomModel(t, llamatest.RandomConfig{Seed: 4, Ctx: 64, Layers: 2, Heads: 4, KVHeads: 2})
	const ctx = 32
	base := []string{"perplexity", "-m", path, "-f", storiesText, "--ctx", strconv.Itoa(ctx), "-t", "2"}
	out, errOut, err := jouleQ(t, base...)
	if err != nil {
		t.Fatal(err)
	}
	chunks, ppl, se := parsePerplexity(t, out)

	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := model.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(storiesText)
	if err != nil {
		t.Fatal(err)
	}
	ids := tok.Encode(strings.TrimSuffix(string(raw), "\n"), true, false)
	if len(chunks) != len(ids)/ctx {
		t.Errorf("%d chunks for %d tokens of ctx %d", len(chunks), len(ids), ctx)
	}
	if !strings.Contains(errOut, "over "+strconv.Itoa(len(ids)/ctx)+" chunks, n_ctx=32") {
		t.Errorf("no chunk count on stderr:\n%s", errOut)
	}
	if ppl != chunks[len(chunks)-1] || !(ppl > 1) || !(se > 0) || se > ppl {
		t.Errorf("PPL %v +/- %v, last running value %v", ppl, se, chunks[len(chunks)-1])
	}
	// The first two chunks, scored independently; the second starts with
	// BOS in place of its first token.
	first := chunkPerplexity(t, m, ids[:ctx])
	if math.Abs(chunks[0]-first) > 1e-4*first {
		t.Errorf("chunk 1: %v, scored directly %v", chunks[0], first)
	}
	second := slices.Clone(ids[ctx : 2*ctx])
	second[0] = tok.BOS()
	both := math.Exp((math.Log(first) + math.Log(chunkPerplexity(t, m, second))) / 2)
	if math.Abs(chunks[1]-both) > 1e-4*both {
		t.Errorf("chunks 1-2: %v, scored directly %v", chunks[1], both)
	}

	// The batch size changes nothing; --chunks cuts the run short.
	for _, b := range []string{"5", "16", "2048"} {
		got, _, err := jouleQ(t, append(base, "-b", b)...)
		if err != nil || got != out {
			t.Errorf("-b %s: %v\n%s\nwant\n%s", b, err, got, out)
		}
	}
	got, _, err := jouleQ(t, append(base, "--chunks", "2")...)
	if err != nil {
		t.Fatal(err)
	}
	if c, _, _ := parsePerplexity(t, got); !slices.Equal(c, chunks[:2]) {
		t.Errorf("--chunks 2: %v, want %v", c, chunks[:2])
	}

	short := filepath.Join(t.TempDir(), "short.txt")
	os.WriteFile(short, []byte("Once upon a time."), 0o644)
	for _, args := range [][]string{
		{"perplexity", "-m", path, "-f", short, "--ctx", "32"},                  // too few tokens
		{"perplexity", "-m", path, "-f", storiesText, "--ctx", "128"},           // beyond the model's 64
		{"perplexity", "-m", path, "-f", storiesText, "--ctx", "32", "-b", "0"}, // no batch
		{"perplexity", "-m", path, "-f", short + ".missing", "--ctx", "32"},     // no file
		{"perplexity", "-m", path, "-f", storiesText, "--ctx", "32", "-t", "0"}, // no threads
		{"perplexity", "-m", path, "-f", storiesText, "--ctx", "32", "--kv-type", "q8"},
		{"perplexity", "-f", storiesText},
	} {
		if _, _, err := jouleQ(t, args...); err == nil {
			t.Errorf("%v: no error", args[3:])
		}
	}
}

// sharedStories260K returns the path of the shared model, or skips.
func sharedStories260K(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Skip("no go.mod above the test directory")
		}
		dir = filepath.Dir(dir)
	}
	path := filepath.Join(dir, "..", "shared", "models", "stories260K.gguf")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("stories260K.gguf not present (needs ../shared beside the repository): %v", err)
	}
	return path
}

// quantGreedy returns n greedily decoded tokens after prompt.
func quantGreedy(t *testing.T, path string, prompt []int, n int) []int {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := model.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.NewState(0, tensor.F16)
	if err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, m.Config.VocabSize)
	var out []int
	for in := prompt; len(out) < n; in = out[len(out)-1:] {
		if err := m.Forward(nil, s, in, logits); err != nil {
			t.Fatal(err)
		}
		out = append(out, quantArgmax(logits))
	}
	return out
}

func quantArgmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TestStories260KQuantizedPerplexity quantizes the shared F32 model to
// Q8_0 and Q4_0 and measures all three on testdata/stories.txt with the
// default 512-token chunks. The reference values are llama.cpp's (the
// commit node-llama-cpp 3.22.1 bundles): llama-perplexity on the same text,
// on the input and on llama-quantize's Q8_0 and Q4_0 files (which are
// byte-identical to Joule's), and greedy decoding through node-llama-cpp.
//
//	        llama.cpp          Joule (when measured)
//	F32     4.8869 +/- 0.28309  4.8869 +/- 0.28308
//	Q8_0    4.8867 +/- 0.28349  4.8874 +/- 0.28346
//	Q4_0    5.3004 +/- 0.30827  5.2977 +/- 0.30799
func TestStories260KQuantizedPerplexity(t *testing.T) {
	in := sharedStories260K(t)
	dir := t.TempDir()
	llama := map[string]float64{"F32": 4.8869, "Q8_0": 4.8867, "Q4_0": 5.3004}
	ppl := map[string]float64{}
	for _, typ := range []string{"F32", "Q8_0", "Q4_0"} {
		path := in
		if typ != "F32" {
			path = filepath.Join(dir, typ+".gguf")
			if _, _, err := jouleQ(t, "quantize", "-t", "2", in, path, typ); err != nil {
				t.Fatal(err)
			}
		}
		out, _, err := jouleQ(t, "perplexity", "-m", path, "-f", storiesText, "-t", "2")
		if err != nil {
			t.Fatal(err)
		}
		chunks, p, se := parsePerplexity(t, out)
		if len(chunks) != 4 || !(se > 0.25 && se < 0.35) {
			t.Errorf("%s: %d chunks, error %v:\n%s", typ, len(chunks), se, out)
		}
		ppl[typ] = p
		if d := math.Abs(p/llama[typ] - 1); d > 0.002 {
			t.Errorf("%s: PPL %.4f, llama.cpp %.4f (%.2f%% apart)", typ, p, llama[typ], 100*d)
		}
	}
	// Q8_0 costs next to nothing, Q4_0 a few percent (8.4% when measured).
	if r := ppl["Q8_0"] / ppl["F32"]; math.Abs(r-1) > 0.002 {
		t.Errorf("Q8_0/F32 perplexity ratio %.4f, want within 0.2%% of 1", r)
	}
	if r := ppl["Q4_0"] / ppl["F32"]; r < 1.04 || r > 1.13 {
		t.Errorf("Q4_0/F32 perplexity ratio %.4f, want 1.04..1.13", r)
	}

	// Greedy decoding of "Once upon a time, there was a little" on each
	// quantized file gives llama.cpp's tokens on its own file of that type.
	prompt := []int{1, 403, 407, 261, 378, 432, 383, 286, 261, 376}
	want := map[string]string{
		"Q8_0": "298,315,421,395,317,426,338,401,396,267,337,410,408,419,292,411,322,265,282,295,433,426,385,328,432,358,394,261,370,432,352,266,268,388,426,338,391,266,267,337,335,312,432,398,312,286,267,414,270,333,415,426,13,438,310,439,419,357,336,432,313,438,310,432",
		"Q4_0": "298,315,421,395,317,426,338,401,396,267,337,410,408,419,292,411,322,265,262,379,426,385,328,432,358,263,377,267,265,282,295,433,335,311,357,343,269,279,380,418,422,426,342,394,261,370,432,352,266,268,388,269,261,262,423,388,268,388,426,13,438,310,286,384",
	}
	for typ, ids := range want {
		got := quantGreedy(t, filepath.Join(dir, typ+".gguf"), prompt, 64)
		s := make([]string, len(got))
		for i, id := range got {
			s[i] = strconv.Itoa(id)
		}
		if g := strings.Join(s, ","); g != ids {
			t.Errorf("%s greedy tokens\n got %s\nwant %s", typ, g, ids)
		}
	}
}
