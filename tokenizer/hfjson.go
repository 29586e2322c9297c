package tokenizer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The vocabulary and merges of a tokenizer.json hold hundreds of thousands
// of strings; encoding/json takes seconds over them (most of it for merges
// written as pairs), so these two parts are read by hand.

// jsonReader reads JSON values from data.
type jsonReader struct {
	data []byte
	pos  int
}

func (r *jsonReader) space() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (r *jsonReader) peek() byte {
	r.space()
	if r.pos >= len(r.data) {
		return 0
	}
	return r.data[r.pos]
}

func (r *jsonReader) errorf(format string, args ...any) error {
	return fmt.Errorf("JSON at byte %d: %s", r.pos, fmt.Sprintf(format, args...))
}

func (r *jsonReader) expect(c byte) error {
	if r.peek() != c {
		return r.errorf("want %q", c)
	}
	r.pos++
	return nil
}

// str reads a string. Plain ones are copied directly; those with escapes
// or invalid UTF-8 go through encoding/json.
func (r *jsonReader) str() (string, error) {
	if r.peek() != '"' {
		return "", r.errorf("want a string")
	}
	start := r.pos
	plain := true
	for i := start + 1; i < len(r.data); i++ {
		switch c := r.data[i]; {
		case c == '"':
			r.pos = i + 1
			if plain && utf8.Valid(r.data[start+1:i]) {
				return string(r.data[start+1 : i]), nil
			}
			var s string
			if err := json.Unmarshal(r.data[start:i+1], &s); err != nil {
				return "", fmt.Errorf("JSON at byte %d: %w", start, err)
			}
			return s, nil
		case c == '\\':
			plain = false
			i++
		case c < 0x20:
			return "", r.errorf("control character in string")
		}
	}
	return "", r.errorf("unterminated string")
}

// integer reads a non-negative integer.
func (r *jsonReader) integer() (int, error) {
	r.space()
	start := r.pos
	for r.pos < len(r.data) && r.data[r.pos] >= '0' && r.data[r.pos] <= '9' {
		r.pos++
	}
	n, err := strconv.Atoi(string(r.data[start:r.pos]))
	if err != nil || r.pos-start > 9 {
		r.pos = start
		return 0, r.errorf("want a vocabulary id")
	}
	return n, nil
}

// end reports an error if anything but space is left.
func (r *jsonReader) end() error {
	if r.peek() != 0 {
		return r.errorf("unexpected data")
	}
	return nil
}

// parseVocab reads an object of token texts and ids.
func parseVocab(data []byte) (map[string]int, error) {
	r := &jsonReader{data: data}
	if r.peek() == 'n' {
		return nil, nil // null
	}
	if err := r.expect('{'); err != nil {
		return nil, err
	}
	m := make(map[string]int, len(data)/16)
	for first := true; r.peek() != '}'; first = false {
		if !first {
			if err := r.expect(','); err != nil {
				return nil, err
			}
		}
		k, err := r.str()
		if err != nil {
			return nil, err
		}
		if err := r.expect(':'); err != nil {
			return nil, err
		}
		id, err := r.integer()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("vocabulary has %q twice", k)
		}
		m[k] = id
	}
	r.pos++
	return m, r.end()
}

// parseMerges reads an array of merge rules, each "a b" or ["a", "b"].
func parseMerges(data []byte) ([][2]string, error) {
	r := &jsonReader{data: data}
	if r.peek() == 'n' {
		return nil, nil // null
	}
	if err := r.expect('['); err != nil {
		return nil, err
	}
	var out [][2]string
	for first := true; r.peek() != ']'; first = false {
		if !first {
			if err := r.expect(','); err != nil {
				return nil, err
			}
		}
		if r.peek() == '"' {
			s, err := r.str()
			if err != nil {
				return nil, err
			}
			p, err := splitMerge(s)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
			continue
		}
		if err := r.expect('['); err != nil {
			return nil, err
		}
		a, err := r.str()
		if err != nil {
			return nil, err
		}
		if err := r.expect(','); err != nil {
			return nil, err
		}
		b, err := r.str()
		if err != nil {
			return nil, err
		}
		if err := r.expect(']'); err != nil {
			return nil, err
		}
		out = append(out, [2]string{a, b})
	}
	r.pos++
	return out, r.end()
}
