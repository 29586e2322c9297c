package chat

import "strings"

// Jinja2 computes constant expressions when it compiles a template, and
// that can change results, because the compile-time evaluation goes
// through its subscript, which yields undefined for a value that cannot be
// sliced, where the same slice at run time raises a TypeError. Its
// optimizer replaces each constant expression whose value is a plain
// literal (None, bools, numbers, strings and lists, tuples and dicts of
// them), innermost first; and an output {{ ... }} whose whole expression is
// constant is written as text, undefined printing as "". fold mirrors
// both; any failure leaves the expression to run time, as Jinja2 does.

// fold folds the constant expressions of body, recursively.
func fold(body []node) {
	for i, n := range body {
		switch n := n.(type) {
		case *outputNode:
			n.x = foldExpr(n.x)
			if v, ok := foldConst(n.x); ok {
				body[i] = &textNode{line: n.line, text: str(v)}
			}
		case *ifNode:
			for j := range n.conds {
				n.conds[j] = foldExpr(n.conds[j])
				fold(n.bodys[j])
			}
			fold(n.els)
		case *forNode:
			n.iter = foldExpr(n.iter)
			if n.filter != nil {
				n.filter = foldExpr(n.filter)
			}
			fold(n.body)
			fold(n.els)
		case *setNode:
			n.x = foldExpr(n.x)
		case *setBlockNode:
			if n.filter != nil {
				foldFilterArgs(n.filter)
			}
			fold(n.body)
		case *macroNode:
			for j := range n.defaults {
				n.defaults[j] = foldExpr(n.defaults[j])
			}
			fold(n.body)
		case *callBlockNode:
			foldArgs(&n.call.args)
			for j := range n.defaults {
				n.defaults[j] = foldExpr(n.defaults[j])
			}
			fold(n.body)
		case *filterBlockNode:
			foldFilterArgs(n.filter)
			fold(n.body)
		case *withNode:
			for j := range n.values {
				n.values[j] = foldExpr(n.values[j])
			}
			fold(n.body)
		case *scopeNode:
			fold(n.body)
		}
	}
}

func foldFilterArgs(f *filterExpr) {
	for ; f != nil; f, _ = f.x.(*filterExpr) {
		foldArgs(&f.args)
	}
}

func foldArgs(a *callArgs) {
	for i := range a.pos {
		a.pos[i] = foldExpr(a.pos[i])
	}
	for i := range a.kw {
		a.kw[i] = foldExpr(a.kw[i])
	}
	if a.star != nil {
		a.star = foldExpr(a.star)
	}
	if a.dstar != nil {
		a.dstar = foldExpr(a.dstar)
	}
}

// foldExpr folds the constant parts of x, innermost first.
func foldExpr(x expr) expr {
	switch x := x.(type) {
	case nil, *constExpr, *nameExpr, *nsRefExpr:
		return x
	case *listExpr:
		for i := range x.items {
			x.items[i] = foldExpr(x.items[i])
		}
	case *tupleExpr:
		for i := range x.items {
			x.items[i] = foldExpr(x.items[i])
		}
	case *dictExpr:
		for i := range x.keys {
			x.keys[i] = foldExpr(x.keys[i])
			x.vals[i] = foldExpr(x.vals[i])
		}
	case *attrExpr:
		x.x = foldExpr(x.x)
	case *itemExpr:
		x.x = foldExpr(x.x)
		x.key = foldExpr(x.key)
	case *sliceExpr:
		x.start, x.stop, x.step = foldExpr(x.start), foldExpr(x.stop), foldExpr(x.step)
		return x // a slice is not a value of its own
	case *callExpr:
		x.fn = foldExpr(x.fn)
		foldArgs(&x.args)
	case *filterExpr:
		x.x = foldExpr(x.x)
		foldArgs(&x.args)
	case *testExpr:
		x.x = foldExpr(x.x)
		foldArgs(&x.args)
	case *unaryExpr:
		x.x = foldExpr(x.x)
	case *binaryExpr:
		x.l, x.r = foldExpr(x.l), foldExpr(x.r)
	case *concatExpr:
		for i := range x.items {
			x.items[i] = foldExpr(x.items[i])
		}
	case *compareExpr:
		x.x = foldExpr(x.x)
		for i := range x.ys {
			x.ys[i] = foldExpr(x.ys[i])
		}
	case *condExpr:
		x.test, x.then, x.els = foldExpr(x.test), foldExpr(x.then), foldExpr(x.els)
	}
	if v, ok := foldConst(x); ok && plainLiteral(v) {
		return &constExpr{line: x.exprLine(), val: v}
	}
	return x
}

