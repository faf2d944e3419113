// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package runners

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeGitea answers GET …/actions/runners the way Gitea 1.24+ does:
// ActionRunnersResponse JSON, `page` from 1 and `limit` capped at maxLimit.
type fakeGitea struct {
	token    string
	runners  []Runner
	maxLimit int  // Gitea's [api] MAX_RESPONSE_ITEMS, 50 unless set
	noCount  bool // leave total_count out of the body
	header   bool // send X-Total-Count

	mu       sync.Mutex
	requests []*http.Request
}

func (f *fakeGitea) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r)
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "token "+f.token {
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"message":"user does not exist [uid: 0, name: ]","url":"http://gitea/api/swagger"}`)
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if page < 1 {
		page = 1
	}
	maxLimit := f.maxLimit
	if maxLimit == 0 {
		maxLimit = 50
	}
	if limit <= 0 || limit > maxLimit {
		limit = maxLimit
	}
	from := min((page-1)*limit, len(f.runners))
	to := min(from+limit, len(f.runners))
	body := map[string]any{"runners": append([]Runner{}, f.runners[from:to]...)}
	if !f.noCount {
		body["total_count"] = len(f.runners)
	}
	if f.header {
		w.Header().Set("X-Total-Count", strconv.Itoa(len(f.runners)))
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	_ = json.NewEncoder(w).Encode(body)
}

func makeRunners(n int) []Runner {
	rs := make([]Runner, n)
	for i := range rs {
		rs[i] = Runner{
			ID: int64(i + 1), Name: fmt.Sprintf("runner-%03d", i+1), Status: "online", Busy: i%3 == 0,
			Labels: []Label{{ID: 1, Name: "ubuntu-latest", Type: "custom"}},
		}
	}
	return rs
}

func newClient(t *testing.T, h http.Handler, scope Scope) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	return &Client{BaseURL: u, Scope: scope, HTTP: srv.Client(), Token: func() (string, error) { return "s3cret", nil }}
}

func TestListReadsEveryPage(t *testing.T) {
	tests := []struct {
		name      string
		n         int
		maxLimit  int
		noCount   bool
		header    bool
		wantPages int
	}{
		{name: "empty list", n: 0, wantPages: 1},
		{name: "one page", n: 3, wantPages: 1},
		{name: "exactly one full page", n: 50, wantPages: 1},
		{name: "three pages", n: 120, wantPages: 3},
		{name: "server caps the limit lower than asked", n: 45, maxLimit: 20, wantPages: 3},
		{name: "count only in X-Total-Count", n: 120, noCount: true, header: true, wantPages: 3},
		{name: "no count at all: short page ends", n: 120, noCount: true, wantPages: 3},
		{name: "no count, full last page: empty page ends", n: 100, noCount: true, wantPages: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeGitea{token: "s3cret", runners: makeRunners(tt.n), maxLimit: tt.maxLimit, noCount: tt.noCount, header: tt.header}
			c := newClient(t, f, Scope{Kind: Admin})
			got, err := c.List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := f.runners
			if len(want) == 0 {
				want = nil
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("runners (-want +got):\n%s", diff)
			}
			if len(f.requests) != tt.wantPages {
				t.Errorf("%d requests, want %d", len(f.requests), tt.wantPages)
			}
			for i, r := range f.requests {
				if r.URL.Path != "/api/v1/admin/actions/runners" {
					t.Errorf("path %q", r.URL.Path)
				}
				if got := r.URL.Query().Get("page"); got != strconv.Itoa(i+1) {
					t.Errorf("request %d: page=%s", i, got)
				}
				if got := r.URL.Query().Get("limit"); got != "50" {
					t.Errorf("request %d: limit=%s, want 50", i, got)
				}
				if got := r.Header.Get("Authorization"); got != "token s3cret" {
					t.Errorf("Authorization %q, want \"token s3cret\"", got)
				}
			}
		})
	}
}

func TestListScopePaths(t *testing.T) {
	tests := []struct {
		scope, base, want string
	}{
		{"admin", "/", "/api/v1/admin/actions/runners"},
		{"org:infra", "/", "/api/v1/orgs/infra/actions/runners"},
		{"repo:dominik/web.site", "/", "/api/v1/repos/dominik/web.site/actions/runners"},
		{"admin", "/git/", "/git/api/v1/admin/actions/runners"},
		{"admin", "/git", "/git/api/v1/admin/actions/runners"},
	}
	for _, tt := range tests {
		t.Run(tt.scope+tt.base, func(t *testing.T) {
			s, err := ParseScope(tt.scope)
			if err != nil {
				t.Fatal(err)
			}
			f := &fakeGitea{token: "s3cret"}
			c := newClient(t, f, s)
			u := *c.BaseURL
			u.Path = tt.base
			c.BaseURL = &u
			if _, err := c.List(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := f.requests[0].URL.Path; got != tt.want {
				t.Errorf("path %q, want %q", got, tt.want)
			}
		})
	}
}

func TestListDropsRunnersSeenTwice(t *testing.T) {
	// A runner registered while the list is read shifts the pages: the
	// last runner of page 1 comes again as the first of page 2.
	rs := makeRunners(3)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("page") {
		case "1":
			_ = json.NewEncoder(w).Encode(map[string]any{"runners": rs[:2], "total_count": 3})
		case "2":
			_ = json.NewEncoder(w).Encode(map[string]any{"runners": rs[1:], "total_count": 3})
		default:
			_ = json.NewEncoder(w).Encode(map[string]any{"runners": []Runner{}, "total_count": 3})
		}
	})
	c := newClient(t, h, Scope{})
	c.PageSize = 2
	got, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rs, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestListErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		token   string
		check   func(*testing.T, error)
		want    string
	}{
		{
			name:  "bad token: 401",
			token: "wrong",
			want:  "HTTP 401 Unauthorized (\"user does not exist [uid: 0, name: ]\"): Gitea rejected the token",
			check: wantStatus(401),
		},
		{
			name: "Gitea before 1.24: 404",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json;charset=utf-8")
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprint(w, `{"errors":null,"message":"not found","url":"http://gitea/api/swagger"}`)
			},
			want:  "Gitea older than 1.24 does not have it",
			check: wantStatus(404),
		},
		{
			name: "403",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, `{"message":"token does not have at least one of required scope(s): [read:admin]"}`)
			},
			want:  "required scope(s): [read:admin]",
			check: wantStatus(403),
		},
		{
			name: "500 with an HTML body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadGateway)
				fmt.Fprint(w, `<html>bad gateway</html>`)
			},
			want:  "HTTP 502 Bad Gateway",
			check: wantStatus(502),
		},
		{
			name: "malformed JSON",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"runners": [{"id": 1, "name": "a"`)
			},
			want:  "is not a Gitea runner list: malformed JSON",
			check: wantDecode,
		},
		{
			name: "login page with 200",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				fmt.Fprint(w, `<!DOCTYPE html><title>Sign in</title>`)
			},
			want:  `(Content-Type "text/html; charset=utf-8") is not a Gitea runner list`,
			check: wantDecode,
		},
		{
			name: "JSON that is not a runner list",
			handler: func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `{"ok": true}`)
			},
			want:  `no "runners" list`,
			check: wantDecode,
		},
		{
			name: "wrong type of a field",
			handler: func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `{"runners": [{"id": "one"}], "total_count": 1}`)
			},
			want:  "malformed JSON",
			check: wantDecode,
		},
		{
			name: "total_count never reached",
			handler: func(w http.ResponseWriter, r *http.Request) {
				p, _ := strconv.Atoi(r.URL.Query().Get("page"))
				fmt.Fprintf(w, `{"runners": [{"id": %d}], "total_count": 1000000}`, p)
			},
			want: "not complete after 1000 pages",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h http.Handler = tt.handler
			if tt.handler == nil {
				h = &fakeGitea{token: "s3cret", runners: makeRunners(2)}
			}
			c := newClient(t, h, Scope{})
			if tt.token != "" {
				c.Token = func() (string, error) { return tt.token, nil }
			}
			_, err := c.List(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

func wantStatus(code int) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var se *StatusError
		if !errors.As(err, &se) || se.Code != code {
			t.Errorf("error %v: want a StatusError with code %d", err, code)
		}
	}
}

