package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func logitsOf(probs ...float64) []float32 {
	l := make([]float32, len(probs))
	for i, p := range probs {
		l[i] = float32(math.Log(p))
	}
	return l
}

func randomLogits(r *rand.Rand, n int) []float32 {
	l := make([]float32, n)
	for i := range l {
		l[i] = float32(r.NormFloat64() * 3)
	}
	return l
}

func TestArgmax(t *testing.T) {
	tests := []struct {
		logits []float32
		want   int
	}{
		{nil, -1},
		{[]float32{1}, 0},
		{[]float32{1, 3, 2}, 1},
		{[]float32{5, 5, 5}, 0},
		{[]float32{-3, -1, -1, -2}, 1},
		{[]float32{float32(math.Inf(-1)), -1e30}, 1},
	}
	for _, tt := range tests {
		if got := Argmax(tt.logits); got != tt.want {
			t.Errorf("Argmax(%v) = %d, want %d", tt.logits, got, tt.want)
		}
	}
}

func TestGreedyIsArgmax(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, cfg := range []SamplerConfig{
		{},
		{Temperature: 0, TopK: 40, TopP: 0.9, MinP: 0.1, Seed: 7},
		{Temperature: -1},
	} {
		s := NewSampler(cfg)
		for range 50 {
			l := randomLogits(r, 300)
			if got, want := s.Sample(l, nil), Argmax(l); got != want {
				t.Fatalf("%+v: Sample = %d, want argmax %d", cfg, got, want)
			}
		}
	}
	// Ties go to the lowest id, with and without the candidate path.
	tied := []float32{0, 2, 1, 2}
	if got := NewSampler(SamplerConfig{}).Sample(tied, nil); got != 1 {
		t.Errorf("tie: got %d, want 1", got)
	}
	pen := SamplerConfig{RepeatPenalty: 1.5, RepeatLastN: 8}
	if got := NewSampler(pen).Sample(tied, []int{0}); got != 1 {
		t.Errorf("tie with penalties: got %d, want 1", got)
	}
}

func TestTopK1IsGreedy(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	s := NewSampler(SamplerConfig{Temperature: 1.5, TopK: 1, Seed: 99})
	for range 100 {
		l := randomLogits(r, 1000)
		if got, want := s.Sample(l, nil), Argmax(l); got != want {
			t.Fatalf("top-k 1 picked %d, argmax is %d", got, want)
		}
	}
}

func TestSeedReproducible(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	l := randomLogits(r, 500)
	for i := range l {
		l[i] /= 6 // a flat distribution, so that draws vary
	}
	seq := func(seed uint64) []int {
		cfg := DefaultSamplerConfig()
		cfg.TopK, cfg.TopP, cfg.MinP, cfg.Temperature = 0, 0, 0, 1
		cfg.Seed = seed
		s := NewSampler(cfg)
		out := make([]int, 200)
		for i := range out {
			out[i] = s.Sample(l, nil)
		}
		return out
	}
	a, b := seq(42), seq(42)
	if !slices.Equal(a, b) {
		t.Fatal("same seed gave different sequences")
	}
	// 200 draws over hundreds of plausible tokens: two seeds agreeing on all
	// of them by chance is practically impossible.
	if c := seq(43); slices.Equal(a, c) {
		t.Fatal("different seeds gave the same sequence")
	}
	distinct := map[int]bool{}
	for _, x := range a {
		distinct[x] = true
	}
	if len(distinct) < 50 {
		t.Fatalf("only %d distinct tokens in 200 draws from a flat distribution", len(distinct))
	}
}

func ids(c []candidate) []int {
	out := make([]int, len(c))
	for i, x := range c {
		out[i] = int(x.id)
	}
	slices.Sort(out)
	return out
}

func candidates(l []float32) []candidate {
	c := make([]candidate, len(l))
	for i, v := range l {
		c[i] = candidate{int32(i), v}
	}
	return c
}

