package tokenizer

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// TokenType is the kind of a token, as stored in a GGUF file's
// tokenizer.ggml.token_type array.
type TokenType int32

// Token types.
const (
	Undefined   TokenType = 0
	Normal      TokenType = 1
	Unknown     TokenType = 2
	Control     TokenType = 3
	UserDefined TokenType = 4
	Unused      TokenType = 5
	Byte        TokenType = 6
)

func (t TokenType) String() string {
	switch t {
	case Undefined:
		return "undefined"
	case Normal:
		return "normal"
	case Unknown:
		return "unknown"
	case Control:
		return "control"
	case UserDefined:
		return "user-defined"
	case Unused:
		return "unused"
	case Byte:
		return "byte"
	}
	return "TokenType(" + strconv.Itoa(int(t)) + ")"
}

// Vocab is everything a tokenizer needs to know about a vocabulary. Ids of
// special tokens are -1 when the vocabulary has none.
type Vocab struct {
	Tokens []string  // token texts, indexed by id
	Scores []float32 // merge scores (SentencePiece); nil means all zero
	Types  []int32   // TokenType values; nil means all Normal

	BOS, EOS, UNK, PAD int
	// EOT ends a turn in chat models. -1 has New look for a token with a
	// well-known end-of-turn text, as llama.cpp does.
	EOT int

	AddBOS, AddEOS bool // add BOS/EOS when encoding with special tokens
	// AddSpacePrefix prepends a space to text and removes it when
	// decoding (SentencePiece only; byte-level BPE ignores it, as
	// llama.cpp does).
	AddSpacePrefix bool

	// Model is tokenizer.ggml.model: "llama" (SentencePiece; "" is taken
	// as "llama") or "gpt2" (byte-level BPE).
	Model string

	// Merges are the BPE merge rules, "a b" in token texts, highest
	// priority first (tokenizer.ggml.merges; "gpt2" only).
	Merges []string
	// Pre names the pre-tokenizer that cuts text into words before
	// merging (tokenizer.ggml.pre; "gpt2" only). "" is llama.cpp's
	// "default".
	Pre string
}

// attr is the set of properties llama.cpp derives from a token's type and
// text; unlike the type, a token may have several.
type attr uint8

const (
	attrNormal attr = 1 << iota
	attrUnknown
	attrControl
	attrUserDefined
	attrUnused
	attrByte
)

func typeAttr(t TokenType) attr {
	switch t {
	case Normal:
		return attrNormal
	case Unknown:
		return attrUnknown
	case Control:
		return attrControl
	case UserDefined:
		return attrUserDefined
	case Unused:
		return attrUnused
	case Byte:
		return attrByte
	}
	return 0
}

// eotTexts are the texts by which llama.cpp recognises an end-of-turn token
// when the file names none, in order of preference.
var eotTexts = []string{
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
	"<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>",
	"<end_of_utterance>",
}

// eogTexts are the texts of tokens that llama.cpp treats as ending
// generation (and as control tokens) whatever the file says.
var eogTexts = []string{
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
	"<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>",
	"<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
	"<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
	"<｜end▁of▁sentence｜>", "[e~[",
}

// fimTexts are the texts by which llama.cpp recognises fill-in-the-middle
// tokens (prefix, suffix, middle, pad, repository, file separator), in
// order of preference. It makes them control tokens, and the last three
// end generation.
var fimTexts = [6][]string{
	{"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"},
	{"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"},
	{"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"},
	{"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"},
	{"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"},
	{"<|file_sep|>"},
}

// Tokenizer encodes and decodes text with a SentencePiece or byte-level
// BPE vocabulary. It is safe for concurrent use.
type Tokenizer struct {
	v       Vocab
	ids     map[string]int
	attrs   []attr
	pieces  []string // decoded text of each token, control tokens hidden
	bytes   [256]int // SentencePiece: token for each byte in byte fallback, or -1
	special []int    // tokens matched in text before merging, longest first
	eog     map[int]bool

	bpe *bpe // nil for SentencePiece
	hf  *hf  // Hugging Face rules, for a Tokenizer made by FromHF

	prefix, suffix []int // BPE: tokens added around the text with special tokens
}

// New builds a Tokenizer from v after checking it. v's slices are not
// modified, nor kept.
func New(v Vocab) (*Tokenizer, error) { return build(v, nil) }

