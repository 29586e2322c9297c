package tensor

import (
	"math"
	"testing"
)

// testdata/ggml_golden2.txt holds what ggml computes for the types of
// legacy.go, kquant_low.go and iquant.go on the inputs of golden_test.go
// (testdata/ggml_golden2.c says how it was made).

// golden2Types are the types of ggml_golden2.c in its order, with the
// offsets of the fp16 scales its random blocks keep finite (-1: none).
// Q8_1 has no dequantizer in ggml, so no random blocks.
var golden2Types = []struct {
	name       string
	t          Type
	dOff, mOff int
}{
	{"q4_1", Q4_1, 0, 2},
	{"q5_0", Q5_0, 0, -1},
	{"q5_1", Q5_1, 0, 2},
	{"q8_1", Q8_1, -1, -1},
	{"q2_K", Q2_K, 80, 82},
	{"q3_K", Q3_K, 108, -1},
	{"iq4_nl", IQ4_NL, 0, -1},
	{"iq4_xs", IQ4_XS, 0, -1},
}

// TestGolden2Quantize checks the quantizers and dequantizers bit for bit
// against ggml's, on the golden inputs and on random blocks.
func TestGolden2Quantize(t *testing.T) {
	recs := readGoldenFile(t, "testdata/ggml_golden2.txt")
	x, _, r := goldenInputs()
	y := make([]float32, len(x))
	for _, tc := range golden2Types {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Quantize(tc.t, x)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, recs, "quantize/"+tc.name, q)
			if tc.dOff < 0 {
				return
			}
			if err := Dequantize(tc.t, q, y); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, recs, "dequantize/"+tc.name, floatBytes(y))
		})
		if tc.dOff < 0 {
			continue
		}
		// Made outside the subtest: the generator's sequence is shared.
		bb := tc.t.BlockBytes()
		q := goldenBlocks(r, tc.t, len(x))
		for b := 0; b < len(q)/bb; b++ {
			p := q[b*bb : (b+1)*bb]
			p[tc.dOff+1] &= 0x3b
			if tc.mOff >= 0 {
				p[tc.mOff+1] &= 0x3b
			}
		}
		t.Run(tc.name+"/random", func(t *testing.T) {
			if err := Dequantize(tc.t, q, y); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, recs, "dequantize-random/"+tc.name, floatBytes(y))
		})
	}
}

// TestGolden2Activations checks the Q8_1 activation quantizer against the
// one llama.cpp's x86-64 CPU backend runs.
func TestGolden2Activations(t *testing.T) {
	recs := readGoldenFile(t, "testdata/ggml_golden2.txt")
	_, a, _ := goldenInputs()
	q := make([]byte, len(a)/32*blockQ8_1)
	quantizeQ8_1Act(q, a)
	checkGolden(t, recs, "activation/q8_1", q)
}

// TestGolden2Dots compares the dot products bit for bit with ggml's x86
// kernels (the zen4 build's ggml_vec_dot_*): four weight rows of 1024
// against four activation rows, row r with row r, and for the 32-element
// types the first 992 elements of each (an odd number of blocks). The
// diagonal of a MatMul of the same rows must give the same bits.
func TestGolden2Dots(t *testing.T) {
	recs := readGoldenFile(t, "testdata/ggml_golden2.txt")
	x, a, _ := goldenInputs()
	const cols = 1024
	rows := len(x) / cols
	for _, tc := range golden2Types {
		if tc.t == Q8_1 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			kind, ok := matmulKindOf(tc.t)
			if !ok {
				t.Fatalf("no MatMul kind for %v", tc.t)
			}
			wq, err := Quantize(tc.t, x)
			if err != nil {
				t.Fatal(err)
			}
			wrow, _ := tc.t.RowBytes(cols)
			arow, _ := kind.act.RowBytes(cols)
			act := make([]byte, rows*arow)
			for r := 0; r < rows; r++ {
				kind.convert(act[r*arow:(r+1)*arow], a[r*cols:(r+1)*cols])
			}
			bs := tc.t.BlockSize()
			check := func(name string, nb int, got func(r int) float32) {
				rec, ok := recs[name]
				if !ok {
					t.Fatalf("golden record %s missing", name)
				}
				if len(rec.dots) != rows {
					t.Fatalf("golden %s has %d values, want %d", name, len(rec.dots), rows)
				}
				for r, want := range rec.dots {
					if g := got(r); math.Float32bits(g) != math.Float32bits(float32(want)) {
						t.Errorf("%s row %d: got %v, ggml %v", name, r, g, float32(want))
					}
				}
			}
			nb := cols / bs
			check("dot/"+tc.name, nb, func(r int) float32 {
				return kind.dot(wq[r*wrow:(r+1)*wrow], act[r*arow:(r+1)*arow], nb)
			})
			if bs == 32 {
				check("dot-odd/"+tc.name, nb-1, func(r int) float32 {
					return kind.dot(wq[r*wrow:(r+1)*wrow], act[r*arow:(r+1)*arow], nb-1)
				})
			}
			out := make([]float32, rows*rows)
			MatMul(nil, out, Matrix{Type: tc.t, Rows: rows, Cols: cols, Data: wq}, a, rows)
			check("dot/"+tc.name, nb, func(r int) float32 { return out[r*rows+r] })
		})
	}
}
