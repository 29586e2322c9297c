package tensor

import (
	"bufio"
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The golden file holds CRC-32s of what ggml itself computes for the inputs
// below (testdata/ggml_golden.c says how it was made). The inputs are
// rebuilt here with the same generator, so the file stays small.

// goldenRand is the xorshift64* generator of testdata/ggml_golden.h.
type goldenRand struct{ s uint64 }

func (r *goldenRand) next() uint64 {
	r.s ^= r.s >> 12
	r.s ^= r.s << 25
	r.s ^= r.s >> 27
	return r.s * 2685821657736338717
}

// unif's product is exact (a power of two), but it is still rounded
// explicitly so that it is never fused into the sums that use it.
func (r *goldenRand) unif() float64 {
	return float64(float64(r.next()>>11) * (1.0 / 9007199254740992.0))
}

func (r *goldenRand) gauss() float64 {
	s := r.unif()
	s += r.unif()
	s += r.unif()
	s += r.unif()
	return (s - 2) * 1.7320508075688772
}

// goldenInputs returns the 16 blocks of 256 test inputs, each block of one
// kind, and a second vector used as activations. Products are wrapped in
// float64() so that no platform fuses them with an addition.
func goldenInputs() (x, a []float32, r *goldenRand) {
	r = &goldenRand{0x9E3779B97F4A7C15}
	x = make([]float32, 16*256)
	for kind := 0; kind < 16; kind++ {
		y := x[256*kind : 256*kind+256]
		for i := range y {
			g := r.gauss()
			u := float64(r.unif()*2) - 1
			var v float32
			switch kind {
			case 0:
				v = float32(g)
			case 1:
				v = float32(0.02 * g)
			case 2:
				v = float32(u)
			case 3:
				v = 0
			case 4:
				v = 0.5
			case 5:
				v = -3
			case 6:
				if i%37 == 5 {
					v = float32(100 * g)
				} else {
					v = float32(g)
				}
			case 7:
				v = float32(1e-6 * g)
			case 8:
				switch {
				case i%3 != 0:
					v = float32(60000 * u)
				case i%2 == 1:
					v = -65504
				default:
					v = 65504
				}
			case 9:
				v = float32(r.unif())
			case 10:
				v = float32(-4 * r.unif())
			case 11:
				if i%29 == 3 {
					v = float32(g)
				}
			case 12:
				v = 0.25 * float32(int(r.next()%33)-16)
			case 13:
				v = float32(float64(1e-3*g) + 0.01)
			case 14:
				if (i/32)%2 == 1 {
					v = float32(g)
				}
			default:
				v = float32(10 * g)
			}
			y[i] = v
		}
	}
	a = make([]float32, len(x))
	for i := range a {
		a[i] = float32(r.gauss())
	}
	return x, a, r
}

type goldenRecord struct {
	group int      // bytes per checksum
	crcs  []uint32 // or, for dot records, nil
	dots  []float64
}

// goldenBlocks returns the blocks of n elements of t with every byte
// drawn from r, as the golden generators make their random blocks.
func goldenBlocks(r *goldenRand, t Type, n int) []byte {
	q := make([]byte, n/t.BlockSize()*t.BlockBytes())
	for i := range q {
		q[i] = byte(r.next())
	}
	return q
}

// readGolden reads testdata/ggml_golden.txt.
func readGolden(t *testing.T) map[string]goldenRecord {
	t.Helper()
	return readGoldenFile(t, "testdata/ggml_golden.txt")
}

// readGoldenFile parses a golden file: per line a name and either, for
// names starting with "dot", the dot products, or a group size and a hex
// CRC-32 per group; # starts a comment.
func readGoldenFile(t *testing.T, path string) map[string]goldenRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs := map[string]goldenRecord{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		var rec goldenRecord
		if strings.HasPrefix(fields[0], "dot") {
			for _, s := range fields[1:] {
				v, err := strconv.ParseFloat(s, 64)
				if err != nil {
					t.Fatalf("%s: %s: %v", path, fields[0], err)
				}
				rec.dots = append(rec.dots, v)
			}
		} else {
			if len(fields) < 3 {
				t.Fatalf("%s: line %q too short", path, sc.Text())
			}
			if rec.group, err = strconv.Atoi(fields[1]); err != nil {
				t.Fatalf("%s: %s: %v", path, fields[0], err)
			}
			for _, s := range fields[2:] {
				v, err := strconv.ParseUint(s, 16, 32)
				if err != nil {
					t.Fatalf("%s: %s: %v", path, fields[0], err)
				}
				rec.crcs = append(rec.crcs, uint32(v))
			}
		}
		recs[fields[0]] = rec
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// checkGolden compares got, group by group, with the record's checksums.
func checkGolden(t *testing.T, recs map[string]goldenRecord, name string, got []byte) {
	t.Helper()
	rec, ok := recs[name]
	if !ok {
		t.Fatalf("golden record %s missing", name)
	}
	if len(got) != rec.group*len(rec.crcs) {
		t.Fatalf("%s: %d bytes, golden covers %d", name, len(got), rec.group*len(rec.crcs))
	}
	bad := 0
	for i, want := range rec.crcs {
		if crc32.ChecksumIEEE(got[i*rec.group:(i+1)*rec.group]) != want {
			if bad < 5 {
				t.Errorf("%s: group %d (bytes %d..%d) differs from ggml", name, i, i*rec.group, (i+1)*rec.group)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d groups differ", name, bad, len(rec.crcs))
	}
}

func floatBytes(f []float32) []byte {
	b := make([]byte, 4*len(f))
	for i, v := range f {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

var goldenTypes = []struct {
	name string
	t    Type
	dOff int // offset of the fp16 scale in a block
}{
	{"q4_0", Q4_0, 0},
	{"q8_0", Q8_0, 0},
	{"q4_K", Q4_K, 0},
	{"q5_K", Q5_K, 0},
	{"q6_K", Q6_K, 208},
	{"q8_K", Q8_K, 0},
}

func TestGoldenConversions(t *testing.T) {
	recs := readGolden(t)
	x, _, _ := goldenInputs()
	for _, tc := range []struct {
		name string
		t    Type
	}{{"f16", F16}, {"bf16", BF16}} {
		got, err := Quantize(tc.t, x)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, recs, tc.name, got)
	}
}

// TestGoldenQuantize checks the quantizers and dequantizers bit for bit
// against ggml's, on the inputs and on random blocks.
func TestGoldenQuantize(t *testing.T) {
	recs := readGolden(t)
	x, _, r := goldenInputs()
	y := make([]float32, len(x))
	for _, tc := range goldenTypes {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Quantize(tc.t, x)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, recs, "quantize/"+tc.name, q)
			if err := Dequantize(tc.t, q, y); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, recs, "dequantize/"+tc.name, floatBytes(y))
		})
		// The random blocks come from the shared generator in order, so
		// they are made outside the subtest even when it is skipped.
		bb := tc.t.BlockBytes()
		q := goldenBlocks(r, tc.t, len(x))
		for b := 0; b < len(q)/bb; b++ {
			p := q[b*bb : (b+1)*bb]
			if tc.t == Q8_K {
				d := float32(int(r.next()%2001)-1000) * 1e-5
				putF32(p, d)
				continue
			}
			p[tc.dOff+1] &= 0x3b // keep the fp16 scales finite
			if tc.t == Q4_K || tc.t == Q5_K {
				p[3] &= 0x3b
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

// TestGoldenActivations checks the activation quantizers MatMul uses
// against the ones llama.cpp's x86-64 CPU backend runs.
func TestGoldenActivations(t *testing.T) {
	recs := readGolden(t)
	x, a, _ := goldenInputs()
	q := make([]byte, len(x)/32*34)
	quantizeRowQ8_0Act(q, x)
	checkGolden(t, recs, "activation/q8_0", q)
	q = make([]byte, len(a)/256*292)
	quantizeRowQ8_K(q, a)
	checkGolden(t, recs, "activation/q8_K", q)
}

// TestGoldenDots runs MatMul with the quantized inputs as four weight rows
// of 1024 and the activations as four tokens, and compares the pairs ggml
// computed (row r with token r) with its x86 SIMD kernels. The sums differ
// only in float32 rounding order, so the tolerance is relative to the sum
// of the magnitudes of the terms.
func TestGoldenDots(t *testing.T) {
	recs := readGolden(t)
	x, a, _ := goldenInputs()
	const cols = 1024
	rows := len(x) / cols
	for _, tc := range goldenTypes[:5] {
		t.Run(tc.name, func(t *testing.T) {
			rec := recs["dot/"+tc.name]
			if len(rec.dots) != rows {
				t.Fatalf("golden dot/%s has %d values, want %d", tc.name, len(rec.dots), rows)
			}
			wq, err := Quantize(tc.t, x)
			if err != nil {
				t.Fatal(err)
			}
			w := Matrix{Type: tc.t, Rows: rows, Cols: cols, Data: wq}
			out := make([]float32, rows*rows)
			MatMul(nil, out, w, a, rows)

			wd := make([]float32, len(x))
			if err := Dequantize(tc.t, wq, wd); err != nil {
				t.Fatal(err)
			}
			for r := 0; r < rows; r++ {
				var mag float64
				for c := 0; c < cols; c++ {
					mag += math.Abs(float64(wd[r*cols+c]) * float64(a[r*cols+c]))
				}
				got, want := float64(out[r*rows+r]), rec.dots[r]
				if d := math.Abs(got - want); d > 2e-6*mag {
					t.Errorf("row %d: got %v, ggml %v (diff %.3g, allowed %.3g)", r, got, want, d, 2e-6*mag)
				}
			}
		})
	}
}
