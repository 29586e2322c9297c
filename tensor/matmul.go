package tensor

import (
	"fmt"
	"unsafe"
)

// Matrix is a row-major matrix of Rows rows of Cols elements of type Type.
// Data holds the rows back to back, each taking Type.RowBytes(Cols) bytes.
type Matrix struct {
	Type       Type
	Rows, Cols int
	Data       []byte

	group int // rows per packed group, 0 if not packed (see Pack)
}

// Packed reports whether m's rows are packed (see Pack).
func (m Matrix) Packed() bool { return m.group > 0 }

// Row returns the bytes of row i. It panics for a packed matrix, whose
// rows are interleaved.
func (m Matrix) Row(i int) []byte {
	if m.Packed() {
		panic("tensor: Matrix.Row of a packed matrix")
	}
	rb, err := m.Type.RowBytes(m.Cols)
	if err != nil {
		panic(fmt.Sprintf("tensor: Matrix.Row: %v", err))
	}
	return m.Data[i*rb : (i+1)*rb]
}

// Check reports whether m can be passed to MatMul: a supported type, a
// column count that is a whole number of blocks, and enough data.
func (m Matrix) Check() error {
	if _, ok := matmulKindOf(m.Type); !ok {
		return fmt.Errorf("tensor: matmul with %s weights is not supported", m.Type)
	}
	if m.Rows < 0 || m.Cols < 0 {
		return fmt.Errorf("tensor: matrix of %d×%d", m.Rows, m.Cols)
	}
	rb, err := m.Type.RowBytes(m.Cols)
	if err != nil {
		return err
	}
	if need := m.Rows * rb; len(m.Data) < need {
		return fmt.Errorf("tensor: %d×%d %s matrix needs %d bytes, has %d", m.Rows, m.Cols, m.Type, need, len(m.Data))
	}
	return nil
}

// matmulKind says how MatMul handles one weight type: the type the
// activations are converted to (F32: none) and the row dot product.
type matmulKind struct {
	act     Type
	convert func(dst []byte, src []float32)
	dot     func(w, x []byte, nb int) float32
	dotF32  func(w []byte, x []float32) float32 // for act == F32
}

func matmulKindOf(t Type) (matmulKind, bool) { return matmulKindOfSet(t, &kernels) }

// matmulKindOfSet is matmulKindOf with the kernels of ks.
func matmulKindOfSet(t Type, ks *kernelSet) (matmulKind, bool) {
	switch t {
	case F32:
		return matmulKind{act: F32, dotF32: ks.dotF32}, true
	case F16:
		return matmulKind{act: F16, convert: convertF16, dot: ks.dotF16}, true
	case BF16:
		return matmulKind{act: BF16, convert: convertBF16, dot: orRef(ks.dotBF16, dotBF16Ref)}, true
	case Q4_0:
		return matmulKind{act: Q8_0, convert: ks.quantQ8_0, dot: ks.dotQ4_0Q8_0}, true
	case Q8_0:
		return matmulKind{act: Q8_0, convert: ks.quantQ8_0, dot: ks.dotQ8_0Q8_0}, true
	case Q4_K:
		return matmulKind{act: Q8_K, convert: quantizeRowQ8_K, dot: ks.dotQ4_KQ8_K}, true
	case Q5_K:
		return matmulKind{act: Q8_K, convert: quantizeRowQ8_K, dot: orRef(ks.dotQ5_KQ8_K, dotQ5_KQ8_KRef)}, true
	case Q6_K:
		return matmulKind{act: Q8_K, convert: quantizeRowQ8_K, dot: ks.dotQ6_KQ8_K}, true
	}
	return lowbitKind(t)
}

// orRef returns dot, or ref where a kernel set leaves dot out.
func orRef(dot, ref func(w, x []byte, nb int) float32) func(w, x []byte, nb int) float32 {
	if dot == nil {
		return ref
	}
	return dot
}

