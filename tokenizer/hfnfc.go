package tokenizer

import (
	"sort"
	"strings"
	"unicode/utf8"
)

//go:generate python3 ../testdata/tokenizers/gen_nfc.py

// Types of the generated tables in hfnfc_tables.go.
type (
	nfcDecomposition struct {
		r, a, b rune
		c       bool
	}
	nfcClassRange struct {
		lo, hi rune
		ccc    uint8
	}
	runeRange struct{ lo, hi rune }
)

// Hangul syllables decompose and compose by arithmetic rather than tables.
const (
	hangulS0     = 0xAC00
	hangulL0     = 0x1100
	hangulV0     = 0x1161
	hangulT0     = 0x11A7
	hangulLCount = 19
	hangulVCount = 21
	hangulTCount = 28
	hangulNCount = hangulVCount * hangulTCount
	hangulSCount = hangulLCount * hangulNCount
)

// nfcPairs maps a pair of characters to the primary composite that NFC
// puts in their place. It is built once from nfcDecomp and never changed.
var nfcPairs = func() map[[2]rune]rune {
	m := make(map[[2]rune]rune, 1024)
	for _, d := range nfcDecomp {
		if d.c {
			m[[2]rune{d.a, d.b}] = d.r
		}
	}
	return m
}()

// nfc returns s in Unicode Normalization Form C. Invalid UTF-8 bytes are
// kept as they are and block composition across them.
func nfc(s string) string {
	if nfcQuick(s) {
		return s
	}
	// Decompose and order each run of combining characters, then compose.
	var buf []rune
	var out strings.Builder
	out.Grow(len(s))
	flush := func() {
		out.WriteString(string(nfcCompose(buf)))
		buf = buf[:0]
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			flush()
			out.WriteByte(s[i])
			i++
			continue
		}
		buf = nfcDecompose(buf, r)
		i += n
	}
	flush()
	return out.String()
}

// nfcQuick reports whether s is certainly in NFC already: it holds no
// character that NFC could change or that could combine with its
// neighbours.
func nfcQuick(s string) bool {
	for _, r := range s {
		if r >= 0x300 && inRanges(nfcUnsafe[:], r) {
			return false
		}
	}
	return true
}

func inRanges(rs []runeRange, r rune) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].hi >= r })
	return i < len(rs) && rs[i].lo <= r
}

// combiningClass returns the canonical combining class of r.
func combiningClass(r rune) uint8 {
	if r < 0x300 {
		return 0
	}
	t := nfcCombining[:]
	i := sort.Search(len(t), func(i int) bool { return t[i].hi >= r })
	if i < len(t) && t[i].lo <= r {
		return t[i].ccc
	}
	return 0
}

// nfcDecompose appends the full canonical decomposition of r to buf,
// keeping each run of combining characters in canonical order.
func nfcDecompose(buf []rune, r rune) []rune {
	if s := r - hangulS0; s >= 0 && s < hangulSCount {
		buf = append(buf, hangulL0+s/hangulNCount, hangulV0+(s%hangulNCount)/hangulTCount)
		if t := s % hangulTCount; t != 0 {
			buf = append(buf, hangulT0+t)
		}
		return buf
	}
	if r >= 0xC0 {
		t := nfcDecomp[:]
		i := sort.Search(len(t), func(i int) bool { return t[i].r >= r })
		if i < len(t) && t[i].r == r {
			buf = nfcDecompose(buf, t[i].a)
			if t[i].b != 0 {
				buf = nfcDecompose(buf, t[i].b)
			}
			return buf
		}
	}
	buf = append(buf, r)
	// Canonical ordering: move r left past characters of higher class.
	c := combiningClass(r)
	if c == 0 {
		return buf
	}
	for j := len(buf) - 1; j > 0; j-- {
		p := combiningClass(buf[j-1])
		if p == 0 || p <= c {
			break
		}
		buf[j-1], buf[j] = buf[j], buf[j-1]
	}
	return buf
}

// nfcCompose applies canonical composition to a decomposed, ordered
// sequence, in place.
func nfcCompose(rs []rune) []rune {
	if len(rs) == 0 {
		return rs
	}
	starter := -1 // index of the last starter that may still compose
	var last uint8
	out := rs[:0]
	for _, r := range rs {
		c := combiningClass(r)
		if starter >= 0 {
			// r is blocked from the starter if a character between them
			// has a class of zero or at least r's.
			blocked := len(out) > starter+1 && (last == 0 || last >= c)
			if !blocked {
				if comp, ok := composePair(out[starter], r); ok {
					out[starter] = comp
					continue
				}
			}
		}
		if c == 0 {
			starter = len(out)
		}
		last = c
		out = append(out, r)
	}
	return out
}

// composePair returns the primary composite of a and b, if there is one.
func composePair(a, b rune) (rune, bool) {
	if l := a - hangulL0; l >= 0 && l < hangulLCount {
		if v := b - hangulV0; v >= 0 && v < hangulVCount {
			return hangulS0 + (l*hangulVCount+v)*hangulTCount, true
		}
		return 0, false
	}
	if s := a - hangulS0; s >= 0 && s < hangulSCount && s%hangulTCount == 0 {
		if t := b - hangulT0; t > 0 && t < hangulTCount {
			return a + t, true
		}
		return 0, false
	}
	r, ok := nfcPairs[[2]rune{a, b}]
	return r, ok
}
