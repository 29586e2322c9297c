package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

func TestBenchParallelJSON(t *testing.T) {
	path := randomModel(t, llamatest.RandomConfig{Seed: 41, Type: tensor.Q8_0})
	out, errOut, err := joule(t, "bench", "parallel", "-m", path, "-t", "1", "--np", "1,3",
		"--pp", "20", "--tg", "5", "-r", "2", "--shared-prefix", "17", "--ubatch", "8", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var rs []parallelResult
	for line := range strings.Lines(strings.TrimSpace(out)) {
		var r parallelResult
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("not a result line (%v): %q", err, line)
		}
		rs = append(rs, r)
	}
	if len(rs) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(rs), out)
	}
	for i, r := range rs {
		if r.Test != "parallel" || r.Model != "random.gguf" || r.Threads != 1 || r.NP != []int{1, 3}[i] ||
			r.PP != 20 || r.TG != 5 || r.SharedPrefix != 17 || r.ComputedOnce != 16 || r.UBatch != 8 || r.KVType != "F16" {
			t.Errorf("line %d echoes the settings wrong: %+v", i, r)
		}
		for name, s := range map[string]minMedMax{"pp": r.PPTokensPerS, "tg": r.TGTokensPerS} {
			if !(s.Min > 0 && s.Min <= s.Median && s.Median <= s.Max) {
				t.Errorf("np %d: %s t/s %+v", r.NP, name, s)
			}
		}
		if r.StepMSMedian <= 0 || r.WallSMedian <= 0 || r.StepMSMedian/1e3 > r.WallSMedian {
			t.Errorf("np %d: step %g ms, wall %g s", r.NP, r.StepMSMedian, r.WallSMedian)
		}
	}
	// The JSON field names are the documented ones.
	for _, key := range []string{`"pp_tokens_per_s":{"min":`, `"tg_tokens_per_s":{"min":`, `"step_ms_median":`,
		`"wall_s_median":`, `"shared_prefix":17`, `"np":3`} {
		if !strings.Contains(out, key) {
			t.Errorf("output lacks %s:\n%s", key, out)
		}
	}
}

func TestBenchParallelTable(t *testing.T) {
	path := randomModel(t, llamatest.RandomConfig{Seed: 42})
	out, errOut, err := joule(t, "bench", "parallel", "-m", path, "-t", "1", "--np", "2",
		"--pp", "8", "--tg", "3", "-r", "1", "--warmup=false")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "tg t/s min") || !strings.Contains(lines[0], "step ms") {
		t.Fatalf("table:\n%s", out)
	}
	if f := strings.Fields(lines[1]); len(f) != 14 || f[0] != "random.gguf" || f[1] != "1" || f[2] != "2" || f[3] != "8" || f[4] != "3" {
		t.Errorf("row %q", lines[1])
	}
}

func TestBenchParallelFlagErrors(t *testing.T) {
	path := randomModel(t, llamatest.RandomConfig{Seed: 43, Ctx: 64})
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--np", "0"}, "--np 0: need at least 1"},
		{[]string{"--np", "2,-1"}, "--np -1: need at least 1"},
		{[]string{"--pp", "0"}, "--pp must be at least 1"},
		{[]string{"--tg", "0"}, "--tg must be at least 1"},
		{[]string{"-r", "0"}, "--repetitions must be at least 1"},
		{[]string{"--shared-prefix", "-1"}, "--shared-prefix -1 must be between 0 and --pp (8)"},
		{[]string{"--shared-prefix", "9"}, "--shared-prefix 9 must be between 0 and --pp (8)"},
		{[]string{"--ubatch", "0"}, "--ubatch must be at least 1"},
		{[]string{"--np", "5", "--ubatch", "4"}, "--np 5 exceeds --ubatch 4"},
		{[]string{"--pp", "60", "--tg", "5"}, "--pp 60 plus --tg 5 exceeds the model's context length of 64"},
		{[]string{"--kv-type", "q8"}, `--kv-type "q8": want f16 or f32`},
		{[]string{"-t", "0"}, "--threads must be at least 1"},
	}
	for _, c := range cases {
		args := append([]string{"bench", "parallel", "-m", path, "--np", "1", "--pp", "8", "--tg", "2", "-r", "1"}, c.args...)
		_, _, err := joule(t, args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one saying %q", c.args, err, c.want)
		}
	}
	if _, _, err := joule(t, "bench", "parallel", "--np", "1"); err == nil || !strings.Contains(err.Error(), "model") {
		t.Errorf("no -m: error %v", err)
	}
}