func convertF16(dst []byte, src []float32) {
	for i, v := range src {
		h := Float32ToFP16(v)
		dst[2*i], dst[2*i+1] = byte(h), byte(h>>8)
	}
}

func convertBF16(dst []byte, src []float32) {
	for i, v := range src {
		h := Float32ToBF16(v)
		dst[2*i], dst[2*i+1] = byte(h), byte(h>>8)
	}
}

// MatMul computes out[i*w.Rows + r] = sum_c W[r][c] * x[i*w.Cols + c] for
// i in [0, n): n input vectors (tokens) at once.
//
// As in llama.cpp's CPU backend, the activations are first converted to the
// weights' companion type: fp16 for F16, bf16 for BF16, Q8_0 blocks for
// Q4_0 and Q8_0, Q8_K blocks for the k-quants (F32 uses them as they are).
// The dot products then run on the converted values, so results match
// llama.cpp closely rather than an exact float product.
//
// Output rows are split across p's threads; p may be nil. With a non-nil
// pool, repeated calls do not allocate once its scratch has grown to the
// largest size needed. MatMul panics if w fails Check or if x or out are
// too short.
func MatMul(p *Pool, out []float32, w Matrix, x []float32, n int) {
	matMul(p, out, w, x, n, &kernels)
}

// matMul is MatMul with a given kernel set, so that tests can run each set
// the CPU supports.
func matMul(p *Pool, out []float32, w Matrix, x []float32, n int, ks *kernelSet) {
	if err := w.Check(); err != nil {
		panic("tensor: MatMul: " + err.Error())
	}
	if n < 0 || len(x) < n*w.Cols || len(out) < n*w.Rows {
		panic(fmt.Sprintf("tensor: MatMul of %d×%d by %d vectors: len(x) = %d, len(out) = %d",
			w.Rows, w.Cols, n, len(x), len(out)))
	}
	if n == 0 || w.Rows == 0 {
		return
	}
	kind, _ := matmulKindOfSet(w.Type, ks)
	wrow, _ := w.Type.RowBytes(w.Cols)
	var job *matmulJob
	if p != nil {
		job = &p.mm
	} else {
		job = new(matmulJob)
	}
	*job = matmulJob{
		out:   out,
		w:     w,
		wrow:  wrow,
		x:     x,
		n:     n,
		kind:  kind,
		group: 1,
	}
	switch {
	case w.Cols == 0:
	case w.Packed() && (w.Type == Q4_K || w.Type == Q5_K || w.Type == Q6_K):
		switch w.Type {
		case Q4_K:
			job.kq = &ks.q4_K
		case Q5_K:
			job.kq = &ks.q5_K
		default:
			job.kq = &ks.q6_K
		}
		if job.kq.packed.rows == nil || job.kq.packed.group != w.group {
			panic("tensor: MatMul: a matrix packed for other kernels than the " + ks.name + " set's")
		}
	case w.Packed():
		job.q8 = &ks.q4_0
		if w.Type == Q8_0 {
			job.q8 = &ks.q8_0
		}
		if job.q8.packed.rows == nil || job.q8.packed.group != w.group {
			panic("tensor: MatMul: a matrix packed for other kernels than the " + ks.name + " set's")
		}
	case w.Type == Q4_0 && ks.q4_0.rows4 != nil:
		job.q8 = &ks.q4_0
	case w.Type == Q8_0 && ks.q8_0.rows4 != nil:
		job.q8 = &ks.q8_0
	case w.Type == Q4_K && ks.q4_K.rows4 != nil:
		job.kq = &ks.q4_K
	case w.Type == Q5_K && ks.q5_K.rows4 != nil:
		job.kq = &ks.q5_K
	case w.Type == Q6_K && ks.q6_K.rows4 != nil:
		job.kq = &ks.q6_K
	}
	if kind.act != F32 {
		job.arow, _ = kind.act.RowBytes(w.Cols)
		size := n * job.arow
		if job.q8 != nil {
			// The multi-row kernels also take each block's scale as a
			// float32, after the blocks (4-byte aligned: the scratch is
			// allocated aligned and size rounds up), and the eight-row
			// and packed ones the expanded blocks after those.
			job.group = 4
			size = (size + 3) &^ 3
			nb := w.Cols / qk8_0
			xsize := 0
			if job.q8.rows8 != nil || w.Packed() {
				job.group = 8
				if w.Packed() {
					job.group = w.group
				}
				job.xrow = nb * job.q8.xblock
				xsize = n * job.xrow
			}
			buf := p.buffer(size + 4*n*nb + xsize)
			job.act = buf[:n*job.arow]
			job.dx = unsafe.Slice((*float32)(unsafe.Pointer(&buf[size])), n*nb)
			job.xx = buf[size+4*n*nb:]
		} else if job.kq != nil {
			// The k-quant kernels read permuted copies of the blocks,
			// if they permute, after the blocks,
			// and the packed kernels' expanded blocks after those.
			job.group = 4
			xsize := 0
			if w.Packed() {
				job.group = w.group
				job.xrow = w.Cols / QK_K * job.kq.xblock
				xsize = n * job.xrow
			}
			if job.kq.permute != nil {
				job.act = p.buffer(2*size + xsize)
				job.xx = job.act[size : 2*size]
				job.kx = job.act[2*size:]
				job.act = job.act[:size]
			} else {
				job.act = p.buffer(size + xsize)
				job.kx = job.act[size:]
				job.act = job.act[:size]
			}
		} else {
			job.act = p.buffer(size)
		}
		if p != nil {
			p.Run(n, p.mmConvert)
		} else {
			job.convert(0, n)
		}
	}
	groups := (w.Rows + job.group - 1) / job.group
	if p != nil {
		p.Run(groups, p.mmRows)
	} else {
		job.rows(0, groups)
	}
	*job = matmulJob{} // drop references to the caller's slices
}

