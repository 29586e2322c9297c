package tensor

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// testVector returns n values of one of several shapes, with per-block
// scales kept inside what fp16 block scales can represent.
func testVector(r *rand.Rand, kind string, n int) []float32 {
	x := make([]float32, n)
	scale := 1.0
	for i := range x {
		if i%256 == 0 {
			scale = math.Exp(r.Float64()*12 - 6) // 0.0025 .. 400
		}
		g := r.NormFloat64()
		var v float64
		switch kind {
		case "gaussian":
			v = g
		case "uniform":
			v = r.Float64()*2 - 1
		case "outliers":
			v = g
			if r.IntN(20) == 0 {
				v *= 30
			}
		case "positive":
			v = math.Abs(g) + 1
		case "negative":
			v = -math.Abs(g) * 1e-3
		case "zero sub-blocks":
			if (i/32)%3 != 0 {
				v = g * float64(1+(i/32)%8*10)
			}
		case "scaled":
			v = g * scale
		default:
			panic(kind)
		}
		x[i] = float32(v)
	}
	return x
}

var vectorKinds = []string{"gaussian", "uniform", "outliers", "positive", "negative", "zero sub-blocks", "scaled"}

// roundTrip describes the error Quantize+Dequantize may make for a type:
// |err| <= rel*amax + floor for every element, where amax is the largest
// magnitude in the element's group of `group` elements (its block for
// Q4_0/Q8_0, its super-block for k-quants) and floor allows for an fp16
// scale that is subnormal; plus a bound on the RMS error relative to the
// RMS of the input for Gaussian data.
var roundTrips = []roundTrip{
	{F32, 1, 0, true, 0, 0},
	{F16, 1, 1.0 / 2048, true, 1.0 / (1 << 25), 0.0003},
	{BF16, 1, 1.0 / 256, true, 0, 0.0025},
	// Q8_0: half a step of amax/127, plus up to 127 times the fp16
	// rounding of the step.
	{Q8_0, 32, (1.0/254 + 1.0/2048) * 1.001, false, 127.0 / (1 << 24), 0.007},
	// Q4_0: the step is amax/8; the one element of opposite sign to the
	// largest may be clamped from +8 to +7 steps, a full step off.
	{Q4_0, 32, (1 + 8.0/2048) / 8 * 1.001, false, 8.0 / (1 << 24), 0.10},
	// k-quants: 6-bit sub-block scales make the bound looser than half a
	// step; these are about 1.5 times the worst seen over many inputs.
	{Q4_K, 256, 0.15, false, 1008.0 / (1 << 24), 0.085},
	{Q5_K, 256, 0.08, false, 2016.0 / (1 << 24), 0.045},
	{Q6_K, 256, 0.03, false, 4096.0 / (1 << 24), 0.022},
	{Q8_K, 256, 1.0 / 254 * 1.001, false, 0, 0.009},
}

// roundTrip bounds the error of Quantize+Dequantize for one type.
type roundTrip struct {
	t        Type
	group    int
	rel      float64
	elemRel  bool // rel is relative to |x| itself (float types), not amax
	floor    float64
	gaussRMS float64
}

// checkRoundTrip checks that x of the given kind comes back from
// Quantize+Dequantize within rt's bounds.
func checkRoundTrip(t *testing.T, kind string, x []float32, rt roundTrip) {
	t.Helper()
	q, err := Quantize(rt.t, x)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := rt.t.RowBytes(len(x)); len(q) != want {
		t.Fatalf("%v: %d bytes, want %d", rt.t, len(q), want)
	}
	y := make([]float32, len(x))
	if err := Dequantize(rt.t, q, y); err != nil {
		t.Fatal(err)
	}
	var se, sx float64
	for g := 0; g < len(x); g += rt.group {
		var amax float64
		for _, v := range x[g : g+rt.group] {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		for i := g; i < g+rt.group; i++ {
			e := math.Abs(float64(y[i]) - float64(x[i]))
			ref := amax
			if rt.elemRel {
				ref = math.Abs(float64(x[i]))
			}
			if bound := rt.rel*ref + rt.floor; !(e <= bound) {
				t.Fatalf("%s %v: element %d: %g -> %g, error %.3g > bound %.3g", kind, rt.t, i, x[i], y[i], e, bound)
			}
			se += e * e
			sx += float64(x[i]) * float64(x[i])
		}
	}
	if kind == "gaussian" {
		rms := math.Sqrt(se / sx)
		if rms > rt.gaussRMS || rt.t == F32 && rms != 0 {
			t.Errorf("%v: relative RMS error %.5f > %.5f", rt.t, rms, rt.gaussRMS)
		}
	}
}

func TestQuantizeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 11))
	for _, kind := range vectorKinds {
		x := testVector(r, kind, 64*256)
		for _, rt := range roundTrips {
			checkRoundTrip(t, kind, x, rt)
		}
	}
}

