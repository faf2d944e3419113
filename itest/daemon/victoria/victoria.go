// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package victoria starts Debian's victoria-metrics, vmagent and vmalert on
// free loopback ports, each with its own data directory, for tests and for
// the end-to-end demo. It also writes synthetic samples into
// VictoriaMetrics, queries it, and reads vmalert's alerts.
package victoria

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/proc"
)

// Binary names in Debian's victoria-metrics package.
const (
	ServerBinary = "victoria-metrics"
	AgentBinary  = "vmagent"
	AlertBinary  = "vmalert"
)

var client = &http.Client{Timeout: 10 * time.Second}

// daemon is what the three programs share: a process, an address, a restart.
type daemon struct {
	Proc *proc.Process
	Addr string // host:port on 127.0.0.1
	URL  string // http://Addr
	Dir  string // working directory: logs and data

	spec proc.Spec
}

// Stop ends the daemon by PID.
func (d *daemon) Stop() { d.Proc.Stop() }

// Freeze stops the daemon with SIGSTOP: it keeps its port but answers nothing.
func (d *daemon) Freeze() error { return d.Proc.Signal(syscall.SIGSTOP) }

// Thaw resumes a frozen daemon.
func (d *daemon) Thaw() error { return d.Proc.Signal(syscall.SIGCONT) }

// Restart stops the daemon and starts it again with the same flags, data
// and port, and waits until it answers.
func (d *daemon) Restart() error {
	d.Proc.Stop()
	p, err := proc.StartProcess(d.spec)
	if err != nil {
		return err
	}
	d.Proc = p
	return waitHealthy(d.URL, p)
}

func waitHealthy(base string, p *proc.Process) error {
	return proc.WaitFor(20*time.Second, func() error {
		if done, err := p.Exited(); done {
			return fmt.Errorf("%s exited: %v: %s", p.Name, err, p.LogTail(2000))
		}
		resp, err := client.Get(base + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s/health: %s", base, resp.Status)
		}
		return nil
	})
}

func start(name, binary, dir string, args []string) (*daemon, error) {
	path, err := proc.LookPath(binary)
	if err != nil {
		return nil, err
	}
	port, err := proc.PickPort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	spec := proc.Spec{Name: name, Path: path, Dir: dir,
		Args: append([]string{"-httpListenAddr=" + addr, "-loggerTimezone=UTC"}, args...)}
	p, err := proc.StartProcess(spec)
	if err != nil {
		return nil, err
	}
	d := &daemon{Proc: p, Addr: addr, URL: "http://" + addr, Dir: dir, spec: spec}
	if err := waitHealthy(d.URL, p); err != nil {
		p.Stop()
		return nil, err
	}
	return d, nil
}

// forTest runs one of the *Process start functions for a test: the binary
// must exist (or the test is skipped, failed in CI), the directory defaults
// to the test's own, and the daemon is stopped at the end, its log printed
// if the test failed.
func forTest[T any](tb testing.TB, binary string, dir *string, start func() (T, error), daemonOf func(T) *daemon) T {
	tb.Helper()
	proc.RequireBinary(tb, binary)
	if *dir == "" {
		*dir = tb.TempDir()
	}
	v, err := start()
	if err != nil {
		tb.Fatal(err)
	}
	d := daemonOf(v)
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("--- log of %s (%s):\n%s", d.Proc.Name, d.Proc.LogPath, d.Proc.LogTail(4000))
		}
		d.Stop()
	})
	return v
}

// ServerOptions configures victoria-metrics.
type ServerOptions struct {
	Dir       string   // working and data directory; StartServerProcess needs it, Start uses t.TempDir()
	ExtraArgs []string // more flags
}

// Server is a running single-node VictoriaMetrics.
type Server struct {
	daemon
	DataDir string
}

// WriteURL is the remote-write endpoint for vmagent.
func (s *Server) WriteURL() string { return s.URL + "/api/v1/write" }

