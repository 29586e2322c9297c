package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var lowbitTypes = []Type{Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS}

// lowbitRoundTrips bound the error of Quantize+Dequantize for the types of
// legacy.go, kquant_low.go and iquant.go, as roundTrips does for the core
// types: |err| <= rel*amax + floor per element, amax over the element's
// block (32) or super-block (256), and a relative RMS bound for Gaussian
// data. The legacy bounds are half a step (a full step for Q5_0's clamped
// +16) plus the fp16 rounding of d and m; the others are about 1.5 times
// the worst seen over many inputs.
var lowbitRoundTrips = []roundTrip{
	{Q4_1, 32, (1.0/15 + 2.0/2048) * 1.001, false, 32.0 / (1 << 24), 0.09},
	{Q5_0, 32, (1.0/16 + 1.0/2048) * 1.001, false, 32.0 / (1 << 24), 0.05},
	{Q5_1, 32, (1.0/31 + 2.0/2048) * 1.001, false, 64.0 / (1 << 24), 0.045},
	{Q8_1, 32, (1.0/254 + 1.0/2048) * 1.001, false, 127.0 / (1 << 24), 0.007},
	{Q2_K, 256, 0.55, false, 4096.0 / (1 << 24), 0.35},
	{Q3_K, 256, 0.40, false, 4096.0 / (1 << 24), 0.18},
	{IQ4_NL, 32, 0.20, false, 4096.0 / (1 << 24), 0.09},
	{IQ4_XS, 256, 0.18, false, 4096.0 / (1 << 24), 0.09},
}

func TestLowbitRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(30, 31))
	for _, kind := range vectorKinds {
		x := testVector(r, kind, 32*256)
		for _, rt := range lowbitRoundTrips {
			checkRoundTrip(t, kind, x, rt)
		}
	}
}

// TestLowbitZeros: all-zero input must come back as zeros, and a block
// of one value must come back close to it.
func TestLowbitZeros(t *testing.T) {
	for _, rt := range lowbitRoundTrips {
		for _, v := range []float32{0, 0.75, -2} {
			x := make([]float32, 512)
			for i := range x {
				x[i] = v
			}
			q, err := Quantize(rt.t, x)
			if err != nil {
				t.Fatal(err)
			}
			y := make([]float32, len(x))
			if err := Dequantize(rt.t, q, y); err != nil {
				t.Fatal(err)
			}
			for i := range y {
				if e := math.Abs(float64(y[i] - v)); !(e <= rt.rel*math.Abs(float64(v))) {
					t.Fatalf("%v: constant %v: element %d is %v", rt.t, v, i, y[i])
				}
			}
		}
	}
}

// lowbitOffsets returns, per element of a row of weights of type t, the
// magnitude of the offset term the dot product handles apart from the
// scaled levels (Q4_1 and Q5_1: m; Q2_K: dmin times the sub-block min),
// so that tolerances can allow for rounding in either part, and for the
// fp16 rounding of Q8_1's s, which the Q4_1 and Q5_1 products use.
func lowbitOffsets(ty Type, w []byte, cols int) []float64 {
	off := make([]float64, cols)
	switch ty {
	case Q4_1, Q5_1:
		bb := ty.BlockBytes()
		for i := range off {
			off[i] = math.Abs(float64(fp16(w[i/32*bb+2:])))
		}
	case Q2_K:
		for i := range off {
			b := w[i/QK_K*blockQ2_K:]
			off[i] = math.Abs(float64(fp16(b[82:])) * float64(b[i%QK_K/16]>>4))
		}
	}
	return off
}

