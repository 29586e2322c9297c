package chat

// Expressions.
type (
	expr interface{ exprLine() int }

	constExpr struct {
		line int
		val  any
	}
	nameExpr struct {
		line int
		name string
	}
	listExpr struct {
		line  int
		items []expr
	}
	tupleExpr struct {
		line  int
		items []expr
	}
	dictExpr struct {
		line       int
		keys, vals []expr
	}
	attrExpr struct { // x.name
		line int
		x    expr
		name string
	}
	itemExpr struct { // x[key]
		line int
		x    expr
		key  expr
	}
	sliceExpr struct { // start:stop:step inside [], any part may be nil
		line              int
		start, stop, step expr
	}
	callExpr struct {
		line int
		fn   expr
		args callArgs
	}
	filterExpr struct { // x | name(args); x is nil in a filter block
		line int
		x    expr
		name string
		args callArgs
	}
	testExpr struct { // x is name(args)
		line int
		x    expr
		name string
		args callArgs
	}
	unaryExpr struct { // not, -, +
		line int
		op   string
		x    expr
	}
	binaryExpr struct { // and, or, + - * / // % **
		line int
		op   string
		l, r expr
	}
	concatExpr struct { // a ~ b ~ c
		line  int
		items []expr
	}
	compareExpr struct { // x op y op z, chained as in Python
		line int
		x    expr
		ops  []string
		ys   []expr
	}
	condExpr struct { // then if test else els; els may be nil
		line            int
		test, then, els expr
	}
	nsRefExpr struct { // ns.attr as an assignment target
		line       int
		name, attr string
	}
)

type callArgs struct {
	pos   []expr
	names []string
	kw    []expr
	star  expr // *args
	dstar expr // **kwargs
}

func (e *constExpr) exprLine() int   { return e.line }
func (e *nameExpr) exprLine() int    { return e.line }
func (e *listExpr) exprLine() int    { return e.line }
func (e *tupleExpr) exprLine() int   { return e.line }
func (e *dictExpr) exprLine() int    { return e.line }
func (e *attrExpr) exprLine() int    { return e.line }
func (e *itemExpr) exprLine() int    { return e.line }
func (e *sliceExpr) exprLine() int   { return e.line }
func (e *callExpr) exprLine() int    { return e.line }
func (e *filterExpr) exprLine() int  { return e.line }
func (e *testExpr) exprLine() int    { return e.line }
func (e *unaryExpr) exprLine() int   { return e.line }
func (e *binaryExpr) exprLine() int  { return e.line }
func (e *concatExpr) exprLine() int  { return e.line }
func (e *compareExpr) exprLine() int { return e.line }
func (e *condExpr) exprLine() int    { return e.line }
func (e *nsRefExpr) exprLine() int   { return e.line }

// Statements.
type (
	node interface{ nodeLine() int }

	textNode struct {
		line int
		text string
	}
	outputNode struct { // {{ x }}
		line int
		x    expr
	}
	ifNode struct {
		line  int
		conds []expr   // if and elif conditions
		bodys [][]node // one body per condition
		els   []node
	}
	forNode struct {
		line      int
		target    expr // nameExpr or tupleExpr of names
		iter      expr
		filter    expr // the "if" of "for x in y if z", or nil
		body, els []node
		recursive bool
		unset     []string // see markFrames
		elseUnset []string
	}
	setNode struct {
		line   int
		target expr // nameExpr, tupleExpr or nsRefExpr
		x      expr
	}
	setBlockNode struct {
		line   int
		target expr
		filter *filterExpr // optional, applied to the captured text
		body   []node
		unset  []string // see markFrames
	}
	macroNode struct {
		line     int
		name     string
		params   []string
		defaults []expr // for the last len(defaults) params
		body     []node
		unset    []string // see markFrames
	}
	callBlockNode struct { // {% call(params) m(args) %}body{% endcall %}
		line     int
		call     *callExpr
		params   []string
		defaults []expr
		body     []node
		unset    []string // see markFrames
	}
	filterBlockNode struct {
		line   int
		filter *filterExpr
		body   []node
		unset  []string // see markFrames
	}
	withNode struct {
		line    int
		targets []expr
		values  []expr
		body    []node
		unset   []string // see markFrames
	}
	loopControlNode struct { // break or continue
		line int
		brk  bool
	}
	scopeNode struct { // a body run in place, e.g. {% generation %}
		line  int
		body  []node
		unset []string // see markFrames
	}
)

func (n *textNode) nodeLine() int        { return n.line }
func (n *outputNode) nodeLine() int      { return n.line }
func (n *ifNode) nodeLine() int          { return n.line }
func (n *forNode) nodeLine() int         { return n.line }
func (n *setNode) nodeLine() int         { return n.line }
func (n *setBlockNode) nodeLine() int    { return n.line }
func (n *macroNode) nodeLine() int       { return n.line }
func (n *callBlockNode) nodeLine() int   { return n.line }
func (n *filterBlockNode) nodeLine() int { return n.line }
func (n *withNode) nodeLine() int        { return n.line }
func (n *loopControlNode) nodeLine() int { return n.line }
func (n *scopeNode) nodeLine() int       { return n.line }
