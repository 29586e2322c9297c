package convert

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/joule-llm/joule/tokenizer"
)

// kv is one metadata key and value, in the order they are written.
type kv struct {
	key   string
	value any
}

// tokenizerFile is the part of tokenizer.json that is read.
type tokenizerFile struct {
	Model struct {
		Type         string          `json:"type"`
		Vocab        map[string]int  `json:"vocab"`
		Merges       json.RawMessage `json:"merges"`
		IgnoreMerges bool            `json:"ignore_merges"`
		ByteFallback bool            `json:"byte_fallback"`
	} `json:"model"`
	AddedTokens   []addedToken   `json:"added_tokens"`
	PostProcessor *postProcessor `json:"post_processor"`
	Decoder       *struct {
		Type string `json:"type"`
	} `json:"decoder"`
}

type addedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	Special    bool   `json:"special"`
	Normalized bool   `json:"normalized"`
}

type postProcessor struct {
	Type       string           `json:"type"`
	Processors []*postProcessor `json:"processors"`
	Single     []struct {
		SpecialToken *struct {
			ID string `json:"id"`
		} `json:"SpecialToken"`
	} `json:"single"`
}

// specialTypes are the special tokens read from tokenizer_config.json and
// config.json, in llama.cpp's order, with their GGUF keys.
var specialTypes = []struct{ typ, key string }{
	{"bos", "tokenizer.ggml.bos_token_id"},
	{"eos", "tokenizer.ggml.eos_token_id"},
	{"unk", "tokenizer.ggml.unknown_token_id"},
	{"sep", "tokenizer.ggml.seperator_token_id"}, // sic: GGUF's spelling
	{"pad", "tokenizer.ggml.padding_token_id"},
	{"cls", "tokenizer.ggml.cls_token_id"},
	{"mask", "tokenizer.ggml.mask_token_id"},
	{"eot", "tokenizer.ggml.eot_token_id"},
}

// addKeys are the add_*_token flags GGUF has keys for.
var addKeys = map[string]string{
	"bos": "tokenizer.ggml.add_bos_token",
	"eos": "tokenizer.ggml.add_eos_token",
	"sep": "tokenizer.ggml.add_sep_token",
}

// vocab is a converted vocabulary: its metadata, the pre-tokenizer
// chosen and the number of tokens.
type vocab struct {
	meta []kv
	pre  string // tokenizer.ggml.pre
	// size is the number of tokens; realSize is what llama.cpp's Gemma 3
	// conversion counts as the real vocabulary, the rows of the token
	// embedding it keeps.
	size, realSize int
}

