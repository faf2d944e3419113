// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package fakegitea is a stand-in for Gitea's Actions runner API (Gitea
// 1.24 and later) on loopback, for tests and the demo: no Gitea can be
// installed here. It answers GET /api/v1/admin/actions/runners,
// /api/v1/orgs/{org}/actions/runners and /api/v1/repos/{owner}/{repo}/actions/runners
// in the documented shape ({"runners": [...], "total_count": n}, paged with
// page/limit), checks "Authorization: token <t>", and lets the caller change
// runners, freeze answers, fail with a status code, stop and restart.
package fakegitea

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Runner is one registered runner.
type Runner struct {
	ID        int64 // assigned by the server when 0
	Name      string
	Online    bool
	Busy      bool
	Ephemeral bool
	Labels    []string
	// Owner is the organisation or user the runner is registered to, and
	// Repo ("owner/name") the repository; both empty for a global runner.
	// The admin list has every runner.
	Owner, Repo string
}

// Options configure a Server.
type Options struct {
	// Token is the API token the server accepts; empty accepts any request.
	Token string
	// Runners registered at start.
	Runners []Runner
	// MaxResponseItems caps the page size as Gitea's [api]
	// MAX_RESPONSE_ITEMS does; 0 means Gitea's default, 50.
	MaxResponseItems int
	// Addr to listen on; empty means a free port on 127.0.0.1.
	Addr string
	// TLS serves https with a new self-signed certificate for 127.0.0.1
	// and localhost, whose PEM is written to CAFile.
	TLS bool
	// Dir receives the token and CA files; empty means a new temporary
	// directory (t.TempDir() with Start).
	Dir string
	// Control serves /_fake/... endpoints that change the state over
	// HTTP (see ControlHandler), for the demo's command.
	Control bool
}

// Server is a running fake.
type Server struct {
	// URL is Gitea's root URL, e.g. http://127.0.0.1:41234/.
	URL string
	// Addr is host:port; Restart listens there again.
	Addr string
	// TokenFile holds Options.Token (when set), for --gitea.token-file.
	TokenFile string
	// CAFile holds the certificate of a TLS server, for --gitea.ca-file.
	CAFile string

	opts    Options
	tlsConf *tls.Config

	mu       sync.Mutex
	runners  []Runner
	nextID   int64
	frozen   chan struct{} // non-nil while frozen; closed by Thaw
	failCode int
	requests int
	srv      *http.Server
	done     chan struct{}
}

// Start starts a server that stops when the test ends.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	if o.Dir == "" {
		o.Dir = tb.TempDir()
	}
	s, err := StartServer(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// StartServer starts a server without a test; Close stops it.
func StartServer(o Options) (*Server, error) {
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "fakegitea-")
		if err != nil {
			return nil, err
		}
		o.Dir = d
	}
	if o.MaxResponseItems <= 0 {
		o.MaxResponseItems = 50
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	s := &Server{opts: o, nextID: 1}
	for _, r := range o.Runners {
		s.add(r)
	}
	if o.Token != "" {
		s.TokenFile = filepath.Join(o.Dir, "gitea-token")
		if err := os.WriteFile(s.TokenFile, []byte(o.Token+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	if o.TLS {
		conf, caPEM, err := selfSigned()
		if err != nil {
			return nil, err
		}
		s.tlsConf = conf
		s.CAFile = filepath.Join(o.Dir, "gitea-ca.pem")
		if err := os.WriteFile(s.CAFile, caPEM, 0o644); err != nil {
			return nil, err
		}
	}
	if err := s.listen(o.Addr); err != nil {
		return nil, err
	}
	scheme := "http"
	if o.TLS {
		scheme = "https"
	}
	s.URL = scheme + "://" + s.Addr + "/"
	return s, nil
}

func (s *Server) listen(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("fakegitea: %w", err)
	}
	if s.tlsConf != nil {
		l = tls.NewListener(l, s.tlsConf)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/admin/actions/runners", s.list(func(Runner) bool { return true }))
	mux.HandleFunc("GET /api/v1/orgs/{org}/actions/runners", func(w http.ResponseWriter, r *http.Request) {
		org := r.PathValue("org")
		s.list(func(x Runner) bool { return x.Owner == org })(w, r)
	})
	mux.HandleFunc("GET /api/v1/repos/{owner}/{repo}/actions/runners", func(w http.ResponseWriter, r *http.Request) {
		repo := r.PathValue("owner") + "/" + r.PathValue("repo")
		s.list(func(x Runner) bool { return x.Repo == repo })(w, r)
	})
	if s.opts.Control {
		mux.Handle("/_fake/", s.ControlHandler())
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "not found")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		// Clients that refuse the certificate are part of the tests.
		ErrorLog: log.New(io.Discard, "", 0)}
	done := make(chan struct{})
	s.mu.Lock()
	s.Addr, s.srv, s.done = l.Addr().String(), srv, done
	s.mu.Unlock()
	go func() {
		_ = srv.Serve(l)
		close(done)
	}()
	return nil
}

// Stop closes the listener and every connection: the API is down
// (connection refused) until Restart.
func (s *Server) Stop() error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.srv = nil
	if s.frozen != nil {
		// Frozen handlers would hold Close up; a stopped Gitea answers nothing.
		close(s.frozen)
		s.frozen = nil
	}
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	<-done
	return err
}

// Restart stops the server if it runs and listens on the same address
// again, with the same runners, as a restarted Gitea would.
func (s *Server) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	var err error
	for range 50 {
		// The port may linger for a moment after Close.
		if err = s.listen(s.Addr); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// Close stops the server for good.
func (s *Server) Close() error { return s.Stop() }

// Freeze makes API requests hang without an answer until Thaw, like a
// Gitea stopped with SIGSTOP or stuck on its database.
func (s *Server) Freeze() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frozen == nil {
		s.frozen = make(chan struct{})
	}
}

// Thaw lets hanging and later requests be answered.
func (s *Server) Thaw() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frozen != nil {
		close(s.frozen)
		s.frozen = nil
	}
}

