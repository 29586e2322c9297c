package tokenizer

import (
	"sort"
	"unicode"
	"unicode/utf8"
)

// Byte-level BPE first cuts text into pre-tokens with a regular expression,
// and merges only within them. The expressions use lookahead and Unicode
// classes that Go's regexp lacks, so each is written out here as a scanner
// that returns the length of the match starting at the beginning of its
// input, exactly as the leftmost-first (Perl-style) expression would.

// A stage cuts one piece of text into smaller pieces, appending them to
// out. Pieces are substrings of the text and together cover it.
type stage func(piece string, out []string) []string

// A pretokenizer is a sequence of stages, each applied to every piece the
// one before produced, as llama.cpp applies its list of expressions and
// Hugging Face its Sequence of pre-tokenizers.
type pretokenizer []stage

// split appends the pre-tokens of text to out, using tmp as scratch space.
func (p pretokenizer) split(text string, out, tmp []string) (pieces, scratch []string) {
	cur := append(tmp[:0], text)
	for _, st := range p {
		next := out[:0]
		for _, piece := range cur {
			next = st(piece, next)
		}
		cur, out = next, cur
	}
	return cur, out
}

// A matcher returns the length of the match of an expression that starts
// at the beginning of s, or 0 if it does not match there. s runs to the end
// of the piece being split, which is where $ and lookahead stop.
type matcher func(s string) int

// isolate splits a piece at the matches of m: each match and each stretch
// of text between matches becomes a piece (Hugging Face's "Isolated"
// behaviour, and what llama.cpp does with each expression).
func isolate(m matcher) stage {
	return func(piece string, out []string) []string {
		gap := 0
		for i := 0; i < len(piece); {
			n := m(piece[i:])
			if n == 0 {
				_, w := nextRune(piece[i:])
				i += w
				continue
			}
			if gap < i {
				out = append(out, piece[gap:i])
			}
			out = append(out, piece[i:i+n])
			i += n
			gap = i
		}
		if gap < len(piece) {
			out = append(out, piece[gap:])
		}
		return out
	}
}

// charClass is the part of a character's Unicode category that the
// expressions look at.
type charClass uint8

const (
	classOther  charClass = iota // none of the below: [^\s\p{L}\p{N}]
	classLetter                  // \p{L}
	classNumber                  // \p{N}
	classSpace                   // \s
)

// asciiClass holds the class of each ASCII character.
var asciiClass = func() (t [128]charClass) {
	for c := range t {
		t[c] = classifySlow(rune(c))
	}
	return t
}()

func classifySlow(r rune) charClass {
	switch {
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	case unicode.IsSpace(r):
		// Go's unicode.IsSpace is exactly the \s of Oniguruma (the
		// Hugging Face tokenizers' engine) and of llama.cpp.
		return classSpace
	}
	return classOther
}

func classify(r rune) charClass {
	if r < utf8.RuneSelf {
		return asciiClass[r]
	}
	return classifySlow(r)
}

// nextRune decodes the first character of s, which must not be empty. An
// invalid byte is returned as utf8.RuneError of width 1, which classifies
// as "other".
func nextRune(s string) (rune, int) {
	if s[0] < utf8.RuneSelf {
		return rune(s[0]), 1
	}
	return utf8.DecodeRuneInString(s)
}

// run returns the length of the longest prefix of s made of characters of
// class c.
func run(s string, c charClass) int {
	i := 0
	for i < len(s) {
		r, n := nextRune(s[i:])
		if classify(r) != c {
			break
		}
		i += n
	}
	return i
}

