package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultEndpoint is the Hub's address when HF_ENDPOINT is unset.
const DefaultEndpoint = "https://huggingface.co"

// Errors wrapped by the Client's failures, for errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrUnauthorized = errors.New("access denied")
	ErrOffline      = errors.New("cannot reach the server (offline?)")
	ErrChecksum     = errors.New("checksum mismatch")
)

// Progress reports a download's state to Client.Progress. Each transfer
// attempt reports first before any byte arrives, with Done == Resumed.
type Progress struct {
	File    string // the file's name in its repository, or its URL's base name
	Done    int64  // bytes on disk so far, including those resumed from an earlier try
	Total   int64  // the file's size; -1 while unknown
	Resumed int64  // bytes that were already on disk when the transfer started
}

// Client downloads from the Hub, or from plain URLs. The zero Client is
// not usable; NewClient makes one from the environment.
type Client struct {
	Endpoint string       // the Hub's base URL, such as https://huggingface.co
	Token    string       // sent as a bearer token to the Hub (not to the CDNs it redirects to)
	HTTP     *http.Client // redirects are followed by this client; nil: one with sensible timeouts

	// Retries is how many more times an interrupted transfer is resumed
	// before Pull gives up (keeping the partial file for the next pull);
	// RetryWait is the pause before the first retry, doubled each time.
	Retries   int
	RetryWait time.Duration

	// IdleTimeout abandons a transfer that receives nothing for this long,
	// so that a stalled connection is retried; 0 waits forever.
	IdleTimeout time.Duration

	// Progress, if set, is called as bytes arrive, from the pulling goroutine.
	Progress func(Progress)
}

// NewClient returns a Client configured as huggingface_hub is: HF_ENDPOINT
// overrides the Hub's address and HF_TOKEN is the access token.
func NewClient() *Client {
	ep := strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/")
	if ep == "" {
		ep = DefaultEndpoint
	}
	return &Client{
		Endpoint:    ep,
		Token:       os.Getenv("HF_TOKEN"),
		Retries:     5,
		RetryWait:   time.Second,
		IdleTimeout: time.Minute,
	}
}

// defaultHTTP has no overall timeout, which would cut off large downloads;
// stalls are caught by IdleTimeout instead.
var defaultHTTP = &http.Client{
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: time.Minute,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          10,
		IdleConnTimeout:       90 * time.Second,
	},
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// endpointHost is the host (and port) of the Hub endpoint.
func (c *Client) endpointHost() string {
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return ""
	}
	return u.Host
}

// ParseRef is ParseRef that also recognises URLs on the client's endpoint.
func (c *Client) ParseRef(s string) (Ref, error) { return parseRef(s, c.endpointHost()) }

// newRequest builds a request, with the token only for the Hub's own host:
// the CDNs the Hub redirects to must not see it.
func (c *Client) newRequest(ctx context.Context, method, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	req.Header.Set("User-Agent", "joule")
	if c.Token != "" && strings.EqualFold(req.URL.Host, c.endpointHost()) {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	return req, nil
}

// do sends req, turning connection failures into ErrOffline.
func (c *Client) do(client *http.Client, req *http.Request) (*http.Response, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, netError(req.URL, err)
	}
	return resp, nil
}

func netError(u *url.URL, err error) error {
	var dns *net.DNSError
	var op *net.OpError
	if errors.As(err, &dns) || errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("hub: %s: %w: %v", u.Host, ErrOffline, err)
	}
	return fmt.Errorf("hub: %w", err)
}

// statusError explains a failed response. what names the thing asked for,
// such as a repository, for the message.
func (c *Client) statusError(resp *http.Response, what string) error {
	code := resp.Header.Get("X-Error-Code")
	msg := resp.Header.Get("X-Error-Message")
	if msg == "" {
		// The Hub's JSON errors look like {"error": "..."}.
		var body struct {
			Error string `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		if json.Unmarshal(b, &body) == nil {
			msg = body.Error
		}
	}
	detail := resp.Status
	if msg != "" {
		detail += ": " + msg
	}
	switch {
	case code == "GatedRepo":
		page := c.Endpoint + "/" + repoOf(what)
		if c.Token == "" {
			return fmt.Errorf("hub: %s is a gated model (%s): accept its terms at %s, then set HF_TOKEN to an access token: %w", what, detail, page, ErrUnauthorized)
		}
		return fmt.Errorf("hub: %s is a gated model and HF_TOKEN was refused (%s): accept its terms at %s with the token's account: %w", what, detail, page, ErrUnauthorized)
	case code == "RepoNotFound" || code == "EntryNotFound" || code == "RevisionNotFound" || resp.StatusCode == http.StatusNotFound:
		err := fmt.Errorf("hub: %s: %w (%s)", what, ErrNotFound, detail)
		if c.Token == "" && resp.StatusCode == http.StatusUnauthorized {
			// The Hub answers 401 for private repositories too.
			err = fmt.Errorf("%w; if it is private, set HF_TOKEN", err)
		}
		return err
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		if c.Token == "" {
			return fmt.Errorf("hub: %s: %w (%s): it may be private or gated: set HF_TOKEN to an access token", what, ErrUnauthorized, detail)
		}
		return fmt.Errorf("hub: %s: %w (%s): check that HF_TOKEN is valid and has access", what, ErrUnauthorized, detail)
	}
	return fmt.Errorf("hub: %s: %s", what, detail)
}

// repoOf is the OWNER/REPO that starts a path like OWNER/REPO/FILE.
func repoOf(p string) string {
	if s := strings.SplitN(p, "/", 3); len(s) >= 2 {
		return s[0] + "/" + s[1]
	}
	return p
}

// repoFile is one file of a repository listing.
type repoFile struct {
	Path   string
	Size   int64  // -1 if the listing does not say
	SHA256 string // of an LFS file's content; "" otherwise
}

// listFiles lists a repository's files with the Hub's model API, which
// gives LFS files' sizes and SHA-256 with ?blobs=true.
func (c *Client) listFiles(ctx context.Context, ref Ref) (files []repoFile, commit string, err error) {
	u := c.Endpoint + "/api/models/" + ref.Repo
	if ref.Revision != "" && ref.Revision != "main" {
		u += "/revision/" + url.PathEscape(ref.Revision)
	}
	req, err := c.newRequest(ctx, http.MethodGet, u+"?blobs=true")
	if err != nil {
		return nil, "", err
	}
	resp, err := c.do(c.http(), req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", c.statusError(resp, ref.Repo)
	}
	var info struct {
		SHA      string `json:"sha"`
		Siblings []struct {
			Name string `json:"rfilename"`
			Size *int64 `json:"size"`
			LFS  *struct {
				SHA256 string `json:"sha256"`
				Size   int64  `json:"size"`
			} `json:"lfs"`
		} `json:"siblings"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&info); err != nil {
		return nil, "", fmt.Errorf("hub: %s: reading the file list: %w", ref.Repo, err)
	}
	for _, s := range info.Siblings {
		f := repoFile{Path: s.Name, Size: -1}
		if s.Size != nil {
			f.Size = *s.Size
		}
		if s.LFS != nil {
			f.Size = s.LFS.Size
			if isSHA256(s.LFS.SHA256) {
				f.SHA256 = strings.ToLower(s.LFS.SHA256)
			}
		}
		files = append(files, f)
	}
	return files, info.SHA, nil
}

// isSHA256 reports whether s is 64 hex digits. The Hub's ETags are SHA-256
// digests for LFS files but 40-digit git blob ids for the others.
func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// normalizeETag strips an ETag's weak marker and quotes.
func normalizeETag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	return strings.Trim(s, `"`)
}
