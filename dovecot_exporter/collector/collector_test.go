// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package collector

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type fakeScraper struct {
	name string
	err  error
}

func (f *fakeScraper) Name() string { return f.name }
func (f *fakeScraper) Scrape(_ context.Context, ch chan<- prometheus.Metric) error {
	if f.err == nil {
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("dovecot_"+f.name+"_thing_total", "x", nil, nil),
			prometheus.CounterValue, 1)
	}
	return f.err
}

var _ Scraper = (*fakeScraper)(nil)

func TestUp(t *testing.T) {
	tests := []struct {
		name    string
		sources []*fakeScraper
		probes  *fakeScraper
		want    string
	}{
		{"all answer", []*fakeScraper{{name: "stats"}, {name: "old_stats"}}, &fakeScraper{name: "probe", err: errors.New("imap down")}, "1"},
		{"one fails", []*fakeScraper{{name: "stats"}, {name: "old_stats", err: errors.New("gone")}}, nil, "0"},
		{"probes only, failing", nil, &fakeScraper{name: "probe", err: errors.New("imap down")}, "0"},
		{"probes only, fine", nil, &fakeScraper{name: "probe"}, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sources []Scraper
			for _, s := range tt.sources {
				sources = append(sources, s)
			}
			var probes Scraper
			if tt.probes != nil {
				probes = tt.probes
			}
			e := New(sources, probes, slog.New(slog.DiscardHandler))
			c := e.ForScrape(context.Background())
			want := "# HELP dovecot_up 1 if every configured Dovecot statistics source answered in this scrape (with none configured: every probe succeeded).\n# TYPE dovecot_up gauge\ndovecot_up " + tt.want + "\n"
			if err := testutil.CollectAndCompare(c, strings.NewReader(want), "dovecot_up"); err != nil {
				t.Error(err)
			}
			if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
				t.Errorf("lint: %v %v", err, problems)
			}
		})
	}
}

func TestFailureLoggedOnce(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	src := &fakeScraper{name: "stats", err: errors.New("dial unix /run/dovecot/stats-reader: no such file or directory")}
	e := New([]Scraper{src}, nil, logger)
	scrape := func() {
		ch := make(chan prometheus.Metric, 10)
		e.ForScrape(context.Background()).Collect(ch)
	}
	for range 3 {
		scrape()
	}
	if n := strings.Count(buf.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d error lines over three failed scrapes, want 1:\n%s", n, buf.String())
	}
	src.err = errors.New("permission denied")
	scrape()
	src.err = nil
	scrape()
	scrape()
	if n := strings.Count(buf.String(), "level=ERROR"); n != 2 {
		t.Errorf("a new error should be logged once more; got %d lines", n)
	}
	if n := strings.Count(buf.String(), "answers again"); n != 1 {
		t.Errorf("recovery logged %d times, want 1", n)
	}
}
