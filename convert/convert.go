package convert

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/safetensors"
	"github.com/joule-llm/joule/tensor"
)

// Options control a conversion.
type Options struct {
	// Type is the type of the 2-D weight matrices: F32 (the zero value),
	// F16, BF16 or Q8_0. 1-D tensors are always F32.
	Type tensor.Type
	// Pre, if not empty, is written as tokenizer.ggml.pre instead of the
	// pre-tokenizer found by hashing, for tokenizers llama.cpp's table
	// does not know.
	Pre string
	// Log, if not nil, receives a line for each tensor written.
	Log io.Writer
}

// fileTypes maps the matrix types to general.file_type (llama_ftype).
var fileTypes = map[tensor.Type]uint32{tensor.F32: 0, tensor.F16: 1, tensor.Q8_0: 7, tensor.BF16: 32}

// Convert converts the Hugging Face model directory dir to the GGUF file
// out. The file appears only once it is complete.
func Convert(dir, out string, o Options) error {
	ftype, ok := fileTypes[o.Type]
	if !ok {
		return fmt.Errorf("convert: output type %s is not supported (F32, F16, BF16, Q8_0)", o.Type)
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	h, err := readHparams(filepath.Join(dir, "config.json"))
	if err != nil {
		return err
	}
	a, archName, err := lookupArch(h)
	if err != nil {
		return err
	}
	st, err := safetensors.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	defer st.Close()
	d, err := readDims(h, a, st)
	if err != nil {
		return err
	}
	v, err := readVocab(dir, h, a, d.vocab, o.Pre)
	if err != nil {
		return err
	}
	jobs, err := planTensors(h, a, d, st, o.Type, v)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	meta, err := generalMeta(h, a, d, filepath.Base(abs), ftype)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "%s → %s, %d blocks, tokenizer.ggml.pre %q\n", archName, a.name, d.blocks, v.pre)

	w := gguf.NewWriter()
	for _, m := range slices.Concat(meta, v.meta) {
		if err := w.Set(m.key, m.value); err != nil {
			return fmt.Errorf("convert: %w", err)
		}
	}
	sc, err := newScratch(filepath.Dir(out))
	if err != nil {
		return err
	}
	defer sc.remove()
	for _, j := range jobs {
		if err := j.convert(sc); err != nil {
			return err
		}
		src := "generated"
		if j.src != nil {
			src = string(j.src.DType)
		}
		fmt.Fprintf(log, "%-28s %-9s → %-4s %v\n", j.name, src, j.typ, ggufDims(j.shape))
	}
	spilled, err := sc.mapped()
	if err != nil {
		return err
	}
	for _, j := range jobs {
		data := j.direct
		if data == nil {
			data = spilled[j.off : j.off+j.size]
		}
		if err := w.AddTensor(j.name, j.typ, ggufDims(j.shape), data); err != nil {
			return fmt.Errorf("convert: %w", err)
		}
	}
	return writeAtomic(out, w)
}

// lookupArch reads architectures[0].
func lookupArch(h hparams) (arch, string, error) {
	list, _ := h["architectures"].([]any)
	if len(list) == 0 {
		return arch{}, "", errors.New("convert: config.json names no architectures")
	}
	name, _ := list[0].(string)
	a, ok := archs[name]
	if !ok {
		return arch{}, "", fmt.Errorf("convert: architecture %q is not supported (supported: %s)", name, supportedArchs())
	}
	return a, name, nil
}

// readDims reads the sizes the tensors are checked against.
func readDims(h hparams, a arch, st *safetensors.Dir) (dims, error) {
	var d dims
	required := []struct {
		dst  *int
		keys []string
	}{
		{&d.embd, []string{"hidden_size", "n_embd", "dim"}},
		{&d.blocks, []string{"num_hidden_layers", "n_layers", "n_layer", "num_layers"}},
		{&d.ff, []string{"intermediate_size", "n_inner", "hidden_dim"}},
		{&d.heads, []string{"num_attention_heads", "n_head", "n_heads"}},
	}
	for _, r := range required {
		n, ok, err := h.integer(r.keys...)
		if err != nil {
			return d, fmt.Errorf("convert: %w", err)
		}
		if !ok || n == 0 {
			return d, fmt.Errorf("convert: config.json: %s is missing or zero", r.keys[0])
		}
		*r.dst = n
	}
	var err error
	if d.kvHeads, err = intOr(h, a.defKVHeads, "num_key_value_heads", "n_kv_heads"); err != nil {
		return d, err
	}
	if d.kvHeads == 0 {
		d.kvHeads = d.heads
	}
	defHead := a.defHeadDim
	if defHead == 0 {
		if d.embd%d.heads != 0 {
			return d, fmt.Errorf("convert: config.json: hidden_size %d is not a multiple of num_attention_heads %d, and head_dim is missing", d.embd, d.heads)
		}
		defHead = d.embd / d.heads
	}
	if d.headDim, err = intOr(h, defHead, "head_dim"); err != nil {
		return d, err
	}
	if d.kvHeads == 0 || d.headDim == 0 || d.heads%d.kvHeads != 0 {
		return d, fmt.Errorf("convert: config.json: %d attention heads, %d key/value heads of size %d", d.heads, d.kvHeads, d.headDim)
	}
	embed, ok := st.Tensor("model.embed_tokens.weight")
	if !ok || len(embed.Shape) != 2 {
		return d, errors.New("convert: no 2-D model.embed_tokens.weight among the weights")
	}
	if d.vocab, err = intOr(h, int(embed.Shape[0]), "vocab_size"); err != nil {
		return d, err
	}
	return d, nil
}

