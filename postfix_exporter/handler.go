// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/bootstrap"
	"github.com/prometheus/exporter-toolkit/web"
)

// scrapeFunc returns the collector for one scrape, bounded by ctx.
type scrapeFunc func(ctx context.Context) prometheus.Collector

// newMetricsHandler serves the exporter's own metrics and the long-lived
// log counters (logs, may be nil) from a registry made once, and the queue
// from a registry made per request: the showq collector of each scrape gets
// that scrape's deadline, which the scraper may lower with the
// X-Prometheus-Scrape-Timeout-Seconds header.
func newMetricsHandler(b *bootstrap.Bootstrap, timeout time.Duration, scrape scrapeFunc, logs prometheus.Collector) http.Handler {
	self := prometheus.NewRegistry()
	self.MustRegister(versioncollector.NewCollector(name))
	if logs != nil {
		self.MustRegister(logs)
	}
	if !b.DisableExporterMetrics {
		self.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
	}
	opts := promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(b.Logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}
	if scrape == nil {
		return promhttp.HandlerFor(self, opts)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout(r, timeout))
		defer cancel()
		reg := prometheus.NewRegistry()
		reg.MustRegister(scrape(ctx))
		promhttp.HandlerFor(prometheus.Gatherers{self, reg}, opts).ServeHTTP(w, r)
	})
}

// checkWebConfig reads --web.config.file before anything listens, so that a
// bad file stops the exporter with the flag's name in the message.
func checkWebConfig(b *bootstrap.Bootstrap) error {
	path := *b.FlagConfig.WebConfigFile
	if path == "" {
		return nil
	}
	if err := web.Validate(path); err != nil {
		return fmt.Errorf("--web.config.file=%s: %w", path, err)
	}
	return nil
}

// scrapeTimeout is the smaller of the configured timeout and the scraper's,
// less a margin for encoding and sending the answer.
func scrapeTimeout(r *http.Request, configured time.Duration) time.Duration {
	const margin = 250 * time.Millisecond
	h := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds")
	if h == "" {
		return configured
	}
	secs, err := strconv.ParseFloat(h, 64)
	if err != nil || secs <= 0 || math.IsInf(secs, 0) || math.IsNaN(secs) {
		return configured
	}
	d := time.Duration(secs * float64(time.Second))
	if d > 2*margin {
		d -= margin
	}
	return min(d, configured)
}
