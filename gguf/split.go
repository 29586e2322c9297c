package gguf

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strings"
)

// Metadata keys of a split model, as llama.cpp's gguf-split writes them.
// Every part holds split.no and split.count (uint16) and
// split.tensors.count (int32); only the first part holds the model's
// other metadata.
const (
	KeySplitNo           = "split.no"            // the part's index, from 0
	KeySplitCount        = "split.count"         // how many parts there are
	KeySplitTensorsCount = "split.tensors.count" // tensors in all parts together
)

// SplitPath is the name of part i (counted from 0, as split.no is) of a
// model split into n parts: PREFIX-0000{i+1}-of-0000{n}.gguf.
func SplitPath(prefix string, i, n int) string {
	return fmt.Sprintf("%s-%05d-of-%05d.gguf", prefix, i+1, n)
}

// SplitPrefix is the inverse of SplitPath: the prefix of path if path is
// the name of part i of n.
func SplitPrefix(path string, i, n int) (string, bool) {
	suffix := SplitPath("", i, n)
	prefix, ok := strings.CutSuffix(path, suffix)
	return prefix, ok && prefix != ""
}

// Open memory-maps and parses the GGUF file at path.
//
// When the file is the first part of a split model (split.count above 1),
// Open also opens the other parts, named by SplitPath in the same folder,
// and returns one File for the whole model. Each part is validated as any
// file is, and together they must agree: every part has the same
// split.count and the split.no of its place, no tensor is in two parts,
// and the total number of tensors is the first part's
// split.tensors.count. Opening another part than the first is an error
// that names the first.
func Open(path string) (*File, error) {
	first, err := openFile(path)
	if err != nil {
		return nil, err
	}
	f, err := openParts(first, path)
	if err != nil {
		first.Close()
		return nil, err
	}
	return f, nil
}

// OpenPart opens the GGUF file at path by itself: for one part of a split
// model, only its own metadata and tensors.
func OpenPart(path string) (*File, error) { return openFile(path) }

// openParts opens the rest of the split model whose part first was read
// from path, or returns first if it is a whole model.
func openParts(first *File, path string) (*File, error) {
	n, err := splitField(first, KeySplitCount)
	if errors.Is(err, ErrKeyNotFound) || err == nil && n <= 1 {
		return first, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	no, err := splitField(first, KeySplitNo)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s, a part of a %d-part split model)", err, path, n)
	}
	if no != 0 {
		if prefix, ok := SplitPrefix(path, no, n); ok {
			return nil, fmt.Errorf("gguf: %s is part %d of %d of a split model: open the first part, %s", path, no+1, n, SplitPath(prefix, 0, n))
		}
		return nil, fmt.Errorf("gguf: %s is part %d of %d of a split model: open the first part (named *%s)", path, no+1, n, SplitPath("", 0, n))
	}
	prefix, ok := SplitPrefix(path, 0, n)
	if !ok {
		return nil, fmt.Errorf("gguf: %s is the first of %d parts of a split model, but its name does not end in %s, so the other parts cannot be found",
			path, n, SplitPath("", 0, n))
	}
	f, err := join(first, n, func(i int) (*File, error) {
		p := SplitPath(prefix, i, n)
		part, err := openFile(p)
		var pe *fs.PathError
		if errors.Is(err, fs.ErrNotExist) && errors.As(err, &pe) {
			return nil, fmt.Errorf("gguf: part %d of %d of the split model %s is missing: %s: %w", i+1, n, path, p, pe.Err)
		}
		return part, err
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// splitField reads a split key, an integer that llama.cpp stores as a uint16.
func splitField(f *File, key string) (int, error) {
	v, err := f.Uint(key)
	if err != nil {
		return 0, err
	}
	if v > math.MaxUint16 {
		return 0, fmt.Errorf("gguf: metadata %q is %d, more than a uint16 holds", key, v)
	}
	return int(v), nil
}

// join makes one File of the n parts of a split model: first, and the
// others as open returns them. On failure it closes the parts it opened,
// but not first.
func join(first *File, n int, open func(i int) (*File, error)) (*File, error) {
	total, err := first.Uint(KeySplitTensorsCount)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s, the first of %d parts of a split model)", err, partName(first, 0), n)
	}
	if total > math.MaxInt32 {
		return nil, fmt.Errorf("gguf: metadata %q is %d, more than an int32 holds", KeySplitTensorsCount, total)
	}
	f := &File{
		Version:    first.Version,
		Alignment:  first.Alignment,
		KV:         first.KV,
		DataOffset: first.DataOffset,
		keys:       first.keys,
		path:       first.path,
		tensors:    make(map[string]int, len(first.Tensors)),
		parts:      make([]*File, 0, n),
	}
	add := func(p *File, i int) error {
		for _, t := range p.Tensors {
			if j, dup := f.tensors[t.Name]; dup {
				return fmt.Errorf("gguf: tensor %q is in two parts of the split model: %s and %s", t.Name, partName(f.parts[f.partOf[j]], f.partOf[j]), partName(p, i))
			}
			f.tensors[t.Name] = len(f.Tensors)
			f.Tensors = append(f.Tensors, t)
			f.partOf = append(f.partOf, i)
		}
		return nil
	}
	fail := func(err error) (*File, error) {
		for _, p := range f.parts[1:] {
			p.Close()
		}
		return nil, err
	}
	f.parts = append(f.parts, first)
	if err := add(first, 0); err != nil {
		return fail(err)
	}
	for i := 1; i < n; i++ {
		p, err := open(i)
		if err != nil {
			return fail(err)
		}
		f.parts = append(f.parts, p)
		if err := checkPart(p, i, n, total); err != nil {
			return fail(fmt.Errorf("%w (in %s)", err, partName(p, i)))
		}
		if err := add(p, i); err != nil {
			return fail(err)
		}
	}
	if uint64(len(f.Tensors)) != total {
		return fail(fmt.Errorf("gguf: the %d parts of the split model %s hold %d tensors, but its %s is %d",
			n, partName(first, 0), len(f.Tensors), KeySplitTensorsCount, total))
	}
	return f, nil
}

