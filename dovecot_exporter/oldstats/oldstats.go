// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package oldstats reads Dovecot's legacy statistics (the old_stats plugin
// of Dovecot 2.2 and 2.3; gone in 2.4) from the old-stats socket.
//
// The protocol: the client sends "EXPORT\t<scope>" (command, session, user,
// domain, ip or global); Dovecot answers a header line of tab-separated
// column names, one row per item, and an empty line. The first columns of a
// row are text (command name and arguments, session ID, user, IP, service),
// the rest are numbers.
package oldstats

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/downwatch/downwatch/dovecot_exporter/internal/tabescape"
)

const namespace = "dovecot"

// Scopes are the EXPORT levels Dovecot knows, from the finest to the
// coarsest.
var Scopes = []string{"command", "session", "user", "domain", "ip", "global"}

// labelColumns are the text columns, with the label names they become.
var labelColumns = map[string]string{
	"cmd":     "command",
	"args":    "args",
	"session": "session",
	"user":    "user",
	"ip":      "ip",
	"service": "service",
	"domain":  "domain",
}

// skippedColumns carry nothing a time series should hold: the session's
// process ID changes with every login and the session ID already names it.
var skippedColumns = map[string]bool{"pid": true}

// gaugeColumns are point-in-time values; everything else numeric counts up
// (per command, session, user, ... since the item appeared or was reset).
var gaugeColumns = map[string]string{
	"reset_timestamp":        "reset_timestamp_seconds",
	"last_update":            "last_update_timestamp_seconds",
	"num_connected_sessions": "connected_sessions",
	"connected":              "connected",
}

// counterNames give counters with units in their names; the rest become
// <column>_total.
var counterNames = map[string]string{
	"num_logins":  "logins_total",
	"num_cmds":    "commands_total",
	"user_cpu":    "user_cpu_seconds_total",
	"sys_cpu":     "system_cpu_seconds_total",
	"clock_time":  "clock_time_seconds_total",
	"disk_input":  "disk_input_bytes_total",
	"disk_output": "disk_output_bytes_total",
	"min_faults":  "minor_faults_total",
	"maj_faults":  "major_faults_total",
	"vol_cs":      "voluntary_context_switches_total",
	"invol_cs":    "involuntary_context_switches_total",
}

var helps = map[string]string{
	"reset_timestamp":        "Unix time when the statistics of this item were last reset.",
	"last_update":            "Unix time of the last update of this item.",
	"num_connected_sessions": "Sessions connected now.",
	"connected":              "1 if the session is connected.",
	"num_logins":             "Logins.",
	"num_cmds":               "Commands run.",
	"user_cpu":               "CPU time in user mode, in seconds.",
	"sys_cpu":                "CPU time in system mode, in seconds.",
	"clock_time":             "Wall clock time, in seconds.",
	"disk_input":             "Bytes read from disk.",
	"disk_output":            "Bytes written to disk.",
}

// MetricName returns the metric name and type a column of a scope becomes,
// or "" for a label or skipped column.
func MetricName(scope, column string) (string, prometheus.ValueType) {
	if _, ok := labelColumns[column]; ok || skippedColumns[column] {
		return "", 0
	}
	if g, ok := gaugeColumns[column]; ok {
		return prometheus.BuildFQName(namespace, scope, g), prometheus.GaugeValue
	}
	if c, ok := counterNames[column]; ok {
		return prometheus.BuildFQName(namespace, scope, c), prometheus.CounterValue
	}
	return prometheus.BuildFQName(namespace, scope, column+"_total"), prometheus.CounterValue
}

// Config configures a Scraper.
type Config struct {
	// Socket is the path of the old-stats socket.
	Socket string
	// Scopes are the EXPORT levels to read.
	Scopes []string
	// ParseErrors counts rows and values that could not be parsed.
	ParseErrors prometheus.Counter
	// Dial replaces the unix socket dialer (tests).
	Dial func(ctx context.Context, path string) (net.Conn, error)
}

// Scraper reads the configured scopes over one connection per scrape.
type Scraper struct {
	cfg    Config
	logger *slog.Logger

	mu    sync.Mutex
	descs map[string]*prometheus.Desc
}

// ValidateScopes checks a scope list before the exporter starts.
func ValidateScopes(scopes []string) error {
	if len(scopes) == 0 {
		return fmt.Errorf("no scope given (known: %s)", strings.Join(Scopes, ", "))
	}
	for _, s := range scopes {
		if !slices.Contains(Scopes, s) {
			return fmt.Errorf("unknown scope %q (known: %s)", s, strings.Join(Scopes, ", "))
		}
	}
	return nil
}

