package chat

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Template values model Python's: nil is None, bool, int64 (int),
// float64 (float), string (str), []any (list), tuple, *dict (dict, which
// keeps insertion order), *namespace, undefined, and the callables
// *macro, *builtin and *loopCtx.
type (
	tuple []any

	// undefined is a missing variable, attribute or item. Printing it
	// gives "" and it is false, empty and iterable; most other uses fail
	// with its message.
	undefined struct{ msg string }

	namespace struct{ attrs *dict }

	// dictView is what a dict's keys(), values() and items() return:
	// iterable again and again, sized, but not indexable.
	dictView struct {
		kind  string // "keys", "values" or "items"
		items []any
	}

	// generator is the result of filters that Jinja2 writes as Python
	// generators, such as map and select: computed when first consumed
	// (errors included), consumed once, always true, with no length.
	generator struct {
		fn    func() ([]any, error)
		items []any
		err   error
		pos   int
	}

	builtin struct {
		name string
		fn   func(e *evaluator, a *args) (any, error)
	}
)

func lazy(fn func() ([]any, error)) *generator { return &generator{fn: fn} }

func (g *generator) force() error {
	if g.fn != nil {
		g.items, g.err = g.fn()
		g.fn = nil
	}
	return g.err
}

// rest consumes and returns the items not yet consumed.
func (g *generator) rest() ([]any, error) {
	if err := g.force(); err != nil {
		return nil, err
	}
	items := g.items[g.pos:]
	g.pos = len(g.items)
	return items, nil
}

// next consumes one item, reporting false at the end.
func (g *generator) next() (any, bool, error) {
	if err := g.force(); err != nil {
		return nil, false, err
	}
	if g.pos >= len(g.items) {
		return nil, false, nil
	}
	g.pos++
	return g.items[g.pos-1], true, nil
}

func undef(format string, args ...any) undefined {
	return undefined{msg: fmt.Sprintf(format, args...)}
}

func (u undefined) err() error { return &RenderError{Msg: u.msg} }

// RenderError reports a failure while rendering, such as a type error, an
// undefined value used in arithmetic, or raise_exception.
type RenderError struct {
	Line int
	Msg  string
}

func (e *RenderError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("chat: template line %d: %s", e.Line, e.Msg)
	}
	return "chat: " + e.Msg
}

func errorf(format string, args ...any) error {
	return &RenderError{Msg: fmt.Sprintf(format, args...)}
}

// dict is an insertion-ordered Python dict. Keys are None, bool, int64,
// float64 or string; numbers that compare equal are one key, as in Python.
type dict struct {
	keys []any
	vals map[any]any // by hashKey
}

func newDict() *dict { return &dict{vals: map[any]any{}} }

// hashKey maps equal Python keys to one Go map key.
func hashKey(k any) (any, error) {
	switch v := k.(type) {
	case nil, string, int64:
		return v, nil
	case bool:
		if v {
			return int64(1), nil
		}
		return int64(0), nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<62 {
			return int64(v), nil
		}
		return v, nil
	case undefined:
		return undefined{}, nil
	case *generator, *namespace, *loopCtx, *macro, *builtin:
		return v, nil // hashed by identity, as Python objects are
	}
	return nil, errorf("unhashable type: '%s'", typeName(k))
}

func (d *dict) get(k any) (any, bool) {
	h, err := hashKey(k)
	if err != nil {
		return nil, false
	}
	v, ok := d.vals[h]
	return v, ok
}

func (d *dict) set(k, v any) error {
	h, err := hashKey(k)
	if err != nil {
		return err
	}
	if _, ok := d.vals[h]; !ok {
		d.keys = append(d.keys, k)
	}
	d.vals[h] = v
	return nil
}

func (d *dict) len() int { return len(d.keys) }

// value returns the value of a key known to be present.
func (d *dict) value(k any) any { v, _ := d.get(k); return v }

func (d *dict) items() []any {
	out := make([]any, len(d.keys))
	for i, k := range d.keys {
		out[i] = tuple{k, d.value(k)}
	}
	return out
}

func (d *dict) copy() *dict {
	c := newDict()
	for _, k := range d.keys {
		c.set(k, d.value(k))
	}
	return c
}

