package tokenizer

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Byte-level BPE (GPT-2 style, tokenizer.ggml.model "gpt2") spells every
// byte of the text as one printable character (bytes_to_unicode): the
// printable bytes of Latin-1 stand for themselves, the other 68 for U+0100
// onwards in order. Token texts are written in those characters, so " the"
// is the token "Ġthe".

// byteRunes maps each byte to the character that stands for it.
var byteRunes = func() (t [256]rune) {
	next := rune(256)
	for b := range t {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE {
			t[b] = rune(b)
		} else {
			t[b] = next
			next++
		}
	}
	return t
}()

// runeBytes is the inverse of byteRunes: the byte that character r stands
// for, or -1, for r < len(runeBytes).
var runeBytes = func() (t [256 + 68]int16) {
	for i := range t {
		t[i] = -1
	}
	for b, r := range byteRunes {
		t[r] = int16(b)
	}
	return t
}()

// byteLevelDecode returns the bytes that a byte-level token text stands
// for, and whether every character of it stood for a byte. Characters that
// stand for none are kept as they are.
func byteLevelDecode(text string) (string, bool) {
	var b strings.Builder
	b.Grow(len(text))
	ok := true
	for _, r := range text {
		if r >= 0 && int(r) < len(runeBytes) && runeBytes[r] >= 0 {
			b.WriteByte(byte(runeBytes[r]))
			continue
		}
		ok = false
		b.WriteRune(r)
	}
	return b.String(), ok
}

// byteLevelEncode returns the byte-level spelling of raw bytes.
func byteLevelEncode(raw string) string {
	var b strings.Builder
	b.Grow(2 * len(raw))
	for i := 0; i < len(raw); i++ {
		b.WriteRune(byteRunes[raw[i]])
	}
	return b.String()
}

// merge is what a merge rule makes of a pair of symbols: its rank (lower
// merges first) and the id of the joined symbol.
type merge struct {
	rank, id int32
}

// pairKey packs the ids of two neighbouring symbols.
func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// bpe is the byte-pair-encoding model of a Tokenizer: how a piece of text
// between special tokens becomes tokens.
//
// Symbols are named by token id. A merge rule may produce or use a text
// that is not a token (llama.cpp ranks merges by text and allows this);
// such texts get ids from len(vocabulary) up, and a symbol left with one
// at the end is spelled in smaller tokens.
type bpe struct {
	pre          pretokenizer
	byteLevel    bool // symbols start as single bytes spelled byte-level; else as UTF-8 characters
	ignoreMerges bool // a pre-token that is a token is emitted whole
	n            int32
	merges       map[uint64]merge
	extra        map[string]int32 // ids of non-token texts used by merges
	byteIDs      [256]int32       // byte-level: the symbol of each byte
	rawIDs       map[string]int32 // byte-level with ignoreMerges: token of a pre-token's raw bytes

	// For symbols that are no token when not byte-level (Hugging Face
	// byte_fallback, unk_token, fuse_unk).
	byteFallback bool
	fallback     [256]int32 // <0xXX> tokens, -1 where missing
	unk          int32
	fuseUnk      bool
}

// newBPE builds the model for vocabulary tokens (with ids) and merge rules
// given as pairs of texts, in rank order.
func newBPE(tokens []string, ids map[string]int, pairs [][2]string, pre pretokenizer, byteLevel, ignoreMerges bool) *bpe {
	m := &bpe{
		pre:          pre,
		byteLevel:    byteLevel,
		ignoreMerges: ignoreMerges,
		n:            int32(len(tokens)),
		merges:       make(map[uint64]merge, len(pairs)),
		extra:        map[string]int32{},
		unk:          -1,
	}
	for b := range m.fallback {
		m.fallback[b] = -1
	}
	if byteLevel {
		for b, r := range byteRunes {
			m.byteIDs[b] = m.symbol(ids, string(r))
		}
	}
	for rank, p := range pairs {
		a, b := m.symbol(ids, p[0]), m.symbol(ids, p[1])
		key := pairKey(a, b)
		if _, dup := m.merges[key]; dup {
			continue // the first (highest-priority) rule wins, as in llama.cpp
		}
		m.merges[key] = merge{rank: int32(rank), id: m.symbol(ids, p[0]+p[1])}
	}
	if byteLevel && ignoreMerges {
		m.rawIDs = make(map[string]int32, len(tokens))
		for id, text := range tokens {
			if raw, ok := byteLevelDecode(text); ok {
				if _, dup := m.rawIDs[raw]; !dup {
					m.rawIDs[raw] = int32(id)
				}
			}
		}
	}
	return m
}