func wantDecode(t *testing.T, err error) {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Errorf("error %v: want a DecodeError", err)
	}
}

func TestListHangingServerReturnsAtDeadline(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	c := newClient(t, h, Scope{})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.List(ctx)
	took := time.Since(start)
	if !IsTimeout(err) || !strings.Contains(err.Error(), "no answer within the scrape timeout") {
		t.Errorf("error %v: want a timeout", err)
	}
	if took > 2*time.Second {
		t.Errorf("List took %v with a 300ms deadline", took)
	}
}

func TestListTokenError(t *testing.T) {
	c := newClient(t, &fakeGitea{}, Scope{})
	c.Token = func() (string, error) { return "", errors.New("--gitea.token-file=/x: no such file") }
	if _, err := c.List(context.Background()); err == nil || !strings.Contains(err.Error(), "--gitea.token-file") {
		t.Errorf("error %v", err)
	}
}

func TestNoTokenSendsNoAuthorization(t *testing.T) {
	f := &fakeGitea{}
	c := newClient(t, f, Scope{})
	c.Token = nil
	_, _ = c.List(context.Background())
	if _, ok := f.requests[0].Header["Authorization"]; ok {
		t.Errorf("Authorization header sent without a token")
	}
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		in      string
		want    Scope
		wantErr string
	}{
		{in: "admin", want: Scope{Kind: Admin}},
		{in: "org:infra", want: Scope{Kind: Org, Owner: "infra"}},
		{in: "repo:dominik/nixos-config", want: Scope{Kind: Repo, Owner: "dominik", Repo: "nixos-config"}},
		{in: "", wantErr: `want admin, org:NAME or repo:OWNER/NAME, got ""`},
		{in: "Admin", wantErr: "want admin, org:NAME or repo:OWNER/NAME"},
		{in: "user:x", wantErr: "want admin, org:NAME or repo:OWNER/NAME"},
		{in: "org:", wantErr: "empty organisation name"},
		{in: "org:a/b", wantErr: `organisation name "a/b"`},
		{in: "org:..", wantErr: `organisation name ".."`},
		{in: "repo:x", wantErr: "want repo:OWNER/NAME"},
		{in: "repo:/x", wantErr: "empty owner name"},
		{in: "repo:x/", wantErr: "empty repository name"},
		{in: "repo:x/y/z", wantErr: `repository name "y/z"`},
		{in: "repo:x/a?b", wantErr: `repository name "a?b"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseScope(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

// BenchmarkList reads 200 runners in four pages of 50 from a loopback
// server, as one scrape of a large instance does.
func BenchmarkList(b *testing.B) {
	f := &fakeGitea{token: "s3cret", runners: makeRunners(200)}
	srv := httptest.NewServer(f)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	c := &Client{BaseURL: u, HTTP: srv.Client(), Token: func() (string, error) { return "s3cret", nil }}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.List(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
