package chat

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

type filterFunc func(e *evaluator, v any, a *args) (any, error)

var filters map[string]filterFunc

func init() {
	// Assigned in init because map and select call back into the table.
	filters = map[string]filterFunc{
		"abs":         filterAbs,
		"attr":        filterAttr,
		"batch":       lazily(filterBatch),
		"capitalize":  strFilter(pyCapitalize),
		"center":      filterCenter,
		"count":       filterLength,
		"d":           filterDefault,
		"default":     filterDefault,
		"dictsort":    filterDictsort,
		"e":           filterEscape,
		"escape":      filterEscape,
		"first":       filterFirst,
		"float":       filterFloat,
		"forceescape": filterEscape,
		"format":      filterFormat,
		"indent":      filterIndent,
		"int":         filterInt,
		"items":       lazily(filterItems),
		"join":        filterJoin,
		"last":        filterLast,
		"length":      filterLength,
		"list":        filterList,
		"lower":       strFilter(strings.ToLower),
		"map":         lazily(filterMap),
		"max":         minMax(1),
		"min":         minMax(-1),
		"reject":      lazily(selectFilter(false, false)),
		"rejectattr":  lazily(selectFilter(false, true)),
		"replace":     filterReplace,
		"reverse":     filterReverse,
		"round":       filterRound,
		"safe":        func(_ *evaluator, v any, _ *args) (any, error) { return str(v), nil },
		"select":      lazily(selectFilter(true, false)),
		"selectattr":  lazily(selectFilter(true, true)),
		"slice":       lazily(filterSlice),
		"sort":        filterSort,
		"string":      func(_ *evaluator, v any, _ *args) (any, error) { return str(v), nil },
		"sum":         filterSum,
		"title":       strFilter(jinjaTitle),
		"tojson":      filterToJSON,
		"trim":        filterTrim,
		"truncate":    filterTruncate,
		"unique":      lazily(filterUnique),
		"upper":       strFilter(strings.ToUpper),
		"wordcount":   filterWordcount,
	}
}

func (e *evaluator) filter(name string, v any, a *args) (any, error) {
	f, ok := filters[name]
	if !ok {
		return nil, errorf("no filter named '%s'", name)
	}
	return f(e, v, a)
}

// applyFilters runs the filter chain of a filter or set block on v.
func (e *evaluator) applyFilters(f *filterExpr, v any, s *scope) (any, error) {
	if f.x != nil {
		inner, ok := f.x.(*filterExpr)
		if !ok {
			return nil, errorf("bad filter block")
		}
		var err error
		if v, err = e.applyFilters(inner, v, s); err != nil {
			return nil, err
		}
	}
	a, err := e.evalArgs(f.args, s)
	if err != nil {
		return nil, err
	}
	return e.filter(f.name, v, a)
}

// lazily wraps a filter that Jinja2 writes as a Python generator: its
// work, errors included, happens when the result is first consumed.
func lazily(f filterFunc) filterFunc {
	return func(e *evaluator, v any, a *args) (any, error) {
		return lazy(func() ([]any, error) {
			r, err := f(e, v, a)
			if err != nil {
				return nil, err
			}
			return r.([]any), nil
		}), nil
	}
}

func strFilter(f func(string) string) filterFunc {
	return func(_ *evaluator, v any, a *args) (any, error) {
		if _, err := a.bind("filter"); err != nil {
			return nil, err
		}
		return f(str(v)), nil
	}
}

// wordBeginning is Jinja2's [-\s({\[<]+ with Python's Unicode \s.
var wordBeginning = regexp.MustCompile(`[-\s\x0b\x1c-\x1f\x85\p{Z}({\[<]+`)

// jinjaTitle is Jinja2's title filter, which capitalizes each piece after
// a run of spaces, dashes or opening brackets (unlike str.title).
func jinjaTitle(s string) string {
	var b strings.Builder
	last := 0
	piece := func(p string) {
		if p == "" {
			return
		}
		r, n := utf8.DecodeRuneInString(p)
		b.WriteString(strings.ToUpper(string(r)))
		b.WriteString(strings.ToLower(p[n:]))
	}
	for _, m := range wordBeginning.FindAllStringIndex(s, -1) {
		piece(s[last:m[0]])
		b.WriteString(s[m[0]:m[1]])
		last = m[1]
	}
	piece(s[last:])
	return b.String()
}

