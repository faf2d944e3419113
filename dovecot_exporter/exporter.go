// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/downwatch/downwatch/dovecot_exporter/collector"
	"github.com/downwatch/downwatch/dovecot_exporter/oldstats"
	"github.com/downwatch/downwatch/dovecot_exporter/probe"
	"github.com/downwatch/downwatch/dovecot_exporter/stats"
)

// options are the service flags, apart so that tests can build an exporter
// without a command line.
type options struct {
	statsSocket     string
	groupBy         []string
	oldStatsSocket  string
	scopes          string
	probes          []string
	probeCAFile     string
	probeServerName string
	probeInsecure   bool
	timeout         time.Duration
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// parseGroupBy reads --dovecot.stats-group-by values. A field may carry
// Dovecot's quantization suffix (duration:exponential:1:5:10), so that the
// group_by line can be pasted; the label is the field name before it.
func parseGroupBy(values []string) (stats.GroupBy, error) {
	g := stats.GroupBy{}
	for _, v := range values {
		metric, fields, ok := strings.Cut(v, "=")
		if !ok || metric == "" || strings.TrimSpace(fields) == "" {
			return nil, fmt.Errorf("--dovecot.stats-group-by=%s: want METRIC=FIELD[,FIELD...]", v)
		}
		if _, dup := g[metric]; dup {
			return nil, fmt.Errorf("--dovecot.stats-group-by=%s: metric %s given twice", v, metric)
		}
		var names []string
		for f := range strings.FieldsFuncSeq(fields, func(r rune) bool { return r == ',' || r == ' ' }) {
			f, _, _ = strings.Cut(f, ":")
			if !labelName.MatchString(f) || strings.HasPrefix(f, "__") {
				return nil, fmt.Errorf("--dovecot.stats-group-by=%s: %q is not a valid label name", v, f)
			}
			names = append(names, f)
		}
		g[metric] = names
	}
	return g, nil
}

// newExporter checks the options and builds the exporter and the
// collectors that live as long as the process (the parse error counter).
func newExporter(o options, logger *slog.Logger) (*collector.Exporter, []prometheus.Collector, error) {
	if o.timeout <= 0 {
		return nil, nil, fmt.Errorf("--dovecot.timeout=%s: must be positive", o.timeout)
	}
	parseErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "dovecot",
		Subsystem: "exporter",
		Name:      "parse_errors_total",
		Help:      "Reply lines or values from Dovecot that could not be parsed and were skipped.",
	}, []string{"collector"})

	var sources []collector.Scraper
	if o.statsSocket != "" {
		g, err := parseGroupBy(o.groupBy)
		if err != nil {
			return nil, nil, err
		}
		sources = append(sources, stats.New(stats.Config{
			Socket:      o.statsSocket,
			GroupBy:     g,
			ParseErrors: parseErrors.WithLabelValues("stats"),
		}, logger.With("collector", "stats")))
	} else if len(o.groupBy) > 0 {
		return nil, nil, errors.New("--dovecot.stats-group-by: needs --dovecot.stats-socket")
	}
	if o.oldStatsSocket != "" {
		var sc []string
		for s := range strings.SplitSeq(o.scopes, ",") {
			if s = strings.TrimSpace(s); s != "" {
				sc = append(sc, s)
			}
		}
		if err := oldstats.ValidateScopes(sc); err != nil {
			return nil, nil, fmt.Errorf("--dovecot.scopes=%s: %w", o.scopes, err)
		}
		sources = append(sources, oldstats.New(oldstats.Config{
			Socket:      o.oldStatsSocket,
			Scopes:      sc,
			ParseErrors: parseErrors.WithLabelValues("old_stats"),
		}, logger.With("collector", "old_stats")))
	}

	var prober collector.Scraper
	if len(o.probes) > 0 {
		seen := map[string]bool{}
		var targets []probe.Target
		for _, p := range o.probes {
			t, err := probe.ParseTarget(p)
			if err != nil {
				return nil, nil, fmt.Errorf("--probe: %w", err)
			}
			if seen[t.Service] {
				return nil, nil, fmt.Errorf("--probe=%s: service %s probed twice (it is the label value)", p, t.Service)
			}
			seen[t.Service] = true
			targets = append(targets, t)
		}
		tc, err := probeTLS(o)
		if err != nil {
			return nil, nil, err
		}
		prober = probe.New(targets, tc, logger.With("collector", "probe"))
	}
	if len(sources) == 0 && prober == nil {
		return nil, nil, errors.New("--dovecot.stats-socket: empty, and no --dovecot.old-stats-socket or --probe: nothing to export")
	}
	return collector.New(sources, prober, logger), []prometheus.Collector{parseErrors}, nil
}

func probeTLS(o options) (*tls.Config, error) {
	tc := &tls.Config{ServerName: o.probeServerName, InsecureSkipVerify: o.probeInsecure} //nolint:gosec // an explicit flag
	if o.probeCAFile != "" {
		pem, err := os.ReadFile(o.probeCAFile)
		if err != nil {
			return nil, fmt.Errorf("--probe.tls-ca-file=%s: %w", o.probeCAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--probe.tls-ca-file=%s: no PEM certificate in it", o.probeCAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}