// TestQuantizeEdgeCases covers inputs that are all zero, all equal, at the
// fp16 extremes, or tiny.
func TestQuantizeEdgeCases(t *testing.T) {
	fill := func(v float32) []float32 {
		x := make([]float32, 512)
		for i := range x {
			x[i] = v
		}
		return x
	}
	alternate := func(a, b float32) []float32 {
		x := make([]float32, 512)
		for i := range x {
			x[i] = a
			if i%2 == 1 {
				x[i] = b
			}
		}
		return x
	}
	cases := []struct {
		name string
		x    []float32
		tol  float64 // allowed error relative to the largest |x|, 0: exact
	}{
		{"zeros", fill(0), 0},
		{"negative zeros", fill(float32(math.Copysign(0, -1))), 0},
		{"all 0.5", fill(0.5), 0.003},
		{"all -3", fill(-3), 0.003},
		{"±65504", alternate(65504, -65504), 0.15},
		{"65504 and 0", alternate(65504, 0), 0.15},
		{"tiny", alternate(1e-7, -3e-8), 1},
	}
	for _, c := range cases {
		for _, rt := range roundTrips {
			q, err := Quantize(rt.t, c.x)
			if err != nil {
				t.Fatal(err)
			}
			y := make([]float32, len(c.x))
			if err := Dequantize(rt.t, q, y); err != nil {
				t.Fatal(err)
			}
			var amax float64
			for _, v := range c.x {
				amax = math.Max(amax, math.Abs(float64(v)))
			}
			for i := range y {
				e := math.Abs(float64(y[i]) - float64(c.x[i]))
				if math.IsNaN(float64(y[i])) || math.IsInf(float64(y[i]), 0) || e > c.tol*amax {
					t.Errorf("%s %v: element %d: %g -> %g", c.name, rt.t, i, c.x[i], y[i])
					break
				}
			}
		}
	}
	// Constant blocks are exact where the value is a representable step:
	// Q8_0 stores 127 steps of 3/127 in fp16, Q4_0 -8 steps of -0.5/8.
	for _, tc := range []struct {
		t Type
		v float32
	}{{Q4_0, 0.5}, {Q4_0, -2}, {Q8_0, 127.0 / 64}, {Q8_K, 3}} {
		q, _ := Quantize(tc.t, fill(tc.v))
		y := make([]float32, 512)
		if err := Dequantize(tc.t, q, y); err != nil {
			t.Fatal(err)
		}
		for i := range y {
			if y[i] != tc.v {
				t.Errorf("%v of constant %g: element %d is %g", tc.t, tc.v, i, y[i])
				break
			}
		}
	}
}

func TestQuantizeErrors(t *testing.T) {
	x := make([]float32, 256)
	for _, tc := range []struct {
		t    Type
		n    int
		want string
	}{
		{IQ2_XXS, 256, "IQ2_XXS"},
		{IQ2_XS, 256, "IQ2_XS"},
		{Type(99), 32, "type(99)"},
		{Q4_0, 31, "multiple"},
		{Q4_K, 32, "multiple"},
	} {
		_, err := Quantize(tc.t, x[:tc.n])
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Quantize(%v, %d values) error %v, want one mentioning %q", tc.t, tc.n, err, tc.want)
		}
		err = Dequantize(tc.t, make([]byte, 1024), x[:tc.n])
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Dequantize(%v, %d values) error %v, want one mentioning %q", tc.t, tc.n, err, tc.want)
		}
	}
	if err := Dequantize(Q8_0, make([]byte, 33), x[:32]); err == nil {
		t.Error("Dequantize accepted 33 bytes for one Q8_0 block")
	}
	if err := Dequantize(Q8_0, make([]byte, 40), x[:32]); err != nil {
		t.Errorf("Dequantize rejected extra source bytes: %v", err)
	}
	if err := QuantizeTo(Q8_0, make([]byte, 35), x[:32]); err == nil {
		t.Error("QuantizeTo accepted a 35-byte buffer for one Q8_0 block")
	}
	dst := make([]byte, 34)
	if err := QuantizeTo(Q8_0, dst, x[:32]); err != nil {
		t.Error(err)
	}
}

func TestQuantizeToMatchesQuantize(t *testing.T) {
	x := testVector(rand.New(rand.NewPCG(1, 1)), "gaussian", 512)
	for _, rt := range roundTrips {
		want, _ := Quantize(rt.t, x)
		got := make([]byte, len(want))
		for i := range got {
			got[i] = 0xa5 // stale contents must not survive
		}
		if err := QuantizeTo(rt.t, got, x); err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%v: QuantizeTo differs from Quantize", rt.t)
		}
	}
}