// FailWith answers every API request with status code (404 is what a
// Gitea older than 1.24 answers); 0 answers normally again.
func (s *Server) FailWith(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failCode = code
}

// Requests is the number of API requests served so far.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// AddRunner registers a runner and returns its ID. A runner with the name
// of an existing one is a second registration, as in Gitea.
func (s *Server) AddRunner(r Runner) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.add(r)
}

func (s *Server) add(r Runner) int64 {
	if r.ID == 0 {
		r.ID = s.nextID
	}
	s.nextID = max(s.nextID, r.ID) + 1
	r.Labels = slices.Clone(r.Labels)
	s.runners = append(s.runners, r)
	return r.ID
}

// RemoveRunner deletes every runner of that name and returns how many.
func (s *Server) RemoveRunner(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.runners)
	s.runners = slices.DeleteFunc(s.runners, func(r Runner) bool { return r.Name == name })
	return n - len(s.runners)
}

// SetOnline changes whether the runners of that name are online; an
// offline runner is not busy.
func (s *Server) SetOnline(name string, online bool) error {
	return s.update(name, func(r *Runner) {
		r.Online = online
		r.Busy = r.Busy && online
	})
}

// SetBusy changes whether the runners of that name run a job.
func (s *Server) SetBusy(name string, busy bool) error {
	return s.update(name, func(r *Runner) { r.Busy = busy })
}

func (s *Server) update(name string, f func(*Runner)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := false
	for i := range s.runners {
		if s.runners[i].Name == name {
			f(&s.runners[i])
			found = true
		}
	}
	if !found {
		return fmt.Errorf("fakegitea: no runner %q", name)
	}
	return nil
}

// Runners returns a copy of the registered runners.
func (s *Server) Runners() []Runner {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Runner, len(s.runners))
	for i, r := range s.runners {
		r.Labels = slices.Clone(r.Labels)
		out[i] = r
	}
	return out
}

// The JSON of Gitea's modules/structs ActionRunner and ActionRunnersResponse.
type apiLabel struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

type apiRunner struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Status    string     `json:"status"`
	Busy      bool       `json:"busy"`
	Ephemeral bool       `json:"ephemeral"`
	Labels    []apiLabel `json:"labels"`
}

type apiRunners struct {
	Runners    []apiRunner `json:"runners"`
	TotalCount int64       `json:"total_count"`
}

func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"message": msg, "url": "/api/swagger"})
}

