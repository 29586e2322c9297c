package convert

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// appendSentencePiece serializes pieces as a ModelProto holding only its
// pieces field, as the SentencePiece library writes each of them (text,
// score, and the type unless NORMAL, the default).
func appendSentencePiece(out []byte, pieces []spPiece) []byte {
	for _, p := range pieces {
		var msg []byte
		msg = binary.AppendUvarint(msg, 1<<3|wireBytes)
		msg = binary.AppendUvarint(msg, uint64(len(p.text)))
		msg = append(msg, p.text...)
		msg = binary.AppendUvarint(msg, 2<<3|wireFixed32)
		msg = binary.LittleEndian.AppendUint32(msg, math.Float32bits(p.score))
		if p.typ != spNormal {
			msg = binary.AppendUvarint(msg, 3<<3|wireVarint)
			msg = binary.AppendUvarint(msg, uint64(p.typ))
		}
		out = appendField(out, 1, msg)
	}
	return out
}

// appendField appends a length-delimited field.
func appendField(out []byte, field int, data []byte) []byte {
	out = binary.AppendUvarint(out, uint64(field)<<3|wireBytes)
	out = binary.AppendUvarint(out, uint64(len(data)))
	return append(out, data...)
}

// tinyPieces is a small SentencePiece BPE vocabulary of n pieces laid out
// as real ones are: the special pieces (llamaSpecials if nil), the 256
// byte pieces, then merged pieces with falling scores. The last but one
// piece is user-defined and the last unused.
func tinyPieces(n int, specials []spPiece) []spPiece {
	if specials == nil {
		specials = llamaSpecials
	}
	pieces := slices.Clone(specials)
	for b := 0; b < 256; b++ {
		pieces = append(pieces, spPiece{fmt.Sprintf("<0x%02X>", b), 0, spByte})
	}
	merged := []string{"▁t", "he", "▁a", "▁the", "in", "▁s", "er", "▁w", "on", "at", "▁c", "▁b", "en", "an", "▁o",
		"it", "ou", "▁f", "ed", "▁m", "is", "ar", "▁h", "▁d", "or", "es", "▁p", "▁i", "ing", "▁to", "le", "▁he", "▁in"}
	for i := 0; len(pieces) < n; i++ {
		text := fmt.Sprintf("▁w%d", i)
		if i < len(merged) {
			text = merged[i]
		}
		pieces = append(pieces, spPiece{text, -float32(i), spNormal})
	}
	pieces[n-2].typ = spUserDefined
	pieces[n-1].typ = spUnused
	return pieces[:n]
}

// The special pieces that begin Llama's and Gemma's SentencePiece models.
var (
	llamaSpecials = []spPiece{{"<unk>", 0, spUnknown}, {"<s>", 0, spControl}, {"</s>", 0, spControl}}
	gemmaSpecials = []spPiece{{"<pad>", 0, spControl}, {"<eos>", 0, spControl}, {"<bos>", 0, spControl}, {"<unk>", 0, spUnknown}}
)

// writeSentencePiece writes pieces as dir/tokenizer.model.
func writeSentencePiece(t *testing.T, dir string, pieces []spPiece) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.model"), appendSentencePiece(nil, pieces), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseSentencePiece(t *testing.T) {
	pieces := tinyPieces(300, nil)
	got, err := parseSentencePiece(appendSentencePiece(nil, pieces))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, pieces) {
		t.Fatalf("round trip: %d pieces, first differences %v", len(got), firstDiff(got, pieces))
	}

	// Fields other than the pieces, as real models have them (trainer
	// and normalizer specs), and unknown fields inside a piece, of every
	// wire type, are skipped.
	var data []byte
	data = appendField(data, 2, []byte{0x0a, 3, 'b', 'p', 'e'}) // trainer_spec
	data = appendSentencePiece(data, pieces[:2])
	data = appendField(data, 3, []byte{0x08, 1}) // normalizer_spec
	extra := appendSentencePiece(nil, pieces[2:3])
	msg := extra[2:] // the piece's message without its own key and length
	msg = binary.AppendUvarint(msg, 9<<3|wireVarint)
	msg = binary.AppendUvarint(msg, 300)
	msg = binary.AppendUvarint(msg, 10<<3|wireFixed64)
	msg = binary.LittleEndian.AppendUint64(msg, 7)
	msg = binary.AppendUvarint(msg, 11<<3|wireFixed32)
	msg = binary.LittleEndian.AppendUint32(msg, 7)
	data = appendField(data, 1, msg)
	data = binary.AppendUvarint(data, 5<<3|wireVarint)
	data = binary.AppendUvarint(data, 1)
	got, err = parseSentencePiece(data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, pieces[:3]) {
		t.Errorf("with other fields: %v, want %v", got, pieces[:3])
	}

	// A piece without type or score is a normal piece of score 0.
	got, err = parseSentencePiece(appendField(nil, 1, []byte{0x0a, 1, 'x'}))
	if err != nil || len(got) != 1 || got[0] != (spPiece{"x", 0, spNormal}) {
		t.Errorf("defaults: %v, %v", got, err)
	}
}

