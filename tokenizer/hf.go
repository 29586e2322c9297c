package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// FromHF builds the Tokenizer of a Hugging Face tokenizer directory:
// tokenizer.json, and tokenizer_config.json if present (for the BOS, EOS,
// padding and unknown tokens and clean_up_tokenization_spaces).
//
// It follows the Hugging Face tokenizers library rather than llama.cpp:
// text is normalized, added tokens are found leftmost-longest (special
// ones only when Encode is asked to parse special tokens, others always),
// Encode with special tokens adds what the post-processor adds, and
// decoding cleans up spaces before punctuation when the configuration asks
// for it. Only byte-pair-encoding models are supported; a component that
// this package does not implement is reported as an error.
func FromHF(dir string) (*Tokenizer, error) {
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var cfg hfConfig
	cdata, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	switch {
	case err == nil:
		if err := json.Unmarshal(cdata, &cfg); err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %w", filepath.Join(dir, "tokenizer_config.json"), err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := parseHF(data, cfg)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", filepath.Join(dir, "tokenizer.json"), err)
	}
	return t, nil
}

// hfFile is the part of tokenizer.json that is read.
type hfFile struct {
	AddedTokens   []hfAddedToken `json:"added_tokens"`
	Normalizer    *hfComponent   `json:"normalizer"`
	PreTokenizer  *hfComponent   `json:"pre_tokenizer"`
	PostProcessor *hfComponent   `json:"post_processor"`
	Decoder       *hfComponent   `json:"decoder"`
	Model         struct {
		Type                    string          `json:"type"`
		Vocab                   json.RawMessage `json:"vocab"`
		Merges                  json.RawMessage `json:"merges"`
		Dropout                 *float64        `json:"dropout"`
		UnkToken                *string         `json:"unk_token"`
		ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
		FuseUnk                 bool            `json:"fuse_unk"`
		ByteFallback            bool            `json:"byte_fallback"`
		IgnoreMerges            bool            `json:"ignore_merges"`
	} `json:"model"`
}

type hfAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	Lstrip     bool   `json:"lstrip"`
	Rstrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// hfComponent holds the fields of the normalizers, pre-tokenizers,
