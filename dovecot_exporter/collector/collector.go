// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package collector runs the exporter's parts (stats-reader, old-stats,
// probes) for one scrape, at the same time and within the scrape's
// deadline, and reports dovecot_up and each part's success and duration.
package collector

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "dovecot"

// Scraper is one independent part of the exporter.
type Scraper interface {
	// Name is the value of the collector label.
	Name() string
	// Scrape sends the part's metrics to ch and returns an error when the
	// part's data source did not answer (completely) within ctx.
	Scrape(ctx context.Context, ch chan<- prometheus.Metric) error
}

var (
	upDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "up"),
		"1 if every configured Dovecot statistics source answered in this scrape (with none configured: every probe succeeded).",
		nil, nil)
	successDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "exporter", "collector_success"),
		"1 if the part answered in this scrape.", []string{"collector"}, nil)
	durationDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "exporter", "collector_duration_seconds"),
		"Time the part took in this scrape.", []string{"collector"}, nil)
)

// Exporter keeps what outlives one scrape: the parts and the last error of
// each, so that a source that stays down is logged once, not every scrape.
type Exporter struct {
	sources []Scraper // decide dovecot_up
	others  []Scraper // probes, when a statistics source exists
	logger  *slog.Logger

	mu      sync.Mutex
	lastErr map[string]string
}

// New returns an Exporter. sources are the statistics sources; probes may
// be nil. Without sources the probes decide dovecot_up.
func New(sources []Scraper, probes Scraper, logger *slog.Logger) *Exporter {
	e := &Exporter{logger: logger, lastErr: map[string]string{}}
	e.sources = append(e.sources, sources...)
	if probes != nil {
		if len(e.sources) == 0 {
			e.sources = append(e.sources, probes)
		} else {
			e.others = append(e.others, probes)
		}
	}
	return e
}

// ForScrape returns the collector of one scrape, bounded by ctx.
func (e *Exporter) ForScrape(ctx context.Context) prometheus.Collector {
	return scrape{e: e, ctx: ctx}
}

// scrape is an unchecked collector: the statistics families depend on
// Dovecot's configuration, so they cannot be described up front.
type scrape struct {
	e   *Exporter
	ctx context.Context
}

// Describe implements prometheus.Collector; it sends nothing, which makes
// the collector unchecked.
func (scrape) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (s scrape) Collect(ch chan<- prometheus.Metric) {
	var wg sync.WaitGroup
	results := make([]bool, len(s.e.sources))
	for i, src := range s.e.sources {
		wg.Go(func() { results[i] = s.e.run(s.ctx, src, ch, true) })
	}
	for _, o := range s.e.others {
		wg.Go(func() { s.e.run(s.ctx, o, ch, false) })
	}
	wg.Wait()
	up := 1.0
	for _, ok := range results {
		if !ok {
			up = 0
		}
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up)
}

// run scrapes one part. The parts parse a whole reply before they send
// anything, so a failed part sends nothing but its success 0.
func (e *Exporter) run(ctx context.Context, sc Scraper, ch chan<- prometheus.Metric, report bool) bool {
	start := time.Now()
	err := sc.Scrape(ctx, ch)
	d := time.Since(start).Seconds()
	e.logResult(sc.Name(), err)
	ok := 0.0
	if err == nil {
		ok = 1
	}
	if report {
		ch <- prometheus.MustNewConstMetric(successDesc, prometheus.GaugeValue, ok, sc.Name())
		ch <- prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, d, sc.Name())
	}
	return err == nil
}

// logResult logs a failure once when it starts (or its message changes) and
// once when the part recovers.
func (e *Exporter) logResult(name string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	prev, wasFailing := e.lastErr[name]
	switch {
	case err == nil && wasFailing:
		delete(e.lastErr, name)
		e.logger.Info("source answers again", "collector", name)
	case err != nil && (!wasFailing || prev != err.Error()):
		e.lastErr[name] = err.Error()
		e.logger.Error("scrape failed", "collector", name, "err", err)
	case err != nil:
		e.logger.Debug("scrape still failing", "collector", name, "err", err)
	}
}
