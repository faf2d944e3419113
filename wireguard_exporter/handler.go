// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/klauspost/compress/flate"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/exporter-toolkit/bootstrap"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/downwatch/downwatch/wireguard_exporter/collector"
	"github.com/downwatch/downwatch/wireguard_exporter/internal/pgzip"
)

// scrapeFunc reads WireGuard once, bounded by ctx.
type scrapeFunc func(ctx context.Context) *collector.Snapshot

// newMetricsHandler serves the exporter's own metrics from a registry made
// once, followed by one scrape's WireGuard metrics, bounded by that scrape's
// deadline (which the scraper may lower with the
// X-Prometheus-Scrape-Timeout-Seconds header).
//
// The WireGuard part is written by the collector's text writer rather than
// through a registry: at thousands of peers the registry path was the
// bulk of the scrape time and memory (see README, Performance). The answer
// is always the text format, which every Prometheus-compatible scraper
// reads; gzip when the scraper accepts it, at BestSpeed and on every core
// (package pgzip): at 10,000 peers compressing about 8 MB of text was the
// largest part of the exporter's own time; the default level cost more than
// everything else together for an answer only about 10% smaller.
func newMetricsHandler(b *bootstrap.Bootstrap, timeout time.Duration, scrape scrapeFunc) http.Handler {
	self := prometheus.NewRegistry()
	self.MustRegister(versioncollector.NewCollector(name))
	if !b.DisableExporterMetrics {
		self.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
	}
	logger := b.Logger
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var snap *collector.Snapshot
		if scrape != nil {
			ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout(r, timeout))
			snap = scrape(ctx)
			cancel()
		}
		mfs, err := self.Gather()
		if err != nil {
			// Same as promhttp's ContinueOnError: serve what was gathered.
			logger.Error("Error gathering exporter metrics", "err", err)
		}

		w.Header().Set("Content-Type", string(textFormat))
		var out io.Writer = w
		if gzipAccepted(r) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Vary", "Accept-Encoding")
			gz := pgzip.NewWriter(w, flate.BestSpeed)
			defer func() {
				if err := gz.Close(); err != nil {
					logger.Debug("Error sending metrics", "err", err)
				}
			}()
			out = gz
		}
		enc := expfmt.NewEncoder(out, textFormat)
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				logger.Debug("Error sending metrics", "err", err)
				return
			}
		}
		if snap != nil {
			if err := snap.WriteText(out); err != nil {
				logger.Debug("Error sending metrics", "err", err)
			}
		}
	})
}

var textFormat = expfmt.NewFormat(expfmt.TypeTextPlain)

// gzipAccepted reports whether the request accepts gzip, as Prometheus
// does by default.
func gzipAccepted(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		k, v, _ := strings.Cut(strings.TrimSpace(params), "=")
		if strings.TrimSpace(k) == "q" {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q > 0
		}
		return true
	}
	return false
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
