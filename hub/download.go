package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// remoteFile is what the server says about a file before it is fetched.
type remoteFile struct {
	url    string // where to GET it: the Hub's redirect target, or the URL itself
	sha256 string // the published SHA-256, lower-case; "" if none
	size   int64  // -1 if unknown
	commit string // X-Repo-Commit, from the Hub
}

// stat asks for a file's metadata with a HEAD request that does not follow
// redirects: the Hub puts X-Linked-Etag (an LFS file's SHA-256) and
// X-Linked-Size on its redirect to the CDN, whose own headers describe
// only the stored object. fromHub says u is on the Hub, whose ETags are
// checksums too.
func (c *Client) stat(ctx context.Context, u string, fromHub bool, what string) (remoteFile, error) {
	req, err := c.newRequest(ctx, http.MethodHead, u)
	if err != nil {
		return remoteFile{}, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	noRedirect := *c.http()
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.do(&noRedirect, req)
	if err != nil {
		return remoteFile{}, err
	}
	resp.Body.Close()
	rf := remoteFile{url: u, size: -1, commit: resp.Header.Get("X-Repo-Commit")}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		loc, err := resp.Location()
		if err != nil {
			return remoteFile{}, fmt.Errorf("hub: %s: redirect without a usable Location: %w", what, err)
		}
		rf.url = loc.String()
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		rf.size = resp.ContentLength
	case !fromHub && resp.StatusCode != http.StatusNotFound:
		// Some servers (pre-signed storage URLs among them) refuse HEAD
		// but serve GET; the GET will report any real problem.
		return rf, nil
	default:
		return remoteFile{}, c.statusError(resp, what)
	}
	if n, err := strconv.ParseInt(resp.Header.Get("X-Linked-Size"), 10, 64); err == nil && n >= 0 {
		rf.size = n
	}
	if e := normalizeETag(resp.Header.Get("X-Linked-Etag")); isSHA256(e) {
		rf.sha256 = strings.ToLower(e)
	} else if e := normalizeETag(resp.Header.Get("ETag")); fromHub && isSHA256(e) {
		rf.sha256 = strings.ToLower(e)
	}
	return rf, nil
}

// partial is a download in progress: FILE.partial and the SHA-256 of what
// it holds so far.
type partial struct {
	path string
	f    *os.File
	h    hash.Hash
	n    int64 // bytes in the file, all of them hashed
}

// openPartial opens (or creates) the partial file at path and hashes what
// an earlier attempt left in it.
func openPartial(path string) (*partial, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	p := &partial{path: path, f: f, h: sha256.New()}
	if p.n, err = io.Copy(p.h, f); err != nil {
		f.Close()
		return nil, fmt.Errorf("hub: reading %s: %w", path, err)
	}
	return p, nil
}

func (p *partial) Write(b []byte) (int, error) {
	n, err := p.f.Write(b)
	p.h.Write(b[:n])
	p.n += int64(n)
	return n, err
}

// reset empties the partial file, to start over.
func (p *partial) reset() error {
	p.h.Reset()
	p.n = 0
	if err := p.f.Truncate(0); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if _, err := p.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}

func (p *partial) sum() string { return hex.EncodeToString(p.h.Sum(nil)) }

// discard closes and deletes the partial file.
func (p *partial) discard() {
	p.f.Close()
	os.Remove(p.path)
}

// finish makes the partial file the finished file at dest.
func (p *partial) finish(dest string) error {
	err := p.f.Sync()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(p.path, dest)
	}
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}

// retryable marks a failure that another attempt may get past.
type retryable struct{ err error }

func (r retryable) Error() string { return r.err.Error() }
func (r retryable) Unwrap() error { return r.err }

var (
	errStalled = errors.New("transfer stalled")
	errRestart = errors.New("the server's copy does not continue the partial file")
)