// checkLowbitDot compares got, the product of weight row w (dequantized:
// wf) with activations x, against float64 sums: tightly against the
// converted activations x̂ MatMul uses, allowing float32 rounding of the
// sums and of the offset terms (with Q8_1's s rounded to fp16), and
// loosely against x itself, allowing also sum |w|*|x - x̂|, where x̂ must
// be within the converted type's step of x.
func checkLowbitDot(t *testing.T, name string, ty Type, got float64, w []byte, wf, x, xc []float32) {
	t.Helper()
	cols := len(wf)
	off := lowbitOffsets(ty, w, cols)
	kind, _ := matmulKindOf(ty)
	group := kind.act.BlockSize()
	var ref, refc, mag, tol, extra float64
	for g := 0; g < cols; g += group {
		var amax float64
		for _, v := range x[g : g+group] {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		// Q8_0 and Q8_1 store d in fp16, Q8_K in float32.
		step := amax/254*1.001 + amax/2048 + 127.0/(1<<25)
		if kind.act == Q8_K {
			step = amax / 254 * 1.001
		}
		var sumA float64
		for c := g; c < g+group; c++ {
			ex := math.Abs(float64(x[c]) - float64(xc[c]))
			if !(ex <= step) {
				t.Fatalf("%s: activation %d converted from %v to %v, more than %.3g off", name, c, x[c], xc[c], step)
			}
			w, a := float64(wf[c]), float64(xc[c])
			ref += w * float64(x[c])
			refc += w * a
			mag += (math.Abs(w) + 2*off[c]) * math.Abs(a)
			tol += math.Abs(w) * ex
			sumA += a
		}
		if kind.act == Q8_1 {
			// s = fp16(d*sum q) with d the float32 scale whose fp16
			// rounding x̂ uses: two roundings of relative error up to
			// 2^-11 (an absolute 2^-25 when s is subnormal). m is off[g]
			// for the whole block.
			extra += off[g] * (math.Abs(sumA)*2/2048*1.001 + 1.0/(1<<24))
		}
	}
	rounding := (float64(cols)+16)/(1<<23)*mag*1.01 + extra + 1e-30
	if d := math.Abs(got - refc); !(d <= rounding) {
		t.Errorf("%s: %v, float64 product with converted activations %v (diff %.3g > %.3g)", name, got, refc, d, rounding)
	}
	if d := math.Abs(got - ref); !(d <= tol+rounding) {
		t.Errorf("%s: %v, float64 reference %v (diff %.3g > %.3g)", name, got, ref, d, tol+rounding)
	}
}

// TestLowbitMatMul runs MatMul for each type over odd and even row counts,
// block counts and token counts, checks every output with checkLowbitDot,
// and checks that a pool gives the single-threaded bits.
func TestLowbitMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(40, 41))
	pool := NewPool(3)
	defer pool.Close()
	for _, ty := range lowbitTypes {
		bs := ty.BlockSize()
		cols := []int{bs, 3 * bs}
		if bs == 32 {
			cols = append(cols, 8*bs)
		}
		for _, rows := range []int{1, 7, 33} {
			for _, c := range cols {
				for _, n := range []int{1, 3} {
					name := fmt.Sprintf("%v/%dx%d/n=%d", ty, rows, c, n)
					w, wf := randomMatrix(t, r, ty, rows, c)
					x := make([]float32, n*c)
					for i := range x {
						x[i] = float32(r.NormFloat64())
					}
					out := make([]float32, n*rows+1)
					out[n*rows] = 42
					MatMul(nil, out, w, x, n)
					if out[n*rows] != 42 {
						t.Fatalf("%s: MatMul wrote past n*Rows", name)
					}
					pout := make([]float32, n*rows)
					MatMul(pool, pout, w, x, n)
					for i, v := range pout {
						if math.Float32bits(v) != math.Float32bits(out[i]) {
							t.Fatalf("%s: pool gives out[%d] = %v, single-threaded %v", name, i, v, out[i])
						}
					}
					for i := 0; i < n; i++ {
						xi := x[i*c : (i+1)*c]
						xc := convertedActivations(t, ty, xi)
						for row := 0; row < rows; row++ {
							checkLowbitDot(t, fmt.Sprintf("%s/out[%d][%d]", name, i, row), ty,
								float64(out[i*rows+row]), w.Row(row), wf[row*c:(row+1)*c], xi, xc)
						}
					}
				}
			}
		}
	}
}

