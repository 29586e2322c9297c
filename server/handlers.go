package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

func (s *Server) handleCompletions(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req completionRequest
	if err := decodeJSON(r, w, s.cfg.MaxBodyBytes, &req); err != nil {
		writeError(w, err)
		return
	}
	j, aerr := s.completionJob(&req)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	g, aerr := s.submit(r.Context(), j, start)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	head := completionChunk{ID: newID("cmpl-"), Object: "text_completion", Created: start.Unix(), Model: s.info.ID, SystemFingerprint: s.fingerprint}
	if j.stream {
		s.streamCompletion(w, g, head)
		return
	}
	choices := make([]completionChoice, len(g.choices))
	texts := make([]strings.Builder, len(g.choices))
	for i := range choices {
		choices[i].Index = i
	}
	u, aerr := g.wait(func(d delta) error {
		c := &choices[d.choice]
		texts[d.choice].WriteString(d.text)
		if j.logprobs >= 0 {
			c.Logprobs = s.completionLogprobs(d.tokens, c.Logprobs)
		}
		if d.finish != "" {
			c.FinishReason = &d.finish
		}
		return nil
	})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if r.Context().Err() != nil {
		return // the client is gone
	}
	for i := range choices {
		choices[i].Text = texts[i].String()
	}
	writeJSON(w, completion{ID: head.ID, Object: head.Object, Created: head.Created, Model: head.Model,
		SystemFingerprint: head.SystemFingerprint, Choices: choices, Usage: u.json()})
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req chatRequest
	if err := decodeJSON(r, w, s.cfg.MaxBodyBytes, &req); err != nil {
		writeError(w, err)
		return
	}
	j, aerr := s.chatJob(&req)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	g, aerr := s.submit(r.Context(), j, start)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	head := chatChunk{ID: newID("chatcmpl-"), Object: "chat.completion.chunk", Created: start.Unix(), Model: s.info.ID, SystemFingerprint: s.fingerprint}
	if j.stream {
		s.streamChat(w, g, head)
		return
	}
	choices := make([]chatChoice, len(g.choices))
	texts := make([]strings.Builder, len(g.choices))
	tokens := make([][]tokenInfo, len(g.choices))
	u, aerr := g.wait(func(d delta) error {
		texts[d.choice].WriteString(d.text)
		tokens[d.choice] = append(tokens[d.choice], d.tokens...)
		if d.finish != "" {
			choices[d.choice].FinishReason = d.finish
		}
		return nil
	})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if r.Context().Err() != nil {
		return
	}
	for i := range choices {
		c := &choices[i]
		c.Index = i
		c.Message = chatMessageJS{Role: "assistant", Content: texts[i].String()}
		if j.logprobs >= 0 {
			c.Logprobs = s.chatLogprobs(tokens[i])
		}
	}
	writeJSON(w, chatCompletion{ID: head.ID, Object: "chat.completion", Created: head.Created, Model: head.Model,
		SystemFingerprint: head.SystemFingerprint, Choices: choices, Usage: u.json()})
}

// sse writes a server-sent event stream: "data: JSON\n\n" per event, each
// flushed at once, each write bounded by a deadline.
type sse struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	err     error // the first write error; later sends do nothing
}

func (s *Server) startSSE(w http.ResponseWriter) *sse {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tell proxies not to buffer the stream
	w.WriteHeader(http.StatusOK)
	e := &sse{w: w, rc: http.NewResponseController(w), timeout: s.cfg.WriteTimeout}
	e.flush()
	return e
}

func (e *sse) write(data []byte) error {
	if e.err != nil {
		return e.err
	}
	if err := e.rc.SetWriteDeadline(time.Now().Add(e.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		e.err = err
		return err
	}
	buf := make([]byte, 0, len(data)+8)
	buf = append(buf, "data: "...)
	buf = append(buf, data...)
	buf = append(buf, "\n\n"...)
	if _, err := e.w.Write(buf); err != nil {
		e.err = err
		return err
	}
	return e.flush()
}

func (e *sse) flush() error {
	if err := e.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		e.err = err
	}
	return e.err
}

func (e *sse) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		e.err = err
		return err
	}
	return e.write(b)
}

// release clears the write deadline, which would otherwise stay on a
// kept-alive connection for its next request.
func (e *sse) release() { e.rc.SetWriteDeadline(time.Time{}) }

// end sends the error, if any, then the [DONE] marker.
func (e *sse) end(aerr *apiError) {
	if aerr != nil {
		e.send(aerr.body())
	}
	e.write([]byte("[DONE]"))
}

func (s *Server) streamCompletion(w http.ResponseWriter, g *generation, head completionChunk) {
	out := s.startSSE(w)
	defer out.release()
	u, aerr := g.wait(func(d delta) error {
		c := completionChoice{Index: d.choice, Text: d.text}
		if g.j.logprobs >= 0 {
			c.Logprobs = s.completionLogprobs(d.tokens, nil)
		}
		if d.finish != "" && d.finish != "cancelled" {
			c.FinishReason = &d.finish
		}
		chunk := head
		chunk.Choices = []completionChoice{c}
		return out.send(chunk)
	})
	if out.err != nil {
		return
	}
	if aerr == nil && g.j.includeUsage {
		chunk := head
		chunk.Choices = []completionChoice{}
		chunk.Usage = u.json()
		out.send(chunk)
	}
	out.end(aerr)
}

func (s *Server) streamChat(w http.ResponseWriter, g *generation, head chatChunk) {
	out := s.startSSE(w)
	defer out.release()
	chunk := func(c chatChunkChoice) error {
		ch := head
		ch.Choices = []chatChunkChoice{c}
		return out.send(ch)
	}
	// Each choice opens with the assistant's role, as OpenAI's streams do.
	empty := ""
	for i := range g.choices {
		if chunk(chatChunkChoice{Index: i, Delta: chatDelta{Role: "assistant", Content: &empty}}) != nil {
			break
		}
	}
	u, aerr := g.wait(func(d delta) error {
		if d.text != "" || len(d.tokens) > 0 {
			c := chatChunkChoice{Index: d.choice, Delta: chatDelta{Content: &d.text}}
			if g.j.logprobs >= 0 {
				c.Logprobs = s.chatLogprobs(d.tokens)
			}
			if err := chunk(c); err != nil {
				return err
			}
		}
		if d.finish != "" && d.finish != "cancelled" {
			return chunk(chatChunkChoice{Index: d.choice, FinishReason: &d.finish})
		}
		return out.err
	})
	if out.err != nil {
		return
	}
	if aerr == nil && g.j.includeUsage {
		ch := head
		ch.Choices = []chatChunkChoice{}
		ch.Usage = u.json()
		out.send(ch)
	}
	out.end(aerr)
}