func TestTopK(t *testing.T) {
	tests := []struct {
		logits []float32
		k      int
		want   []int32 // in order, best first
	}{
		{[]float32{1, 5, 3, 4, 2}, 2, []int32{1, 3}},
		{[]float32{1, 5, 3, 4, 2}, 4, []int32{1, 3, 2, 4}},
		{[]float32{7, 7, 7, 7}, 2, []int32{0, 1}},
		{[]float32{0, 1, 0, 1, 0, 1}, 3, []int32{1, 3, 5}},
		{[]float32{-1, -2, -3, 9}, 1, []int32{3}},
	}
	for _, tt := range tests {
		got := topK(candidates(tt.logits), tt.k)
		gotIDs := make([]int32, len(got))
		for i, x := range got {
			gotIDs[i] = x.id
		}
		if !slices.Equal(gotIDs, tt.want) {
			t.Errorf("topK(%v, %d) = %v, want %v", tt.logits, tt.k, gotIDs, tt.want)
		}
	}
	// Against a full sort on random data.
	r := rand.New(rand.NewPCG(7, 8))
	for range 50 {
		l := randomLogits(r, 200)
		for i := range l {
			l[i] = float32(math.Round(float64(l[i]))) // plenty of ties
		}
		k := 1 + r.IntN(60)
		all := candidates(l)
		slices.SortFunc(all, compareCandidates)
		got := topK(candidates(l), k)
		if !slices.Equal(got, all[:k]) {
			t.Fatalf("topK k=%d differs from sorting", k)
		}
	}
}

func TestTopPMinPSets(t *testing.T) {
	probs := logitsOf(0.5, 0.3, 0.15, 0.05)
	tests := []struct {
		name string
		topP float32
		minP float32
		want []int
	}{
		{"top-p 0.4", 0.4, 0, []int{0}},
		{"top-p 0.79", 0.79, 0, []int{0, 1}},
		{"top-p 0.81", 0.81, 0, []int{0, 1, 2}},
		{"top-p 0.97", 0.97, 0, []int{0, 1, 2, 3}},
		{"min-p 0.7", 0, 0.7, []int{0}},
		{"min-p 0.5", 0, 0.5, []int{0, 1}},
		{"min-p 0.2", 0, 0.2, []int{0, 1, 2}},
		{"min-p 0.05", 0, 0.05, []int{0, 1, 2, 3}},
		{"both", 0.95, 0.5, []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := candidates(probs)
			// Shuffle so that the filters cannot rely on the input order.
			c[0], c[3] = c[3], c[0]
			sorted := false
			if tt.topP > 0 {
				slices.SortFunc(c, compareCandidates)
				sorted = true
				c = topP(c, tt.topP)
			}
			if tt.minP > 0 {
				c = minP(c, tt.minP, sorted)
			}
			if got := ids(c); !slices.Equal(got, tt.want) {
				t.Errorf("kept %v, want %v", got, tt.want)
			}

			// Through the public API: every draw comes from the kept set,
			// and every kept token shows up.
			s := NewSampler(SamplerConfig{Temperature: 1, TopP: tt.topP, MinP: tt.minP, Seed: 1})
			seen := map[int]int{}
			for range 4000 {
				seen[s.Sample(probs, nil)]++
			}
			var got []int
			for id := range seen {
				got = append(got, id)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Sample drew %v, want exactly %v", got, tt.want)
			}
		})
	}
}

func TestPenalties(t *testing.T) {
	tests := []struct {
		name   string
		cfg    SamplerConfig
		logits []float32
		recent []int
		want   []float32
	}{
		{"repeat divides positive, multiplies negative",
			SamplerConfig{RepeatPenalty: 2, RepeatLastN: 64},
			[]float32{2, -2, 1, 0}, []int{0, 1, 3}, []float32{1, -4, 1, 0}},
		{"counted once per distinct token",
			SamplerConfig{RepeatPenalty: 2, RepeatLastN: 64},
			[]float32{8, 1}, []int{0, 0, 0}, []float32{4, 1}},
		{"only the last N",
			SamplerConfig{RepeatPenalty: 2, RepeatLastN: 2},
			[]float32{2, 2, 2}, []int{0, 1, 2}, []float32{2, 1, 1}},
		{"frequency and presence",
			SamplerConfig{FrequencyPenalty: 0.5, PresencePenalty: 1, RepeatLastN: 64},
			[]float32{2, 2, 2}, []int{0, 0, 0, 1}, []float32{2 - 1.5 - 1, 2 - 0.5 - 1, 2}},
		{"all three",
			SamplerConfig{RepeatPenalty: 1.25, FrequencyPenalty: 0.1, PresencePenalty: 0.2, RepeatLastN: 64},
			[]float32{5, -5}, []int{0, 1, 1}, []float32{5/1.25 - 0.1 - 0.2, -5*1.25 - 0.2 - 0.2}},
		{"ids outside the vocabulary are ignored",
			SamplerConfig{RepeatPenalty: 2, RepeatLastN: 64},
			[]float32{2, 2}, []int{-1, 5, 1}, []float32{2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSampler(tt.cfg)
			c := candidates(tt.logits)
			s.applyPenalties(c, tt.recent)
			for i, want := range tt.want {
				if math.Abs(float64(c[i].logit-want)) > 1e-6 {
					t.Errorf("token %d: logit %g, want %g", i, c[i].logit, want)
				}
			}
			for i, n := range s.counts {
				if n != 0 {
					t.Fatalf("counts[%d] = %d left behind", i, n)
				}
			}
		})
	}

	// The penalties change the greedy choice.
	s := NewSampler(SamplerConfig{RepeatPenalty: 2, RepeatLastN: 64})
	if got := s.Sample([]float32{2, 1.5}, []int{0}); got != 1 {
		t.Errorf("positive logit: got %d, want 1", got)
	}
	if got := s.Sample([]float32{-1, -1.5}, []int{0}); got != 1 {
		t.Errorf("negative logit: got %d, want 1", got)
	}
	if got := s.Sample([]float32{2, 1.5}, []int{1}); got != 0 {
		t.Errorf("penalty on the other token: got %d, want 0", got)
	}
}