// typeName is Python's type(v).__name__, for error messages.
func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case tuple:
		return "tuple"
	case *dict:
		return "dict"
	case *namespace:
		return "Namespace"
	case *generator:
		return "generator"
	case *dictView:
		return "dict_" + x.kind
	case undefined:
		return "Undefined"
	case *macro:
		return "Macro"
	case *loopCtx:
		return "LoopContext"
	}
	return "builtin_function_or_method"
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case tuple:
		return len(x) > 0
	case *dict:
		return x.len() > 0
	case *dictView:
		return len(x.items) > 0
	case undefined:
		return false
	}
	return true
}

// str is Python's str(v).
func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case undefined:
		return ""
	}
	return repr(v)
}

// repr is Python's repr(v).
func repr(v any) string {
	var b strings.Builder
	writeRepr(&b, v)
	return b.String()
}

func writeRepr(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(floatRepr(x))
	case string:
		writeStrRepr(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e)
		}
		b.WriteByte(']')
	case tuple:
		b.WriteByte('(')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e)
		}
		if len(x) == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
	case *dict:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, k)
			b.WriteString(": ")
			writeRepr(b, x.value(k))
		}
		b.WriteByte('}')
	case undefined:
		b.WriteString("Undefined")
	case *namespace:
		b.WriteString("<Namespace ")
		writeRepr(b, x.attrs)
		b.WriteByte('>')
	case *macro:
		fmt.Fprintf(b, "<Macro '%s'>", x.name)
	case *loopCtx:
		fmt.Fprintf(b, "<LoopContext %d/%d>", x.index0+1, len(x.items))
	case *builtin:
		fmt.Fprintf(b, "<built-in function %s>", x.name)
	case *generator:
		b.WriteString("<generator object>")
	case *dictView:
		b.WriteString("dict_" + x.kind + "(")
		writeRepr(b, x.items)
		b.WriteByte(')')
	default:
		fmt.Fprintf(b, "%v", x)
	}
}

// writeStrRepr quotes s as Python does: single quotes unless s contains a
// single quote and no double quote, printable characters kept as they are.
func writeStrRepr(b *strings.Builder, s string) {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError:
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, `\x%02x`, r)
		case r == ' ' || unicode.IsPrint(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			fmt.Fprintf(b, `\U%08x`, r)
		}
	}
	b.WriteByte(q)
}

// floatRepr formats f as Python's repr(float): the shortest digits that
// round-trip, positional between 1e-4 and 1e16, ".0" on whole numbers.
func floatRepr(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	if exp < -4 || exp >= 16 {
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		return fmt.Sprintf("%se%s%02d", mant, sign, exp)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// toInt returns v as a Python int if it is an int or a bool.
func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case int64:
		return x, true
	}
	return 0, false
}

func isNumber(v any) bool {
	switch v.(type) {
	case bool, int64, float64:
		return true
	}
	return false
}

// equal is Python's ==.
func equal(a, b any) bool {
	if isNumber(a) && isNumber(b) {
		ai, aok := toInt(a)
		bi, bok := toInt(b)
		if aok && bok {
			return ai == bi
		}
		af, _ := toFloat(a)
		bf, _ := toFloat(b)
		return af == bf
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		return ok && equalSeq(x, y)
	case tuple:
		y, ok := b.(tuple)
		return ok && equalSeq(x, y)
	case *dict:
		y, ok := b.(*dict)
		if !ok || x.len() != y.len() {
			return false
		}
		for _, k := range x.keys {
			w, ok := y.get(k)
			if !ok || !equal(x.value(k), w) {
				return false
			}
		}
		return true
	case undefined:
		_, ok := b.(undefined)
		return ok
	case *dictView:
		// Key and item views compare as sets; value views only to
		// themselves.
		y, ok := b.(*dictView)
		if !ok || x.kind != y.kind || x.kind == "values" {
			return x == y
		}
		if len(x.items) != len(y.items) {
			return false
		}
		for _, it := range x.items {
			if found, _ := contains(y, it); !found {
				return false
			}
		}
		return true
	}
	return a == b
}