// post-processors and decoders that are read; Type says which apply.
type hfComponent struct {
	Type string `json:"type"`

	Normalizers   []*hfComponent `json:"normalizers"`
	Pretokenizers []*hfComponent `json:"pretokenizers"`
	Processors    []*hfComponent `json:"processors"`
	Decoders      []*hfComponent `json:"decoders"`

	Pattern *struct {
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	} `json:"pattern"`
	Behavior string `json:"behavior"`
	Invert   bool   `json:"invert"`
	Content  string `json:"content"`
	Prepend  string `json:"prepend"`

	AddPrefixSpace   *bool `json:"add_prefix_space"`
	UseRegex         *bool `json:"use_regex"`
	IndividualDigits bool  `json:"individual_digits"`

	Single []struct {
		SpecialToken *struct {
			ID string `json:"id"`
		} `json:"SpecialToken"`
		Sequence *struct {
			ID string `json:"id"`
		} `json:"Sequence"`
	} `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int `json:"ids"`
	} `json:"special_tokens"`
	Cls []any `json:"cls"`
	Sep []any `json:"sep"`
}

// hfConfig is the part of tokenizer_config.json that is read.
type hfConfig struct {
	BOS     hfTokenRef `json:"bos_token"`
	EOS     hfTokenRef `json:"eos_token"`
	PAD     hfTokenRef `json:"pad_token"`
	UNK     hfTokenRef `json:"unk_token"`
	CleanUp *bool      `json:"clean_up_tokenization_spaces"`
}

// hfTokenRef is a token named in tokenizer_config.json: a string, an
// object with a "content" field, or null.
type hfTokenRef struct {
	text string
	set  bool
}

func (r *hfTokenRef) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
	case string:
		*r = hfTokenRef{v, true}
	case map[string]any:
		s, ok := v["content"].(string)
		if !ok {
			return fmt.Errorf("token %s has no content", b)
		}
		*r = hfTokenRef{s, true}
	default:
		return fmt.Errorf("token %s is neither a string nor an object", b)
	}
	return nil
}

// hf holds the rules of a Hugging Face tokenizer that a GGUF vocabulary
// does not express.
type hf struct {
	normalize func(string) string // nil: none
	added     []hfAdded
	raw, norm addedSet // added tokens matched before and after normalization

	pre            pretokenizer
	byteLevel      bool // the pre-tokenizer spells bytes byte-level
	byteLevelPiece bool // the decoder maps byte-level characters back to bytes
	byteTokenPiece bool // the decoder turns <0xXX> tokens into bytes
	replace        [][2]string
	cleanup        bool // clean_up_tokenization_spaces

	// Model settings, used once by init.
	merges       [][2]string
	ignoreMerges bool
	byteFallback bool
	fuseUnk      bool
	unk          int
	prefix       []int
	suffix       []int
}

// hfAdded is an added token.
type hfAdded struct {
	id             int
	text           string
	special        bool
	lstrip, rstrip bool
}

// addedSet indexes added tokens by their first byte, longest first.
type addedSet struct {
	byFirst [256][]int // indexes into hf.added
	n       int        // number of distinct first bytes
	one     int        // the first byte if n == 1
}

func (s *addedSet) add(h *hf, k int) {
	c := h.added[k].text[0]
	if len(s.byFirst[c]) == 0 {
		s.n++
		s.one = int(c)
	}
	s.byFirst[c] = append(s.byFirst[c], k)
	l := s.byFirst[c]
	sort.SliceStable(l, func(i, j int) bool { return len(h.added[l[i]].text) > len(h.added[l[j]].text) })
}

// parseHF builds a Tokenizer from the contents of tokenizer.json and the
// settings of tokenizer_config.json.
func parseHF(data []byte, cfg hfConfig) (*Tokenizer, error) {
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	m := &f.Model
	if m.Type != "BPE" && !(m.Type == "" && m.Merges != nil) {
		return nil, fmt.Errorf("model type %q is not supported (only BPE)", m.Type)
	}
	vocab, err := parseVocab(m.Vocab)
	if err != nil {
		return nil, fmt.Errorf("model.vocab: %w", err)
	}
	merges, err := parseMerges(m.Merges)
	if err != nil {
		return nil, fmt.Errorf("model.merges: %w", err)
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, fmt.Errorf("BPE dropout %g is not supported", *m.Dropout)
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return nil, fmt.Errorf("continuing_subword_prefix %q is not supported", *m.ContinuingSubwordPrefix)
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, fmt.Errorf("end_of_word_suffix %q is not supported", *m.EndOfWordSuffix)
	}

	// The vocabulary: the model's tokens, then the added ones, with any
	// ids in between filled as llama.cpp's converter does.
	n := 0
	for _, id := range vocab {
		if id < 0 {
			return nil, fmt.Errorf("vocabulary id %d is negative", id)
		}
		n = max(n, id+1)
	}
	for _, a := range f.AddedTokens {
		if a.ID < 0 {
			return nil, fmt.Errorf("added token %q has negative id %d", a.Content, a.ID)
		}
		n = max(n, a.ID+1)
	}
	if n == 0 {
		return nil, fmt.Errorf("vocabulary is empty")
	}
	if n > 1<<24 {
		return nil, fmt.Errorf("vocabulary ids reach %d", n-1)
	}
	v := Vocab{
		Model:  "gpt2",
		Tokens: make([]string, n),
		Types:  make([]int32, n),
		BOS:    -1, EOS: -1, UNK: -1, PAD: -1, EOT: -1,
	}
	filled := make([]bool, n)
	for text, id := range vocab {
		if filled[id] {
			return nil, fmt.Errorf("vocabulary has id %d twice, as %q and %q", id, v.Tokens[id], text)
		}
		v.Tokens[id], v.Types[id], filled[id] = text, int32(Normal), true
	}
	h := &hf{
		merges:       merges,
		ignoreMerges: m.IgnoreMerges,
		byteFallback: m.ByteFallback,
		fuseUnk:      m.FuseUnk,
		unk:          -1,
	}
	for _, a := range f.AddedTokens {
		if a.Content == "" {
			return nil, fmt.Errorf("added token %d is empty", a.ID)
		}
		if a.SingleWord {
			return nil, fmt.Errorf("added token %q: single_word is not supported", a.Content)
		}
		if filled[a.ID] && v.Tokens[a.ID] != a.Content {
			return nil, fmt.Errorf("added token %q has id %d, which is %q in the vocabulary", a.Content, a.ID, v.Tokens[a.ID])
		}
		typ := UserDefined
		if a.Special {
			typ = Control
		}
		v.Tokens[a.ID], v.Types[a.ID], filled[a.ID] = a.Content, int32(typ), true
		h.added = append(h.added, hfAdded{id: a.ID, text: a.Content, special: a.Special, lstrip: a.Lstrip, rstrip: a.Rstrip})
	}
	for id, ok := range filled {
		if !ok {
			v.Tokens[id], v.Types[id] = "[PAD"+strconv.Itoa(id)+"]", int32(Unused)
		}
	}

	if h.normalize, err = hfNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	for k, a := range h.added {
		if f.AddedTokens[k].Normalized && h.normalize != nil {
			h.added[k].text = h.normalize(a.text)
			h.norm.add(h, k)
		} else {
			h.raw.add(h, k)
		}
	}
	if err := h.setPretokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if err := h.setDecoder(f.Decoder); err != nil {
		return nil, err
	}
	h.cleanup = cfg.CleanUp != nil && *cfg.CleanUp

	lookup := func(what string, r hfTokenRef) (int, error) {
		if !r.set {
			return -1, nil
		}
		for _, a := range f.AddedTokens {
			if a.Content == r.text {
				return a.ID, nil
			}
		}
		if id, ok := vocab[r.text]; ok {
			return id, nil
		}
		return -1, fmt.Errorf("%s %q is not in the vocabulary", what, r.text)
	}
	if v.BOS, err = lookup("bos_token", cfg.BOS); err != nil {
		return nil, err
	}
	if v.EOS, err = lookup("eos_token", cfg.EOS); err != nil {
		return nil, err
	}
	if v.PAD, err = lookup("pad_token", cfg.PAD); err != nil {
		return nil, err
	}
	unk := cfg.UNK
	if m.UnkToken != nil {
		unk = hfTokenRef{*m.UnkToken, true}
	}
	if v.UNK, err = lookup("unk_token", unk); err != nil {
		return nil, err
	}
	h.unk = v.UNK
	if err := h.setPostProcessor(f.PostProcessor); err != nil {
		return nil, err
	}
	for _, id := range append(append([]int(nil), h.prefix...), h.suffix...) {
		if id < 0 || id >= n {
			return nil, fmt.Errorf("post-processor adds token id %d, out of range [0, %d)", id, n)
		}
	}
	if v.BOS < 0 && len(h.prefix) > 0 {
		v.BOS = h.prefix[0]
	}
	if v.EOS < 0 && len(h.suffix) > 0 {
		v.EOS = h.suffix[len(h.suffix)-1]
	}
	return build(v, h)
}

// init sets up the model of t, which build has filled in from the
// vocabulary.
func (h *hf) init(t *Tokenizer) error {
	m := newBPE(t.v.Tokens, t.ids, h.merges, h.pre, h.byteLevel, h.ignoreMerges)
	h.merges = nil
	m.byteFallback = h.byteFallback
	m.fuseUnk = h.fuseUnk
	m.unk = int32(h.unk)
	if h.byteFallback {
		for b := range m.fallback {
			if id, ok := t.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
				m.fallback[b] = int32(id)
			}
		}
	}
	t.bpe = m
	t.prefix, t.suffix = h.prefix, h.suffix
	return nil
}

// hfNormalizer returns the function of a normalizer; nil means none.
func hfNormalizer(c *hfComponent) (func(string) string, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case "NFC":
		return nfc, nil
	case "Sequence":
		var fs []func(string) string
		for _, sub := range c.Normalizers {
			f, err := hfNormalizer(sub)
			if err != nil {
				return nil, err
			}
			if f != nil {
				fs = append(fs, f)
			}
		}
		if len(fs) == 0 {
			return nil, nil
		}
		return func(s string) string {
			for _, f := range fs {
				s = f(s)
			}
			return s
		}, nil
	case "Replace":
		if c.Pattern == nil || c.Pattern.String == nil || *c.Pattern.String == "" {
			return nil, fmt.Errorf("normalizer Replace: only non-empty String patterns are supported")
		}
		from, to := *c.Pattern.String, c.Content
		return func(s string) string { return strings.ReplaceAll(s, from, to) }, nil
	case "Prepend":
		p := c.Prepend
		return func(s string) string {
			if s == "" {
				return s
			}
			return p + s
		}, nil
	}
	return nil, fmt.Errorf("normalizer %q is not supported (supported: NFC, Sequence, Replace, Prepend)", c.Type)
}

// setPretokenizer reads the pre-tokenizer into h.pre and h.byteLevel.
func (h *hf) setPretokenizer(c *hfComponent) error {
	if c == nil {
		return nil
	}
	switch c.Type {
	case "Sequence":
		for _, sub := range c.Pretokenizers {
			if err := h.setPretokenizer(sub); err != nil {
				return err
			}
		}
		return nil
	case "Split":
		if c.Invert {
			return fmt.Errorf("pre-tokenizer Split with invert is not supported")
		}
		if c.Pattern == nil {
			return fmt.Errorf("pre-tokenizer Split has no pattern")
		}
		var st stage
		switch {
		case c.Pattern.Regex != nil:
			var ok bool
			if st, ok = hfPatterns[*c.Pattern.Regex]; !ok {
				return fmt.Errorf("pre-tokenizer Split: regular expression %q is not supported (only the known patterns of Llama 3, Qwen2, GPT-2, DeepSeek and digit splitting)", *c.Pattern.Regex)
			}
		case c.Pattern.String != nil && *c.Pattern.String != "":
			lit := *c.Pattern.String
			st = isolate(func(s string) int {
				if strings.HasPrefix(s, lit) {
					return len(lit)
				}
				return 0
			})
		default:
			return fmt.Errorf("pre-tokenizer Split has an empty pattern")
		}
		if c.Behavior != "Isolated" {
			return fmt.Errorf("pre-tokenizer Split: behavior %q is not supported (only Isolated)", c.Behavior)
		}
		h.pre = append(h.pre, st)
		return nil
	case "Digits":
		if c.IndividualDigits {
			h.pre = append(h.pre, isolate(matchDigit))
		} else {
			h.pre = append(h.pre, isolate(matchDigits))
		}
		return nil
	case "ByteLevel":
		if h.byteLevel {
			return fmt.Errorf("pre-tokenizer ByteLevel appears twice")
		}
		h.byteLevel = true
		prefix := c.AddPrefixSpace == nil || *c.AddPrefixSpace
		regex := c.UseRegex == nil || *c.UseRegex
		if prefix {
			h.pre = append(h.pre, func(piece string, out []string) []string {
				if !strings.HasPrefix(piece, " ") {
					piece = " " + piece
				}
				return append(out, piece)
			})
		}
		if regex {
			h.pre = append(h.pre, isolate(matchGPT2))
		}
		return nil
	}
	return fmt.Errorf("pre-tokenizer %q is not supported (supported: Sequence, Split, Digits, ByteLevel)", c.Type)
}

// setDecoder reads how token texts become text.
func (h *hf) setDecoder(c *hfComponent) error {
	if c == nil {
		return nil
	}
	switch c.Type {
	case "ByteLevel":
		h.byteLevelPiece = true
		return nil
	case "ByteFallback":
		h.byteTokenPiece = true
		return nil
	case "Fuse":
		return nil // pieces are joined anyway
	case "Replace":
		if c.Pattern == nil || c.Pattern.String == nil || *c.Pattern.String == "" {
			return fmt.Errorf("decoder Replace: only non-empty String patterns are supported")
		}
		h.replace = append(h.replace, [2]string{*c.Pattern.String, c.Content})
		return nil
	case "Sequence":
		for _, sub := range c.Decoders {
			if err := h.setDecoder(sub); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("decoder %q is not supported (supported: ByteLevel, ByteFallback, Fuse, Replace, Sequence)", c.Type)
}

// setPostProcessor reads the tokens that encoding with special tokens adds
// before and after the text.
func (h *hf) setPostProcessor(c *hfComponent) error {
	if c == nil {
		return nil
	}
	switch c.Type {
	case "ByteLevel":
		return nil // it only adjusts offsets
	case "Sequence":
		for _, sub := range c.Processors {
			if err := h.setPostProcessor(sub); err != nil {
				return err
			}
		}
		return nil
	case "TemplateProcessing":
		h.prefix, h.suffix = nil, nil
		seen := false
		for _, item := range c.Single {
			switch {
			case item.Sequence != nil:
				if seen {
					return fmt.Errorf("post-processor TemplateProcessing has two sequences in its single template")
				}
				seen = true
			case item.SpecialToken != nil:
				st, ok := c.SpecialTokens[item.SpecialToken.ID]
				if !ok {
					return fmt.Errorf("post-processor TemplateProcessing: special token %q is not defined", item.SpecialToken.ID)
				}
				if seen {
					h.suffix = append(h.suffix, st.IDs...)
				} else {
					h.prefix = append(h.prefix, st.IDs...)
				}
			}
		}
		if !seen {
			return fmt.Errorf("post-processor TemplateProcessing has no sequence in its single template")
		}
		return nil
	case "BertProcessing", "RobertaProcessing":
		cls, err := templateID(c.Cls)
		if err != nil {
			return fmt.Errorf("post-processor %s: cls: %w", c.Type, err)
		}
		sep, err := templateID(c.Sep)
		if err != nil {
			return fmt.Errorf("post-processor %s: sep: %w", c.Type, err)
		}
		h.prefix, h.suffix = []int{cls}, []int{sep}
		return nil
	}
	return fmt.Errorf("post-processor %q is not supported (supported: ByteLevel, TemplateProcessing, BertProcessing, RobertaProcessing, Sequence)", c.Type)
}

// templateID reads the id of a ["text", id] pair.
func templateID(v []any) (int, error) {
	if len(v) != 2 {
		return 0, fmt.Errorf("want [text, id], have %v", v)
	}
	f, ok := v[1].(float64)
	if !ok || f != float64(int(f)) {
		return 0, fmt.Errorf("want [text, id], have %v", v)
	}
	return int(f), nil
}

// partition splits text at the added tokens it contains and normalizes
// what lies between them, as the Hugging Face tokenizers library does:
// tokens not subject to normalization are found in the raw text, the
// others in the normalized text.
func (h *hf) partition(text string, parseSpecial bool) []fragment {
	var out []fragment
	for _, f := range h.split(text, &h.raw, parseSpecial, nil) {
		if f.id >= 0 {
			out = append(out, f)
			continue
		}
		s := f.text
		if h.normalize != nil {
			s = h.normalize(s)
		}
		out = h.split(s, &h.norm, parseSpecial, out)
	}
	return out
}

// split appends the fragments of text to out: the leftmost-longest matches
// of the added tokens of set (special ones only with parseSpecial), and the
// text between them.
func (h *hf) split(text string, set *addedSet, parseSpecial bool, out []fragment) []fragment {
	start := 0
	for i := 0; i < len(text) && set.n > 0; i++ {
		if set.n == 1 {
			// All tokens start with the same byte (usually '<'): jump to it.
			j := strings.IndexByte(text[i:], byte(set.one))
			if j < 0 {
				break
			}
			i += j
		}
		for _, k := range set.byFirst[text[i]] {
			a := &h.added[k]
			if (a.special && !parseSpecial) || !strings.HasPrefix(text[i:], a.text) {
				continue
			}
			before := text[start:i]
			if a.lstrip {
				before = strings.TrimRightFunc(before, unicode.IsSpace)
			}
			if before != "" {
				out = append(out, fragment{id: -1, text: before})
			}
			out = append(out, fragment{id: a.id})
			end := i + len(a.text)
			if a.rstrip {
				end = len(text) - len(strings.TrimLeftFunc(text[end:], unicode.IsSpace))
			}
			start, i = end, end-1
			break
		}
	}
	if start < len(text) {
		out = append(out, fragment{id: -1, text: text[start:]})
	}
	return out
}

// piece is the text of a token in Hugging Face decoding with special
// tokens skipped: added tokens as they are written, others through the
// decoder.
func (h *hf) piece(a attr, text string) string {
	switch {
	case a&(attrControl|attrUnknown|attrUnused) != 0:
		return ""
	case a&attrUserDefined != 0:
		return text
	}
	if h.byteTokenPiece {
		if b, ok := parseByteToken(text); ok {
			return string([]byte{b})
		}
	}
	for _, r := range h.replace {
		text = strings.ReplaceAll(text, r[0], r[1])
	}
	if h.byteLevelPiece {
		text, _ = byteLevelDecode(text)
	}
	return text
}

// cleanupRules are the replacements of the Hugging Face
// clean_up_tokenization, each applied to the whole text in this order.
var cleanupRules = [...][2]string{
	{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
	{" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
}

// cleanup applies cleanupRules to s.
func cleanup(s string) string {
	for _, r := range cleanupRules {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// A cleaner applies cleanupRules to text arriving in parts, with the same
// result as cleanup on the whole: each rule is a stage that holds back a
// tail that may yet turn into a match, and feeds the next.
type cleaner struct {
	held [len(cleanupRules)][]byte
}

// write returns the cleaned text that is certain given s and all before.
func (c *cleaner) write(s string, flush bool) string {
	for i := range cleanupRules {
		s = c.stage(i, s, flush)
	}
	return s
}

func (c *cleaner) stage(i int, in string, flush bool) string {
	if len(c.held[i]) == 0 && strings.IndexByte(in, ' ') < 0 {
		return in // every rule starts with a space
	}
	pat, rep := cleanupRules[i][0], cleanupRules[i][1]
	buf := append(c.held[i], in...)
	out := make([]byte, 0, len(buf))
	j := 0
	for j < len(buf) {
		rest := buf[j:]
		if bytes.HasPrefix(rest, []byte(pat)) {
			out = append(out, rep...)
			j += len(pat)
			continue
		}
		if !flush && len(rest) < len(pat) && pat[:len(rest)] == string(rest) {
			break
		}
		out = append(out, buf[j])
		j++
	}
	c.held[i] = append(buf[:0], buf[j:]...)
	return string(out)
}