func filterAbs(_ *evaluator, v any, a *args) (any, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case int64:
		if x == math.MinInt64 {
			return nil, errorf("integer overflow")
		}
		if x < 0 {
			return -x, nil
		}
		return x, nil
	case float64:
		return math.Abs(x), nil
	}
	return nil, errorf("bad operand type for abs(): '%s'", typeName(v))
}

func filterAttr(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("attr", "name")
	if err != nil {
		return nil, err
	}
	name, ok := p[0].(string)
	if !ok {
		return nil, errorf("attribute name must be a string")
	}
	if u, ok := v.(undefined); ok {
		return nil, u.err()
	}
	// Only real attributes count, not items.
	if m, ok := method(v, name); ok {
		return m, nil
	}
	switch x := v.(type) {
	case *namespace:
		return getAttr(x, name)
	case *loopCtx:
		return x.attr(name), nil
	}
	return undef("'%s object' has no attribute '%s'", typeName(v), name), nil
}

func filterBatch(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("batch", "linecount", "fill_with")
	if err != nil {
		return nil, err
	}
	n, ok := toInt(p[0])
	if !ok || n <= 0 {
		return nil, errorf("batch: linecount must be a positive integer")
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	var out []any
	for i := 0; i < len(items); i += int(n) {
		end := min(i+int(n), len(items))
		row := append([]any(nil), items[i:end]...)
		if end-i < int(n) && p[1] != missing && p[1] != nil {
			for len(row) < int(n) {
				row = append(row, p[1])
			}
		}
		out = append(out, row)
	}
	return out, nil
}

func filterCenter(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("center", "width")
	if err != nil {
		return nil, err
	}
	w := int64(80)
	if p[0] != missing {
		var ok bool
		if w, ok = toInt(p[0]); !ok {
			return nil, errorf("center: width must be an integer")
		}
	}
	return pad(str(v), "center", int(min(w, maxString)), " "), nil
}

func filterLength(_ *evaluator, v any, a *args) (any, error) {
	n, err := length(v)
	return int64(n), err
}

func filterDefault(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("default", "default_value", "boolean")
	if err != nil {
		return nil, err
	}
	def := p[0]
	if def == missing {
		def = ""
	}
	_, isUndef := v.(undefined)
	if isUndef || p[1] != missing && truthy(p[1]) && !truthy(v) {
		return def, nil
	}
	return v, nil
}

// ignoreCase lower-cases strings for case-insensitive sorting.
func ignoreCase(v any) any {
	if s, ok := v.(string); ok {
		return strings.ToLower(s)
	}
	return v
}

func filterDictsort(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("dictsort", "case_sensitive", "by", "reverse")
	if err != nil {
		return nil, err
	}
	d, ok := v.(*dict)
	if !ok {
		return nil, errorf("dictsort: '%s' object has no attribute 'items'", typeName(v))
	}
	pos := 0
	if p[1] != missing {
		switch p[1] {
		case "key":
		case "value":
			pos = 1
		default:
			return nil, errorf(`you can only sort by either "key" or "value"`)
		}
	}
	cs := p[0] != missing && truthy(p[0])
	items := d.items()
	err = sortValues(items, func(it any) (any, error) {
		k := it.(tuple)[pos]
		if !cs {
			k = ignoreCase(k)
		}
		return k, nil
	}, p[2] != missing && truthy(p[2]))
	return items, err
}

// htmlEscaper escapes as markupsafe does, with numeric quote entities.
var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")

func filterEscape(_ *evaluator, v any, a *args) (any, error) {
	return htmlEscaper.Replace(str(v)), nil
}

func filterFirst(_ *evaluator, v any, a *args) (any, error) {
	if g, ok := v.(*generator); ok {
		x, ok, err := g.next()
		if err != nil || ok {
			return x, err
		}
		return undef("No first item, sequence was empty."), nil
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return undef("No first item, sequence was empty."), nil
	}
	return items[0], nil
}

func filterLast(_ *evaluator, v any, a *args) (any, error) {
	if _, ok := v.(*generator); ok {
		return nil, errorf("'generator' object is not reversible")
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return undef("No last item, sequence was empty."), nil
	}
	return items[len(items)-1], nil
}

// parsePyFloat parses a string as Python's float() does.
func parsePyFloat(s string) (float64, bool) {
	s = strings.TrimFunc(s, isSpace)
	t := strings.ToLower(strings.TrimLeft(s, "+-"))
	switch t {
	case "inf", "infinity", "nan":
	default:
		if strings.HasPrefix(t, "0x") || strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") || strings.Contains(s, "__") {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	return f, true
}

func filterFloat(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("float", "default")
	if err != nil {
		return nil, err
	}
	def := p[0]
	if def == missing {
		def = 0.0
	}
	switch x := v.(type) {
	case undefined:
		return nil, x.err()
	case bool, int64, float64:
		f, _ := toFloat(x)
		return f, nil
	case string:
		if f, ok := parsePyFloat(x); ok {
			return f, nil
		}
	}
	return def, nil
}

func filterInt(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("int", "default", "base")
	if err != nil {
		return nil, err
	}
	def := p[0]
	if def == missing {
		def = int64(0)
	}
	base := int64(10)
	if p[1] != missing {
		var ok bool
		if base, ok = toInt(p[1]); !ok {
			return def, nil
		}
	}
	switch x := v.(type) {
	case undefined:
		return nil, x.err()
	case bool, int64:
		n, _ := toInt(x)
		return n, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return def, nil
		}
		if math.Abs(x) >= 1<<63 {
			return nil, errorf("int: %s does not fit a 64-bit integer", floatRepr(x))
		}
		return int64(x), nil
	case string:
		t := strings.TrimFunc(x, isSpace)
		if base >= 2 && base <= 36 || base == 0 {
			u := strings.ReplaceAll(t, "_", "")
			if base == 0 || base == 16 || base == 8 || base == 2 {
				// Python accepts the matching prefix in these bases.
				neg := strings.HasPrefix(u, "-")
				digits := strings.TrimLeft(u, "+-")
				if len(digits) > 2 && digits[0] == '0' {
					switch digits[1] | 0x20 {
					case 'x', 'o', 'b':
						pb := map[byte]int64{'x': 16, 'o': 8, 'b': 2}[digits[1]|0x20]
						if base == 0 || base == pb {
							base, digits = pb, digits[2:]
						}
					}
				}
				if base == 0 {
					base = 10
				}
				u = digits
				if neg {
					u = "-" + u
				}
			}
			if t != "" && !strings.HasPrefix(t, "_") && !strings.HasSuffix(t, "_") && !strings.Contains(t, "__") {
				if n, err := strconv.ParseInt(u, int(base), 64); err == nil {
					return n, nil
				}
			}
		}
		if f, ok := parsePyFloat(x); ok && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 1<<63 {
			return int64(f), nil
		}
	}
	return def, nil
}

func filterItems(_ *evaluator, v any, a *args) (any, error) {
	switch x := v.(type) {
	case undefined:
		return []any{}, nil
	case *dict:
		return x.items(), nil
	}
	return nil, errorf("can only get item pairs from a mapping")
}

// attrGetter follows a dotted attribute path such as "function.name",
// where numeric parts index.
func attrGetter(attr any, def any) (func(any) (any, error), error) {
	var parts []any
	switch x := attr.(type) {
	case nil, missingT:
	case string:
		for _, p := range strings.Split(x, ".") {
			if n, ok := parseDecimal(p); ok {
				parts = append(parts, n)
			} else {
				parts = append(parts, p)
			}
		}
	default:
		parts = []any{attr}
	}
	return func(v any) (any, error) {
		for _, p := range parts {
			var err error
			if v, err = getItem(v, p); err != nil {
				return nil, err
			}
			if _, ok := v.(undefined); ok && def != nil && def != missing {
				v = def
			}
		}
		return v, nil
	}, nil
}

func filterJoin(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("join", "d", "attribute")
	if err != nil {
		return nil, err
	}
	sep := ""
	if p[0] != missing {
		sep = str(p[0])
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	get, _ := attrGetter(p[1], nil)
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteString(sep)
		}
		x, err := get(it)
		if err != nil {
			return nil, err
		}
		b.WriteString(str(x))
		if err := checkSize(b.Len()); err != nil {
			return nil, err
		}
	}
	return b.String(), nil
}