func equalSeq(x, y []any) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !equal(x[i], y[i]) {
			return false
		}
	}
	return true
}

// compare orders a and b as Python's < does, or fails for types that have
// no order between them.
func compare(a, b any, op string) (int, error) {
	if u, ok := a.(undefined); ok {
		return 0, u.err()
	}
	if u, ok := b.(undefined); ok {
		return 0, u.err()
	}
	if isNumber(a) && isNumber(b) {
		ai, aok := toInt(a)
		bi, bok := toInt(b)
		if aok && bok {
			return cmpOrdered(ai, bi), nil
		}
		af, _ := toFloat(a)
		bf, _ := toFloat(b)
		return cmpOrdered(af, bf), nil
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	case []any:
		if y, ok := b.([]any); ok {
			return compareSeq(x, y, op)
		}
	case tuple:
		if y, ok := b.(tuple); ok {
			return compareSeq(x, y, op)
		}
	}
	return 0, errorf("'%s' not supported between instances of '%s' and '%s'", op, typeName(a), typeName(b))
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareSeq(x, y []any, op string) (int, error) {
	for i := 0; i < len(x) && i < len(y); i++ {
		if equal(x[i], y[i]) {
			continue
		}
		return compare(x[i], y[i], op)
	}
	return cmpOrdered(int64(len(x)), int64(len(y))), nil
}

// length is Python's len(v).
func length(v any) (int, error) {
	switch x := v.(type) {
	case string:
		return utf8.RuneCountInString(x), nil
	case []any:
		return len(x), nil
	case tuple:
		return len(x), nil
	case *dict:
		return x.len(), nil
	case undefined:
		return 0, nil
	case *loopCtx:
		return len(x.items), nil
	case *dictView:
		return len(x.items), nil
	}
	return 0, errorf("object of type '%s' has no len()", typeName(v))
}

// iterate lists the items a Python for loop over v would see.
func iterate(v any) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case tuple:
		return x, nil
	case string:
		out := make([]any, 0, len(x))
		for _, r := range x {
			out = append(out, string(r))
		}
		return out, nil
	case *dict:
		return append([]any(nil), x.keys...), nil
	case *generator:
		return x.rest()
	case *dictView:
		return x.items, nil
	case undefined:
		return nil, nil
	}
	return nil, errorf("'%s' object is not iterable", typeName(v))
}

// contains is Python's "item in container".
func contains(container, item any) (bool, error) {
	switch c := container.(type) {
	case string:
		s, ok := item.(string)
		if !ok {
			return false, errorf("'in <string>' requires string as left operand, not %s", typeName(item))
		}
		return strings.Contains(c, s), nil
	case *dict:
		if _, err := hashKey(item); err != nil {
			return false, err
		}
		_, ok := c.get(item)
		return ok, nil
	case undefined:
		return false, nil
	case *generator:
		for {
			x, ok, err := c.next()
			if err != nil || !ok {
				return false, err
			}
			if equal(x, item) {
				return true, nil
			}
		}
	}
	items, err := iterate(container)
	if err != nil {
		return false, errorf("argument of type '%s' is not iterable", typeName(container))
	}
	for _, x := range items {
		if equal(x, item) {
			return true, nil
		}
	}
	return false, nil
}

// maxString bounds the strings and lists a template may build, so that
// "x" * 10**12 fails instead of exhausting memory.
const maxString = 1 << 24

// maxItems bounds the lists a template may build by repetition.
const maxItems = 1 << 20

func checkSize(n int) error {
	if n > maxString || n < 0 {
		return errorf("result too large")
	}
	return nil
}