// contraction returns the length of an English contraction ('s 't 're 've
// 'm 'll 'd) at the start of s, or 0. With fold, ASCII letters match in
// either case, as llama.cpp's '[sS]|'[tT]... and the Hugging Face
// JavaScript tokenizer's (?i:...) do. (Full Unicode case folding would also
// let "ſ" match "s"; neither of those does that.)
func contraction(s string, fold bool) int {
	if len(s) < 2 || s[0] != '\'' {
		return 0
	}
	lower := func(c byte) byte {
		if fold && 'A' <= c && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	switch lower(s[1]) {
	case 's', 't', 'm', 'd':
		return 2
	case 'r', 'v':
		if len(s) > 2 && lower(s[2]) == 'e' {
			return 3
		}
	case 'l':
		if len(s) > 2 && lower(s[2]) == 'l' {
			return 3
		}
	}
	return 0
}

// spaces matches a run of whitespace at the start of s (which begins with
// whitespace) the way the tails of the Llama 3 and GPT-2 expressions do:
//
//	\s*[\r\n]+   (only if newline is set: up to the run's last newline)
//	\s+(?!\S)    (all of it at the end of s, else all but its last character)
//	\s+          (a single whitespace character before non-space)
func spaces(s string, newline bool) int {
	end, last, nl := 0, 0, -1
	for end < len(s) {
		r, n := nextRune(s[end:])
		if classify(r) != classSpace {
			break
		}
		if r == '\r' || r == '\n' {
			nl = end
		}
		last = end
		end += n
	}
	switch {
	case newline && nl >= 0:
		return nl + 1
	case end == len(s) || last == 0:
		return end
	}
	return last
}

// llama3Matcher matches the Llama 3 expression (digits = 3) or the Qwen2
// one (digits = 1):
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func llama3Matcher(digits int) matcher {
	return func(s string) int {
		if n := contraction(s, true); n > 0 {
			return n
		}
		r, n := nextRune(s)
		c := classify(r)
		switch c {
		case classLetter:
			return n + run(s[n:], classLetter)
		case classNumber:
			i := n
			for k := 1; k < digits && i < len(s); k++ {
				r, w := nextRune(s[i:])
				if classify(r) != classNumber {
					break
				}
				i += w
			}
			return i
		}
		// One character that is neither a newline, a letter nor a digit,
		// then letters.
		if r != '\r' && r != '\n' && n < len(s) {
			r2, n2 := nextRune(s[n:])
			if classify(r2) == classLetter {
				return n + n2 + run(s[n+n2:], classLetter)
			}
		}
		// An optional space, symbols, then newlines.
		start := -1
		if c == classOther {
			start = 0
		} else if r == ' ' && n < len(s) {
			if r2, _ := nextRune(s[n:]); classify(r2) == classOther {
				start = n
			}
		}
		if start >= 0 {
			i := start + run(s[start:], classOther)
			for i < len(s) && (s[i] == '\r' || s[i] == '\n') {
				i++
			}
			return i
		}
		return spaces(s, true)
	}
}

// matchGPT2 matches the GPT-2 expression:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func matchGPT2(s string) int {
	if n := contraction(s, false); n > 0 {
		return n
	}
	start := 0
	if s[0] == ' ' && len(s) > 1 {
		if r, _ := nextRune(s[1:]); classify(r) != classSpace {
			start = 1
		}
	}
	r, _ := nextRune(s[start:])
	c := classify(r)
	if c == classSpace {
		return spaces(s, false)
	}
	return start + run(s[start:], c)
}

// matchDigit matches \p{N}, one digit of any script.
func matchDigit(s string) int {
	if r, n := nextRune(s); classify(r) == classNumber {
		return n
	}
	return 0
}

// matchDigits matches \p{N}+.
func matchDigits(s string) int { return run(s, classNumber) }

// matchDigits3 matches \p{N}{1,3}.
func matchDigits3(s string) int {
	i := 0
	for k := 0; k < 3 && i < len(s); k++ {
		r, n := nextRune(s[i:])
		if classify(r) != classNumber {
			break
		}
		i += n
	}
	return i
}

// matchASCIIDigits3 matches [0-9][0-9][0-9].
func matchASCIIDigits3(s string) int {
	if len(s) >= 3 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) {
		return 3
	}
	return 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// matchPunct matches [\p{P}\$\+<=>\^~\|]+, the first expression of
// llama.cpp's default pre-tokenizer.
func matchPunct(s string) int {
	i := 0
	for i < len(s) {
		r, n := nextRune(s[i:])
		switch {
		case unicode.IsPunct(r) && !(r == utf8.RuneError && n == 1):
		case r == '$' || r == '+' || r == '<' || r == '=' || r == '>' || r == '^' || r == '~' || r == '|':
		default:
			return i
		}
		i += n
	}
	return i
}

// matchNewline matches [\r\n].
func matchNewline(s string) int {
	if s[0] == '\r' || s[0] == '\n' {
		return 1
	}
	return 0
}

// runeSet is a set of characters given as sorted, disjoint ranges.
type runeSet []runeRange

func (rs runeSet) has(r rune) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].hi >= r })
	return i < len(rs) && rs[i].lo <= r
}

// setRun returns the length of the longest prefix of s in set.
func setRun(s string, set runeSet) int {
	i := 0
	for i < len(s) {
		r, n := nextRune(s[i:])
		if (r == utf8.RuneError && n == 1) || !set.has(r) {
			break
		}
		i += n
	}
	return i
}

// spaceThenSet matches \s?[set]+.
func spaceThenSet(set runeSet) matcher {
	return func(s string) int {
		r, n := nextRune(s)
		if classify(r) == classSpace && n < len(s) {
			if k := setRun(s[n:], set); k > 0 {
				return n + k
			}
		}
		return setRun(s, set)
	}
}

// setPlus matches [set]+.
func setPlus(set runeSet) matcher {
	return func(s string) int { return setRun(s, set) }
}

// trailingSpace splits off the whitespace at the end of a piece: the
// expression \s+$.
func trailingSpace(piece string, out []string) []string {
	i := len(piece)
	for i > 0 {
		r, n := utf8.DecodeLastRuneInString(piece[:i])
		if classify(r) != classSpace || (r == utf8.RuneError && n == 1) {
			break
		}
		i -= n
	}
	if i > 0 {
		out = append(out, piece[:i])
	}
	if i < len(piece) {
		out = append(out, piece[i:])
	}
	return out
}