// readVocab converts the tokenizer of dir to GGUF metadata. vocabSize is
// the configuration's vocab_size (0 if it has none); pre, if not empty,
// is written as tokenizer.ggml.pre of a byte-level BPE vocabulary instead
// of the name found by hashing.
//
// Which vocabulary is written follows llama.cpp's converter: for llama,
// Gemma and Phi-3, a SentencePiece tokenizer.model when there is one
// (tokenizer.ggml.model "llama"), else a tokenizer.json BPE model with
// byte fallback (a SentencePiece vocabulary in Hugging Face's form, also
// "llama"), else a byte-level BPE tokenizer.json ("gpt2"); Qwen models
// always take the last. A Phi-3 model whose tokenizer_config.json names
// GPT2Tokenizer (Phi-4) is byte-level BPE.
func readVocab(dir string, h hparams, a arch, vocabSize int, pre string) (*vocab, error) {
	cfg, err := readJSONObject(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return nil, err
	}
	tf, err := readTokenizerJSON(dir)
	if err != nil {
		return nil, err
	}
	spPath := filepath.Join(dir, "tokenizer.model")
	_, statErr := os.Stat(spPath)
	hasSP := statErr == nil
	class, _ := cfg["tokenizer_class"].(string)

	var v *vocab
	switch {
	case a.vocab == vocabSPM && class != "GPT2Tokenizer" && hasSP:
		v, err = spmVocab(dir, spPath, a, cfg, tf, vocabSize)
	case a.vocab == vocabSPM && class != "GPT2Tokenizer" && tf != nil && tf.Model.Type == "BPE" && tf.Model.ByteFallback:
		v, err = llamaHFVocab(dir, tf, cfg)
	case tf == nil:
		want := "tokenizer.json"
		if a.vocab == vocabSPM {
			want = "tokenizer.model or tokenizer.json"
		}
		return nil, fmt.Errorf("convert: %s: no %s", dir, want)
	default:
		v, err = bpeVocab(dir, tf, vocabSize, pre)
	}
	if err != nil {
		return nil, err
	}
	sentencePiece := v.meta[0].value == "llama"
	if tf == nil {
		tf = &tokenizerFile{}
	}
	sp := special(tf, cfg, h)
	for _, st := range specialTypes {
		id, ok := sp.ids[st.typ]
		if ok && sentencePiece && id >= v.size {
			// llama.cpp's SpecialVocab drops ids beyond the tokens.
			continue
		}
		if ok {
			v.meta = append(v.meta, kv{st.key, uint32(id)})
		}
	}
	for _, typ := range []string{"bos", "eos", "sep"} {
		if b, ok := sp.add[typ]; ok {
			v.meta = append(v.meta, kv{addKeys[typ], b})
		}
	}
	if cfg != nil {
		tmpl, err := chatTemplates(dir, cfg)
		if err != nil {
			return nil, err
		}
		v.meta = append(v.meta, tmpl...)
		if a.name == "llama" {
			if b, ok := cfg["add_prefix_space"].(bool); ok {
				v.meta = append(v.meta, kv{"tokenizer.ggml.add_space_prefix", b})
			}
		}
	}
	if a.gemma && sentencePiece {
		// Gemma's SentencePiece model adds no dummy prefix.
		v.meta = append(v.meta, kv{"tokenizer.ggml.add_space_prefix", false})
	}
	return v, nil
}

// readTokenizerJSON reads dir's tokenizer.json, or returns nil if there
// is none.
func readTokenizerJSON(dir string) (*tokenizerFile, error) {
	path := filepath.Join(dir, "tokenizer.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	var tf tokenizerFile
	if err := json.Unmarshal(data, &tf); err != nil {
		return nil, fmt.Errorf("convert: %s: %w", path, err)
	}
	return &tf, nil
}

// bpeVocab is the byte-level BPE vocabulary of tokenizer.json
// (tokenizer.ggml.model "gpt2").
func bpeVocab(dir string, tf *tokenizerFile, vocabSize int, pre string) (*vocab, error) {
	path := filepath.Join(dir, "tokenizer.json")
	if tf.Model.Type != "BPE" {
		return nil, fmt.Errorf("convert: %s: tokenizer model %q is not supported (only BPE)", path, tf.Model.Type)
	}
	if tf.Model.ByteFallback {
		return nil, fmt.Errorf("convert: %s: a BPE tokenizer with byte fallback (SentencePiece style) converts only for llama, Gemma and Phi-3 models", path)
	}
	tokens, types, err := tokenList(tf, vocabSize)
	if err != nil {
		return nil, fmt.Errorf("convert: %s: %w", path, err)
	}
	merges, err := mergeList(tf.Model.Merges)
	if err != nil {
		return nil, fmt.Errorf("convert: %s: merges: %w", path, err)
	}
	if pre == "" {
		if pre, err = identifyPre(dir, tf.Model.IgnoreMerges); err != nil {
			return nil, err
		}
	}
	return &vocab{
		pre:      pre,
		size:     len(tokens),
		realSize: len(tf.Model.Vocab) + len(tf.AddedTokens),
		meta: []kv{
			{"tokenizer.ggml.model", "gpt2"},
			{"tokenizer.ggml.pre", pre},
			{"tokenizer.ggml.tokens", tokens},
			{"tokenizer.ggml.token_type", types},
			{"tokenizer.ggml.merges", merges},
		},
	}, nil
}

// readJSONObject reads a JSON object file, or returns nil if there is none.
func readJSONObject(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("convert: %s: %w", path, err)
	}
	return m, nil
}

