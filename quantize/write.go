package quantize

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/tensor"
)

// Options control Write.
type Options struct {
	// Threads quantize the rows of a tensor; <= 0 means runtime.GOMAXPROCS(0).
	Threads int
	// AllowRequantize permits converting tensors that are already quantized,
	// which llama-quantize refuses without --allow-requantize.
	AllowRequantize bool
	// Progress, when set, is called after tensor i of the plan is written.
	Progress func(i int, c *Choice)

	slabBytes int // 0: defaultSlabBytes; tests make it small
}

// defaultSlabBytes bounds the output bytes of one tensor held at a time.
const defaultSlabBytes = 32 << 20

// chunkElems is the least work one thread takes at a time, as in
// llama.cpp: whole rows of at least this many elements.
const chunkElems = 32 * 512

// droppedKeys are rewritten (the first two) or meaningless (the split
// keys) in the output, as llama-quantize treats them.
var droppedKeys = []string{
	"general.quantization_version", "general.file_type",
	"split.no", "split.count", "split.tensors.count",
}

// Write writes f, its tensors converted as p says, to w as a GGUF v3 file
// and returns the bytes written. p must have been made from f. The
// metadata is f's, with general.quantization_version and general.file_type
// set (at the end, where llama-quantize puts them).
//
// The header goes out first; then each tensor, streamed in slabs of rows
// quantized in parallel, so the output is never all in memory.
func Write(w io.Writer, f *gguf.File, p *Plan, opt Options) (int64, error) {
	srcs, err := check(f, p, opt)
	if err != nil {
		return 0, err
	}
	header, err := encodeHeader(f, p)
	if err != nil {
		return 0, err
	}
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 1<<20)
	if _, err := bw.Write(header); err != nil {
		return cw.n, fmt.Errorf("quantize: writing: %w", err)
	}
	pool := tensor.NewPool(opt.Threads)
	defer pool.Close()
	var buf []byte
	pad := make([]byte, f.Alignment)
	for i := range p.Tensors {
		c := &p.Tensors[i]
		src := f.TensorData(srcs[i])
		if !c.Convert() {
			_, err = bw.Write(src)
		} else {
			buf, err = convert(bw, pool, c, src, buf, cmp.Or(opt.slabBytes, defaultSlabBytes))
		}
		if err == nil && c.Size%f.Alignment != 0 {
			_, err = bw.Write(pad[:f.Alignment-c.Size%f.Alignment])
		}
		if err != nil {
			return cw.n, fmt.Errorf("quantize: tensor %q: %w", c.Name, err)
		}
		if opt.Progress != nil {
			opt.Progress(i, c)
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("quantize: writing: %w", err)
	}
	return cw.n, nil
}

// check matches the plan to f's tensors and returns them in plan order.
func check(f *gguf.File, p *Plan, opt Options) ([]*gguf.TensorInfo, error) {
	if len(p.Tensors) != len(f.Tensors) {
		return nil, fmt.Errorf("quantize: the plan has %d tensors, the file %d", len(p.Tensors), len(f.Tensors))
	}
	srcs := make([]*gguf.TensorInfo, len(p.Tensors))
	for i := range p.Tensors {
		c := &p.Tensors[i]
		t, ok := f.Tensor(c.Name)
		if !ok || t.Type != c.From || !slices.Equal(t.Dims, c.Dims) {
			return nil, fmt.Errorf("quantize: tensor %q of the plan does not match the file", c.Name)
		}
		if size, err := c.To.Bytes(c.Dims); err != nil || size != c.Size {
			return nil, fmt.Errorf("quantize: tensor %q: the plan's %d bytes of %s do not fit %v", c.Name, c.Size, c.To, c.Dims)
		}
		if c.Requantize() && !opt.AllowRequantize {
			return nil, fmt.Errorf("quantize: tensor %q is already quantized (%s); requantizing it to %s loses quality and needs AllowRequantize", c.Name, c.From, c.To)
		}
		srcs[i] = t
	}
	return srcs, nil
}