func firstDiff(a, b []spPiece) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("%d: %v, want %v", i, a[i], b[i])
		}
	}
	return "in length"
}

func TestParseSentencePieceErrors(t *testing.T) {
	piece := func(fields ...[]byte) []byte { return appendField(nil, 1, slices.Concat(fields...)) }
	text := func(s string) []byte { return appendField(nil, 1, []byte(s)) }
	varint := func(field int, v uint64) []byte {
		return binary.AppendUvarint(binary.AppendUvarint(nil, uint64(field)<<3|wireVarint), v)
	}
	score := func(f float32) []byte {
		return binary.LittleEndian.AppendUint32(binary.AppendUvarint(nil, 2<<3|wireFixed32), math.Float32bits(f))
	}
	good := piece(text("a"), score(-1))
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no pieces"},
		{"only other fields", appendField(nil, 2, []byte{1}), "no pieces"},
		{"truncated message", good[:len(good)-1], "runs past the end"},
		{"truncated length", []byte{0x0a}, "bad varint"},
		{"truncated score", piece(text("a"), score(1)[:3]), "truncated 32-bit"},
		{"field zero", []byte{0x00, 0x01}, "bad field number 0"},
		{"group", []byte{0x13}, "wire type 3"},
		{"pieces not a message", varint(1, 5), "want a message"},
		{"text not bytes", piece(varint(1, 5)), "field 1 has wire type 0"},
		{"score not fixed32", piece(text("a"), varint(2, 1)), "field 2 has wire type 0"},
		{"invalid UTF-8", piece(text("a\xff")), "not UTF-8"},
		{"NaN score", piece(text("a"), score(float32(math.NaN()))), "score"},
		{"infinite score", piece(text("a"), score(float32(math.Inf(-1)))), "score"},
		{"type 0", piece(text("a"), varint(3, 0)), "type 0"},
		{"type 7", piece(text("a"), varint(3, 7)), "type 7"},
		{"negative type", piece(text("a"), varint(3, math.MaxUint64)), "type -1"},
		{"bad field inside piece", slices.Concat(good, piece(text("b"), []byte{0x00})), "piece 1"},
		{"truncated fixed64", []byte{0x11, 1, 2}, "truncated 64-bit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSentencePiece(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func FuzzParseSentencePiece(f *testing.F) {
	f.Add(appendSentencePiece(nil, tinyPieces(262, nil)))
	f.Add(appendField(appendField(nil, 2, []byte{0x0a, 1, 'x'}), 1, []byte{0x0a, 1, 'y', 0x18, 3}))
	f.Add([]byte{0x0a, 0x05, 0x0a, 0x01, 'a', 0x18, 0x06})
	f.Fuzz(func(t *testing.T, data []byte) {
		pieces, err := parseSentencePiece(data)
		if err != nil {
			return
		}
		// Whatever parses must come back the same from its own
		// serialization, and be something GGUF can hold.
		for _, p := range pieces {
			if p.typ < spNormal || p.typ > spByte || math.IsNaN(float64(p.score)) || math.IsInf(float64(p.score), 0) {
				t.Fatalf("invalid piece %+v accepted", p)
			}
		}
		again, err := parseSentencePiece(appendSentencePiece(nil, pieces))
		if err != nil {
			t.Fatalf("reparsing: %v", err)
		}
		if !slices.EqualFunc(again, pieces, func(a, b spPiece) bool {
			return a.text == b.text && a.typ == b.typ && math.Float32bits(a.score) == math.Float32bits(b.score)
		}) {
			t.Fatalf("round trip changed the pieces: %v", firstDiff(again, pieces))
		}
	})
}