// Hand-built blocks: each test writes a block following the layout as
// documented in blocks.go and checks every dequantized value, computed
// here independently in float64 (all values are exact).

func checkDequant(t *testing.T, ty Type, block []byte, want []float64) {
	t.Helper()
	got := make([]float32, len(want))
	if err := Dequantize(ty, block, got); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if float64(got[i]) != want[i] {
			t.Errorf("%v element %d = %g, want %g", ty, i, got[i], want[i])
		}
	}
}

func TestDequantizeQ4_0Block(t *testing.T) {
	b := make([]byte, 18)
	putScale(b, 0x3800) // d = 0.5
	want := make([]float64, 32)
	for j := 0; j < 16; j++ {
		lo, hi := j, 15-j
		b[2+j] = byte(lo | hi<<4)
		want[j] = float64(lo-8) * 0.5
		want[j+16] = float64(hi-8) * 0.5
	}
	checkDequant(t, Q4_0, b, want)
}

func TestDequantizeQ8_0Block(t *testing.T) {
	b := make([]byte, 34)
	putScale(b, 0xb400) // d = -0.25
	want := make([]float64, 32)
	for j := 0; j < 32; j++ {
		q := int8(j*8 - 128)
		b[2+j] = byte(q)
		want[j] = float64(q) * -0.25
	}
	checkDequant(t, Q8_0, b, want)
}

// packScalesK4 places eight 6-bit scales and mins as Q4_K and Q5_K keep
// them: sub-blocks 0-3 in the low 6 bits of bytes j (scale) and j+4 (min);
// sub-blocks 4-7 with low nibbles in byte j+4 and top two bits in the top
// bits of bytes j-4 (scale) and j (min).
func packScalesK4(sc, m [8]uint8) []byte {
	b := make([]byte, 12)
	for j := 0; j < 4; j++ {
		b[j] = sc[j] | (sc[j+4]>>4)<<6
		b[j+4] = m[j] | (m[j+4]>>4)<<6
		b[j+8] = sc[j+4]&0xf | (m[j+4]&0xf)<<4
	}
	return b
}

func kScales() (sc, m [8]uint8) {
	for j := range sc {
		sc[j] = uint8(7*j + 5) // 5 .. 54: some above 15 to use the top bits
		m[j] = uint8(63 - 8*j) // 63 .. 7
	}
	return sc, m
}

func TestDequantizeQ4_KBlock(t *testing.T) {
	sc, m := kScales()
	b := make([]byte, 144)
	putScale(b[0:], 0x3c00) // d = 1
	putScale(b[2:], 0x3800) // dmin = 0.5
	copy(b[4:16], packScalesK4(sc, m))
	want := make([]float64, 256)
	for i := 0; i < 256; i++ {
		q := (i*7 + i/32) % 16
		c, half, l := i/64, (i/32)%2, i%32
		b[16+32*c+l] |= byte(q << (4 * half))
		s := i / 32
		want[i] = float64(sc[s])*float64(q) - 0.5*float64(m[s])
	}
	checkDequant(t, Q4_K, b, want)
}

func TestDequantizeQ5_KBlock(t *testing.T) {
	sc, m := kScales()
	b := make([]byte, 176)
	putScale(b[0:], 0x3400) // d = 0.25
	putScale(b[2:], 0x3c00) // dmin = 1
	copy(b[4:16], packScalesK4(sc, m))
	want := make([]float64, 256)
	for i := 0; i < 256; i++ {
		q := (i*11 + 3) % 32
		s, l := i/32, i%32
		b[48+32*(s/2)+l] |= byte(q&0xf) << (4 * (s % 2))
		b[16+l] |= byte(q>>4) << s
		want[i] = 0.25*float64(sc[s])*float64(q) - float64(m[s])
	}
	checkDequant(t, Q5_K, b, want)
}

func TestDequantizeQ6_KBlock(t *testing.T) {
	b := make([]byte, 210)
	putScale(b[208:], 0x3000) // d = 0.125
	var scales [16]int8
	for k := range scales {
		scales[k] = int8(k*9 - 70) // negative and positive
		b[192+k] = byte(scales[k])
	}
	want := make([]float64, 256)
	for i := 0; i < 256; i++ {
		q := (i*5 + i/64) % 64
		h, e := i/128, i%128
		quarter, l := e/32, e%32
		// quarters 0 and 2 use ql[l], 1 and 3 ql[l+32]; 0 and 1 the low
		// nibble, 2 and 3 the high one; qh[l] bits 2*quarter hold the top.
		qlIdx := 64*h + l + 32*(quarter%2)
		b[qlIdx] |= byte(q&0xf) << (4 * (quarter / 2))
		b[128+32*h+l] |= byte(q>>4) << (2 * quarter)
		want[i] = 0.125 * float64(scales[i/16]) * float64(q-32)
	}
	checkDequant(t, Q6_K, b, want)
}

