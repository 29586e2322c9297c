package tensor

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"testing"
)

// refFP16 is an independent model of binary16 rounding: the float64 value
// Float32ToFP16(f) must encode (±Inf on overflow).
func refFP16(f float32) float64 {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) || v == 0 {
		return v
	}
	// Exponent of the leading bit; subnormals share that of the smallest
	// normal. The rounding itself is float64 RoundToEven.
	exp := max(floatExp(f), -14)
	ulp := pow2(exp - 10)
	r := math.RoundToEven(math.Abs(v)/ulp) * ulp
	if r > 65504 {
		r = math.Inf(1)
	}
	return math.Copysign(r, v)
}

// refBF16 is the same model for bfloat16 (8 significant bits, float32's
// exponent range).
func refBF16(f float32) float64 {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) || v == 0 {
		return v
	}
	exp := max(floatExp(f), -126)
	ulp := pow2(exp - 7)
	r := math.RoundToEven(math.Abs(v)/ulp) * ulp
	return math.Copysign(float64(float32(r)), v) // float32 overflows to Inf
}

// floatExp returns e with 2^e <= |f| < 2^(e+1) for finite nonzero f.
func floatExp(f float32) int {
	b := math.Float32bits(f)
	if e := int(b>>23) & 0xff; e != 0 {
		return e - 127
	}
	return bits.Len32(b&0x7fffff) - 1 - 149 // float32 subnormal
}

func pow2(e int) float64 { return math.Float64frombits(uint64(e+1023) << 52) }

func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b && math.Signbit(a) == math.Signbit(b)
}

func checkFP16(t *testing.T, f float32) bool {
	t.Helper()
	h := Float32ToFP16(f)
	got, want := float64(FP16ToFloat32(h)), refFP16(f)
	if !sameFloat(got, want) {
		t.Errorf("Float32ToFP16(%g [%#08x]) = %#04x (%g), want %g", f, math.Float32bits(f), h, got, want)
		return false
	}
	return true
}

func checkBF16(t *testing.T, f float32) bool {
	t.Helper()
	h := Float32ToBF16(f)
	got, want := float64(BF16ToFloat32(h)), refBF16(f)
	if !sameFloat(got, want) {
		t.Errorf("Float32ToBF16(%g [%#08x]) = %#04x (%g), want %g", f, math.Float32bits(f), h, got, want)
		return false
	}
	return true
}

func TestFP16Known(t *testing.T) {
	for _, tc := range []struct {
		h uint16
		f float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xc000, -2},
		{0x3555, 0.333251953125},
		{0x7bff, 65504},
		{0xfbff, -65504},
		{0x0400, 1.0 / 16384},           // smallest normal, 2^-14
		{0x0001, 1.0 / 16777216},        // smallest subnormal, 2^-24
		{0x03ff, 1023.0 / 16777216},     // largest subnormal
		{0x8001, -1.0 / 16777216},       // negative subnormal
		{0x3bff, 1 - 1.0/2048},          // largest below 1
		{0x3c01, 1 + 1.0/1024},          // smallest above 1
		{0x7c00, float32(math.Inf(1))},  // +Inf
		{0xfc00, float32(math.Inf(-1))}, // -Inf
		{0x5640, 100},                   // integer
		{0x2e66, 0.0999755859375},       // 0.1 rounded
		{0x1400, 1.0 / 1024},            // 2^-10
	} {
		if got := FP16ToFloat32(tc.h); got != tc.f {
			t.Errorf("FP16ToFloat32(%#04x) = %g, want %g", tc.h, got, tc.f)
		}
		if got := Float32ToFP16(tc.f); got != tc.h {
			t.Errorf("Float32ToFP16(%g) = %#04x, want %#04x", tc.f, got, tc.h)
		}
	}
	if h := Float32ToFP16(float32(math.Copysign(0, -1))); h != 0x8000 {
		t.Errorf("Float32ToFP16(-0) = %#04x, want 0x8000", h)
	}
	for _, f := range []float32{65520, 1e6, float32(math.MaxFloat32)} {
		if h := Float32ToFP16(f); h != 0x7c00 {
			t.Errorf("Float32ToFP16(%g) = %#04x, want Inf 0x7c00", f, h)
		}
		if h := Float32ToFP16(-f); h != 0xfc00 {
			t.Errorf("Float32ToFP16(%g) = %#04x, want -Inf 0xfc00", -f, h)
		}
	}
	if h := Float32ToFP16(65519.996); h != 0x7bff {
		t.Errorf("Float32ToFP16(65519.996) = %#04x, want 0x7bff", h)
	}
	for _, f := range []float32{1e-8, 2.9e-8, float32(math.SmallestNonzeroFloat32)} {
		if h := Float32ToFP16(f); h != 0 {
			t.Errorf("Float32ToFP16(%g) = %#04x, want 0", f, h)
		}
	}
	if h := Float32ToFP16(3e-8); h != 1 { // just above half the smallest subnormal
		t.Errorf("Float32ToFP16(3e-8) = %#04x, want 1", h)
	}
}

// TestFP16RoundTrip converts every binary16 value to float32 and back.
func TestFP16RoundTrip(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := FP16ToFloat32(h)
		back := Float32ToFP16(f)
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 { // NaN: stays NaN, made quiet
			if !math.IsNaN(float64(f)) || back != h|0x200 {
				t.Errorf("NaN %#04x: float %g, back %#04x, want %#04x", h, f, back, h|0x200)
			}
			continue
		}
		if back != h {
			t.Errorf("%#04x -> %g -> %#04x", h, f, back)
		}
	}
}