// build is New, with the rules of a Hugging Face tokenizer.json when h is
// not nil.
func build(v Vocab, h *hf) (*Tokenizer, error) {
	switch v.Model {
	case "", "llama":
		v.Model = "llama"
		v.Merges, v.Pre = nil, ""
	case "gpt2":
		v.AddSpacePrefix = false
		v.Scores = nil
	default:
		return nil, fmt.Errorf("tokenizer: model type %q is not supported (only \"llama\", SentencePiece, and \"gpt2\", byte-level BPE)", v.Model)
	}
	n := len(v.Tokens)
	if n == 0 {
		return nil, fmt.Errorf("tokenizer: vocabulary has no tokens")
	}
	if v.Scores != nil && len(v.Scores) != n {
		return nil, fmt.Errorf("tokenizer: %d scores for %d tokens", len(v.Scores), n)
	}
	if v.Types != nil && len(v.Types) != n {
		return nil, fmt.Errorf("tokenizer: %d token types for %d tokens", len(v.Types), n)
	}
	for _, s := range []struct {
		name string
		id   int
	}{{"BOS", v.BOS}, {"EOS", v.EOS}, {"UNK", v.UNK}, {"PAD", v.PAD}, {"EOT", v.EOT}} {
		if s.id < -1 || s.id >= n {
			return nil, fmt.Errorf("tokenizer: %s token id %d out of range [0, %d)", s.name, s.id, n)
		}
	}
	if v.AddBOS && v.BOS < 0 {
		return nil, fmt.Errorf("tokenizer: BOS is to be added but the vocabulary has no BOS token")
	}
	if v.AddEOS && v.EOS < 0 {
		return nil, fmt.Errorf("tokenizer: EOS is to be added but the vocabulary has no EOS token")
	}

	t := &Tokenizer{
		ids:   make(map[string]int, n),
		attrs: make([]attr, n),
		eog:   map[int]bool{},
		hf:    h,
	}
	v.Tokens = append([]string(nil), v.Tokens...)
	v.Scores = append([]float32(nil), v.Scores...)
	v.Types = append([]int32(nil), v.Types...)
	v.Merges = append([]string(nil), v.Merges...)
	for id, text := range v.Tokens {
		if text == "" {
			// llama.cpp renames empty tokens so that no text maps to them.
			text = "[EMPTY_" + strconv.Itoa(id) + "]"
			v.Tokens[id] = text
		}
		if prev, dup := t.ids[text]; dup {
			return nil, fmt.Errorf("tokenizer: token %q appears twice, as ids %d and %d", text, prev, id)
		}
		t.ids[text] = id
		typ := Normal
		if len(v.Types) > 0 {
			typ = TokenType(v.Types[id])
		}
		t.attrs[id] = typeAttr(typ)
		if typ == Byte {
			if _, ok := parseByteToken(text); !ok {
				return nil, fmt.Errorf("tokenizer: token %d is a byte token but its text %q is not <0xXX>", id, text)
			}
		}
	}
	t.v = v

	if t.v.EOT < 0 {
		if id, ok := t.findText(eotTexts); ok {
			t.v.EOT = id
			t.attrs[id] |= attrControl
		}
	}
	if h == nil {
		for i, texts := range fimTexts {
			if id, ok := t.findText(texts); ok {
				t.attrs[id] |= attrControl
				if i >= 3 {
					t.eog[id] = true
				}
			}
		}
	}
	for _, s := range eogTexts {
		if id, ok := t.ids[s]; ok {
			t.eog[id] = true
			t.attrs[id] |= attrControl
		}
	}
	for _, id := range []int{t.v.EOS, t.v.EOT} {
		if id >= 0 {
			t.eog[id] = true
		}
	}

	for id, a := range t.attrs {
		if a&(attrControl|attrUserDefined|attrUnknown) != 0 {
			t.special = append(t.special, id)
		}
	}
	sort.SliceStable(t.special, func(i, j int) bool {
		return len(t.v.Tokens[t.special[i]]) > len(t.v.Tokens[t.special[j]])
	})

	if v.Model == "gpt2" {
		if err := t.initBPE(); err != nil {
			return nil, err
		}
	} else {
		for b := range t.bytes {
			t.bytes[b] = t.byteFallback(byte(b))
		}
	}
	t.pieces = make([]string, n)
	for id := range t.pieces {
		t.pieces[id] = t.piece(id)
	}
	return t, nil
}

