// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/exporter-toolkit/bootstrap"

	"github.com/downwatch/downwatch/postfix_exporter/maillog"
	"github.com/downwatch/downwatch/postfix_exporter/showq"
)

// TestHandlerServesLogCountersAndQueue: the log counters, registered once,
// keep their values across scrapes; showq is read per scrape and its
// failure only sets postfix_up 0.
func TestHandlerServesLogCountersAndQueue(t *testing.T) {
	b := &bootstrap.Bootstrap{Logger: promslog.NewNopLogger(), DisableExporterMetrics: true}
	logs := maillog.New(promslog.NewNopLogger())
	logs.ProcessLine([]byte("Nov 24 03:39:54 mx postfix/smtpd[1]: connect from x[192.0.2.1]"))
	src := showq.NewSource(filepath.Join(t.TempDir(), "showq"), promslog.NewNopLogger())
	h := newMetricsHandler(b, time.Second, func(ctx context.Context) prometheus.Collector { return src.Collector(ctx) }, logs)
	for range 2 {
		body := get(t, h, "")
		for _, want := range []string{
			`postfix_smtpd_connects_total{instance="postfix",service="smtpd"} 1`,
			"postfix_up 0",
			"postfix_exporter_build_info{",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("missing %q in:\n%s", want, body)
			}
		}
	}
}

func TestHandlerHonoursScrapeTimeout(t *testing.T) {
	// A showq that accepts and never answers.
	path := filepath.Join(t.TempDir(), "showq")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	b := &bootstrap.Bootstrap{Logger: promslog.NewNopLogger(), DisableExporterMetrics: true}
	src := showq.NewSource(path, promslog.NewNopLogger())
	h := newMetricsHandler(b, time.Minute, func(ctx context.Context) prometheus.Collector { return src.Collector(ctx) }, nil)
	start := time.Now()
	body := get(t, h, "1")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("scrape took %v with a 1s scrape timeout header", d)
	}
	if !strings.Contains(body, "postfix_up 0") {
		t.Errorf("want postfix_up 0, got:\n%s", body)
	}
}

func get(t *testing.T, h http.Handler, timeoutHeader string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if timeoutHeader != "" {
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeoutHeader)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}
