// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/bootstrap"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/downwatch/downwatch/gitea_runner_exporter/runners"
)

const oneRunner = `{"runners":[{"id":1,"name":"git-runner-1","status":"online","busy":false,"ephemeral":false,"labels":[{"id":1,"name":"nixos","type":"custom"}]}],"total_count":1}`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewConfigErrorsNameTheFlag(t *testing.T) {
	token := writeFile(t, "token", "abc\n")
	empty := writeFile(t, "empty", "\n \n")
	twoTokens := writeFile(t, "two", "abc\ndef\n")
	notPEM := writeFile(t, "ca.pem", "hello")
	ok := options{url: "http://localhost:3000/", scope: "admin", timeout: "1s", tokenFile: token}
	tests := []struct {
		name   string
		modify func(*options)
		want   string
	}{
		{"good", func(*options) {}, ""},
		{"no token file is allowed", func(o *options) { o.tokenFile = "" }, ""},
		{"missing token file", func(o *options) { o.tokenFile = "/nonexistent/token" }, "--gitea.token-file=/nonexistent/token: open /nonexistent/token: no such file"},
		{"empty token file", func(o *options) { o.tokenFile = empty }, "--gitea.token-file=" + empty + ": the file is empty"},
		{"two tokens", func(o *options) { o.tokenFile = twoTokens }, "want one token"},
		{"bad scope", func(o *options) { o.scope = "group:x" }, "--gitea.scope=group:x: want admin, org:NAME or repo:OWNER/NAME"},
		{"bad repo scope", func(o *options) { o.scope = "repo:x" }, "--gitea.scope=repo:x: "},
		{"URL without scheme", func(o *options) { o.url = "localhost:3000" }, "--gitea.url=localhost:3000: want an http:// or https:// URL"},
		{"URL not parsable", func(o *options) { o.url = "http://[::1" }, "--gitea.url=http://[::1: "},
		{"URL without host", func(o *options) { o.url = "http:///x" }, "--gitea.url=http:///x: no host"},
		{"URL with credentials", func(o *options) { o.url = "https://u:p@git.example.com/" }, "credentials in the URL"},
		{"URL with query", func(o *options) { o.url = "https://git.example.com/?x=1" }, "without query"},
		{"zero timeout", func(o *options) { o.timeout = "0s" }, "--gitea.timeout=0s: must be positive"},
		{"negative timeout", func(o *options) { o.timeout = "-1s" }, "--gitea.timeout=-1s: must be positive"},
		{"unparsable timeout", func(o *options) { o.timeout = "soon" }, "--gitea.timeout=soon: want a duration"},
		{"missing CA file", func(o *options) { o.caFile = "/nonexistent/ca.pem" }, "--gitea.ca-file=/nonexistent/ca.pem: open"},
		{"CA file without PEM", func(o *options) { o.caFile = notPEM }, "--gitea.ca-file=" + notPEM + ": no PEM certificate"},
		{"empty expected name", func(o *options) { o.expect = []string{"a", " "} }, "--runner.expect: empty runner name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.modify(&o)
			_, err := newConfig(o)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestExpectedDeduplicated(t *testing.T) {
	cfg, err := newConfig(options{url: "http://x/", scope: "admin", timeout: "1s", expect: []string{"a", "b", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.expect, ","); got != "a,b" {
		t.Errorf("expect = %q", got)
	}
}

// TestTokenFromFile checks that the token goes out as "token <t>" and that
// a rotated file is picked up at the next scrape without a restart.
func TestTokenFromFile(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		fmt.Fprint(w, oneRunner)
	}))
	defer srv.Close()
	path := writeFile(t, "token", "  first-token\n")
	cfg, err := newConfig(options{url: srv.URL, scope: "admin", timeout: "1s", tokenFile: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.client.List(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("second-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.client.List(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.client.List(context.Background()); err == nil || !strings.Contains(err.Error(), "--gitea.token-file") {
		t.Errorf("token file gone: error %v, want one naming --gitea.token-file", err)
	}
	want := []string{"token first-token", "token second-token"}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Errorf("Authorization headers %q, want %q", seen, want)
	}
}

func TestCAFileForHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, oneRunner)
	}))
	defer srv.Close()
	ca := writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))

	without, err := newConfig(options{url: srv.URL, scope: "admin", timeout: "1s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := without.client.List(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without --gitea.ca-file: error %v, want a certificate error", err)
	}
	with, err := newConfig(options{url: srv.URL, scope: "admin", timeout: "1s", caFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := with.client.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Name != "git-runner-1" {
		t.Errorf("runners %+v", rs)
	}
}

// scrapeHandler is the exporter's /metrics handler for a Gitea at url.
func scrapeHandler(t *testing.T, url string, timeout time.Duration, logs io.Writer) http.Handler {
	t.Helper()
	cfg, err := newConfig(options{url: url, scope: "admin", timeout: timeout.String(), expect: []string{"git-runner-1", "git-runner-2"}})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	b := &bootstrap.Bootstrap{Logger: logger, FlagConfig: &web.FlagConfig{WebConfigFile: new(string)}, DisableExporterMetrics: true}
	return newMetricsHandler(b, cfg.timeout, func(ctx context.Context) prometheus.Collector {
		return runners.NewCollector(ctx, cfg.client, cfg.expect, logger)
	})
}

func scrape(t *testing.T, h http.Handler, header string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if header != "" {
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", header)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestScrapeEndToEnd(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, oneRunner)
	}))
	defer srv.Close()
	var logs bytes.Buffer
	c, body := scrape(t, scrapeHandler(t, srv.URL, 5*time.Second, &logs), "")
	if c != 200 {
		t.Fatalf("status %d", c)
	}
	for _, want := range []string{
		"gitea_runner_up 1",
		`gitea_actions_runner_online{runner="git-runner-1"} 1`,
		`gitea_actions_runner_online{runner="git-runner-2"} 0`,
		`gitea_actions_runner_registered{runner="git-runner-2"} 0`,
		`gitea_actions_runner_info{ephemeral="false",id="1",labels="nixos",runner="git-runner-1"} 1`,
		`gitea_actions_runners{status="offline"} 1`,
		"gitea_runner_exporter_build_info",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q:\n%s", want, body)
		}
	}
}

