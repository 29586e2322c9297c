package chat

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokData
	tokVarBegin
	tokVarEnd
	tokBlockBegin
	tokBlockEnd
	tokName
	tokString
	tokInt
	tokFloat
	tokOp
)

type token struct {
	kind tokenKind
	val  string // data text, name, decoded string or operator
	num  any    // int64 or float64 for number tokens
	line int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of template"
	case tokData:
		return "template data"
	case tokVarBegin:
		return "'{{'"
	case tokVarEnd:
		return "'}}'"
	case tokBlockBegin:
		return "'{%'"
	case tokBlockEnd:
		return "'%}'"
	case tokString:
		return "string"
	case tokInt, tokFloat:
		return "number"
	}
	return strconv.Quote(t.val)
}

// SyntaxError reports a template that cannot be lexed or parsed.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("chat: template line %d: %s", e.Line, e.Msg)
}

// isSpace reports whether Python's str.isspace holds for r, which is what
// the \s of Jinja2's lexer and str.strip() match.
func isSpace(r rune) bool {
	return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f
}

// Operators, longest first so that "**" wins over "*".
var operators = []string{
	"//", "**", "==", "!=", ">=", "<=",
	"+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}",
	">", "<", "=", ".", ":", "|", ",", ";",
}

type lexer struct {
	src          string
	pos          int
	line         int
	lineStarting bool // the previous match ended a line, for lstrip_blocks
	toks         []token
}

// lex splits a template source into tokens with Hugging Face's whitespace
// settings: trim_blocks and lstrip_blocks on, keep_trailing_newline off.
func lex(src string) ([]token, error) {
	// Jinja2 treats \r\n, \r and \n alike and drops one final newline.
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")
	src = strings.TrimSuffix(src, "\n")
	lx := &lexer{src: src, line: 1, lineStarting: true}
	if err := lx.run(); err != nil {
		return nil, err
	}
	lx.toks = append(lx.toks, token{kind: tokEOF, line: lx.line})
	return lx.toks, nil
}

func (lx *lexer) fail(format string, args ...any) error {
	return &SyntaxError{Line: lx.line, Msg: fmt.Sprintf(format, args...)}
}

func (lx *lexer) emit(kind tokenKind, val string) {
	lx.toks = append(lx.toks, token{kind: kind, val: val, line: lx.line})
}

// advance moves past n bytes, counting lines.
func (lx *lexer) advance(n int) {
	lx.line += strings.Count(lx.src[lx.pos:lx.pos+n], "\n")
	lx.pos += n
}

// nextTag finds the next "{{", "{%" or "{#" at or after pos.
func (lx *lexer) nextTag() int {
	for i := lx.pos; ; {
		j := strings.IndexByte(lx.src[i:], '{')
		if j < 0 || i+j+1 >= len(lx.src) {
			return -1
		}
		i += j
		switch lx.src[i+1] {
		case '{', '%', '#':
			return i
		}
		i++
	}
}

// stripData applies the whitespace control of the tag that follows text:
// "-" removes all whitespace before it; otherwise lstrip_blocks removes the
// indentation of a block or comment tag that begins its line.
func (lx *lexer) stripData(text string, sign byte, variable bool) string {
	if sign == '-' {
		return strings.TrimRightFunc(text, isSpace)
	}
	if sign == '+' || variable {
		return text
	}
	l := strings.LastIndexByte(text, '\n') + 1
	if l == 0 && !lx.lineStarting {
		return text
	}
	if tail := text[l:]; tail != "" && strings.TrimLeftFunc(tail, isSpace) == "" {
		return text[:l]
	}
	return text
}

