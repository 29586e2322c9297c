package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// piece computes the text that token id stands for, as llama.cpp's
// llama_token_to_piece does with special tokens hidden.
func (t *Tokenizer) piece(id int) string {
	a, text := t.attrs[id], t.v.Tokens[id]
	if t.hf != nil {
		return t.hf.piece(a, text)
	}
	if t.bpe != nil {
		return bpePiece(a, text)
	}
	switch {
	case a&(attrControl|attrUnknown) != 0:
		return ""
	case a&attrUserDefined != 0:
		return text
	case a&attrNormal != 0:
		return strings.ReplaceAll(text, spaceMark, " ")
	case a&attrByte != 0:
		b, _ := parseByteToken(text) // checked by New
		return string([]byte{b})
	}
	// Unused and undefined tokens, like control tokens, print nothing.
	return ""
}

// Piece returns the text of token id with U+2581 shown as a space: a byte
// token gives its single raw byte (possibly part of a UTF-8 sequence),
// control and unknown tokens give "". This is what llama.cpp prints for
// each token during generation. Out-of-range ids give "".
func (t *Tokenizer) Piece(id int) string {
	if id < 0 || id >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

// Decode returns the text of ids: the concatenated pieces, with the space
// that Encode prepends removed from the first token (after a leading BOS)
// when the vocabulary adds a space prefix. So Decode(Encode(s, addSpecial,
// false)) == s for valid UTF-8 s without U+2581 (and, with byte-level BPE,
// for any s).
//
// llama.cpp's llama_detokenize differs in two cases: it keeps the space
// when the ids start with BOS, and with byte-level BPE it removes some
// spaces before punctuation (clean_spaces). A Tokenizer from FromHF removes
// those spaces when its configuration asks for it, as Hugging Face's decode
// does.
func (t *Tokenizer) Decode(ids []int) string {
	var b strings.Builder
	d := t.NewDecoder()
	for _, id := range ids {
		b.WriteString(d.piece(id))
	}
	if d.clean != nil {
		return cleanup(b.String())
	}
	return b.String()
}

// A Decoder decodes a stream of tokens one at a time, returning only whole
// UTF-8 characters: bytes of a character that byte tokens have only begun
// are held until the rest arrives. The concatenation of its results and
// Flush equals Decode of the same ids.
//
// To stream a continuation of a prompt, Add the prompt's tokens first (and
// ignore their text), so that the space before the first generated word is
// kept.
type Decoder struct {
	t       *Tokenizer
	started bool // a token other than a leading BOS has been seen
	bos     bool // a leading BOS has been seen
	pending []byte
	clean   *cleaner // Hugging Face space clean-up, or nil
}

// NewDecoder returns a Decoder at the start of a sequence.
func (t *Tokenizer) NewDecoder() *Decoder { return t.newDecoder(false) }

// NewContinuationDecoder returns a Decoder for tokens that continue a
// prompt: every piece keeps its spaces, as llama.cpp prints generated text,
// even when the prompt was only BOS.
func (t *Tokenizer) NewContinuationDecoder() *Decoder { return t.newDecoder(true) }

func (t *Tokenizer) newDecoder(started bool) *Decoder {
	d := &Decoder{t: t, started: started}
	if t.hf != nil && t.hf.cleanup {
		d.clean = &cleaner{}
	}
	return d
}

// piece returns the piece of id, dropping the leading space of the first
// token of the sequence where the vocabulary prepends one.
func (d *Decoder) piece(id int) string {
	p := d.t.Piece(id)
	if d.started {
		return p
	}
	if id == d.t.v.BOS && !d.bos {
		d.bos = true
		return p
	}
	d.started = true
	if d.t.v.AddSpacePrefix {
		p = strings.TrimPrefix(p, " ")
	}
	return p
}

// Add decodes token id and returns the text that is now complete, which may
// be "".
func (d *Decoder) Add(id int) string {
	d.pending = append(d.pending, d.piece(id)...)
	n := completePrefix(d.pending)
	out := string(d.pending[:n])
	d.pending = append(d.pending[:0], d.pending[n:]...)
	if d.clean != nil {
		out = d.clean.write(out, false)
	}
	return out
}

// Flush returns the text still held (an incomplete UTF-8 sequence, and
// spaces held back while it is unknown whether clean-up removes them) and
// empties the Decoder's buffer. Call it when the stream ends.
func (d *Decoder) Flush() string {
	out := string(d.pending)
	d.pending = d.pending[:0]
	if d.clean != nil {
		out = d.clean.write(out, true)
	}
	return out
}

// completePrefix returns the length of the longest prefix of b that does
// not end inside an unfinished UTF-8 sequence. Invalid bytes count as
// complete, so they are passed on rather than held forever.
func completePrefix(b []byte) int {
	// Find the start of the last character: at most UTFMax-1 continuation
	// bytes back.
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}
