package server

import "strings"

// stopper applies stop strings to text as it is generated. Text that could
// be the start of a stop string is held back until the following text
// shows whether it is; a stop string found ends the text just before it.
type stopper struct {
	stops []string
	held  string
}

// push adds text and returns what may be passed on now, and whether a stop
// string was found (then out is the text before it and nothing follows).
func (s *stopper) push(text string) (out string, stopped bool) {
	if len(s.stops) == 0 {
		return text, false
	}
	buf := s.held + text
	at := -1
	for _, stop := range s.stops {
		if i := strings.Index(buf, stop); i >= 0 && (at < 0 || i < at) {
			at = i
		}
	}
	if at >= 0 {
		s.held = ""
		return buf[:at], true
	}
	keep := 0
	for _, stop := range s.stops {
		// The longest end of buf that is a proper prefix of stop.
		for n := min(len(stop)-1, len(buf)); n > keep; n-- {
			if strings.HasPrefix(stop, buf[len(buf)-n:]) {
				keep = n
				break
			}
		}
	}
	s.held = buf[len(buf)-keep:]
	return buf[:len(buf)-keep], false
}

// flush returns the text held back, at the end of generation.
func (s *stopper) flush() string {
	out := s.held
	s.held = ""
	return out
}
