package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

var matmulTypes = []Type{F32, F16, BF16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K}

// randomMatrix returns a rows×cols matrix of type t holding quantized
// Gaussian weights, and the same weights dequantized.
func randomMatrix(t testing.TB, r *rand.Rand, ty Type, rows, cols int) (Matrix, []float32) {
	t.Helper()
	w := make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(r.NormFloat64() * 0.5)
	}
	data, err := Quantize(ty, w)
	if err != nil {
		t.Fatal(err)
	}
	if err := Dequantize(ty, data, w); err != nil {
		t.Fatal(err)
	}
	return Matrix{Type: ty, Rows: rows, Cols: cols, Data: data}, w
}

// activationError bounds |x - x̂| for each element of one token's
// activations after MatMul converts them for weights of type t.
func activationError(ty Type, x []float32) []float64 {
	e := make([]float64, len(x))
	group := func(n int, rel, floor float64) {
		for g := 0; g < len(x); g += n {
			var amax float64
			for _, v := range x[g : g+n] {
				amax = math.Max(amax, math.Abs(float64(v)))
			}
			for i := g; i < g+n; i++ {
				e[i] = rel*amax + floor
			}
		}
	}
	switch ty {
	case F32:
	case F16:
		for i, v := range x {
			e[i] = math.Abs(float64(v))/2048 + 1.0/(1<<25)
		}
	case BF16:
		for i, v := range x {
			e[i] = math.Abs(float64(v)) / 256
		}
	case Q4_0, Q8_0: // Q8_0 blocks, fp16 scale
		group(32, (1.0/254+1.0/2048)*1.001, 127.0/(1<<25))
	default: // Q8_K blocks, float32 scale
		group(256, 1.0/254*1.001, 0)
	}
	return e
}

// TestMatMul compares MatMul with a float64 product of the dequantized
// weights and the exact activations. The allowed difference is what
// converting the activations can cause, sum |w|*|x - x̂|, plus float32
// rounding of the sums. Every pool size must give identical bits.
func TestMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 21))
	pools := []*Pool{nil, NewPool(1), NewPool(2), NewPool(3)}
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	for _, ty := range matmulTypes {
		bs := ty.BlockSize()
		colChoices := []int{bs, 3 * bs, 5 * bs}
		if bs == 1 {
			colChoices = []int{1, 37, 130}
		}
		for _, rows := range []int{1, 7, 33} {
			for _, cols := range colChoices {
				for _, n := range []int{1, 3} {
					name := fmt.Sprintf("%v/%dx%d/n=%d", ty, rows, cols, n)
					w, wf := randomMatrix(t, r, ty, rows, cols)
					x := make([]float32, n*cols)
					for i := range x {
						x[i] = float32(r.NormFloat64())
					}
					var first []float32
					for pi, p := range pools {
						out := make([]float32, n*rows+5)
						for i := range out {
							out[i] = float32(math.NaN())
						}
						MatMul(p, out, w, x, n)
						for i := n * rows; i < len(out); i++ {
							if !math.IsNaN(float64(out[i])) {
								t.Fatalf("%s: MatMul wrote out[%d], past n*Rows", name, i)
							}
						}
						out = out[:n*rows]
						if pi == 0 {
							first = out
							checkMatMul(t, name, ty, out, wf, x, rows, cols, n)
							continue
						}
						for i := range out {
							if math.Float32bits(out[i]) != math.Float32bits(first[i]) {
								t.Fatalf("%s: %d threads give out[%d] = %v, single-threaded %v", name, p.Threads(), i, out[i], first[i])
							}
						}
					}
				}
			}
		}
	}
}