// intOr returns the first of keys present, or def.
func intOr(h hparams, def int, keys ...string) (int, error) {
	n, ok, err := h.integer(keys...)
	if err != nil {
		return 0, fmt.Errorf("convert: %w", err)
	}
	if !ok {
		return def, nil
	}
	return n, nil
}

// planTensors maps and checks every tensor of st and decides its type.
func planTensors(h hparams, a arch, d dims, st *safetensors.Dir, typ tensor.Type, v *vocab) ([]*job, error) {
	tied, _, err := h.boolean("tie_word_embeddings")
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	var jobs []*job
	have := map[string]bool{}
	for _, hfName := range st.Names() {
		if skipped(hfName) {
			continue
		}
		src, _ := st.Tensor(hfName)
		m, err := a.mapName(hfName)
		if err != nil {
			return nil, err
		}
		if m.kind == "output" && (tied || a.dropOutput) {
			continue // the output layer is the embedding
		}
		if m.block >= d.blocks {
			return nil, fmt.Errorf("convert: tensor %q is in block %d, but config.json has %d blocks", hfName, m.block, d.blocks)
		}
		name := m.String()
		if have[name] {
			return nil, fmt.Errorf("convert: two tensors map to %s", name)
		}
		have[name] = true
		if want := d.shape(a, m); !slices.Equal(src.Shape, want) {
			return nil, fmt.Errorf("convert: tensor %q has shape %v, want %v from config.json", hfName, src.Shape, want)
		}
		if _, err := decodable(src.DType); err != nil {
			return nil, fmt.Errorf("convert: tensor %q: %w", hfName, err)
		}
		j := &job{name: name, src: src, shape: src.Shape, typ: tensorType(m, src.Shape, typ)}
		if a.gemma && strings.HasSuffix(hfName, "norm.weight") {
			j.shift = 1
		}
		if a.trimEmbed && m.kind == "token_embd" && v.realSize < int(src.Shape[0]) {
			j.shape = []uint64{uint64(v.realSize), src.Shape[1]}
		}
		if a.permuteQK {
			switch m.kind {
			case "attn_q":
				j.heads = d.heads
			case "attn_k":
				j.heads = d.kvHeads
			}
			if j.heads > 0 && d.headDim%2 != 0 {
				return nil, fmt.Errorf("convert: head size %d is odd; the rotary layout cannot be permuted", d.headDim)
			}
		}
		jobs = append(jobs, j)
	}
	var missing []string
	need := []string{"token_embd.weight", "output_norm.weight"}
	for b := 0; b < d.blocks; b++ {
		for _, n := range a.blockRequired() {
			need = append(need, fmt.Sprintf("blk.%d.%s", b, n))
		}
	}
	for _, n := range need {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("convert: tensors missing: %s", brief(missing))
	}
	extra, err := ropeFreqs(h, a, d)
	if err != nil {
		return nil, err
	}
	if a.name == "phi3" {
		lr, err := phi3LongRope(h, a, h.ropeParams(), d)
		if err != nil {
			return nil, err
		}
		if lr != nil {
			extra = append(extra, factorJob("rope_factors_long.weight", lr.long), factorJob("rope_factors_short.weight", lr.short))
		}
	}
	jobs = append(extra, jobs...)
	sort.SliceStable(jobs, func(i, k int) bool {
		ri, rk := jobRank(jobs[i].name), jobRank(jobs[k].name)
		return ri[0] < rk[0] || ri[0] == rk[0] && ri[1] < rk[1]
	})
	return jobs, nil
}

// factorJob is a generated F32 vector.
func factorJob(name string, vals []float32) *job {
	data := make([]byte, 4*len(vals))
	for i, f := range vals {
		putF32(data[4*i:], f)
	}
	return &job{name: name, shape: []uint64{uint64(len(vals))}, typ: tensor.F32, direct: data}
}

// tensorType is llama.cpp's rule: 1-D tensors, norms and biases are F32,
// matrices take the chosen type, and a matrix whose rows Q8_0 cannot
// split into blocks falls back to F16.
func tensorType(m mappedName, shape []uint64, typ tensor.Type) tensor.Type {
	if len(shape) <= 1 || m.suffix != "weight" || strings.HasSuffix(m.kind, "_norm") {
		return tensor.F32
	}
	if typ.BlockSize() > 1 && shape[len(shape)-1]%uint64(typ.BlockSize()) != 0 {
		return tensor.F16
	}
	return typ
}

// jobRank orders the output: rope_freqs, token_embd, the blocks in order,
// then output_norm and output.
func jobRank(name string) [2]int {
	switch name {
	case "rope_freqs.weight", "rope_factors_long.weight", "rope_factors_short.weight":
		return [2]int{0, 0}
	case "token_embd.weight":
		return [2]int{1, 0}
	case "output_norm.weight":
		return [2]int{3, 0}
	case "output.weight":
		return [2]int{3, 1}
	}
	var b int
	fmt.Sscanf(name, "blk.%d.", &b)
	return [2]int{2, b}
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func brief(names []string) string {
	const most = 6
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:most], ", "), len(names)-most)
}

// ggufDims reverses a row-major shape into GGUF's innermost-first order.
func ggufDims(shape []uint64) []uint64 {
	out := make([]uint64, len(shape))
	for i, d := range shape {
		out[len(shape)-1-i] = d
	}
	return out
}

// writeAtomic writes w to a temporary file beside path and renames it into
// place, so that a failed conversion leaves no partial file.
func writeAtomic(path string, w *gguf.Writer) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	tmp := f.Name()
	_, err = w.WriteTo(f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("convert: %w", cerr)
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