// StartServerProcess starts victoria-metrics without a test (for the demo). Its
// flags make fresh samples visible to queries at once: no 30s latency
// offset, no response cache.
func StartServerProcess(opts ServerOptions) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("victoria: ServerOptions.Dir is required")
	}
	data := filepath.Join(opts.Dir, "vmdata")
	args := append([]string{
		"-storageDataPath=" + data,
		"-retentionPeriod=1d",
		"-search.latencyOffset=0s",
		"-search.disableCache",
		"-search.maxStalenessInterval=1m",
	}, opts.ExtraArgs...)
	d, err := start("victoria-metrics", ServerBinary, opts.Dir, args)
	if err != nil {
		return nil, err
	}
	return &Server{daemon: *d, DataDir: data}, nil
}

// Start starts victoria-metrics for a test and stops it at its end.
func Start(tb testing.TB, opts ServerOptions) *Server {
	tb.Helper()
	return forTest(tb, ServerBinary, &opts.Dir,
		func() (*Server, error) { return StartServerProcess(opts) },
		func(s *Server) *daemon { return &s.daemon })
}

// ImportPrometheus writes samples in the Prometheus text format (one
// `name{labels} value [timestamp_ms]` per line) and makes them searchable.
func (s *Server) ImportPrometheus(ctx context.Context, text string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/api/v1/import/prometheus", strings.NewReader(text))
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("import: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return s.Flush(ctx)
}

// Flush makes recently written samples visible to queries now rather than
// within a second.
func (s *Server) Flush(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/internal/force_flush", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Sample is one series of an instant query's answer.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query runs an instant query at now.
func (s *Server) Query(ctx context.Context, expr string) ([]Sample, error) {
	u := s.URL + "/api/v1/query?" + url.Values{"query": {expr}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("query %q: %s: %w", expr, resp.Status, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", expr, r.Error)
	}
	out := make([]Sample, 0, len(r.Data.Result))
	for _, res := range r.Data.Result {
		vs, _ := res.Value[1].(string)
		v, err := strconv.ParseFloat(vs, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %q: %w", expr, vs, err)
		}
		out = append(out, Sample{Labels: res.Metric, Value: v})
	}
	return out, nil
}

// AgentOptions configures vmagent.
type AgentOptions struct {
	Dir            string // working and data directory; StartAgentProcess needs it, StartAgent uses t.TempDir()
	ScrapeConfig   string // -promscrape.config file
	RemoteWriteURL string // where to send samples, e.g. Server.WriteURL()
	ExtraArgs      []string
}

// Agent is a running vmagent.
type Agent struct {
	daemon
	DataDir string
}

// StartAgentProcess starts vmagent without a test. It parses its scrape config
// strictly, as in production.
func StartAgentProcess(opts AgentOptions) (*Agent, error) {
	if opts.Dir == "" || opts.ScrapeConfig == "" || opts.RemoteWriteURL == "" {
		return nil, errors.New("victoria: AgentOptions needs Dir, ScrapeConfig and RemoteWriteURL")
	}
	data := filepath.Join(opts.Dir, "vmagent-data")
	args := append([]string{
		"-promscrape.config=" + opts.ScrapeConfig,
		"-promscrape.config.strictParse",
		"-remoteWrite.url=" + opts.RemoteWriteURL,
		"-remoteWrite.tmpDataPath=" + data,
		"-remoteWrite.flushInterval=500ms",
	}, opts.ExtraArgs...)
	d, err := start("vmagent", AgentBinary, opts.Dir, args)
	if err != nil {
		return nil, err
	}
	return &Agent{daemon: *d, DataDir: data}, nil
}

// StartAgent starts vmagent for a test and stops it at its end.
func StartAgent(tb testing.TB, opts AgentOptions) *Agent {
	tb.Helper()
	return forTest(tb, AgentBinary, &opts.Dir,
		func() (*Agent, error) { return StartAgentProcess(opts) },
		func(a *Agent) *daemon { return &a.daemon })
}

// AlertOptions configures vmalert.
type AlertOptions struct {
	Dir                string        // working directory; StartAlertProcess needs it, StartAlert uses t.TempDir()
	Rules              []string      // rule files
	DatasourceURL      string        // VictoriaMetrics, e.g. Server.URL
	NotifierURL        string        // Alertmanager-compatible receiver, e.g. a Sink's URL
	EvaluationInterval time.Duration // default 1s
	ExtraArgs          []string
}

// Alerter is a running vmalert.
type Alerter struct {
	daemon
}

// StartAlertProcess starts vmalert without a test. Queries are not aligned to the
// evaluation interval and look back one interval, so that a short interval
// sees fresh samples.
func StartAlertProcess(opts AlertOptions) (*Alerter, error) {
	if opts.Dir == "" || len(opts.Rules) == 0 || opts.DatasourceURL == "" || opts.NotifierURL == "" {
		return nil, errors.New("victoria: AlertOptions needs Dir, Rules, DatasourceURL and NotifierURL")
	}
	iv := opts.EvaluationInterval
	if iv == 0 {
		iv = time.Second
	}
	args := []string{
		"-datasource.url=" + opts.DatasourceURL,
		"-notifier.url=" + opts.NotifierURL,
		"-evaluationInterval=" + iv.String(),
		"-datasource.queryTimeAlignment=false",
	}
	for _, r := range opts.Rules {
		args = append(args, "-rule="+r)
	}
	d, err := start("vmalert", AlertBinary, opts.Dir, append(args, opts.ExtraArgs...))
	if err != nil {
		return nil, err
	}
	return &Alerter{daemon: *d}, nil
}

// StartAlert starts vmalert for a test and stops it at its end.
func StartAlert(tb testing.TB, opts AlertOptions) *Alerter {
	tb.Helper()
	return forTest(tb, AlertBinary, &opts.Dir,
		func() (*Alerter, error) { return StartAlertProcess(opts) },
		func(a *Alerter) *daemon { return &a.daemon })
}

// Alert is one active alert as vmalert's /api/v1/alerts reports it.
type Alert struct {
	Name   string            `json:"name"`
	State  string            `json:"state"` // "pending" or "firing"
	Value  string            `json:"value"`
	Labels map[string]string `json:"labels"`
	Group  string            `json:"group_id"`
	Expr   string            `json:"expression"`
}

// Alerts lists the active (pending and firing) alerts.
func (a *Alerter) Alerts(ctx context.Context) ([]Alert, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/api/v1/alerts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Alerts []Alert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("vmalert alerts: %s: %w", resp.Status, err)
	}
	return r.Data.Alerts, nil
}

// RuleHealth reports every rule whose last evaluation failed, as
// "group/rule: error": a rule that cannot run never fires.
func (a *Alerter) RuleHealth(ctx context.Context) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/api/v1/rules", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name      string `json:"name"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("vmalert rules: %s: %w", resp.Status, err)
	}
	var bad []string
	for _, g := range r.Data.Groups {
		for _, rule := range g.Rules {
			if rule.LastError != "" {
				bad = append(bad, g.Name+"/"+rule.Name+": "+rule.LastError)
			}
		}
	}
	return bad, nil
}

// Sink is a minimal Alertmanager receiver: vmalert needs a notifier, and a
// test can look at what it was sent.
type Sink struct {
	URL string
	srv *http.Server

	mu     sync.Mutex
	alerts []map[string]any
}

// StartSinkProcess listens on a free loopback port, without a test.
func StartSinkProcess() (*Sink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Sink{URL: "http://" + l.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		var batch []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&batch); err == nil {
			s.mu.Lock()
			s.alerts = append(s.alerts, batch...)
			s.mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

// StartSink is StartSinkProcess closed at the end of the test.
func StartSink(tb testing.TB) *Sink {
	tb.Helper()
	s, err := StartSinkProcess()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Received returns the alerts posted so far.
func (s *Sink) Received() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.alerts...)
}

// Close stops the receiver.
func (s *Sink) Close() { _ = s.srv.Close() }
