package quantize

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/joule-llm/joule/gguf"
	"github.com/joule-llm/joule/tensor"
)

// Choice is what happens to one tensor.
type Choice struct {
	Name string
	Dims []uint64    // innermost first, as in GGUF
	From tensor.Type // the type in the input file
	To   tensor.Type // the type in the output file
	// Want is the type llama.cpp's quantizer picks for the tensor. It
	// differs from To only where package tensor has no quantizer for it.
	Want tensor.Type
	// Note says why the tensor got a type other than the mix's, when its
	// shape forced a fallback or Want could not be written; else "".
	Note string
	Size uint64 // bytes of the tensor in the output file
}

// Convert reports whether the tensor's data is re-encoded, rather than
// copied.
func (c *Choice) Convert() bool { return c.From != c.To }

// Requantize reports whether the tensor is converted from an already
// quantized type, which compounds the rounding errors of both types.
func (c *Choice) Requantize() bool { return c.Convert() && isQuantized(c.From) }

// Plan is the output type of every tensor of a file.
type Plan struct {
	FileType FileType
	// Tensors in the order the output file holds them: llama.cpp's order,
	// by layer number (tensors outside the blocks first), then by name.
	Tensors []Choice
	// Fallbacks counts the tensors whose row length forced another type,
	// as llama-quantize counts them.
	Fallbacks int
}

// Requantizes returns the tensors the plan converts from a quantized type.
func (p *Plan) Requantizes() []*Choice {
	var out []*Choice
	for i := range p.Tensors {
		if p.Tensors[i].Requantize() {
			out = append(out, &p.Tensors[i])
		}
	}
	return out
}