// matmulJob is one MatMul, laid out so that threads can take ranges of
// tokens (convert) and of weight rows (rows).
type matmulJob struct {
	out  []float32
	w    Matrix
	wrow int // bytes per weight row
	x    []float32
	act  []byte // converted activations, arow bytes per token
	arow int
	n    int
	kind matmulKind

	// For Q4_0 and Q8_0 weights with multi-row kernels: the kernels, and
	// the block scales of act as float32, nb per token.
	q8    *q8Rows
	dx    []float32
	xx    []byte // expanded blocks for the eight-row and packed kernels, xrow (> 0) bytes per token; permuted ones for kq
	xrow  int
	group int // rows per unit of work: a packed group, 8 with the eight-row kernels, 4 with q8 or kq, else 1

	// For k-quant weights with multi-row kernels; kx holds the packed
	// kernels' expanded blocks, xrow bytes per token.
	kq *kqRows
	kx []byte
}

// convert converts the activations of tokens [lo, hi).
func (j *matmulJob) convert(lo, hi int) {
	cols := j.w.Cols
	for i := lo; i < hi; i++ {
		a := j.act[i*j.arow : (i+1)*j.arow]
		j.kind.convert(a, j.x[i*cols:(i+1)*cols])
		// The scales and permuted blocks serve only rows in the file's
		// layout, which a packed matrix has only after its last group.
		unpacked := !j.w.Packed() || j.w.Rows%j.w.group != 0
		if j.q8 != nil {
			nb := cols / qk8_0
			if unpacked {
				dx := j.dx[i*nb : (i+1)*nb]
				for b := range dx {
					dx[b] = fp16(a[b*blockQ8_0:])
				}
			}
			if j.xrow > 0 { // the eight-row and packed kernels take expanded blocks
				j.q8.expand(j.xx[i*j.xrow:(i+1)*j.xrow], a, nb)
			}
		}
		if j.kq != nil && j.kq.permute != nil && unpacked {
			j.kq.permute(j.xx[i*j.arow:(i+1)*j.arow], a, cols/QK_K)
		}
		if j.kq != nil && j.w.Packed() {
			j.kq.expand(j.kx[i*j.xrow:(i+1)*j.xrow], a, cols/QK_K)
		}
	}
}

