package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Methods the immutable sandbox refuses: looking them up gives a value
// that fails when called, as Jinja2's SecurityError does.
var unsafeMethods = map[string]map[string]bool{
	"dict": {"clear": true, "pop": true, "popitem": true, "setdefault": true, "update": true},
	"list": {"append": true, "clear": true, "extend": true, "insert": true, "pop": true, "remove": true, "reverse": true, "sort": true},
}

// method returns the bound Python method name of v, if it has one.
func method(v any, name string) (any, bool) {
	tn := typeName(v)
	if unsafeMethods[tn][name] {
		return undef("access to attribute '%s' of '%s' object is unsafe.", name, tn), true
	}
	var fn func(e *evaluator, a *args) (any, error)
	switch x := v.(type) {
	case string:
		fn = strMethod(x, name)
	case *dict:
		fn = dictMethod(x, name)
	case []any:
		fn = seqMethod(x, name)
	case tuple:
		fn = seqMethod(x, name)
	}
	if fn == nil {
		return nil, false
	}
	return &builtin{name: name, fn: fn}, true
}

func dictMethod(d *dict, name string) func(e *evaluator, a *args) (any, error) {
	switch name {
	case "keys", "values", "items":
		return func(_ *evaluator, a *args) (any, error) {
			if _, err := a.bind(name); err != nil {
				return nil, err
			}
			items := make([]any, len(d.keys))
			for i, k := range d.keys {
				switch name {
				case "keys":
					items[i] = k
				case "values":
					items[i] = d.value(k)
				default:
					items[i] = tuple{k, d.value(k)}
				}
			}
			return &dictView{kind: name, items: items}, nil
		}
	case "get":
		return func(_ *evaluator, a *args) (any, error) {
			p, err := a.bind(name, "key", "default")
			if err != nil {
				return nil, err
			}
			if p[0] == missing || len(a.names) > 0 {
				return nil, errorf("get() takes 1 or 2 positional arguments")
			}
			if _, err := hashKey(p[0]); err != nil {
				return nil, err
			}
			if v, ok := d.get(p[0]); ok {
				return v, nil
			}
			if p[1] == missing {
				return nil, nil
			}
			return p[1], nil
		}
	case "copy":
		return func(_ *evaluator, a *args) (any, error) {
			if _, err := a.bind(name); err != nil {
				return nil, err
			}
			return d.copy(), nil
		}
	}
	return nil
}

func seqMethod(items []any, name string) func(e *evaluator, a *args) (any, error) {
	switch name {
	case "count":
		return func(_ *evaluator, a *args) (any, error) {
			p, err := a.bind(name, "value")
			if err != nil || p[0] == missing {
				return nil, errorf("count() takes exactly one argument")
			}
			n := int64(0)
			for _, it := range items {
				if equal(it, p[0]) {
					n++
				}
			}
			return n, nil
		}
	case "index":
		return func(_ *evaluator, a *args) (any, error) {
			p, err := a.bind(name, "value")
			if err != nil || p[0] == missing {
				return nil, errorf("index() takes at least one argument")
			}
			for i, it := range items {
				if equal(it, p[0]) {
					return int64(i), nil
				}
			}
			return nil, errorf("%s is not in list", repr(p[0]))
		}
	case "copy":
		return func(_ *evaluator, a *args) (any, error) {
			return append([]any(nil), items...), nil
		}
	}
	return nil
}

// optString reads an optional str-or-None argument.
func optString(v any, fn string) (string, bool, error) {
	switch x := v.(type) {
	case missingT, nil:
		return "", false, nil
	case string:
		return x, true, nil
	}
	return "", false, errorf("%s arg must be None or str", fn)
}

func optInt(v any, def int64, fn string) (int64, error) {
	switch v.(type) {
	case missingT, nil:
		return def, nil
	}
	n, ok := toInt(v)
	if !ok {
		return 0, errorf("%s: '%s' object cannot be interpreted as an integer", fn, typeName(v))
	}
	return n, nil
}