// checkPart checks that part p says it is part i of n of a model of total
// tensors.
func checkPart(p *File, i, n int, total uint64) error {
	no, err := splitField(p, KeySplitNo)
	if err != nil {
		return err
	}
	if no != i {
		return fmt.Errorf("gguf: %s is %d, want %d: the file is not part %d of %d", KeySplitNo, no, i, i+1, n)
	}
	count, err := splitField(p, KeySplitCount)
	if err != nil {
		return err
	}
	if count != n {
		return fmt.Errorf("gguf: %s is %d, but the first part says %d", KeySplitCount, count, n)
	}
	// gguf-split writes the total into every part; where present it must agree.
	t, err := p.Uint(KeySplitTensorsCount)
	switch {
	case errors.Is(err, ErrKeyNotFound):
		return nil
	case err != nil:
		return err
	case t != total:
		return fmt.Errorf("gguf: %s is %d, but the first part says %d", KeySplitTensorsCount, t, total)
	}
	return nil
}

// partName names a part in errors: its path, or its number.
func partName(p *File, i int) string {
	if p.path != "" {
		return p.path
	}
	return fmt.Sprintf("part %d", i+1)
}

// SplitOptions says how WriteSplit shares tensors among files, as
// llama.cpp's gguf-split does. At most one of MaxTensors and MaxBytes may
// be set; with neither, MaxTensors is 128, gguf-split's default.
type SplitOptions struct {
	// MaxTensors puts at most this many tensors in each file
	// (gguf-split --split-max-tensors).
	MaxTensors int
	// MaxBytes starts a new file before a tensor that would take the
	// file's tensor data, each tensor padded to 32 bytes, past this many
	// bytes (gguf-split --split-max-size). Metadata does not count. A
	// tensor larger than the limit gets a file of its own, except that,
	// as with gguf-split, the first tensor must fit.
	MaxBytes int64
	// MetadataOnlyFirst leaves the first file with the metadata alone and
	// no tensors (gguf-split --no-tensor-first-split).
	MetadataOnlyFirst bool
}

// splitAlign is the padding gguf-split counts each tensor's size with,
// ggml's default alignment whatever the file's.
const splitAlign = 32

// plan assigns w's tensors to parts: the number of tensors in each part.
func (o SplitOptions) plan(w *Writer) ([]int, error) {
	switch {
	case o.MaxTensors < 0 || o.MaxBytes < 0:
		return nil, fmt.Errorf("gguf: split limits must not be negative (%d tensors, %d bytes)", o.MaxTensors, o.MaxBytes)
	case o.MaxTensors > 0 && o.MaxBytes > 0:
		return nil, errors.New("gguf: split by tensor count or by size, not both")
	case o.MaxTensors == 0 && o.MaxBytes == 0:
		o.MaxTensors = 128
	}
	counts := []int{0}
	if o.MetadataOnlyFirst {
		counts = append(counts, 0)
	}
	var size uint64
	for i, t := range w.tensors {
		n := alignUp(t.info.Size, splitAlign)
		var next bool
		if o.MaxBytes > 0 {
			next = size+n > uint64(o.MaxBytes)
		} else {
			next = i > 0 && i%o.MaxTensors == 0
		}
		if next {
			if counts[len(counts)-1] == 0 {
				// gguf-split refuses a part without tensors too.
				return nil, fmt.Errorf("gguf: tensor %q (%d bytes) is larger than the %d-byte limit of a part, which would leave a part without tensors",
					t.info.Name, t.info.Size, o.MaxBytes)
			}
			counts = append(counts, 0)
			size = 0
		}
		size += n
		counts[len(counts)-1]++
	}
	if len(counts) > math.MaxUint16 {
		return nil, fmt.Errorf("gguf: %d parts, more than split.count can number", len(counts))
	}
	return counts, nil
}

// WriteSplit writes the file w describes as a split model, the way
// llama.cpp's gguf-split does: files named SplitPath(prefix, i, n), the
// first with all the metadata, every one with the split keys, the tensors
// in order and shared among them as opt says. It returns the paths
// written. A model that fits in one part is still written as part 1 of 1.
func (w *Writer) WriteSplit(prefix string, opt SplitOptions) ([]string, error) {
	counts, err := opt.plan(w)
	if err != nil {
		return nil, err
	}
	n := len(counts)
	total := int32(len(w.tensors))
	var paths []string
	next := 0
	for i, c := range counts {
		part := NewWriter()
		if i == 0 {
			for _, kv := range w.kv {
				if err := part.Set(kv.Key, kv.Value); err != nil {
					return paths, err
				}
			}
		} else if w.alignment != DefaultAlignment {
			if err := part.Set("general.alignment", uint32(w.alignment)); err != nil {
				return paths, err
			}
		}
		part.Set(KeySplitNo, uint16(i))
		part.Set(KeySplitCount, uint16(n))
		part.Set(KeySplitTensorsCount, total)
		for _, t := range w.tensors[next : next+c] {
			part.names[t.info.Name] = true
			part.tensors = append(part.tensors, writerTensor{info: t.info, data: t.data})
		}
		next += c
		p := SplitPath(prefix, i, n)
		if err := part.WriteFile(p); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}