// binary applies an arithmetic operator with Python's semantics.
func binary(op string, a, b any) (any, error) {
	if u, ok := a.(undefined); ok {
		return nil, u.err()
	}
	if _, ok := a.(string); ok && op == "%" {
		return percentFormat(a.(string), b)
	}
	if u, ok := b.(undefined); ok {
		return nil, u.err()
	}
	if isNumber(a) && isNumber(b) {
		return arith(op, a, b)
	}
	switch op {
	case "+":
		switch x := a.(type) {
		case string:
			if y, ok := b.(string); ok {
				if err := checkSize(len(x) + len(y)); err != nil {
					return nil, err
				}
				return x + y, nil
			}
			return nil, errorf(`can only concatenate str (not "%s") to str`, typeName(b))
		case []any:
			if y, ok := b.([]any); ok {
				if len(x)+len(y) > maxItems {
					return nil, errorf("result too large")
				}
				return append(append(make([]any, 0, len(x)+len(y)), x...), y...), nil
			}
			return nil, errorf(`can only concatenate list (not "%s") to list`, typeName(b))
		case tuple:
			if y, ok := b.(tuple); ok {
				if len(x)+len(y) > maxItems {
					return nil, errorf("result too large")
				}
				return append(append(make(tuple, 0, len(x)+len(y)), x...), y...), nil
			}
			return nil, errorf(`can only concatenate tuple (not "%s") to tuple`, typeName(b))
		}
	case "*":
		if n, ok := toInt(b); ok {
			return repeat(a, n)
		}
		if n, ok := toInt(a); ok {
			return repeat(b, n)
		}
	}
	return nil, errorf("unsupported operand type(s) for %s: '%s' and '%s'", op, typeName(a), typeName(b))
}

func repeat(v any, n int64) (any, error) {
	n = max(n, 0)
	switch x := v.(type) {
	case string:
		if err := checkSize(len(x) * int(min(n, maxString+1))); err != nil && x != "" {
			return nil, err
		}
		return strings.Repeat(x, int(n)), nil
	case []any, tuple:
		items, _ := iterate(x)
		if len(items) > 0 && int64(len(items))*min(n, maxItems+1) > maxItems {
			return nil, errorf("result too large")
		}
		out := make([]any, 0, len(items)*int(n))
		for range n {
			out = append(out, items...)
		}
		if _, ok := x.(tuple); ok {
			return tuple(out), nil
		}
		return out, nil
	}
	return nil, errorf("can't multiply sequence by non-int of type '%s'", typeName(v))
}

func arith(op string, a, b any) (any, error) {
	ai, aInt := toInt(a)
	bi, bInt := toInt(b)
	af, _ := toFloat(a)
	bf, _ := toFloat(b)
	if aInt && bInt {
		switch op {
		case "+":
			if r := ai + bi; (r > ai) == (bi > 0) {
				return r, nil
			}
			return nil, errorf("integer overflow")
		case "-":
			if r := ai - bi; (r < ai) == (bi > 0) {
				return r, nil
			}
			return nil, errorf("integer overflow")
		case "*":
			if r, ok := mulInt(ai, bi); ok {
				return r, nil
			}
			return nil, errorf("integer overflow")
		case "//", "%":
			if bi == 0 {
				return nil, errorf("integer division or modulo by zero")
			}
			if ai == math.MinInt64 && bi == -1 {
				return nil, errorf("integer overflow")
			}
			q, r := ai/bi, ai%bi
			if r != 0 && (r < 0) != (bi < 0) {
				q--
				r += bi
			}
			if op == "//" {
				return q, nil
			}
			return r, nil
		case "**":
			if bi >= 0 {
				r, base, ok := int64(1), ai, true
				for e := bi; e > 0 && ok; e >>= 1 {
					if e&1 == 1 {
						r, ok = mulInt(r, base)
					}
					if e > 1 && ok {
						base, ok = mulInt(base, base)
					}
				}
				if !ok {
					return nil, errorf("integer overflow")
				}
				return r, nil
			}
		}
	}
	switch op {
	case "+":
		return af + bf, nil
	case "-":
		return af - bf, nil
	case "*":
		return af * bf, nil
	case "/":
		if bf == 0 {
			return nil, errorf("division by zero")
		}
		return af / bf, nil
	case "//", "%":
		if bf == 0 {
			return nil, errorf("float floor division by zero")
		}
		// CPython's float_divmod, signs of zero included.
		mod := math.Mod(af, bf)
		div := (af - mod) / bf
		if mod != 0 {
			if (bf < 0) != (mod < 0) {
				mod += bf
				div--
			}
		} else {
			mod = math.Copysign(0, bf)
		}
		if op == "%" {
			return mod, nil
		}
		if div == 0 {
			return math.Copysign(0, af/bf), nil
		}
		q := math.Floor(div)
		if div-q > 0.5 {
			q++
		}
		return q, nil
	case "**":
		if af == 0 && bf < 0 {
			return nil, errorf("0.0 cannot be raised to a negative power")
		}
		return math.Pow(af, bf), nil
	}
	return nil, errorf("unknown operator %s", op)
}

