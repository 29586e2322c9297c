//go:build !purego

package tensor

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// packedCase makes a Q4_0 matrix of rows×nb blocks, its packing in
// groups of g rows, and n tokens of expanded activations.
func packedCase(t testing.TB, r *rand.Rand, rows, nb, n, g int) (w, packed, xx []byte) {
	t.Helper()
	m, _ := randomMatrix(t, r, Q4_0, rows, nb*qk4_0)
	packed = make([]byte, len(m.Data))
	packQ4_0(packed, m.Data, rows, nb, g)
	xx = make([]byte, n*nb*blockQ8_0X)
	act := make([]byte, nb*blockQ8_0)
	x := make([]float32, nb*qk8_0)
	for i := range n {
		for j := range x {
			x[j] = float32(r.NormFloat64())
		}
		quantizeQ8_0Act(act, x)
		expandQ8_0AVX2Go(xx[i*nb*blockQ8_0X:], act, nb)
	}
	return m.Data, packed, xx
}

// unpackQ8_0 undoes packQ8_0.
func unpackQ8_0(dst, src []byte, rows, nb, g int) {
	unpackBlocks(dst, src, rows, nb, blockQ8_0, g, 0x80808080)
}

// unpackQ4_0 undoes packQ4_0.
func unpackQ4_0(dst, src []byte, rows, nb, g int) {
	unpackBlocks(dst, src, rows, nb, blockQ4_0, g, 0)
}

// unpackBlocks undoes packBlocks.
func unpackBlocks(dst, src []byte, rows, nb, size, G int, bias uint32) {
	le := binary.LittleEndian
	wrow := nb * size
	whole := rows / G * G
	for g := 0; g < whole; g += G {
		for b := range nb {
			pb := src[g*wrow+b*G*size:][:G*size]
			for r := range G {
				blk := dst[(g+r)*wrow+b*size:][:size]
				blk[0], blk[1] = pb[2*r], pb[2*r+1]
				for k := range (size - 2) / 4 {
					le.PutUint32(blk[2+4*k:], le.Uint32(pb[2*G+4*G*k+4*r:])^bias)
				}
			}
		}
	}
	copy(dst[whole*wrow:rows*wrow], src[whole*wrow:rows*wrow])
}

func TestPackQ8_0RoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(78, 79))
	for _, g := range []int{8, 16} {
		for _, rows := range []int{1, 8, 9, 16, 21, 40} {
			for _, nb := range []int{1, 3} {
				m, _ := randomMatrix(t, r, Q8_0, rows, nb*qk8_0)
				packed := make([]byte, len(m.Data))
				packQ8_0(packed, m.Data, rows, nb, g)
				back := make([]byte, len(m.Data))
				unpackQ8_0(back, packed, rows, nb, g)
				if !bytes.Equal(back, m.Data) {
					t.Fatalf("groups of %d, %d rows × %d blocks: unpack(pack(w)) != w", g, rows, nb)
				}
			}
		}
	}
}

func TestPackQ4_0RoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(70, 71))
	for _, g := range []int{8, 16} {
		for _, rows := range []int{1, 7, 8, 9, 16, 21, 40} {
			for _, nb := range []int{1, 3, 8} {
				w, packed, _ := packedCase(t, r, rows, nb, 0, g)
				if rows >= g && bytes.Equal(w, packed) {
					t.Fatalf("groups of %d, %d rows × %d blocks: packing changed nothing", g, rows, nb)
				}
				back := make([]byte, len(w))
				unpackQ4_0(back, packed, rows, nb, g)
				if !bytes.Equal(back, w) {
					t.Fatalf("groups of %d, %d rows × %d blocks: unpack(pack(w)) != w", g, rows, nb)
				}
			}
		}
	}
}