// lowbitRandomRow returns a row of random bytes of type ty with its fp16
// scales kept finite and small, to reach bit patterns no quantizer makes.
func lowbitRandomRow(r *rand.Rand, ty Type, cols int) []byte {
	bb := ty.BlockBytes()
	w := make([]byte, cols/ty.BlockSize()*bb)
	for i := range w {
		w[i] = byte(r.Uint32())
	}
	var halves []int // offsets of the fp16 fields in a block
	switch ty {
	case Q4_1, Q5_1:
		halves = []int{0, 2}
	case Q2_K:
		halves = []int{80, 82}
	case Q3_K:
		halves = []int{108}
	default:
		halves = []int{0}
	}
	for b := 0; b < len(w)/bb; b++ {
		for _, h := range halves {
			w[b*bb+h+1] &= 0x3b
		}
	}
	return w
}

// TestLowbitDotRandomBlocks checks each dot product against the float64
// product of its dequantized inputs on random weight bytes, with the
// tolerance of checkLowbitDot.
func TestLowbitDotRandomBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(50, 51))
	for _, ty := range lowbitTypes {
		for trial := 0; trial < 20; trial++ {
			cols := ty.BlockSize() * (1 + r.IntN(9))
			checkRandomDot(t, r, ty, cols, fmt.Sprintf("%v/trial %d", ty, trial))
		}
	}
}

func checkRandomDot(t *testing.T, r *rand.Rand, ty Type, cols int, name string) {
	t.Helper()
	w := lowbitRandomRow(r, ty, cols)
	wf := make([]float32, cols)
	if err := Dequantize(ty, w, wf); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, cols)
	for i := range x {
		x[i] = float32(r.NormFloat64() * math.Exp(r.Float64()*4-2))
	}
	kind, _ := matmulKindOf(ty)
	n, _ := kind.act.RowBytes(cols)
	xq := make([]byte, n)
	kind.convert(xq, x)
	xc := make([]float32, cols)
	if err := Dequantize(kind.act, xq, xc); err != nil {
		t.Fatal(err)
	}
	got := kind.dot(w, xq, cols/ty.BlockSize())
	checkLowbitDot(t, name, ty, float64(got), w, wf, x, xc)
}

// FuzzLowbitDot runs the random-block check of TestLowbitDotRandomBlocks
// for fuzzed seeds.
func FuzzLowbitDot(f *testing.F) {
	f.Add(uint8(0), uint64(1), uint8(3))
	f.Add(uint8(4), uint64(2), uint8(1))
	f.Fuzz(func(t *testing.T, which uint8, seed uint64, blocks uint8) {
		ty := lowbitTypes[int(which)%len(lowbitTypes)]
		r := rand.New(rand.NewPCG(seed, 7))
		checkRandomDot(t, r, ty, ty.BlockSize()*(1+int(blocks)%16), fmt.Sprintf("%v/seed %d", ty, seed))
	})
}

// FuzzLowbitDequantize feeds arbitrary bytes to the dequantizers: they
// must not panic and must reject sources that are too short.
func FuzzLowbitDequantize(f *testing.F) {
	f.Add(uint8(0), make([]byte, 20))
	f.Add(uint8(4), make([]byte, 84))
	f.Add(uint8(6), []byte{1, 2, 3})
	types := append([]Type{Q8_1}, lowbitTypes...)
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		ty := types[int(which)%len(types)]
		n := len(data) / ty.BlockBytes() * ty.BlockSize()
		if err := Dequantize(ty, data, make([]float32, n)); err != nil {
			t.Fatalf("Dequantize(%v, %d bytes, %d values): %v", ty, len(data), n, err)
		}
		if err := Dequantize(ty, data, make([]float32, n+ty.BlockSize())); err == nil {
			t.Fatalf("Dequantize(%v) read past %d bytes", ty, len(data))
		}
	})
}