// NewPlan chooses the output type of each tensor of f for the file type ft,
// following llama.cpp's llama_model_quantize without an importance matrix
// or per-tensor overrides.
func NewPlan(f *gguf.File, ft FileType) (*Plan, error) {
	def, ok := ft.DefaultType()
	if !ok {
		return nil, fmt.Errorf("quantize: file type %s is not supported", ft)
	}
	// gguf.Open joins a split model's parts into one File; a part read
	// alone (gguf.OpenPart, Parse) holds only some of the tensors.
	if n, err := f.Uint("split.count"); err == nil && n > 1 {
		if total, err := f.Uint("split.tensors.count"); err != nil || total != uint64(len(f.Tensors)) {
			return nil, errors.New("quantize: the file is one part of a split model; open the first part so that all are read")
		}
	}
	hp, err := readHParams(f)
	if err != nil {
		return nil, err
	}
	infos := make([]*gguf.TensorInfo, len(f.Tensors))
	for i := range f.Tensors {
		infos[i] = &f.Tensors[i]
	}
	slices.SortStableFunc(infos, func(a, b *gguf.TensorInfo) int {
		return cmp.Or(cmp.Compare(layerOf(a.Name), layerOf(b.Name)), strings.Compare(a.Name, b.Name))
	})

	s := &selector{hp: hp, ft: ft, def: def, tied: true}
	for _, t := range infos {
		switch categoryOf(t.Name) {
		case catOutput:
			s.tied = false
		case catAttnV, catAttnQKV, catAttnKVB:
			s.nAttnV++
		}
	}
	p := &Plan{FileType: ft, Tensors: make([]Choice, len(infos))}
	for i, t := range infos {
		c := &p.Tensors[i]
		*c = Choice{Name: t.Name, Dims: slices.Clone(t.Dims), From: t.Type}
		if len(t.Dims) == 0 || t.Dims[0] == 0 {
			return nil, fmt.Errorf("quantize: tensor %q has no elements", t.Name)
		}
		if c.Want, c.Note, err = s.choose(t); err != nil {
			return nil, err
		}
		c.To = c.Want
		if c.To != c.From && !canEncode(c.To) {
			c.To = substitute(c.Want, t.Dims[0])
			c.Note = joinNote(c.Note, fmt.Sprintf("no %s quantizer in Joule, %s instead", c.Want, c.To))
		}
		if c.To != c.From && !canDecode(c.From) {
			return nil, fmt.Errorf("quantize: tensor %q: cannot convert from %s to %s: %s cannot be decoded", t.Name, c.From, c.To, c.From)
		}
		if c.Size, err = c.To.Bytes(t.Dims); err != nil {
			return nil, fmt.Errorf("quantize: tensor %q: %w", t.Name, err)
		}
	}
	p.Fallbacks = s.fallbacks
	return p, nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// hparams are the model facts the type rules look at.
type hparams struct {
	arch           string
	layers         int
	experts        int
	heads, headsKV int
}

func readHParams(f *gguf.File) (hparams, error) {
	var hp hparams
	arch, err := f.String("general.architecture")
	if err != nil {
		return hp, fmt.Errorf("quantize: %w", err)
	}
	hp.arch = arch
	n, err := f.Uint(arch + ".block_count")
	if err != nil {
		return hp, fmt.Errorf("quantize: %w", err)
	}
	hp.layers = int(n)
	if n, err := f.Uint(arch + ".expert_count"); err == nil {
		hp.experts = int(n)
	}
	hp.heads = firstUint(f, arch+".attention.head_count")
	hp.headsKV = firstUint(f, arch+".attention.head_count_kv")
	if hp.headsKV == 0 {
		hp.headsKV = hp.heads
	}
	return hp, nil
}

// firstUint reads a count that some models store per layer, as an array:
// the first layer's value then, 0 when absent.
func firstUint(f *gguf.File, key string) int {
	if n, err := f.Uint(key); err == nil {
		return int(n)
	}
	if a, err := f.Int32s(key); err == nil && len(a) > 0 && a[0] > 0 {
		return int(a[0])
	}
	return 0
}

// gqa is the number of query heads per key/value head, 0 when unknown.
func (hp hparams) gqa() int {
	if hp.headsKV == 0 {
		return 0
	}
	return hp.heads / hp.headsKV
}

// is70B reports whether llama.cpp takes the model for Llama 2 70B, whose
// attn_v it gives more bits: 8 query heads share each value head there.
func (hp hparams) is70B() bool {
	return hp.arch == "llama" && hp.layers == 80 && hp.heads != hp.headsKV
}

// layerOf returns N for a tensor named "blk.N....", else -1, as llama.cpp
// parses it to order tensors.
func layerOf(name string) int {
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return -1
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(rest[:end])
	if err != nil {
		return -1
	}
	return n
}

// category is the role of a tensor as the type rules see it, matched on
// its name as llama.cpp matches it.
type category int

const (
	catOther category = iota
	catTokenEmbd
	catOutput
	catAttnQ
	catAttnK
	catAttnV
	catAttnQKV
	catAttnKVB
	catAttnOutput
	catFFNUp
	catFFNGate
	catFFNDown
)

func categoryOf(name string) category {
	has := func(s string) bool { return strings.Contains(name, s) }
	switch {
	case name == "output.weight":
		return catOutput
	case name == "token_embd.weight" || name == "per_layer_token_embd.weight":
		return catTokenEmbd
	case has("attn_qkv.weight"):
		return catAttnQKV
	case has("attn_kv_b.weight"):
		return catAttnKVB
	case has("attn_v.weight"):
		return catAttnV
	case has("attn_k.weight"):
		return catAttnK
	case has("attn_q.weight"):
		return catAttnQ
	case has("attn_output.weight"):
		return catAttnOutput
	case has("ffn_up"):
		return catFFNUp
	case has("ffn_gate"):
		return catFFNGate
	case has("ffn_down"):
		return catFFNDown
	}
	return catOther
}

// keptNames are name fragments of matrices llama.cpp never quantizes:
// norms, expert routers, small or positional tensors of various models.
var keptNames = []string{
	"_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight",
	"altup", "laurel", "per_layer_model_proj",
	"ssm_conv1d", "shortconv.conv.weight",
	"indexer.k_proj.weight", "indexer.q_proj.weight",
	"time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
	"time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight",
	"time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight",
	"time_mix_g1.weight", "time_mix_g2.weight",
	"time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
	"attn_rel_b.weight",
	".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger",
	"a.rvq.codebook", "mm.a.code_embd",
}

// mayQuantize reports whether llama.cpp quantizes a tensor at all: only
// matrices (and stacks of them) named "...weight", minus the kept ones.
func mayQuantize(name string, dims []uint64) bool {
	if nDims(dims) < 2 || !strings.HasSuffix(name, "weight") {
		return false
	}
	if name == "position_embd.weight" || name == "token_types.weight" {
		return false
	}
	for _, s := range keptNames {
		if strings.Contains(name, s) {
			return false
		}
	}
	return true
}

// nDims counts dimensions up to the last one above 1, as ggml_n_dims does.
func nDims(dims []uint64) int {
	for i := len(dims) - 1; i >= 1; i-- {
		if dims[i] > 1 {
			return i + 1
		}
	}
	return 1
}

// selector carries the counters llama.cpp's type rules keep while they
// walk the tensors in order.
type selector struct {
	hp        hparams
	ft        FileType
	def       tensor.Type
	tied      bool // no output.weight: token_embd is also the classifier
	nAttnV    int
	iAttnV    int
	iFFNDown  int
	fallbacks int
}

// choose returns the type llama.cpp gives t, and a note when its shape
// forced a fallback.
func (s *selector) choose(t *gguf.TensorInfo) (tensor.Type, string, error) {
	if !mayQuantize(t.Name, t.Dims) {
		return t.Type, "", nil
	}
	if !isQuantized(s.def) {
		return s.def, "", nil
	}
	typ, err := s.mix(t, categoryOf(t.Name))
	if err != nil {
		return 0, "", err
	}
	return s.fallback(t, typ)
}

// useMoreBits picks the layers that Q4_K_M and Q5_K_M give Q6_K: the first
// and last eighth of the layers and every third one between.
func useMoreBits(i, n int) bool {
	return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2
}

// mix applies the file type's per-tensor rules to a tensor llama.cpp
// quantizes. Only the rules that can fire for the supported file types
// are here.
func (s *selector) mix(t *gguf.TensorInfo, cat category) (tensor.Type, error) {
	typ := s.def
	ft, hp := s.ft, s.hp
	falcon := hp.arch == "falcon"
	switch {
	case cat == catOutput || (s.tied && cat == catTokenEmbd):
		switch {
		case falcon || t.Dims[0]%uint64(typ.BlockSize()) != 0:
			typ = tensor.Q8_0
		case typ != tensor.Q8_0:
			typ = tensor.Q6_K
		}
	case cat == catAttnV || cat == catAttnQKV || cat == catAttnKVB:
		switch {
		case ft == Q2_K:
			typ = tensor.Q3_K
			if hp.gqa() >= 4 {
				typ = tensor.Q4_K
			}
		case ft == Q3_K_M:
			typ = tensor.Q4_K
			if s.iAttnV < 2 {
				typ = tensor.Q5_K
			}
		case ft == Q3_K_L:
			typ = tensor.Q5_K
		case (ft == IQ4_NL || ft == IQ4_XS) && hp.gqa() >= 4:
			typ = tensor.Q5_K
		case (ft == Q4_K_M || ft == Q5_K_M) && useMoreBits(s.iAttnV, s.nAttnV):
			typ = tensor.Q6_K
		case ft == Q4_K_S && s.iAttnV < 4:
			typ = tensor.Q5_K
		}
		if hp.is70B() && (typ == tensor.Q3_K || typ == tensor.Q4_K) {
			typ = tensor.Q5_K
		}
		if hp.experts == 8 {
			typ = tensor.Q8_0
		}
		s.iAttnV++
	case cat == catAttnK:
		if hp.experts == 8 {
			typ = tensor.Q8_0
		}
	case cat == catFFNDown:
		i, n := s.iFFNDown, hp.layers
		if hp.experts > 1 {
			// Expert tensors are not in layer order, so llama.cpp reads
			// the layer from the name.
			i = layerOf(t.Name)
			if i < 0 || i >= n {
				return 0, fmt.Errorf("quantize: tensor %q: cannot tell its layer (of %d)", t.Name, n)
			}
		}
		switch {
		case ft == Q2_K:
			typ = tensor.Q3_K
		case ft == Q3_K_M:
			switch {
			case i < n/16:
				typ = tensor.Q5_K
			case !falcon || useMoreBits(i, n):
				typ = tensor.Q4_K
			default:
				typ = tensor.Q3_K
			}
		case ft == Q3_K_L:
			typ = tensor.Q5_K
			if falcon {
				typ = tensor.Q4_K
			}
		case ft == Q4_K_M && falcon:
			switch {
			case i < n/16:
				typ = tensor.Q6_K
			case useMoreBits(i, n):
				typ = tensor.Q5_K
			default:
				typ = tensor.Q4_K
			}
		case ft == Q4_K_M:
			if useMoreBits(i, n) {
				typ = tensor.Q6_K
			}
		case (ft == IQ4_NL || ft == IQ4_XS) && i < n/8:
			typ = tensor.Q5_K // llama.cpp does this only without an importance matrix
		case ft == Q5_K_M && useMoreBits(i, n):
			typ = tensor.Q6_K
		case ft == Q4_K_S && !falcon && i < n/8:
			typ = tensor.Q5_K
		}
		s.iFFNDown++
	case cat == catAttnOutput:
		switch {
		case falcon:
			if ft == Q3_K_L {
				typ = tensor.Q4_K
			}
		case hp.experts == 8:
			switch ft {
			case Q2_K, Q3_K_S, Q3_K_M, IQ4_NL, Q4_K_S, Q4_K_M, IQ4_XS:
				typ = tensor.Q5_K
			}
		case ft == Q2_K:
			typ = tensor.Q3_K
		case ft == Q3_K_M:
			typ = tensor.Q4_K
		case ft == Q3_K_L:
			typ = tensor.Q5_K
		}
	}
	return typ, nil
}

// fallback replaces a type whose blocks do not divide the tensor's rows,
// as llama.cpp's tensor_type_fallback does: Q2_K and Q3_K by Q4_0, Q4_K by
// Q5_0, Q5_K by Q5_1, Q6_K by Q8_0, IQ4_XS by IQ4_NL, and a type that
// still does not fit by F16.
func (s *selector) fallback(t *gguf.TensorInfo, typ tensor.Type) (tensor.Type, string, error) {
	cols, bs := t.Dims[0], uint64(typ.BlockSize())
	if cols%bs == 0 {
		return typ, "", nil
	}
	s.fallbacks++
	fb := typ
	switch typ {
	case tensor.IQ4_XS:
		fb = tensor.IQ4_NL
	case tensor.Q2_K, tensor.Q3_K:
		fb = tensor.Q4_0
	case tensor.Q4_K:
		fb = tensor.Q5_0
	case tensor.Q5_K:
		fb = tensor.Q5_1
	case tensor.Q6_K:
		fb = tensor.Q8_0
	default:
		if bs > 32 {
			return 0, "", fmt.Errorf("quantize: tensor %q: no fallback type for %s", t.Name, typ)
		}
	}
	if cols%uint64(fb.BlockSize()) != 0 {
		fb = tensor.F16
	}
	return fb, fmt.Sprintf("row of %d is not a multiple of %d (%s): %s", cols, bs, typ, fb), nil
}

func isQuantized(t tensor.Type) bool { return t.BlockSize() > 1 }

// canEncode reports whether package tensor can quantize to t.
func canEncode(t tensor.Type) bool {
	if !t.Known() || t.BlockSize() == 0 {
		return false
	}
	_, err := tensor.Quantize(t, make([]float32, t.BlockSize()))
	return err == nil
}

// canDecode reports whether package tensor can decode t.
func canDecode(t tensor.Type) bool {
	if !t.Known() || t.BlockSize() == 0 {
		return false
	}
	return tensor.Dequantize(t, make([]byte, t.BlockBytes()), make([]float32, t.BlockSize())) == nil
}

// substitutes are the types a missing quantizer may be replaced by, in
// increasing bits per weight.
var substitutes = []tensor.Type{tensor.Q4_0, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K, tensor.Q8_0, tensor.F16}

func bitsPerWeight(t tensor.Type) float64 {
	return float64(8*t.BlockBytes()) / float64(t.BlockSize())
}

// substitute returns the smallest type package tensor can write that has at
// least want's bits per weight and whose blocks divide a row of cols.
func substitute(want tensor.Type, cols uint64) tensor.Type {
	for _, t := range substitutes {
		if bitsPerWeight(t) >= bitsPerWeight(want) && cols%uint64(t.BlockSize()) == 0 && canEncode(t) {
			return t
		}
	}
	return tensor.F32
}