func (lx *lexer) run() error {
	for lx.pos < len(lx.src) {
		i := lx.nextTag()
		if i < 0 {
			lx.emit(tokData, lx.src[lx.pos:])
			lx.advance(len(lx.src) - lx.pos)
			return nil
		}
		kind := lx.src[i+1]
		var sign byte
		if i+2 < len(lx.src) && (lx.src[i+2] == '-' || lx.src[i+2] == '+') {
			sign = lx.src[i+2]
		}
		raw, rawLen := false, 0
		if kind == '%' {
			rawLen, raw = lx.rawBegin(i)
		}
		text := lx.stripData(lx.src[lx.pos:i], sign, kind == '{')
		if text != "" {
			lx.emit(tokData, text)
		}
		lx.advance(i - lx.pos)
		lx.lineStarting = false
		var err error
		switch {
		case raw:
			lx.advance(rawLen)
			lx.lineStarting = lx.src[lx.pos-1] == '\n'
			err = lx.rawBody()
		case kind == '#':
			err = lx.comment(sign != 0)
		default:
			err = lx.tag(kind == '{', sign != 0)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// rawBegin reports whether a "{% raw %}" tag starts at i, and its length.
func (lx *lexer) rawBegin(i int) (int, bool) {
	j := i + 2
	if j < len(lx.src) && (lx.src[j] == '-' || lx.src[j] == '+') {
		j++
	}
	j = skipSpace(lx.src, j)
	if !strings.HasPrefix(lx.src[j:], "raw") {
		return 0, false
	}
	j = skipSpace(lx.src, j+3)
	switch {
	case strings.HasPrefix(lx.src[j:], "-%}"):
		j = skipSpace(lx.src, j+3)
	case strings.HasPrefix(lx.src[j:], "%}"):
		j += 2
	default:
		return 0, false
	}
	return j - i, true
}

func skipSpace(s string, i int) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isSpace(r) {
			break
		}
		i += n
	}
	return i
}

// blockEnd matches the end of a block tag at i: "+%}", "-%}" with the
// whitespace after it, or "%}" with one newline after it (trim_blocks).
func blockEnd(s string, i int) (int, bool) {
	switch {
	case strings.HasPrefix(s[i:], "+%}"):
		return i + 3, true
	case strings.HasPrefix(s[i:], "-%}"):
		return skipSpace(s, i+3), true
	case strings.HasPrefix(s[i:], "%}"):
		if strings.HasPrefix(s[i+2:], "\n") {
			return i + 3, true
		}
		return i + 2, true
	}
	return 0, false
}

// rawBody emits everything up to "{% endraw %}" as data.
func (lx *lexer) rawBody() error {
	for i := lx.pos; ; i++ {
		k := strings.Index(lx.src[i:], "{%")
		if k < 0 {
			return lx.fail("missing end of raw directive")
		}
		i += k
		j := i + 2
		var sign byte
		if j < len(lx.src) && (lx.src[j] == '-' || lx.src[j] == '+') {
			sign = lx.src[j]
			j++
		}
		j = skipSpace(lx.src, j)
		if !strings.HasPrefix(lx.src[j:], "endraw") {
			continue
		}
		end, ok := blockEnd(lx.src, skipSpace(lx.src, j+6))
		if !ok {
			continue
		}
		if text := lx.stripData(lx.src[lx.pos:i], sign, false); text != "" {
			lx.emit(tokData, text)
		}
		lx.lineStarting = lx.src[end-1] == '\n'
		lx.advance(end - lx.pos)
		return nil
	}
}

func (lx *lexer) comment(signed bool) error {
	start := lx.pos + 2
	if signed {
		start++
	}
	for i := start; i < len(lx.src); i++ {
		end := -1
		switch {
		case strings.HasPrefix(lx.src[i:], "+#}"):
			end = i + 3
		case strings.HasPrefix(lx.src[i:], "-#}"):
			end = skipSpace(lx.src, i+3)
		case strings.HasPrefix(lx.src[i:], "#}"):
			end = i + 2
			if strings.HasPrefix(lx.src[end:], "\n") {
				end++
			}
		}
		if end >= 0 {
			lx.lineStarting = lx.src[end-1] == '\n'
			lx.advance(end - lx.pos)
			return nil
		}
	}
	return lx.fail("missing end of comment tag")
}

// tag lexes a {{ ... }} or {% ... %} tag whose opening is at pos.
func (lx *lexer) tag(variable, signed bool) error {
	if variable {
		lx.emit(tokVarBegin, "")
	} else {
		lx.emit(tokBlockBegin, "")
	}
	n := 2
	if signed {
		n = 3
	}
	lx.advance(n)
	var stack []byte // closing brackets expected, innermost last
	for {
		if lx.pos >= len(lx.src) {
			return lx.fail("unexpected end of template, expected end of tag")
		}
		// The end of the tag only counts outside brackets, so that
		// {{ {'a': {'b': 1}} }} lexes.
		if len(stack) == 0 {
			if variable {
				if strings.HasPrefix(lx.src[lx.pos:], "-}}") {
					end := skipSpace(lx.src, lx.pos+3)
					lx.emit(tokVarEnd, "")
					lx.lineStarting = lx.src[end-1] == '\n'
					lx.advance(end - lx.pos)
					return nil
				}
				if strings.HasPrefix(lx.src[lx.pos:], "}}") {
					lx.emit(tokVarEnd, "")
					lx.advance(2)
					return nil
				}
			} else if end, ok := blockEnd(lx.src, lx.pos); ok {
				lx.emit(tokBlockEnd, "")
				lx.lineStarting = lx.src[end-1] == '\n'
				lx.advance(end - lx.pos)
				return nil
			}
		}
		r, size := utf8.DecodeRuneInString(lx.src[lx.pos:])
		switch {
		case isSpace(r):
			lx.advance(skipSpace(lx.src, lx.pos) - lx.pos)
		case r >= '0' && r <= '9':
			if err := lx.number(); err != nil {
				return err
			}
		case r == '_' || unicode.IsLetter(r):
			j := lx.pos + size
			for j < len(lx.src) {
				r, n := utf8.DecodeRuneInString(lx.src[j:])
				if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r) && !unicode.Is(unicode.Mc, r) {
					break
				}
				j += n
			}
			lx.emit(tokName, lx.src[lx.pos:j])
			lx.advance(j - lx.pos)
		case r == '\'' || r == '"':
			if err := lx.str(byte(r)); err != nil {
				return err
			}
		default:
			op := ""
			for _, o := range operators {
				if strings.HasPrefix(lx.src[lx.pos:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return lx.fail("unexpected char %q", r)
			}
			switch op {
			case "(":
				stack = append(stack, ')')
			case "[":
				stack = append(stack, ']')
			case "{":
				stack = append(stack, '}')
			case ")", "]", "}":
				if len(stack) == 0 {
					return lx.fail("unexpected '%s'", op)
				}
				if want := stack[len(stack)-1]; want != op[0] {
					return lx.fail("unexpected '%s', expected '%c'", op, want)
				}
				stack = stack[:len(stack)-1]
			}
			lx.emit(tokOp, op)
			lx.advance(len(op))
		}
	}
}

// number lexes an integer or float literal; underscores may separate
// digits, and integers may be written in binary, octal or hex.
func (lx *lexer) number() error {
	s := lx.src
	i := lx.pos
	digits := func(j int, ok func(byte) bool) int {
		for j < len(s) && (ok(s[j]) || s[j] == '_' && j+1 < len(s) && ok(s[j+1])) {
			j++
		}
		return j
	}
	isDec := func(c byte) bool { return c >= '0' && c <= '9' }
	if s[i] == '0' && i+1 < len(s) {
		var base int
		var ok func(byte) bool
		switch s[i+1] | 0x20 {
		case 'b':
			base, ok = 2, func(c byte) bool { return c == '0' || c == '1' }
		case 'o':
			base, ok = 8, func(c byte) bool { return c >= '0' && c <= '7' }
		case 'x':
			base, ok = 16, func(c byte) bool { return isDec(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }
		}
		if base != 0 {
			j := i + 2
			if j < len(s) && s[j] == '_' {
				j++
			}
			if j < len(s) && ok(s[j]) {
				end := digits(j, ok)
				v, err := strconv.ParseInt(strings.ReplaceAll(s[i+2:end], "_", ""), base, 64)
				if err != nil {
					return lx.fail("integer %s out of range", s[i:end])
				}
				lx.toks = append(lx.toks, token{kind: tokInt, num: v, line: lx.line})
				lx.advance(end - i)
				return nil
			}
		}
	}
	end := digits(i, isDec)
	isFloat := false
	// A float needs a fractional part or an exponent, and does not follow
	// a dot (so that x.0.1 indexes twice).
	if i == 0 || s[i-1] != '.' {
		j := end
		if j+1 < len(s) && s[j] == '.' && isDec(s[j+1]) {
			j = digits(j+1, isDec)
			isFloat = true
		}
		if j < len(s) && s[j]|0x20 == 'e' {
			k := j + 1
			if k < len(s) && (s[k] == '+' || s[k] == '-') {
				k++
			}
			if k < len(s) && isDec(s[k]) {
				j = digits(k, isDec)
				isFloat = true
			}
		}
		if isFloat {
			end = j
		}
	}
	text := strings.ReplaceAll(s[i:end], "_", "")
	if isFloat {
		v, err := strconv.ParseFloat(text, 64)
		if err != nil && !isRangeErr(err) {
			return lx.fail("bad number %s", s[i:end])
		}
		lx.toks = append(lx.toks, token{kind: tokFloat, num: v, line: lx.line})
	} else {
		// Python's decimal integers have no leading zeros: 012 lexes as 0, 12.
		if text[0] == '0' {
			end = i + 1
			for end < len(s) && (s[end] == '0' || s[end] == '_' && end+1 < len(s) && s[end+1] == '0') {
				end++
			}
			text = "0"
		}
		v, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return lx.fail("integer %s out of range", s[i:end])
		}
		lx.toks = append(lx.toks, token{kind: tokInt, num: v, line: lx.line})
	}
	lx.advance(end - i)
	return nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// str lexes a quoted string literal and decodes its escapes.
func (lx *lexer) str(q byte) error {
	s := lx.src
	j := lx.pos + 1
	for {
		if j >= len(s) {
			return lx.fail("unexpected char %q", rune(q))
		}
		if s[j] == '\\' {
			j += 2
			continue
		}
		if s[j] == q {
			break
		}
		j++
	}
	v, err := unescape(s[lx.pos+1 : j])
	if err != nil {
		return lx.fail("%v", err)
	}
	lx.emit(tokString, v)
	lx.advance(j + 1 - lx.pos)
	return nil
}

// unescape decodes Python's unicode-escape sequences, which is how Jinja2
// reads string literals; an unknown escape keeps its backslash.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("\\ at end of string")
		}
		e := s[i+1]
		i += 2
		switch e {
		case '\n':
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := rune(e - '0')
			for k := 0; k < 2 && i < len(s) && s[i] >= '0' && s[i] <= '7'; k++ {
				v = v*8 + rune(s[i]-'0')
				i++
			}
			b.WriteRune(v)
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if i+n > len(s) {
				return "", fmt.Errorf("truncated \\%c escape", e)
			}
			v, err := strconv.ParseUint(s[i:i+n], 16, 32)
			if err != nil || v > unicode.MaxRune {
				return "", fmt.Errorf("bad \\%c escape", e)
			}
			b.WriteRune(rune(v))
			i += n
		case 'N':
			return "", fmt.Errorf("\\N{...} escapes are not supported")
		default:
			if e >= utf8.RuneSelf {
				// Jinja2 first rewrites non-ASCII text as backslash escapes,
				// so a backslash before é reads as an escaped backslash
				// followed by the letters "xe9".
				r, n := utf8.DecodeRuneInString(s[i-1:])
				i += n - 1
				b.WriteByte('\\')
				switch {
				case r < 0x100:
					fmt.Fprintf(&b, "x%02x", r)
				case r < 0x10000:
					fmt.Fprintf(&b, "u%04x", r)
				default:
					fmt.Fprintf(&b, "U%08x", r)
				}
				continue
			}
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return b.String(), nil
}