// mulInt multiplies, reporting whether the product fits an int64.
func mulInt(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	r := a * b
	if r/b != a || a == -1 && b == math.MinInt64 || b == -1 && a == math.MinInt64 {
		return 0, false
	}
	return r, true
}

// percentFormat is Python's "format % values" for the common conversions.
func percentFormat(format string, values any) (any, error) {
	var args []any
	var named *dict
	mapping := false // Python skips the unused-argument check for these
	switch x := values.(type) {
	case tuple:
		args = x
	case *dict:
		named, mapping = x, true
		args = []any{x}
	case []any, undefined:
		mapping = true
		args = []any{values}
	default:
		args = []any{values}
	}
	var b strings.Builder
	next := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return nil, errorf("incomplete format")
		}
		var arg any
		haveArg := false
		if format[i] == '(' {
			end := strings.IndexByte(format[i:], ')')
			if end < 0 || named == nil {
				return nil, errorf("format requires a mapping")
			}
			v, ok := named.get(format[i+1 : i+end])
			if !ok {
				return nil, errorf("KeyError: %s", repr(format[i+1:i+end]))
			}
			arg, haveArg = v, true
			i += end + 1
		}
		j := i
		for j < len(format) && strings.IndexByte("#0- +0123456789.", format[j]) >= 0 {
			j++
		}
		if j >= len(format) {
			return nil, errorf("incomplete format")
		}
		flags, verb := format[i:j], format[j]
		i = j
		if verb == '%' {
			b.WriteByte('%')
			continue
		}
		if !haveArg {
			if next >= len(args) {
				return nil, errorf("not enough arguments for format string")
			}
			arg = args[next]
			next++
		}
		switch verb {
		case 's':
			b.WriteString(fmt.Sprintf("%"+flags+"s", str(arg)))
		case 'r':
			b.WriteString(fmt.Sprintf("%"+flags+"s", repr(arg)))
		case 'd', 'i':
			f, ok := toFloat(arg)
			if !ok {
				return nil, errorf("%%d format: a real number is required, not %s", typeName(arg))
			}
			b.WriteString(fmt.Sprintf("%"+flags+"d", int64(f)))
		case 'f', 'F', 'e', 'E', 'g', 'G':
			f, ok := toFloat(arg)
			if !ok {
				return nil, errorf("must be real number, not %s", typeName(arg))
			}
			b.WriteString(fmt.Sprintf("%"+flags+string(verb), f))
		case 'x', 'X', 'o':
			n, ok := toInt(arg)
			if !ok {
				return nil, errorf("%%%c format: an integer is required, not %s", verb, typeName(arg))
			}
			b.WriteString(fmt.Sprintf("%"+flags+string(verb), n))
		default:
			return nil, errorf("unsupported format character '%c'", verb)
		}
	}
	if !mapping && next < len(args) {
		return nil, errorf("not all arguments converted during string formatting")
	}
	return b.String(), nil
}

// sortValues sorts items in place with Python's ordering.
func sortValues(items []any, key func(any) (any, error), reverse bool) error {
	keys := make([]any, len(items))
	for i, it := range items {
		k, err := key(it)
		if err != nil {
			return err
		}
		keys[i] = k
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	var err error
	sort.SliceStable(idx, func(i, j int) bool {
		c, e := compare(keys[idx[i]], keys[idx[j]], "<")
		if e != nil && err == nil {
			err = e
		}
		if reverse {
			return c > 0
		}
		return c < 0
	})
	if err != nil {
		return err
	}
	sorted := make([]any, len(items))
	for i, k := range idx {
		sorted[i] = items[k]
	}
	copy(items, sorted)
	return nil
}
