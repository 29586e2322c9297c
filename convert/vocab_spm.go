package convert

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Scores llama.cpp's converter gives the tokens it makes up or adds.
const (
	padScore   = -10000 // [PADn] filling ids up to vocab_size
	addedScore = -1000  // added tokens, and every token of a tokenizer.json vocabulary
)

// spmVocab is the SentencePiece vocabulary of tokenizer.model, laid out as
// llama.cpp's converter does: ids 0..n-1 with n the configuration's
// vocab_size (or the model's size), the pieces with their scores and
// types (user-defined pieces are written as normal ones, as llama.cpp
// asks the model only whether a piece is unknown, control, unused or a
// byte), unused "[PADn]" tokens after them, then the added tokens on top.
// Phi-3 has its own rules for the added tokens (phi3Added).
func spmVocab(dir, path string, a arch, cfg map[string]any, tf *tokenizerFile, vocabSize int) (*vocab, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	pieces, err := parseSentencePiece(data)
	if err != nil {
		return nil, fmt.Errorf("convert: %s: %w", path, err)
	}
	n := vocabSize
	if n == 0 {
		n = len(pieces)
	}
	tokens := make([]string, n)
	scores := make([]float32, n)
	types := make([]int32, n)
	for i := range tokens {
		tokens[i], scores[i], types[i] = "[PAD"+strconv.Itoa(i)+"]", padScore, spUnused
	}
	for i, p := range pieces[:min(n, len(pieces))] {
		typ := int32(spNormal)
		switch p.typ {
		case spUnknown, spControl, spUnused, spByte:
			typ = p.typ
		}
		tokens[i], scores[i], types[i] = p.text, p.score, typ
	}
	if err := addedTokensJSON(dir, tokens, scores, types); err != nil {
		return nil, err
	}
	if a.name == "phi3" {
		err = phi3Added(dir, cfg, tf, tokens, scores, types)
	} else {
		err = configAdded(dir, cfg, tokens, scores, types)
	}
	if err != nil {
		return nil, err
	}
	return llamaVocab(tokens, scores, types, n), nil
}

// addedTokensJSON applies added_tokens.json, a map of token text to id,
// as user-defined tokens; ids beyond the vocabulary are ignored, as
// llama.cpp ignores them.
func addedTokensJSON(dir string, tokens []string, scores []float32, types []int32) error {
	path := filepath.Join(dir, "added_tokens.json")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	var added map[string]int
	if err := json.Unmarshal(data, &added); err != nil {
		return fmt.Errorf("convert: %s: %w", path, err)
	}
	texts := sortedKeys(added)
	slices.SortStableFunc(texts, func(x, y string) int { return added[x] - added[y] })
	for _, s := range texts {
		id := added[s]
		if id < 0 {
			return fmt.Errorf("convert: %s: token %q has negative id %d", path, s, id)
		}
		if id < len(tokens) {
			tokens[id], scores[id], types[id] = s, addedScore, spUserDefined
		}
	}
	return nil
}

// addedDecoder is tokenizer_config.json's added_tokens_decoder: id → token.
type addedDecoder map[int]struct {
	content string
	special bool
}

func readAddedDecoder(cfg map[string]any) (addedDecoder, error) {
	raw, ok := cfg["added_tokens_decoder"]
	if !ok || raw == nil {
		return nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("convert: tokenizer_config.json: added_tokens_decoder is not an object")
	}
	out := addedDecoder{}
	for k, v := range m {
		id, err := strconv.Atoi(k)
		e, ok := v.(map[string]any)
		content, isStr := e["content"].(string)
		if err != nil || id < 0 || !ok || !isStr {
			return nil, fmt.Errorf("convert: tokenizer_config.json: added_tokens_decoder entry %q is not an id with a content string", k)
		}
		special, _ := e["special"].(bool)
		out[id] = struct {
			content string
			special bool
		}{content, special}
	}
	return out, nil
}

// configAdded applies tokenizer_config.json's added_tokens_decoder as
// llama.cpp's SentencePiece conversion does: control tokens when special
// or when they look special, else user-defined tokens with U+2581 turned
// back into spaces; ids beyond the vocabulary are ignored.
func configAdded(dir string, cfg map[string]any, tokens []string, scores []float32, types []int32) error {
	dec, err := readAddedDecoder(cfg)
	if err != nil {
		return err
	}
	for _, id := range sortedIDs(dec) {
		if id >= len(tokens) {
			continue
		}
		t := dec[id]
		s, typ := t.content, int32(spControl)
		if !t.special && !looksSpecial(s) {
			s, typ = strings.ReplaceAll(s, "\u2581", " "), spUserDefined
		}
		tokens[id], scores[id], types[id] = s, addedScore, typ
	}
	return nil
}