// symbol returns the id of text: its token id, or else an id of its own
// beyond the vocabulary.
func (m *bpe) symbol(ids map[string]int, text string) int32 {
	if id, ok := ids[text]; ok {
		return int32(id)
	}
	if id, ok := m.extra[text]; ok {
		return id
	}
	id := m.n + int32(len(m.extra))
	m.extra[text] = id
	return id
}

// charSymbol returns the id of a character when symbols are characters,
// or -1 if no token or merge knows it.
func (m *bpe) charSymbol(ids map[string]int, c string) int32 {
	if id, ok := ids[c]; ok {
		return int32(id)
	}
	if id, ok := m.extra[c]; ok {
		return id
	}
	return -1
}

// bpeSymbol is a run of a pre-token in the merge loop; symbols form a
// linked list in text order.
type bpeSymbol struct {
	id         int32
	start, end int32
	prev, next int32
	dead       bool // merged into its left neighbour
}

// bpeBigram is a candidate merge of neighbouring symbols left and right,
// whose ids were lid and rid when it was queued.
type bpeBigram struct {
	rank, id    int32
	left, right int32
	lid, rid    int32
}

// bpeQueue is a min-heap of bigrams: lowest rank first, then leftmost.
type bpeQueue = heap[bpeBigram]

func (a bpeBigram) before(b bpeBigram) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
}

// bpeScratch is the reusable memory of one Encode call.
type bpeScratch struct {
	pieces, tmp []string
	syms        []bpeSymbol
	q           bpeQueue
}

// encode appends the tokens of text, which holds no special tokens, to out.
func (m *bpe) encode(t *Tokenizer, text string, s *bpeScratch, out []int) []int {
	s.pieces, s.tmp = m.pre.split(text, s.pieces, s.tmp)
	for _, p := range s.pieces {
		out = m.encodePiece(t, p, s, out)
	}
	return out
}

// encodePiece appends the tokens of one pre-token to out.
func (m *bpe) encodePiece(t *Tokenizer, piece string, s *bpeScratch, out []int) []int {
	if piece == "" {
		return out
	}
	if m.rawIDs != nil {
		if id, ok := m.rawIDs[piece]; ok {
			return append(out, int(id))
		}
	}
	syms := m.symbols(t, piece, s.syms)
	if len(syms) <= linearMergeMax {
		m.mergeLinear(syms)
	} else {
		m.mergeHeap(syms, &s.q)
	}
	for i := int32(0); i >= 0; i = syms[i].next {
		sym := syms[i]
		if sym.id >= 0 && sym.id < m.n {
			out = append(out, int(sym.id))
			continue
		}
		out = m.spell(piece[sym.start:sym.end], out)
	}
	s.syms = syms
	return out
}

// symbols returns the symbols of a pre-token before merging, in buf.
func (m *bpe) symbols(t *Tokenizer, piece string, buf []bpeSymbol) []bpeSymbol {
	syms := buf[:0]
	if m.byteLevel {
		for i := 0; i < len(piece); i++ {
			syms = append(syms, bpeSymbol{id: m.byteIDs[piece[i]], start: int32(i), end: int32(i + 1), prev: int32(i - 1), next: int32(i + 1)})
		}
	} else {
		for i := 0; i < len(piece); {
			_, n := utf8.DecodeRuneInString(piece[i:])
			k := int32(len(syms))
			syms = append(syms, bpeSymbol{id: m.charSymbol(t.ids, piece[i:i+n]), start: int32(i), end: int32(i + n), prev: k - 1, next: k + 1})
			i += n
		}
	}
	syms[len(syms)-1].next = -1
	return syms
}

// linearMergeMax is the longest pre-token, in symbols, merged by scanning
// rather than with a heap: words are short, and for them a scan for the
// best pair beats heap upkeep.
const linearMergeMax = 48

// mergeLinear applies merge rules to a list of symbols until none applies:
// each step joins the pair of lowest rank, the leftmost of equals, which
// is the order of the heap in mergeHeap and of llama.cpp.
func (m *bpe) mergeLinear(syms []bpeSymbol) {
	// rank[i] and to[i] describe the merge of symbol i with the next.
	var rankBuf, toBuf [linearMergeMax]int32
	rank, to := rankBuf[:len(syms)], toBuf[:len(syms)]
	pair := func(i int32) {
		rank[i] = -1
		if j := syms[i].next; j >= 0 && syms[i].id >= 0 && syms[j].id >= 0 {
			if mg, ok := m.merges[pairKey(syms[i].id, syms[j].id)]; ok {
				rank[i], to[i] = mg.rank, mg.id
			}
		}
	}
	for i := range syms {
		pair(int32(i))
	}
	for {
		best := int32(-1)
		for i := int32(0); i >= 0; i = syms[i].next {
			if rank[i] >= 0 && (best < 0 || rank[i] < rank[best]) {
				best = i
			}
		}
		if best < 0 {
			return
		}
		l := &syms[best]
		r := &syms[l.next]
		l.id, l.end, l.next = to[best], r.end, r.next
		r.dead = true
		if l.next >= 0 {
			syms[l.next].prev = best
		}
		pair(best)
		if l.prev >= 0 {
			pair(l.prev)
		}
	}
}

