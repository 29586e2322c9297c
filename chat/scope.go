package chat

// walkNames calls f for every variable name x reads, in evaluation order.
func walkNames(x expr, f func(string)) {
	if x == nil {
		return
	}
	args := func(a callArgs) {
		for _, p := range a.pos {
			walkNames(p, f)
		}
		walkNames(a.star, f)
		for _, k := range a.kw {
			walkNames(k, f)
		}
		walkNames(a.dstar, f)
	}
	switch x := x.(type) {
	case *nameExpr:
		f(x.name)
	case *nsRefExpr:
		f(x.name)
	case *listExpr:
		for _, it := range x.items {
			walkNames(it, f)
		}
	case *tupleExpr:
		for _, it := range x.items {
			walkNames(it, f)
		}
	case *dictExpr:
		for i := range x.keys {
			walkNames(x.keys[i], f)
			walkNames(x.vals[i], f)
		}
	case *attrExpr:
		walkNames(x.x, f)
	case *itemExpr:
		walkNames(x.x, f)
		walkNames(x.key, f)
	case *sliceExpr:
		walkNames(x.start, f)
		walkNames(x.stop, f)
		walkNames(x.step, f)
	case *callExpr:
		walkNames(x.fn, f)
		args(x.args)
	case *filterExpr:
		walkNames(x.x, f)
		args(x.args)
	case *testExpr:
		walkNames(x.x, f)
		args(x.args)
	case *unaryExpr:
		walkNames(x.x, f)
	case *binaryExpr:
		walkNames(x.l, f)
		walkNames(x.r, f)
	case *concatExpr:
		for _, it := range x.items {
			walkNames(it, f)
		}
	case *compareExpr:
		walkNames(x.x, f)
		for _, y := range x.ys {
			walkNames(y, f)
		}
	case *condExpr:
		walkNames(x.test, f)
		walkNames(x.then, f)
		walkNames(x.els, f)
	}
}

// Jinja2 compiles each frame (the template, a loop body, a macro, a with
// or call block) to a function with a local per variable it uses, and a
// variable the frame assigns, outside any if, before reading it, and that
// no enclosing frame uses, starts empty: until the assignment runs, nested
// loops and macros that read it see it undefined, even when the caller
// passed a value of that name. markFrames finds those names for every
// frame; the evaluator sets them undefined when it enters the frame.

// markFrames analyses the frame body with the given parameters (names
// bound on entry), records the results on the nested frames' nodes, and
// returns the names that start undefined in this frame.
func markFrames(body []node, params []string, outer []map[string]bool) []string {
	refs, unset := scanFrame(body, params)
	var kept []string
	for _, name := range unset {
		known := false
		for _, o := range outer {
			known = known || o[name]
		}
		if !known {
			kept = append(kept, name)
		}
	}
	inner := append(append([]map[string]bool(nil), outer...), refs)
	var walk func([]node)
	walk = func(nodes []node) {
		for _, n := range nodes {
			switch n := n.(type) {
			case *ifNode:
				for _, b := range n.bodys {
					walk(b)
				}
				walk(n.els)
			case *forNode:
				var names []string
				targetNames(n.target, func(s string) { names = append(names, s) }, func(string) {})
				n.unset = markFrames(n.body, append(names, "loop"), inner)
				n.elseUnset = markFrames(n.els, nil, inner)
			case *macroNode:
				n.unset = markFrames(n.body, append(n.params, "varargs", "kwargs", "caller"), inner)
			case *callBlockNode:
				n.unset = markFrames(n.body, append(n.params, "varargs", "kwargs"), inner)
			case *withNode:
				var names []string
				for _, t := range n.targets {
					targetNames(t, func(s string) { names = append(names, s) }, func(string) {})
				}
				n.unset = markFrames(n.body, names, inner)
			case *setBlockNode:
				n.unset = markFrames(n.body, nil, inner)
			case *filterBlockNode:
				n.unset = markFrames(n.body, nil, inner)
			case *scopeNode:
				n.unset = markFrames(n.body, nil, inner)
			}
		}
	}
	walk(body)
	return kept
}

// scanFrame lists the names a frame's own statements use (nested frames
// excluded, if bodies included) and those whose first use is an
// assignment outside any if.
func scanFrame(body []node, params []string) (map[string]bool, []string) {
	refs := map[string]bool{}
	first := map[string]bool{} // name → its first use is such an assignment
	var order []string
	use := func(name string, store bool) {
		refs[name] = true
		if _, seen := first[name]; !seen {
			first[name] = store
			order = append(order, name)
		}
	}
	for _, p := range params {
		use(p, false)
	}
	load := func(name string) { use(name, false) }
	var walk func(nodes []node, cond bool)
	walk = func(nodes []node, cond bool) {
		// Assignments inside an if make Jinja2 read the enclosing value
		// first, as loads do.
		store := func(name string) { use(name, !cond) }
		for _, n := range nodes {
			switch n := n.(type) {
			case *outputNode:
				walkNames(n.x, load)
			case *ifNode:
				for i, c := range n.conds {
					walkNames(c, load)
					walk(n.bodys[i], true)
				}
				walk(n.els, true)
			case *forNode:
				walkNames(n.iter, load)
			case *setNode:
				walkNames(n.x, load)
				targetNames(n.target, store, load)
			case *setBlockNode:
				targetNames(n.target, store, load)
			case *macroNode:
				store(n.name)
			case *callBlockNode:
				walkNames(n.call, load)
			case *filterBlockNode:
				walkNames(n.filter, load)
			case *withNode:
				for _, v := range n.values {
					walkNames(v, load)
				}
			}
		}
	}
	walk(body, false)
	var unset []string
	for _, name := range order {
		if first[name] {
			unset = append(unset, name)
		}
	}
	return refs, unset
}

// targetNames reports the names an assignment target stores, and the
// namespace it reads for ns.attr targets.
func targetNames(t expr, store, load func(string)) {
	switch t := t.(type) {
	case *nameExpr:
		store(t.name)
	case *nsRefExpr:
		load(t.name)
	case *tupleExpr:
		for _, it := range t.items {
			targetNames(it, store, load)
		}
	}
}

// markUnset sets the names that start a frame undefined.
func markUnset(s *scope, names []string) {
	for _, name := range names {
		s.vars[name] = undef("'%s' is undefined", name)
	}
}