// tokenList lays out the vocabulary as llama.cpp's converter does: ids
// 0..n-1 with n the configuration's vocab_size (or the tokenizer's size),
// ids the tokenizer lacks as unused "[PADid]" tokens, added tokens as
// control tokens when they are special or look special, else as
// user-defined tokens with U+2581 turned back into spaces.
func tokenList(tf *tokenizerFile, vocabSize int) ([]string, []int32, error) {
	text := map[int]string{}
	for s, id := range tf.Model.Vocab {
		if id < 0 {
			return nil, nil, fmt.Errorf("token %q has negative id %d", s, id)
		}
		if other, dup := text[id]; dup {
			return nil, nil, fmt.Errorf("id %d is both %q and %q", id, other, s)
		}
		text[id] = s
	}
	added := map[int]int{} // id → index in AddedTokens
	for i, at := range tf.AddedTokens {
		if at.ID < 0 {
			return nil, nil, fmt.Errorf("added token %q has negative id %d", at.Content, at.ID)
		}
		if _, dup := added[at.ID]; dup {
			return nil, nil, fmt.Errorf("two added tokens have id %d", at.ID)
		}
		added[at.ID] = i
		text[at.ID] = at.Content
	}
	n := 0
	for id := range text {
		n = max(n, id+1)
	}
	if n == 0 {
		return nil, nil, errors.New("the vocabulary is empty")
	}
	if vocabSize > 0 {
		if n > vocabSize {
			return nil, nil, fmt.Errorf("token id %d is beyond the configuration's vocab_size %d", n-1, vocabSize)
		}
		n = vocabSize
	}
	tokens := make([]string, n)
	types := make([]int32, n)
	for id := range tokens {
		s, ok := text[id]
		switch {
		case !ok:
			tokens[id], types[id] = "[PAD"+strconv.Itoa(id)+"]", int32(tokenizer.Unused)
		case isAdded(added, id):
			at := tf.AddedTokens[added[id]]
			if at.Special || looksSpecial(s) {
				types[id] = int32(tokenizer.Control)
			} else {
				s = strings.ReplaceAll(s, "\u2581", " ")
				types[id] = int32(tokenizer.UserDefined)
			}
			tokens[id] = s
		default:
			tokens[id], types[id] = s, int32(tokenizer.Normal)
		}
	}
	return tokens, types, nil
}

func isAdded(added map[int]int, id int) bool { _, ok := added[id]; return ok }

// looksSpecial is llama.cpp's rule for added tokens that are control
// tokens although not marked special.
func looksSpecial(s string) bool {
	switch s {
	case "<pad>", "<mask>", "<2mass>", "[@BOS@]":
		return true
	}
	return strings.HasPrefix(s, "<|") && strings.HasSuffix(s, "|>") ||
		strings.HasPrefix(s, "<｜") && strings.HasSuffix(s, "｜>") ||
		strings.HasPrefix(s, "<unused") && strings.HasSuffix(s, ">")
}

// mergeList returns the merges as "a b" strings. The newer pair format
// may hold spaces inside a part; they are written as U+0120, the
// byte-level spelling of a space, as llama.cpp does.
func mergeList(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("none")
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err == nil {
		return lines, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, errors.New(`neither "a b" strings nor ["a", "b"] pairs`)
	}
	out := make([]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("merge %d has %d parts, want 2", i, len(p))
		}
		out[i] = strings.ReplaceAll(p[0], " ", "\u0120") + " " + strings.ReplaceAll(p[1], " ", "\u0120")
	}
	return out, nil
}

// specials are the special token ids and add flags of a tokenizer.
type specials struct {
	ids map[string]int
	add map[string]bool
}

