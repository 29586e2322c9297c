package tokenizer

import "strings"

// spaceMark is U+2581, which SentencePiece writes in place of a space.
const spaceMark = "\u2581"

// fragment is a piece of the input: either a special token found in the
// text (id >= 0) or raw text still to be encoded.
type fragment struct {
	id   int
	text string
}

// Encode returns the tokens of text.
//
// With addSpecial, BOS is prepended if the vocabulary asks for it, and EOS
// appended likewise (for a Tokenizer from FromHF: what the post-processor
// adds). With parseSpecial, the texts of control and unknown tokens (such
// as "<s>") found in text become those tokens; without it they are encoded
// as plain text. The texts of user-defined tokens (Hugging Face added
// tokens that are not special) are always recognised, as in llama.cpp.
func (t *Tokenizer) Encode(text string, addSpecial, parseSpecial bool) []int {
	if t.bpe != nil {
		return t.encodeBPE(text, addSpecial, parseSpecial)
	}
	var out []int
	// As llama.cpp does: a space goes before the first text and before any
	// text that follows a special token.
	prevSpecial := true
	if addSpecial && t.v.AddBOS {
		out = append(out, t.v.BOS)
	}
	var s session
	for _, f := range t.partition(text, parseSpecial) {
		if f.id >= 0 {
			out = append(out, f.id)
			prevSpecial = true
			continue
		}
		raw := f.text
		if t.v.AddSpacePrefix && prevSpecial {
			raw = " " + raw
		}
		out = s.encode(t, strings.ReplaceAll(raw, " ", spaceMark), out)
		prevSpecial = false
	}
	if addSpecial && t.v.AddEOS {
		out = append(out, t.v.EOS)
	}
	return out
}

// partition splits text at the special tokens it contains, trying the
// longest tokens first, as llama.cpp's tokenizer_st_partition does.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	if text == "" {
		return nil
	}
	frags := []fragment{{id: -1, text: text}}
	var next []fragment
	for _, id := range t.special {
		if !parseSpecial && t.attrs[id]&(attrControl|attrUnknown) != 0 {
			continue
		}
		tok := t.v.Tokens[id]
		next = next[:0]
		for _, f := range frags {
			if f.id >= 0 {
				next = append(next, f)
				continue
			}
			rest := f.text
			for {
				i := strings.Index(rest, tok)
				if i < 0 {
					break
				}
				if i > 0 {
					next = append(next, fragment{id: -1, text: rest[:i]})
				}
				next = append(next, fragment{id: id})
				rest = rest[i+len(tok):]
			}
			if rest != "" {
				next = append(next, fragment{id: -1, text: rest})
			}
		}
		frags, next = next, frags
	}
	return frags
}

// symbol is a run of text in a session: one UTF-8 character at first, then
// whatever merges grow it to. Symbols form a linked list in text order;
// a symbol merged into its left neighbour has n == 0.
type symbol struct {
	prev, next int
	start, n   int
}

// bigram is a candidate merge of two neighbouring symbols into a token
// whose text is size bytes long.
type bigram struct {
	left, right int
	score       float32
	size        int
}

// queue is a max-heap of bigrams: highest score first, then leftmost.
type queue = heap[bigram]

func (a bigram) before(b bigram) bool {
	return a.score > b.score || (a.score == b.score && a.left < b.left)
}

// session holds the scratch space of one encoding.
type session struct {
	text string
	syms []symbol
	q    queue
}

// encode appends the tokens of text, already escaped, to out.
func (s *session) encode(t *Tokenizer, text string, out []int) []int {
	s.text = text
	if cap(s.syms) < len(text) {
		// At most one symbol per byte; size the scratch space once.
		s.syms = make([]symbol, 0, len(text))
		s.q = make(queue, 0, len(text))
	}
	s.syms = s.syms[:0]
	s.q = s.q[:0]
	for off := 0; off < len(text); {
		n := min(utf8Len(text[off]), len(text)-off)
		i := len(s.syms)
		next := i + 1
		if off+n == len(text) {
			next = -1
		}
		s.syms = append(s.syms, symbol{prev: i - 1, next: next, start: off, n: n})
		off += n
	}
	for i := 1; i < len(s.syms); i++ {
		s.tryBigram(t, i-1, i)
	}
	for len(s.q) > 0 {
		b := s.q.pop()
		left, right := &s.syms[b.left], &s.syms[b.right]
		// Skip merges made stale by an earlier merge of either symbol.
		if left.n == 0 || right.n == 0 || left.n+right.n != b.size {
			continue
		}
		left.n += right.n
		right.n = 0
		left.next = right.next
		if right.next >= 0 {
			s.syms[right.next].prev = b.left
		}
		s.tryBigram(t, left.prev, b.left)
		s.tryBigram(t, b.left, left.next)
	}
	for i := 0; i != -1 && len(s.syms) > 0; i = s.syms[i].next {
		sym := s.syms[i]
		piece := text[sym.start : sym.start+sym.n]
		if id, ok := t.ids[piece]; ok {
			out = append(out, id)
			continue
		}
		// A symbol that is no token is a single character (merges only
		// make tokens): spell it in bytes.
		for j := 0; j < len(piece); j++ {
			if id := t.bytes[piece[j]]; id >= 0 {
				out = append(out, id)
			}
		}
	}
	return out
}

// tryBigram queues the merge of symbols left and right if their joined
// text is a token.
func (s *session) tryBigram(t *Tokenizer, left, right int) {
	if left < 0 || right < 0 {
		return
	}
	l, r := s.syms[left], s.syms[right]
	id, ok := t.ids[s.text[l.start:l.start+l.n+r.n]]
	if !ok {
		return
	}
	var score float32
	if len(t.v.Scores) > 0 {
		score = t.v.Scores[id]
	}
	s.q.push(bigram{left: left, right: right, score: score, size: l.n + r.n})
}

// utf8Len returns the length of the UTF-8 sequence that starts with byte b,
// judged from its high bits alone as llama.cpp does: continuation and
// invalid bytes count as one.
func utf8Len(b byte) int {
	switch {
	case b < 0xC0:
		return 1
	case b < 0xE0:
		return 2
	case b < 0xF0:
		return 3
	}
	return 4
}
