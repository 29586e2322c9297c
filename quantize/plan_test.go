package quantize

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/model/llamatest"
	"github.com/joule-llm/joule/tensor"
)

// randomFile returns a parsed random llama model.
func randomFile(t testing.TB, cfg llamatest.RandomConfig) *gguf.File {
	t.Helper()
	var buf bytes.Buffer
	if err := llamatest.WriteRandomLlama(&buf, cfg); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestParseFileType(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want FileType
	}{
		{"Q4_K_M", Q4_K_M}, {"q4_k_m", Q4_K_M}, {" Q8_0 ", Q8_0}, {"q4_0", Q4_0},
		{"Q4_K", Q4_K_M}, {"Q5_K", Q5_K_M}, {"q4_k_s", Q4_K_S}, {"Q5_K_S", Q5_K_S}, {"Q5_K_M", Q5_K_M},
		{"Q6_K", Q6_K}, {"F16", F16}, {"bf16", BF16}, {"F32", AllF32},
		{"15", Q4_K_M}, {"7", Q8_0}, {"0", AllF32}, {"32", BF16},
		{"Q4_1", Q4_1}, {"q5_0", Q5_0}, {"Q5_1", Q5_1}, {"Q2_K", Q2_K}, {"Q3_K_S", Q3_K_S},
		{"Q3_K_M", Q3_K_M}, {"Q3_K", Q3_K_M}, {"q3_k_l", Q3_K_L}, {"IQ4_NL", IQ4_NL}, {"iq4_xs", IQ4_XS},
		{"3", Q4_1}, {"8", Q5_0}, {"9", Q5_1}, {"10", Q2_K}, {"12", Q3_K_M}, {"25", IQ4_NL}, {"30", IQ4_XS},
	} {
		got, err := ParseFileType(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseFileType(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "IQ2_XS", "Q2_K_S", "IQ3_M", "4", "21", "99", "Q4_K_X", "-1"} {
		if ft, err := ParseFileType(in); err == nil {
			t.Errorf("ParseFileType(%q) = %v, want an error", in, ft)
		}
	}
}

func TestFileTypeNames(t *testing.T) {
	for _, ft := range FileTypes() {
		back, err := ParseFileType(ft.String())
		if err != nil || back != ft {
			t.Errorf("%d: ParseFileType(%q) = %v, %v", uint32(ft), ft.String(), back, err)
		}
		if _, ok := ft.DefaultType(); !ok {
			t.Errorf("%v has no default type", ft)
		}
	}
	if _, ok := FileType(21).DefaultType(); ok {
		t.Error("Q2_K_S (21) has a default type, but is not supported")
	}
}

func FuzzParseFileType(f *testing.F) {
	for _, s := range []string{"Q4_K_M", "q8_0", "15", "Q5_K", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ft, err := ParseFileType(s)
		if err != nil {
			return
		}
		if _, ok := ft.DefaultType(); !ok {
			t.Fatalf("ParseFileType(%q) = %v, which has no default type", s, ft)
		}
		if back, err := ParseFileType(ft.String()); err != nil || back != ft {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, ft, ft.String(), back, err)
		}
	})
}

