// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package openldap tests openldap_exporter against real slapd processes
// started by itest/daemon/slapd.
package openldap

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/downwatch/downwatch/itest/daemon/proc"
)

type exporter struct {
	addr string
	p    *proc.Process
}

// startExporter runs the exporter binary built from this workspace.
func startExporter(t testing.TB, args ...string) *exporter {
	t.Helper()
	bin := proc.Exporter(t, "openldap_exporter")
	addr := fmt.Sprintf("127.0.0.1:%d", proc.FreePort(t))
	p := proc.Start(t, proc.Spec{Name: "openldap_exporter", Path: bin, Dir: t.TempDir(),
		Args: append([]string{"--web.listen-address=" + addr}, args...)})
	if err := proc.WaitTCP(addr, 10*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, p.LogTail(2000))
	}
	return &exporter{addr: addr, p: p}
}

type scrapeResult struct {
	status int
	body   string
	took   time.Duration
	mfs    map[string]*dto.MetricFamily
}

// scrape GETs /metrics; timeoutHeader, if not empty, is sent as
// X-Prometheus-Scrape-Timeout-Seconds.
func (e *exporter) scrape(t testing.TB, timeoutHeader string) scrapeResult {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+e.addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if timeoutHeader != "" {
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeoutHeader)
	}
	start := time.Now()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := scrapeResult{status: resp.StatusCode, body: string(b), took: time.Since(start)}
	p := expfmt.NewTextParser(model.UTF8Validation)
	if r.mfs, err = p.TextToMetricFamilies(strings.NewReader(r.body)); err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, r.body)
	}
	return r
}

// value finds the sample of name whose labels include the given pairs.
func (r scrapeResult) value(name string, labels ...string) (float64, bool) {
	mf, ok := r.mfs[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func (r scrapeResult) mustValue(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	v, ok := r.value(name, labels...)
	if !ok {
		t.Fatalf("no %s%v in:\n%s", name, labels, r.body)
	}
	return v
}

func (r scrapeResult) up(t testing.TB) float64 {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200", r.status)
	}
	return r.mustValue(t, "openldap_up")
}

// proxy forwards TCP connections to target until cut: then it drops the open
// ones and closes new ones at once, like a network partition.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); p.Cut() })
	go p.serve()
	return p
}

func (p *proxy) URI() string { return "ldap://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go pipe(c, up)
		go pipe(up, c)
	}
}

func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// Cut drops every forwarded connection and refuses new ones.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Heal forwards new connections again.
func (p *proxy) Heal() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}