// TestFloat32ToFP16Boundaries checks every rounding boundary: the float32
// midpoint between each pair of adjacent binary16 values (ties to even)
// and the float32 values just either side of it.
func TestFloat32ToFP16Boundaries(t *testing.T) {
	for i := 0; i < 0x7c00; i++ {
		lo := float64(FP16ToFloat32(uint16(i)))
		hi := 65536.0 // one step past the largest finite value: rounds to Inf
		if i < 0x7bff {
			hi = float64(FP16ToFloat32(uint16(i + 1)))
		}
		mid := float32((lo + hi) / 2) // exact: needs one bit more than binary16
		for _, f := range []float32{
			mid,
			math.Nextafter32(mid, 0),
			math.Nextafter32(mid, float32(math.Inf(1))),
		} {
			if !checkFP16(t, f) || !checkFP16(t, -f) {
				return
			}
		}
		want := uint16(i)
		if i&1 == 1 {
			want++
		}
		if got := Float32ToFP16(mid); got != want {
			t.Fatalf("tie %g between %#04x and its successor: got %#04x, want %#04x", mid, i, got, want)
		}
	}
}

func TestFloat32ToFP16Random(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1<<20; i++ {
		var f float32
		if i%2 == 0 {
			f = math.Float32frombits(r.Uint32()) // any bit pattern
		} else {
			// Concentrate on the binary16 range, subnormals included.
			f = float32(math.Ldexp(r.Float64()+0.5, r.IntN(46)-30))
			if r.IntN(2) == 0 {
				f = -f
			}
		}
		if !checkFP16(t, f) {
			return
		}
	}
}

// TestFP16Exhaustive compares every float32 against the models. It takes
// about a minute on two cores, so it runs only when JOULE_EXHAUSTIVE is set.
func TestFP16Exhaustive(t *testing.T) {
	if os.Getenv("JOULE_EXHAUSTIVE") == "" {
		t.Skip("set JOULE_EXHAUSTIVE=1 to check all 2^32 float32 values")
	}
	parts := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	bad := make([]uint64, parts)
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(p); i < 1<<32; i += uint64(parts) {
				f := math.Float32frombits(uint32(i))
				h, b := float64(FP16ToFloat32(Float32ToFP16(f))), float64(BF16ToFloat32(Float32ToBF16(f)))
				if !sameFloat(h, refFP16(f)) || !sameFloat(b, refBF16(f)) {
					bad[p] = i | 1<<32
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, v := range bad {
		if v != 0 {
			f := math.Float32frombits(uint32(v))
			checkFP16(t, f)
			checkBF16(t, f)
		}
	}
}

func TestFP16NaN(t *testing.T) {
	for _, b := range []uint32{0x7f800001, 0x7fc00000, 0xffc00000, 0x7fbfffff, 0x7f802000} {
		f := math.Float32frombits(b)
		h := Float32ToFP16(f)
		if h&0x7c00 != 0x7c00 || h&0x200 == 0 || h>>15 != uint16(b>>31) {
			t.Errorf("Float32ToFP16(NaN %#08x) = %#04x, want a quiet NaN of the same sign", b, h)
		}
	}
}

func TestBF16(t *testing.T) {
	for _, tc := range []struct {
		f float32
		h uint16
	}{
		{0, 0x0000},
		{1, 0x3f80},
		{-2, 0xc000},
		{3.140625, 0x4049},
		{1.00390625, 0x3f80}, // tie 1 + 2^-8: to even (down)
		{1.01171875, 0x3f82}, // tie 1 + 3*2^-8: to even (up)
		{math.Nextafter32(1.00390625, 2), 0x3f81}, // just past the tie
		{float32(math.MaxFloat32), 0x7f80},        // rounds up to Inf
		{float32(math.SmallestNonzeroFloat32), 0x0000},
		{float32(math.Ldexp(1, -133)), 0x0001}, // smallest bf16 subnormal is kept
		{float32(math.Inf(-1)), 0xff80},
	} {
		if got := Float32ToBF16(tc.f); got != tc.h {
			t.Errorf("Float32ToBF16(%g) = %#04x, want %#04x", tc.f, got, tc.h)
		}
	}
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := BF16ToFloat32(h)
		back := Float32ToBF16(f)
		if h&0x7f80 == 0x7f80 && h&0x7f != 0 {
			if !math.IsNaN(float64(f)) || back != h|0x40 {
				t.Errorf("NaN %#04x: back %#04x, want %#04x", h, back, h|0x40)
			}
			continue
		}
		if back != h {
			t.Errorf("%#04x -> %g -> %#04x", h, f, back)
		}
	}
	// A NaN whose payload lies only in the low bits must not become Inf.
	if h := Float32ToBF16(math.Float32frombits(0x7f800001)); h != 0x7fc0 {
		t.Errorf("Float32ToBF16(NaN 0x7f800001) = %#04x, want 0x7fc0", h)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 1<<20; i++ {
		if !checkBF16(t, math.Float32frombits(r.Uint32())) {
			return
		}
	}
}

func FuzzFloat32ToFP16(f *testing.F) {
	for _, v := range []uint32{0, 0x3f800000, 0x477fe000, 0x477ff000, 0x33000000, 0x7fc00000, 0x80000001} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, bits uint32) {
		v := math.Float32frombits(bits)
		checkFP16(t, v)
		checkBF16(t, v)
	})
}