func (s *Server) list(match func(Runner) bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		frozen, fail := s.frozen, s.failCode
		s.mu.Unlock()
		if frozen != nil {
			select {
			case <-frozen:
			case <-r.Context().Done():
				return
			}
		}
		if fail != 0 {
			apiError(w, fail, http.StatusText(fail))
			return
		}
		if s.opts.Token != "" {
			auth := r.Header.Get("Authorization")
			if auth == "" {
				apiError(w, http.StatusUnauthorized, "token is required")
				return
			}
			if auth != "token "+s.opts.Token {
				apiError(w, http.StatusUnauthorized, "invalid username, password or token")
				return
			}
		}
		page, limit := pageParams(r, s.opts.MaxResponseItems)
		s.mu.Lock()
		var all []Runner
		for _, x := range s.runners {
			if match(x) {
				all = append(all, x)
			}
		}
		s.mu.Unlock()
		from := min((page-1)*limit, len(all))
		to := min(from+limit, len(all))
		resp := apiRunners{Runners: []apiRunner{}, TotalCount: int64(len(all))}
		for _, x := range all[from:to] {
			ar := apiRunner{ID: x.ID, Name: x.Name, Status: "offline", Busy: x.Busy && x.Online, Ephemeral: x.Ephemeral, Labels: []apiLabel{}}
			if x.Online {
				ar.Status = "online"
			}
			for i, l := range x.Labels {
				ar.Labels = append(ar.Labels, apiLabel{ID: x.ID*100 + int64(i), Name: l, Type: "custom"})
			}
			resp.Runners = append(resp.Runners, ar)
		}
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		_ = json.NewEncoder(w).Encode(resp)
	}
}

// pageParams reads page and limit as Gitea does: page from 1, limit capped
// at MAX_RESPONSE_ITEMS, and a missing limit meaning that cap.
func pageParams(r *http.Request, maxItems int) (page, limit int) {
	page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	limit, _ = strconv.Atoi(r.URL.Query().Get("limit"))
	if page < 1 {
		page = 1
	}
	if limit <= 0 || limit > maxItems {
		limit = maxItems
	}
	return page, limit
}

// ControlHandler changes the state over HTTP, for a fake run as its own
// process:
//
//	POST /_fake/runners/{name}?online=true|false&busy=true|false
//	PUT  /_fake/runners/{name}?labels=a,b   (registers a runner)
//	DELETE /_fake/runners/{name}
//	POST /_fake/freeze, /_fake/thaw, /_fake/fail?code=404 (code=0 to heal)
//	GET  /_fake/runners                     (the runners as JSON)
func (s *Server) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_fake/runners/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		for key, set := range map[string]func(string, bool) error{"online": s.SetOnline, "busy": s.SetBusy} {
			v := r.URL.Query().Get(key)
			if v == "" {
				continue
			}
			b, err := strconv.ParseBool(v)
			if err != nil {
				http.Error(w, key+": "+err.Error(), http.StatusBadRequest)
				return
			}
			if err := set(name, b); err != nil {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /_fake/runners/{name}", func(w http.ResponseWriter, r *http.Request) {
		var labels []string
		if l := r.URL.Query().Get("labels"); l != "" {
			labels = strings.Split(l, ",")
		}
		id := s.AddRunner(Runner{Name: r.PathValue("name"), Online: true, Labels: labels})
		fmt.Fprintln(w, id)
	})
	mux.HandleFunc("DELETE /_fake/runners/{name}", func(w http.ResponseWriter, r *http.Request) {
		if s.RemoveRunner(r.PathValue("name")) == 0 {
			http.Error(w, "no such runner", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_fake/runners", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Runners())
	})
	mux.HandleFunc("POST /_fake/freeze", func(w http.ResponseWriter, r *http.Request) { s.Freeze(); w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("POST /_fake/thaw", func(w http.ResponseWriter, r *http.Request) { s.Thaw(); w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("POST /_fake/fail", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.URL.Query().Get("code"))
		if err != nil || (code != 0 && (code < 400 || code > 599)) {
			http.Error(w, "code: want 0 or 400-599", http.StatusBadRequest)
			return
		}
		s.FailWith(code)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, valid for a
// day, and returns it with its PEM to trust.
func selfSigned() (*tls.Config, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "fakegitea"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// Self-signed: the certificate is its own CA.
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// errStopped is returned by helpers used after Close.
var errStopped = errors.New("fakegitea: stopped")

// WaitServing waits until the API answers, e.g. after Restart.
func (s *Server) WaitServing(ctx context.Context) error {
	for {
		s.mu.Lock()
		running := s.srv != nil
		s.mu.Unlock()
		if !running {
			return errStopped
		}
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