// chiSquare returns the chi-square statistic of counts against probs.
func chiSquare(counts []int, probs []float64) float64 {
	total := 0
	for _, c := range counts {
		total += c
	}
	var x2 float64
	for i, p := range probs {
		e := p * float64(total)
		d := float64(counts[i]) - e
		x2 += d * d / e
	}
	return x2
}

func TestDistribution(t *testing.T) {
	probs := []float64{0.4, 0.25, 0.15, 0.1, 0.06, 0.04}
	logits := logitsOf(probs...)
	// With 5 degrees of freedom, P(chi2 > 30) is below 2e-5: a correct
	// sampler passes, and a sampler off by a percent or two in any bucket fails.
	const bound = 30
	tempered := func(temp float64) []float64 {
		q := make([]float64, len(probs))
		var sum float64
		for i, p := range probs {
			q[i] = math.Pow(p, 1/temp)
			sum += q[i]
		}
		for i := range q {
			q[i] /= sum
		}
		return q
	}
	uniform := []float64{1. / 6, 1. / 6, 1. / 6, 1. / 6, 1. / 6, 1. / 6}
	for _, temp := range []float64{1, 0.5, 2} {
		s := NewSampler(SamplerConfig{Temperature: float32(temp), Seed: 12345})
		counts := make([]int, len(probs))
		const draws = 100000
		for range draws {
			counts[s.Sample(logits, nil)]++
		}
		want := tempered(temp)
		if x2 := chiSquare(counts, want); x2 > bound {
			t.Errorf("temperature %g: chi-square %.1f > %d, counts %v, want probabilities %v", temp, x2, bound, counts, want)
		}
		// The same statistic rejects the wrong distributions.
		for _, wrong := range [][]float64{uniform, tempered(temp * 1.3)} {
			if x2 := chiSquare(counts, wrong); x2 < 10*bound {
				t.Errorf("temperature %g: chi-square against a wrong distribution is only %.1f", temp, x2)
			}
		}
	}
}

func TestSampleDoesNotModifyLogits(t *testing.T) {
	l := []float32{3, 1, 2, 0.5}
	orig := slices.Clone(l)
	cfg := DefaultSamplerConfig()
	cfg.RepeatPenalty = 1.3
	s := NewSampler(cfg)
	for range 10 {
		s.Sample(l, []int{0, 2, 2})
	}
	if !slices.Equal(l, orig) {
		t.Fatalf("logits changed: %v, were %v", l, orig)
	}
}

func TestSampleAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	l := randomLogits(r, 32000)
	recent := make([]int, 100)
	for i := range recent {
		recent[i] = r.IntN(32000)
	}
	for _, cfg := range []SamplerConfig{
		DefaultSamplerConfig(),
		{Temperature: 0.7, TopP: 0.9, RepeatPenalty: 1.1, FrequencyPenalty: 0.1, RepeatLastN: 64},
		{Temperature: 1, MinP: 0.1},
		{},
	} {
		s := NewSampler(cfg)
		s.Sample(l, recent)
		if n := testing.AllocsPerRun(20, func() { s.Sample(l, recent) }); n != 0 {
			t.Errorf("%+v: %v allocations per Sample", cfg, n)
		}
	}
}

func BenchmarkSampleDefault(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	l := randomLogits(r, 128256)
	s := NewSampler(DefaultSamplerConfig())
	for b.Loop() {
		s.Sample(l, nil)
	}
}
