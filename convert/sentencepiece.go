package convert

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// spPiece is one entry of a SentencePiece model's vocabulary.
type spPiece struct {
	text  string
	score float32
	typ   int32 // sentencepiece.ModelProto.SentencePiece.Type, GGUF's token types
}

// SentencePiece piece types. GGUF's tokenizer.ggml.token_type uses the
// same numbers.
const (
	spNormal      = 1
	spUnknown     = 2
	spControl     = 3
	spUserDefined = 4
	spUnused      = 5
	spByte        = 6
)

// maxPieces bounds the vocabulary a tokenizer.model may declare, far above
// any real one (Gemma's 262144), so that a corrupt file cannot make the
// parser allocate without end.
const maxPieces = 1 << 22

// parseSentencePiece reads the pieces of a serialized SentencePiece
// ModelProto (tokenizer.model). Only field 1, the repeated SentencePiece
// messages {1: piece, 2: score, 3: type}, is read; the trainer and
// normalizer specs and any other field are skipped, as the protobuf wire
// format allows. Every length, tag and value is checked.
func parseSentencePiece(data []byte) ([]spPiece, error) {
	var pieces []spPiece
	r := wireReader{b: data}
	for !r.done() {
		field, wt, err := r.tag()
		if err != nil {
			return nil, err
		}
		if field != 1 {
			if err := r.skip(wt); err != nil {
				return nil, fmt.Errorf("field %d: %w", field, err)
			}
			continue
		}
		if wt != wireBytes {
			return nil, fmt.Errorf("piece %d: wire type %d, want a message", len(pieces), wt)
		}
		msg, err := r.bytes()
		if err != nil {
			return nil, fmt.Errorf("piece %d: %w", len(pieces), err)
		}
		if len(pieces) == maxPieces {
			return nil, fmt.Errorf("more than %d pieces", maxPieces)
		}
		p, err := parsePiece(msg)
		if err != nil {
			return nil, fmt.Errorf("piece %d: %w", len(pieces), err)
		}
		pieces = append(pieces, p)
	}
	if len(pieces) == 0 {
		return nil, errors.New("no pieces")
	}
	return pieces, nil
}

// parsePiece reads one SentencePiece message. Absent fields take proto2's
// defaults: an empty piece, score 0, type NORMAL; a repeated field keeps
// its last value.
func parsePiece(msg []byte) (spPiece, error) {
	p := spPiece{typ: spNormal}
	r := wireReader{b: msg}
	for !r.done() {
		field, wt, err := r.tag()
		if err != nil {
			return p, err
		}
		switch {
		case field == 1 && wt == wireBytes:
			b, err := r.bytes()
			if err != nil {
				return p, fmt.Errorf("piece text: %w", err)
			}
			if !utf8.Valid(b) {
				return p, fmt.Errorf("piece text %q is not UTF-8", b)
			}
			p.text = string(b)
		case field == 2 && wt == wireFixed32:
			v, err := r.fixed32()
			if err != nil {
				return p, fmt.Errorf("score: %w", err)
			}
			p.score = math.Float32frombits(v)
			if math.IsNaN(float64(p.score)) || math.IsInf(float64(p.score), 0) {
				return p, fmt.Errorf("score of %q is %g", p.text, p.score)
			}
		case field == 3 && wt == wireVarint:
			v, err := r.varint()
			if err != nil {
				return p, fmt.Errorf("type: %w", err)
			}
			if v < spNormal || v > spByte {
				return p, fmt.Errorf("type %d of %q is not one of SentencePiece's 1-6", int64(v), p.text)
			}
			p.typ = int32(v)
		case field <= 3:
			return p, fmt.Errorf("field %d has wire type %d", field, wt)
		default:
			if err := r.skip(wt); err != nil {
				return p, fmt.Errorf("field %d: %w", field, err)
			}
		}
	}
	return p, nil
}

// Protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// wireReader reads protobuf's wire format from b.
type wireReader struct {
	b   []byte
	off int
}

func (r *wireReader) done() bool { return r.off >= len(r.b) }

func (r *wireReader) varint() (uint64, error) {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		return 0, fmt.Errorf("bad varint at byte %d", r.off)
	}
	r.off += n
	return v, nil
}

// tag reads a field's key: its number and wire type.
func (r *wireReader) tag() (int, int, error) {
	at := r.off
	v, err := r.varint()
	if err != nil {
		return 0, 0, err
	}
	field, wt := v>>3, int(v&7)
	if field == 0 || field > 1<<29-1 {
		return 0, 0, fmt.Errorf("bad field number %d at byte %d", field, at)
	}
	return int(field), wt, nil
}

func (r *wireReader) bytes() ([]byte, error) {
	n, err := r.varint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)-r.off) {
		return nil, fmt.Errorf("length %d at byte %d runs past the end (%d bytes)", n, r.off, len(r.b))
	}
	b := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return b, nil
}

func (r *wireReader) fixed32() (uint32, error) {
	if len(r.b)-r.off < 4 {
		return 0, fmt.Errorf("truncated 32-bit value at byte %d", r.off)
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v, nil
}

// skip passes over a field's value. Groups (wire types 3 and 4), which
// SentencePiece's schema does not use, are refused.
func (r *wireReader) skip(wt int) error {
	switch wt {
	case wireVarint:
		_, err := r.varint()
		return err
	case wireFixed64:
		if len(r.b)-r.off < 8 {
			return fmt.Errorf("truncated 64-bit value at byte %d", r.off)
		}
		r.off += 8
		return nil
	case wireBytes:
		_, err := r.bytes()
		return err
	case wireFixed32:
		_, err := r.fixed32()
		return err
	}
	return fmt.Errorf("unsupported wire type %d at byte %d", wt, r.off)
}
