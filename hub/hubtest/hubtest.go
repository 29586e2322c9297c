// Package hubtest runs a fake Hugging Face Hub for tests: the model API,
// resolve URLs that redirect LFS files to a CDN on another host, and plain
// file URLs, with switches for the failures a download must survive.
// Repositories may hold split models (AddSplit), in folders or not.
package hubtest

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/joule-llm/joule/gguf"
)

// Request is one request the server received.
type Request struct {
	Server        string // "hub" or "cdn"
	Method        string
	Path          string
	Range         string // the Range header
	Authorization string // the Authorization header
	Status        int    // the status answered
}

type repo struct {
	token  string // when set, the repository is gated and needs this bearer token
	commit string
	files  map[string][]byte
}

// Server is a fake Hub (Hub) with its CDN (CDN) on a second host, so that
// a test sees which credentials reach which host.
type Server struct {
	Hub *httptest.Server
	CDN *httptest.Server

	mu       sync.Mutex
	repos    map[string]*repo
	blobs    map[string][]byte // content by SHA-256, served by the CDN
	static   map[string][]byte // plain files on the CDN, by path
	cuts     []cut
	corrupt  bool
	noRange  bool
	requests []Request
}

// NewServer starts a fake Hub; Close stops it.
func NewServer() *Server {
	s := &Server{repos: map[string]*repo{}, blobs: map[string][]byte{}, static: map[string][]byte{}}
	// The API and the resolve URLs overlap as patterns, so each gets a mux.
	api := http.NewServeMux()
	api.HandleFunc("GET /api/models/{owner}/{name}", s.handleInfo)
	api.HandleFunc("GET /api/models/{owner}/{name}/revision/{rev}", s.handleInfo)
	files := http.NewServeMux()
	files.HandleFunc("GET /{owner}/{name}/resolve/{rev}/{file...}", s.handleResolve)
	hub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			api.ServeHTTP(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
	cdn := http.NewServeMux()
	cdn.HandleFunc("GET /blobs/{sha}", s.handleBlob)
	cdn.HandleFunc("GET /static/{file...}", s.handleStatic)
	s.Hub = httptest.NewServer(s.recording("hub", hub))
	s.CDN = httptest.NewServer(s.recording("cdn", cdn))
	return s
}

// Close stops both servers.
func (s *Server) Close() {
	s.Hub.Close()
	s.CDN.Close()
}

// URL is the Hub's endpoint, for HF_ENDPOINT.
func (s *Server) URL() string { return s.Hub.URL }

// AddFile adds a file to a repository (OWNER/REPO), creating it if needed.
// .gguf files are LFS files: the Hub redirects them to the CDN.
func (s *Server) AddFile(repoName, file string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repoName]
	if r == nil {
		r = &repo{files: map[string][]byte{}}
		s.repos[repoName] = r
	}
	r.files[file] = data
	s.blobs[sha256Hex(data)] = data
	// The commit changes with every file, as a push would.
	h := sha1.Sum([]byte(r.commit + file))
	r.commit = hex.EncodeToString(h[:])
}

// AddSplit adds the parts of a split model to a repository, named as
// llama.cpp's gguf-split names them (PREFIX-00001-of-00003.gguf, ...), and
// returns their names. prefix may start with a folder, as in
// "Q4_K_M/model-Q4_K_M".
func (s *Server) AddSplit(repoName, prefix string, parts ...[]byte) []string {
	names := make([]string, len(parts))
	for i, data := range parts {
		names[i] = gguf.SplitPath(prefix, i, len(parts))
		s.AddFile(repoName, names[i], data)
	}
	return names
}

// Gate makes a repository gated: only requests with this bearer token get in.
func (s *Server) Gate(repoName, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[repoName].token = token
}

// Commit is a repository's current commit id.
func (s *Server) Commit(repoName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repos[repoName].commit
}

// AddStatic serves data at a plain URL on the CDN host, and returns the URL.
func (s *Server) AddStatic(file string, data []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.static[file] = data
	return s.CDN.URL + "/static/" + file
}

// CutAfter makes the next len(n) file downloads from the CDN drop the
// connection after n[i] bytes of the body.
func (s *Server) CutAfter(n ...int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range n {
		s.cuts = append(s.cuts, cut{at: c})
	}
}

// StallAfter makes the next len(n) file downloads from the CDN stop
// sending after n[i] bytes of the body, holding the connection open until
// the client gives up.
func (s *Server) StallAfter(n ...int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range n {
		s.cuts = append(s.cuts, cut{at: c, stall: true})
	}
}

type cut struct {
	at    int64
	stall bool
}

// SetCorrupt makes the CDN serve files with one byte changed.
func (s *Server) SetCorrupt(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corrupt = on
}

// SetIgnoreRange makes the CDN answer range requests with the whole file.
func (s *Server) SetIgnoreRange(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noRange = on
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// recorder notes the status answered, and cuts the body short when asked.
type recorder struct {
	http.ResponseWriter
	status int
	cut    int64 // body bytes left before the connection is dropped; -1: never
	stall  bool  // at the cut, wait for the client to give up instead
	done   <-chan struct{}
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.cut >= 0 && int64(len(b)) > w.cut {
		w.ResponseWriter.Write(b[:w.cut])
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		if w.stall {
			<-w.done
		}
		// Aborting the handler closes the connection mid-body.
		panic(http.ErrAbortHandler)
	}
	if w.cut >= 0 {
		w.cut -= int64(len(b))
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) recording(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, cut: -1, done: r.Context().Done()}
		defer func() {
			s.mu.Lock()
			s.requests = append(s.requests, Request{
				Server: name, Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range"),
				Authorization: r.Header.Get("Authorization"), Status: rec.status,
			})
			s.mu.Unlock()
		}()
		h.ServeHTTP(rec, r)
	})
}