func strMethod(s, name string) func(e *evaluator, a *args) (any, error) {
	// simple methods take no arguments and map the string.
	simple := map[string]func(string) any{
		"upper":      func(s string) any { return strings.ToUpper(s) },
		"lower":      func(s string) any { return strings.ToLower(s) },
		"casefold":   func(s string) any { return strings.ToLower(s) },
		"title":      func(s string) any { return pyTitle(s) },
		"capitalize": func(s string) any { return pyCapitalize(s) },
		"swapcase": func(s string) any {
			return strings.Map(func(r rune) rune {
				if unicode.IsUpper(r) {
					return unicode.ToLower(r)
				}
				return unicode.ToUpper(r)
			}, s)
		},
		"isdigit":   func(s string) any { return s != "" && all(s, unicode.IsDigit) },
		"isdecimal": func(s string) any { return s != "" && all(s, unicode.IsDigit) },
		"isnumeric": func(s string) any { return s != "" && all(s, unicode.IsNumber) },
		"isalpha":   func(s string) any { return s != "" && all(s, unicode.IsLetter) },
		"isalnum": func(s string) any {
			return s != "" && all(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) })
		},
		"isspace": func(s string) any { return s != "" && all(s, isSpace) },
		"islower": func(s string) any { return hasCased(s) && strings.ToLower(s) == s },
		"isupper": func(s string) any { return hasCased(s) && strings.ToUpper(s) == s },
		"istitle": func(s string) any { return hasCased(s) && pyTitle(s) == s },
	}
	if f, ok := simple[name]; ok {
		return func(_ *evaluator, a *args) (any, error) {
			if _, err := a.bind(name); err != nil {
				return nil, err
			}
			return f(s), nil
		}
	}
	switch name {
	case "strip", "lstrip", "rstrip":
		return func(_ *evaluator, a *args) (any, error) {
			p, err := a.bind(name, "chars")
			if err != nil {
				return nil, err
			}
			chars, has, err := optString(p[0], name)
			if err != nil {
				return nil, err
			}
			return pyStrip(s, name, chars, has), nil
		}
	case "startswith", "endswith":
		return func(_ *evaluator, a *args) (any, error) {
			p, err := a.bind(name, "prefix", "start", "end")
			if err != nil {
				return nil, err
			}
			var cands []any
			switch x := p[0].(type) {
			case string:
				cands = []any{x}
			case tuple:
				cands = x
			default:
				return nil, errorf("%s first arg must be str or a tuple of str, not %s", name, typeName(p[0]))
			}
			sub, err := runeSlice(s, p[1], p[2])
			if err != nil {
				return nil, err
			}
			for _, c := range cands {
				cs, ok := c.(string)
				if !ok {
					return nil, errorf("tuple for %s must only contain str, not %s", name, typeName(c))
				}
				if name == "startswith" && strings.HasPrefix(sub, cs) || name == "endswith" && strings.HasSuffix(sub, cs) {
					return true, nil
				}
			}
			return false, nil
		}
	case "split", "rsplit":
		return func(_ *evaluator, a *args) (any, error) {
			p, err := a.bind(name, "sep", "maxsplit")
			if err != nil {
				return nil, err
			}
			sep, has, err := optString(p[0], name)
			if err != nil {
				return nil, err
			}
			n, err := optInt(p[1], -1, name)
			if err != nil {
				return nil, err
			}
			if has && sep == "" {
				return nil, errorf("empty separator")
			}
			return toList(pySplit(s, sep, has, int(max(min(n, 1<<30), -1)), name == "rsplit")), nil
		}
	case "splitlines":
		return func(_ *evaluator, a *args) (any, error) {
			p, err := a.bind(name, "keepends")
			if err != nil {
				return nil, err
			}
			return toList(splitLines(s, p[0] != missing && truthy(p[0]))), nil
		}
	case "replace":
		return func(_ *evaluator, a *args) (any, error) {
			p, err := a.bind(name, "old", "new", "count")
			if err != nil {
				return nil, err
			}
			old, ok1 := p[0].(string)
			nw, ok2 := p[1].(string)
			if !ok1 || !ok2 {
				return nil, errorf("replace() arguments must be str")
			}
			n, err := optInt(p[2], -1, name)
			if err != nil {
				return nil, err
			}
			return pyReplace(s, old, nw, n)
		}
	case "find", "rfind", "index", "rindex", "count":
		return func(_ *evaluator, a *args) (any, error) {
			p, err := a.bind(name, "sub", "start", "end")
			if err != nil {
				return nil, err
			}
			sub, ok := p[0].(string)
			if !ok {
				return nil, errorf("%s() argument must be str, not %s", name, typeName(p[0]))
			}
			hay, err := runeSlice(s, p[1], p[2])
			if err != nil {
				return nil, err
			}
			offset := int64(0)
			if p[1] != missing && p[1] != nil {
				start, _ := toInt(p[1])
				n := int64(utf8.RuneCountInString(s))
				if start < 0 {
					start = max(start+n, 0)
				}
				offset = min(start, n)
			}
			if name == "count" {
				if sub == "" {
					return int64(utf8.RuneCountInString(hay) + 1), nil
				}
				return int64(strings.Count(hay, sub)), nil
			}
			var i int
			if name[0] == 'r' {
				i = strings.LastIndex(hay, sub)
			} else {
				i = strings.Index(hay, sub)
			}
			if i < 0 {
				if name == "index" || name == "rindex" {
					return nil, errorf("substring not found")
				}
				return int64(-1), nil
			}
			return offset + int64(utf8.RuneCountInString(hay[:i])), nil
		}
	case "join":
		return func(_ *evaluator, a *args) (any, error) {
			p, err := a.bind(name, "iterable")
			if err != nil || p[0] == missing {
				return nil, errorf("join() takes exactly one argument")
			}
			items, err := iterate(p[0])
			if err != nil {
				return nil, err
			}
			parts := make([]string, len(items))
			for i, it := range items {
				ps, ok := it.(string)
				if !ok {
					return nil, errorf("sequence item %d: expected str instance, %s found", i, typeName(it))
				}
				parts[i] = ps
			}
			return strings.Join(parts, s), nil
		}
	case "removeprefix", "removesuffix":
		return func(_ *evaluator, a *args) (any, error) {
			p, err := a.bind(name, "fix")
			if err != nil {
				return nil, err
			}
			fix, ok := p[0].(string)
			if !ok {
				return nil, errorf("%s() argument must be str, not %s", name, typeName(p[0]))
			}
			if name == "removeprefix" {
				return strings.TrimPrefix(s, fix), nil
			}
			return strings.TrimSuffix(s, fix), nil
		}
	case "partition", "rpartition":
		return func(_ *evaluator, a *args) (any, error) {
			p, err := a.bind(name, "sep")
			if err != nil {
				return nil, err
			}
			sep, ok := p[0].(string)
			if !ok || sep == "" {
				return nil, errorf("%s() needs a non-empty str separator", name)
			}
			var i int
			if name == "partition" {
				i = strings.Index(s, sep)
			} else {
				i = strings.LastIndex(s, sep)
			}
			if i < 0 {
				if name == "partition" {
					return tuple{s, "", ""}, nil
				}
				return tuple{"", "", s}, nil
			}
			return tuple{s[:i], sep, s[i+len(sep):]}, nil
		}
	case "center", "ljust", "rjust", "zfill":
		return func(_ *evaluator, a *args) (any, error) {
			params := []string{"width", "fillchar"}
			if name == "zfill" {
				params = params[:1]
			}
			p, err := a.bind(name, params...)
			if err != nil {
				return nil, err
			}
			w, ok := toInt(p[0])
			if !ok {
				return nil, errorf("%s() width must be an integer", name)
			}
			fill := " "
			if len(p) > 1 && p[1] != missing {
				f, ok := p[1].(string)
				if !ok || utf8.RuneCountInString(f) != 1 {
					return nil, errorf("the fill character must be exactly one character long")
				}
				fill = f
			}
			return pad(s, name, int(min(w, maxString)), fill), nil
		}
	case "format":
		return func(_ *evaluator, a *args) (any, error) {
			return strFormat(s, a)
		}
	}
	return nil
}

