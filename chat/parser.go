package chat

import (
	"fmt"
	"slices"
)

// maxDepth bounds the nesting of expressions and blocks, so that hostile
// sources fail with an error instead of exhausting the stack.
const maxDepth = 200

type parser struct {
	toks  []token
	pos   int
	depth int
}

// parse turns a template source into its statement list.
func parse(src string) ([]node, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	body, _, err := p.subparse(nil)
	if err != nil {
		return nil, err
	}
	fold(body)
	return body, nil
}

func (p *parser) cur() token  { return p.toks[p.pos] }
func (p *parser) peek() token { return p.toks[min(p.pos+1, len(p.toks)-1)] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if p.pos < len(p.toks)-1 {
		p.pos++
	}
	return t
}

func (p *parser) failAt(t token, format string, args ...any) error {
	return &SyntaxError{Line: t.line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) isOp(op string) bool {
	t := p.cur()
	return t.kind == tokOp && t.val == op
}

func (p *parser) isName(name string) bool {
	t := p.cur()
	return t.kind == tokName && t.val == name
}

func (p *parser) skipOp(op string) bool {
	if p.isOp(op) {
		p.next()
		return true
	}
	return false
}

func (p *parser) skipName(name string) bool {
	if p.isName(name) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expectOp(op string) error {
	if !p.skipOp(op) {
		return p.failAt(p.cur(), "expected '%s', got %s", op, p.cur())
	}
	return nil
}

func (p *parser) expectKind(k tokenKind, what string) (token, error) {
	t := p.cur()
	if t.kind != k {
		return t, p.failAt(t, "expected %s, got %s", what, t)
	}
	return p.next(), nil
}

func (p *parser) expectName() (string, error) {
	t, err := p.expectKind(tokName, "a name")
	return t.val, err
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.failAt(p.cur(), "template nested too deeply")
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// subparse reads statements until a block tag whose name is in ends, and
// returns that name ("" at the end of the template) with the tag's name
// consumed but not the rest of the tag.
func (p *parser) subparse(ends []string) ([]node, string, error) {
	if err := p.enter(); err != nil {
		return nil, "", err
	}
	defer p.leave()
	var body []node
	for {
		t := p.cur()
		switch t.kind {
		case tokEOF:
			if ends != nil {
				return nil, "", p.failAt(t, "unexpected end of template, expected one of %v", ends)
			}
			return body, "", nil
		case tokData:
			p.next()
			body = append(body, &textNode{line: t.line, text: t.val})
		case tokVarBegin:
			p.next()
			x, err := p.parseTuple(true, false, nil)
			if err != nil {
				return nil, "", err
			}
			if _, err := p.expectKind(tokVarEnd, "'}}'"); err != nil {
				return nil, "", err
			}
			body = append(body, &outputNode{line: t.line, x: x})
		case tokBlockBegin:
			p.next()
			name := p.cur()
			if name.kind != tokName {
				return nil, "", p.failAt(name, "tag name expected")
			}
			if slices.Contains(ends, name.val) {
				p.next()
				return body, name.val, nil
			}
			n, err := p.statement()
			if err != nil {
				return nil, "", err
			}
			if _, err := p.expectKind(tokBlockEnd, "end of block tag"); err != nil {
				return nil, "", err
			}
			if n != nil {
				body = append(body, n)
			}
		default:
			return nil, "", p.failAt(t, "unexpected %s", t)
		}
	}
}

// block parses "%}" then a body up to one of ends, returning which.
func (p *parser) block(ends ...string) ([]node, string, error) {
	p.skipOp(":")
	if _, err := p.expectKind(tokBlockEnd, "end of block tag"); err != nil {
		return nil, "", err
	}
	return p.subparse(ends)
}

// blockTo parses a body that must end with the single tag end.
func (p *parser) blockTo(end string) ([]node, error) {
	body, _, err := p.block(end)
	return body, err
}

func (p *parser) statement() (node, error) {
	t := p.next()
	switch t.val {
	case "if":
		return p.parseIf(t)
	case "for":
		return p.parseFor(t)
	case "set":
		return p.parseSet(t)
	case "macro":
		return p.parseMacro(t)
	case "call":
		return p.parseCallBlock(t)
	case "filter":
		f, err := p.parseFilter(nil, true)
		if err != nil {
			return nil, err
		}
		body, err := p.blockTo("endfilter")
		if err != nil {
			return nil, err
		}
		return &filterBlockNode{line: t.line, filter: f.(*filterExpr), body: body}, nil
	case "with":
		return p.parseWith(t)
	case "break", "continue":
		return &loopControlNode{line: t.line, brk: t.val == "break"}, nil
	case "print":
		x, err := p.parseTuple(true, false, nil)
		if err != nil {
			return nil, err
		}
		return &outputNode{line: t.line, x: x}, nil
	case "generation":
		// transformers' AssistantTracker tag marks assistant text for
		// masks; the text renders unchanged.
		body, err := p.blockTo("endgeneration")
		if err != nil {
			return nil, err
		}
		return &scopeNode{line: t.line, body: body}, nil
	case "extends", "include", "import", "from", "block":
		return nil, p.failAt(t, "'%s' is not supported in chat templates", t.val)
	}
	return nil, p.failAt(t, "unknown tag '%s'", t.val)
}

func (p *parser) parseIf(t token) (node, error) {
	n := &ifNode{line: t.line}
	for {
		cond, err := p.parseTuple(false, false, nil)
		if err != nil {
			return nil, err
		}
		body, end, err := p.block("elif", "else", "endif")
		if err != nil {
			return nil, err
		}
		n.conds = append(n.conds, cond)
		n.bodys = append(n.bodys, body)
		switch end {
		case "elif":
			continue
		case "else":
			if n.els, err = p.blockTo("endif"); err != nil {
				return nil, err
			}
		}
		return n, nil
	}
}

func (p *parser) parseFor(t token) (node, error) {
	target, err := p.parseAssignTarget(false, []string{"in"})
	if err != nil {
		return nil, err
	}
	if !p.skipName("in") {
		return nil, p.failAt(p.cur(), "expected 'in', got %s", p.cur())
	}
	iter, err := p.parseTuple(false, false, []string{"recursive"})
	if err != nil {
		return nil, err
	}
	n := &forNode{line: t.line, target: target, iter: iter}
	if p.skipName("if") {
		if n.filter, err = p.parseExpr(true); err != nil {
			return nil, err
		}
	}
	n.recursive = p.skipName("recursive")
	var end string
	if n.body, end, err = p.block("endfor", "else"); err != nil {
		return nil, err
	}
	if end == "else" {
		if n.els, err = p.blockTo("endfor"); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (p *parser) parseSet(t token) (node, error) {
	target, err := p.parseAssignTarget(true, nil)
	if err != nil {
		return nil, err
	}
	if p.skipOp("=") {
		x, err := p.parseTuple(true, false, nil)
		if err != nil {
			return nil, err
		}
		return &setNode{line: t.line, target: target, x: x}, nil
	}
	n := &setBlockNode{line: t.line, target: target}
	if p.isOp("|") {
		f, err := p.parseFilter(nil, false)
		if err != nil {
			return nil, err
		}
		n.filter = f.(*filterExpr)
	}
	if n.body, err = p.blockTo("endset"); err != nil {
		return nil, err
	}
	return n, nil
}

// parseAssignTarget reads a name, a tuple of names or (with ns) a
// namespace attribute.
func (p *parser) parseAssignTarget(ns bool, extraEnds []string) (expr, error) {
	line := p.cur().line
	items, tuple, err := p.parseItems(extraEnds, func() (expr, error) {
		name, err := p.expectName()
		if err != nil {
			return nil, err
		}
		switch name {
		case "true", "false", "True", "False", "none", "None":
			return nil, p.failAt(p.cur(), "can't assign to const")
		}
		if ns && p.isOp(".") {
			p.next()
			attr, err := p.expectName()
			if err != nil {
				return nil, err
			}
			return &nsRefExpr{line: line, name: name, attr: attr}, nil
		}
		return &nameExpr{line: line, name: name}, nil
	})
	if err != nil {
		return nil, err
	}
	if !tuple {
		if len(items) == 0 {
			return nil, p.failAt(p.cur(), "expected an assignment target, got %s", p.cur())
		}
		return items[0], nil
	}
	return &tupleExpr{line: line, items: items}, nil
}

func (p *parser) parseSignature() ([]string, []expr, error) {
	if err := p.expectOp("("); err != nil {
		return nil, nil, err
	}
	var params []string
	var defaults []expr
	for !p.isOp(")") {
		if len(params) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, nil, err
			}
		}
		name, err := p.expectName()
		if err != nil {
			return nil, nil, err
		}
		if p.skipOp("=") {
			d, err := p.parseExpr(true)
			if err != nil {
				return nil, nil, err
			}
			defaults = append(defaults, d)
		} else if len(defaults) > 0 {
			return nil, nil, p.failAt(p.cur(), "non-default argument follows default argument")
		}
		params = append(params, name)
	}
	p.next()
	return params, defaults, nil
}

func (p *parser) parseMacro(t token) (node, error) {
	name, err := p.expectName()
	if err != nil {
		return nil, err
	}
	params, defaults, err := p.parseSignature()
	if err != nil {
		return nil, err
	}
	body, err := p.blockTo("endmacro")
	if err != nil {
		return nil, err
	}
	return &macroNode{line: t.line, name: name, params: params, defaults: defaults, body: body}, nil
}

func (p *parser) parseCallBlock(t token) (node, error) {
	n := &callBlockNode{line: t.line}
	if p.isOp("(") {
		var err error
		if n.params, n.defaults, err = p.parseSignature(); err != nil {
			return nil, err
		}
	}
	x, err := p.parseExpr(true)
	if err != nil {
		return nil, err
	}
	call, ok := x.(*callExpr)
	if !ok {
		return nil, p.failAt(t, "expected call")
	}
	n.call = call
	if n.body, err = p.blockTo("endcall"); err != nil {
		return nil, err
	}
	return n, nil
}

func (p *parser) parseWith(t token) (node, error) {
	n := &withNode{line: t.line}
	for p.cur().kind != tokBlockEnd {
		if len(n.targets) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		target, err := p.parseAssignTarget(false, nil)
		if err != nil {
			return nil, err
		}
		if err := p.expectOp("="); err != nil {
			return nil, err
		}
		v, err := p.parseExpr(true)
		if err != nil {
			return nil, err
		}
		n.targets = append(n.targets, target)
		n.values = append(n.values, v)
	}
	body, err := p.blockTo("endwith")
	if err != nil {
		return nil, err
	}
	n.body = body
	return n, nil
}

func (p *parser) isTupleEnd(extraEnds []string) bool {
	t := p.cur()
	switch t.kind {
	case tokVarEnd, tokBlockEnd, tokEOF:
		return true
	case tokOp:
		return t.val == ")"
	case tokName:
		return slices.Contains(extraEnds, t.val)
	}
	return false
}

// parseItems parses comma-separated items up to one of the tuple ends
// (isTupleEnd), allowing a trailing comma; tuple reports whether a comma
// followed an item.
func (p *parser) parseItems(extraEnds []string, item func() (expr, error)) (items []expr, tuple bool, err error) {
	for {
		if len(items) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, false, err
			}
		}
		if p.isTupleEnd(extraEnds) {
			break
		}
		x, err := item()
		if err != nil {
			return nil, false, err
		}
		items = append(items, x)
		if !p.isOp(",") {
			break
		}
		tuple = true
	}
	return items, tuple, nil
}

// parseTuple parses an expression, or a tuple if commas separate several.
func (p *parser) parseTuple(withCond, parens bool, extraEnds []string) (expr, error) {
	line := p.cur().line
	items, tuple, err := p.parseItems(extraEnds, func() (expr, error) { return p.parseExpr(withCond) })
	if err != nil {
		return nil, err
	}
	if !tuple {
		if len(items) > 0 {
			return items[0], nil
		}
		if !parens {
			return nil, p.failAt(p.cur(), "expected an expression, got %s", p.cur())
		}
	}
	return &tupleExpr{line: line, items: items}, nil
}

func (p *parser) parseExpr(withCond bool) (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if !withCond {
		return p.parseOr()
	}
	x, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	for p.isName("if") {
		line := p.next().line
		test, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		var els expr
		if p.skipName("else") {
			if els, err = p.parseExpr(true); err != nil {
				return nil, err
			}
		}
		x = &condExpr{line: line, test: test, then: x, els: els}
	}
	return x, nil
}

// parseLeft parses a left-associative chain "operand (op operand)*", where
// atOp reports whether the current token is one of the level's operators.
func (p *parser) parseLeft(operand func() (expr, error), atOp func() bool) (expr, error) {
	l, err := operand()
	if err != nil {
		return nil, err
	}
	for atOp() {
		t := p.next()
		r, err := operand()
		if err != nil {
			return nil, err
		}
		l = &binaryExpr{line: t.line, op: t.val, l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseOr() (expr, error) {
	return p.parseLeft(p.parseAnd, func() bool { return p.isName("or") })
}

func (p *parser) parseAnd() (expr, error) {
	return p.parseLeft(p.parseNot, func() bool { return p.isName("and") })
}

func (p *parser) parseNot() (expr, error) {
	if p.isName("not") {
		line := p.next().line
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{line: line, op: "not", x: x}, nil
	}
	return p.parseCompare()
}

func (p *parser) parseCompare() (expr, error) {
	line := p.cur().line
	x, err := p.parseMath1()
	if err != nil {
		return nil, err
	}
	var ops []string
	var ys []expr
	for {
		t := p.cur()
		var op string
		switch {
		case t.kind == tokOp && (t.val == "==" || t.val == "!=" || t.val == "<" || t.val == "<=" || t.val == ">" || t.val == ">="):
			op = t.val
			p.next()
		case p.isName("in"):
			op = "in"
			p.next()
		case p.isName("not") && p.peek().kind == tokName && p.peek().val == "in":
			op = "not in"
			p.next()
			p.next()
		default:
			if ops == nil {
				return x, nil
			}
			return &compareExpr{line: line, x: x, ops: ops, ys: ys}, nil
		}
		y, err := p.parseMath1()
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
		ys = append(ys, y)
	}
}

func (p *parser) parseMath1() (expr, error) {
	return p.parseLeft(p.parseConcat, func() bool { return p.isOp("+") || p.isOp("-") })
}

func (p *parser) parseConcat() (expr, error) {
	line := p.cur().line
	x, err := p.parseMath2()
	if err != nil {
		return nil, err
	}
	items := []expr{x}
	for p.skipOp("~") {
		y, err := p.parseMath2()
		if err != nil {
			return nil, err
		}
		items = append(items, y)
	}
	if len(items) == 1 {
		return x, nil
	}
	return &concatExpr{line: line, items: items}, nil
}

func (p *parser) parseMath2() (expr, error) {
	return p.parseLeft(p.parsePow, func() bool {
		return p.isOp("*") || p.isOp("/") || p.isOp("//") || p.isOp("%")
	})
}

func (p *parser) parsePow() (expr, error) {
	return p.parseLeft(func() (expr, error) { return p.parseUnary(true) }, func() bool { return p.isOp("**") })
}

func (p *parser) parseUnary(withFilter bool) (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.cur()
	var x expr
	var err error
	if t.kind == tokOp && (t.val == "-" || t.val == "+") {
		p.next()
		y, err := p.parseUnary(false)
		if err != nil {
			return nil, err
		}
		x = &unaryExpr{line: t.line, op: t.val, x: y}
	} else if x, err = p.parsePrimary(); err != nil {
		return nil, err
	}
	if x, err = p.parsePostfix(x); err != nil {
		return nil, err
	}
	if withFilter {
		return p.parseFilterExpr(x)
	}
	return x, nil
}

func (p *parser) parsePrimary() (expr, error) {
	t := p.cur()
	switch t.kind {
	case tokName:
		p.next()
		switch t.val {
		case "true", "True":
			return &constExpr{line: t.line, val: true}, nil
		case "false", "False":
			return &constExpr{line: t.line, val: false}, nil
		case "none", "None":
			return &constExpr{line: t.line, val: nil}, nil
		}
		return &nameExpr{line: t.line, name: t.val}, nil
	case tokString:
		s := p.next().val
		for p.cur().kind == tokString { // adjacent literals concatenate
			s += p.next().val
		}
		return &constExpr{line: t.line, val: s}, nil
	case tokInt, tokFloat:
		p.next()
		return &constExpr{line: t.line, val: t.num}, nil
	case tokOp:
		switch t.val {
		case "(":
			p.next()
			x, err := p.parseTuple(true, true, nil)
			if err != nil {
				return nil, err
			}
			return x, p.expectOp(")")
		case "[":
			p.next()
			l := &listExpr{line: t.line}
			for !p.isOp("]") {
				if len(l.items) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
					if p.isOp("]") {
						break
					}
				}
				x, err := p.parseExpr(true)
				if err != nil {
					return nil, err
				}
				l.items = append(l.items, x)
			}
			p.next()
			return l, nil
		case "{":
			p.next()
			d := &dictExpr{line: t.line}
			for !p.isOp("}") {
				if len(d.keys) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
					if p.isOp("}") {
						break
					}
				}
				k, err := p.parseExpr(true)
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(":"); err != nil {
					return nil, err
				}
				v, err := p.parseExpr(true)
				if err != nil {
					return nil, err
				}
				d.keys = append(d.keys, k)
				d.vals = append(d.vals, v)
			}
			p.next()
			return d, nil
		}
	}
	return nil, p.failAt(t, "unexpected %s", t)
}

func (p *parser) parsePostfix(x expr) (expr, error) {
	for {
		t := p.cur()
		switch {
		case p.isOp("."):
			p.next()
			a := p.next()
			switch a.kind {
			case tokName:
				x = &attrExpr{line: t.line, x: x, name: a.val}
			case tokInt:
				x = &itemExpr{line: t.line, x: x, key: &constExpr{line: a.line, val: a.num}}
			default:
				return nil, p.failAt(a, "expected name or number")
			}
		case p.isOp("["):
			p.next()
			var args []expr
			for !p.isOp("]") {
				if len(args) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
				}
				a, err := p.parseSubscribed()
				if err != nil {
					return nil, err
				}
				args = append(args, a)
			}
			p.next()
			switch len(args) {
			case 0:
				return nil, p.failAt(t, "expected subscript expression")
			case 1:
				x = &itemExpr{line: t.line, x: x, key: args[0]}
			default:
				x = &itemExpr{line: t.line, x: x, key: &tupleExpr{line: t.line, items: args}}
			}
		case p.isOp("("):
			args, err := p.parseCallArgs()
			if err != nil {
				return nil, err
			}
			x = &callExpr{line: t.line, fn: x, args: args}
		default:
			return x, nil
		}
	}
}

func (p *parser) parseSubscribed() (expr, error) {
	line := p.cur().line
	var parts [3]expr
	if !p.isOp(":") {
		x, err := p.parseExpr(true)
		if err != nil {
			return nil, err
		}
		if !p.isOp(":") {
			return x, nil
		}
		parts[0] = x
	}
	p.next() // the first colon
	if !p.isOp(":") && !p.isOp("]") && !p.isOp(",") {
		x, err := p.parseExpr(true)
		if err != nil {
			return nil, err
		}
		parts[1] = x
	}
	if p.skipOp(":") && !p.isOp("]") && !p.isOp(",") {
		x, err := p.parseExpr(true)
		if err != nil {
			return nil, err
		}
		parts[2] = x
	}
	return &sliceExpr{line: line, start: parts[0], stop: parts[1], step: parts[2]}, nil
}

func (p *parser) parseCallArgs() (callArgs, error) {
	var a callArgs
	open := p.cur()
	if err := p.expectOp("("); err != nil {
		return a, err
	}
	bad := func() error { return p.failAt(open, "invalid syntax for function call expression") }
	first := true
	for !p.isOp(")") {
		if !first {
			if err := p.expectOp(","); err != nil {
				return a, err
			}
			if p.isOp(")") {
				break
			}
		}
		first = false
		switch {
		case p.isOp("*"):
			if a.star != nil || a.dstar != nil {
				return a, bad()
			}
			p.next()
			x, err := p.parseExpr(true)
			if err != nil {
				return a, err
			}
			a.star = x
		case p.isOp("**"):
			if a.dstar != nil {
				return a, bad()
			}
			p.next()
			x, err := p.parseExpr(true)
			if err != nil {
				return a, err
			}
			a.dstar = x
		case p.cur().kind == tokName && p.peek().kind == tokOp && p.peek().val == "=":
			if a.dstar != nil {
				return a, bad()
			}
			name := p.next().val
			p.next()
			x, err := p.parseExpr(true)
			if err != nil {
				return a, err
			}
			a.names = append(a.names, name)
			a.kw = append(a.kw, x)
		default:
			if a.star != nil || a.dstar != nil || len(a.kw) > 0 {
				return a, bad()
			}
			x, err := p.parseExpr(true)
			if err != nil {
				return a, err
			}
			a.pos = append(a.pos, x)
		}
	}
	p.next()
	return a, nil
}

// parseFilter parses "| name(args) | name ..." applied to x; with inline
// the first filter has no pipe (the filter block form).
func (p *parser) parseFilter(x expr, inline bool) (expr, error) {
	for p.isOp("|") || inline {
		if !inline {
			p.next()
		}
		inline = false
		t := p.cur()
		name, err := p.dottedName()
		if err != nil {
			return nil, err
		}
		var args callArgs
		if p.isOp("(") {
			if args, err = p.parseCallArgs(); err != nil {
				return nil, err
			}
		}
		x = &filterExpr{line: t.line, x: x, name: name, args: args}
	}
	return x, nil
}

func (p *parser) dottedName() (string, error) {
	name, err := p.expectName()
	if err != nil {
		return "", err
	}
	for p.skipOp(".") {
		n, err := p.expectName()
		if err != nil {
			return "", err
		}
		name += "." + n
	}
	return name, nil
}

func (p *parser) parseFilterExpr(x expr) (expr, error) {
	for {
		var err error
		switch {
		case p.isOp("|"):
			x, err = p.parseFilter(x, false)
		case p.isName("is"):
			x, err = p.parseTest(x)
		case p.isOp("("):
			line := p.cur().line
			var args callArgs
			args, err = p.parseCallArgs()
			x = &callExpr{line: line, fn: x, args: args}
		default:
			return x, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (p *parser) parseTest(x expr) (expr, error) {
	t := p.next() // "is"
	negated := p.skipName("not")
	name, err := p.dottedName()
	if err != nil {
		return nil, err
	}
	var args callArgs
	c := p.cur()
	switch {
	case p.isOp("("):
		if args, err = p.parseCallArgs(); err != nil {
			return nil, err
		}
	case c.kind == tokName && c.val != "else" && c.val != "or" && c.val != "and",
		c.kind == tokString, c.kind == tokInt, c.kind == tokFloat,
		p.isOp("["), p.isOp("{"):
		// A test takes one bare argument: "x is divisibleby 3".
		if p.isName("is") {
			return nil, p.failAt(c, "you cannot chain multiple tests with is")
		}
		a, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		if a, err = p.parsePostfix(a); err != nil {
			return nil, err
		}
		args.pos = []expr{a}
	}
	var out expr = &testExpr{line: t.line, x: x, name: name, args: args}
	if negated {
		out = &unaryExpr{line: t.line, op: "not", x: out}
	}
	return out, nil
}