// findText returns the first of texts that is a token.
func (t *Tokenizer) findText(texts []string) (int, bool) {
	for _, s := range texts {
		if id, ok := t.ids[s]; ok {
			return id, true
		}
	}
	return 0, false
}

// initBPE sets up byte-level BPE from the vocabulary's merges and
// pre-tokenizer, or from the Hugging Face rules.
func (t *Tokenizer) initBPE() error {
	if t.hf != nil {
		return t.hf.init(t)
	}
	name := t.v.Pre
	if name == "" {
		name = "default"
	}
	info, ok := preNames[name]
	if !ok {
		return fmt.Errorf("tokenizer: pre-tokenizer %q is not supported (supported: %s)", t.v.Pre, strings.Join(preNameList(), ", "))
	}
	pairs := make([][2]string, len(t.v.Merges))
	for i, rule := range t.v.Merges {
		p, err := splitMerge(rule)
		if err != nil {
			return fmt.Errorf("tokenizer: merge %d: %w", i, err)
		}
		pairs[i] = p
	}
	t.bpe = newBPE(t.v.Tokens, t.ids, pairs, newPretokenizer(info.kind), true, info.ignoreMerges)
	if t.v.AddBOS {
		t.prefix = []int{t.v.BOS}
	}
	if t.v.AddEOS {
		t.suffix = []int{t.v.EOS}
	}
	return nil
}

// byteFallback returns the token that stands for byte b in text that no
// piece covers: <0xXX>, else the one-byte token, else UNK (llama.cpp fails
// where this returns UNK).
func (t *Tokenizer) byteFallback(b byte) int {
	if id, ok := t.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
		return id
	}
	if id, ok := t.ids[string([]byte{b})]; ok {
		return id
	}
	return t.v.UNK
}

// parseByteToken reads the byte of a "<0xXX>" token.
func parseByteToken(s string) (byte, bool) {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return 0, false
	}
	b, err := strconv.ParseUint(s[3:5], 16, 8)
	return byte(b), err == nil
}

// Len returns the number of tokens in the vocabulary.
func (t *Tokenizer) Len() int { return len(t.v.Tokens) }

// BOS returns the beginning-of-sequence token, or -1.
func (t *Tokenizer) BOS() int { return t.v.BOS }

// EOS returns the end-of-sequence token, or -1.
func (t *Tokenizer) EOS() int { return t.v.EOS }

// EOT returns the end-of-turn token, or -1.
func (t *Tokenizer) EOT() int { return t.v.EOT }

// UNK returns the unknown token, or -1.
func (t *Tokenizer) UNK() int { return t.v.UNK }

// AddBOS reports whether Encode adds BOS when asked for special tokens.
func (t *Tokenizer) AddBOS() bool {
	if t.bpe != nil {
		return len(t.prefix) > 0 && t.prefix[0] == t.v.BOS
	}
	return t.v.AddBOS
}

// IsEOG reports whether id ends generation: EOS, EOT, or a token whose text
// llama.cpp knows as an end-of-generation marker.
func (t *Tokenizer) IsEOG(id int) bool { return t.eog[id] }

// Token returns the text of token id as the vocabulary stores it, or "" if
// id is out of range.
func (t *Tokenizer) Token(id int) string {
	if id < 0 || id >= len(t.v.Tokens) {
		return ""
	}
	return t.v.Tokens[id]
}

// Type returns the type of token id, or Undefined if id is out of range.
func (t *Tokenizer) Type(id int) TokenType {
	if id < 0 || id >= len(t.v.Tokens) {
		return Undefined
	}
	if len(t.v.Types) == 0 {
		return Normal
	}
	return TokenType(t.v.Types[id])
}

// Vocab returns a copy of the vocabulary the Tokenizer was built from, with
// EOT resolved and empty token texts renamed. For a Tokenizer from FromHF,
// which keeps its merges and other rules to itself, Merges and Pre are
// empty.
func (t *Tokenizer) Vocab() Vocab {
	v := t.v
	v.Tokens = append([]string(nil), v.Tokens...)
	v.Scores = append([]float32(nil), v.Scores...)
	v.Types = append([]int32(nil), v.Types...)
	v.Merges = append([]string(nil), v.Merges...)
	return v
}