// special finds the special tokens as llama.cpp's SpecialVocab does:
// tokenizer_config.json names them (looked up among the added tokens),
// its add_*_token flags say which are added, a TemplateProcessing
// post-processor implies add_bos/add_eos, and config.json's *_token_id
// fills in what is still missing.
func special(tf *tokenizerFile, cfg map[string]any, h hparams) specials {
	sp := specials{ids: map[string]int{}, add: map[string]bool{}}
	set := func(typ string, id int) {
		if _, ok := sp.ids[typ]; !ok && id >= 0 {
			sp.ids[typ] = id
		}
	}
	names := map[string]string{}
	for _, st := range specialTypes {
		if st.typ != "eot" { // named only by the template rule below
			names[st.typ] = tokenText(cfg[st.typ+"_token"])
		}
	}
	if names["bos"] == "" && names["cls"] != "" && cfg != nil {
		names["bos"] = names["cls"]
	}
	if names["eos"] == "" && names["sep"] != "" && cfg != nil {
		names["eos"] = names["sep"]
	}
	if pp := tf.PostProcessor; pp != nil {
		procs := pp.Processors
		if procs == nil {
			procs = []*postProcessor{pp}
		}
		for _, p := range procs {
			switch {
			case p == nil:
			case p.Type == "RobertaProcessing":
				sp.add["bos"], sp.add["eos"], sp.add["sep"] = true, true, true
			case p.Type == "TemplateProcessing" && len(p.Single) > 1:
				if st := p.Single[0].SpecialToken; st != nil && st.ID != "" {
					if cfg == nil {
						names["bos"] = st.ID
					}
					sp.add["bos"] = st.ID == names["bos"] || st.ID == names["cls"]
				}
				if st := p.Single[len(p.Single)-1].SpecialToken; st != nil && st.ID != "" {
					if cfg == nil {
						names["eos"] = st.ID
					} else if st.ID != names["eos"] {
						// The template ends with another token than
						// eos_token: that one becomes EOS, the
						// configured one end-of-turn.
						names["eot"], names["eos"] = names["eos"], st.ID
					}
					sp.add["eos"] = true
				}
			}
		}
	}
	if cfg != nil {
		for _, st := range specialTypes {
			if b, ok := cfg["add_"+st.typ+"_token"].(bool); ok {
				sp.add[st.typ] = b
			}
			if s := names[st.typ]; s != "" {
				for _, at := range tf.AddedTokens {
					if at.Content == s {
						set(st.typ, at.ID)
						break
					}
				}
			}
		}
	}
	for _, st := range specialTypes {
		if st.typ == "eot" {
			continue
		}
		if id, ok, err := h.integer(st.typ + "_token_id"); ok && err == nil {
			set(st.typ, id)
		}
	}
	return sp
}

// tokenText reads a token named in tokenizer_config.json: a string or an
// object with a "content" string.
func tokenText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		s, _ := v["content"].(string)
		return s
	}
	return ""
}

// chatTemplates returns the chat template metadata: tokenizer_config.json's
// chat_template, or else chat_template.jinja or chat_template.json.
// A list of named templates becomes tokenizer.chat_template (the one named
// "default") and tokenizer.chat_template.NAME for the others.
func chatTemplates(dir string, cfg map[string]any) ([]kv, error) {
	t, ok := cfg["chat_template"]
	if !ok || t == nil {
		if b, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja")); err == nil {
			t = string(b)
		} else if m, err := readJSONObject(filepath.Join(dir, "chat_template.json")); err != nil {
			return nil, err
		} else if m != nil {
			t = m["chat_template"]
		}
	}
	switch t := t.(type) {
	case nil:
		return nil, nil
	case string:
		return []kv{{"tokenizer.chat_template", t}}, nil
	case []any:
		var out []kv
		var names []string
		for _, e := range t {
			m, _ := e.(map[string]any)
			name, _ := m["name"].(string)
			tmpl, ok := m["template"].(string)
			if name == "" || !ok {
				return nil, errors.New("convert: tokenizer_config.json: chat_template list entries need a name and a template")
			}
			if name == "default" {
				out = append(out, kv{"tokenizer.chat_template", tmpl})
				continue
			}
			out = append(out, kv{"tokenizer.chat_template." + name, tmpl})
			names = append(names, name)
		}
		if len(names) > 0 {
			out = append(out, kv{"tokenizer.chat_templates", names})
		}
		return out, nil
	}
	return nil, errors.New("convert: tokenizer_config.json: chat_template is neither a string nor a list")
}

// checkText is the text whose tokens identify a pre-tokenizer: llama.cpp's
// converter encodes it with the Hugging Face tokenizer and hashes the ids.
const checkText = "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= нещо на Български ''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL"

