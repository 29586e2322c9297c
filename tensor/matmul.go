package tensor

import "fmt"

// Matrix is a row-major matrix of Rows rows of Cols elements of type Type.
// Data holds the rows back to back, each taking Type.RowBytes(Cols) bytes.
type Matrix struct {
	Type       Type
	Rows, Cols int
	Data       []byte
}

// Row returns the bytes of row i.
func (m Matrix) Row(i int) []byte {
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
}

func matmulKindOf(t Type) (matmulKind, bool) {
	switch t {
	case F32:
		return matmulKind{act: F32}, true
	case F16:
		return matmulKind{F16, convertF16, dotF16}, true
	case BF16:
		return matmulKind{BF16, convertBF16, dotBF16}, true
	case Q4_0:
		return matmulKind{Q8_0, quantizeRowQ8_0Act, dotQ4_0Q8_0}, true
	case Q8_0:
		return matmulKind{Q8_0, quantizeRowQ8_0Act, dotQ8_0Q8_0}, true
	case Q4_K:
		return matmulKind{Q8_K, quantizeRowQ8_K, dotQ4_KQ8_K}, true
	case Q5_K:
		return matmulKind{Q8_K, quantizeRowQ8_K, dotQ5_KQ8_K}, true
	case Q6_K:
		return matmulKind{Q8_K, quantizeRowQ8_K, dotQ6_KQ8_K}, true
	}
	return matmulKind{}, false
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
	kind, _ := matmulKindOf(w.Type)
	wrow, _ := w.Type.RowBytes(w.Cols)
	var job *matmulJob
	if p != nil {
		job = &p.mm
	} else {
		job = new(matmulJob)
	}
	*job = matmulJob{
		out:  out,
		w:    w,
		wrow: wrow,
		x:    x,
		n:    n,
		kind: kind,
	}
	if kind.act != F32 {
		job.arow, _ = kind.act.RowBytes(w.Cols)
		job.act = p.buffer(n * job.arow)
		if p != nil {
			p.Run(n, p.mmConvert)
		} else {
			job.convert(0, n)
		}
	}
	if p != nil {
		p.Run(w.Rows, p.mmRows)
	} else {
		job.rows(0, w.Rows)
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
}

// convert converts the activations of tokens [lo, hi).
func (j *matmulJob) convert(lo, hi int) {
	cols := j.w.Cols
	for i := lo; i < hi; i++ {
		j.kind.convert(j.act[i*j.arow:(i+1)*j.arow], j.x[i*cols:(i+1)*cols])
	}
}

// rows computes output rows [lo, hi) for every token. Each weight row is
// read once and used for all tokens while it is in cache.
func (j *matmulJob) rows(lo, hi int) {
	rows, cols := j.w.Rows, j.w.Cols
	data := j.w.Data
	if j.kind.act == F32 {
		for r := lo; r < hi; r++ {
			wr := data[r*j.wrow : (r+1)*j.wrow]
			for i := 0; i < j.n; i++ {
				j.out[i*rows+r] = dotF32(wr, j.x[i*cols:(i+1)*cols])
			}
		}
		return
	}
	nb := cols / j.w.Type.BlockSize()
	dot := j.kind.dot
	for r := lo; r < hi; r++ {
		wr := data[r*j.wrow : (r+1)*j.wrow]
		for i := 0; i < j.n; i++ {
			j.out[i*rows+r] = dot(wr, j.act[i*j.arow:(i+1)*j.arow], nb)
		}
	}
}