// The character classes of DeepSeek LLM's pre-tokenizer: cased letters of
// many scripts, ASCII and fullwidth punctuation, and CJK (with most of the
// scripts between U+0800 and U+4E00).
var (
	deepseekLetters = runeSet{
		{0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA},
		{0x1BC, 0x1BF}, {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377}, {0x37B, 0x37D},
		{0x37F, 0x37F}, {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C}, {0x38E, 0x3A1}, {0x3A3, 0x3F5},
		{0x3F7, 0x481}, {0x48A, 0x52F}, {0x531, 0x556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD},
		{0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15},
		{0x1F18, 0x1F1D}, {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
		{0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4},
		{0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC},
		{0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124},
		{0x2126, 0x2126}, {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F},
		{0x2145, 0x2149}, {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE},
		{0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787}, {0xA78B, 0xA78E},
		{0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x10400, 0x1044F},
		{0x104B0, 0x104D3}, {0x104D8, 0x104FB}, {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
	}
	deepseekPunct = runeSet{
		{0x21, 0x2F}, {0x3A, 0x7E}, {0x2018, 0x201F}, {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E},
	}
	deepseekCJK = runeSet{{0x800, 0x9FA5}, {0xAC00, 0xD7FF}}
)

// preKind names a pre-tokenizer of llama.cpp's.
type preKind int

const (
	preDefault preKind = iota
	preLlama3
	preQwen2
	preGPT2
	preSmolLM
	preDeepseekLLM
)

// preInfo is what a tokenizer.ggml.pre name stands for in llama.cpp.
type preInfo struct {
	kind         preKind
	ignoreMerges bool // emit a pre-token that is a token whole
	addBOS       bool // default for tokenizer.ggml.add_bos_token
}

// preNames maps the tokenizer.ggml.pre names this package knows to
// llama.cpp's behaviour for them.
var preNames = map[string]preInfo{
	"default":          {kind: preDefault},
	"llama-bpe":        {kind: preLlama3, ignoreMerges: true, addBOS: true},
	"llama3":           {kind: preLlama3, ignoreMerges: true, addBOS: true},
	"llama-v3":         {kind: preLlama3, ignoreMerges: true, addBOS: true},
	"dbrx":             {kind: preLlama3},
	"smaug-bpe":        {kind: preLlama3},
	"qwen2":            {kind: preQwen2},
	"deepseek-r1-qwen": {kind: preQwen2},
	"stablelm2":        {kind: preQwen2},
	"gpt-2":            {kind: preGPT2},
	"phi-2":            {kind: preGPT2},
	"mpt":              {kind: preGPT2},
	"olmo":             {kind: preGPT2},
	"smollm":           {kind: preSmolLM},
	"starcoder":        {kind: preSmolLM},
	"refact":           {kind: preSmolLM},
	"command-r":        {kind: preSmolLM},
	"deepseek-llm":     {kind: preDeepseekLLM},
}

// preNameList returns the known pre-tokenizer names, sorted.
func preNameList() []string {
	names := make([]string, 0, len(preNames))
	for n := range preNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// newPretokenizer returns the stages of a llama.cpp pre-tokenizer.
func newPretokenizer(k preKind) pretokenizer {
	switch k {
	case preLlama3:
		return pretokenizer{isolate(llama3Matcher(3))}
	case preQwen2:
		return pretokenizer{isolate(llama3Matcher(1))}
	case preGPT2:
		return pretokenizer{isolate(matchGPT2)}
	case preSmolLM:
		return pretokenizer{isolate(matchDigit), isolate(matchGPT2)}
	case preDeepseekLLM:
		return pretokenizer{
			isolate(matchNewline),
			isolate(spaceThenSet(deepseekLetters)),
			isolate(spaceThenSet(deepseekPunct)),
			trailingSpace,
			isolate(setPlus(deepseekCJK)),
			isolate(matchDigits),
		}
	}
	return pretokenizer{
		isolate(matchPunct),
		isolate(matchGPT2),
		isolate(matchDigits),
		isolate(matchASCIIDigits3),
	}
}

// hfPatterns maps the regular expressions of Hugging Face Split
// pre-tokenizers ("Isolated" behaviour) that this package knows to their
// scanners: those of the pre-tokenizers above.
var hfPatterns = map[string]stage{
	`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`: isolate(llama3Matcher(3)),
	`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`:      isolate(llama3Matcher(1)),
	`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`:                                          isolate(matchGPT2),
	`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`:                                              isolate(matchGPT2),
	`\p{N}`:                isolate(matchDigit),
	`\p{N}+`:               isolate(matchDigits),
	`\p{N}{1,3}`:           isolate(matchDigits3),
	`[0-9][0-9][0-9]`:      isolate(matchASCIIDigits3),
	`[\p{P}\$\+<=>\^~\|]+`: isolate(matchPunct),
	"[\r\n]":               isolate(matchNewline),
	`[\r\n]`:               isolate(matchNewline),
	`\s+$`:                 trailingSpace,
	"\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+": isolate(spaceThenSet(deepseekLetters)),
	"\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+": isolate(spaceThenSet(deepseekPunct)),
	"[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+":                        isolate(setPlus(deepseekCJK)),
}
