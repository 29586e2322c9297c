package chat

import (
	"fmt"
	"strings"
	"time"
)

// maxRange is the longest range() the Jinja2 sandbox allows.
const maxRange = 100000

// globals are the functions every template can call, as in transformers'
// environment: Jinja2's range, dict and namespace, plus raise_exception
// and strftime_now.
func globals() map[string]any {
	return map[string]any{
		"range":           &builtin{name: "range", fn: builtinRange},
		"dict":            &builtin{name: "dict", fn: builtinDict},
		"namespace":       &builtin{name: "namespace", fn: builtinNamespace},
		"raise_exception": &builtin{name: "raise_exception", fn: builtinRaise},
		"strftime_now":    &builtin{name: "strftime_now", fn: builtinStrftimeNow},
	}
}

func builtinRange(_ *evaluator, a *args) (any, error) {
	if len(a.names) > 0 {
		return nil, errorf("range() takes no keyword arguments")
	}
	var n [3]int64
	for i, v := range a.pos {
		if i >= 3 {
			return nil, errorf("range expected at most 3 arguments, got %d", len(a.pos))
		}
		x, ok := toInt(v)
		if !ok {
			return nil, errorf("'%s' object cannot be interpreted as an integer", typeName(v))
		}
		n[i] = x
	}
	start, stop, step := int64(0), int64(0), int64(1)
	switch len(a.pos) {
	case 0:
		return nil, errorf("range expected at least 1 argument, got 0")
	case 1:
		stop = n[0]
	case 2:
		start, stop = n[0], n[1]
	case 3:
		start, stop, step = n[0], n[1], n[2]
	}
	if step == 0 {
		return nil, errorf("range() arg 3 must not be zero")
	}
	// Count in unsigned arithmetic, where the span cannot overflow.
	var count uint64
	if step > 0 && start < stop {
		span, st := uint64(stop-start), uint64(step)
		count = span/st + min(span%st, 1)
	} else if step < 0 && start > stop {
		span, st := uint64(start-stop), uint64(-(step+1))+1
		count = span/st + min(span%st, 1)
	}
	if count > maxRange {
		return nil, errorf("Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).", maxRange)
	}
	out := make([]any, count)
	for i := range out {
		out[i] = start + int64(i)*step
	}
	return out, nil
}

// dictArgs builds a dict from an optional mapping or list of pairs and
// keyword arguments, as dict(...) does.
func dictArgs(fn string, a *args) (*dict, error) {
	d := newDict()
	if len(a.pos) > 1 {
		return nil, errorf("%s expected at most 1 argument, got %d", fn, len(a.pos))
	}
	if len(a.pos) == 1 {
		switch x := a.pos[0].(type) {
		case *dict:
			d = x.copy()
		default:
			items, err := iterate(x)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				pair, err := iterate(it)
				if err != nil || len(pair) != 2 {
					return nil, errorf("dictionary update sequence element has wrong length")
				}
				if err := d.set(pair[0], pair[1]); err != nil {
					return nil, err
				}
			}
		}
	}
	for i, n := range a.names {
		d.set(n, a.kw[i])
	}
	return d, nil
}

func builtinDict(_ *evaluator, a *args) (any, error) { return dictArgs("dict", a) }

func builtinNamespace(_ *evaluator, a *args) (any, error) {
	d, err := dictArgs("namespace", a)
	if err != nil {
		return nil, err
	}
	return &namespace{attrs: d}, nil
}

// ExceptionError is the error of a template's raise_exception call; Msg
// is the template's own message.
type ExceptionError struct{ Msg string }

func (e *ExceptionError) Error() string { return "chat: template raised: " + e.Msg }

func builtinRaise(_ *evaluator, a *args) (any, error) {
	p, err := a.bind("raise_exception", "message")
	if err != nil {
		return nil, err
	}
	if p[0] == missing {
		return nil, errorf("raise_exception() missing 1 required positional argument: 'message'")
	}
	return nil, &ExceptionError{Msg: str(p[0])}
}

func builtinStrftimeNow(e *evaluator, a *args) (any, error) {
	p, err := a.bind("strftime_now", "format")
	if err != nil {
		return nil, err
	}
	f, ok := p[0].(string)
	if !ok {
		return nil, errorf("strftime_now() argument must be str, not %s", typeName(p[0]))
	}
	return strftime(e.now(), f), nil
}

// strftime formats t as C's strftime in the C locale, with glibc's "-"
// flag (no padding) that templates use, as in "%-d".
func strftime(t time.Time, f string) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 >= len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		pad := true
		if f[i] == '-' && i+1 < len(f) {
			pad = false
			i++
		}
		num := func(n, width int) {
			if pad {
				fmt.Fprintf(&b, "%0*d", width, n)
			} else {
				fmt.Fprintf(&b, "%d", n)
			}
		}
		hour12 := t.Hour() % 12
		if hour12 == 0 {
			hour12 = 12
		}
		switch f[i] {
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'A':
			b.WriteString(t.Weekday().String())
		case 'b', 'h':
			b.WriteString(t.Month().String()[:3])
		case 'B':
			b.WriteString(t.Month().String())
		case 'd':
			num(t.Day(), 2)
		case 'e':
			if pad {
				fmt.Fprintf(&b, "%2d", t.Day())
			} else {
				num(t.Day(), 1)
			}
		case 'H':
			num(t.Hour(), 2)
		case 'I':
			num(hour12, 2)
		case 'j':
			num(t.YearDay(), 3)
		case 'm':
			num(int(t.Month()), 2)
		case 'M':
			num(t.Minute(), 2)
		case 'p':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'S':
			num(t.Second(), 2)
		case 'f':
			fmt.Fprintf(&b, "%06d", t.Nanosecond()/1000)
		case 'y':
			num(t.Year()%100, 2)
		case 'Y':
			num(t.Year(), 1)
		case 'w':
			num(int(t.Weekday()), 1)
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			num(wd, 1)
		case 'Z':
			name, _ := t.Zone()
			b.WriteString(name)
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'D':
			b.WriteString(t.Format("01/02/06"))
		case 'c':
			b.WriteString(t.Format("Mon Jan _2 15:04:05 2006"))
		case 'x':
			b.WriteString(t.Format("01/02/06"))
		case 'X':
			b.WriteString(t.Format("15:04:05"))
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			if !pad {
				b.WriteByte('-')
			}
			b.WriteByte(f[i])
		}
	}
	return b.String()
}