// TestBenchParallelTokens checks that the benchmark does the real work: the
// greedy tokens of every sequence, whether computed in a batch, with a
// shared prefix, or alone, are those of a plain greedy loop over the same
// prompt through model.Forward.
func TestBenchParallelTokens(t *testing.T) {
	for _, typ := range []tensor.Type{tensor.F32, tensor.Q4_0} {
		t.Run(typ.String(), func(t *testing.T) {
			path := randomModel(t, llamatest.RandomConfig{Seed: 44, Type: typ, Embd: 64, Heads: 4, KVHeads: 2})
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := model.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			pool := tensor.NewPool(2)
			defer pool.Close()

			const np, pp, tg, shared, bs = 3, 29, 6, 21, 8
			prompts := parallelPrompts(m.Config.VocabSize, np, pp, shared, 1, 7)
			for j, p := range prompts {
				if p[0] != 1 || !slices.Equal(p[:shared], prompts[0][:shared]) || slices.Equal(p[shared:], prompts[(j+1)%np][shared:]) {
					t.Fatalf("prompt %d %v: want BOS, the shared prefix, then its own tokens", j, p)
				}
			}
			want := make([][]int, np)
			for j, p := range prompts {
				want[j] = greedyAlone(t, m, pool, p, tg)
			}
			if slices.Equal(want[0], want[1]) && slices.Equal(want[1], want[2]) {
				t.Fatalf("every prompt generates %v: the comparison would prove nothing", want[0])
			}

			// An odd ubatch splits prompts across calls and packs several
			// sequences into one.
			w := m.NewWorkspace(7)
			for _, tc := range []struct {
				name               string
				shared, prefix     int
				blocksUsed, ubatch int
			}{
				{"batched", 0, 0, np * 5, 7},
				// 21 shared tokens: two whole blocks of 8 computed once.
				{"shared prefix", shared, 16, 5 + (np-1)*3, 7},
				{"shared prefix, one token per call", shared, 16, 5 + (np-1)*3, 3},
			} {
				r, err := newParallelRun(m, pool, w, parallelSpec{
					Prompts: prompts, Gen: tg, Shared: tc.shared, UBatch: tc.ubatch, KVType: tensor.F16, BlockSize: bs,
				})
				if err != nil {
					t.Fatal(err)
				}
				if r.prefix != tc.prefix || r.blocks != tc.blocksUsed {
					t.Errorf("%s: %d tokens computed once in %d blocks, want %d in %d", tc.name, r.prefix, r.blocks, tc.prefix, tc.blocksUsed)
				}
				// Twice: the second run must not depend on what the
				// first left in the cache.
				for run := range 2 {
					if _, err := r.run(); err != nil {
						t.Fatal(err)
					}
					for j := range np {
						if !slices.Equal(r.gen[j], want[j]) {
							t.Errorf("%s, run %d, sequence %d: generated %v, alone %v", tc.name, run, j, r.gen[j], want[j])
						}
					}
				}
			}

			// Each prompt as the only sequence of the benchmark.
			for j, p := range prompts {
				r, err := newParallelRun(m, pool, w, parallelSpec{Prompts: [][]int{p}, Gen: tg, UBatch: 7, KVType: tensor.F16, BlockSize: bs})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := r.run(); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(r.gen[0], want[j]) {
					t.Errorf("np=1, prompt %d: generated %v, alone %v", j, r.gen[0], want[j])
				}
			}
		})
	}
}

// greedyAlone returns the tg+1 greedy tokens that follow prompt, computed
// with a State of its own, one Forward call per token.
func greedyAlone(t *testing.T, m *model.Model, pool *tensor.Pool, prompt []int, tg int) []int {
	t.Helper()
	s, err := m.NewState(len(prompt)+tg, tensor.F16)
	if err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, m.Config.VocabSize)
	if err := m.Forward(pool, s, prompt, logits); err != nil {
		t.Fatal(err)
	}
	var out []int
	for {
		best := 0
		for i, x := range logits {
			if x > logits[best] {
				best = i
			}
		}
		out = append(out, best)
		if len(out) == tg+1 {
			return out
		}
		if err := m.Forward(pool, s, []int{best}, logits); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParallelRunRefuses(t *testing.T) {
	path := randomModel(t, llamatest.RandomConfig{Seed: 45})
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := model.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	w := m.NewWorkspace(4)
	p := [][]int{{1, 5, 6}, {1, 5, 7}}
	for _, tc := range []struct {
		spec parallelSpec
		want string
	}{
		{parallelSpec{Prompts: p, Gen: 2, Shared: 3, UBatch: 4, KVType: tensor.F16}, "prompt 1 does not start with the 3 shared tokens"},
		{parallelSpec{Prompts: [][]int{{1, 2}, {1}}, Gen: 2, UBatch: 4, KVType: tensor.F16}, "prompt 1 has 1 tokens"},
		{parallelSpec{Prompts: p, Gen: 2, UBatch: 1, KVType: tensor.F16}, "forward calls of 1 tokens"},
		{parallelSpec{Prompts: p, Gen: 2, UBatch: 4, KVType: tensor.Q8_0}, "F16 or F32"},
	} {
		_, err := newParallelRun(m, nil, w, tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one saying %q", tc.spec, err, tc.want)
		}
	}
}

func TestBenchParallelSharedModel(t *testing.T) {
	path := sharedStories260K(t)
	out, errOut, err := joule(t, "bench", "parallel", "-m", path, "-t", "2", "--np", "4",
		"--pp", "32", "--tg", "8", "-r", "1", "--shared-prefix", "16", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var r parallelResult
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.NP != 4 || r.ComputedOnce != 16 || r.TGTokensPerS.Median <= 0 {
		t.Errorf("%v: %s", err, out)
	}
}

// TestParallelRunAllocs checks that a measured run allocates nothing of
// its own: the batch, logits and token buffers are reused.
func TestParallelRunAllocs(t *testing.T) {
	path := randomModel(t, llamatest.RandomConfig{Seed: 46})
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := model.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	prompts := parallelPrompts(m.Config.VocabSize, 4, 12, 9, -1, 3)
	r, err := newParallelRun(m, nil, m.NewWorkspace(5), parallelSpec{Prompts: prompts, Gen: 4, Shared: 9, UBatch: 5, KVType: tensor.F16, BlockSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	var runErr error
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := r.run(); err != nil {
			runErr = err
		}
	})
	if runErr != nil {
		t.Fatal(runErr)
	}
	if allocs != 0 {
		t.Errorf("a run allocates %g times", allocs)
	}
}