// TestScrapeHangingGitea: a Gitea that accepts the connection and never
// answers must cost one timeout, not a hung scrape, and HTTP stays 200.
func TestScrapeHangingGitea(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	tests := []struct {
		name    string
		timeout time.Duration
		header  string
		max     time.Duration
	}{
		{"--gitea.timeout", 400 * time.Millisecond, "", 2 * time.Second},
		{"scraper's header lowers it", time.Minute, "0.8", 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := scrapeHandler(t, srv.URL, tt.timeout, &logs)
			start := time.Now()
			code, body := scrape(t, h, tt.header)
			took := time.Since(start)
			if code != 200 || !strings.Contains(body, "gitea_runner_up 0") {
				t.Errorf("status %d, body:\n%s", code, body)
			}
			if took > tt.max {
				t.Errorf("scrape took %v", took)
			}
			if strings.Contains(body, "gitea_actions_runner_online") {
				t.Errorf("runner state reported without an answer from Gitea")
			}
			if !strings.Contains(logs.String(), "within the scrape timeout") {
				t.Errorf("log lacks the timeout: %s", logs.String())
			}
		})
	}
}

func TestScrapeGiteaDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	var logs bytes.Buffer
	code, body := scrape(t, scrapeHandler(t, url, time.Second, &logs), "")
	if code != 200 || !strings.Contains(body, "gitea_runner_up 0") {
		t.Errorf("status %d, body:\n%s", code, body)
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("log: %s", logs.String())
	}
}