// encodeHeader returns the output file's bytes up to its tensor data.
//
// gguf.Writer encodes it, given stand-in tensor data: every tensor's data
// is a prefix of one zero buffer, which the two passes below never write
// out, so it costs address space rather than memory. The first pass
// measures the whole file; the data section is the sum of the aligned
// tensor sizes, so the rest is the header, which the second pass keeps.
func encodeHeader(f *gguf.File, p *Plan) ([]byte, error) {
	gw := gguf.NewWriter()
	for _, kv := range f.KV {
		if slices.Contains(droppedKeys, kv.Key) {
			continue
		}
		if err := gw.Set(kv.Key, kv.Value); err != nil {
			return nil, fmt.Errorf("quantize: %w", err)
		}
	}
	if err := gw.Set("general.quantization_version", uint32(QuantizationVersion)); err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	if err := gw.Set("general.file_type", uint32(p.FileType)); err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	var largest, data uint64
	for _, c := range p.Tensors {
		largest = max(largest, c.Size)
		data += alignUp(c.Size, f.Alignment)
	}
	zero := make([]byte, largest)
	for _, c := range p.Tensors {
		if err := gw.AddTensor(c.Name, c.To, c.Dims, zero[:c.Size]); err != nil {
			return nil, fmt.Errorf("quantize: %w", err)
		}
	}
	var total countWriter
	if _, err := gw.WriteTo(&total); err != nil {
		return nil, err
	}
	n := uint64(total.n) - data
	if uint64(total.n) < data || n%f.Alignment != 0 {
		return nil, fmt.Errorf("quantize: internal error: header of %d bytes from a %d-byte file with %d bytes of data", n, total.n, data)
	}
	h := &prefixWriter{b: make([]byte, 0, n)}
	if _, err := gw.WriteTo(h); err != nil {
		return nil, err
	}
	return h.b, nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// countWriter counts what it passes on to w (or discards, w nil).
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.w == nil {
		c.n += int64(len(p))
		return len(p), nil
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// prefixWriter keeps the first cap(b) bytes written to it.
type prefixWriter struct{ b []byte }

func (w *prefixWriter) Write(p []byte) (int, error) {
	room := cap(w.b) - len(w.b)
	w.b = append(w.b, p[:min(room, len(p))]...)
	return len(p), nil
}

// convert re-encodes a tensor's rows from c.From to c.To, writing them to w
// a slab of about slabBytes of output at a time. buf is scratch space,
// returned possibly grown.
func convert(w io.Writer, pool *tensor.Pool, c *Choice, src, buf []byte, slabBytes int) ([]byte, error) {
	cols := int(c.Dims[0])
	rows := 1
	for _, d := range c.Dims[1:] {
		rows *= int(d)
	}
	srcRow, err := c.From.RowBytes(cols)
	if err != nil {
		return buf, err
	}
	dstRow, err := c.To.RowBytes(cols)
	if err != nil {
		return buf, err
	}
	if len(src) != rows*srcRow {
		return buf, fmt.Errorf("%d bytes of data, want %d", len(src), rows*srcRow)
	}
	slab := max(1, min(rows, slabBytes/dstRow))
	if cap(buf) < slab*dstRow {
		buf = make([]byte, slab*dstRow)
	}
	chunk := max(1, chunkElems/cols) // rows
	for r0 := 0; r0 < rows; r0 += slab {
		n := min(slab, rows-r0)
		in, out := src[r0*srcRow:(r0+n)*srcRow], buf[:n*dstRow]
		var (
			mu    sync.Mutex
			first error
		)
		pool.Run((n+chunk-1)/chunk, func(lo, hi int) {
			f32 := make([]float32, min(chunk, n)*cols)
			for k := lo; k < hi; k++ {
				a, b := k*chunk, min((k+1)*chunk, n)
				x := f32[:(b-a)*cols]
				err := tensor.Dequantize(c.From, in[a*srcRow:b*srcRow], x)
				if err == nil {
					err = tensor.QuantizeTo(c.To, out[a*dstRow:b*dstRow], x)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
		if first != nil {
			return buf, first
		}
		if _, err := w.Write(out); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// WriteFile writes the converted file to path (see Write). It writes a
// temporary file next to path and renames it into place, so that a
// failure leaves no partial file behind.
func WriteFile(path string, f *gguf.File, p *Plan, opt Options) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := Write(tmp, f, p, opt); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	return nil
}
