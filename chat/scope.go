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

// unsetAtStart lists the names a template assigns at its top level, outside
// any if, before reading them anywhere at that level. Jinja2 compiles such
// a name to a template-level local that stays empty until the assignment
// runs, so a loop body or macro that reads it earlier sees it undefined
// even when the caller passed a value of that name.
func unsetAtStart(body []node) []string {
	first := map[string]bool{} // name → its first use is an assignment
	var order []string
	use := func(name string, store bool) {
		if _, seen := first[name]; !seen {
			first[name] = store
			order = append(order, name)
		}
	}
	load := func(name string) { use(name, false) }
	var walk func(nodes []node, cond bool)
	walk = func(nodes []node, cond bool) {
		// Assignments inside an if make Jinja2 read the caller's value
		// first, as loads do.
		store := func(name string) { use(name, !cond) }
		for _, n := range nodes {
			switch n := n.(type) {
			case *outputNode:
				walkNames(n.x, load)
			case *ifNode:
				walkNames(n.conds[0], load)
				walk(n.bodys[0], true)
				for i := 1; i < len(n.conds); i++ {
					walkNames(n.conds[i], load)
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
	var out []string
	for _, name := range order {
		if first[name] {
			out = append(out, name)
		}
	}
	return out
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