// plainLiteral reports whether Jinja2 would fold v into a constant.
func plainLiteral(v any) bool {
	switch x := v.(type) {
	case nil, bool, int64, float64, string:
		return true
	case []any:
		return every(x, plainLiteral)
	case tuple:
		return every(x, plainLiteral)
	case *dict:
		for _, k := range x.keys {
			if !plainLiteral(k) || !plainLiteral(x.value(k)) {
				return false
			}
		}
		return true
	}
	return false
}

func every[T any](xs []T, f func(T) bool) bool {
	for _, x := range xs {
		if !f(x) {
			return false
		}
	}
	return true
}

// foldConst evaluates x as Jinja2's Node.as_const does, reporting false
// where Jinja2 raises Impossible: on names, calls, filters that need the
// render context, and any error.
func foldConst(x expr) (any, bool) {
	e := &evaluator{out: &strings.Builder{}, maxSteps: 1 << 10, folding: true}
	return e.constEval(x)
}

func (e *evaluator) constEval(x expr) (any, bool) {
	all := func(xs []expr) ([]any, bool) {
		out := make([]any, len(xs))
		for i, y := range xs {
			v, ok := e.constEval(y)
			if !ok {
				return nil, false
			}
			out[i] = v
		}
		return out, true
	}
	constArgs := func(c callArgs) (*args, bool) {
		if c.star != nil || c.dstar != nil {
			return nil, false
		}
		pos, ok1 := all(c.pos)
		kw, ok2 := all(c.kw)
		return &args{pos: pos, names: c.names, kw: kw}, ok1 && ok2
	}
	switch x := x.(type) {
	case *constExpr:
		return x.val, true
	case *listExpr, *tupleExpr, *dictExpr, *attrExpr, *itemExpr, *unaryExpr, *concatExpr:
		// Their parts are evaluated eagerly; check them first, then let
		// the evaluator combine them.
		if !constParts(x) {
			return nil, false
		}
	case *binaryExpr:
		l, ok := e.constEval(x.l)
		if !ok {
			return nil, false
		}
		switch x.op {
		case "and":
			if !truthy(l) {
				return l, true
			}
			return e.constEval(x.r)
		case "or":
			if truthy(l) {
				return l, true
			}
			return e.constEval(x.r)
		}
		r, ok := e.constEval(x.r)
		if !ok {
			return nil, false
		}
		v, err := binary(x.op, l, r)
		return v, err == nil
	case *compareExpr:
		l, ok := e.constEval(x.x)
		if !ok {
			return nil, false
		}
		for i, op := range x.ops {
			r, ok := e.constEval(x.ys[i])
			if !ok {
				return nil, false
			}
			res, err := compareOp(op, l, r)
			if err != nil {
				return nil, false
			}
			if !res {
				return false, true
			}
			l = r
		}
		return true, true
	case *condExpr:
		t, ok := e.constEval(x.test)
		if !ok {
			return nil, false
		}
		if truthy(t) {
			return e.constEval(x.then)
		}
		if x.els == nil {
			return nil, false
		}
		return e.constEval(x.els)
	case *filterExpr:
		switch x.name {
		case "map", "select", "reject", "selectattr", "rejectattr":
			return nil, false // they take the render context
		}
		if x.x == nil {
			return nil, false
		}
		v, ok := e.constEval(x.x)
		if !ok {
			return nil, false
		}
		a, ok := constArgs(x.args)
		if !ok {
			return nil, false
		}
		r, err := e.filter(x.name, v, a)
		return r, err == nil
	case *testExpr:
		v, ok := e.constEval(x.x)
		if !ok {
			return nil, false
		}
		a, ok := constArgs(x.args)
		if !ok {
			return nil, false
		}
		r, err := e.test(x.name, v, a)
		return r, err == nil
	default:
		return nil, false // names, calls
	}
	v, err := e.eval(x, nil)
	return v, err == nil
}

// constParts reports whether the direct parts of x are constant; the
// parts of those are checked by constEval as it recurses.
func constParts(x expr) bool {
	ok := func(ys ...expr) bool {
		for _, y := range ys {
			if y == nil {
				continue
			}
			if sl, isSlice := y.(*sliceExpr); isSlice {
				if !constParts(sl) {
					return false
				}
				continue
			}
			if _, c := foldConst(y); !c {
				return false
			}
		}
		return true
	}
	switch x := x.(type) {
	case *listExpr:
		return ok(x.items...)
	case *tupleExpr:
		return ok(x.items...)
	case *dictExpr:
		return ok(x.keys...) && ok(x.vals...)
	case *attrExpr:
		return ok(x.x)
	case *itemExpr:
		return ok(x.x, x.key)
	case *sliceExpr:
		return ok(x.start, x.stop, x.step)
	case *unaryExpr:
		return ok(x.x)
	case *concatExpr:
		return ok(x.items...)
	}
	return false
}