// TestPackedQ4_0Kernels checks the packed kernels give, bit for bit, what
// the eight-row kernels give on the file's layout: the AVX2 one on groups
// of eight rows, the AVX-512 ones on groups of sixteen (two calls of the
// file-layout kernels), for one, four and eight tokens.
func TestPackedQ4_0Kernels(t *testing.T) {
	if !x86.avx2 {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(72, 73))
	for _, nb := range []int{1, 2, 5, 24, 64} {
		xrow := nb * blockQ8_0X
		wrow := nb * blockQ4_0
		w, packed, xx := packedCase(t, r, 8, nb, 8, 8)
		want := make([]float32, 16)
		got := make([]float32, 16)
		for tok := range 8 {
			x := xx[tok*xrow : (tok+1)*xrow]
			q4Rows8AVX2Go(want, w, wrow, x, nb)
			q4PackedRows8AVX2Go(got, packed, x, nb)
			same(t, "AVX2 rows8", nb, want[:8], got[:8])
		}
		if !x86.avx512 {
			continue
		}
		w, packed, xx = packedCase(t, r, 16, nb, 8, 16)
		for tok := range 8 {
			x := xx[tok*xrow : (tok+1)*xrow]
			q4Rows8VNNIGo(want, w, wrow, x, nb)
			q4Rows8VNNIGo(want[8:], w[8*wrow:], wrow, x, nb)
			q4PackedRows16VNNIGo(got, packed, x, nb)
			same(t, "VNNI rows16", nb, want, got)
		}
		const ostride = 19
		want = make([]float32, 8*ostride)
		got = make([]float32, 8*ostride)
		q4Tile8VNNIGo(want, ostride, w, wrow, xx, xrow, nb)
		q4Tile8VNNIGo(want[8:], ostride, w[8*wrow:], wrow, xx, xrow, nb)
		q4PackedTile8VNNIGo(got, ostride, packed, xx, xrow, nb)
		same(t, "VNNI tile8", nb, want, got)
		clear(got)
		q4PackedTile4VNNIGo(got, ostride, packed, xx, xrow, nb)
		q4PackedTile4VNNIGo(got[4*ostride:], ostride, packed, xx[4*xrow:], xrow, nb)
		same(t, "VNNI tile4", nb, want, got)
	}
}

func same(t *testing.T, what string, nb int, want, got []float32) {
	t.Helper()
	if i := sameBits(want, got); i >= 0 {
		t.Fatalf("%s, %d blocks: [%d] = %v, want %v", what, nb, i, got[i], want[i])
	}
}

// BenchmarkPackedQ4_0 streams a TinyLlama-sized set of Q4_0 matrices (too
// big for the caches) through the eight-row kernels, file layout against
// packed, on one thread. GB/s counts weight bytes.
func BenchmarkPackedQ4_0(b *testing.B) {
	if !x86.avx512 {
		b.Skip("no AVX-512 VNNI")
	}
	const rows, nb, mats = 5632, 64, 56 // 56 × 5632×2048: 364 MB, more than the L3 cache
	r := rand.New(rand.NewPCG(74, 75))
	var ws, ps [][]byte
	var xx []byte
	for range mats {
		w, p, x := packedCase(b, r, rows, nb, 1, 16)
		ws, ps, xx = append(ws, w), append(ps, p), x
	}
	out := make([]float32, 16)
	wrow := nb * blockQ4_0
	run := func(b *testing.B, f func(m, g int)) {
		b.SetBytes(int64(mats * rows * wrow))
		for b.Loop() {
			for m := range mats {
				for g := 0; g < rows/16; g++ {
					f(m, g)
				}
			}
		}
		b.ReportMetric(float64(mats*rows*wrow)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	}
	b.Run("file", func(b *testing.B) {
		run(b, func(m, g int) {
			q4Rows8VNNIGo(out, ws[m][g*16*wrow:], wrow, xx, nb)
			q4Rows8VNNIGo(out[8:], ws[m][(g*16+8)*wrow:], wrow, xx, nb)
		})
	})
	b.Run("packed", func(b *testing.B) {
		run(b, func(m, g int) { q4PackedRows16VNNIGo(out, ps[m][g*16*wrow:], xx, nb) })
	})
}

// TestMatMulPacked checks MatMul gives the same bits for a packed matrix
// as for the file's layout (Q4_0) or as packedQ8_0Want (Q8_0), over row counts with and without a tail of
// unpacked rows, one token and many, and one thread and two.
func TestMatMulPacked(t *testing.T) {
	for _, ty := range []Type{Q4_0, Q8_0, Q4_K, Q5_K, Q6_K} {
		t.Run(ty.String(), func(t *testing.T) { testMatMulPacked(t, ty) })
	}
}

func testMatMulPacked(t *testing.T, ty Type) {
	if ty == Q4_0 && kernels.q4_0.packed.rows == nil || ty == Q8_0 && kernels.q8_0.packed.rows == nil ||
		ty == Q4_K && kernels.q4_K.packed.rows == nil || ty == Q5_K && kernels.q5_K.packed.rows == nil ||
		ty == Q6_K && kernels.q6_K.packed.rows == nil {
		t.Skip("no packed kernels for " + ty.String() + " in the " + kernels.name + " set")
	}
	r := rand.New(rand.NewPCG(76, 77))
	var group int
	switch ty {
	case Q4_0:
		group = kernels.q4_0.packed.group
	case Q8_0:
		group = kernels.q8_0.packed.group
	case Q4_K, Q5_K, Q6_K:
		group = packGroupK
	}
	sizes := []int{group, group + 5, 64, 100}
	for _, threads := range []int{1, 2} {
		p := NewPool(threads)
		for _, rows := range sizes {
			for _, n := range []int{1, 3, 4, 8, 13, 17} {
				cols := 96
				if ty == Q4_K || ty == Q5_K || ty == Q6_K {
					cols = 512
				}
				m, _ := randomMatrix(t, r, ty, rows, cols)
				pm := Pack(m)
				if !pm.Packed() || m.Packed() {
					t.Fatalf("Pack(%d rows): packed %v, original %v", rows, pm.Packed(), m.Packed())
				}
				x := make([]float32, n*cols)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				want := make([]float32, n*rows)
				got := make([]float32, n*rows)
				MatMul(p, want, m, x, n)
				if ty == Q8_0 {
					packedQ8_0Want(want, m, x, n)
				}
				MatMul(p, got, pm, x, n)
				same(t, "MatMul", rows*100+n, want, got)
			}
		}
		p.Close()
	}
	// A packed matrix is for the kernels that packed it: others refuse it.
	m, _ := randomMatrix(t, r, ty, 2*group, ty.BlockSize())
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the reference kernels took a packed matrix")
			}
		}()
		matMul(nil, make([]float32, 2*group), Pack(m), make([]float32, ty.BlockSize()), 1, &refKernels)
	}()
	small, _ := randomMatrix(t, r, ty, group-1, ty.BlockSize())
	if Pack(small).Packed() {
		t.Errorf("a matrix of %d rows was packed", group-1)
	}
	q3, _ := randomMatrix(t, r, Q3_K, 16, 256)
	if Pack(q3).Packed() {
		t.Error("a Q3_K matrix was packed")
	}
}