func filterList(_ *evaluator, v any, a *args) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	return append([]any{}, items...), nil
}

func filterMap(e *evaluator, v any, a *args) (any, error) {
	// Jinja2 maps nothing over a false value without iterating it.
	if !truthy(v) {
		return []any{}, nil
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	var fn func(any) (any, error)
	if attr, ok := a.kwarg("attribute"); ok && len(a.pos) == 0 {
		def, _ := a.kwarg("default")
		for _, n := range a.names {
			if n != "attribute" && n != "default" {
				return nil, errorf("unexpected keyword argument '%s'", n)
			}
		}
		fn, _ = attrGetter(attr, def)
	} else {
		if len(a.pos) == 0 {
			return nil, errorf("map requires a filter argument")
		}
		name, ok := a.pos[0].(string)
		if !ok {
			return nil, errorf("map: filter name must be a string")
		}
		rest := &args{pos: a.pos[1:], names: a.names, kw: a.kw}
		fn = func(x any) (any, error) { return e.filter(name, x, rest) }
	}
	out := make([]any, 0, len(items))
	for _, it := range items {
		x, err := fn(it)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

func minMax(sign int) filterFunc {
	return func(_ *evaluator, v any, a *args) (any, error) {
		p, err := a.bind("min", "case_sensitive", "attribute")
		if err != nil {
			return nil, err
		}
		items, err := iterate(v)
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return undef("No aggregated item, sequence was empty."), nil
		}
		get, _ := attrGetter(p[1], nil)
		cs := p[0] != missing && truthy(p[0])
		key := func(x any) (any, error) {
			k, err := get(x)
			if err == nil && !cs {
				k = ignoreCase(k)
			}
			return k, err
		}
		best := items[0]
		bk, err := key(best)
		if err != nil {
			return nil, err
		}
		for _, it := range items[1:] {
			k, err := key(it)
			if err != nil {
				return nil, err
			}
			c, err := compare(k, bk, "<")
			if err != nil {
				return nil, err
			}
			if c*sign > 0 {
				best, bk = it, k
			}
		}
		return best, nil
	}
}

// selectFilter builds select, reject, selectattr and rejectattr.
func selectFilter(keep, byAttr bool) filterFunc {
	return func(e *evaluator, v any, a *args) (any, error) {
		if !truthy(v) {
			return []any{}, nil
		}
		items, err := iterate(v)
		if err != nil {
			return nil, err
		}
		pos := a.pos
		get := func(x any) (any, error) { return x, nil }
		if byAttr {
			if len(pos) == 0 {
				return nil, errorf("missing parameter for attribute name")
			}
			get, _ = attrGetter(pos[0], nil)
			pos = pos[1:]
		}
		test := func(x any) (bool, error) { return truthy(x), nil }
		if len(pos) > 0 {
			name, ok := pos[0].(string)
			if !ok {
				return nil, errorf("test name must be a string")
			}
			rest := &args{pos: pos[1:], names: a.names, kw: a.kw}
			test = func(x any) (bool, error) { return e.test(name, x, rest) }
		}
		var out []any
		for _, it := range items {
			x, err := get(it)
			if err != nil {
				return nil, err
			}
			ok, err := test(x)
			if err != nil {
				return nil, err
			}
			if ok == keep {
				out = append(out, it)
			}
		}
		return out, nil
	}
}

func filterReplace(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("replace", "old", "new", "count")
	if err != nil {
		return nil, err
	}
	if p[0] == missing || p[1] == missing {
		return nil, errorf("replace() missing required arguments")
	}
	n, err := optInt(p[2], -1, "replace")
	if err != nil {
		return nil, err
	}
	return pyReplace(str(v), str(p[0]), str(p[1]), n)
}

func filterReverse(_ *evaluator, v any, a *args) (any, error) {
	if s, ok := v.(string); ok {
		r := []rune(s)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r), nil
	}
	reversible := false
	switch v.(type) {
	case []any, tuple, *dict, *dictView, undefined: // Undefined has __len__ and __getitem__
		reversible = true
	}
	items, err := iterate(v)
	if err != nil {
		return nil, errorf("argument must be iterable")
	}
	out := make([]any, len(items))
	for i, it := range items {
		out[len(items)-1-i] = it
	}
	if reversible {
		// reversed() gives a one-use iterator; other iterables a list.
		return &generator{items: out}, nil
	}
	return out, nil
}

func filterRound(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("round", "precision", "method")
	if err != nil {
		return nil, err
	}
	prec, err := optInt(p[0], 0, "round")
	if err != nil {
		return nil, err
	}
	method := "common"
	if p[1] != missing {
		method, _ = p[1].(string)
	}
	if i, ok := toInt(v); ok && method == "common" {
		return i, nil // Python's round of an int is the int
	}
	f, ok := toFloat(v)
	if !ok {
		return nil, errorf("type %s doesn't define __round__ method", typeName(v))
	}
	scale := math.Pow(10, float64(prec))
	switch method {
	case "common":
		if prec > 300 || prec < -300 || math.IsInf(f, 0) || math.IsNaN(f) {
			return f, nil
		}
		if prec >= 0 {
			// FormatFloat rounds the exact binary value half to even, as
			// Python's correctly rounded round() does.
			r, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', int(prec), 64), 64)
			return r, nil
		}
		return math.RoundToEven(f/scale) * scale, nil
	case "ceil":
		return math.Ceil(f*scale) / scale, nil
	case "floor":
		return math.Floor(f*scale) / scale, nil
	}
	return nil, errorf("method must be common, ceil or floor")
}

func filterSlice(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("slice", "slices", "fill_with")
	if err != nil {
		return nil, err
	}
	n, ok := toInt(p[0])
	if !ok || n <= 0 || n > maxString {
		return nil, errorf("slice: slices must be a positive integer")
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	per, extra := len(items)/int(n), len(items)%int(n)
	offset := 0
	var out []any
	for i := range int(n) {
		start := offset + i*per
		if i < extra {
			offset++
		}
		end := offset + (i+1)*per
		row := append([]any{}, items[start:end]...)
		if p[1] != missing && p[1] != nil && i >= extra {
			row = append(row, p[1])
		}
		out = append(out, row)
	}
	return out, nil
}

func filterSort(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("sort", "reverse", "case_sensitive", "attribute")
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	items = append([]any{}, items...)
	var getters []func(any) (any, error)
	if s, ok := p[2].(string); ok {
		for _, part := range strings.Split(s, ",") {
			g, _ := attrGetter(part, nil)
			getters = append(getters, g)
		}
	} else {
		g, _ := attrGetter(p[2], nil)
		getters = append(getters, g)
	}
	cs := p[1] != missing && truthy(p[1])
	err = sortValues(items, func(x any) (any, error) {
		key := make([]any, len(getters))
		for i, g := range getters {
			k, err := g(x)
			if err != nil {
				return nil, err
			}
			if !cs {
				k = ignoreCase(k)
			}
			key[i] = k
		}
		return key, nil
	}, p[0] != missing && truthy(p[0]))
	return items, err
}

func filterSum(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("sum", "attribute", "start")
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	var total any = int64(0)
	if p[1] != missing {
		total = p[1]
	}
	get, _ := attrGetter(p[0], nil)
	for _, it := range items {
		x, err := get(it)
		if err != nil {
			return nil, err
		}
		if _, ok := x.(string); ok {
			return nil, errorf("unsupported operand type(s) for +: '%s' and 'str'", typeName(total))
		}
		if total, err = binary("+", total, x); err != nil {
			return nil, err
		}
	}
	return total, nil
}

func filterTrim(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("trim", "chars")
	if err != nil {
		return nil, err
	}
	chars, has, err := optString(p[0], "strip")
	if err != nil {
		return nil, err
	}
	return pyStrip(str(v), "strip", chars, has), nil
}

func filterTruncate(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("truncate", "length", "killwords", "end", "leeway")
	if err != nil {
		return nil, err
	}
	n, err := optInt(p[0], 255, "truncate")
	if err != nil {
		return nil, err
	}
	end := "..."
	if p[2] != missing {
		end = str(p[2])
	}
	leeway, err := optInt(p[3], 5, "truncate")
	if err != nil {
		return nil, err
	}
	endLen := int64(utf8.RuneCountInString(end))
	if n < endLen || leeway < 0 {
		return nil, errorf("truncate: expected length >= %d and leeway >= 0", endLen)
	}
	text, ok := v.(string)
	if !ok {
		// Jinja2 measures the value itself; only a str can be cut.
		l, err := length(v)
		if err != nil {
			return nil, err
		}
		if int64(l) <= n+leeway {
			return v, nil
		}
		return nil, errorf("truncate: cannot cut a %s", typeName(v))
	}
	s := []rune(text)
	if int64(len(s)) <= n+leeway {
		return string(s), nil
	}
	head := string(s[:n-endLen])
	if p[1] != missing && truthy(p[1]) {
		return head + end, nil
	}
	if i := strings.LastIndexByte(head, ' '); i >= 0 {
		head = head[:i]
	}
	return head + end, nil
}

func filterUnique(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("unique", "case_sensitive", "attribute")
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	get, _ := attrGetter(p[1], nil)
	cs := p[0] != missing && truthy(p[0])
	seen := newDict()
	var out []any
	for _, it := range items {
		k, err := get(it)
		if err != nil {
			return nil, err
		}
		if !cs {
			k = ignoreCase(k)
		}
		if _, err := hashKey(k); err != nil {
			return nil, err
		}
		if _, ok := seen.get(k); !ok {
			seen.set(k, true)
			out = append(out, it)
		}
	}
	return out, nil
}

var wordRe = regexp.MustCompile(`[\p{L}\p{N}_]+`)

func filterWordcount(_ *evaluator, v any, a *args) (any, error) {
	return int64(len(wordRe.FindAllStringIndex(str(v), -1))), nil
}

func filterFormat(_ *evaluator, v any, a *args) (any, error) {
	if len(a.pos) > 0 && len(a.names) > 0 {
		return nil, errorf("can't handle positional and keyword arguments at the same time")
	}
	if len(a.names) > 0 {
		d := newDict()
		for i, n := range a.names {
			d.set(n, a.kw[i])
		}
		return percentFormat(str(v), d)
	}
	return percentFormat(str(v), tuple(a.pos))
}

func filterIndent(_ *evaluator, v any, a *args) (any, error) {
	p, err := a.bind("indent", "width", "first", "blank")
	if err != nil {
		return nil, err
	}
	ind := "    "
	switch w := p[0].(type) {
	case missingT:
	case string:
		ind = w
	default:
		n, ok := toInt(w)
		if !ok {
			return nil, errorf("indent: width must be an integer or a string")
		}
		ind = strings.Repeat(" ", int(max(min(n, 1<<16), 0)))
	}
	text, ok := v.(string)
	if !ok {
		// Jinja2 appends "\n" to the value itself, which only a str allows.
		if u, isU := v.(undefined); isU {
			return nil, u.err()
		}
		return nil, errorf("indent: unsupported operand type(s) for +=: '%s' and 'str'", typeName(v))
	}
	first := p[1] != missing && truthy(p[1])
	blank := p[2] != missing && truthy(p[2])
	// Like Jinja2, append a newline so that a trailing newline's empty
	// line is kept by splitlines.
	lines := splitLines(text+"\n", false)
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
			if blank || l != "" {
				b.WriteString(ind)
			}
		}
		b.WriteString(l)
		if err := checkSize(b.Len()); err != nil {
			return nil, err
		}
	}
	out := b.String()
	if first {
		out = ind + out
	}
	return out, nil
}