func TestDequantizeQ8_KBlock(t *testing.T) {
	b := make([]byte, 292)
	putF32(b, 2.5)
	want := make([]float64, 256)
	for i := 0; i < 256; i++ {
		q := int8(i - 128)
		b[4+i] = byte(q)
		want[i] = 2.5 * float64(q)
	}
	checkDequant(t, Q8_K, b, want)
}

// TestQuantizeQ8_KSums checks the block sums Q8_K stores for the k-quant
// dot products.
func TestQuantizeQ8_KSums(t *testing.T) {
	x := testVector(rand.New(rand.NewPCG(2, 2)), "outliers", 1024)
	q, err := Quantize(Q8_K, x)
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 4; b++ {
		blk := q[b*292 : (b+1)*292]
		for j := 0; j < 16; j++ {
			var sum int
			for _, v := range blk[4+16*j : 4+16*j+16] {
				sum += int(int8(v))
			}
			if got := int(int16(binary.LittleEndian.Uint16(blk[260+2*j:]))); got != sum {
				t.Errorf("block %d bsums[%d] = %d, want %d", b, j, got, sum)
			}
		}
	}
}

func TestNearestInt(t *testing.T) {
	for _, tc := range []struct {
		f    float32
		want int32
	}{
		{0, 0}, {0.5, 0}, {1.5, 2}, {2.5, 2}, {-0.5, 0}, {-1.5, -2}, {-2.5, -2},
		{0.49999997, 0}, {3.7, 4}, {-3.7, -4}, {4194303, 4194303}, {-4194303, -4194303},
	} {
		if got := nearestInt(tc.f); got != tc.want {
			t.Errorf("nearestInt(%v) = %d, want %d", tc.f, got, tc.want)
		}
	}
}

// FuzzDequantize feeds arbitrary bytes to every dequantizer: it must not
// panic, and must reject sources that are too short.
func FuzzDequantize(f *testing.F) {
	f.Add(uint8(0), make([]byte, 18))
	f.Add(uint8(4), make([]byte, 210))
	f.Add(uint8(7), []byte{1, 2, 3})
	types := []Type{F32, F16, BF16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, Q8_K}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		ty := types[int(which)%len(types)]
		n := len(data) / ty.BlockBytes() * ty.BlockSize()
		dst := make([]float32, n)
		if err := Dequantize(ty, data, dst); err != nil {
			t.Fatalf("Dequantize(%v, %d bytes, %d values): %v", ty, len(data), n, err)
		}
		if err := Dequantize(ty, data, make([]float32, n+ty.BlockSize())); err == nil {
			t.Fatalf("Dequantize(%v) read past %d bytes", ty, len(data))
		}
	})
}

// FuzzQuantize quantizes arbitrary finite values to every type: it must
// not panic and must round-trip within the type's bound.
func FuzzQuantize(f *testing.F) {
	f.Add(uint8(3), int64(1), float32(1))
	f.Add(uint8(5), int64(2), float32(65504))
	f.Add(uint8(6), int64(3), float32(1e-7))
	f.Fuzz(func(t *testing.T, which uint8, seed int64, scale float32) {
		rt := roundTrips[int(which)%len(roundTrips)]
		s := math.Abs(float64(scale))
		if math.IsNaN(s) || s > 1000 || s < 1e-3 {
			return // keep fp16 block scales finite and normal
		}
		r := rand.New(rand.NewPCG(uint64(seed), 0))
		x := make([]float32, 256)
		for i := range x {
			x[i] = float32(r.NormFloat64() * s)
		}
		q, err := Quantize(rt.t, x)
		if err != nil {
			t.Fatal(err)
		}
		y := make([]float32, len(x))
		if err := Dequantize(rt.t, q, y); err != nil {
			t.Fatal(err)
		}
		var amax float64
		for _, v := range x {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		for i := range x {
			ref := amax
			if rt.elemRel {
				ref = math.Abs(float64(x[i]))
			}
			if e := math.Abs(float64(y[i] - x[i])); !(e <= rt.rel*ref*1.0001+rt.floor) {
				t.Fatalf("%v: element %d: %g -> %g", rt.t, i, x[i], y[i])
			}
		}
	})
}