// The expected types below are llama.cpp's: llama-quantize (the commit
// node-llama-cpp 3.22.1 bundles) gave byte-identical files for the same
// random models in every one of these file types.
func TestPlanTypes(t *testing.T) {
	untied8 := llamatest.RandomConfig{Embd: 256, FF: 256, Layers: 8, Heads: 4, KVHeads: 2, Seed: 1}
	tied8 := untied8
	tied8.Tied = true
	layers16 := untied8
	layers16.Layers = 16
	f16 := untied8
	f16.Type = tensor.F16
	gqa4 := untied8
	gqa4.KVHeads = 1
	files := map[string]*gguf.File{}
	file := func(name string, cfg llamatest.RandomConfig) *gguf.File {
		if files[name] == nil {
			files[name] = randomFile(t, cfg)
		}
		return files[name]
	}

	// layers returns "blk.N.<suffix>" for each N.
	layers := func(suffix string, ns ...int) []string {
		var out []string
		for _, n := range ns {
			out = append(out, fmt.Sprintf("blk.%d.%s", n, suffix))
		}
		return out
	}
	// With 8 layers Q4_K_M and Q5_K_M give more bits to layers 0, 3, 6, 7;
	// with 16 to 0, 1, 4, 7, 10, 13, 14, 15.
	more8 := []int{0, 3, 6, 7}
	more16 := []int{0, 1, 4, 7, 10, 13, 14, 15}
	all8 := []int{0, 1, 2, 3, 4, 5, 6, 7}
	set := func(typ tensor.Type, names ...[]string) map[string]tensor.Type {
		m := map[string]tensor.Type{}
		for _, ns := range names {
			for _, n := range ns {
				m[n] = typ
			}
		}
		return m
	}
	merge := func(ms ...map[string]tensor.Type) map[string]tensor.Type {
		out := map[string]tensor.Type{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	output := []string{"output.weight"}
	embd := []string{"token_embd.weight"}

	for _, tc := range []struct {
		name   string
		model  string
		cfg    llamatest.RandomConfig
		ft     FileType
		matrix tensor.Type            // every matrix not listed in special
		norms  tensor.Type            // 1-D tensors
		want   map[string]tensor.Type // the exceptions
	}{
		{"Q8_0", "untied8", untied8, Q8_0, tensor.Q8_0, tensor.F32, nil},
		{"Q4_0", "untied8", untied8, Q4_0, tensor.Q4_0, tensor.F32, set(tensor.Q6_K, output)},
		{"Q4_0 tied", "tied8", tied8, Q4_0, tensor.Q4_0, tensor.F32, set(tensor.Q6_K, embd)},
		{"Q8_0 tied", "tied8", tied8, Q8_0, tensor.Q8_0, tensor.F32, nil},
		{"Q4_K_M", "untied8", untied8, Q4_K_M, tensor.Q4_K, tensor.F32,
			set(tensor.Q6_K, output, layers("attn_v.weight", more8...), layers("ffn_down.weight", more8...))},
		{"Q4_K_M tied", "tied8", tied8, Q4_K_M, tensor.Q4_K, tensor.F32,
			set(tensor.Q6_K, embd, layers("attn_v.weight", more8...), layers("ffn_down.weight", more8...))},
		{"Q4_K_M 16 layers", "layers16", layers16, Q4_K_M, tensor.Q4_K, tensor.F32,
			set(tensor.Q6_K, output, layers("attn_v.weight", more16...), layers("ffn_down.weight", more16...))},
		{"Q5_K_M", "untied8", untied8, Q5_K_M, tensor.Q5_K, tensor.F32,
			set(tensor.Q6_K, output, layers("attn_v.weight", more8...), layers("ffn_down.weight", more8...))},
		{"Q4_K_S", "untied8", untied8, Q4_K_S, tensor.Q4_K, tensor.F32,
			merge(set(tensor.Q6_K, output), set(tensor.Q5_K, layers("attn_v.weight", 0, 1, 2, 3), layers("ffn_down.weight", 0)))},
		{"Q4_K_S 16 layers", "layers16", layers16, Q4_K_S, tensor.Q4_K, tensor.F32,
			merge(set(tensor.Q6_K, output), set(tensor.Q5_K, layers("attn_v.weight", 0, 1, 2, 3), layers("ffn_down.weight", 0, 1)))},
		{"Q5_K_S", "untied8", untied8, Q5_K_S, tensor.Q5_K, tensor.F32, set(tensor.Q6_K, output)},
		{"Q6_K", "untied8", untied8, Q6_K, tensor.Q6_K, tensor.F32, nil},
		{"F16", "untied8", untied8, F16, tensor.F16, tensor.F32, nil},
		{"BF16", "untied8", untied8, BF16, tensor.BF16, tensor.F32, nil},
		{"F32 from F16", "f16", f16, AllF32, tensor.F32, tensor.F32, nil},
		// The rules below follow llama-quant.cpp's for these file types.
		{"Q4_1", "untied8", untied8, Q4_1, tensor.Q4_1, tensor.F32, set(tensor.Q6_K, output)},
		{"Q5_0", "untied8", untied8, Q5_0, tensor.Q5_0, tensor.F32, set(tensor.Q6_K, output)},
		{"Q5_1 tied", "tied8", tied8, Q5_1, tensor.Q5_1, tensor.F32, set(tensor.Q6_K, embd)},
		{"Q2_K", "untied8", untied8, Q2_K, tensor.Q2_K, tensor.F32,
			merge(set(tensor.Q6_K, output), set(tensor.Q3_K, layers("attn_v.weight", all8...),
				layers("ffn_down.weight", all8...), layers("attn_output.weight", all8...)))},
		{"Q2_K GQA 4", "gqa4", gqa4, Q2_K, tensor.Q2_K, tensor.F32,
			merge(set(tensor.Q6_K, output), set(tensor.Q4_K, layers("attn_v.weight", all8...)),
				set(tensor.Q3_K, layers("ffn_down.weight", all8...), layers("attn_output.weight", all8...)))},
		{"Q3_K_S", "untied8", untied8, Q3_K_S, tensor.Q3_K, tensor.F32, set(tensor.Q6_K, output)},
		{"Q3_K_M", "untied8", untied8, Q3_K_M, tensor.Q3_K, tensor.F32,
			merge(set(tensor.Q6_K, output), set(tensor.Q5_K, layers("attn_v.weight", 0, 1)),
				set(tensor.Q4_K, layers("attn_v.weight", 2, 3, 4, 5, 6, 7), layers("ffn_down.weight", all8...),
					layers("attn_output.weight", all8...)))},
		{"Q3_K_M 16 layers", "layers16", layers16, Q3_K_M, tensor.Q3_K, tensor.F32,
			merge(set(tensor.Q6_K, output), set(tensor.Q5_K, layers("attn_v.weight", 0, 1), layers("ffn_down.weight", 0)),
				set(tensor.Q4_K, layers("attn_v.weight", 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
					layers("ffn_down.weight", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
					layers("attn_output.weight", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)))},
		{"Q3_K_L", "untied8", untied8, Q3_K_L, tensor.Q3_K, tensor.F32,
			merge(set(tensor.Q6_K, output), set(tensor.Q5_K, layers("attn_v.weight", all8...),
				layers("ffn_down.weight", all8...), layers("attn_output.weight", all8...)))},
		{"IQ4_NL", "untied8", untied8, IQ4_NL, tensor.IQ4_NL, tensor.F32,
			merge(set(tensor.Q6_K, output), set(tensor.Q5_K, layers("ffn_down.weight", 0)))},
		{"IQ4_XS GQA 4", "gqa4", gqa4, IQ4_XS, tensor.IQ4_XS, tensor.F32,
			merge(set(tensor.Q6_K, output), set(tensor.Q5_K, layers("ffn_down.weight", 0), layers("attn_v.weight", all8...)))},
		{"Q4_K_M from F16", "f16", f16, Q4_K_M, tensor.Q4_K, tensor.F32,
			set(tensor.Q6_K, output, layers("attn_v.weight", more8...), layers("ffn_down.weight", more8...))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := file(tc.model, tc.cfg)
			p, err := NewPlan(f, tc.ft)
			if err != nil {
				t.Fatal(err)
			}
			if p.FileType != tc.ft || len(p.Tensors) != len(f.Tensors) || p.Fallbacks != 0 {
				t.Fatalf("plan: file type %v, %d tensors, %d fallbacks; want %v, %d, 0", p.FileType, len(p.Tensors), p.Fallbacks, tc.ft, len(f.Tensors))
			}
			for _, c := range p.Tensors {
				want := tc.matrix
				if len(c.Dims) == 1 {
					want = tc.norms
				}
				if w, ok := tc.want[c.Name]; ok {
					want = w
				}
				if c.To != want || c.Want != want || c.Note != "" {
					t.Errorf("%s: %s -> %s (want %s, note %q); llama.cpp gives %s", c.Name, c.From, c.To, c.Want, c.Note, want)
				}
				if size, _ := c.To.Bytes(c.Dims); c.Size != size {
					t.Errorf("%s: size %d, want %d", c.Name, c.Size, size)
				}
			}
			for name := range tc.want {
				if !slices.ContainsFunc(p.Tensors, func(c Choice) bool { return c.Name == name }) {
					t.Errorf("expected tensor %s is not in the plan", name)
				}
			}
		})
	}
}

// TestPlanOrder checks llama.cpp's tensor order: tensors outside the
// blocks first, then by layer number (10 after 9), by name within each.
func TestPlanOrder(t *testing.T) {
	f := randomFile(t, llamatest.RandomConfig{Layers: 11, Embd: 32, Heads: 2, FF: 32})
	p, err := NewPlan(f, Q8_0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range p.Tensors {
		names = append(names, c.Name)
	}
	want := []string{"output.weight", "output_norm.weight", "token_embd.weight"}
	for i := range 11 {
		for _, s := range []string{"attn_k", "attn_norm", "attn_output", "attn_q", "attn_v", "ffn_down", "ffn_gate", "ffn_norm", "ffn_up"} {
			want = append(want, fmt.Sprintf("blk.%d.%s.weight", i, s))
		}
	}
	if !slices.Equal(names, want) {
		t.Errorf("order\n got %v\nwant %v", names, want)
	}
}

// TestPlanFallbacks uses rows that are not whole k-quant blocks (64
// columns) or not even whole 32-blocks (an FF of 80): llama.cpp falls back
// to Q5_0 for Q4_K, Q5_1 for Q5_K, Q8_0 for Q6_K, Q4_0 for Q2_K and Q3_K,
// IQ4_NL for IQ4_XS, and to F16 when nothing fits.
func TestPlanFallbacks(t *testing.T) {
	f := randomFile(t, llamatest.RandomConfig{Embd: 64, FF: 80, Layers: 3, Heads: 4, KVHeads: 2})
	type want struct {
		to, llama tensor.Type
		note      string // a fragment of the note
	}
	for _, tc := range []struct {
		ft        FileType
		fallbacks int
		tensors   map[string]want
	}{
		// Three layers: only layer 2 gets more bits (7n/8 = 2).
		{Q4_K_M, 3*7 + 1, map[string]want{
			"output.weight":            {tensor.Q8_0, tensor.Q8_0, ""}, // Q8_0 at once: 64 is not a multiple of 256
			"token_embd.weight":        {tensor.Q5_0, tensor.Q5_0, "row of 64 is not a multiple of 256 (Q4_K): Q5_0"},
			"blk.2.attn_v.weight":      {tensor.Q8_0, tensor.Q8_0, "(Q6_K): Q8_0"},
			"blk.1.attn_v.weight":      {tensor.Q5_0, tensor.Q5_0, "(Q4_K): Q5_0"},
			"blk.1.ffn_down.weight":    {tensor.F16, tensor.F16, "row of 80 is not a multiple of 256 (Q4_K): F16"},
			"blk.2.ffn_down.weight":    {tensor.F16, tensor.F16, "(Q6_K): F16"},
			"blk.1.ffn_up.weight":      {tensor.Q5_0, tensor.Q5_0, "(Q4_K): Q5_0"},
			"blk.2.attn_output.weight": {tensor.Q5_0, tensor.Q5_0, "(Q4_K): Q5_0"},
			"blk.2.attn_norm.weight":   {tensor.F32, tensor.F32, ""},
		}},
		{Q5_K_S, 3*7 + 1, map[string]want{
			"blk.0.attn_q.weight":   {tensor.Q5_1, tensor.Q5_1, "(Q5_K): Q5_1"},
			"blk.0.ffn_down.weight": {tensor.F16, tensor.F16, "(Q5_K): F16"},
			"output.weight":         {tensor.Q8_0, tensor.Q8_0, ""},
		}},
		{Q2_K, 3*7 + 1, map[string]want{
			"output.weight":            {tensor.Q8_0, tensor.Q8_0, ""},
			"token_embd.weight":        {tensor.Q4_0, tensor.Q4_0, "(Q2_K): Q4_0"},
			"blk.0.attn_v.weight":      {tensor.Q4_0, tensor.Q4_0, "(Q3_K): Q4_0"},
			"blk.0.attn_output.weight": {tensor.Q4_0, tensor.Q4_0, "(Q3_K): Q4_0"},
			"blk.0.ffn_down.weight":    {tensor.F16, tensor.F16, "row of 80 is not a multiple of 256 (Q3_K): F16"},
		}},
		{IQ4_XS, 3*7 + 1, map[string]want{
			"blk.0.attn_q.weight":   {tensor.IQ4_NL, tensor.IQ4_NL, "(IQ4_XS): IQ4_NL"},
			"blk.1.ffn_gate.weight": {tensor.IQ4_NL, tensor.IQ4_NL, "(IQ4_XS): IQ4_NL"},
			"blk.1.ffn_down.weight": {tensor.F16, tensor.F16, "(IQ4_XS): F16"},
		}},
		// The output matrix goes to Q6_K, which falls back to Q8_0.
		{Q4_0, 3 + 1, map[string]want{
			"output.weight":         {tensor.Q8_0, tensor.Q8_0, "row of 64 is not a multiple of 256 (Q6_K): Q8_0"},
			"token_embd.weight":     {tensor.Q4_0, tensor.Q4_0, ""},
			"blk.2.ffn_down.weight": {tensor.F16, tensor.F16, "row of 80 is not a multiple of 32 (Q4_0): F16"},
			"blk.2.ffn_gate.weight": {tensor.Q4_0, tensor.Q4_0, ""},
		}},
	} {
		t.Run(tc.ft.String(), func(t *testing.T) {
			p, err := NewPlan(f, tc.ft)
			if err != nil {
				t.Fatal(err)
			}
			if p.Fallbacks != tc.fallbacks {
				t.Errorf("%d fallbacks, want %d", p.Fallbacks, tc.fallbacks)
			}
			found := 0
			for _, c := range p.Tensors {
				w, ok := tc.tensors[c.Name]
				if !ok {
					continue
				}
				found++
				if c.To != w.to || c.Want != w.llama || !strings.Contains(c.Note, w.note) || (w.note == "") != (c.Note == "") {
					t.Errorf("%s: to %s (llama.cpp %s), note %q; want %s (%s), note with %q", c.Name, c.To, c.Want, c.Note, w.to, w.llama, w.note)
				}
			}
			if found != len(tc.tensors) {
				t.Errorf("found %d of the %d tensors", found, len(tc.tensors))
			}
		})
	}
}

// synthetic builds a GGUF file of the given 2-D (or 3-D) tensors, all
// zero, with arch's block count and more metadata from kv.
func synthetic(t *testing.T, arch string, layers int, kv map[string]any, tensors map[string][]uint64) *gguf.File {
	t.Helper()
	w := gguf.NewWriter()
	w.Set("general.architecture", arch)
	w.Set(arch+".block_count", uint32(layers))
	for k, v := range kv {
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		dims := tensors[n]
		size, err := tensor.F32.Bytes(dims)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor(n, tensor.F32, dims, make([]byte, size)); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestPlanModelRules covers the rules that depend on the architecture and
// the model's shape: Falcon, 8-expert models, and Llama 2 70B.
func TestPlanModelRules(t *testing.T) {
	mat := []uint64{256, 2}
	t.Run("falcon", func(t *testing.T) {
		tensors := map[string][]uint64{"output.weight": mat, "token_embd.weight": mat}
		for i := range 16 {
			tensors[fmt.Sprintf("blk.%d.ffn_down.weight", i)] = mat
			tensors[fmt.Sprintf("blk.%d.attn_output.weight", i)] = mat
		}
		f := synthetic(t, "falcon", 16, nil, tensors)
		p, err := NewPlan(f, Q4_K_M)
		if err != nil {
			t.Fatal(err)
		}
		// ffn_down: Q6_K below n/16, Q5_K in the use-more-bits layers.
		want := map[string]tensor.Type{"output.weight": tensor.Q8_0, "token_embd.weight": tensor.Q4_K}
		for i := range 16 {
			typ := tensor.Q4_K
			switch {
			case i < 1:
				typ = tensor.Q6_K
			case slices.Contains([]int{1, 4, 7, 10, 13, 14, 15}, i):
				typ = tensor.Q5_K
			}
			want[fmt.Sprintf("blk.%d.ffn_down.weight", i)] = typ
			want[fmt.Sprintf("blk.%d.attn_output.weight", i)] = tensor.Q4_K
		}
		checkTypes(t, p, want)
	})
	t.Run("8 experts", func(t *testing.T) {
		exps := []uint64{256, 2, 8}
		tensors := map[string][]uint64{"output.weight": mat, "token_embd.weight": mat}
		for i := range 4 {
			for _, n := range []string{"attn_q", "attn_k", "attn_v", "attn_output"} {
				tensors[fmt.Sprintf("blk.%d.%s.weight", i, n)] = mat
			}
			for _, n := range []string{"ffn_down_exps", "ffn_gate_exps", "ffn_up_exps"} {
				tensors[fmt.Sprintf("blk.%d.%s.weight", i, n)] = exps
			}
			tensors[fmt.Sprintf("blk.%d.ffn_gate_inp.weight", i)] = []uint64{256, 8}
		}
		f := synthetic(t, "llama", 4, map[string]any{"llama.expert_count": uint32(8)}, tensors)
		p, err := NewPlan(f, Q4_K_M)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]tensor.Type{"output.weight": tensor.Q6_K, "token_embd.weight": tensor.Q4_K}
		for i := range 4 {
			b := fmt.Sprintf("blk.%d.", i)
			want[b+"attn_q.weight"] = tensor.Q4_K
			want[b+"attn_k.weight"] = tensor.Q8_0
			want[b+"attn_v.weight"] = tensor.Q8_0
			want[b+"attn_output.weight"] = tensor.Q5_K
			want[b+"ffn_gate_exps.weight"] = tensor.Q4_K
			want[b+"ffn_up_exps.weight"] = tensor.Q4_K
			want[b+"ffn_gate_inp.weight"] = tensor.F32 // the router stays
			// n = 4: n/8 = 0 and 7n/8 = 3, so layers 2 and 3 get more bits.
			want[b+"ffn_down_exps.weight"] = map[bool]tensor.Type{true: tensor.Q6_K, false: tensor.Q4_K}[i >= 2]
		}
		checkTypes(t, p, want)
		for _, c := range p.Tensors {
			if strings.HasSuffix(c.Name, "_exps.weight") && c.Size != 8*2*uint64(c.To.BlockBytes()) {
				t.Errorf("%s: %d bytes for 8 experts of 2 rows of one %s block", c.Name, c.Size, c.To)
			}
		}
	})
	t.Run("70B", func(t *testing.T) {
		tensors := map[string][]uint64{}
		for i := range 80 {
			tensors[fmt.Sprintf("blk.%d.attn_v.weight", i)] = mat
		}
		kv := map[string]any{"llama.attention.head_count": uint32(64), "llama.attention.head_count_kv": uint32(8)}
		f := synthetic(t, "llama", 80, kv, tensors)
		p, err := NewPlan(f, Q4_K_M)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]tensor.Type{}
		for i := range 80 {
			typ := tensor.Q5_K // Q4_K raised to Q5_K for 70B
			if useMoreBits(i, 80) {
				typ = tensor.Q6_K
			}
			want[fmt.Sprintf("blk.%d.attn_v.weight", i)] = typ
		}
		checkTypes(t, p, want)
	})
	t.Run("no architecture", func(t *testing.T) {
		w := gguf.NewWriter()
		var buf bytes.Buffer
		w.WriteTo(&buf)
		f, err := gguf.Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewPlan(f, Q8_0); err == nil {
			t.Error("a file without general.architecture was planned")
		}
	})
	t.Run("split", func(t *testing.T) {
		f := synthetic(t, "llama", 1, map[string]any{"split.count": uint16(2)}, map[string][]uint64{"output.weight": mat})
		if _, err := NewPlan(f, Q8_0); err == nil || !strings.Contains(err.Error(), "split") {
			t.Errorf("a split part was planned: %v", err)
		}
	})
}

func checkTypes(t *testing.T, p *Plan, want map[string]tensor.Type) {
	t.Helper()
	if len(p.Tensors) != len(want) {
		t.Errorf("%d tensors in the plan, want %d", len(p.Tensors), len(want))
	}
	for _, c := range p.Tensors {
		if w, ok := want[c.Name]; !ok || c.To != w {
			t.Errorf("%s: %s, want %s", c.Name, c.To, w)
		}
	}
}

func TestMayQuantize(t *testing.T) {
	mat := []uint64{64, 64}
	for _, tc := range []struct {
		name string
		dims []uint64
		want bool
	}{
		{"blk.0.attn_q.weight", mat, true},
		{"token_embd.weight", mat, true},
		{"blk.3.ffn_down_exps.weight", []uint64{64, 64, 8}, true},
		{"blk.0.attn_norm.weight", []uint64{64}, false},
		{"blk.0.attn_norm.weight", mat, false}, // a norm, even 2-D
		{"blk.0.attn_q.weight", []uint64{64, 1}, false},
		{"blk.0.attn_q.weight", []uint64{64, 1, 1}, false},
		{"blk.0.attn_q.bias", mat, false},
		{"rope_freqs.weight", []uint64{32}, false},
		{"blk.0.ffn_gate_inp.weight", mat, false},
		{"position_embd.weight", mat, false},
		{"token_types.weight", mat, false},
		{"blk.0.ssm_conv1d.weight", mat, false},
		{"v.patch_embd.weight", mat, false},
	} {
		if got := mayQuantize(tc.name, tc.dims); got != tc.want {
			t.Errorf("mayQuantize(%q, %v) = %v, want %v", tc.name, tc.dims, got, tc.want)
		}
	}
}

func TestLayerOf(t *testing.T) {
	for in, want := range map[string]int{
		"blk.0.attn_q.weight": 0, "blk.17.ffn_up.weight": 17, "blk.x.attn_q.weight": -1,
		"token_embd.weight": -1, "output.weight": -1, "blk..weight": -1,
	} {
		if got := layerOf(in); got != want {
			t.Errorf("layerOf(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestCategoryOf(t *testing.T) {
	for in, want := range map[string]category{
		"output.weight": catOutput, "token_embd.weight": catTokenEmbd,
		"blk.1.attn_v.weight": catAttnV, "blk.1.attn_k.weight": catAttnK, "blk.1.attn_q.weight": catAttnQ,
		"blk.1.attn_qkv.weight": catAttnQKV, "blk.1.attn_kv_b.weight": catAttnKVB,
		"blk.1.attn_output.weight": catAttnOutput, "blk.1.ffn_down.weight": catFFNDown,
		"blk.1.ffn_down_exps.weight": catFFNDown, "blk.1.ffn_up.weight": catFFNUp, "blk.1.ffn_gate.weight": catFFNGate,
		"blk.1.attn_norm.weight": catOther, "output_norm.weight": catOther,
	} {
		if got := categoryOf(in); got != want {
			t.Errorf("categoryOf(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestSubstitute(t *testing.T) {
	for _, tc := range []struct {
		want tensor.Type
		cols uint64
		got  tensor.Type
	}{
		{tensor.Q5_0, 64, tensor.Q8_0},
		{tensor.Q5_1, 96, tensor.Q8_0},
		{tensor.Q5_0, 256, tensor.Q5_K}, // as many bits per weight, and it fits
		{tensor.Q4_1, 64, tensor.Q8_0},
		{tensor.Q5_0, 48, tensor.F16},
	} {
		if got := substitute(tc.want, tc.cols); got != tc.got {
			t.Errorf("substitute(%s, %d) = %s, want %s", tc.want, tc.cols, got, tc.got)
		}
	}
}