// rows computes the output rows of groups [lo, hi) (group rows each) for
// every token.
func (j *matmulJob) rows(lo, hi int) {
	lo, hi = lo*j.group, min(hi*j.group, j.w.Rows)
	if j.q8 != nil {
		j.rowsQ8(lo, hi)
		return
	}
	if j.kq != nil {
		j.rowsKQ(lo, hi)
		return
	}
	rows, cols := j.w.Rows, j.w.Cols
	data := j.w.Data
	if j.kind.act == F32 {
		for r := lo; r < hi; r++ {
			wr := data[r*j.wrow : (r+1)*j.wrow]
			for i := 0; i < j.n; i++ {
				j.out[i*rows+r] = j.kind.dotF32(wr, j.x[i*cols:(i+1)*cols])
			}
		}
		return
	}
	// Each weight row is read once and used for all tokens while it is in
	// cache.
	nb := cols / j.w.Type.BlockSize()
	dot := j.kind.dot
	for r := lo; r < hi; r++ {
		wr := data[r*j.wrow : (r+1)*j.wrow]
		for i := 0; i < j.n; i++ {
			j.out[i*rows+r] = dot(wr, j.act[i*j.arow:(i+1)*j.arow], nb)
		}
	}
}

// actChunk is about how many bytes of converted activations rowsQ8 works
// through per pass over its rows: enough tokens to reuse each group of
// weight rows many times, few enough to stay in the L2 cache.
const actChunk = 192 << 10

// rowsQ8 computes rows [lo, hi) with the multi-row kernels: a packed group
// (8 or 16 rows), eight or four rows at a time, against eight or four
// tokens at a time where there is a tile kernel, the tokens in chunks that
// stay in cache while the rows stream past. Rows left over take the
// four-row kernel and then the one-row dot product.
func (j *matmulJob) rowsQ8(lo, hi int) {
	rows, nb := j.w.Rows, j.w.Cols/qk8_0
	data, out, act, dx, xx := j.w.Data, j.out, j.act, j.dx, j.xx
	wrow, arow, xrow := j.wrow, j.arow, j.xrow
	k := j.q8
	chunk := max(8, actChunk/arow&^7)
	for t0 := 0; t0 < j.n; t0 += chunk {
		t1 := min(j.n, t0+chunk)
		r := lo
		if j.w.Packed() {
			// Whole groups are packed, in the bytes the rows had; the
			// rows after the last one keep the file's layout and take
			// the kernels below.
			G, gsize := k.packed.group, nb*k.packed.block
			for ; r+G <= hi; r += G {
				k.packed.run(out, rows, r, data[r/G*gsize:][:gsize], xx, xrow, t0, t1, nb)
			}
		} else if k.rows8 != nil {
			for ; r+8 <= hi; r += 8 {
				w := data[r*wrow : (r+8)*wrow]
				t := t0
				if k.tile8 != nil {
					for ; t+8 <= t1; t += 8 {
						k.tile8(out[t*rows+r:], rows, w, wrow, xx[t*xrow:(t+8)*xrow], xrow, nb)
					}
				}
				for ; t < t1; t++ {
					k.rows8(out[t*rows+r:t*rows+r+8], w, wrow, xx[t*xrow:(t+1)*xrow], nb)
				}
			}
		}
		for ; r+4 <= hi; r += 4 {
			w := data[r*wrow : (r+4)*wrow]
			t := t0
			if k.tile4 != nil {
				for ; t+4 <= t1; t += 4 {
					k.tile4(out[t*rows+r:], rows, w, wrow, act[t*arow:(t+4)*arow], arow, dx[t*nb:(t+4)*nb], nb)
				}
			}
			for ; t < t1; t++ {
				k.rows4(out[t*rows+r:t*rows+r+4], w, wrow, act[t*arow:(t+1)*arow], dx[t*nb:(t+1)*nb], nb)
			}
		}
		for ; r < hi; r++ {
			wr := data[r*wrow : (r+1)*wrow]
			for t := t0; t < t1; t++ {
				out[t*rows+r] = j.kind.dot(wr, act[t*arow:(t+1)*arow], nb)
			}
		}
	}
}