// checkMatMul checks out twice: tightly against the float64 product with
// the converted activations x̂, which MatMul must compute up to float32
// rounding, and loosely against the product with x itself, allowing what
// the conversion can cause, sum |w|*|x - x̂|.
func checkMatMul(t *testing.T, name string, ty Type, out, w, x []float32, rows, cols, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		xi := x[i*cols : (i+1)*cols]
		xc := convertedActivations(t, ty, xi)
		ex := activationError(ty, xi)
		for r := 0; r < rows; r++ {
			wr := w[r*cols : (r+1)*cols]
			var ref, refc, mag, tol float64
			for c := range wr {
				ref += float64(wr[c]) * float64(xi[c])
				refc += float64(wr[c]) * float64(xc[c])
				mag += math.Abs(float64(wr[c]) * float64(xi[c]))
				tol += math.Abs(float64(wr[c])) * ex[c]
			}
			rounding := (float64(cols)+16)/(1<<23)*mag*1.01 + 1e-30
			got := float64(out[i*rows+r])
			if d := math.Abs(got - refc); !(d <= rounding) {
				t.Errorf("%s: out[%d][%d] = %v, float64 product with converted activations %v (diff %.3g > %.3g)", name, i, r, got, refc, d, rounding)
			}
			if d := math.Abs(got - ref); !(d <= tol+rounding) {
				t.Errorf("%s: out[%d][%d] = %v, float64 reference %v (diff %.3g > %.3g)", name, i, r, got, ref, d, tol+rounding)
			}
		}
	}
}

// convertedActivations returns x as MatMul sees it for weights of type t.
func convertedActivations(t *testing.T, ty Type, x []float32) []float32 {
	t.Helper()
	kind, _ := matmulKindOf(ty)
	if kind.act == F32 {
		return x
	}
	n, err := kind.act.RowBytes(len(x))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, n)
	kind.convert(b, x)
	xc := make([]float32, len(x))
	if err := Dequantize(kind.act, b, xc); err != nil {
		t.Fatal(err)
	}
	return xc
}

// TestMatMulConvertsActivations checks that MatMul really uses converted
// activations: with one nonzero weight the result is w * x̂ (up to the
// order of the float32 products), measurably different from w * x.
func TestMatMulConvertsActivations(t *testing.T) {
	x := make([]float32, 256)
	x[0] = 1.0 / 3
	for i := 1; i < 256; i++ {
		x[i] = float32(i%7) * 0.125
	}
	w := make([]float32, 256)
	w[0] = 1
	for _, tc := range []struct {
		ty, act Type
	}{{F16, F16}, {BF16, BF16}, {Q8_0, Q8_0}, {Q6_K, Q8_K}} {
		data, err := Quantize(tc.ty, w)
		if err != nil {
			t.Fatal(err)
		}
		wd := make([]float32, 256)
		if err := Dequantize(tc.ty, data, wd); err != nil {
			t.Fatal(err)
		}
		xq := make([]byte, func() int { n, _ := tc.act.RowBytes(256); return n }())
		kind, _ := matmulKindOf(tc.ty)
		kind.convert(xq, x)
		xd := make([]float32, 256)
		if err := Dequantize(tc.act, xq, xd); err != nil {
			t.Fatal(err)
		}
		out := make([]float32, 1)
		MatMul(nil, out, Matrix{Type: tc.ty, Rows: 1, Cols: 256, Data: data}, x, 1)
		want, plain := float64(wd[0])*float64(xd[0]), float64(wd[0])*float64(x[0])
		tol := math.Abs(want) / (1 << 22)
		if math.Abs(float64(out[0])-want) > tol || math.Abs(plain-want) <= 4*tol {
			t.Errorf("%v: got %v, want w*x̂ = %v, distinct from w*x = %v", tc.ty, out[0], want, plain)
		}
	}
}