// phi3Added applies Phi-3's added tokens, from tokenizer_config.json's
// added_tokens_decoder and then tokenizer.json's added_tokens: control
// tokens when special, else user-defined, as they are written. Unlike
// llama.cpp, which fails on them with an index error, an id beyond the
// vocabulary is reported.
func phi3Added(dir string, cfg map[string]any, tf *tokenizerFile, tokens []string, scores []float32, types []int32) error {
	dec, err := readAddedDecoder(cfg)
	if err != nil {
		return err
	}
	set := func(file string, id int, s string, special bool) error {
		if id < 0 || id >= len(tokens) {
			return fmt.Errorf("convert: %s: added token %q has id %d, outside the %d tokens", file, s, id, len(tokens))
		}
		typ := int32(spUserDefined)
		if special {
			typ = spControl
		}
		tokens[id], scores[id], types[id] = s, addedScore, typ
		return nil
	}
	for _, id := range sortedIDs(dec) {
		if err := set("tokenizer_config.json", id, dec[id].content, dec[id].special); err != nil {
			return err
		}
	}
	if tf != nil {
		for _, at := range tf.AddedTokens {
			if err := set("tokenizer.json", at.ID, at.Content, at.Special); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortedIDs(dec addedDecoder) []int {
	ids := make([]int, 0, len(dec))
	for id := range dec {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

var byteToken = regexp.MustCompile(`^<0x[0-9A-Fa-f]{2}>$`)

// llamaHFVocab is llama.cpp's _set_vocab_llama_hf: a SentencePiece
// vocabulary given as a tokenizer.json BPE model with byte fallback and a
// Sequence decoder (Hugging Face's conversion of a SentencePiece model),
// for a model without tokenizer.model. The model's vocabulary comes first,
// then the added tokens beyond it in id order; "<0xXX>" tokens are byte
// tokens, the tokenizer's special tokens (those tokenizer_config.json and
// special_tokens_map.json name) control tokens, added tokens that are
// not special user-defined. Every score is -1000: tokenizer.json has no
// piece scores, and llama.cpp writes this placeholder, so that its
// SentencePiece tokenizer merges such a vocabulary leftmost first rather
// than in the order of the BPE merges.
func llamaHFVocab(dir string, tf *tokenizerFile, cfg map[string]any) (*vocab, error) {
	path := filepath.Join(dir, "tokenizer.json")
	if tf.Decoder == nil || tf.Decoder.Type != "Sequence" {
		return nil, fmt.Errorf("convert: %s: a BPE model with byte fallback but no Sequence decoder is neither a SentencePiece vocabulary nor a byte-level BPE one", path)
	}
	base := len(tf.Model.Vocab)
	text := make([]string, base)
	seen := make([]bool, base)
	for s, id := range tf.Model.Vocab {
		if id < 0 || id >= base || seen[id] {
			return nil, fmt.Errorf("convert: %s: the vocabulary's ids are not 0 to %d (token %q has id %d)", path, base-1, s, id)
		}
		text[id], seen[id] = s, true
	}
	specials := map[string]bool{}
	mapFile, err := readJSONObject(filepath.Join(dir, "special_tokens_map.json"))
	if err != nil {
		return nil, err
	}
	for _, m := range []map[string]any{mapFile, cfg} {
		for _, st := range specialTypes {
			if s := tokenText(m[st.typ+"_token"]); s != "" {
				specials[s] = true
			}
		}
		list, _ := m["additional_special_tokens"].([]any)
		for _, e := range list {
			if s := tokenText(e); s != "" {
				specials[s] = true
			}
		}
	}
	added := slices.Clone(tf.AddedTokens)
	slices.SortFunc(added, func(x, y addedToken) int { return x.ID - y.ID })
	// An added token inside the vocabulary replaces that id's text, as
	// the Hugging Face tokenizer's vocabulary shows it.
	for _, at := range added {
		if at.ID >= 0 && at.ID < base {
			text[at.ID] = at.Content
		}
	}
	tokens := slices.Clone(text)
	for _, at := range added {
		if at.ID < base {
			continue
		}
		if at.ID != len(tokens) {
			return nil, fmt.Errorf("convert: %s: added token %q has id %d, want %d: the added tokens beyond the vocabulary must follow it without gaps", path, at.Content, at.ID, len(tokens))
		}
		tokens = append(tokens, at.Content)
	}
	scores := make([]float32, len(tokens))
	types := make([]int32, len(tokens))
	for id, s := range tokens {
		scores[id] = addedScore
		switch {
		case id < base && byteToken.MatchString(s):
			types[id] = spByte
		case specials[s]:
			types[id] = spControl
		case id < base:
			types[id] = spNormal
		default:
			types[id] = spUserDefined
		}
	}
	return llamaVocab(tokens, scores, types, len(tf.Model.Vocab)+len(tf.AddedTokens)), nil
}

// llamaVocab is the SentencePiece ("llama") vocabulary of tokens; realSize
// is as for vocab.
func llamaVocab(tokens []string, scores []float32, types []int32, realSize int) *vocab {
	return &vocab{
		pre:      "default",
		size:     len(tokens),
		realSize: realSize,
		meta: []kv{
			{"tokenizer.ggml.model", "llama"},
			{"tokenizer.ggml.pre", "default"},
			{"tokenizer.ggml.tokens", tokens},
			{"tokenizer.ggml.scores", scores},
			{"tokenizer.ggml.token_type", types},
		},
	}
}