// mergeHeap is mergeLinear for long pre-tokens, with the candidate merges
// in a heap.
func (m *bpe) mergeHeap(syms []bpeSymbol, q *bpeQueue) {
	*q = (*q)[:0]
	for i := 1; i < len(syms); i++ {
		m.tryMerge(syms, int32(i-1), int32(i), q)
	}
	for len(*q) > 0 {
		b := q.pop()
		l, r := &syms[b.left], &syms[b.right]
		// Skip candidates made stale by an earlier merge of either side.
		if l.dead || l.next != b.right || l.id != b.lid || r.id != b.rid {
			continue
		}
		l.id = b.id
		l.end = r.end
		l.next = r.next
		r.dead = true
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		m.tryMerge(syms, l.prev, b.left, q)
		m.tryMerge(syms, b.left, l.next, q)
	}
}

// tryMerge queues the merge of symbols left and right if a rule joins them.
func (m *bpe) tryMerge(syms []bpeSymbol, left, right int32, q *bpeQueue) {
	if left < 0 || right < 0 {
		return
	}
	lid, rid := syms[left].id, syms[right].id
	if lid < 0 || rid < 0 {
		return
	}
	if mg, ok := m.merges[pairKey(lid, rid)]; ok {
		q.push(bpeBigram{rank: mg.rank, id: mg.id, left: left, right: right, lid: lid, rid: rid})
	}
}

// spell appends the tokens for raw text that merging left as a symbol that
// is no token.
func (m *bpe) spell(raw string, out []int) []int {
	if m.byteLevel {
		// Single bytes are tokens in any usable byte-level vocabulary;
		// llama.cpp drops those that are not.
		for i := 0; i < len(raw); i++ {
			if id := m.byteIDs[raw[i]]; id < m.n {
				out = append(out, int(id))
			}
		}
		return out
	}
	if m.byteFallback {
		ok := true
		for i := 0; i < len(raw) && ok; i++ {
			ok = m.fallback[raw[i]] >= 0
		}
		if ok {
			for i := 0; i < len(raw); i++ {
				out = append(out, int(m.fallback[raw[i]]))
			}
			return out
		}
	}
	if m.unk < 0 {
		return out
	}
	if m.fuseUnk && len(out) > 0 && out[len(out)-1] == int(m.unk) {
		return out
	}
	return append(out, int(m.unk))
}

// splitMerge splits a merge rule written "a b" at its first space after
// the first byte, as llama.cpp does.
func splitMerge(rule string) ([2]string, error) {
	if len(rule) > 1 {
		if i := strings.IndexByte(rule[1:], ' '); i >= 0 {
			return [2]string{rule[:i+1], rule[i+2:]}, nil
		}
	}
	return [2]string{}, fmt.Errorf("merge rule %q is not two texts separated by a space", rule)
}

// bpePiece returns the text that a token of a byte-level vocabulary stands
// for, as llama.cpp's token_to_piece does with special tokens hidden.
func bpePiece(a attr, text string) string {
	switch {
	case a&(attrControl|attrUnknown) != 0:
		return ""
	case a&attrUserDefined != 0:
		return text
	case a&attrNormal != 0:
		raw, _ := byteLevelDecode(text)
		return raw
	case a&attrByte != 0:
		b, _ := parseByteToken(text)
		return string([]byte{b})
	}
	return ""
}

// encodeBPE is Encode for byte-level BPE.
func (t *Tokenizer) encodeBPE(text string, addSpecial, parseSpecial bool) []int {
	var out []int
	if addSpecial {
		out = append(out, t.prefix...)
	}
	var frags []fragment
	if t.hf != nil {
		frags = t.hf.partition(text, parseSpecial)
	} else {
		frags = t.partition(text, parseSpecial)
	}
	var s bpeScratch
	for _, f := range frags {
		if f.id >= 0 {
			out = append(out, f.id)
			continue
		}
		out = t.bpe.encode(t, f.text, &s, out)
	}
	if addSpecial {
		out = append(out, t.suffix...)
	}
	return out
}
