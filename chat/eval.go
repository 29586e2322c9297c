package chat

import (
	"errors"
	"strings"
	"time"
	"unicode/utf8"
)

// maxCalls bounds nested macro calls, as Python's recursion limit does.
const maxCalls = 100

// maxSteps bounds the statements and loop iterations one rendering may
// run, so that a hostile template fails instead of running for hours;
// real chat templates use a tiny fraction of it.
const maxSteps = 1 << 24

var (
	errBreak    = errors.New("break outside loop")
	errContinue = errors.New("continue outside loop")
)

// scope holds the variables of one template, macro call, loop iteration
// or with block; lookups fall through to the parent.
type scope struct {
	vars   map[string]any
	parent *scope
}

func newScope(parent *scope) *scope { return &scope{vars: map[string]any{}, parent: parent} }

func (s *scope) lookup(name string) (any, bool) {
	for ; s != nil; s = s.parent {
		if v, ok := s.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

type macro struct {
	name     string
	params   []string
	defaults []expr
	body     []node
	unset    []string // see markFrames
	scope    *scope   // where it was defined; seen at call time
	caller   bool     // a call block's body, which receives no caller itself
}

// loopCtx is the "loop" variable of a for loop.
type loopCtx struct {
	items   []any
	index0  int
	depth0  int
	changed any // last value passed to loop.changed
	hasLast bool
	recurse func(items any, depth0 int) (any, error) // for recursive loops
}

// args are evaluated call arguments.
type args struct {
	pos   []any
	names []string
	kw    []any
}

func (a *args) kwarg(name string) (any, bool) {
	for i, n := range a.names {
		if n == name {
			return a.kw[i], true
		}
	}
	return nil, false
}

// missing marks a parameter that was not passed.
type missingT struct{}

var missing = missingT{}

// bind matches arguments to parameters as a Python call does, leaving
// missing in the slots of parameters that were not passed.
func (a *args) bind(fn string, params ...string) ([]any, error) {
	if len(a.pos) > len(params) {
		return nil, errorf("%s() takes at most %d arguments (%d given)", fn, len(params), len(a.pos))
	}
	out := make([]any, len(params))
	for i := range out {
		out[i] = missing
	}
	copy(out, a.pos)
	for i, n := range a.names {
		j := -1
		for k, p := range params {
			if p == n {
				j = k
				break
			}
		}
		if j < 0 {
			return nil, errorf("%s() got an unexpected keyword argument '%s'", fn, n)
		}
		if out[j] != missing {
			return nil, errorf("%s() got multiple values for argument '%s'", fn, n)
		}
		out[j] = a.kw[i]
	}
	return out, nil
}

type evaluator struct {
	out      *strings.Builder
	calls    int
	steps    int
	maxSteps int
	now      func() time.Time
	folding  bool // evaluating constants while parsing; see fold.go
}

func (e *evaluator) step() error {
	if e.steps++; e.steps > e.maxSteps {
		return errorf("template runs too long (over %d steps)", e.maxSteps)
	}
	return nil
}

func (e *evaluator) write(s string) error {
	if e.out.Len()+len(s) > maxString {
		return errorf("output too large")
	}
	e.out.WriteString(s)
	return nil
}

// lineErr attaches a template line to an error that lacks one.
func lineErr(err error, line int) error {
	var re *RenderError
	if errors.As(err, &re) && re.Line == 0 {
		re.Line = line
	}
	return err
}

func (e *evaluator) execBody(body []node, s *scope) error {
	for _, n := range body {
		if err := e.exec(n, s); err != nil {
			return err
		}
	}
	return nil
}

func (e *evaluator) exec(n node, s *scope) error {
	if err := e.step(); err != nil {
		return err
	}
	switch n := n.(type) {
	case *textNode:
		return e.write(n.text)
	case *outputNode:
		v, err := e.eval(n.x, s)
		if err != nil {
			return err
		}
		return e.write(str(v))
	case *ifNode:
		for i, c := range n.conds {
			v, err := e.eval(c, s)
			if err != nil {
				return err
			}
			if truthy(v) {
				return e.execBody(n.bodys[i], s)
			}
		}
		return e.execBody(n.els, s)
	case *forNode:
		v, err := e.eval(n.iter, s)
		if err != nil {
			return err
		}
		_, err = e.loop(n, v, s, 0)
		return err
	case *setNode:
		v, err := e.eval(n.x, s)
		if err != nil {
			return err
		}
		return lineErr(e.assign(n.target, v, s), n.line)
	case *setBlockNode:
		inner := newScope(s)
		markUnset(inner, n.unset)
		text, err := e.capture(n.body, inner)
		if err != nil {
			return err
		}
		var v any = text
		if n.filter != nil {
			if v, err = e.applyFilters(n.filter, v, s); err != nil {
				return err
			}
		}
		return lineErr(e.assign(n.target, v, s), n.line)
	case *macroNode:
		s.vars[n.name] = &macro{name: n.name, params: n.params, defaults: n.defaults, body: n.body, unset: n.unset, scope: s}
		return nil
	case *callBlockNode:
		caller := &macro{name: "caller", params: n.params, defaults: n.defaults, body: n.body, unset: n.unset, scope: s, caller: true}
		fn, err := e.eval(n.call.fn, s)
		if err != nil {
			return err
		}
		a, err := e.evalArgs(n.call.args, s)
		if err != nil {
			return err
		}
		a.names = append(a.names, "caller")
		a.kw = append(a.kw, caller)
		v, err := e.call(fn, a)
		if err != nil {
			return lineErr(err, n.line)
		}
		return e.write(str(v))
	case *filterBlockNode:
		inner := newScope(s)
		markUnset(inner, n.unset)
		text, err := e.capture(n.body, inner)
		if err != nil {
			return err
		}
		v, err := e.applyFilters(n.filter, text, s)
		if err != nil {
			return err
		}
		return e.write(str(v))
	case *withNode:
		inner := newScope(s)
		markUnset(inner, n.unset)
		for i, t := range n.targets {
			// Values see the enclosing scope, not earlier targets.
			v, err := e.eval(n.values[i], s)
			if err != nil {
				return err
			}
			if err := e.assign(t, v, inner); err != nil {
				return lineErr(err, n.line)
			}
		}
		return e.execBody(n.body, inner)
	case *loopControlNode:
		if n.brk {
			return errBreak
		}
		return errContinue
	case *scopeNode:
		inner := newScope(s)
		markUnset(inner, n.unset)
		return e.execBody(n.body, inner)
	}
	return errorf("unknown statement %T", n)
}

// capture renders body into a string instead of the output.
func (e *evaluator) capture(body []node, s *scope) (string, error) {
	saved := e.out
	var b strings.Builder
	e.out = &b
	err := e.execBody(body, s)
	e.out = saved
	if err != nil {
		return "", err
	}
	if saved.Len()+b.Len() > maxString {
		return "", errorf("output too large")
	}
	return b.String(), nil
}

// loop runs a for loop over v; recursive loops call it again through
// loop(...) with a deeper depth and return the text they render.
func (e *evaluator) loop(n *forNode, v any, s *scope, depth0 int) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, lineErr(err, n.line)
	}
	if n.filter != nil {
		var kept []any
		for _, it := range items {
			if err := e.step(); err != nil {
				return nil, err
			}
			inner := newScope(s)
			if err := e.assign(n.target, it, inner); err != nil {
				return nil, lineErr(err, n.line)
			}
			ok, err := e.eval(n.filter, inner)
			if err != nil {
				return nil, err
			}
			if truthy(ok) {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	if len(items) == 0 {
		inner := newScope(s)
		markUnset(inner, n.elseUnset)
		return "", e.execBody(n.els, inner)
	}
	lc := &loopCtx{items: items, depth0: depth0}
	if n.recursive {
		lc.recurse = func(v any, d int) (any, error) {
			if e.calls++; e.calls > maxCalls {
				return nil, errorf("maximum recursion depth exceeded")
			}
			defer func() { e.calls-- }()
			saved := e.out
			var b strings.Builder
			e.out = &b
			_, err := e.loop(n, v, s, d)
			e.out = saved
			return b.String(), err
		}
	}
	for i, it := range items {
		if err := e.step(); err != nil {
			return nil, err
		}
		lc.index0 = i
		inner := newScope(s)
		markUnset(inner, n.unset)
		if err := e.assign(n.target, it, inner); err != nil {
			return nil, lineErr(err, n.line)
		}
		inner.vars["loop"] = lc
		err := e.execBody(n.body, inner)
		if err == errBreak {
			break
		}
		if err != nil && err != errContinue {
			return nil, err
		}
	}
	return "", nil
}

// assign binds a set, for or with target.
func (e *evaluator) assign(target expr, v any, s *scope) error {
	switch t := target.(type) {
	case *nameExpr:
		s.vars[t.name] = v
		return nil
	case *nsRefExpr:
		ns, _ := s.lookup(t.name)
		n, ok := ns.(*namespace)
		if !ok {
			return errorf("cannot assign attribute on non-namespace object")
		}
		return n.attrs.set(t.attr, v)
	case *tupleExpr:
		items, err := iterate(v)
		if err != nil {
			return errorf("cannot unpack non-iterable %s object", typeName(v))
		}
		if len(items) != len(t.items) {
			if len(items) > len(t.items) {
				return errorf("too many values to unpack (expected %d)", len(t.items))
			}
			return errorf("not enough values to unpack (expected %d, got %d)", len(t.items), len(items))
		}
		for i, x := range t.items {
			if err := e.assign(x, items[i], s); err != nil {
				return err
			}
		}
		return nil
	}
	return errorf("cannot assign to %T", target)
}

func (e *evaluator) evalArgs(c callArgs, s *scope) (*args, error) {
	a := &args{}
	for _, x := range c.pos {
		v, err := e.eval(x, s)
		if err != nil {
			return nil, err
		}
		a.pos = append(a.pos, v)
	}
	if c.star != nil {
		v, err := e.eval(c.star, s)
		if err != nil {
			return nil, err
		}
		items, err := iterate(v)
		if err != nil {
			return nil, err
		}
		a.pos = append(a.pos, items...)
	}
	for i, x := range c.kw {
		v, err := e.eval(x, s)
		if err != nil {
			return nil, err
		}
		a.names = append(a.names, c.names[i])
		a.kw = append(a.kw, v)
	}
	if c.dstar != nil {
		v, err := e.eval(c.dstar, s)
		if err != nil {
			return nil, err
		}
		d, ok := v.(*dict)
		if !ok {
			return nil, errorf("argument after ** must be a mapping, not %s", typeName(v))
		}
		for _, k := range d.keys {
			ks, ok := k.(string)
			if !ok {
				return nil, errorf("keywords must be strings")
			}
			a.names = append(a.names, ks)
			a.kw = append(a.kw, d.value(k))
		}
	}
	return a, nil
}

// evalItems evaluates the items of a list or tuple display in order.
func (e *evaluator) evalItems(items []expr, s *scope) ([]any, error) {
	out := make([]any, len(items))
	for i, it := range items {
		v, err := e.eval(it, s)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (e *evaluator) eval(x expr, s *scope) (any, error) {
	v, err := e.eval1(x, s)
	if err != nil {
		return nil, lineErr(err, x.exprLine())
	}
	return v, nil
}

func (e *evaluator) eval1(x expr, s *scope) (any, error) {
	switch x := x.(type) {
	case *constExpr:
		return x.val, nil
	case *nameExpr:
		if v, ok := s.lookup(x.name); ok {
			return v, nil
		}
		return undef("'%s' is undefined", x.name), nil
	case *listExpr:
		out, err := e.evalItems(x.items, s)
		if err != nil {
			return nil, err
		}
		return out, nil
	case *tupleExpr:
		out, err := e.evalItems(x.items, s)
		if err != nil {
			return nil, err
		}
		return tuple(out), nil
	case *dictExpr:
		d := newDict()
		for i := range x.keys {
			k, err := e.eval(x.keys[i], s)
			if err != nil {
				return nil, err
			}
			v, err := e.eval(x.vals[i], s)
			if err != nil {
				return nil, err
			}
			if err := d.set(k, v); err != nil {
				return nil, err
			}
		}
		return d, nil
	case *attrExpr:
		v, err := e.eval(x.x, s)
		if err != nil {
			return nil, err
		}
		return getAttr(v, x.name)
	case *itemExpr:
		v, err := e.eval(x.x, s)
		if err != nil {
			return nil, err
		}
		if sl, ok := x.key.(*sliceExpr); ok {
			return e.slice(v, sl, s)
		}
		k, err := e.eval(x.key, s)
		if err != nil {
			return nil, err
		}
		return getItem(v, k)
	case *sliceExpr:
		return nil, errorf("slice outside subscript")
	case *callExpr:
		fn, err := e.eval(x.fn, s)
		if err != nil {
			return nil, err
		}
		a, err := e.evalArgs(x.args, s)
		if err != nil {
			return nil, err
		}
		return e.call(fn, a)
	case *filterExpr:
		var v any
		if x.x != nil {
			var err error
			if v, err = e.eval(x.x, s); err != nil {
				return nil, err
			}
		}
		a, err := e.evalArgs(x.args, s)
		if err != nil {
			return nil, err
		}
		return e.filter(x.name, v, a)
	case *testExpr:
		v, err := e.eval(x.x, s)
		if err != nil {
			return nil, err
		}
		a, err := e.evalArgs(x.args, s)
		if err != nil {
			return nil, err
		}
		ok, err := e.test(x.name, v, a)
		return ok, err
	case *unaryExpr:
		v, err := e.eval(x.x, s)
		if err != nil {
			return nil, err
		}
		switch x.op {
		case "not":
			return !truthy(v), nil
		case "-":
			return negate(v)
		}
		if u, ok := v.(undefined); ok {
			return nil, u.err()
		}
		if !isNumber(v) {
			return nil, errorf("bad operand type for unary +: '%s'", typeName(v))
		}
		return binary("+", int64(0), v)
	case *binaryExpr:
		l, err := e.eval(x.l, s)
		if err != nil {
			return nil, err
		}
		switch x.op {
		case "and":
			if !truthy(l) {
				return l, nil
			}
			return e.eval(x.r, s)
		case "or":
			if truthy(l) {
				return l, nil
			}
			return e.eval(x.r, s)
		}
		r, err := e.eval(x.r, s)
		if err != nil {
			return nil, err
		}
		return binary(x.op, l, r)
	case *concatExpr:
		var b strings.Builder
		for _, it := range x.items {
			v, err := e.eval(it, s)
			if err != nil {
				return nil, err
			}
			b.WriteString(str(v))
			if err := checkSize(b.Len()); err != nil {
				return nil, err
			}
		}
		return b.String(), nil
	case *compareExpr:
		l, err := e.eval(x.x, s)
		if err != nil {
			return nil, err
		}
		for i, op := range x.ops {
			r, err := e.eval(x.ys[i], s)
			if err != nil {
				return nil, err
			}
			ok, err := compareOp(op, l, r)
			if err != nil || !ok {
				return false, err
			}
			l = r
		}
		return true, nil
	case *condExpr:
		t, err := e.eval(x.test, s)
		if err != nil {
			return nil, err
		}
		if truthy(t) {
			return e.eval(x.then, s)
		}
		if x.els == nil {
			return undef("the inline if-expression on line %d evaluated to false and no else section was defined.", x.line), nil
		}
		return e.eval(x.els, s)
	case *nsRefExpr:
		return nil, errorf("namespace reference outside assignment")
	}
	return nil, errorf("unknown expression %T", x)
}

func negate(v any) (any, error) {
	switch x := v.(type) {
	case float64:
		return -x, nil
	case undefined:
		return nil, x.err()
	}
	if !isNumber(v) {
		return nil, errorf("bad operand type for unary -: '%s'", typeName(v))
	}
	return binary("-", int64(0), v)
}

func compareOp(op string, l, r any) (bool, error) {
	switch op {
	case "==":
		return equal(l, r), nil
	case "!=":
		return !equal(l, r), nil
	case "in":
		return contains(r, l)
	case "not in":
		ok, err := contains(r, l)
		return !ok, err
	}
	c, err := compare(l, r, op)
	if err != nil {
		return false, err
	}
	switch op {
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	}
	return c >= 0, nil
}

// slice evaluates v[start:stop:step] with Python's rules.
func (e *evaluator) slice(v any, sl *sliceExpr, s *scope) (any, error) {
	if u, ok := v.(undefined); ok {
		return nil, u.err()
	}
	var bounds [3]any
	for i, x := range []expr{sl.start, sl.stop, sl.step} {
		if x == nil {
			bounds[i] = nil
			continue
		}
		b, err := e.eval(x, s)
		if err != nil {
			return nil, err
		}
		bounds[i] = b
	}
	var items []any
	var runes []rune
	n := 0
	switch x := v.(type) {
	case []any:
		items, n = x, len(x)
	case tuple:
		items, n = x, len(x)
	case string:
		runes = []rune(x)
		n = len(runes)
	default:
		if e.folding {
			// Constant folding subscripts through Jinja2's getitem, which
			// turns the TypeError into undefined.
			return undef("'%s object' has no element slice", typeName(v)), nil
		}
		// Jinja2 slices with Python's own subscript, so this is a TypeError.
		if _, ok := v.(*dict); ok {
			return nil, errorf("unhashable type: 'slice'")
		}
		return nil, errorf("'%s' object is not subscriptable", typeName(v))
	}
	idx, err := sliceIndices(bounds, n)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case string:
		var b strings.Builder
		for _, i := range idx {
			b.WriteRune(runes[i])
		}
		return b.String(), nil
	case tuple:
		out := make(tuple, len(idx))
		for j, i := range idx {
			out[j] = x[i]
		}
		return out, nil
	}
	out := make([]any, len(idx))
	for j, i := range idx {
		out[j] = items[i]
	}
	return out, nil
}

// sliceIndices lists the indices a Python slice selects from n items.
func sliceIndices(b [3]any, n int) ([]int, error) {
	get := func(v any) (int, bool, error) {
		if v == nil {
			return 0, false, nil
		}
		i, ok := toInt(v)
		if !ok {
			return 0, false, errorf("slice indices must be integers or None")
		}
		return int(max(min(i, 1<<40), -(1 << 40))), true, nil
	}
	step, hasStep, err := get(b[2])
	if err != nil {
		return nil, err
	}
	if !hasStep {
		step = 1
	}
	if step == 0 {
		return nil, errorf("slice step cannot be zero")
	}
	start, hasStart, err := get(b[0])
	if err != nil {
		return nil, err
	}
	stop, hasStop, err := get(b[1])
	if err != nil {
		return nil, err
	}
	clamp := func(i int, lo, hi int) int {
		if i < 0 {
			i += n
			if i < lo {
				i = lo
			}
		} else if i > hi {
			i = hi
		}
		return i
	}
	var idx []int
	if step > 0 {
		if !hasStart {
			start = 0
		} else {
			start = clamp(start, 0, n)
		}
		if !hasStop {
			stop = n
		} else {
			stop = clamp(stop, 0, n)
		}
		for i := start; i < stop; i += step {
			idx = append(idx, i)
		}
	} else {
		if !hasStart {
			start = n - 1
		} else {
			start = clamp(start, -1, n-1)
		}
		if !hasStop {
			stop = -1
		} else {
			stop = clamp(stop, -1, n-1)
		}
		for i := start; i > stop; i += step {
			idx = append(idx, i)
		}
	}
	return idx, nil
}

// getAttr is Jinja2's sandboxed x.name: a Python attribute (a method) if
// there is one, else the item name, else undefined.
func getAttr(v any, name string) (any, error) {
	switch x := v.(type) {
	case undefined:
		return nil, x.err()
	case *namespace:
		if a, ok := x.attrs.get(name); ok {
			return a, nil
		}
		return undef("'Namespace object' has no attribute '%s'", name), nil
	case *loopCtx:
		return x.attr(name), nil
	}
	if m, ok := method(v, name); ok {
		return m, nil
	}
	if d, ok := v.(*dict); ok {
		if a, ok := d.get(name); ok {
			return a, nil
		}
	}
	return undef("'%s object' has no attribute '%s'", typeName(v), name), nil
}

// getItem is Jinja2's sandboxed x[key]: the item if there is one, else an
// attribute named key, else undefined.
func getItem(v any, key any) (any, error) {
	switch x := v.(type) {
	case undefined:
		return nil, x.err()
	case *dict:
		if _, err := hashKey(key); err == nil {
			if a, ok := x.get(key); ok {
				return a, nil
			}
		}
	case []any, tuple, string:
		if i, ok := toInt(key); ok {
			var n int
			switch x := x.(type) {
			case []any:
				n = len(x)
			case tuple:
				n = len(x)
			case string:
				n = utf8.RuneCountInString(x)
			}
			if i < 0 {
				i += int64(n)
			}
			if i >= 0 && i < int64(n) {
				switch x := x.(type) {
				case []any:
					return x[i], nil
				case tuple:
					return x[i], nil
				case string:
					return string([]rune(x)[i]), nil
				}
			}
			return undef("'%s object' has no element %s", typeName(v), repr(key)), nil
		}
	}
	if name, ok := key.(string); ok {
		return getAttr(v, name)
	}
	return undef("'%s object' has no element %s", typeName(v), repr(key)), nil
}

func (l *loopCtx) attr(name string) any {
	n := len(l.items)
	switch name {
	case "index":
		return int64(l.index0 + 1)
	case "index0":
		return int64(l.index0)
	case "revindex":
		return int64(n - l.index0)
	case "revindex0":
		return int64(n - l.index0 - 1)
	case "first":
		return l.index0 == 0
	case "last":
		return l.index0 == n-1
	case "length":
		return int64(n)
	case "depth":
		return int64(l.depth0 + 1)
	case "depth0":
		return int64(l.depth0)
	case "previtem":
		if l.index0 == 0 {
			return undef("there is no previous item")
		}
		return l.items[l.index0-1]
	case "nextitem":
		if l.index0 == n-1 {
			return undef("there is no next item")
		}
		return l.items[l.index0+1]
	case "cycle":
		return &builtin{name: "cycle", fn: func(_ *evaluator, a *args) (any, error) {
			if len(a.pos) == 0 {
				return nil, errorf("no items for cycling given")
			}
			return a.pos[l.index0%len(a.pos)], nil
		}}
	case "changed":
		return &builtin{name: "changed", fn: func(_ *evaluator, a *args) (any, error) {
			v := any(tuple(a.pos))
			if l.hasLast && equal(v, l.changed) {
				return false, nil
			}
			l.changed, l.hasLast = v, true
			return true, nil
		}}
	}
	return undef("'LoopContext object' has no attribute '%s'", name)
}

// call invokes a callable value.
func (e *evaluator) call(fn any, a *args) (any, error) {
	switch f := fn.(type) {
	case *builtin:
		return f.fn(e, a)
	case *macro:
		return e.callMacro(f, a)
	case *loopCtx:
		if f.recurse == nil {
			return nil, errorf("the loop must have the 'recursive' marker to be called recursively")
		}
		if len(a.pos) != 1 || len(a.names) > 0 {
			return nil, errorf("loop() takes exactly one argument")
		}
		return f.recurse(a.pos[0], f.depth0+1)
	case undefined:
		return nil, f.err()
	}
	return nil, errorf("'%s' object is not callable", typeName(fn))
}

func (e *evaluator) callMacro(m *macro, a *args) (any, error) {
	if e.calls++; e.calls > maxCalls {
		return nil, errorf("maximum recursion depth exceeded")
	}
	defer func() { e.calls-- }()
	s := newScope(m.scope)
	np := len(m.params)
	for i, v := range a.pos {
		if i < np {
			s.vars[m.params[i]] = v
		}
	}
	if len(a.pos) > np {
		s.vars["varargs"] = tuple(a.pos[np:])
	} else {
		s.vars["varargs"] = tuple{}
	}
	kwargs := newDict()
	for i, n := range a.names {
		isParam := false
		for j, p := range m.params {
			if p == n {
				if j < len(a.pos) {
					return nil, errorf("macro '%s' got multiple values for argument '%s'", m.name, n)
				}
				isParam = true
			}
		}
		switch {
		case isParam:
			s.vars[n] = a.kw[i]
		case n == "caller" && !m.caller:
			s.vars["caller"] = a.kw[i]
		default:
			kwargs.set(n, a.kw[i])
		}
	}
	s.vars["kwargs"] = kwargs
	for _, name := range m.unset {
		if _, ok := s.vars[name]; !ok {
			s.vars[name] = undef("'%s' is undefined", name)
		}
	}
	firstDefault := np - len(m.defaults)
	for i, p := range m.params {
		if _, ok := s.vars[p]; ok {
			continue
		}
		if i >= firstDefault {
			v, err := e.eval(m.defaults[i-firstDefault], s)
			if err != nil {
				return nil, err
			}
			s.vars[p] = v
		} else {
			s.vars[p] = undef("parameter '%s' was not provided", p)
		}
	}
	saved := e.out
	var b strings.Builder
	e.out = &b
	err := e.execBody(m.body, s)
	e.out = saved
	if err == errBreak || err == errContinue {
		err = errorf("%v", err)
	}
	if err != nil {
		return nil, err
	}
	return b.String(), nil
}