// Tests.

func (e *evaluator) test(name string, v any, a *args) (bool, error) {
	arg := func() (any, error) {
		if len(a.pos) != 1 {
			return nil, errorf("test '%s' takes one argument", name)
		}
		return a.pos[0], nil
	}
	switch name {
	case "defined", "undefined", "none", "boolean", "true", "false", "integer", "float", "number",
		"string", "mapping", "sequence", "iterable", "callable", "lower", "upper", "escaped", "odd",
		"even", "filter", "test":
		if len(a.pos)+len(a.names) > 0 {
			return false, errorf("test '%s' takes no arguments", name)
		}
	}
	switch name {
	case "defined":
		_, ok := v.(undefined)
		return !ok, nil
	case "undefined":
		_, ok := v.(undefined)
		return ok, nil
	case "none":
		return v == nil, nil
	case "boolean":
		_, ok := v.(bool)
		return ok, nil
	case "true":
		return v == true, nil
	case "false":
		return v == false, nil
	case "integer":
		_, ok := v.(int64)
		return ok, nil
	case "float":
		_, ok := v.(float64)
		return ok, nil
	case "number":
		return isNumber(v), nil
	case "string":
		_, ok := v.(string)
		return ok, nil
	case "mapping":
		_, ok := v.(*dict)
		return ok, nil
	case "sequence":
		switch v.(type) {
		case string, []any, tuple, *dict:
			return true, nil
		}
		return false, nil
	case "iterable":
		switch v.(type) {
		case string, []any, tuple, *dict, *dictView, *generator, undefined:
			return true, nil
		}
		return false, nil
	case "callable":
		switch v.(type) {
		case *macro, *builtin, *loopCtx, undefined: // Undefined defines __call__
			return true, nil
		}
		return false, nil
	case "lower":
		s := str(v)
		return hasCased(s) && strings.ToLower(s) == s, nil
	case "upper":
		s := str(v)
		return hasCased(s) && strings.ToUpper(s) == s, nil
	case "escaped":
		return false, nil
	case "odd", "even":
		r, err := binary("%", v, int64(2))
		if err != nil {
			return false, err
		}
		if name == "odd" {
			return equal(r, int64(1)), nil
		}
		return equal(r, int64(0)), nil
	case "divisibleby":
		d, err := arg()
		if err != nil {
			return false, err
		}
		r, err := binary("%", v, d)
		if err != nil {
			return false, err
		}
		return equal(r, int64(0)), nil
	case "filter":
		n, _ := v.(string)
		_, ok := filters[n]
		return ok, nil
	case "test":
		n, _ := v.(string)
		switch n {
		case "defined", "undefined", "none", "boolean", "true", "false", "integer", "float",
			"number", "string", "mapping", "sequence", "iterable", "callable", "lower", "upper",
			"escaped", "odd", "even", "divisibleby", "filter", "test", "sameas", "in",
			"==", "eq", "equalto", "!=", "ne", ">", "gt", "greaterthan", ">=", "ge", "<", "lt", "lessthan", "<=", "le":
			return true, nil
		}
		return false, nil
	case "sameas":
		o, err := arg()
		if err != nil {
			return false, err
		}
		return sameAs(v, o), nil
	case "in":
		o, err := arg()
		if err != nil {
			return false, err
		}
		return contains(o, v)
	}
	ops := map[string]string{
		"==": "==", "eq": "==", "equalto": "==", "!=": "!=", "ne": "!=",
		">": ">", "gt": ">", "greaterthan": ">", ">=": ">=", "ge": ">=",
		"<": "<", "lt": "<", "lessthan": "<", "<=": "<=", "le": "<=",
	}
	if op, ok := ops[name]; ok {
		o, err := arg()
		if err != nil {
			return false, err
		}
		return compareOp(op, v, o)
	}
	return false, errorf("no test named '%s' found", name)
}

// sameAs approximates Python's "is": singletons and equal scalars are the
// same object, containers only if they are one value.
func sameAs(a, b any) bool {
	switch x := a.(type) {
	case nil, bool:
		return a == b
	case int64, float64, string:
		return a == b
	case *dict:
		y, ok := b.(*dict)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		return ok && len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
	}
	return false
}