// New returns a Scraper for cfg.
func New(cfg Config, logger *slog.Logger) *Scraper {
	if cfg.Dial == nil {
		cfg.Dial = func(ctx context.Context, path string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
	}
	if cfg.ParseErrors == nil {
		cfg.ParseErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "unused"})
	}
	return &Scraper{cfg: cfg, logger: logger, descs: map[string]*prometheus.Desc{}}
}

// Name implements collector.Scraper.
func (s *Scraper) Name() string { return "old_stats" }

// Export reads every configured scope; the map is keyed by scope.
func (s *Scraper) Export(ctx context.Context) (map[string]Table, error) {
	conn, err := s.cfg.Dial(ctx, s.cfg.Socket)
	if err != nil {
		return nil, fmt.Errorf("old-stats %s: %w", s.cfg.Socket, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	br := bufio.NewReaderSize(conn, 64*1024)
	tables := make(map[string]Table, len(s.cfg.Scopes))
	for _, scope := range s.cfg.Scopes {
		if _, err := conn.Write([]byte("EXPORT\t" + scope + "\n")); err != nil {
			return nil, fmt.Errorf("old-stats %s: sending EXPORT %s: %w", s.cfg.Socket, scope, err)
		}
		t, bad, err := ReadTable(br)
		if bad > 0 {
			s.cfg.ParseErrors.Add(float64(bad))
		}
		if err != nil {
			return nil, fmt.Errorf("old-stats %s: EXPORT %s: %w", s.cfg.Socket, scope, err)
		}
		tables[scope] = t
	}
	return tables, nil
}

// Scrape implements collector.Scraper.
func (s *Scraper) Scrape(ctx context.Context, ch chan<- prometheus.Metric) error {
	tables, err := s.Export(ctx)
	if err != nil {
		return err
	}
	for _, scope := range s.cfg.Scopes {
		s.Emit(scope, tables[scope], ch)
	}
	return nil
}

var validColumn = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// column is what one header column becomes.
type column struct {
	desc  *prometheus.Desc
	vtype prometheus.ValueType
}

// row is the values of one label set; rows with the same labels (the same
// command twice in a session, say) are merged: counters add up, gauges
// keep the larger value.
type row struct {
	labels []string
	values []float64
	seen   []bool
}

// Emit turns one scope's table into metrics.
func (s *Scraper) Emit(scope string, t Table, ch chan<- prometheus.Metric) {
	var labelIdx []int
	var labelNames []string
	cols := make([]column, len(t.Header))
	for i, h := range t.Header {
		if l, ok := labelColumns[h]; ok {
			labelIdx = append(labelIdx, i)
			labelNames = append(labelNames, l)
		}
	}
	for i, h := range t.Header {
		name, vt := MetricName(scope, h)
		if name == "" || !validColumn.MatchString(h) {
			continue
		}
		help := helps[h]
		if help == "" {
			help = "Dovecot old-stats column " + h + "."
		}
		cols[i] = column{desc: s.desc(name, help+" (scope "+scope+")", labelNames), vtype: vt}
	}

	var order []string
	rows := map[string]*row{}
	for _, r := range t.Rows {
		lv := make([]string, len(labelIdx))
		for j, i := range labelIdx {
			lv[j] = strings.ToValidUTF8(tabescape.Unescape(r[i]), "\uFFFD")
		}
		key := strings.Join(lv, "\x00")
		agg, ok := rows[key]
		if !ok {
			agg = &row{labels: lv, values: make([]float64, len(cols)), seen: make([]bool, len(cols))}
			rows[key] = agg
			order = append(order, key)
		}
		for i, c := range cols {
			if c.desc == nil {
				continue
			}
			v, err := strconv.ParseFloat(r[i], 64)
			if err != nil || math.IsNaN(v) {
				// A text column we do not know: count it, keep the rest.
				s.cfg.ParseErrors.Inc()
				continue
			}
			switch {
			case !agg.seen[i]:
				agg.values[i] = v
			case c.vtype == prometheus.CounterValue:
				agg.values[i] += v
			default:
				agg.values[i] = max(agg.values[i], v)
			}
			agg.seen[i] = true
		}
	}
	for _, key := range order {
		agg := rows[key]
		for i, c := range cols {
			if c.desc == nil || !agg.seen[i] {
				continue
			}
			m, err := prometheus.NewConstMetric(c.desc, c.vtype, agg.values[i], agg.labels...)
			if err != nil {
				s.cfg.ParseErrors.Inc()
				continue
			}
			ch <- m
		}
	}
}

func (s *Scraper) desc(name, help string, labelNames []string) *prometheus.Desc {
	key := name + "\x00" + strings.Join(labelNames, "\x00")
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.descs[key]
	if !ok {
		d = prometheus.NewDesc(name, help, labelNames, nil)
		s.descs[key] = d
	}
	return d
}