// knownPre maps the hashes llama.cpp's converter records to the
// pre-tokenizer names the tokenizer package implements. A hash is the
// SHA-256 of the ids of checkText, written as Python prints a list
// ("[1, 2, 3]"), with what the post-processor adds (Meta-Llama-3-8B's
// current tokenizer.json adds <|begin_of_text|>, Qwen3-Embedding's
// appends <|endoftext|>).
var knownPre = map[string]string{
	"0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5": "llama-bpe", // meta-llama/Meta-Llama-3-8B
	"c136ed14d01c2745d4f60a9596ae66800e2b61fa45643e72436041855ad4089d": "smaug-bpe", // abacusai/Smaug-Llama-3-70B-Instruct
	"e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea": "qwen2",     // Qwen/Qwen1.5-7B
	"d4540891389ea895b53b399da6ac824becc30f2fba0e9ddbb98f92e55ca0e97c": "qwen2",     // Qwen/Qwen3-Embedding-0.6B
	"b3f499bb4255f8ca19fccd664443283318f2fd2414d5e0b040fbdd0cc195d6c5": "deepseek-r1-qwen",
	"32d85c31273f8019248f2559fed492d929ea28b17e51d81d3bb36fff23ca72b3": "stablelm2",
	"3ce83efda5659b07b1ad37ca97ca5797ea4285d9b9ab0dc679e4a720c9da7454": "gpt-2",
	"0fe1cf6eda062318a1af7270f3331a85c539a01778ff948e24388e949c5282f4": "gpt-2",
	"fcace8b9cac38ce847670c970cd5892031a753a1ef381abd1d9af00f713da085": "phi-2",
	"b6dc8df998e1cfbdc4eac8243701a65afe638679230920b50d6f17d81c098166": "olmo",
	"a8594e3edff7c29c003940395316294b2c623e09894deebbc65f33f1515df79e": "dbrx",
	"855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249": "smollm",
	"35d91631860c815f952d711435f48d356ebac988362536bed955d43bfa436e34": "starcoder",
	"6221ad2852e85ce96f791f476e0b390cf9b474c9e3d1362f53a24a06dc8220ff": "refact",
	"9c2227e4dd922002fb81bde4fc02b0483ca4f12911410dee2255e4987644e3f8": "command-r",
	"049ecf7629871e3041641907f3de7c733e4dbfdc736f57d882ba0b0845599754": "deepseek-llm",
}

// checkHash returns llama.cpp's hash of ids.
func checkHash(ids []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(id))
	}
	b.WriteByte(']')
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// identifyPre finds the tokenizer.ggml.pre name of the tokenizer in dir.
//
// It hashes the tokens of checkText as llama.cpp does, with what the
// post-processor adds, and failing that without it, so that a tokenizer
// whose post-processor differs from the one llama.cpp hashed is still
// known by its pre-tokenizer and merges. llama.cpp's "smaug-bpe" and
// "llama-bpe" split text alike and differ in that "llama-bpe" emits a
// word that is a token whole (ignore_merges); the first Llama 3
// tokenizer.json, which adds no <|begin_of_text|>, hashes as "smaug-bpe",
// so the tokenizer's own ignore_merges decides between them.
func identifyPre(dir string, ignoreMerges bool) (string, error) {
	tk, err := tokenizer.FromHF(dir)
	if err != nil {
		return "", fmt.Errorf("convert: cannot identify the pre-tokenizer (name it with Options.Pre, joule convert --pre): %w", err)
	}
	full := tk.Encode(checkText, true, true)
	name, ok := knownPre[checkHash(full)]
	if !ok {
		name, ok = knownPre[checkHash(tk.Encode(checkText, false, false))]
	}
	if !ok {
		return "", fmt.Errorf("convert: the tokenizer's pre-tokenizer is not one that llama.cpp and Joule both know (hash %s); if you know which it is, name it with Options.Pre (joule convert --pre)", checkHash(full))
	}
	if name == "smaug-bpe" && ignoreMerges {
		name = "llama-bpe"
	}
	return name, nil
}