func TestMatMulZeros(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	r := rand.New(rand.NewPCG(30, 31))
	for _, ty := range matmulTypes {
		cols := 2 * QK_K
		w, _ := randomMatrix(t, r, ty, 4, cols)
		zw := Matrix{Type: ty, Rows: 4, Cols: cols, Data: make([]byte, len(w.Data))}
		x := make([]float32, 2*cols)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		out := make([]float32, 8)
		MatMul(p, out, zw, x, 2)
		for i, v := range out {
			if v != 0 {
				t.Errorf("%v: zero weights give out[%d] = %v", ty, i, v)
			}
		}
		MatMul(p, out, w, make([]float32, 2*cols), 2)
		for i, v := range out {
			if v != 0 {
				t.Errorf("%v: zero activations give out[%d] = %v", ty, i, v)
			}
		}
	}
	// n == 0 and empty matrices are no-ops.
	MatMul(p, nil, Matrix{Type: Q4_0, Rows: 3, Cols: 32, Data: make([]byte, 54)}, nil, 0)
	MatMul(p, nil, Matrix{Type: Q4_0, Rows: 0, Cols: 32}, make([]float32, 32), 1)
}

func TestMatMulPanics(t *testing.T) {
	ok := Matrix{Type: Q8_0, Rows: 2, Cols: 32, Data: make([]byte, 68)}
	for _, tc := range []struct {
		name string
		w    Matrix
		x    []float32
		out  []float32
		n    int
		want string
	}{
		{"unsupported type", Matrix{Type: IQ2_XXS, Rows: 1, Cols: 256, Data: make([]byte, 66)}, make([]float32, 256), make([]float32, 1), 1, "IQ2_XXS"},
		{"partial block", Matrix{Type: Q8_0, Rows: 1, Cols: 16, Data: make([]byte, 34)}, make([]float32, 16), make([]float32, 1), 1, "multiple"},
		{"short data", Matrix{Type: Q8_0, Rows: 3, Cols: 32, Data: make([]byte, 68)}, make([]float32, 32), make([]float32, 3), 1, "needs 102 bytes"},
		{"short x", ok, make([]float32, 63), make([]float32, 4), 2, "len(x) = 63"},
		{"short out", ok, make([]float32, 64), make([]float32, 3), 2, "len(out) = 3"},
	} {
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			MatMul(nil, tc.out, tc.w, tc.x, tc.n)
			return "no panic"
		}()
		if !strings.Contains(msg, tc.want) {
			t.Errorf("%s: panic %q, want one mentioning %q", tc.name, msg, tc.want)
		}
	}
}

func TestMatrix(t *testing.T) {
	m := Matrix{Type: Q4_0, Rows: 3, Cols: 64, Data: make([]byte, 3*36)}
	for i := range m.Data {
		m.Data[i] = byte(i)
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	row := m.Row(2)
	if len(row) != 36 || row[0] != 72 || row[35] != 107 {
		t.Errorf("Row(2) = %d bytes starting %d, want 36 starting 72", len(row), row[0])
	}
	if err := (Matrix{Type: Q4_0, Rows: -1, Cols: 32}).Check(); err == nil {
		t.Error("Check accepted negative rows")
	}
	if err := (Matrix{Type: I32, Rows: 1, Cols: 1, Data: make([]byte, 4)}).Check(); err == nil || !strings.Contains(err.Error(), "I32") {
		t.Errorf("Check(I32) = %v, want an error naming I32", err)
	}
}

// TestMatMulNoAllocs: with a pool, repeated MatMuls allocate nothing.
func TestMatMulNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(40, 41))
	p := NewPool(2)
	defer p.Close()
	for _, ty := range matmulTypes {
		w, _ := randomMatrix(t, r, ty, 16, 512)
		x := make([]float32, 4*512)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		out := make([]float32, 4*16)
		MatMul(p, out, w, x, 4) // grow the scratch to the larger size first
		for _, n := range []int{1, 4} {
			if a := testing.AllocsPerRun(20, func() { MatMul(p, out, w, x, n) }); a != 0 {
				t.Errorf("%v n=%d: %v allocations per MatMul", ty, n, a)
			}
		}
	}
}