func all(s string, f func(rune) bool) bool {
	for _, r := range s {
		if !f(r) {
			return false
		}
	}
	return true
}

func hasCased(s string) bool {
	for _, r := range s {
		if unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) {
			return true
		}
	}
	return false
}

func toList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// runeSlice applies optional start/end code-point indices to s.
func runeSlice(s string, start, end any) (string, error) {
	if start == missing && end == missing {
		return s, nil
	}
	var b [3]any
	for i, v := range []any{start, end} {
		if v != missing {
			b[i] = v
		}
	}
	runes := []rune(s)
	idx, err := sliceIndices(b, len(runes))
	if err != nil {
		return "", err
	}
	if len(idx) == 0 {
		return "", nil
	}
	return string(runes[idx[0] : idx[len(idx)-1]+1]), nil
}

// pyStrip is str.strip/lstrip/rstrip: whitespace, or any of chars.
func pyStrip(s, which, chars string, has bool) string {
	cut := isSpace
	if has {
		cut = func(r rune) bool { return strings.ContainsRune(chars, r) }
	}
	if which != "rstrip" {
		s = strings.TrimLeftFunc(s, cut)
	}
	if which != "lstrip" {
		s = strings.TrimRightFunc(s, cut)
	}
	return s
}

// pySplit is str.split/rsplit with Python's rules: no separator splits on
// runs of whitespace and drops empty fields; maxsplit < 0 means no limit.
func pySplit(s, sep string, hasSep bool, maxsplit int, right bool) []string {
	if hasSep {
		if maxsplit < 0 {
			return strings.Split(s, sep)
		}
		if !right {
			return strings.SplitN(s, sep, maxsplit+1)
		}
		var out []string
		for range maxsplit {
			i := strings.LastIndex(s, sep)
			if i < 0 {
				break
			}
			out = append(out, s[i+len(sep):])
			s = s[:i]
		}
		out = append(out, s)
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
		return out
	}
	if maxsplit < 0 {
		return strings.FieldsFunc(s, isSpace)
	}
	var out []string
	if !right {
		for len(out) < maxsplit {
			s = strings.TrimLeftFunc(s, isSpace)
			if s == "" {
				break
			}
			i := strings.IndexFunc(s, isSpace)
			if i < 0 {
				break
			}
			out = append(out, s[:i])
			s = s[i:]
		}
		if s = strings.TrimLeftFunc(s, isSpace); s != "" {
			out = append(out, s)
		}
		return out
	}
	for len(out) < maxsplit {
		s = strings.TrimRightFunc(s, isSpace)
		if s == "" {
			break
		}
		i := strings.LastIndexFunc(s, isSpace)
		if i < 0 {
			break
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		out = append(out, s[i+n:])
		s = s[:i]
	}
	if s = strings.TrimRightFunc(s, isSpace); s != "" {
		out = append(out, s)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// splitLines is str.splitlines.
func splitLines(s string, keepends bool) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		brk := 0
		switch r {
		case '\r':
			brk = n
			if strings.HasPrefix(s[i+n:], "\n") {
				brk++
			}
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			brk = n
		}
		if brk == 0 {
			i += n
			continue
		}
		end := i
		if keepends {
			end = i + brk
		}
		out = append(out, s[start:end])
		i += brk
		start = i
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func pyReplace(s, old, nw string, n int64) (any, error) {
	count := strings.Count(s, old)
	if old == "" {
		count = utf8.RuneCountInString(s) + 1
	}
	if n >= 0 {
		count = int(min(int64(count), n))
	}
	if err := checkSize(len(s) + count*(len(nw)-len(old))); err != nil {
		return nil, err
	}
	return strings.Replace(s, old, nw, count), nil
}

// pyTitle is str.title: a cased character after an uncased one is upper
// case, other cased characters lower case.
func pyTitle(s string) string {
	var b strings.Builder
	prevCased := false
	for _, r := range s {
		switch {
		case unicode.IsUpper(r) || unicode.IsTitle(r):
			if prevCased {
				r = unicode.ToLower(r)
			}
			prevCased = true
		case unicode.IsLower(r):
			if !prevCased {
				r = unicode.ToTitle(r)
			}
			prevCased = true
		default:
			prevCased = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// pyCapitalize is str.capitalize: the first character in title case, the
// rest lower case.
func pyCapitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToTitle(r)) + strings.ToLower(s[n:])
}

func pad(s, how string, width int, fill string) string {
	n := utf8.RuneCountInString(s)
	if width <= n {
		return s
	}
	extra := width - n
	switch how {
	case "ljust":
		return s + strings.Repeat(fill, extra)
	case "rjust":
		return strings.Repeat(fill, extra) + s
	case "zfill":
		if s != "" && (s[0] == '+' || s[0] == '-') {
			return s[:1] + strings.Repeat("0", extra) + s[1:]
		}
		return strings.Repeat("0", extra) + s
	}
	// Python's center gives an odd extra character to the left only when
	// the width is odd.
	left := extra / 2
	if extra%2 == 1 && width%2 == 1 {
		left++
	}
	return strings.Repeat(fill, left) + s + strings.Repeat(fill, extra-left)
}

// strFormat is str.format for plain replacement fields: {}, {0}, {name},
// {name.attr} and {name[key]}, with !s and !r conversions.
func strFormat(s string, a *args) (any, error) {
	var b strings.Builder
	auto := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '}' {
			if i+1 < len(s) && s[i+1] == '}' {
				b.WriteByte('}')
				i++
				continue
			}
			return nil, errorf("single '}' encountered in format string")
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, errorf("single '{' encountered in format string")
		}
		field := s[i+1 : i+end]
		i += end
		conv := byte('s')
		if k := strings.IndexByte(field, '!'); k >= 0 {
			if k+2 != len(field) {
				return nil, errorf("unsupported format field {%s}", field)
			}
			conv = field[k+1]
			field = field[:k]
		}
		if strings.ContainsRune(field, ':') {
			return nil, errorf("format specs are not supported: {%s}", field)
		}
		name := field
		rest := ""
		if k := strings.IndexAny(field, ".["); k >= 0 {
			name, rest = field[:k], field[k:]
		}
		var v any
		switch {
		case name == "":
			if auto >= len(a.pos) {
				return nil, errorf("replacement index %d out of range for positional args tuple", auto)
			}
			v = a.pos[auto]
			auto++
		case name[0] >= '0' && name[0] <= '9':
			k := 0
			for _, d := range name {
				if d < '0' || d > '9' || k > 1<<20 {
					return nil, errorf("bad format field {%s}", field)
				}
				k = k*10 + int(d-'0')
			}
			if k >= len(a.pos) {
				return nil, errorf("replacement index %d out of range for positional args tuple", k)
			}
			v = a.pos[k]
		default:
			kv, ok := a.kwarg(name)
			if !ok {
				return nil, errorf("KeyError: %s", repr(name))
			}
			v = kv
		}
		for rest != "" {
			var err error
			if rest[0] == '.' {
				k := strings.IndexAny(rest[1:], ".[")
				if k < 0 {
					k = len(rest) - 1
				}
				v, err = getAttr(v, rest[1:1+k])
				rest = rest[1+k:]
			} else {
				k := strings.IndexByte(rest, ']')
				if k < 0 {
					return nil, errorf("missing ']' in format string")
				}
				key := rest[1:k]
				var kv any = key
				if n, ok := parseDecimal(key); ok {
					kv = n
				}
				v, err = getItem(v, kv)
				rest = rest[k+1:]
			}
			if err != nil {
				return nil, err
			}
		}
		switch conv {
		case 's':
			b.WriteString(str(v))
		case 'r':
			b.WriteString(repr(v))
		default:
			return nil, errorf("unknown conversion specifier %c", conv)
		}
		if err := checkSize(b.Len()); err != nil {
			return nil, err
		}
	}
	return b.String(), nil
}

func parseDecimal(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	n := int64(0)
	for _, d := range s {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int64(d-'0')
	}
	return n, true
}