// download fetches one file into dest by way of dest.partial, resuming
// what is there, retrying interrupted transfers, and checking the result
// against the published size and SHA-256. expect holds what a listing
// said (sha256 and size; url is the address to stat). It returns what it
// learned about the file and the SHA-256 it computed.
func (c *Client) download(ctx context.Context, expect remoteFile, fromHub bool, file, dest string) (remoteFile, string, error) {
	p, err := openPartial(dest + ".partial")
	if err != nil {
		return remoteFile{}, "", err
	}
	resumed := p.n > 0
	restarted := false
	wait := c.RetryWait
	var rf remoteFile
	for attempt := 0; ; attempt++ {
		rf, err = c.stat(ctx, expect.url, fromHub, file)
		if err == nil {
			if rf.sha256 == "" {
				rf.sha256 = expect.sha256
			}
			if rf.size < 0 {
				rf.size = expect.size
			}
			if rf.size >= 0 && p.n > rf.size {
				err = p.reset()
			}
		}
		if err == nil {
			err = c.fetch(ctx, rf, p, file)
		}
		if err == nil {
			err = c.check(rf, p, file)
		}
		if err == nil {
			break
		}
		if errors.Is(err, ErrChecksum) && resumed && !restarted {
			// The partial file may be left from an older version of
			// the file; fetch the whole file once before giving up.
			restarted, resumed = true, false
			if err = p.reset(); err == nil {
				attempt--
				continue
			}
		}
		if errors.Is(err, errRestart) && !restarted {
			restarted = true
			if err = p.reset(); err == nil {
				attempt--
				continue
			}
		}
		var r retryable
		if ctx.Err() != nil || !errors.As(err, &r) || attempt >= c.Retries ||
			attempt == 0 && errors.Is(err, ErrOffline) {
			if errors.Is(err, ErrChecksum) {
				p.discard()
			} else {
				p.f.Close()
			}
			if ctx.Err() != nil {
				return remoteFile{}, "", fmt.Errorf("hub: %s: %w (the partial download is kept and resumes on the next pull)", file, ctx.Err())
			}
			return remoteFile{}, "", err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		wait = min(2*wait, 30*time.Second)
	}
	sum := p.sum()
	if err := p.finish(dest); err != nil {
		return remoteFile{}, "", err
	}
	return rf, sum, nil
}

// fetch makes one attempt at the rest of the file.
func (c *Client) fetch(ctx context.Context, rf remoteFile, p *partial, file string) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var idle *time.Timer
	if c.IdleTimeout > 0 {
		idle = time.AfterFunc(c.IdleTimeout, func() { cancel(errStalled) })
		defer idle.Stop()
	}
	req, err := c.newRequest(ctx, http.MethodGet, rf.url)
	if err != nil {
		return err
	}
	// Transparent gzip would make byte ranges meaningless.
	req.Header.Set("Accept-Encoding", "identity")
	if p.n > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", p.n))
	}
	resp, err := c.do(c.http(), req)
	if err != nil {
		if context.Cause(ctx) == errStalled {
			err = fmt.Errorf("hub: %s: %w", file, errStalled)
		}
		return retryable{err}
	}
	defer resp.Body.Close()
	total := rf.size
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != p.n {
			return fmt.Errorf("hub: %s: asked for bytes from %d, got %q: %w", file, p.n, resp.Header.Get("Content-Range"), errRestart)
		}
		if size >= 0 {
			total = size
		}
	case http.StatusOK:
		// The server ignored the range (or none was asked): start over.
		if p.n > 0 {
			if err := p.reset(); err != nil {
				return err
			}
		}
		if resp.ContentLength >= 0 {
			total = resp.ContentLength
		}
	case http.StatusRequestedRangeNotSatisfiable:
		// Asking for bytes past the end: the partial file may already
		// be complete, which the checks that follow decide.
		if _, size, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && size == p.n ||
			!ok && rf.size == p.n {
			return nil
		}
		return fmt.Errorf("hub: %s: range from %d not satisfiable: %w", file, p.n, errRestart)
	default:
		err := c.statusError(resp, file)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return retryable{err}
		}
		return err
	}
	start := p.n
	report := func() {
		if c.Progress != nil {
			c.Progress(Progress{File: file, Done: p.n, Total: total, Resumed: start})
		}
	}
	report()
	buf := make([]byte, 256<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if idle != nil {
				idle.Reset(c.IdleTimeout)
			}
			if _, err := p.Write(buf[:n]); err != nil {
				return fmt.Errorf("hub: writing %s: %w", p.path, err)
			}
			report()
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if context.Cause(ctx) == errStalled {
				rerr = errStalled
			}
			return retryable{fmt.Errorf("hub: %s: transfer interrupted after %d bytes: %w", file, p.n, rerr)}
		}
	}
	if total >= 0 && p.n < total {
		return retryable{fmt.Errorf("hub: %s: transfer ended at %d of %d bytes: %w", file, p.n, total, io.ErrUnexpectedEOF)}
	}
	return nil
}

// check compares a finished transfer with the published size and SHA-256.
func (c *Client) check(rf remoteFile, p *partial, file string) error {
	if rf.size >= 0 && p.n != rf.size {
		return fmt.Errorf("hub: %s: got %d bytes, the server published %d: %w", file, p.n, rf.size, ErrChecksum)
	}
	if rf.sha256 != "" {
		if got := p.sum(); got != rf.sha256 {
			return fmt.Errorf("hub: %s: SHA-256 is %s, the server published %s: %w (the download was discarded)", file, got, rf.sha256, ErrChecksum)
		}
	}
	return nil
}

// parseContentRange reads "bytes START-END/SIZE" or "bytes */SIZE"; size
// is -1 when the header gives "*".
func parseContentRange(s string) (start, size int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, sz, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	size = -1
	if sz != "*" {
		n, err := strconv.ParseInt(sz, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false
		}
		size = n
	}
	if rng == "*" {
		return 0, size, true
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start || size >= 0 && end >= size {
		return 0, 0, false
	}
	return start, size, true
}

// escapePath escapes each step of a slash-separated path for a URL.
func escapePath(p string) string {
	seg := strings.Split(p, "/")
	for i, s := range seg {
		seg[i] = url.PathEscape(s)
	}
	return strings.Join(seg, "/")
}