// rowsKQ computes rows [lo, hi) of a k-quant matrix with the multi-row
// kernels: for a packed k-quant matrix its groups of sixteen rows against
// eight tokens, then four, then one, at a time; otherwise (and for the rows after
// the last group) four rows against eight, then four, tokens at a time where
// there are tile kernels, the tokens in chunks that stay in cache while
// the rows stream past; the other tokens with the four-row kernel over all
// the rows at once. Leftover rows take the one-row dot product, on the
// blocks as quantized.
func (j *matmulJob) rowsKQ(lo, hi int) {
	rows, nb := j.w.Rows, j.w.Cols/QK_K
	data, out, act := j.w.Data, j.out, j.act
	wrow, arow := j.wrow, j.arow
	k := j.kq
	x := act
	if k.permute != nil {
		x = j.xx
	}
	chunk := max(8, actChunk/arow&^7)
	base := 0 // row whose bytes start data
	if j.w.Packed() {
		// Whole groups are packed; the rows after the last one keep the
		// file's layout, after the groups, and take the kernels below.
		G, gsize := k.packed.group, nb*k.packed.block
		whole := rows / G * G
		for t0 := 0; t0 < j.n; t0 += chunk {
			t1 := min(j.n, t0+chunk)
			for r := lo; r+G <= min(hi, whole); r += G {
				k.packed.run(out, rows, r, data[r/G*gsize:][:gsize], j.kx, j.xrow, t0, t1, nb)
			}
		}
		if hi <= whole {
			return
		}
		lo = max(lo, whole)
		data, base = data[whole/G*gsize:], whole
	}
	r4 := lo + (hi-lo)&^3
	for t0 := 0; t0 < j.n; t0 += chunk {
		t1 := min(j.n, t0+chunk)
		// Tokens [t0, t8) take tile8, [t8, t4) tile4, the rest rows4.
		t8, t4 := t0, t0
		if k.tile8 != nil {
			t8 = t0 + (t1-t0)&^7
		}
		t4 = t8
		if k.tile4 != nil {
			t4 = t8 + (t1-t8)&^3
		}
		if t4 > t0 {
			for r := lo; r < r4; r += 4 {
				w := data[(r-base)*wrow : (r-base+4)*wrow]
				for t := t0; t < t8; t += 8 {
					k.tile8(out[t*rows+r:], rows, w, wrow, x[t*arow:(t+8)*arow], arow, nb)
				}
				for t := t8; t < t4; t += 4 {
					k.tile4(out[t*rows+r:], rows, w, wrow, x[t*arow:(t+4)*arow], arow, nb)
				}
			}
		}
		if r4 > lo {
			for t := t4; t < t1; t++ {
				k.rows4(out[t*rows+lo:t*rows+r4], data[(lo-base)*wrow:(r4-base)*wrow], wrow, x[t*arow:(t+1)*arow], nb)
			}
		}
		for r := r4; r < hi; r++ {
			wr := data[(r-base)*wrow : (r-base+1)*wrow]
			for t := t0; t < t1; t++ {
				out[t*rows+r] = j.kind.dot(wr, act[t*arow:(t+1)*arow], nb)
			}
		}
	}
}