// packedQ8_0Want overwrites, in want (MatMul's result for m in the file's
// layout), the rows that Pack puts in groups of eight with the packed Q8_0
// kernels' arithmetic done in plain Go: per row and token,
// acc = fma(float(block's integer sum), dw*dx, acc), block after block.
func packedQ8_0Want(want []float32, m Matrix, x []float32, n int) {
	nb := m.Cols / qk8_0
	act := make([]byte, nb*blockQ8_0)
	for t := range n {
		quantizeQ8_0Act(act, x[t*m.Cols:(t+1)*m.Cols])
		g := kernels.q8_0.packed.group
		for r := range m.Rows / g * g {
			w := m.Row(r)
			var acc float32
			for b := range nb {
				wb, xb := w[b*blockQ8_0:][:blockQ8_0], act[b*blockQ8_0:][:blockQ8_0]
				var sum int32
				for i := 2; i < blockQ8_0; i++ {
					sum += int32(int8(wb[i])) * int32(int8(xb[i]))
				}
				// float32 products are exact in float64, so this is one
				// float32 FMA but for a double rounding too rare to meet.
				acc = float32(math.FMA(float64(sum), float64(fp16(wb)*fp16(xb)), float64(acc)))
			}
			want[t*m.Rows+r] = acc
		}
	}
}

// TestMatMulPackedAVX2 runs MatMul with the AVX2 set, whose Q4_0 kernels
// take groups of eight rows, on a matrix packed that way, against the
// file's layout: CPUs with AVX-512 pack differently, so the packing Pack
// does here does not reach this path.
func TestMatMulPackedAVX2(t *testing.T) {
	if !x86.avx2 {
		t.Skip("no AVX2")
	}
	ks := avx2Kernels()
	r := rand.New(rand.NewPCG(80, 81))
	p := NewPool(2)
	defer p.Close()
	for _, rows := range []int{8, 13, 64} {
		for _, n := range []int{1, 5, 9} {
			const cols = 96
			m, _ := randomMatrix(t, r, Q4_0, rows, cols)
			data := make([]byte, len(m.Data))
			packQ4_0(data, m.Data, rows, cols/qk4_0, 8)
			pm := Matrix{Type: Q4_0, Rows: rows, Cols: cols, Data: data, group: 8}
			x := make([]float32, n*cols)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			want := make([]float32, n*rows)
			got := make([]float32, n*rows)
			matMul(p, want, m, x, n, &ks)
			matMul(p, got, pm, x, n, &ks)
			same(t, "AVX2 MatMul", rows*100+n, want, got)
		}
	}
}