// hubError answers as the Hub does, with X-Error-Code and a JSON body.
func hubError(w http.ResponseWriter, status int, code, msg string) {
	if code != "" {
		w.Header().Set("X-Error-Code", code)
	}
	w.Header().Set("X-Error-Message", msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// lookup finds a repository and checks the request's token against it.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) *repo {
	name := r.PathValue("owner") + "/" + r.PathValue("name")
	s.mu.Lock()
	rp := s.repos[name]
	s.mu.Unlock()
	if rp == nil {
		hubError(w, http.StatusNotFound, "RepoNotFound", "Repository not found")
		return nil
	}
	auth := r.Header.Get("Authorization")
	switch {
	case rp.token == "" || auth == "Bearer "+rp.token:
		return rp
	case auth == "":
		hubError(w, http.StatusUnauthorized, "GatedRepo", "Access to model "+name+" is restricted: log in to access it")
	default:
		hubError(w, http.StatusForbidden, "GatedRepo", "Access to model "+name+" is restricted: this token has no access")
	}
	return nil
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	rp := s.lookup(w, r)
	if rp == nil {
		return
	}
	if rev := r.PathValue("rev"); rev != "" && rev != "main" && rev != rp.commit {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	}
	type lfs struct {
		SHA256      string `json:"sha256"`
		Size        int    `json:"size"`
		PointerSize int    `json:"pointerSize"`
	}
	type sibling struct {
		Name   string `json:"rfilename"`
		Size   *int   `json:"size,omitempty"`
		BlobID string `json:"blobId,omitempty"`
		LFS    *lfs   `json:"lfs,omitempty"`
	}
	blobs := r.URL.Query().Get("blobs") == "true"
	s.mu.Lock()
	info := struct {
		ID       string    `json:"id"`
		SHA      string    `json:"sha"`
		Siblings []sibling `json:"siblings"`
	}{ID: r.PathValue("owner") + "/" + r.PathValue("name"), SHA: rp.commit}
	names := make([]string, 0, len(rp.files))
	for n := range rp.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sib := sibling{Name: n}
		if blobs {
			size := len(rp.files[n])
			sib.Size = &size
			sib.BlobID = gitBlobID(rp.files[n])
			if isLFS(n) {
				sib.LFS = &lfs{SHA256: sha256Hex(rp.files[n]), Size: size, PointerSize: 134}
			}
		}
		info.Siblings = append(info.Siblings, sib)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(info)
}

func (s *Server) handleResolve(w http.ResponseWriter, r *http.Request) {
	rp := s.lookup(w, r)
	if rp == nil {
		return
	}
	if rev := r.PathValue("rev"); rev != "main" && rev != rp.commit {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	}
	file := r.PathValue("file")
	s.mu.Lock()
	data, ok := rp.files[file]
	commit := rp.commit
	s.mu.Unlock()
	if !ok {
		hubError(w, http.StatusNotFound, "EntryNotFound", file+" does not exist on \"main\"")
		return
	}
	h := w.Header()
	h.Set("X-Repo-Commit", commit)
	if !isLFS(file) {
		h.Set("ETag", `"`+gitBlobID(data)+`"`)
		http.ServeContent(w, r, path.Base(file), time.Time{}, bytes.NewReader(data))
		return
	}
	sum := sha256Hex(data)
	h.Set("X-Linked-Etag", `"`+sum+`"`)
	h.Set("X-Linked-Size", fmt.Sprint(len(data)))
	h.Set("ETag", `"`+sum+`"`)
	h.Set("Location", s.CDN.URL+"/blobs/"+sum+"?name="+url.QueryEscape(path.Base(file)))
	w.WriteHeader(http.StatusFound)
}

func (s *Server) handleBlob(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	data, ok := s.blobs[r.PathValue("sha")]
	s.mu.Unlock()
	if !ok {
		http.Error(w, "no such blob", http.StatusNotFound)
		return
	}
	s.serve(w, r, data)
}

func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	data, ok := s.static[r.PathValue("file")]
	s.mu.Unlock()
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	s.serve(w, r, data)
}

// serve sends a file with range support, applying the failure switches.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, data []byte) {
	s.mu.Lock()
	if r.Method == http.MethodGet && len(s.cuts) > 0 {
		rec := w.(*recorder)
		rec.cut, rec.stall = s.cuts[0].at, s.cuts[0].stall
		s.cuts = s.cuts[1:]
	}
	corrupt, noRange := s.corrupt, s.noRange
	s.mu.Unlock()
	if corrupt && len(data) > 0 {
		data = bytes.Clone(data)
		data[len(data)/2] ^= 0x5a
	}
	if noRange {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(data)
		}
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

func isLFS(file string) bool { return strings.HasSuffix(file, ".gguf") }

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// gitBlobID is the git object id of a file's content, the Hub's ETag for
// files that are not in LFS.
func gitBlobID(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}
